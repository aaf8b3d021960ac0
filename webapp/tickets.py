"""The tickets JSON API: create (by hand or from a call), read with history, change
fields and status, search.

- ``POST /api/tickets`` — ``{kind, details: {…}, contact_name, contact_phone, address,
  summary, note}``;
- ``POST /api/calls/<id>/ticket`` — the same, prefilled from the call's record;
- ``GET /api/tickets/<id>`` — the ticket, the statuses it may move to, its history;
- ``PATCH /api/tickets/<id>`` — ``{version, <field>: value, …}`` (shared or the kind's
  fields; null clears one);
- ``POST /api/tickets/<id>/status`` — ``{status, note, version}``;
- ``GET /api/tickets?number=&name=&kind=&status=&from=&to=&text=&limit=&offset=`` —
  ``from``/``to`` are local days (the calendar's zone), both included.

Agents see and change the tickets they created or are assigned; leads and admins all.
Customer data is confidential (domain.md §7): every view, search and refusal is written
to the access audit log. Bad input is 400 with ``errors`` naming each field; a stale
version or a refused status change is 409.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Flask, current_app, request

from kernel.clock import utcnow
from ticketdb.models import Call, Ticket, TicketEvent
from ticketdb.recordings import recordings_of_call
from tickets.kinds import TicketInvalid
from tickets.site import TicketSite
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
from tickets.workflow import TransitionRefused, allowed_next
from webapp.auth import is_lead, json_body, login_required, me
from webapp.db import db
from webapp.errors import ApiError
from webapp.helpers import audit, when

bp = Blueprint("tickets", __name__, url_prefix="/api")

_KEY = "hotline.ticket_api"
CREATE_FIELDS = ("kind", "details", "contact_name", "contact_phone", "address", "summary", "note")
SEARCH_PARAMS = ("number", "name", "kind", "status", "from", "to", "text", "limit", "offset")


def init_app(app: Flask, site: TicketSite) -> TicketSite:
    """Register the views with the site's ticket rules and calendar zone."""
    app.extensions[_KEY] = site
    app.register_blueprint(bp)
    return site


def _site() -> TicketSite:
    found: TicketSite = current_app.extensions[_KEY]
    return found


def _channels() -> Collection[str]:
    return _site().rules.dispatch.channels


# --- access -------------------------------------------------------------------------


def _may_see(ticket: Ticket) -> bool:
    agent = me()
    return is_lead(agent) or agent.staff_number in (ticket.created_by, ticket.assignee)


def _ticket(ticket_id: int, doing: str) -> Ticket:
    """The ticket, if the logged-in agent may see it: 404 unknown, 403 (audited) not theirs."""
    try:
        ticket = get_ticket(db(), ticket_id)
    except TicketNotFound as exc:
        raise ApiError(404, str(exc)) from None
    if not _may_see(ticket):
        audit("refused", "ticket", ticket_id, f"{doing}: neither created by nor assigned to them")
        raise ApiError(403, "an agent may only see tickets they created or are assigned")
    return ticket


@contextmanager
def _refusals() -> Iterator[None]:
    """The ticket functions' refusals as API errors."""
    try:
        yield
    except TicketInvalid as exc:
        raise ApiError(400, f"invalid ticket: {exc}", errors=exc.errors) from None
    except TransitionRefused as exc:
        raise ApiError(409, str(exc), allowed=list(exc.allowed)) from None
    except StaleTicket as exc:
        raise ApiError(409, str(exc)) from None
    except (TicketNotFound, UnknownCall) as exc:
        raise ApiError(404, str(exc)) from None


def _only(body: Mapping[str, Any], allowed: Collection[str]) -> None:
    extra = sorted(set(body) - set(allowed))
    if extra:
        raise ApiError(
            400,
            f"unknown field(s) {', '.join(extra)} (allowed: {', '.join(allowed)})",
            errors={key: "unknown field" for key in extra},
        )


