"""A lead listens in on an agent's live call (issue #6, the wallboard's "listen").

``POST /api/listen {"staff_number": "8001"}`` (leads and admins) asks the controller
node that runs that agent's call, through a ``call_controls`` row (action ``listen``),
to ring the lead's own phone and bridge it with a snoop of the call (``ivr.queue.listen``).
The answer is 202 with the request's id; ``GET /api/calls/control/<id>`` tells how it
went (``done``, or ``failed`` with ``failed: <reason>``). Listening is hearing a
customer's call, so every accepted request is in the access audit log (action
``listen``, object ``call``).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask

from agents.seat_store import agent_by_staff_number, get_seat
from kernel.clock import utcnow
from kernel.roles import LEAD_ROLES
from kernel.settings import Settings
from ticketdb.audit import record_access
from ticketdb.call_log import get_call
from ticketdb.models import CallControl
from webapp.auth import json_body, login_required, me
from webapp.db import db
from webapp.errors import ApiError

bp = Blueprint("listen", __name__, url_prefix="/api")


def register(app: Flask, settings: Settings) -> None:
    app.register_blueprint(bp)


@bp.post("/listen")
@login_required(roles=LEAD_ROLES)
def listen() -> tuple[dict[str, Any], int]:
    body = json_body()
    extra = sorted(set(body) - {"staff_number"})
    if extra:
        raise ApiError(400, f"unknown field(s) {', '.join(extra)} (allowed: staff_number)")
    staff_number = body.get("staff_number")
    if not isinstance(staff_number, str) or not staff_number.strip():
        raise ApiError(400, "staff_number: the agent whose call to listen to")
    lead = me()
    s = db()
    agent = agent_by_staff_number(s, staff_number)
    if agent is None:
        raise ApiError(404, f"no agent with staff number {staff_number.strip()}")
    if agent.id == lead.id:
        raise ApiError(400, "you cannot listen to your own call")
    if not lead.endpoint:
        raise ApiError(409, "you have no phone to listen on", error_id="no_phone")
    seat = get_seat(s, agent.id)
    node, channel = seat.claimed_by_node, seat.claim_channel
    if seat.state != "on_call" or node is None or channel is None:
        raise ApiError(409, f"agent {agent.staff_number} is not on a call", error_id="not_on_call")
    control = CallControl(
        node=node,
        channel_id=channel,
        action="listen",
        args={"endpoint": lead.endpoint, "lead": lead.staff_number},
        requested_by=lead.staff_number,
        requested_at=utcnow(),
        status="pending",
    )
    try:
        s.add(control)
        s.commit()
    except BaseException:
        s.rollback()
        raise
    call = get_call(s, node, channel)
    record_access(
        s,
        actor=lead.staff_number,
        role=lead.role,
        action="listen",
        object_type="call",
        object_id=call.id if call is not None else f"{node}/{channel}",
        detail=f"agent {agent.staff_number}, control {control.id}",
    )
    return {"control_id": control.id}, 202
