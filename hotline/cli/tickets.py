"""``hotline tickets check|new|list|search|show|status``: tickets from the command line.

Registered by ``hotline/cli/main.py`` like ``hotline agents`` (``hotline.cli.agents``), with
the same settings loader and session opener. Every problem — a bad rules file, a field
that does not validate, an unknown ticket or call, a status change the workflow refuses
— is one line on stderr and exit status 2. Days (``--from``/``--to``) and the times
shown are in the calendar's time zone (``paths.calendar_file``; UTC without one).
SQLAlchemy is imported only when a command runs.
"""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hotline.cli.base import SessionOpener, SettingsLoader, error
from tickets.site import load_ticket_site

if TYPE_CHECKING:
    from ticketdb.models import Ticket, TicketEvent

EXIT_CONFIG = 2
# tickets.config.KINDS and ticketdb.models.TICKET_STATUSES, repeated so --help needs no
# SQLAlchemy or pydantic import.
KINDS = ("order", "complaint", "inquiry", "fault", "other")
STATUSES = (
    "new",
    "assigned",
    "in_progress",
    "resolved",
    "callback_done",
    "closed",
    "rejected",
    "out_of_area",
    "unfounded",
)


def parse_fields(pairs: list[str]) -> dict[str, str]:
    """``["quantity=3", "product=Milk 1L"]`` → a dict; ValueError naming a bad pair."""
    fields: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"--field {pair!r}: use KEY=VALUE")
        if key in fields:
            raise ValueError(f"--field {key} given twice")
        fields[key] = value
    return fields


def _day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{option} {text!r}: use YYYY-MM-DD") from None


def _stamp(at: datetime | None, tz: tzinfo) -> str:
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if at is not None else "-"


def _value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def ticket_lines(ticket: Ticket, events: list[TicketEvent], tz: tzinfo) -> list[str]:
    """``tickets show``: the shared fields, the kind's fields, then the history."""
    rows: list[tuple[str, Any]] = [
        ("ticket", ticket.id),
        ("kind", ticket.kind + (f" ({ticket.category})" if ticket.category else "")),
        ("status", ticket.status),
        ("severity", ticket.severity),
        ("contact", ticket.contact_name or None),
        ("phone", ticket.contact_phone or None),
        ("address", ticket.address or None),
        ("summary", ticket.summary or None),
        ("call", ticket.call_id),
        ("queue", ticket.queue),
        ("menu path", " > ".join(str(step) for step in ticket.menu_path) or None),
        ("created", f"{_stamp(ticket.created_at, tz)} by {ticket.created_by}"),
        ("assignee", ticket.assignee),
        ("department", ticket.department),
        ("responded", _stamp(ticket.first_response_at, tz)),
        ("resolved", _stamp(ticket.resolved_at, tz)),
        ("callback", _stamp(ticket.callback_done_at, tz)),
        ("closed", _stamp(ticket.closed_at, tz)),
        ("version", ticket.version),
    ]
    lines = [f"{label:11} {_value(value)}" for label, value in rows]
    lines.append("details")
    lines += [f"  {key:17} {_value(value)}" for key, value in ticket.details.items()]
    lines.append(f"history ({getattr(tz, 'key', str(tz))})")
    for event in events:
        changes = ", ".join(
            f"{field}: {_value(old)} -> {_value(new)}"
            for field, (old, new) in event.changes.items()
        )
        text = "; ".join(part for part in (changes, event.note or "") if part)
        lines.append(f"  {_stamp(event.at, tz)} {event.actor:8} {event.action:9} {text}".rstrip())
    return lines


LIST_HEADER = (
    f"{'id':>6} {'created':16} {'kind':9} {'status':13} {'severity':8} {'phone':15} "
    f"{'name':16} summary"
)


def list_row(ticket: Ticket, tz: tzinfo) -> str:
    return (
        f"{ticket.id:>6} {_stamp(ticket.created_at, tz):16} {ticket.kind:9} {ticket.status:13} "
        f"{ticket.severity:8} {ticket.contact_phone or '-':15} {ticket.contact_name or '-':16} "
        f"{ticket.summary}"
    ).rstrip()