def _create_args(body: Mapping[str, Any]) -> dict[str, Any]:
    """``create_ticket``'s arguments from a request body (400 for a wrong shape)."""
    _only(body, CREATE_FIELDS)
    kind, details = body.get("kind"), body.get("details", {})
    errors: dict[str, str] = {}
    if not isinstance(kind, str):
        errors["kind"] = "required (order, complaint, inquiry, fault, other)"
    if not isinstance(details, dict):
        errors["details"] = "must be an object of the kind's fields"
    if errors:
        raise ApiError(400, "invalid ticket: " + "; ".join(f"{k}: {v}" for k, v in errors.items()),
                       errors=errors)  # fmt: skip
    args = {k: v for k, v in body.items() if k not in ("kind", "details")}
    return {
        "kind": kind,
        "details": details,
        "channels": _channels(),
        "escalation": _site().rules,
        **args,
    }


def _version(body: Mapping[str, Any], required: bool) -> int | None:
    value = body.get("version")
    if value is None and not required:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise ApiError(
            400,
            "version: required (the version of the ticket as shown)",
            errors={"version": "required (the version of the ticket as shown)"},
        )
    return value


# --- output -------------------------------------------------------------------------


def ticket_json(ticket: Ticket) -> dict[str, Any]:
    return {
        "id": ticket.id,
        "kind": ticket.kind,
        "category": ticket.category,
        "status": ticket.status,
        "severity": ticket.severity,
        "allowed_next": list(allowed_next(ticket.kind, ticket.status)),
        "call_id": ticket.call_id,
        "customer_id": ticket.customer_id,
        "contact_name": ticket.contact_name,
        "contact_phone": ticket.contact_phone,
        "address": ticket.address,
        "summary": ticket.summary,
        "details": ticket.details,
        "menu_path": ticket.menu_path,
        "queue": ticket.queue,
        "created_by": ticket.created_by,
        "assignee": ticket.assignee,
        "department": ticket.department,
        "created_at": when(ticket.created_at),
        "updated_at": when(ticket.updated_at),
        "first_response_at": when(ticket.first_response_at),
        "resolved_at": when(ticket.resolved_at),
        "callback_done_at": when(ticket.callback_done_at),
        "closed_at": when(ticket.closed_at),
        "dispatch_day": ticket.dispatch_day,
        "dispatch_channel": ticket.dispatch_channel,
        "version": ticket.version,
    }


def event_json(event: TicketEvent) -> dict[str, Any]:
    return {
        "at": when(event.at),
        "actor": event.actor,
        "action": event.action,
        "changes": event.changes,
        "note": event.note,
    }


# --- views --------------------------------------------------------------------------


def _created(make: Callable[[], Ticket]) -> tuple[dict[str, Any], int]:
    with _refusals():
        ticket = make()
    return {"ticket": ticket_json(ticket)}, 201


@bp.post("/tickets")
@login_required()
def create() -> tuple[dict[str, Any], int]:
    args = _create_args(json_body())
    return _created(lambda: create_ticket(db(), created_by=me().staff_number, now=utcnow(), **args))


@bp.post("/calls/<int:call_id>/ticket")
@login_required()
def create_for_call(call_id: int) -> tuple[dict[str, Any], int]:
    args = _create_args(json_body())
    call = db().get(Call, call_id)
    if call is None:
        raise ApiError(404, f"no call {call_id}")
    # The call's record holds the caller's number and customer: an agent only theirs.
    if not is_lead(me()) and call.agent != me().staff_number:
        audit("refused", "call", call_id, "ticket from a call another agent took")
        raise ApiError(403, "an agent may only make tickets from calls they took")
    kind = args.pop("kind")
    return _created(
        lambda: create_from_call(
            db(), call_id, kind, created_by=me().staff_number, now=utcnow(), **args
        )
    )


