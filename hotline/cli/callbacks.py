"""``hotline callbacks generate|list|coverage``: the callback worklist from the command
line (domain.md §5, decision 0013).

Registered by ``hotline/cli/main.py`` like ``hotline agents``, with the same settings loader
and session opener. Working days come from the calendar the SLA rules name
(``paths.tickets_file``, ``paths.calendar_file``), quiet hours from ``[callbacks]`` in the
calendar's zone. ``generate_and_share`` is also what the scheduled job runs. Exit 2 for
bad input or configuration (one line on stderr), 1 for an unknown agent.
"""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from hotline.cli.base import SessionOpener, SettingsLoader, error

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from callbacks.plan import CallbackRules
    from callbacks.sources import GenerateResult
    from callbacks.worklist import WorkItem
    from kernel.settings import Settings

EXIT_CONFIG = 2
DEFAULT_REPORT_DAYS = 7


def _rules(settings: Settings, tz: tzinfo) -> CallbackRules:
    from callbacks.worklist import rules_for

    return rules_for(settings.callbacks, tz)


def generate_and_share(
    s: Session, settings: Settings, now: datetime
) -> tuple[GenerateResult, dict[int, int]]:
    """Add the items due by ``now`` and share every unassigned open item among the
    agents on shift now; commits. Raises SiteError, CalendarError, TicketRulesError or
    ShiftsInvalid for a broken configuration file."""
    from agents.shift_file import load_shifts
    from callbacks.sources import generate
    from callbacks.worklist import agents_on_shift, share_out
    from kernel.calendar import load_calendars
    from tickets.site import load_ticket_site

    site = load_ticket_site(settings)
    calendar = site.sla_calendar()
    shifts = None
    if settings.paths.shifts_file.exists():
        cal_path = settings.paths.calendar_file
        calendars = load_calendars(cal_path) if cal_path.exists() else None
        shifts = load_shifts(settings.paths.shifts_file, calendars)
    result = generate(s, settings.callbacks, calendar, now)
    given = share_out(s, agents_on_shift(s, shifts, now), now)
    return result, given


def summary(result: GenerateResult, given: dict[int, int]) -> str:
    agents = len(set(given.values()))
    return (
        f"added {result.added} callback(s): {result.complaint} complaint, {result.member} "
        f"member, {result.survey} survey; shared out {len(given)} among {agents} agent(s)"
    )


def _stamp(at: datetime | None, tz: tzinfo) -> str:
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if at is not None else "-"


