"""The logged-in staff member's in-app notices (escalations addressed to their role or
staff number), urgent first, and marking one read."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from kernel.clock import utcnow
from ticketdb.models import Agent, Notification
from tickets import outbox
from webapp.auth import login_required, me
from webapp.db import db
from webapp.errors import ApiError
from webapp.helpers import when

bp = Blueprint("notifications", __name__, url_prefix="/api")

MAX_LIMIT = 500


def recipients_of(agent: Agent) -> tuple[str, str]:
    """In-app notices name a role (everyone with it sees them) or one staff number."""
    return (agent.role, agent.staff_number)


def _notice(n: Notification) -> dict[str, Any]:
    read = n.status == "read"
    return {
        "id": n.id,
        "ticket_id": n.ticket_id,
        "rule": n.rule,
        "recipient": n.recipient,
        "subject": n.subject,
        "body": n.body,
        "severity": n.severity,
        # The page shows these in red.
        "urgent": n.severity == "urgent",
        "read": read,
        "created_at": when(n.created_at),
        "read_at": when(n.sent_at) if read else None,
    }


@bp.get("/notifications")
@login_required()
def inbox() -> dict[str, Any]:
    """``?unread=1``: only unread ones; ``?limit=N`` (default 100)."""
    try:
        limit = int(request.args.get("limit", "100"))
    except ValueError:
        raise ApiError(400, "limit: a whole number") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise ApiError(400, f"limit: between 1 and {MAX_LIMIT}")
    unread_only = request.args.get("unread", "") in ("1", "true", "yes")
    found = outbox.inbox(db(), recipients_of(me()), unread_only=unread_only, limit=limit)
    notices = [_notice(n) for n in found]
    return {"notifications": notices, "unread": sum(1 for n in notices if not n["read"])}


@bp.post("/notifications/<int:notification_id>/read")
@login_required()
def mark_read(notification_id: int) -> dict[str, Any]:
    n = outbox.mark_read(db(), notification_id, recipients_of(me()), utcnow())
    if n is None:
        raise ApiError(404, f"no notification {notification_id} for you")
    return _notice(n)
