"""Tickets in the database: create (by hand or from a call), change fields, status and
assignee, notes, history and search.

Every change is one transaction that also writes a ``TicketEvent`` (who, when, what:
``{field: [old, new]}``), so the history is complete. Changes are conditional UPDATEs on
the ticket's ``version``: two people saving the same ticket cannot overwrite each other
unseen (``StaleTicket``), whether or not the caller passed the version it showed.

The kind's own fields go through ``tickets.kinds`` (``TicketInvalid`` names each bad
field) and status changes through ``tickets.workflow`` (``TransitionRefused``).

Severity starts "normal". ``create_ticket``, ``create_from_call``, ``update_fields``,
``change_status`` and ``assign`` return the ticket as committed: that is where
escalation (``tickets.escalation_store``) runs on it, at the caller.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, cast

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    CursorResult,
    String,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from agents.seat_store import agent_by_staff_number
from ticketdb.customers import find_by_phone, normalise_phone
from ticketdb.models import TICKET_KINDS, TICKET_STATUSES, Call, Ticket, TicketEvent
from ticketdb.sql import transaction
from tickets.config import TicketRules
from tickets.escalation_store import escalate
from tickets.kinds import (
    TicketInvalid,
    category_of,
    details_json,
    field_names,
    validate_details,
)
from tickets.workflow import Status, check_transition, milestones

# The fields every kind shares (columns of the ticket), with their length limits.
COMMON_FIELDS: dict[str, int] = {
    "contact_name": 128,
    "contact_phone": 32,
    "address": 256,
    "summary": 500,
}
# The kinds whose record needs a number to call back on (domain.md §2).
PHONE_REQUIRED = frozenset({"order", "complaint", "inquiry"})
MAX_STAFF = 32
MAX_NOTE = 4000
MAX_SEARCH = 500


class TicketNotFound(LookupError):
    pass


class UnknownCall(LookupError):
    pass


class StaleTicket(Exception):
    """The ticket changed since the caller read it; reload and try again."""


def _staff(value: str | None, field: str) -> str:
    text = (value or "").strip()
    if not text:
        raise TicketInvalid({field: "required (a staff number)"})
    if len(text) > MAX_STAFF:
        raise TicketInvalid({field: f"at most {MAX_STAFF} characters"})
    return text


def _common(values: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """The shared fields cleaned (stripped, phone normalised), and the problems by field."""
    clean: dict[str, str] = {}
    errors: dict[str, str] = {}
    for field, raw in values.items():
        value = "" if raw is None else raw
        if not isinstance(value, str):
            errors[field] = "must be text"
            continue
        value = value.strip()
        if field == "contact_phone" and value:
            try:
                value = normalise_phone(value)
            except ValueError:
                errors[field] = "not a phone number"
                continue
        limit = COMMON_FIELDS[field]
        if len(value) > limit:
            errors[field] = f"at most {limit} characters"
            continue
        clean[field] = value
    return clean, errors


def _validated(
    kind: str,
    common: Mapping[str, Any],
    details: Mapping[str, Any],
    channels: Collection[str] | None,
) -> tuple[dict[str, str], dict[str, Any], str | None]:
    """Shared fields, details JSON and category; TicketInvalid with every problem at once."""
    clean, errors = _common(common)
    if kind in PHONE_REQUIRED and not clean.get("contact_phone") and "contact_phone" not in errors:
        errors["contact_phone"] = f"required for {'an' if kind[0] in 'aeiou' else 'a'} {kind}"
    try:
        model = validate_details(kind, details, channels=channels)
    except TicketInvalid as exc:
        raise TicketInvalid({**errors, **exc.errors}) from None
    if errors:
        raise TicketInvalid(errors)
    return clean, details_json(model), category_of(model)


def _get(s: Session, ticket_id: int) -> Ticket:
    ticket = s.get(Ticket, ticket_id, populate_existing=True)
    if ticket is None:
        raise TicketNotFound(f"no ticket {ticket_id}")
    return ticket


def get_ticket(s: Session, ticket_id: int) -> Ticket:
    """The ticket as stored now; TicketNotFound."""
    return _get(s, ticket_id)


def _event(
    s: Session,
    ticket_id: int,
    *,
    at: datetime,
    actor: str,
    action: str,
    changes: Mapping[str, Any],
    note: str | None = None,
) -> TicketEvent:
    event = TicketEvent(
        ticket_id=ticket_id, at=at, actor=actor, action=action, changes=dict(changes), note=note
    )
    s.add(event)
    return event


def _note(note: object) -> str | None:
    if note is not None and not isinstance(note, str):
        raise TicketInvalid({"note": "must be text"})
    text = (note or "").strip()
    if len(text) > MAX_NOTE:
        raise TicketInvalid({"note": f"at most {MAX_NOTE} characters"})
    return text or None


def _check_version(ticket: Ticket, expected: int | None) -> None:
    if expected is not None and expected != ticket.version:
        raise StaleTicket(
            f"ticket {ticket.id} was changed meanwhile (now version {ticket.version}, "
            f"yours {expected}): reload it"
        )


def _write(s: Session, ticket: Ticket, expected: int | None, values: Mapping[str, Any]) -> None:
    """Apply ``values`` if the ticket is still at the version read (and ``expected``)."""
    _check_version(ticket, expected)
    stmt = (
        update(Ticket)
        .where(Ticket.id == ticket.id, Ticket.version == ticket.version)
        .values(**values, version=ticket.version + 1)
        .execution_options(synchronize_session=False)
    )
    if cast(CursorResult[Any], s.execute(stmt)).rowcount != 1:
        raise StaleTicket(f"ticket {ticket.id} was changed meanwhile: reload it")


def create_ticket(
    s: Session,
    *,
    kind: str,
    details: Mapping[str, Any],
    created_by: str,
    now: datetime,
    contact_name: str = "",
    contact_phone: str = "",
    address: str = "",
    summary: str = "",
    customer_id: int | None = None,
    call_id: int | None = None,
    menu_path: Sequence[Any] = (),
    queue: str | None = None,
    channels: Collection[str] | None = None,
    note: str | None = None,
    escalation: TicketRules | None = None,
) -> Ticket:
    """A new ticket (status new, severity normal) and its "created" event; commits.
    With ``escalation`` (the rules file), its escalation rules are applied at once.

    Without ``customer_id`` the customer is found by the contact phone. ``channels``:
    the dispatch channels an order may name (the rules file's). Raises TicketInvalid
    naming every bad field.
    """
    if kind not in TICKET_KINDS:
        raise TicketInvalid({"kind": f"must be one of {', '.join(TICKET_KINDS)} (got {kind!r})"})
    by = _staff(created_by, "created_by")
    common = {
        "contact_name": contact_name,
        "contact_phone": contact_phone,
        "address": address,
        "summary": summary,
    }
    try:
        text, problems = _note(note), {}
    except TicketInvalid as exc:
        text, problems = None, exc.errors
    try:
        clean, stored, category = _validated(kind, common, details, channels)
    except TicketInvalid as exc:
        raise TicketInvalid({**exc.errors, **problems}) from None
    if problems:
        raise TicketInvalid(problems)
    with transaction(s):
        if customer_id is None and clean["contact_phone"]:
            customer = find_by_phone(s, clean["contact_phone"])
            customer_id = customer.id if customer is not None else None
        ticket = Ticket(
            kind=kind,
            category=category,
            status=Status.NEW.value,
            severity="normal",
            call_id=call_id,
            customer_id=customer_id,
            details=stored,
            menu_path=list(menu_path),
            queue=queue,
            created_by=by,
            created_at=now,
            updated_at=now,
            version=0,
            **clean,
        )
        s.add(ticket)
        s.flush()
        initial = {"kind": kind, "status": ticket.status, **clean, **stored}
        changes = {
            k: [None, v] for k, v in initial.items() if not (v is None or v == "" or v is False)
        }
        if call_id is not None:
            changes["call_id"] = [None, call_id]
        _event(s, ticket.id, at=now, actor=by, action="created", changes=changes, note=text)
    if escalation is not None:
        escalate(s, ticket, escalation, now)
    return ticket


def create_from_call(
    s: Session,
    call_id: int,
    kind: str,
    *,
    created_by: str | None,
    now: datetime,
    **overrides: Any,
) -> Ticket:
    """A ticket for the call, prefilled from its record: the caller's number, the
    customer with that number (name and address), the menu path, queue, and the agent
    who took it as ``created_by`` unless given. ``overrides``: any ``create_ticket``
    argument, e.g. ``details`` or a corrected ``contact_phone``. UnknownCall, TicketInvalid.
    """
    call = s.get(Call, call_id)
    if call is None:
        raise UnknownCall(f"no call {call_id}")
    try:
        phone = normalise_phone(call.caller_number) if call.caller_number else ""
    except ValueError:  # withheld or not a number ("anonymous")
        phone = ""
    customer = find_by_phone(s, phone) if phone else None
    by = created_by or call.agent
    if not by:
        raise TicketInvalid({"created_by": "required (the call has no agent)"})
    values: dict[str, Any] = {
        "details": {},
        "contact_name": (customer.name if customer is not None else "") or call.caller_name,
        "contact_phone": phone,
        "address": (customer.address if customer is not None else None) or "",
        "customer_id": customer.id if customer is not None else None,
        "menu_path": list(call.menu_path or []),
        "queue": call.queue,
        **overrides,
    }
    return create_ticket(s, kind=kind, created_by=by, now=now, call_id=call.id, **values)


def update_fields(
    s: Session,
    ticket_id: int,
    changes: Mapping[str, Any],
    *,
    by: str,
    now: datetime,
    version: int | None = None,
    channels: Collection[str] | None = None,
    escalation: TicketRules | None = None,
) -> Ticket:
    """Change shared fields (contact_name, contact_phone, address, summary) and the
    kind's fields (by name; None or "" clears one); commits with a "fields" event of
    ``{field: [old, new]}``. Nothing changed: no event, no new version.

    ``version``: the version the caller showed; StaleTicket if the ticket moved on.
    TicketNotFound, TicketInvalid (also for status, assignee, kind: not changed here).
    """
    actor = _staff(by, "by")
    with transaction(s):
        ticket = _get(s, ticket_id)
        # Columns of the ticket other than the shared fields (status, assignee, kind …)
        # have their own functions; a details field may share a column's name (category).
        own = field_names(ticket.kind) | COMMON_FIELDS.keys()
        refused = {
            k: "cannot be changed here"
            for k in sorted(changes)
            if k in Ticket.__table__.columns and k not in own
        }
        common = {k: getattr(ticket, k) for k in COMMON_FIELDS}
        common.update({k: v for k, v in changes.items() if k in COMMON_FIELDS})
        details = {**ticket.details}
        details.update(
            {k: v for k, v in changes.items() if k not in refused and k not in COMMON_FIELDS}
        )
        try:
            clean, stored, category = _validated(ticket.kind, common, details, channels)
        except TicketInvalid as exc:
            raise TicketInvalid({**refused, **exc.errors}) from None
        if refused:
            raise TicketInvalid(refused)

        diff: dict[str, list[Any]] = {}
        for field, new in clean.items():
            if getattr(ticket, field) != new:
                diff[field] = [getattr(ticket, field), new]
        for field in sorted(set(ticket.details) | set(stored)):
            old = ticket.details.get(field)
            if old != stored.get(field):
                diff[field] = [old, stored.get(field)]
        if not diff:
            _check_version(ticket, version)
            return ticket
        values: dict[str, Any] = {**clean, "details": stored, "category": category}
        _write(s, ticket, version, {**values, "updated_at": now})
        _event(s, ticket.id, at=now, actor=actor, action="fields", changes=diff)
    ticket = _get(s, ticket_id)
    # A flag set later (injury found out on the callback) escalates then.
    if escalation is not None:
        escalate(s, ticket, escalation, now)
    return ticket


def change_status(
    s: Session,
    ticket_id: int,
    status: str,
    *,
    by: str,
    now: datetime,
    note: str | None = None,
    version: int | None = None,
) -> Ticket:
    """Move the ticket on in its workflow and set the milestones it reaches for the
    first time; commits with a "status" event. TransitionRefused, StaleTicket,
    TicketNotFound."""
    actor = _staff(by, "by")
    text = _note(note)
    with transaction(s):
        ticket = _get(s, ticket_id)
        check_transition(ticket.kind, ticket.status, status)
        values: dict[str, Any] = {"status": status, "updated_at": now}
        for column in milestones(ticket.status, status):
            if getattr(ticket, column) is None:
                values[column] = now
        _write(s, ticket, version, values)
        changes = {"status": [ticket.status, status]}
        _event(s, ticket.id, at=now, actor=actor, action="status", changes=changes, note=text)
    return _get(s, ticket_id)


def assign(
    s: Session,
    ticket_id: int,
    assignee: str | None,
    *,
    by: str,
    now: datetime,
    note: str | None = None,
    version: int | None = None,
) -> Ticket:
    """Give the ticket to an agent (a staff number; None: nobody); commits with an
    "assigned" event. A new ticket becomes assigned (its first response). Assigning
    the same agent again changes nothing. TicketInvalid for an unknown or inactive agent.
    """
    actor = _staff(by, "by")
    text = _note(note)
    staff = None
    if assignee is not None:
        staff = _staff(assignee, "assignee")
        agent = agent_by_staff_number(s, staff)
        if agent is None or not agent.active:
            raise TicketInvalid({"assignee": f"no active agent with staff number {staff}"})
        staff = agent.staff_number
    with transaction(s):
        ticket = _get(s, ticket_id)
        if ticket.assignee == staff:
            return ticket
        values: dict[str, Any] = {"assignee": staff, "updated_at": now}
        changes: dict[str, list[Any]] = {"assignee": [ticket.assignee, staff]}
        if staff is not None and ticket.status == Status.NEW:
            values["status"] = Status.ASSIGNED.value
            changes["status"] = [ticket.status, Status.ASSIGNED.value]
            for column in milestones(ticket.status, Status.ASSIGNED):
                if getattr(ticket, column) is None:
                    values[column] = now
        _write(s, ticket, version, values)
        _event(s, ticket.id, at=now, actor=actor, action="assigned", changes=changes, note=text)
    return _get(s, ticket_id)


def add_note(s: Session, ticket_id: int, note: str, *, by: str, now: datetime) -> TicketEvent:
    """A note in the ticket's history; commits. The ticket's version stays (a note
    never makes someone's open form stale)."""
    actor = _staff(by, "by")
    text = _note(note)
    if text is None:
        raise TicketInvalid({"note": "required"})
    with transaction(s):
        ticket = _get(s, ticket_id)
        s.execute(
            update(Ticket)
            .where(Ticket.id == ticket.id)
            .values(updated_at=now)
            .execution_options(synchronize_session=False)
        )
        event = _event(s, ticket.id, at=now, actor=actor, action="note", changes={}, note=text)
    return event


def history(s: Session, ticket_id: int) -> list[TicketEvent]:
    """Every event of the ticket, oldest first. TicketNotFound."""
    _get(s, ticket_id)
    stmt = (
        select(TicketEvent)
        .where(TicketEvent.ticket_id == ticket_id)
        .order_by(TicketEvent.at, TicketEvent.id)
    )
    return list(s.scalars(stmt))


# --- search -------------------------------------------------------------------------


def day_bounds(
    first: date | None, last: date | None, tz: tzinfo
) -> tuple[datetime | None, datetime | None]:
    """``search``'s date_from/date_to for whole local days ``first``..``last`` (both
    included) in ``tz``."""

    def start(day: date) -> datetime:
        return datetime.combine(day, time(), tz).astimezone(UTC)

    return (
        start(first) if first is not None else None,
        start(last + timedelta(days=1)) if last is not None else None,
    )


def _details_contain(s: Session, term: str) -> ColumnElement[bool]:
    """Some text value of ``details`` contains ``term`` (case-insensitive; keys,
    numbers and flags are not searched). LIKE wildcards in ``term`` match literally."""
    text: ColumnElement[Any]
    if s.get_bind().dialect.name == "postgresql":
        each = func.jsonb_each(Ticket.details).table_valued("key", "value").alias("d")
        # ``value #>> '{}'``: the JSON string as text, unquoted and unescaped.
        text = each.c.value.op("#>>")(literal([], ARRAY(String)))
        kind_ok = func.jsonb_typeof(each.c.value) == "string"
    else:
        each = func.json_each(Ticket.details).table_valued("value", "type").alias("d")
        text, kind_ok = each.c.value, each.c.type == "text"
    return (
        select(literal(1))
        .select_from(each)
        .where(kind_ok, text.icontains(term, autoescape=True))
        .exists()
    )


def search(
    s: Session,
    *,
    number: str | None = None,
    name: str | None = None,
    kind: str | None = None,
    status: str | None = None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    text: str | None = None,
    visible_to: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Ticket]:
    """Tickets matching every filter given, newest first.

    ``number``: part of the contact phone (any notation); ``name``: part of the
    contact name; ``text``: part of the summary, contact name or a field of the
    details (all case-insensitive, user input bound as parameters, ``%`` and ``_``
    matched literally). ``date_from`` (included) and ``date_to`` (excluded) bound the
    creation time. ``visible_to``: only tickets this staff number created or is
    assigned. TicketInvalid for a bad filter.
    """
    errors: dict[str, str] = {}
    where: list[ColumnElement[bool]] = []
    if number is not None and number.strip():
        try:
            digits = normalise_phone(number)
        except ValueError:
            errors["number"] = "not a phone number"
        else:
            where.append(Ticket.contact_phone.contains(digits.lstrip("+"), autoescape=True))
    if name is not None and name.strip():
        where.append(Ticket.contact_name.icontains(name.strip(), autoescape=True))
    if kind is not None:
        if kind in TICKET_KINDS:
            where.append(Ticket.kind == kind)
        else:
            errors["kind"] = f"must be one of {', '.join(TICKET_KINDS)}"
    if status is not None:
        if status in TICKET_STATUSES:
            where.append(Ticket.status == status)
        else:
            errors["status"] = f"must be one of {', '.join(TICKET_STATUSES)}"
    for field, at in (("date_from", date_from), ("date_to", date_to)):
        if at is not None and (at.tzinfo is None or at.utcoffset() is None):
            errors[field] = "needs a time zone"
    if date_from is not None and "date_from" not in errors:
        where.append(Ticket.created_at >= date_from)
    if date_to is not None and "date_to" not in errors:
        where.append(Ticket.created_at < date_to)
    if text is not None and text.strip():
        term = text.strip()
        where.append(
            or_(
                Ticket.summary.icontains(term, autoescape=True),
                Ticket.contact_name.icontains(term, autoescape=True),
                _details_contain(s, term),
            )
        )
    if visible_to is not None:
        where.append(or_(Ticket.created_by == visible_to, Ticket.assignee == visible_to))
    if not 1 <= limit <= MAX_SEARCH:
        errors["limit"] = f"must be 1-{MAX_SEARCH}"
    if offset < 0:
        errors["offset"] = "must be at least 0"
    if errors:
        raise TicketInvalid(errors)
    stmt = (
        select(Ticket)
        .where(*where)
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(s.scalars(stmt))
