"""Calls over /api/v1: the call records, newest first, and one call.

- ``GET /api/v1/calls?since=&until=&number=&queue=&agent=&limit=&offset=``;
- ``GET /api/v1/calls/<id>``.

An agent's token sees the calls that agent took; leads and admins every call. A call
record holds the caller's number and what they told the IVR, so every list and view is
in the access audit log; callers' numbers are masked unless the role is in
``web.full_number_roles``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from sqlalchemy import ColumnElement, select

from ticketdb.customers import normalise_phone
from ticketdb.models import Call
from webapp.api_v1.common import (
    Page,
    arg,
    audit,
    forbidden,
    instant,
    invalid,
    is_lead,
    not_found,
    page,
    query_text,
    site_tz,
    unknown_params,
    when,
)
from webapp.auth import me
from webapp.db import db
from webapp.masking import shown_number

bp = Blueprint("calls", __name__)

LIST_PARAMS = ("since", "until", "number", "queue", "agent", "limit", "offset")


def call_json(call: Call) -> dict[str, Any]:
    duration = None
    if call.ended_at is not None:
        duration = round((call.ended_at - call.started_at).total_seconds(), 3)
    return {
        "id": call.id,
        "started_at": when(call.started_at),
        "answered_at": when(call.answered_at),
        "ended_at": when(call.ended_at),
        "duration_seconds": duration,
        "caller_number": shown_number(call.caller_number),
        "caller_name": call.caller_name,
        "dialled_number": call.dialled_number,
        "language": call.language,
        "customer_tier": call.customer_tier,
        "menu_path": list(call.menu_path or []),
        "data": dict(call.data or {}),
        "queue": call.queue,
        "wait_seconds": call.wait_seconds,
        "agent": call.agent,
        "agent_answered_at": when(call.agent_answered_at),
        "end_reason": call.end_reason,
        "hangup_side": call.hangup_side,
        "callback_id": call.callback_id,
    }


def _filters() -> tuple[list[ColumnElement[bool]], Page]:
    errors = unknown_params(LIST_PARAMS)
    where: list[ColumnElement[bool]] = []
    tz = site_tz()
    since = instant("since", tz, errors)
    until = instant("until", tz, errors, end=True)
    if since is not None:
        where.append(Call.started_at >= since)
    if until is not None:
        where.append(Call.started_at < until)
    number = arg("number")
    if number:
        try:
            digits = normalise_phone(number).lstrip("+")
        except ValueError:
            errors["number"] = "not a phone number"
        else:
            where.append(Call.caller_number.contains(digits, autoescape=True))
    queue = arg("queue")
    if queue:
        where.append(Call.queue == queue)
    agent = arg("agent")
    paging = page(errors)
    if errors:
        invalid(errors)
    if not is_lead(me()):
        if agent and agent != me().staff_number:
            audit("refused", "call", "*", f"list of agent {agent}'s calls")
            forbidden("an agent's token sees only that agent's calls")
        agent = me().staff_number
    if agent:
        where.append(Call.agent == agent)
    return where, paging


@bp.get("/calls")
def list_calls() -> dict[str, Any]:
    where, paging = _filters()
    rows = db().scalars(
        select(Call)
        .where(*where)
        .order_by(Call.started_at.desc(), Call.id.desc())
        .limit(paging.limit + 1)
        .offset(paging.offset)
    )
    calls, next_offset = paging.cut(list(rows))
    ids = ",".join(str(c.id) for c in calls)
    audit("search", "call", "*", f"{query_text()}; found: {ids or 'none'}")
    return {"calls": [call_json(c) for c in calls], "next_offset": next_offset}


@bp.get("/calls/<int:call_id>")
def get_call(call_id: int) -> dict[str, Any]:
    call = db().get(Call, call_id)
    if call is None:
        not_found(f"no call {call_id}")
    if not is_lead(me()) and call.agent != me().staff_number:
        audit("refused", "call", call_id, "view: a call another agent took")
        forbidden("an agent's token sees only that agent's calls")
    audit("view", "call", call_id)
    return {"call": call_json(call)}
