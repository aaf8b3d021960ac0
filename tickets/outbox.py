"""The notification outbox: e-mail waiting to go out, the record of every attempt, and
the in-app inbox.

E-mail rows go ``pending`` → ``sent``, or ``failed`` after the last allowed attempt;
between attempts ``next_attempt_at`` holds the backoff. A sender first *claims* a row
(a conditional UPDATE pushing ``next_attempt_at`` a lease ahead), so two nodes never
send one message twice; a sender that dies mid-send leaves the row to be retried when
the lease runs out. In-app rows stay ``pending`` (unread) until their reader marks them
``read``; for them ``sent_at`` is when that happened.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection
from datetime import datetime, timedelta

from sqlalchemy import case, func, or_, select, update
from sqlalchemy.orm import Session

from kernel.backoff import RetryPolicy
from ticketdb.models import Notification, NotificationAttempt
from ticketdb.sql import transaction

STATUSES = ("pending", "sent", "failed", "read")
CHANNELS = ("email", "inapp")
# NotificationAttempt.error / Notification.last_error are Text; keep them readable.
MAX_ERROR = 1000


def due_emails(s: Session, now: datetime, limit: int = 50) -> list[Notification]:
    """Pending e-mail whose time has come, oldest first."""
    stmt = (
        select(Notification)
        .where(
            Notification.status == "pending",
            Notification.channel == "email",
            or_(Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= now),
        )
        .order_by(Notification.created_at, Notification.id)
        .limit(limit)
    )
    return list(s.scalars(stmt))


def claim(s: Session, notification_id: int, now: datetime, lease: timedelta) -> bool:
    """Take the message for sending until ``now + lease``; False when another sender has
    it (or it is no longer due). Commits, so the claim is visible to other nodes at once."""
    with transaction(s):
        result = s.execute(
            update(Notification)
            .where(
                Notification.id == notification_id,
                Notification.status == "pending",
                Notification.channel == "email",
                or_(Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= now),
            )
            .values(next_attempt_at=now + lease)
            .execution_options(synchronize_session=False)
        )
    return bool(getattr(result, "rowcount", 0) == 1)


def record_attempt(
    s: Session,
    notification_id: int,
    ok: bool,
    error: str | None,
    now: datetime,
    backoff: RetryPolicy,
    rng: Callable[[], float] = random.random,
) -> Notification:
    """Log one attempt; on success the message is sent, on failure it is due again after
    the backoff, or failed once ``backoff.max_attempts`` attempts have failed."""
    with transaction(s):
        n = s.scalars(
            select(Notification).where(Notification.id == notification_id).with_for_update()
        ).one()
        detail = None if ok else (error or "unknown error")[:MAX_ERROR]
        s.add(NotificationAttempt(notification_id=n.id, at=now, ok=ok, error=detail))
        n.attempts = (n.attempts or 0) + 1
        if ok:
            n.status, n.sent_at, n.next_attempt_at = "sent", now, None
        else:
            n.last_error = detail
            if n.attempts >= backoff.max_attempts:
                n.status, n.next_attempt_at = "failed", None
            else:
                n.next_attempt_at = now + timedelta(seconds=backoff.delay(n.attempts, rng))
    return n


def attempts_for(s: Session, notification_id: int) -> list[NotificationAttempt]:
    """Every attempt at one message, oldest first."""
    stmt = (
        select(NotificationAttempt)
        .where(NotificationAttempt.notification_id == notification_id)
        .order_by(NotificationAttempt.at, NotificationAttempt.id)
    )
    return list(s.scalars(stmt))


def backlog(s: Session) -> int:
    """E-mail still to go out (pending, due or waiting for a retry)."""
    stmt = select(func.count(Notification.id)).where(
        Notification.status == "pending", Notification.channel == "email"
    )
    return int(s.scalar(stmt) or 0)


def list_notifications(
    s: Session, *, status: str | None = None, channel: str | None = None, limit: int = 100
) -> list[Notification]:
    """The outbox, newest first; ValueError for an unknown status or channel."""
    stmt = select(Notification)
    if status is not None:
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)} (got {status!r})")
        stmt = stmt.where(Notification.status == status)
    if channel is not None:
        if channel not in CHANNELS:
            raise ValueError(f"channel must be one of {', '.join(CHANNELS)} (got {channel!r})")
        stmt = stmt.where(Notification.channel == channel)
    stmt = stmt.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)
    return list(s.scalars(stmt))


def inbox(
    s: Session, recipients: Collection[str], *, unread_only: bool = False, limit: int = 100
) -> list[Notification]:
    """In-app notices addressed to any of ``recipients`` (a staff member's role and staff
    number): urgent ones first, then newest first. Listing them is their delivery."""
    if not recipients:
        return []
    stmt = select(Notification).where(
        Notification.channel == "inapp", Notification.recipient.in_(list(recipients))
    )
    if unread_only:
        stmt = stmt.where(Notification.status == "pending")
    urgent_first = case((Notification.severity == "urgent", 0), else_=1)
    stmt = stmt.order_by(
        urgent_first, Notification.created_at.desc(), Notification.id.desc()
    ).limit(limit)
    return list(s.scalars(stmt))


def mark_read(
    s: Session, notification_id: int, recipients: Collection[str], now: datetime
) -> Notification | None:
    """Mark one of the reader's in-app notices read (again: no change). None when there is
    no such notice for them, so another reader's notices cannot even be probed."""
    with transaction(s):
        n = s.scalars(
            select(Notification).where(
                Notification.id == notification_id,
                Notification.channel == "inapp",
                Notification.recipient.in_(list(recipients)),
            )
        ).one_or_none()
        if n is not None and n.status != "read":
            n.status, n.sent_at = "read", now
    return n
