"""Agents and their seat states over /api/v1 (read only: seat changes go through the
shift rules on the agents' page):

- ``GET /api/v1/agents?team=&state=`` — every agent with seat state, by staff number;
- ``GET /api/v1/agents/<staff_number>``.

Each agent comes with their phone as the controllers' Asterisks see it: ``phone``
(``ready``, ``offline`` — not registered or refused —, ``busy`` — carrying a call the
queue did not give it) and ``phone_reason`` (why it is offline, else null).

Like /api/seats: an agent's token sees only that agent; leads and admins everyone.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from agents.seat_store import agent_by_staff_number, get_seat, list_seats, skills_of
from kernel.clock import utcnow
from ticketdb.models import SEAT_STATES, Agent, SeatState
from webapp.api_v1.common import (
    arg,
    forbidden,
    invalid,
    is_lead,
    not_found,
    unknown_params,
    when,
)
from webapp.auth import me
from webapp.db import db
from webapp.phones import PhoneViews, phone_fields, phone_views

bp = Blueprint("agents", __name__)


def agent_json(
    agent: Agent, seat: SeatState, skills: dict[str, int], phones: PhoneViews
) -> dict[str, Any]:
    return {
        "staff_number": agent.staff_number,
        "name": agent.name,
        "role": agent.role,
        "team": agent.team,
        "active": agent.active,
        "languages": list(agent.languages or []),
        "skills": skills,
        "acting_lead": agent.acting_lead,
        "state": seat.state,
        "since": when(seat.since),
        "seconds_in_state": max(0, int((utcnow() - seat.since).total_seconds())),
        "reason": seat.reason,
        "wrap_up_until": when(seat.wrap_up_until),
        **phone_fields(phones, agent.id),
    }


@bp.get("/agents")
def list_agents() -> dict[str, Any]:
    errors = unknown_params(("team", "state"))
    team, state = arg("team"), arg("state")
    if state and state not in SEAT_STATES:
        errors["state"] = f"must be one of {', '.join(SEAT_STATES)}"
    if errors:
        invalid(errors)
    rows = [r for r in list_seats(db()) if is_lead(me()) or r.agent.id == me().id]
    rows = [
        r
        for r in rows
        if (not team or r.agent.team == team) and (not state or r.seat.state == state)
    ]
    phones = phone_views()
    return {"agents": [agent_json(r.agent, r.seat, r.skills, phones) for r in rows]}


@bp.get("/agents/<staff_number>")
def get_one(staff_number: str) -> dict[str, Any]:
    # Checked before the lookup, so an agent's token cannot probe which staff numbers exist.
    if not is_lead(me()) and staff_number.strip() != me().staff_number:
        forbidden("an agent's token sees only that agent")
    agent = agent_by_staff_number(db(), staff_number)
    if agent is None:
        not_found(f"no agent with staff number {staff_number}")
    seat, skills = get_seat(db(), agent.id), skills_of(db(), agent.id)
    return {"agent": agent_json(agent, seat, skills, phone_views())}
