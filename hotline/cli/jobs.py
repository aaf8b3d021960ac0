"""``hotline jobs``: the timed jobs with their schedule, last run and next run, and
``hotline jobs run NAME`` to run one now.

A run by hand is claimed and recorded in ``job_runs`` like a scheduled one (its
scheduled time is the moment it was asked for), on whatever node the command runs, lease
or not. Registered by ``hotline/cli/main.py`` like ``hotline agents``; exit 1 when the job
failed, 2 for an unknown job or bad configuration.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from hotline.cli.base import SessionOpener, SettingsLoader

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

    from ticketdb.leases import Lease

EXIT_CONFIG = 2
RESULT_WIDTH = 200


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _engine(s: Session) -> Engine:
    return s.get_bind().engine


def lease_line(lease: Lease | None, now: datetime) -> str:
    if lease is None:
        return "scheduler: no node has run it on this database yet"
    if lease.expires_at > now:
        return f"scheduler: running on {lease.holder} (lease until {_stamp(lease.expires_at)} UTC)"
    return (
        f"scheduler: not running on any node (last {lease.holder}, "
        f"lease lapsed {_stamp(lease.expires_at)} UTC)"
    )


HEADER = f"{'job':14} {'schedule':32} {'last run (UTC)':19} {'node':12} {'status':8} next run (UTC)"


class JobCommands:
    def __init__(self, settings: SettingsLoader, db_session: SessionOpener) -> None:
        self._settings = settings
        self._db_session = db_session

    def list(self, args: argparse.Namespace) -> int:
        settings = self._settings(args)
        from hotline.jobs import registry
        from hotline.scheduler import LEASE_NAME, stored_next_runs
        from ticketdb.leases import current_lease, last_runs

        jobs = registry(settings)
        now = datetime.now(UTC)
        with self._db_session(settings) as s:
            runs = last_runs(s)
            lease = current_lease(s, LEASE_NAME)
            stored = stored_next_runs(_engine(s))
        print(lease_line(lease, now))
        print(HEADER)
        for spec in jobs:
            if spec.name in stored:
                at = stored[spec.name]
                upcoming = "paused" if at is None else _stamp(at)
                if at is not None and at < now:
                    upcoming += " (overdue)"
            else:
                at = spec.when.next_from(now)
                upcoming = "-" if at is None else _stamp(at)
            run = runs.get(spec.name)
            last, node, status = (
                ("-", "-", "never")
                if run is None
                else (
                    _stamp(run.started_at),
                    run.node,
                    run.status,
                )
            )
            print(f"{spec.name:14} {spec.when.text:32} {last:19} {node:12} {status:8} {upcoming}")
            if run is not None and run.result:
                print(f"{'':14} → {run.result[:RESULT_WIDTH]}")
        return 0

    def run(self, args: argparse.Namespace) -> int:
        settings = self._settings(args)
        from hotline.jobs import registry
        from hotline.scheduler import JobRunner
        from ticketdb.engine import make_sessionmaker

        jobs = {spec.name: spec for spec in registry(settings)}
        if args.name not in jobs:
            print(
                f"hotline: error: no job named {args.name!r} (jobs: {', '.join(jobs)})",
                file=sys.stderr,
            )
            return EXIT_CONFIG
        with self._db_session(settings) as s:
            runner = JobRunner(
                jobs.values(), settings, make_sessionmaker(_engine(s)), settings.node.name
            )
            outcome = runner.run(args.name, datetime.now(UTC))
        if outcome is None:  # a run claimed for this very microsecond
            print(f"hotline: error: {args.name} is already running just now", file=sys.stderr)
            return 1
        seconds = (outcome.finished_at - outcome.started_at).total_seconds()
        print(f"{outcome.job}: {outcome.status} in {seconds:.1f} s (run {outcome.run_id})")
        print(f"  {outcome.result}")
        return 0 if outcome.status == "ok" else 1


def add_jobs_parser(sub: Any, settings_fn: SettingsLoader, session_fn: SessionOpener) -> None:
    """Register ``hotline jobs`` and ``hotline jobs run NAME`` on the top-level
    subparsers."""
    cmds = JobCommands(settings_fn, session_fn)
    p = sub.add_parser(
        "jobs",
        help="timed jobs: schedule, last run and result, next run",
        description="Without a subcommand: list the jobs.",
    )
    p.set_defaults(func=cmds.list)
    jsub = p.add_subparsers(dest="jobs_command")
    r = jsub.add_parser("run", help="run one job now (recorded like a scheduled run)")
    r.add_argument("name", help="the job's name, as `hotline jobs` lists it")
    r.set_defaults(func=cmds.run)
