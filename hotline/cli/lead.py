"""``hotline alerts``, ``hotline handover …`` and ``hotline queues stats``: the lead's
wallboard data from the command line.

Registered by ``hotline/cli/main.py`` like ``hotline agents`` (``hotline.cli.agents``), with
the same settings loader and session opener. Exit 1 for an unknown author, 2 for bad
input or configuration (one line on stderr); SQLAlchemy is imported only when a command
runs.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from hotline.cli.base import SessionOpener, SettingsLoader, error, in_state_for

if TYPE_CHECKING:
    from agents.lead_store import QueueStats
    from agents.shifts import ShiftConfig
    from kernel.settings import Settings

EXIT_CONFIG = 2


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _shift_config(settings: Settings) -> ShiftConfig | None:
    """The shifts file with the configured calendar, or None when there is no shifts file."""
    from agents.shift_file import load_shifts
    from kernel.calendar import load_calendars

    path = settings.paths.shifts_file
    if not path.exists():
        return None
    calendar = settings.paths.calendar_file
    return load_shifts(path, load_calendars(calendar) if calendar.exists() else None)


def _duration(seconds: float | None) -> str:
    """``"1m05s"`` like ``agents list``; "-" for no figure."""
    if seconds is None:
        return "-"
    start = datetime(2000, 1, 1, tzinfo=UTC)
    return in_state_for(start, start + timedelta(seconds=seconds))


def stats_row(q: QueueStats) -> str:
    """One ``queues stats`` line (the header is ``STATS_HEADER``)."""
    sl = "-" if q.service_level is None else f"{q.service_level:.0%}"
    needed = "-" if q.agents_needed is None else str(q.agents_needed)
    longest, handle = _duration(q.longest_wait_seconds), _duration(q.mean_handle_seconds)
    return (
        f"{q.queue:14} {q.waiting:>7} {q.callbacks_waiting:>9} {longest:>8} "
        f"{q.answered:>8} {q.abandoned:>9} {sl:>5} {q.arrivals_per_hour:>9.1f} "
        f"{handle:>8} {needed:>6}"
    )


STATS_HEADER = (
    f"{'queue':14} {'waiting':>7} {'callbacks':>9} {'longest':>8} {'answered':>8} "
    f"{'abandoned':>9} {'SL':>5} {'arrivals':>9} {'handle':>8} {'needed':>6}"
)


class LeadCommands:
    def __init__(self, settings: SettingsLoader, db_session: SessionOpener) -> None:
        self._settings = settings
        self._db_session = db_session

    def alerts(self, args: argparse.Namespace) -> int:
        settings = self._settings(args)
        from sqlalchemy import select

        from agents.lead_store import open_alerts
        from ticketdb.models import Agent

        with self._db_session(settings) as s:
            rows = open_alerts(s)
            ids = {r.agent_id for r in rows if r.agent_id is not None}
            found = s.execute(select(Agent.id, Agent.staff_number).where(Agent.id.in_(ids)))
            staff = {agent_id: number for agent_id, number in found}
        if not rows:
            print("no open alerts")
            return 0
        now = datetime.now(UTC)
        print(f"{'raised (UTC)':20} {'for':>7} {'severity':8} {'kind':14} {'agent':8} message")
        for r in rows:
            agent = "-" if r.agent_id is None else staff.get(r.agent_id, f"#{r.agent_id}")
            print(
                f"{_stamp(r.raised_at):20} {in_state_for(r.raised_at, now):>7} {r.severity:8} "
                f"{r.kind:14} {agent:8} {r.message}"
            )
        return 0

    def handover_add(self, args: argparse.Namespace) -> int:
        settings = self._settings(args)
        from agents.lead_store import add_handover_note
        from agents.seat_store import agent_by_staff_number
        from agents.shift_file import ShiftsInvalid

        try:
            config = _shift_config(settings)
        except ShiftsInvalid as exc:
            for problem in exc.problems:
                error(problem)
            return EXIT_CONFIG
        if config is not None and args.team not in config.teams:
            known = ", ".join(sorted(config.teams))
            error(f"unknown team {args.team!r} (teams in {config.source}: {known})")
            return EXIT_CONFIG
        with self._db_session(settings) as s:
            author = agent_by_staff_number(s, args.author)
            if author is None:
                error(f"no agent with staff number {args.author}")
                return 1
            try:
                note = add_handover_note(
                    s,
                    team=args.team,
                    author=author.staff_number,
                    text=args.text,
                    now=datetime.now(UTC),
                )
            except ValueError as exc:
                error(exc)
                return EXIT_CONFIG
        print(f"saved handover note {note.id} for team {note.team} by {note.author}")
        print(f"  {summary_line(note.summary)}")
        return 0

    def handover_show(self, args: argparse.Namespace) -> int:
        settings = self._settings(args)
        from agents.lead_store import handover_notes

        if args.limit < 1:
            error("--limit must be at least 1")
            return EXIT_CONFIG
        with self._db_session(settings) as s:
            notes = handover_notes(s, team=args.team, limit=args.limit)
        if not notes:
            print("no handover notes" + (f" for team {args.team}" if args.team else ""))
            return 0
        for i, n in enumerate(notes):
            shifts = ""
            if n.shift_ending or n.shift_starting:
                shifts = f" ({n.shift_ending or '-'} → {n.shift_starting or '-'})"
            if i:
                print()
            print(f"{_stamp(n.at)} UTC  team {n.team}  by {n.author}{shifts}")
            for line in n.text.splitlines():
                print(f"  {line}")
            print(f"  [{summary_line(n.summary)}]")
        return 0

    def queues_stats(self, args: argparse.Namespace) -> int:
        settings = self._settings(args)
        from agents.lead_store import queue_stats
        from agents.queue_config import QueueConfigError, load_queues

        if args.window < 1:
            error("--window must be at least 1 minute")
            return EXIT_CONFIG
        path = settings.paths.queues_file
        if not path.exists():
            error(f"{path}: queues file not found (paths.queues_file)")
            return EXIT_CONFIG
        try:
            catalog = load_queues(path)
        except QueueConfigError as exc:
            error(exc)
            return EXIT_CONFIG
        with self._db_session(settings) as s:
            stats = queue_stats(s, catalog, datetime.now(UTC), args.window)
        print(f"last {args.window} min; needed: Erlang C for 80% within each queue's SL seconds")
        print(STATS_HEADER)
        for q in stats:
            print(stats_row(q))
        return 0


def summary_line(summary: dict[str, Any]) -> str:
    """A note's generated summary in one line."""
    waiting = summary.get("waiting") or {}
    queued = summary.get("queued_callbacks") or {}
    alerts = summary.get("alerts") or []
    where = ", ".join(f"{q} {n}" for q, n in waiting.items()) or "none"
    return (
        f"open callbacks: {summary.get('open_callbacks', 0)}; open alerts: {len(alerts)}; "
        f"waiting: {where}; queued callbacks: {sum(queued.values())}"
    )


