"""``hotline dispatch run|show|csv`` and ``hotline sla sweep|breaches``: the day's order
dispatch lists and the SLA wallboard data from the command line.

Registered by ``hotline/cli/main.py`` like ``hotline agents``, with the same settings loader
and session opener. The rules come from ``paths.tickets_file`` (built-in defaults when
there is no such file) and the time zone and working days from ``paths.calendar_file``.
Exit 2 for bad input or configuration (one line on stderr), 1 when the output file
cannot be written; SQLAlchemy is imported only when a command runs.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from hotline.cli.base import SessionOpener, SettingsLoader, error
from tickets.site import SiteError, TicketSite, load_ticket_site

if TYPE_CHECKING:
    from kernel.settings import Settings
    from tickets.dispatch_store import DispatchResult

EXIT_CONFIG = 2
SLA_STATES = ("breached", "near")


def _site(settings: Settings) -> TicketSite | None:
    """``load_ticket_site``; None after reporting a broken file."""
    from kernel.calendar import CalendarError
    from tickets.config import TicketRulesError

    try:
        return load_ticket_site(settings)
    except (TicketRulesError, CalendarError) as exc:
        error(exc)
        return None


def _ids(ids: list[int]) -> str:
    return ", ".join(f"#{i}" for i in ids)


def dispatch_summary(result: DispatchResult, tz: ZoneInfo) -> list[str]:
    """What a run did, one line per list."""
    cutoff = result.cutoff.astimezone(tz).strftime("%H:%M")
    lines = [f"dispatch {result.day}: orders created before {cutoff} {tz.key}"]
    for channel, ids in result.dispatched.items():
        lines.append(f"  {channel}: {len(ids)} order(s)" + (f" ({_ids(ids)})" if ids else ""))
    if result.out_of_area:
        lines.append(
            f"  out of area: {len(result.out_of_area)} order(s) ({_ids(result.out_of_area)}), "
            f"{result.apologies} apology callback(s) added"
        )
    if result.unrouted:
        lines.append(
            f"  not dispatched, no known channel: {_ids(result.unrouted)} "
            "(set the order's channel; the next run takes it)"
        )
    if not result.changed and not result.unrouted:
        lines.append("  nothing new to dispatch")
    return lines


class DispatchCommands:
    def __init__(self, settings: SettingsLoader, db_session: SessionOpener) -> None:
        self._settings = settings
        self._db_session = db_session

    def _setup(self, args: argparse.Namespace) -> tuple[Settings, TicketSite, date] | None:
        """Settings, site and the ``--day`` (today in the calendar's zone by default);
        None after reporting a problem."""
        from tickets.dispatch import parse_day

        settings = self._settings(args)
        site = _site(settings)
        if site is None:
            return None
        day_arg = getattr(args, "day", None)
        if day_arg is None:
            return settings, site, datetime.now(site.tz).date()
        try:
            return settings, site, parse_day(day_arg)
        except ValueError as exc:
            error(f"--day: {exc}")
            return None

    def run(self, args: argparse.Namespace) -> int:
        from tickets.dispatch_store import run_dispatch

        setup = self._setup(args)
        if setup is None:
            return EXIT_CONFIG
        settings, site, day = setup
        with self._db_session(settings) as s:
            result = run_dispatch(
                s,
                site.rules,
                site.tz,
                day,
                settings.tickets.dispatch_time,
                datetime.now(UTC),
                actor="cli",
            )
        print("\n".join(dispatch_summary(result, site.tz)))
        return 0

    def show(self, args: argparse.Namespace) -> int:
        from tickets.dispatch import CSV_HEADER, order_row
        from tickets.dispatch_store import dispatch_list

        setup = self._setup(args)
        if setup is None:
            return EXIT_CONFIG
        settings, site, day = setup
        with self._db_session(settings) as s:
            lists = dispatch_list(s, day, site.rules.dispatch.channels)
            rows = {ch: [order_row(t, site.tz) for t in orders] for ch, orders in lists.items()}
        print(f"dispatch lists for {day} (times {site.tz.key})")
        for channel, channel_rows in rows.items():
            print(f"\n{channel} ({len(channel_rows)} order(s))")
            if channel_rows:
                print("  " + " | ".join(CSV_HEADER[1:]))
            for row in channel_rows:
                print("  " + " | ".join(row))
        return 0

    def csv(self, args: argparse.Namespace) -> int:
        from tickets.dispatch import render_csv
        from tickets.dispatch_store import dispatch_list

        setup = self._setup(args)
        if setup is None:
            return EXIT_CONFIG
        settings, site, day = setup
        with self._db_session(settings) as s:
            text = render_csv(dispatch_list(s, day, site.rules.dispatch.channels), site.tz)
        if args.output in (None, "-"):
            sys.stdout.write(text)
            return 0
        try:
            # With a BOM, so a spreadsheet opens Chinese names as UTF-8.
            with open(args.output, "w", encoding="utf-8-sig", newline="") as out:
                out.write(text)
        except OSError as exc:
            error(f"{args.output}: cannot write: {exc.strerror}")
            return 1
        print(f"wrote the dispatch lists for {day} to {args.output}")
        return 0

    def sla_sweep(self, args: argparse.Namespace) -> int:
        from tickets.sla import STATES
        from tickets.sla_store import sweep

        settings = self._settings(args)
        site = _site(settings)
        if site is None:
            return EXIT_CONFIG
        try:
            calendar = site.sla_calendar()
        except SiteError as exc:
            error(exc)
            return EXIT_CONFIG
        with self._db_session(settings) as s:
            result = sweep(
                s, site.rules, calendar, datetime.now(UTC), settings.tickets.sla_near_fraction
            )
        states = ", ".join(f"{state} {result.counts.get(state, 0)}" for state in STATES)
        print(
            f"swept {result.tickets} open ticket(s): {states}; {result.written} row(s) "
            f"written, {result.settled} stopped ticket(s) settled"
        )
        return 0

    def sla_breaches(self, args: argparse.Namespace) -> int:
        from tickets.sla_store import breaches

        settings = self._settings(args)
        site = _site(settings)
        if site is None:
            return EXIT_CONFIG
        tz = site.tz
        with self._db_session(settings) as s:
            found = breaches(s, tuple(args.state or SLA_STATES))
        if not found:
            print("no SLA breaches or near breaches")
            return 0
        print(
            f"{'due (' + tz.key + ')':22} {'state':8} {'severity':8} {'ticket':>7} "
            f"{'kind':9} {'target':14} contact"
        )
        for b in found:
            due = b.due_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
            print(
                f"{due:22} {b.state:8} {b.severity:8} {'#' + str(b.ticket_id):>7} {b.kind:9} "
                f"{b.target:14} {b.contact_name} {b.contact_phone}".rstrip()
            )
        return 0


def add_dispatch_parser(sub: Any, settings_fn: SettingsLoader, session_fn: SessionOpener) -> None:
    """Register ``hotline dispatch …`` and ``hotline sla …`` on the top-level subparsers."""
    cmds = DispatchCommands(settings_fn, session_fn)
    day_help = "YYYY-MM-DD (default: today in the calendar's time zone)"

    group = sub.add_parser("dispatch", help="the day's order dispatch lists by customer channel")
    dsub = group.add_subparsers(dest="dispatch_command", required=True)
    p = dsub.add_parser(
        "run",
        help="put the orders taken before the day's dispatch time on the day's lists; "
        "out-of-area orders get an apology callback (running again changes nothing)",
    )
    p.add_argument("--day", help=day_help)
    p.set_defaults(func=cmds.run)
    p = dsub.add_parser("show", help="print the day's lists")
    p.add_argument("--day", help=day_help)
    p.set_defaults(func=cmds.show)
    p = dsub.add_parser("csv", help="the day's lists as CSV")
    p.add_argument("--day", help=day_help)
    p.add_argument("-o", "--output", metavar="FILE", help="write here (default: stdout)")
    p.set_defaults(func=cmds.csv)

    group = sub.add_parser("sla", help="SLA targets: sweep and breaches")
    ssub = group.add_subparsers(dest="sla_command", required=True)
    p = ssub.add_parser("sweep", help="recompute every open ticket's SLA states now")
    p.set_defaults(func=cmds.sla_sweep)
    p = ssub.add_parser("breaches", help="breached and near-breach targets, urgent first")
    p.add_argument(
        "--state", action="append", choices=SLA_STATES, help="only this state (repeatable)"
    )
    p.set_defaults(func=cmds.sla_breaches)
