"""Tickets over /api/v1, under the same rules as the agents' page (webapp/tickets.py):

- ``GET /api/v1/tickets?number=&name=&kind=&status=&from=&to=&text=&limit=&offset=``;
- ``POST /api/v1/tickets`` — ``{kind, details, contact_name, contact_phone, address,
  summary, note, call_id}``; with ``call_id`` prefilled from the call's record;
- ``GET /api/v1/tickets/<id>`` — the ticket and its history;
- ``PATCH /api/v1/tickets/<id>`` — ``{version, changes: {field: value|null}}``;
- ``POST /api/v1/tickets/<id>/status`` — ``{status, note, version}``.

An agent's token sees and changes the tickets that agent created or is assigned (and
makes tickets only from calls it took); leads and admins all. Every view, search and
refusal is audited; contact numbers are masked unless the role sees full numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from flask import Blueprint

from kernel.clock import utcnow
from ticketdb.models import TICKET_KINDS, TICKET_STATUSES, Call, Ticket, TicketEvent
from tickets.kinds import TicketInvalid
from tickets.store import (
    StaleTicket,
    TicketNotFound,
    UnknownCall,
    change_status,
    create_from_call,
    create_ticket,
    day_bounds,
    get_ticket,
    history,
    search,
    update_fields,
)
from tickets.workflow import TransitionRefused
from webapp.api_v1.common import (
    arg,
    audit,
    body,
    forbidden,
    int_field,
    invalid,
    is_lead,
    not_found,
    page,
    query_text,
    ticket_site,
    unknown_params,
)
from webapp.auth import me
from webapp.db import db
from webapp.errors import ApiError
from webapp.masking import shown_number
from webapp.tickets import event_json, ticket_json

bp = Blueprint("tickets", __name__)

SEARCH_PARAMS = ("number", "name", "kind", "status", "from", "to", "text", "limit", "offset")
CREATE_FIELDS = (
    "kind",
    "details",
    "contact_name",
    "contact_phone",
    "address",
    "summary",
    "note",
    "call_id",
)
_AGENT_ONLY = "an agent's token sees only tickets that agent created or is assigned"


# --- access and refusals ------------------------------------------------------------


def may_see(ticket: Ticket) -> bool:
    agent = me()
    return is_lead(agent) or agent.staff_number in (ticket.created_by, ticket.assignee)


def _visible(ticket_id: int, doing: str) -> Ticket:
    """The ticket, if the token's agent may see it: 404 unknown, 403 (audited) not theirs."""
    try:
        ticket = get_ticket(db(), ticket_id)
    except TicketNotFound as exc:
        not_found(str(exc))
    if not may_see(ticket):
        audit("refused", "ticket", ticket_id, f"{doing}: neither created by nor assigned to them")
        forbidden(_AGENT_ONLY)
    return ticket


@contextmanager
def _refusals() -> Iterator[None]:
    """The ticket functions' refusals as this API's errors."""
    try:
        yield
    except TicketInvalid as exc:
        invalid(exc.errors)
    except TransitionRefused as exc:
        raise ApiError(
            409, str(exc), error_id="transition_refused", allowed=list(exc.allowed)
        ) from None
    except StaleTicket as exc:
        raise ApiError(409, str(exc), error_id="stale") from None
    except (TicketNotFound, UnknownCall) as exc:
        not_found(str(exc))


# --- output -------------------------------------------------------------------------


def api_ticket(ticket: Ticket) -> dict[str, Any]:
    out = ticket_json(ticket)
    out["contact_phone"] = shown_number(ticket.contact_phone)
    return out


def _api_event(event: TicketEvent) -> dict[str, Any]:
    out = event_json(event)
    phone = out["changes"].get("contact_phone")
    if isinstance(phone, list):
        out["changes"] = {
            **out["changes"],
            "contact_phone": [shown_number(v) if isinstance(v, str) else v for v in phone],
        }
    return out


# --- views --------------------------------------------------------------------------


def _search_filters() -> dict[str, Any]:
    errors = unknown_params(SEARCH_PARAMS)
    days: dict[str, date | None] = {}
    for key in ("from", "to"):
        text = arg(key)
        try:
            days[key] = date.fromisoformat(text) if text else None
        except ValueError:
            errors[key] = "must be a date YYYY-MM-DD"
    if arg("kind") and arg("kind") not in TICKET_KINDS:
        errors["kind"] = f"must be one of {', '.join(TICKET_KINDS)}"
    if arg("status") and arg("status") not in TICKET_STATUSES:
        errors["status"] = f"must be one of {', '.join(TICKET_STATUSES)}"
    paging = page(errors)
    if errors:
        invalid(errors)
    date_from, date_to = day_bounds(days["from"], days["to"], ticket_site().tz)
    return {
        "number": arg("number") or None,
        "name": arg("name") or None,
        "kind": arg("kind") or None,
        "status": arg("status") or None,
        "text": arg("text") or None,
        "date_from": date_from,
        "date_to": date_to,
        "paging": paging,
    }