@bp.get("/tickets/<int:ticket_id>")
@login_required()
def show(ticket_id: int) -> dict[str, Any]:
    ticket = _ticket(ticket_id, "view")
    events = history(db(), ticket_id)
    audit("view", "ticket", ticket_id, None)
    # The call's recordings, as links: hearing one is checked (and audited) by
    # /api/recordings/<id>/audio, for the roles allowed to.
    calls = [] if ticket.call_id is None else recordings_of_call(db(), ticket.call_id)
    return {
        "ticket": ticket_json(ticket),
        "history": [event_json(e) for e in events],
        "recordings": [
            {
                "id": r.id,
                "status": r.status,
                "duration_seconds": r.duration_seconds,
                "audio": f"/api/recordings/{r.id}/audio",
            }
            for r in calls
        ],
    }


@bp.patch("/tickets/<int:ticket_id>")
@login_required()
def patch(ticket_id: int) -> dict[str, Any]:
    body = json_body()
    _ticket(ticket_id, "change")
    version = _version(body, required=True)
    changes = {k: v for k, v in body.items() if k != "version"}
    with _refusals():
        ticket = update_fields(
            db(), ticket_id, changes, by=me().staff_number, now=utcnow(), version=version,
            channels=_channels(),
            escalation=_site().rules,
        )  # fmt: skip
    return {"ticket": ticket_json(ticket)}


@bp.post("/tickets/<int:ticket_id>/status")
@login_required()
def set_status(ticket_id: int) -> dict[str, Any]:
    body = json_body()
    _only(body, ("status", "note", "version"))
    status, note = body.get("status"), body.get("note")
    if not isinstance(status, str):
        raise ApiError(400, "status: required", errors={"status": "required"})
    if note is not None and not isinstance(note, str):
        raise ApiError(400, "note: must be text", errors={"note": "must be text"})
    _ticket(ticket_id, "status")
    version = _version(body, required=False)
    with _refusals():
        ticket = change_status(
            db(), ticket_id, status, by=me().staff_number, now=utcnow(), note=note,
            version=version,
        )  # fmt: skip
    return {"ticket": ticket_json(ticket)}


def _search_args() -> dict[str, Any]:
    """``search``'s filters from the query string; 400 naming every bad parameter."""
    q = request.args
    _only(q, SEARCH_PARAMS)
    errors: dict[str, str] = {}
    days: dict[str, date | None] = {}
    for param in ("from", "to"):
        text = q.get(param)
        try:
            days[param] = date.fromisoformat(text) if text else None
        except ValueError:
            errors[param] = "must be a date YYYY-MM-DD"
    numbers: dict[str, int] = {}
    for param, default in (("limit", 50), ("offset", 0)):
        try:
            numbers[param] = int(q.get(param) or default)
        except ValueError:
            errors[param] = "must be a whole number"
    if errors:
        raise ApiError(400, "; ".join(f"{k}: {v}" for k, v in errors.items()), errors=errors)
    date_from, date_to = day_bounds(days["from"], days["to"], _site().tz)
    return {
        "number": q.get("number") or None,
        "name": q.get("name") or None,
        "kind": q.get("kind") or None,
        "status": q.get("status") or None,
        "text": q.get("text") or None,
        "date_from": date_from,
        "date_to": date_to,
        **numbers,
    }


@bp.get("/tickets")
@login_required()
def find() -> dict[str, Any]:
    filters = _search_args()
    visible_to = None if is_lead(me()) else me().staff_number
    try:
        found = search(db(), visible_to=visible_to, **filters)
    except TicketInvalid as exc:
        raise ApiError(400, str(exc), errors=exc.errors) from None
    query = urlencode([(k, v) for k, v in request.args.items() if v])
    ids = ",".join(str(t.id) for t in found)
    audit("search", "ticket", "*", f"{query or '(no filter)'}; found: {ids or 'none'}")
    return {"tickets": [ticket_json(t) for t in found]}
