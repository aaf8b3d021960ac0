"""What every view module of the JSON API shares: how an instant is written (ISO 8601, or
null) and how an access by the person logged in is audited."""

from __future__ import annotations

from datetime import datetime

from ticketdb.audit import record_access
from webapp.auth import me
from webapp.db import db


def when(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def audit(action: str, object_type: str, object_id: str | int, detail: str | None) -> None:
    """One access-audit entry for the person logged in (their staff number and role)."""
    agent = me()
    record_access(
        db(),
        actor=agent.staff_number,
        role=agent.role,
        action=action,
        object_type=object_type,
        object_id=object_id,
        detail=detail,
    )