@bp.get("/tickets")
def list_tickets() -> dict[str, Any]:
    filters = _search_filters()
    paging = filters.pop("paging")
    visible_to = None if is_lead(me()) else me().staff_number
    with _refusals():
        found = search(
            db(),
            visible_to=visible_to,
            limit=paging.limit + 1,
            offset=paging.offset,
            **filters,
        )
    tickets, next_offset = paging.cut(found)
    ids = ",".join(str(t.id) for t in tickets)
    audit("search", "ticket", "*", f"{query_text()}; found: {ids or 'none'}")
    return {"tickets": [api_ticket(t) for t in tickets], "next_offset": next_offset}


def _create_args(values: dict[str, Any]) -> tuple[dict[str, Any], int | None]:
    errors: dict[str, str] = {}
    kind, details = values.get("kind"), values.get("details", {})
    if not isinstance(kind, str):
        errors["kind"] = "required (order, complaint, inquiry, fault, other)"
    if not isinstance(details, dict):
        errors["details"] = "must be an object of the kind's fields"
    call_id = int_field(values, "call_id", errors)
    if errors:
        invalid(errors)
    site = ticket_site()
    args = {k: v for k, v in values.items() if k not in ("details", "call_id")}
    args.update(details=details, channels=site.rules.dispatch.channels, escalation=site.rules)
    return args, call_id


def _from_call(call_id: int, args: dict[str, Any]) -> Callable[[], Ticket]:
    call = db().get(Call, call_id)
    if call is None:
        not_found(f"no call {call_id}")
    # The call's record holds the caller's number and customer: an agent only theirs.
    if not is_lead(me()) and call.agent != me().staff_number:
        audit("refused", "call", call_id, "ticket from a call another agent took")
        forbidden("an agent's token makes tickets only from calls that agent took")
    kind = args.pop("kind")
    return lambda: create_from_call(
        db(), call_id, kind, created_by=me().staff_number, now=utcnow(), **args
    )


@bp.post("/tickets")
def create() -> tuple[dict[str, Any], int]:
    args, call_id = _create_args(body(CREATE_FIELDS, required=("kind",)))
    if call_id is not None:
        make = _from_call(call_id, args)
    else:

        def make() -> Ticket:
            return create_ticket(db(), created_by=me().staff_number, now=utcnow(), **args)

    with _refusals():
        ticket = make()
    return {"ticket": api_ticket(ticket)}, 201


@bp.get("/tickets/<int:ticket_id>")
def get_one(ticket_id: int) -> dict[str, Any]:
    ticket = _visible(ticket_id, "view")
    events = history(db(), ticket_id)
    audit("view", "ticket", ticket_id)
    return {"ticket": api_ticket(ticket), "history": [_api_event(e) for e in events]}


def _version(values: dict[str, Any], errors: dict[str, str]) -> int | None:
    value = values.get("version")
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        errors["version"] = "the ticket's version as read (a whole number)"
        return None
    return value


@bp.patch("/tickets/<int:ticket_id>")
def change(ticket_id: int) -> dict[str, Any]:
    values = body(("version", "changes"), required=("version", "changes"))
    errors: dict[str, str] = {}
    version = _version(values, errors)
    changes = values["changes"]
    if not isinstance(changes, dict) or not changes:
        errors["changes"] = "an object of the fields to change (null clears one)"
    if errors:
        invalid(errors)
    _visible(ticket_id, "change")
    site = ticket_site()
    with _refusals():
        ticket = update_fields(
            db(), ticket_id, changes, by=me().staff_number, now=utcnow(), version=version,
            channels=site.rules.dispatch.channels, escalation=site.rules,
        )  # fmt: skip
    return {"ticket": api_ticket(ticket)}


@bp.post("/tickets/<int:ticket_id>/status")
def set_status(ticket_id: int) -> dict[str, Any]:
    values = body(("status", "note", "version"), required=("status",))
    errors: dict[str, str] = {}
    status, note = values["status"], values.get("note")
    if status not in TICKET_STATUSES:
        errors["status"] = f"must be one of {', '.join(TICKET_STATUSES)}"
    if note is not None and not isinstance(note, str):
        errors["note"] = "must be text"
    version = _version(values, errors)
    if errors:
        invalid(errors)
    _visible(ticket_id, "status")
    with _refusals():
        ticket = change_status(
            db(), ticket_id, status, by=me().staff_number, now=utcnow(), note=note,
            version=version,
        )  # fmt: skip
    return {"ticket": api_ticket(ticket)}