class TicketsCommands:
    def __init__(self, settings: SettingsLoader, db_session: SessionOpener) -> None:
        self._settings = settings
        self._db_session = db_session

    def check(self, args: argparse.Namespace) -> int:
        from tickets.config import TicketRulesError, load_rules

        path = Path(args.file) if args.file else self._settings(args).paths.tickets_file
        try:
            rules = load_rules(path)
        except TicketRulesError as exc:
            error(exc)
            return EXIT_CONFIG
        print(
            f"{path}: ok ({len(rules.departments)} department(s), "
            f"{len(rules.escalation)} escalation rule(s), "
            f"{len(rules.dispatch.channels)} dispatch channel(s), "
            f"{len(rules.dispatch.sales_areas)} sales area(s))"
        )
        return 0

    def new(self, args: argparse.Namespace) -> int:
        settings = self._settings(args)
        from tickets.config import TicketRulesError
        from tickets.kinds import TicketInvalid
        from tickets.store import UnknownCall, create_from_call, create_ticket

        try:
            details = parse_fields(args.field or [])
            rules = load_ticket_site(settings).rules
        except (ValueError, TicketRulesError) as exc:
            error(exc)
            return EXIT_CONFIG
        if args.call is None and not args.by:
            error("--by STAFF is required (or --call ID: the call's agent)")
            return EXIT_CONFIG
        # Only what was given: a call's record fills in the rest.
        given = {
            key: value
            for key, value in (
                ("contact_phone", args.phone),
                ("contact_name", args.name),
                ("address", args.address),
                ("summary", args.summary),
                ("note", args.note),
            )
            if value is not None
        }
        now = datetime.now(UTC)
        channels = rules.dispatch.channels
        with self._db_session(settings) as s:
            try:
                if args.call is not None:
                    ticket = create_from_call(
                        s, args.call, args.kind, created_by=args.by, now=now,
                        details=details, channels=channels, escalation=rules, **given,
                    )  # fmt: skip
                else:
                    ticket = create_ticket(
                        s, kind=args.kind, details=details, created_by=args.by, now=now,
                        channels=channels, escalation=rules, **given,
                    )  # fmt: skip
            except TicketInvalid as exc:
                error(f"ticket not saved: {exc}")
                return EXIT_CONFIG
            except UnknownCall as exc:
                error(exc)
                return EXIT_CONFIG
        print(f"created ticket {ticket.id} ({ticket.kind}, {ticket.status}, {ticket.severity})")
        return 0

    def list_(self, args: argparse.Namespace) -> int:
        settings = self._settings(args)
        from kernel.calendar import CalendarError
        from tickets.kinds import TicketInvalid
        from tickets.store import day_bounds, search

        try:
            tz = load_ticket_site(settings).tz
            first, last = _day(args.date_from, "--from"), _day(args.date_to, "--to")
        except (ValueError, CalendarError) as exc:
            error(exc)
            return EXIT_CONFIG
        date_from, date_to = day_bounds(first, last, tz)
        with self._db_session(settings) as s:
            try:
                tickets = search(
                    s, number=args.number, name=args.name, kind=args.kind, status=args.status,
                    date_from=date_from, date_to=date_to, text=args.text,
                    limit=args.limit, offset=args.offset,
                )  # fmt: skip
            except TicketInvalid as exc:
                error(exc)
                return EXIT_CONFIG
        if not tickets:
            print("no tickets found")
            return 0
        print(LIST_HEADER)
        for ticket in tickets:
            print(list_row(ticket, tz))
        return 0

    def show(self, args: argparse.Namespace) -> int:
        settings = self._settings(args)
        from kernel.calendar import CalendarError
        from tickets.store import TicketNotFound, get_ticket, history

        try:
            tz = load_ticket_site(settings).tz
        except CalendarError as exc:
            error(exc)
            return EXIT_CONFIG
        with self._db_session(settings) as s:
            try:
                ticket = get_ticket(s, args.ticket_id)
                events = history(s, args.ticket_id)
            except TicketNotFound as exc:
                error(exc)
                return EXIT_CONFIG
        print("\n".join(ticket_lines(ticket, events, tz)))
        return 0

    def status(self, args: argparse.Namespace) -> int:
        settings = self._settings(args)
        from tickets.kinds import TicketInvalid
        from tickets.store import StaleTicket, TicketNotFound, change_status, get_ticket
        from tickets.workflow import TransitionRefused

        with self._db_session(settings) as s:
            try:
                before = get_ticket(s, args.ticket_id).status
                ticket = change_status(
                    s, args.ticket_id, args.new_status, by=args.by, now=datetime.now(UTC),
                    note=args.note,
                )  # fmt: skip
            except TicketNotFound as exc:
                error(exc)
                return EXIT_CONFIG
            except (TransitionRefused, StaleTicket, TicketInvalid) as exc:
                error(f"ticket {args.ticket_id}: {exc}")
                return EXIT_CONFIG
        print(f"ticket {ticket.id} ({ticket.kind}): {before} -> {ticket.status}")
        return 0


