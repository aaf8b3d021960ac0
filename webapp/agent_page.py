"""The agent desk: one page for the agent's working day (issue #6 item 2).

- ``GET /agent`` — the page: status buttons, the screen pop, ticket forms per kind, my
  tickets, my callback worklist and the team's handover notes;
- ``GET /live/agent`` — Server-Sent Events: ``seat`` (state, since, and the agent's phone:
  ``phone`` ready / offline / busy with ``phone_reason``), ``pop`` (the caller
  at the agent's seat: number, name, tier, menu path, past calls and tickets) and
  ``mine`` (changes to the agent's tickets or worklist, so the page reloads them);
- ``GET /api/agent/tickets``, ``GET /api/agent/callbacks``, ``GET|POST
  /api/agent/handover`` — what the page lists, with phone numbers masked for roles that
  do not see them in full (``webapp.masking``).

Changes go through the existing API (seat state, wrap-up, tickets, callback dial and
outcome), so the shift rules and the ticket validation answer the page as they answer
any client. Every view of a customer (the pop, the worklist) or of tickets is audited.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import Blueprint, Flask, Response
from sqlalchemy import func, or_, select

from agents.lead_store import add_handover_note, handover_notes
from agents.seats import AWAY_REASONS
from callbacks import worklist
from kernel.clock import utcnow
from kernel.roles import SEAT_ROLES
from kernel.settings import Settings
from ticketdb.models import CallbackRequest, SeatState, Ticket
from ticketdb.screen_pop import (
    CallerHistory,
    ScreenPop,
    caller_history,
    current_pop,
    menu_keys,
    menu_nodes,
)
from webapp.agent_forms import ticket_forms
from webapp.auth import json_body, login_required, me
from webapp.callbacks import callback_resources
from webapp.db import db
from webapp.errors import ApiError
from webapp.helpers import audit, when
from webapp.live import event_stream
from webapp.masking import shown_number
from webapp.pages import page_required, render_page
from webapp.phones import phone_fields, phone_views
from webapp.tickets import _site as ticket_site

bp = Blueprint("agent_page", __name__)
api = Blueprint("agent_api", __name__, url_prefix="/api/agent")

# Who works at a desk: leads take calls too.
MY_TICKETS = 50
HANDOVER_NOTES = 20
MAX_HANDOVER = 4000
SATISFACTION = worklist.SATISFACTION
# A browser tab holds a server thread while its stream is open: end it now and then
# (the page's EventSource reconnects by itself at once).
STREAM_SECONDS = 300.0


def register(app: Flask, settings: Settings) -> None:
    app.register_blueprint(bp)
    app.register_blueprint(api)


# --- the page ---------------------------------------------------------------------------


@bp.get("/agent")
@page_required(roles=SEAT_ROLES)
def page() -> str:
    rules = callback_resources().rules
    return render_page(
        "agent.html",
        i18n_prefixes=("agent.",),
        # The page opens with the phone's warning in place; the stream keeps it current.
        phone=phone_fields(phone_views(), me().id),
        away_reasons=AWAY_REASONS,
        satisfaction=SATISFACTION,
        forms=ticket_forms(ticket_site().rules.dispatch.channels),
        quiet_hours=list(rules.quiet_hours),
        quiet_zone=str(rules.tz),
    )


# --- live -------------------------------------------------------------------------------


def _seat_event(seat: SeatState | None, phone: dict[str, str | None]) -> dict[str, Any]:
    """The seat and the agent's phone (``phone``: ready, offline, busy; ``phone_reason``):
    an offline phone means no call can reach the agent, whatever the seat says."""
    if seat is None:
        return {"state": "offline", "since": None, "reason": None, "wrap_up_until": None, **phone}
    return {
        "state": seat.state,
        "since": when(seat.since),
        "reason": seat.reason,
        "wrap_up_until": when(seat.wrap_up_until),
        **phone,
    }


def pop_json(pop: ScreenPop, history: CallerHistory) -> dict[str, Any]:
    """The pop as the logged-in user may see it (numbers masked by role)."""
    return {
        "key": pop.key,
        "state": pop.state,
        "call_id": pop.call_id,
        "callback_id": pop.callback_id,
        "number": shown_number(pop.number),
        "name": pop.name,
        "tier": pop.tier,
        "known_customer": pop.customer_id is not None,
        "queue": pop.queue,
        "menu": {"nodes": menu_nodes(pop.menu_path), "keys": menu_keys(pop.menu_path)},
        "kind": asdict(pop.kind),
        "history": {
            "calls": [{**asdict(c), "started_at": when(c.started_at)} for c in history.calls],
            "tickets": [{**asdict(t), "created_at": when(t.created_at)} for t in history.tickets],
        },
    }


def _mine_fingerprint(agent_id: int, staff_number: str) -> dict[str, Any]:
    """Changes when the agent's tickets or worklist change (the page then reloads them)."""
    s = db()
    tickets = s.execute(
        select(func.count(), func.max(Ticket.updated_at)).where(
            or_(Ticket.created_by == staff_number, Ticket.assignee == staff_number)
        )
    ).one()
    callbacks = s.execute(
        select(
            func.count(),
            func.max(CallbackRequest.id),
            func.max(CallbackRequest.last_attempt_at),
            func.max(CallbackRequest.attempts),
        ).where(CallbackRequest.assigned_to == agent_id, CallbackRequest.status == worklist.OPEN)
    ).one()
    return {
        "tickets": [tickets[0], when(tickets[1])],
        "callbacks": [callbacks[0], callbacks[1], when(callbacks[2]), callbacks[3]],
    }


