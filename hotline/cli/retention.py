"""``hotline retention [--dry-run] [--days N]``: purge recordings and call ledgers older
than the retention period (``retention.days``), printing what would go or went.

Registered by ``hotline/cli/main.py`` like ``hotline agents``. Exit 1 when some file could
not be deleted (it is tried again next time), 2 for bad input or configuration.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime
from typing import Any

from hotline.cli.base import SessionOpener, SettingsLoader

EXIT_CONFIG = 2


def _by() -> str:
    """Who ran the purge, for its log row."""
    try:
        return f"cli:{getpass.getuser()}"[:32]
    except (OSError, KeyError):
        return "cli"


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


class RetentionCommand:
    def __init__(self, settings: SettingsLoader, db_session: SessionOpener) -> None:
        self._settings = settings
        self._db_session = db_session

    def __call__(self, args: argparse.Namespace) -> int:
        settings = self._settings(args)
        from hotline.retention import human_bytes, purge
        from ticketdb.engine import make_sessionmaker

        days = settings.retention.days if args.days is None else args.days
        if days < 1:
            print("hotline: error: --days must be at least 1", file=sys.stderr)
            return EXIT_CONFIG
        calls_dir = settings.paths.calls_dir
        with self._db_session(settings) as s:
            bind = s.get_bind()
            report = purge(
                make_sessionmaker(bind.engine),
                calls_dir,
                days,
                datetime.now(UTC),
                dry_run=args.dry_run,
                by=_by(),
            )
        mode = "dry run: nothing is changed" if report.dry_run else f"retention run {report.run_id}"
        print(f"retention {days} day(s), cutoff {_stamp(report.cutoff)} UTC ({mode})")
        if report.recordings or report.orphans:
            print(f"recordings under {calls_dir}:")
            for f in report.recordings:
                shown = f.path or "(no file)"
                print(f"  {shown}  {human_bytes(f.size_bytes)}  recording {f.recording_id}")
            for f in report.orphans:
                print(f"  {f.path}  {human_bytes(f.size_bytes)}  no recording row")
        if report.calls:
            print("call ledgers:")
            for c in report.calls:
                print(f"  call {c.id}  started {_stamp(c.started_at)} UTC  {c.node}/{c.channel_id}")
        for error in report.errors:
            print(f"hotline: error: {error}", file=sys.stderr)
        print(report.summary())
        return 1 if report.errors else 0


def add_retention_parser(sub: Any, settings_fn: SettingsLoader, session_fn: SessionOpener) -> None:
    """Register ``hotline retention`` on the top-level subparsers."""
    p = sub.add_parser(
        "retention",
        help="purge recordings and call ledgers older than the retention period",
        description="Recordings (files; rows kept, marked purged), stray WAV files and "
        "ended call ledgers older than the period are purged and the purge logged. "
        "Open calls are never purged.",
    )
    p.add_argument("--dry-run", action="store_true", help="list what would go; change nothing")
    p.add_argument(
        "--days", type=int, metavar="N", help="retention period in days (default: retention.days)"
    )
    p.set_defaults(func=RetentionCommand(settings_fn, session_fn))
