"""The JSON API of the agents' web page: seats, wrap-up, acting lead, call control requests.

An agent sees and changes only their own seat; leads and admins see and change every
seat. Seat changes go through ``agents.seat_changes`` like the CLI's, so a shift rule
refuses the same change in both (409 with the rule's id). Call control requests are
rows in ``call_controls`` that the node running the call carries out; the page polls
the request for its answer.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from flask import Blueprint, request
from sqlalchemy import select

from agents import away_requests
from agents.roster import set_acting_lead
from agents.seat_changes import RuleRefused, change_state, end_wrap_up, extend_wrap_up
from agents.seat_store import (
    MAX_REASON,
    StaleState,
    UnknownAgent,
    agent_by_staff_number,
    get_seat,
    history,
    list_seats,
    skills_of,
)
from agents.seats import IllegalTransition, State
from kernel.clock import utcnow
from kernel.roles import LEAD_ROLES
from ticketdb.customers import normalise_phone
from ticketdb.models import Agent, CallControl, SeatState
from webapp.auth import is_lead, json_body, login_required, me
from webapp.db import db, shift_config
from webapp.errors import ApiError
from webapp.helpers import when
from webapp.phones import PhoneViews, phone_fields, phone_views

bp = Blueprint("api", __name__, url_prefix="/api")

# The states a person sets by hand; ringing, on_call and wrap_up come from the calls.
MANUAL_STATES = (State.AVAILABLE, State.AWAY, State.OFFLINE, State.ON_LEAVE)
MAX_NOTE = 500
MAX_WRAP_UP_EXTENSION = 600  # seconds
HISTORY_LIMIT = 500
CONTROL_ACTIONS = ("hold", "unhold", "transfer", "consult", "consult_complete", "consult_cancel")
TARGETED_ACTIONS = ("transfer", "consult")
TARGET_KINDS = ("queue", "agent", "number")
_QUEUE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


# --- input --------------------------------------------------------------------------


def _only(body: dict[str, Any], allowed: Collection[str]) -> None:
    extra = sorted(set(body) - set(allowed))
    if extra:
        raise ApiError(400, f"unknown field(s) {', '.join(extra)} (allowed: {', '.join(allowed)})")


def _text(body: dict[str, Any], key: str, limit: int) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise ApiError(400, f"{key} must be a string of at most {limit} characters")
    return value.strip() or None


def _agent(staff_number: str) -> Agent:
    agent = agent_by_staff_number(db(), staff_number)
    if agent is None:
        raise ApiError(404, f"no agent with staff number {staff_number}")
    return agent


def _seat_owner(staff_number: str) -> Agent:
    """The agent whose seat this is, when the logged-in agent may act on it (403 if not).

    Checked before the lookup, so an agent cannot probe which staff numbers exist.
    """
    if not is_lead(me()) and staff_number.strip() != me().staff_number:
        raise ApiError(403, "an agent may only act on their own seat")
    return _agent(staff_number)


@contextmanager
def _refusals() -> Iterator[None]:
    """The seat functions' refusals as API errors."""
    try:
        yield
    except RuleRefused as exc:
        d = exc.decision
        raise ApiError(
            409,
            str(exc),
            rule=d.rule,
            overridable=bool(d.overridable_by),
            may_override=is_lead(me()) and me().id in d.overridable_by,
        ) from None
    except (IllegalTransition, StaleState) as exc:
        raise ApiError(409, str(exc)) from None
    except UnknownAgent as exc:
        raise ApiError(404, str(exc)) from None
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None


# --- output -------------------------------------------------------------------------


def _seat_json(
    agent: Agent, seat: SeatState, skills: dict[str, int], phones: PhoneViews
) -> dict[str, Any]:
    return {
        "staff_number": agent.staff_number,
        "name": agent.name,
        "role": agent.role,
        "team": agent.team,
        "active": agent.active,
        "state": seat.state,
        "since": when(seat.since),
        "reason": seat.reason,
        "wrap_up_until": when(seat.wrap_up_until),
        "skills": skills,
        "acting_lead": agent.acting_lead,
        # The agent's phone as the controllers' Asterisks see it (ready, offline, busy).
        **phone_fields(phones, agent.id),
    }