@bp.get("/live/agent")
@login_required(roles=SEAT_ROLES)
def live() -> Response:
    agent = me()
    agent_id, staff_number = agent.id, agent.staff_number
    # Per stream: the caller history is read once per call (it does not change while the
    # call rings), and each call's customer view is audited once, not on every event.
    histories: dict[tuple[str, int | None], CallerHistory] = {}
    audited: set[str] = set()

    def render() -> list[tuple[str, Any]]:
        s = db()
        seat = s.scalars(
            select(SeatState)
            .where(SeatState.agent_id == agent_id)
            .execution_options(populate_existing=True)
        ).one_or_none()
        phone = phone_fields(phone_views(), agent_id)
        events: list[tuple[str, Any]] = [("seat", _seat_event(seat, phone))]
        pop = current_pop(s, agent_id)
        if pop is not None:
            cache_key = (pop.key, pop.call_id)
            history = histories.get(cache_key)
            if history is None:
                history = caller_history(
                    s, pop.number, customer_id=pop.customer_id, exclude_call_id=pop.call_id
                )
                histories.clear()
                histories[cache_key] = history
            if pop.key not in audited:
                audited.add(pop.key)
                calls = ",".join(str(c.id) for c in history.calls) or "none"
                tickets = ",".join(str(t.id) for t in history.tickets) or "none"
                audit(
                    "view",
                    "customer",
                    # The auditor's log, not the agent's page: the full number.
                    pop.customer_id if pop.customer_id is not None else pop.number or "unknown",
                    f"screen pop of call {pop.key} (record {pop.call_id}); "
                    f"past calls: {calls}; tickets: {tickets}",
                )
            events.append(("pop", pop_json(pop, history)))
        events.append(("mine", _mine_fingerprint(agent_id, staff_number)))
        return events

    return event_stream(render, max_seconds=STREAM_SECONDS)


# --- the page's lists -------------------------------------------------------------------


