"""The access audit log: every view of a customer record, ticket, call or recording.

Written in its own short transaction, so a refused or failed request still leaves its
trace; readers never write through it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ticketdb.models import AuditEntry
from ticketdb.sql import transaction

# "listen": a lead listening in on a live call (object_type "call").
ACTIONS = ("view", "search", "play", "download", "export", "refused", "change", "listen")
# "user": an account changed by an admin (web page or ``hotline users``), action "change".
OBJECT_TYPES = ("customer", "ticket", "call", "recording", "report", "user")


def record_access(
    s: Session,
    *,
    actor: str,
    role: str,
    action: str,
    object_type: str,
    object_id: str | int,
    detail: str | None = None,
    at: datetime | None = None,
) -> None:
    """Append one audit entry; commits. ValueError for an unknown action or object type."""
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {', '.join(ACTIONS)} (got {action!r})")
    if object_type not in OBJECT_TYPES:
        raise ValueError(f"object_type must be one of {', '.join(OBJECT_TYPES)}")
    with transaction(s):
        s.add(
            AuditEntry(
                at=at or datetime.now(UTC),
                actor=actor[:32],
                role=role[:16],
                action=action,
                object_type=object_type,
                object_id=str(object_id)[:64],
                detail=detail,
            )
        )


def entries_for(s: Session, object_type: str, object_id: str | int) -> list[AuditEntry]:
    """Who accessed this object, oldest first."""
    stmt = (
        select(AuditEntry)
        .where(AuditEntry.object_type == object_type, AuditEntry.object_id == str(object_id))
        .order_by(AuditEntry.at, AuditEntry.id)
    )
    return list(s.scalars(stmt))