def _seat_of(agent: Agent) -> dict[str, Any]:
    s = db()
    fresh = _agent(agent.staff_number)  # acting_lead may have changed
    return _seat_json(fresh, get_seat(s, agent.id), skills_of(s, agent.id), phone_views())


# --- seats --------------------------------------------------------------------------


@bp.get("/seats")
@login_required()
def seats() -> dict[str, Any]:
    if is_lead(me()):
        phones = phone_views()
        rows = [_seat_json(r.agent, r.seat, r.skills, phones) for r in list_seats(db())]
    else:
        rows = [_seat_of(me())]
    return {"seats": rows}


@bp.post("/seats/<staff_number>/state")
@login_required()
def seat_state(staff_number: str) -> dict[str, Any]:
    agent = _seat_owner(staff_number)
    body = json_body()
    _only(body, ("state", "reason", "note", "override"))
    state = body.get("state")
    if state not in MANUAL_STATES:
        raise ApiError(400, f"state must be one of {', '.join(MANUAL_STATES)}")
    override = body.get("override", False)
    if not isinstance(override, bool):
        raise ApiError(400, "override must be true or false")
    reason = _text(body, "reason", MAX_REASON)
    note = _text(body, "note", MAX_NOTE)
    with _refusals():
        try:
            result = change_state(
                db(),
                config=shift_config(),
                staff_number=agent.staff_number,
                to_state=state,
                by=me().staff_number,
                reason=reason,
                note=note,
                override=override,
                now=utcnow(),
            )
        except RuleRefused as refused:
            _ask_the_lead(agent, refused)
            raise
    return {"seat": _seat_of(agent), "override": result.override_line}


def _ask_the_lead(agent: Agent, refused: RuleRefused) -> None:
    """An agent's own away request, refused by a rule a lead may override, waits on the
    wallboard for the lead to approve or deny it (``agents.away_requests``)."""
    d = refused.decision
    if agent.id != me().id or d.action != "away" or d.rule is None or not d.overridable_by:
        return
    away_requests.record(
        db(),
        agent_id=agent.id,
        reason=d.away_reason or "other",
        rule=d.rule,
        refusal=d.reason,
        node="web",
        now=utcnow(),
    )


@bp.post("/seats/<staff_number>/wrap_up")
@login_required()
def wrap_up(staff_number: str) -> dict[str, Any]:
    agent = _seat_owner(staff_number)
    body = json_body()
    action = body.get("action")
    if action == "end":
        _only(body, ("action",))
        with _refusals():
            end_wrap_up(db(), agent.staff_number, me().staff_number, utcnow())
    elif action == "extend":
        _only(body, ("action", "seconds"))
        seconds = body.get("seconds")
        if (
            not isinstance(seconds, int)
            or isinstance(seconds, bool)
            or not 1 <= seconds <= MAX_WRAP_UP_EXTENSION
        ):
            raise ApiError(400, f"seconds must be a whole number from 1 to {MAX_WRAP_UP_EXTENSION}")
        with _refusals():
            extend_wrap_up(db(), agent.staff_number, me().staff_number, seconds, utcnow())
    else:
        raise ApiError(400, 'action must be "end" or "extend"')
    return {"seat": _seat_of(agent)}


@bp.post("/acting_lead")
@login_required(roles=LEAD_ROLES)
def acting_lead() -> dict[str, Any]:
    body = json_body()
    _only(body, ("staff_number",))
    if "staff_number" not in body:
        raise ApiError(400, "staff_number is required (a normal seat's, or null for none)")
    staff_number = body["staff_number"]
    if staff_number is None:
        set_acting_lead(db(), None)
        return {"acting_lead": None}
    if not isinstance(staff_number, str):
        raise ApiError(400, "staff_number must be a string or null")
    agent = _agent(staff_number)
    if not agent.active:
        raise ApiError(400, f"agent {agent.staff_number} is not active")
    with _refusals():
        set_acting_lead(db(), agent.id)
    return {"acting_lead": agent.staff_number}