def add_lead_parser(
    sub: Any, load_settings_fn: SettingsLoader, open_session_fn: SessionOpener
) -> None:
    """Register ``hotline alerts``, ``hotline handover …`` and ``hotline queues …`` on the
    top-level subparsers."""
    cmds = LeadCommands(load_settings_fn, open_session_fn)

    p = sub.add_parser(
        "alerts",
        help="the lead's open alerts (staffing, away, missed calls, phones offline, "
        "controllers down)",
    )
    p.set_defaults(func=cmds.alerts)

    group = sub.add_parser("handover", help="handover notes at a change of shift")
    hsub = group.add_subparsers(dest="handover_command", required=True)
    p = hsub.add_parser("add", help="write a handover note (with a summary of what is open)")
    p.add_argument("--team", required=True)
    p.add_argument("--author", required=True, metavar="STAFF", help="the writer's staff number")
    p.add_argument("--text", required=True)
    p.set_defaults(func=cmds.handover_add)
    p = hsub.add_parser("show", help="the latest handover notes, newest first")
    p.add_argument("--team", help="only this team's notes")
    p.add_argument("--limit", type=int, default=20)
    p.set_defaults(func=cmds.handover_show)

    group = sub.add_parser("queues", help="the queues' live figures")
    qsub = group.add_subparsers(dest="queues_command", required=True)
    p = qsub.add_parser(
        "stats",
        help="per queue: waiting, longest wait, answered, abandoned, service level, "
        "arrivals, handle time and agents needed (Erlang C)",
    )
    p.add_argument("--window", type=int, default=60, metavar="MINUTES", help="default 60")
    p.set_defaults(func=cmds.queues_stats)
