"""Login attempts: stored so throttling holds across web workers and restarts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ticketdb.models import LoginAttempt


def record_attempt(
    s: Session, staff_number: str, address: str, at: datetime, *, succeeded: bool
) -> None:
    """Store one attempt; commits. A success clears the staff number's earlier failures,
    so a user who finally types the password right starts afresh."""
    if succeeded:
        s.execute(
            delete(LoginAttempt).where(
                LoginAttempt.staff_number == staff_number, LoginAttempt.succeeded.is_(False)
            )
        )
    s.add(
        LoginAttempt(
            staff_number=staff_number[:64], address=address[:64], at=at, succeeded=succeeded
        )
    )
    s.commit()


def failures_since(
    s: Session, since: datetime, *, staff_number: str | None = None, address: str | None = None
) -> tuple[int, datetime | None]:
    """(failed attempts since ``since``, the oldest of them) for a staff number or an
    address."""
    query = select(func.count(), func.min(LoginAttempt.at)).where(
        LoginAttempt.succeeded.is_(False), LoginAttempt.at >= since
    )
    if staff_number is not None:
        query = query.where(LoginAttempt.staff_number == staff_number)
    if address is not None:
        query = query.where(LoginAttempt.address == address)
    count, oldest = s.execute(query).one()
    return int(count), oldest