def _ticket_row(t: Ticket) -> dict[str, Any]:
    return {
        "id": t.id,
        "kind": t.kind,
        "category": t.category,
        "status": t.status,
        "severity": t.severity,
        "contact_name": t.contact_name,
        "contact_phone": shown_number(t.contact_phone),
        "summary": t.summary,
        "call_id": t.call_id,
        "created_at": when(t.created_at),
        "updated_at": when(t.updated_at),
    }


@api.get("/tickets")
@login_required(roles=SEAT_ROLES)
def my_tickets() -> dict[str, Any]:
    """The tickets the agent created or is assigned, newest first (a lead's own too)."""
    staff_number = me().staff_number
    found = list(
        db().scalars(
            select(Ticket)
            .where(or_(Ticket.created_by == staff_number, Ticket.assignee == staff_number))
            .order_by(Ticket.created_at.desc(), Ticket.id.desc())
            .limit(MY_TICKETS)
        )
    )
    ids = ",".join(str(t.id) for t in found) or "none"
    audit("search", "ticket", "*", f"my tickets; found: {ids}")
    return {"tickets": [_ticket_row(t) for t in found]}


@api.get("/callbacks")
@login_required(roles=SEAT_ROLES)
def my_callbacks() -> dict[str, Any]:
    """The agent's callback worklist, due first, with the quiet hours."""
    res = callback_resources()
    now = res.clock()
    items = worklist.worklist(db(), me().id, now, res.rules)
    if items:
        ids = ",".join(str(i.id) for i in items)
        audit("view", "customer", "*", f"callback worklist: items {ids}")
    return {
        "now": now.isoformat(),
        "quiet_now": res.rules.is_quiet(now),
        "quiet_hours": list(res.rules.quiet_hours),
        "zone": str(res.rules.tz),
        "next_dial_at": res.rules.next_dial_time(now).isoformat(),
        "items": [
            {
                "id": i.id,
                "source": i.source,
                "number": shown_number(i.number),
                "name": i.name,
                "ticket_id": i.ticket_id,
                "queue": i.queue,
                "requested_at": when(i.requested_at),
                "due_at": when(i.due_at),
                "overdue": i.overdue,
                "attempts": i.attempts,
                "last_attempt_at": when(i.last_attempt_at),
                "next_dial_at": when(i.next_dial_at),
                "dial": i.dial,
                "auto": i.auto,
            }
            for i in items
        ],
    }


@api.get("/handover")
@login_required(roles=SEAT_ROLES)
def handover() -> dict[str, Any]:
    """The latest handover notes of the agent's team. The generated summary is given as
    counts: its callback list holds customers' numbers."""
    team = me().team or None
    notes = handover_notes(db(), team=team, limit=HANDOVER_NOTES) if team else []
    return {
        "team": team,
        "notes": [
            {
                "id": n.id,
                "at": when(n.at),
                "author": n.author,
                "shift_ending": n.shift_ending,
                "shift_starting": n.shift_starting,
                "text": n.text,
                "open_callbacks": (n.summary or {}).get("open_callbacks", 0),
                "alerts": len((n.summary or {}).get("alerts", [])),
            }
            for n in notes
        ],
    }


@api.post("/handover")
@login_required(roles=SEAT_ROLES)
def add_handover() -> tuple[dict[str, Any], int]:
    """A note for the next shift of the agent's own team."""
    body = json_body()
    unknown = sorted(set(body) - {"text"})
    if unknown:
        raise ApiError(400, f"unknown field(s): {', '.join(unknown)}")
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ApiError(400, "text: required", errors={"text": "required"})
    if len(text) > MAX_HANDOVER:
        raise ApiError(
            400,
            f"text: at most {MAX_HANDOVER} characters",
            errors={"text": f"at most {MAX_HANDOVER} characters"},
        )
    agent = me()
    if not agent.team:
        raise ApiError(409, "you are in no team: ask an admin to set yours")
    note = add_handover_note(
        db(), team=agent.team, author=agent.staff_number, text=text, now=utcnow()
    )
    return {"id": note.id, "at": when(note.at)}, 201
