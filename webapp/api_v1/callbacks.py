"""The callback worklist over /api/v1 (domain.md §5):

- ``GET /api/v1/callbacks?agent=&due_before=&limit=&offset=`` — open callbacks, due
  first, each with when it may be dialled (quiet hours, the next time slot);
- ``POST /api/v1/callbacks`` — ``{number, due_at, note, customer_id, ticket_id,
  assign_to, key}``: ask for a callback. ``key`` makes it idempotent: a retry with the
  same key answers 200 with the first request instead of adding another.

An agent's token lists that agent's worklist and may give a new callback only to itself
(or leave it to be shared out); leads and admins see every open item, filter by agent
(``agent=none``: not shared out yet) and assign anyone. The list shows customers'
numbers and names, so it is audited; numbers are masked unless the role sees them.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, current_app
from sqlalchemy import select

from agents.seat_store import agent_by_staff_number
from callbacks import worklist
from callbacks.requests import MAX_API_KEY, request_from_api
from kernel.settings import Settings
from ticketdb.customers import normalise_phone
from ticketdb.models import Agent, CallbackRequest, Customer, Ticket
from webapp.api_v1.common import (
    arg,
    audit,
    body,
    forbidden,
    instant,
    int_field,
    invalid,
    is_lead,
    page,
    parse_instant,
    query_text,
    site_tz,
    text_field,
    unknown_params,
    when,
)
from webapp.api_v1.tickets import may_see
from webapp.auth import me
from webapp.callbacks import callback_resources
from webapp.db import db
from webapp.masking import shown_number

bp = Blueprint("callbacks", __name__)

LIST_PARAMS = ("agent", "due_before", "limit", "offset")
CREATE_FIELDS = ("number", "due_at", "note", "customer_id", "ticket_id", "assign_to", "key")
MAX_NOTE = 2000
# Room in the stored key for the token agent's id in front of the client's key.
MAX_KEY = MAX_API_KEY - 20
UNASSIGNED = "none"


def item_json(item: worklist.WorkItem, assigned_to: str | None) -> dict[str, Any]:
    return {
        "id": item.id,
        "source": item.source,
        "number": shown_number(item.number),
        "name": item.name,
        "ticket_id": item.ticket_id,
        "call_id": item.call_id,
        "queue": item.queue,
        "requested_at": when(item.requested_at),
        "due_at": when(item.due_at),
        "overdue": item.overdue,
        "attempts": item.attempts,
        "last_attempt_at": when(item.last_attempt_at),
        "quiet_now": item.quiet_now,
        "next_dial_at": when(item.next_dial_at),
        "dial": item.dial,
        "assigned_to": assigned_to,
    }


def _staff_numbers() -> dict[int, str]:
    rows = db().execute(select(Agent.id, Agent.staff_number))
    return {agent_id: staff for agent_id, staff in rows}


def _open_items(now: datetime) -> list[tuple[worklist.WorkItem, str | None]]:
    """The open items the token's agent may see, with who has each (staff number)."""
    rules = callback_resources().rules
    agent = me()
    if not is_lead(agent):
        if arg("agent") and arg("agent") != agent.staff_number:
            forbidden("an agent's token sees only that agent's worklist")
        return [(i, agent.staff_number) for i in worklist.worklist(db(), agent.id, now, rules)]
    staff = _staff_numbers()
    items = [
        (i, staff.get(a) if a is not None else None)
        for i, a in worklist.open_items(db(), now, rules)
    ]
    wanted = arg("agent")
    if wanted == UNASSIGNED:
        return [(i, a) for i, a in items if a is None]
    if wanted:
        return [(i, a) for i, a in items if a == wanted]
    return items


@bp.get("/callbacks")
def list_callbacks() -> dict[str, Any]:
    errors = unknown_params(LIST_PARAMS)
    due_before = instant("due_before", site_tz(), errors, end=True)
    paging = page(errors)
    if errors:
        invalid(errors)
    items = _open_items(callback_resources().clock())
    if due_before is not None:
        items = [(i, a) for i, a in items if i.due_at is not None and i.due_at < due_before]
    shown, next_offset = paging.cut(items[paging.offset : paging.offset + paging.limit + 1])
    ids = ",".join(str(i.id) for i, _ in shown)
    audit("search", "customer", "*", f"callbacks {query_text()}; found: {ids or 'none'}")
    return {"callbacks": [item_json(i, a) for i, a in shown], "next_offset": next_offset}