def _local_day(value: str | None, flag: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{flag} {value!r}: use YYYY-MM-DD") from None


class CallbackCommands:
    def __init__(self, settings: SettingsLoader, db_session: SessionOpener) -> None:
        self._settings = settings
        self._db_session = db_session

    def _tz(self, settings: Settings) -> tzinfo:
        from kernel.calendar import load_calendars

        path = settings.paths.calendar_file
        return load_calendars(path).timezone if path.exists() else UTC

    def generate(self, args: argparse.Namespace) -> int:
        settings = self._settings(args)
        from agents.shift_file import ShiftsInvalid
        from tickets.config import TicketRulesError
        from tickets.site import SiteError

        try:
            with self._db_session(settings) as s:
                result, given = generate_and_share(s, settings, datetime.now(UTC))
        except ShiftsInvalid as exc:
            for problem in exc.problems:
                error(problem)
            return EXIT_CONFIG
        except (SiteError, TicketRulesError) as exc:
            error(exc)
            return EXIT_CONFIG
        print(summary(result, given))
        for reason in result.skipped:
            print(f"  skipped: {reason}")
        return 0

    def list(self, args: argparse.Namespace) -> int:
        settings = self._settings(args)
        from agents.seat_store import agent_by_staff_number
        from callbacks.worklist import open_items, worklist

        tz = self._tz(settings)
        rules = _rules(settings, tz)
        now = datetime.now(UTC)
        with self._db_session(settings) as s:
            if args.agent:
                agent = agent_by_staff_number(s, args.agent)
                if agent is None:
                    error(f"no agent with staff number {args.agent}")
                    return 1
                rows: list[tuple[WorkItem, Any]] = [
                    (item, args.agent) for item in worklist(s, agent.id, now, rules)
                ]
            else:
                from sqlalchemy import select

                from ticketdb.models import Agent

                staff = dict(s.execute(select(Agent.id, Agent.staff_number)).tuples().all())
                rows = [
                    (item, "-" if a is None else staff.get(a, f"#{a}"))
                    for item, a in open_items(s, now, rules)
                ]
        if rules.is_quiet(now):
            print(f"quiet hours now: dialling from {_stamp(rules.next_dial_time(now), tz)}")
        if not rows:
            print("no open callbacks" + (f" for {args.agent}" if args.agent else ""))
            return 0
        print(
            f"{'id':>6} {'source':9} {'number':16} {'due':16} {'tries':>5} "
            f"{'next dial':16} {'agent':8} name"
        )
        for item, agent_label in rows:
            due = _stamp(item.due_at, tz) + ("!" if item.overdue else "")
            print(
                f"{item.id:>6} {item.source:9} {item.number:16} {due:16} {item.attempts:>5} "
                f"{_stamp(item.next_dial_at, tz):16} {agent_label or '-':8} {item.name}"
            )
        return 0

    def coverage(self, args: argparse.Namespace) -> int:
        settings = self._settings(args)
        from callbacks.coverage import coverage_report, unreachable_report

        tz = self._tz(settings)
        try:
            first = _local_day(args.since, "--since")
            last = _local_day(args.until, "--until")
        except ValueError as exc:
            error(exc)
            return EXIT_CONFIG
        today = datetime.now(tz).date()
        last = last or today
        first = first or last - timedelta(days=DEFAULT_REPORT_DAYS - 1)
        if first > last:
            error("--since must not be after --until")
            return EXIT_CONFIG
        since = datetime.combine(first, time(), tz).astimezone(UTC)
        until = datetime.combine(last + timedelta(days=1), time(), tz).astimezone(UTC)
        with self._db_session(settings) as s:
            report = coverage_report(s, since, until)
            unreachable = unreachable_report(s, since, until)
        done = sum(1 for r in report.rows if r.status == "done")
        print(
            f"member callbacks {first} to {last}: {len(report.rows)} member(s) called, "
            f"{done} done, {len(report.owed)} still owed, "
            f"{sum(1 for r in report.rows if r.status == 'unreachable')} unreachable"
        )
        if report.rows:
            print(
                f"{'status':11} {'phone':16} {'tier':6} {'calls':>5} {'done':>4} {'open':>4} "
                f"{'missing':>7} name"
            )
            for r in report.rows:
                print(
                    f"{r.status:11} {r.phone:16} {r.tier:6} {r.calls:>5} {r.done:>4} "
                    f"{r.open:>4} {r.missing:>7} {r.name}"
                )
        if unreachable:
            print(f"closed as unreachable: {len(unreachable)}")
            for u in unreachable:
                print(
                    f"  #{u.id} {u.source} {u.number} {u.name or '-'}: {u.attempts} attempt(s), "
                    f"last {_stamp(u.last_attempt_at, tz)}, agent {u.agent or '-'}"
                )
        return 0


def add_callbacks_parser(
    sub: Any, settings: SettingsLoader, db_session: SessionOpener
) -> argparse.ArgumentParser:
    """Register ``hotline callbacks …`` on the top-level subparsers."""
    cmds = CallbackCommands(settings, db_session)
    group: argparse.ArgumentParser = sub.add_parser(
        "callbacks", help="the callback worklist: generate, list, member coverage"
    )
    csub = group.add_subparsers(dest="callbacks_command", required=True)
    p = csub.add_parser(
        "generate",
        help="add callbacks due (complaints, member calls, surveys) and share them out",
    )
    p.set_defaults(func=cmds.generate)
    p = csub.add_parser("list", help="open callbacks (all, or one agent's worklist)")
    p.add_argument("--agent", help="staff number: that agent's worklist, due first")
    p.set_defaults(func=cmds.list)
    p = csub.add_parser(
        "coverage", help="member customers still owed a callback, and unreachable ones"
    )
    p.add_argument("--since", help="first local day YYYY-MM-DD (default: 7 days ago)")
    p.add_argument("--until", help="last local day YYYY-MM-DD, included (default: today)")
    p.set_defaults(func=cmds.coverage)
    return group
