"""``hotline tokens add|list|revoke``: bearer tokens for the CRM integration API (/api/v1).

A token acts as its agent, with that agent's role: give a CRM a token of an account with
the role it needs (an agent's token sees only that agent's tickets and calls). ``add``
prints the token once; only its hash is kept, so a lost token is revoked and replaced.

Registered by ``hotline/cli/main.py`` like ``hotline agents``. Exit 1 for an unknown agent or
token, 2 for bad input (one line on stderr).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

from hotline.cli.base import SessionOpener, SettingsLoader, error

EXIT_CONFIG = 2


def _stamp(at: datetime | None) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if at is not None else "-"


class TokenCommands:
    def __init__(self, settings: SettingsLoader, db_session: SessionOpener) -> None:
        self._settings = settings
        self._db_session = db_session

    def add(self, args: argparse.Namespace) -> int:
        settings = self._settings(args)
        from agents.api_tokens import create_token
        from agents.seat_store import UnknownAgent

        with self._db_session(settings) as s:
            try:
                info, plain = create_token(s, args.staff_number, args.name, datetime.now(UTC))
            except UnknownAgent as exc:
                error(exc)
                return 1
            except ValueError as exc:
                error(exc)
                return EXIT_CONFIG
        print(plain)
        # The note goes to stderr so `token=$(hotline tokens add …)` captures only the token.
        print(
            f"token {info.id} for {info.staff_number} ({info.role}), {info.name!r}: shown "
            "only now; send it as 'Authorization: Bearer <token>'",
            file=sys.stderr,
        )
        return 0

    def list(self, args: argparse.Namespace) -> int:
        settings = self._settings(args)
        from agents.api_tokens import list_tokens
        from agents.seat_store import UnknownAgent

        with self._db_session(settings) as s:
            try:
                tokens = list_tokens(s, args.agent)
            except UnknownAgent as exc:
                error(exc)
                return 1
        if not tokens:
            print("no API tokens" + (f" for {args.agent}" if args.agent else ""))
            return 0
        print(f"{'id':>5} {'agent':8} {'role':6} {'status':9} {'created':16} {'last used':16} name")
        for t in tokens:
            status = "revoked" if t.revoked_at is not None else "active" if t.usable else "disabled"
            print(
                f"{t.id:>5} {t.staff_number:8} {t.role:6} {status:9} {_stamp(t.created_at):16} "
                f"{_stamp(t.last_used_at):16} {t.name}"
            )
        return 0

    def revoke(self, args: argparse.Namespace) -> int:
        settings = self._settings(args)
        from agents.api_tokens import TokenNotFound, revoke

        with self._db_session(settings) as s:
            try:
                changed = revoke(s, args.token_id, datetime.now(UTC))
            except TokenNotFound as exc:
                error(exc)
                return 1
        print(f"token {args.token_id} " + ("revoked" if changed else "was already revoked"))
        return 0


def add_tokens_parser(
    sub: Any, settings: SettingsLoader, db_session: SessionOpener
) -> argparse.ArgumentParser:
    """Register ``hotline tokens …`` on the top-level subparsers."""
    cmds = TokenCommands(settings, db_session)
    group: argparse.ArgumentParser = sub.add_parser(
        "tokens", help="bearer tokens for the CRM API (/api/v1)"
    )
    tsub = group.add_subparsers(dest="tokens_command", required=True)
    p = tsub.add_parser("add", help="make a token acting as this agent; printed once")
    p.add_argument("staff_number")
    p.add_argument("--name", required=True, help="what it is for, e.g. the CRM's name")
    p.set_defaults(func=cmds.add)
    p = tsub.add_parser("list", help="the tokens (never their values)")
    p.add_argument("--agent", help="staff number: only this agent's tokens")
    p.set_defaults(func=cmds.list)
    p = tsub.add_parser("revoke", help="stop a token from working")
    p.add_argument("token_id", type=int, metavar="ID")
    p.set_defaults(func=cmds.revoke)
    return group