def _add_filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--number", help="part of the contact phone, in any notation")
    p.add_argument("--name", help="part of the contact name")
    p.add_argument("--kind", choices=KINDS)
    p.add_argument("--status", choices=STATUSES)
    p.add_argument("--from", dest="date_from", metavar="YYYY-MM-DD", help="created on or after")
    p.add_argument("--to", dest="date_to", metavar="YYYY-MM-DD", help="created on or before")
    p.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    p.add_argument("--offset", type=int, default=0, help="skip this many (paging)")


def add_tickets_parser(
    sub: Any, settings: SettingsLoader, db_session: SessionOpener
) -> argparse.ArgumentParser:
    """Register ``hotline tickets …`` on the top-level subparsers."""
    cmds = TicketsCommands(settings, db_session)
    group: argparse.ArgumentParser = sub.add_parser(
        "tickets", help="tickets: orders, complaints, inquiries, faults"
    )
    tsub = group.add_subparsers(dest="tickets_command", required=True)

    p = tsub.add_parser("check", help="validate the ticket rules (default: paths.tickets_file)")
    p.add_argument("file", nargs="?")
    p.set_defaults(func=cmds.check)

    p = tsub.add_parser(
        "new",
        help="create a ticket (by hand, or from a call's record with --call)",
        description="The kind's own fields are given as --field KEY=VALUE, e.g. for an "
        "order: product, quantity, unit_price, channel, area[, delivery_date].",
    )
    p.add_argument("--kind", required=True, choices=KINDS)
    p.add_argument("--phone", help="contact phone (with --call: the caller's number)")
    p.add_argument("--name", help="contact name (with --call: the customer's)")
    p.add_argument("--address", help="with --call: the customer's")
    p.add_argument("--summary", help="one line on what it is about")
    p.add_argument("--call", type=int, metavar="ID", help="the call it comes from (prefills)")
    p.add_argument(
        "--field", action="append", metavar="KEY=VALUE", help="a field of the kind; repeatable"
    )
    p.add_argument("--by", metavar="STAFF", help="who creates it (with --call: the call's agent)")
    p.add_argument("--note", help="kept with the creation in the history")
    p.set_defaults(func=cmds.new)

    p = tsub.add_parser("list", help="tickets, newest first, with optional filters")
    _add_filters(p)
    p.add_argument("--text", help="part of the summary, contact name or a field")
    p.set_defaults(func=cmds.list_)

    p = tsub.add_parser("search", help="tickets whose summary, contact name or fields hold TEXT")
    p.add_argument("text")
    _add_filters(p)
    p.set_defaults(func=cmds.list_)

    p = tsub.add_parser("show", help="one ticket with its full history")
    p.add_argument("ticket_id", type=int)
    p.set_defaults(func=cmds.show)

    p = tsub.add_parser("status", help="move a ticket on in its workflow")
    p.add_argument("ticket_id", type=int)
    p.add_argument("new_status", choices=STATUSES)
    p.add_argument("--by", required=True, metavar="STAFF", help="who makes the change")
    p.add_argument("--note", help="kept with the change in the history")
    p.set_defaults(func=cmds.status)
    return group