def _assignee(values: dict[str, Any], errors: dict[str, str]) -> Agent | None:
    staff = values.get("assign_to")
    if staff is None:
        return None
    if not isinstance(staff, str):
        errors["assign_to"] = "a staff number"
        return None
    if not is_lead(me()) and staff != me().staff_number:
        forbidden("an agent's token may give a callback only to that agent")
    agent = agent_by_staff_number(db(), staff)
    if agent is None or not agent.active:
        errors["assign_to"] = f"no active agent with staff number {staff}"
        return None
    return agent


def _links(values: dict[str, Any], errors: dict[str, str]) -> tuple[int | None, int | None]:
    """The customer and ticket the callback is about, when given and visible."""
    customer_id = int_field(values, "customer_id", errors)
    if customer_id is not None and db().get(Customer, customer_id) is None:
        errors["customer_id"] = f"no customer {customer_id}"
    ticket_id = int_field(values, "ticket_id", errors)
    if ticket_id is not None:
        ticket = db().get(Ticket, ticket_id)
        if ticket is None:
            errors["ticket_id"] = f"no ticket {ticket_id}"
        elif not may_see(ticket):
            audit("refused", "ticket", ticket_id, "callback for a ticket not theirs")
            forbidden("an agent's token sees only tickets that agent created or is assigned")
    return customer_id, ticket_id


def _created_json(row: CallbackRequest, now: datetime) -> dict[str, Any]:
    """The request as a worklist item (no dial can be under way for it yet)."""
    rules = callback_resources().rules
    customer = db().get(Customer, row.customer_id) if row.customer_id is not None else None
    earliest = max(now, row.not_before) if row.not_before is not None else now
    item = worklist.WorkItem(
        id=row.id,
        source=row.source,
        number=row.number,
        name=customer.name if customer is not None else "",
        ticket_id=row.ticket_id,
        call_id=row.call_id,
        queue=row.queue,
        requested_at=row.requested_at,
        due_at=row.due_at,
        overdue=row.due_at is not None and row.due_at < now,
        not_before=row.not_before,
        attempts=row.attempts,
        last_attempt_at=row.last_attempt_at,
        quiet_now=rules.is_quiet(now),
        next_dial_at=rules.next_dial_time(earliest),
        dial=None,
        auto=False,
    )
    staff = _staff_numbers().get(row.assigned_to) if row.assigned_to is not None else None
    return item_json(item, staff)


@bp.post("/callbacks")
def create() -> tuple[dict[str, Any], int]:
    values = body(CREATE_FIELDS, required=("number",))
    errors: dict[str, str] = {}
    now = callback_resources().clock()
    number = text_field(values, "number", 64, errors)
    if number is not None:
        try:
            normalise_phone(number)
        except ValueError:
            errors["number"] = "not a phone number"
    note = text_field(values, "note", MAX_NOTE, errors)
    key = text_field(values, "key", MAX_KEY, errors)
    if key == "":
        errors["key"] = f"1-{MAX_KEY} characters"
    due_at = None
    if isinstance(values.get("due_at"), str):
        due_at = parse_instant("due_at", values["due_at"], site_tz(), errors)
    elif values.get("due_at") is not None:
        errors["due_at"] = "an ISO 8601 instant with its zone, or a local day YYYY-MM-DD"
    assignee = _assignee(values, errors)
    customer_id, ticket_id = _links(values, errors)
    if errors:
        invalid(errors)
    settings: Settings = current_app.extensions["hotline.settings"]
    try:
        row, added = request_from_api(
            db(),
            # Keys are the client's own: two tokens' keys never meet.
            key=f"{me().id}:{key or uuid.uuid4().hex}",
            number=number or "",
            requested_at=now,
            due_at=due_at or now + timedelta(days=settings.callbacks.due_days),
            note=note or None,
            customer_id=customer_id,
            ticket_id=ticket_id,
            assigned_to=assignee.id if assignee is not None else None,
        )
    except ValueError as exc:
        invalid({"callback": str(exc)})
    return {"callback": _created_json(row, now), "created": added}, 201 if added else 200
