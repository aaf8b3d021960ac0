"""``hotline notifications list|deliver``: the escalation outbox from the command line.

Registered by ``hotline/cli/main.py`` like ``hotline agents`` (same settings loader and
session opener). ``deliver`` runs one pass of the mailer, as the scheduled job does; a
mail server that is down is not an error (the attempts are recorded, exit 0), only bad
input is (exit 2). SQLAlchemy is imported only when a command runs.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

from hotline.cli.base import SessionOpener, SettingsLoader

EXIT_CONFIG = 2
# tickets.outbox.STATUSES / CHANNELS, repeated so --help needs no SQLAlchemy import.
STATUSES = ("pending", "sent", "failed", "read")
CHANNELS = ("email", "inapp")


def _stamp(at: datetime | None) -> str:
    return "-" if at is None else at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


class NotificationCommands:
    def __init__(self, settings: SettingsLoader, db_session: SessionOpener) -> None:
        self._settings = settings
        self._db_session = db_session

    def list(self, args: argparse.Namespace) -> int:
        settings = self._settings(args)
        from tickets.outbox import list_notifications

        if args.limit < 1:
            print("hotline: error: --limit must be at least 1", file=sys.stderr)
            return EXIT_CONFIG
        with self._db_session(settings) as s:
            rows = list_notifications(s, status=args.status, channel=args.channel, limit=args.limit)
        if not rows:
            print("no notifications")
            return 0
        print(
            f"{'id':>5} {'created (UTC)':19} {'status':8} {'channel':7} {'tries':>5} "
            f"{'next try (UTC)':19} {'ticket':>6} {'rule':18} {'recipient':26} subject"
        )
        for n in rows:
            print(
                f"{n.id:>5} {_stamp(n.created_at):19} {n.status:8} {n.channel:7} "
                f"{n.attempts:>5} {_stamp(n.next_attempt_at):19} "
                f"{'-' if n.ticket_id is None else n.ticket_id:>6} {n.rule:18} "
                f"{n.recipient:26} {n.subject}"
            )
            if n.status in ("pending", "failed") and n.last_error:
                print(f"{'':>5} last error: {n.last_error}")
        return 0

    def deliver(self, args: argparse.Namespace) -> int:
        settings = self._settings(args)
        from sqlalchemy.orm import sessionmaker

        from hotline.mailer import deliver_due

        if args.limit < 1:
            print("hotline: error: --limit must be at least 1", file=sys.stderr)
            return EXIT_CONFIG
        with self._db_session(settings) as s:
            sessions = sessionmaker(bind=s.get_bind(), expire_on_commit=False)
            report = deliver_due(sessions, settings.smtp, limit=args.limit)
        if report.note:
            print(report.note)
        print(
            f"sent {report.sent}, failed {report.failed}, e-mail still pending {report.remaining}"
        )
        return 0


def add_notifications_parser(
    sub: Any, settings: SettingsLoader, db_session: SessionOpener
) -> argparse.ArgumentParser:
    """Register ``hotline notifications …`` on the top-level subparsers."""
    cmds = NotificationCommands(settings, db_session)
    group: argparse.ArgumentParser = sub.add_parser(
        "notifications", help="the escalation outbox (e-mail and in-app notices)"
    )
    nsub = group.add_subparsers(dest="notifications_command", required=True)
    p = nsub.add_parser("list", help="notifications, newest first, with their delivery state")
    p.add_argument("--status", choices=STATUSES)
    p.add_argument("--channel", choices=CHANNELS)
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(func=cmds.list)
    p = nsub.add_parser(
        "deliver",
        help="send the due e-mail now (one pass; failures are recorded and retried later)",
    )
    p.add_argument("--limit", type=int, default=50, help="at most this many messages")
    p.set_defaults(func=cmds.deliver)
    return group