@bp.get("/seats/<staff_number>/history")
@login_required()
def seat_history(staff_number: str) -> dict[str, Any]:
    agent = _seat_owner(staff_number)
    since: datetime | None = None
    if "since" in request.args:
        try:
            since = datetime.fromisoformat(request.args["since"])
        except ValueError:
            raise ApiError(400, "since must be an ISO date-time with an offset") from None
        if since.tzinfo is None:
            raise ApiError(400, "since must be an ISO date-time with an offset")
    changes = history(db(), agent.id, since)
    newest = changes[-HISTORY_LIMIT:]
    return {
        "staff_number": agent.staff_number,
        "truncated": len(changes) > len(newest),
        "changes": [
            {
                "at": when(c.at),
                "from_state": c.from_state,
                "to_state": c.to_state,
                "reason": c.reason,
                "by": c.by,
                "node": c.node,
                "note": c.note,
            }
            for c in newest
        ],
    }


# --- call control -------------------------------------------------------------------


def _control_args(action: str, args: Any, call_owner: Agent) -> dict[str, str]:
    if action not in TARGETED_ACTIONS:
        if args not in (None, {}):
            raise ApiError(400, f"{action} takes no args")
        return {}
    if not isinstance(args, dict):
        raise ApiError(400, f'{action} needs args {{"to": "queue"|"agent"|"number", "target"}}')
    _only(args, ("to", "target"))
    to, target = args.get("to"), args.get("target")
    if to not in TARGET_KINDS:
        raise ApiError(400, f"args.to must be one of {', '.join(TARGET_KINDS)}")
    if not isinstance(target, str) or not target.strip():
        raise ApiError(400, "args.target must be a non-empty string")
    target = target.strip()
    if to == "queue" and not _QUEUE_NAME.match(target):
        raise ApiError(400, f"not a queue name: {target!r}")
    if to == "agent":
        other = _agent(target)
        if not other.active:
            raise ApiError(400, f"agent {other.staff_number} is not active")
        if other.id == call_owner.id:
            raise ApiError(400, "the call is already with this agent")
        target = other.staff_number
    if to == "number":
        try:
            target = normalise_phone(target)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
    return {"to": to, "target": target}


@bp.post("/calls/control")
@login_required()
def call_control() -> tuple[dict[str, Any], int]:
    body = json_body()
    _only(body, ("action", "args", "staff_number"))
    action = body.get("action")
    if action not in CONTROL_ACTIONS:
        raise ApiError(400, f"action must be one of {', '.join(CONTROL_ACTIONS)}")
    staff_number = body.get("staff_number", me().staff_number)
    if not isinstance(staff_number, str):
        raise ApiError(400, "staff_number must be a string")
    owner = _seat_owner(staff_number)
    args = _control_args(action, body.get("args"), owner)
    seat = get_seat(db(), owner.id)
    if seat.claimed_by_node is None or seat.claim_channel is None:
        raise ApiError(404, "no call")
    control = CallControl(
        node=seat.claimed_by_node,
        channel_id=seat.claim_channel,
        action=action,
        args=args,
        requested_by=me().staff_number,
        requested_at=utcnow(),
        status="pending",
    )
    s = db()
    try:
        s.add(control)
        s.commit()
    except BaseException:
        s.rollback()
        raise
    return {"id": control.id}, 202


@bp.get("/calls/control/<int:control_id>")
@login_required()
def call_control_status(control_id: int) -> dict[str, Any]:
    control = db().scalars(select(CallControl).where(CallControl.id == control_id)).one_or_none()
    if control is None:
        raise ApiError(404, f"no control request {control_id}")
    if control.requested_by != me().staff_number and not is_lead(me()):
        raise ApiError(403, "only the requester or a lead may see this request")
    return {
        "id": control.id,
        "action": control.action,
        "status": control.status,
        "result": control.result,
    }
