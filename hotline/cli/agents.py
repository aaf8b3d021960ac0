"""``hotline agents …``: agent accounts and seat states from the command line.

Kept apart from ``hotline/cli/main.py`` (which only registers the group) so the command
grows without touching the other commands. Like the rest of the CLI: exit 1 for a
refused change or unknown agent (one line on stderr), 2 for bad input; SQLAlchemy is
imported only when a command runs.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agents.accounts import set_password
from hotline.cli.base import EXIT_CONFIG, SessionOpener, SettingsLoader, error, in_state_for
from kernel.roles import ALL_ROLES
from kernel.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from agents.shifts import ShiftConfig
    from ticketdb.models import Agent

# The states a person sets by hand; ringing, on_call and wrap_up come from the calls.
MANUAL_STATES = ("available", "away", "offline", "on_leave")


def _known_skills(settings: Settings) -> frozenset[str] | None:
    """The skills config/queues.yaml names, or None when there is no queues file."""
    from agents.queue_config import load_queues

    path = settings.paths.queues_file
    return load_queues(path).skills if path.exists() else None


def _unknown_skills(skills: Iterable[str], known: frozenset[str] | None) -> str:
    unknown = sorted(set(skills) - known) if known is not None else []
    return ", ".join(unknown)


def shift_config(settings: Settings) -> ShiftConfig | None:
    """The shift rules of ``paths.shifts_file`` (with the calendar's holidays), or None when
    there is no such file. Raises ShiftsInvalid or CalendarError for a broken file."""
    from agents.shift_file import load_shifts
    from kernel.calendar import load_calendars

    path = settings.paths.shifts_file
    if not path.exists():
        return None
    calendar = settings.paths.calendar_file
    return load_shifts(path, load_calendars(calendar) if calendar.exists() else None)


def _parse_since(text: str) -> datetime:
    """An ISO date or date-time; without an offset it is UTC."""
    value = datetime.fromisoformat(text)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _agent_values(args: argparse.Namespace, current: Agent | None) -> dict[str, Any]:
    """``add_agent``'s fields for ``agents add``: each option given, else the agent's value on
    file (``current``), else a new agent's default. ``active`` is no option of ``add``: an
    existing agent keeps it (``hotline users enable/disable`` change it)."""
    on_file: dict[str, Any] = (
        {
            "name": current.name,
            "role": current.role,
            "team": current.team,
            "endpoint": current.endpoint,
            "languages": list(current.languages or ()),
            "away_limit_minutes": current.away_limit_minutes,
            "active": current.active,
        }
        if current is not None
        else {"role": "agent", "team": "", "languages": [], "away_limit_minutes": None}
    )
    given = {
        "name": args.name,
        "role": args.role,
        "team": args.team,
        "endpoint": args.endpoint,
        "languages": args.language,
        "away_limit_minutes": args.away_limit,
    }
    values = {**on_file, **{key: value for key, value in given.items() if value is not None}}
    return {"staff_number": args.staff_number, **values}


class AgentsCommands:
    def __init__(self, settings: SettingsLoader, db_session: SessionOpener) -> None:
        self._settings = settings
        self._db_session = db_session

    def _agent(self, s: Session, staff_number: str) -> Agent | None:
        from agents.seat_store import agent_by_staff_number

        agent = agent_by_staff_number(s, staff_number)
        if agent is None:
            error(f"no agent with staff number {staff_number}")
        return agent

    def add(self, args: argparse.Namespace) -> int:
        """Add an agent, or update one: what is not given keeps its value on file."""
        settings = self._settings(args)
        from agents.seat_store import add_agent, agent_by_staff_number, parse_skill

        try:
            skills = dict(parse_skill(t) for t in args.skill) if args.skill is not None else None
        except ValueError as exc:
            error(exc)
            return EXIT_CONFIG
        unknown = _unknown_skills(skills or (), _known_skills(settings))
        if unknown:
            error(f"unknown skill(s) {unknown}: not in {settings.paths.queues_file}")
            return EXIT_CONFIG
        with self._db_session(settings) as s:
            current = agent_by_staff_number(s, args.staff_number)
            if current is None:
                missing = [
                    option
                    for option, value in (("--name", args.name), ("--endpoint", args.endpoint))
                    if value is None
                ]
                if missing:
                    error(
                        f"no agent with staff number {args.staff_number.strip()} yet: "
                        f"a new agent needs {' and '.join(missing)}"
                    )
                    return EXIT_CONFIG
            try:
                agent = add_agent(s, **_agent_values(args, current), skills=skills)
            except ValueError as exc:
                error(exc)
                return EXIT_CONFIG
        print(f"saved {agent.staff_number} {agent.name} ({agent.role}) at {agent.endpoint}")
        return 0

    def import_(self, args: argparse.Namespace) -> int:
        settings = self._settings(args)
        from agents.seat_store import AgentImportError, import_csv, read_agents_csv

        path = Path(args.file)
        known = _known_skills(settings)
        try:
            for values, skills in read_agents_csv(path):
                unknown = _unknown_skills(skills, known)
                if unknown:
                    raise AgentImportError(
                        f"{path}: agent {values['staff_number']}: unknown skill(s) {unknown} "
                        f"(not in {settings.paths.queues_file})"
                    )
            with self._db_session(settings) as s:
                count = import_csv(s, path)
        except AgentImportError as exc:
            error(f"{exc} (nothing imported)")
            return 1
        print(f"imported {count} agent(s) from {path}")
        return 0

    def list_(self, args: argparse.Namespace) -> int:
        settings = self._settings(args)
        from agents.phone_store import PhoneStatus, statuses
        from agents.seat_store import list_seats

        with self._db_session(settings) as s:
            rows = list_seats(s)
            phones = statuses(s)  # agents nobody reported on: nothing known against them
        if not rows:
            print("no agents yet (hotline agents add … or hotline agents import FILE)")
            return 0
        now = datetime.now(UTC)
        print(
            f"{'staff':8} {'name':18} {'role':6} {'team':10} {'state':22} {'for':>7} "
            f"{'phone':7} {'endpoint':12} skills"
        )
        for row in rows:
            agent, seat = row.agent, row.seat
            state = f"{seat.state} ({seat.reason})" if seat.reason else seat.state
            if not agent.active:
                state += " [inactive]"
            found = phones.get(agent.id)
            phone = found.status.value if found is not None else PhoneStatus.READY.value
            skills = " ".join(f"{k}:{v}" for k, v in row.skills.items()) or "-"
            print(
                f"{agent.staff_number:8} {agent.name:18} {agent.role:6} {agent.team or '-':10} "
                f"{state:22} {in_state_for(seat.since, now):>7} {phone:7} {agent.endpoint:12} "
                f"{skills}"
            )
        return 0

    def state(self, args: argparse.Namespace) -> int:
        settings = self._settings(args)
        from agents.seat_changes import RuleRefused, change_state
        from agents.seat_store import StaleState, UnknownAgent
        from agents.seats import IllegalTransition
        from agents.shift_file import ShiftsInvalid
        from kernel.calendar import CalendarError

        try:
            config = shift_config(settings)
        except ShiftsInvalid as exc:
            for problem in exc.problems:
                error(problem)
            return EXIT_CONFIG
        except CalendarError as exc:
            error(exc)
            return EXIT_CONFIG
        with self._db_session(settings) as s:
            agent = self._agent(s, args.staff_number)
            if agent is None:
                return 1
            try:
                result = change_state(
                    s,
                    config=config,
                    staff_number=agent.staff_number,
                    to_state=args.to_state,
                    by=args.by or agent.staff_number,
                    reason=args.reason,
                    note=args.note,
                    override=args.override,
                    now=datetime.now(UTC),
                )
            except RuleRefused as exc:
                hint = (
                    " (a lead may override: --by LEAD --override)"
                    if exc.decision.overridable_by
                    else ""
                )
                error(f"agent {agent.staff_number}: {exc}{hint}")
                return 1
            except (IllegalTransition, StaleState, UnknownAgent) as exc:
                error(f"agent {agent.staff_number}: {exc}")
                return 1
            except ValueError as exc:
                error(exc)
                return EXIT_CONFIG
        seat = result.seat
        reason = f" ({seat.reason})" if seat.reason else ""
        print(f"{agent.staff_number} {agent.name}: {seat.state}{reason}")
        if result.override_line:
            print(f"override: {result.override_line}")
        return 0

    def passwd(self, args: argparse.Namespace) -> int:
        settings = self._settings(args)
        from agents.seat_store import UnknownAgent

        if sys.stdin.isatty():
            password = getpass.getpass(f"new password for {args.staff_number}: ")
        else:
            password = sys.stdin.readline().rstrip("\r\n")
        with self._db_session(settings) as s:
            try:
                set_password(s, args.staff_number, password)
            except UnknownAgent as exc:
                error(exc)
                return 1
            except ValueError as exc:
                error(exc)
                return EXIT_CONFIG
        print(f"password of {args.staff_number.strip()} set")
        return 0

    def history(self, args: argparse.Namespace) -> int:
        settings = self._settings(args)
        from agents.seat_store import history

        try:
            since = _parse_since(args.since) if args.since else None
        except ValueError:
            error(f"--since: not an ISO date or date-time: {args.since!r}")
            return EXIT_CONFIG
        with self._db_session(settings) as s:
            agent = self._agent(s, args.staff_number)
            if agent is None:
                return 1
            changes = history(s, agent.id, since)
        if not changes:
            print(f"no seat changes for {agent.staff_number}")
            return 0
        print(f"{'at (UTC)':20} {'from':10} {'to':10} {'reason':14} {'by':10} {'node':10} note")
        for c in changes:
            print(
                f"{c.at.strftime('%Y-%m-%d %H:%M:%S'):20} {c.from_state:10} {c.to_state:10} "
                f"{c.reason or '-':14} {c.by:10} {c.node or '-':10} {c.note or ''}".rstrip()
            )
        return 0


def add_agents_parser(
    sub: Any, settings: SettingsLoader, db_session: SessionOpener
) -> argparse.ArgumentParser:
    """Register ``hotline agents …`` on the top-level subparsers."""
    cmds = AgentsCommands(settings, db_session)
    group: argparse.ArgumentParser = sub.add_parser("agents", help="agent accounts and seat states")
    asub = group.add_subparsers(dest="agents_command", required=True)

    p = asub.add_parser(
        "add",
        help="add an agent, or update the one with this staff number (options not given "
        "keep their value on file)",
    )
    p.add_argument("staff_number")
    p.add_argument("--name", help="required for a new agent")
    p.add_argument("--role", choices=ALL_ROLES, help="default for a new agent: agent")
    p.add_argument(
        "--team", help='the team of config/shifts.yaml whose shifts the agent works ("": none)'
    )
    p.add_argument(
        "--endpoint",
        help="where to ring the agent, e.g. PJSIP/8001 or Local/9001@agents; required for a "
        "new agent",
    )
    p.add_argument(
        "--skill",
        action="append",
        metavar="SKILL[:LEVEL]",
        help="repeatable; level 1-5 (default 1); given at all, it replaces the skills on file",
    )
    p.add_argument(
        "--language",
        action="append",
        metavar="CODE",
        help="repeatable, e.g. zh; given at all, it replaces the languages on file",
    )
    p.add_argument(
        "--away-limit",
        type=int,
        metavar="MINUTES",
        help="how long this agent may be away (default: the shift rules' limit)",
    )
    p.set_defaults(func=cmds.add)

    p = asub.add_parser("import", help="add or update agents from a CSV file (all or nothing)")
    p.add_argument(
        "file",
        help="CSV with a header: staff_number,name,role,team,endpoint"
        "[,skills,languages,away_limit_minutes]",
    )
    p.set_defaults(func=cmds.import_)

    p = asub.add_parser(
        "list",
        help="agents with their seat state, time in it, and phone (ready, offline, busy) as "
        "the controllers' Asterisks see it",
    )
    p.set_defaults(func=cmds.list_)

    p = asub.add_parser("state", help="change a seat's state (validated, recorded with who)")
    p.add_argument("staff_number")
    p.add_argument("to_state", choices=MANUAL_STATES)
    p.add_argument(
        "--reason", help="for away: break, toilet, meeting, training, missed_calls, other"
    )
    p.add_argument("--by", help="staff number of who makes the change (default: the agent)")
    p.add_argument("--note", help="free text kept in the history")
    p.add_argument(
        "--override",
        action="store_true",
        help="a lead (--by) overrides a shift rule's refusal; recorded in the history",
    )
    p.set_defaults(func=cmds.state)

    p = asub.add_parser(
        "passwd", help="set an agent's web page password (one line on stdin, >= 8 characters)"
    )
    p.add_argument("staff_number")
    p.set_defaults(func=cmds.passwd)

    p = asub.add_parser("history", help="a seat's state changes, oldest first")
    p.add_argument("staff_number")
    p.add_argument("--since", help="ISO date or date-time (UTC unless an offset is given)")
    p.set_defaults(func=cmds.history)
    return group
