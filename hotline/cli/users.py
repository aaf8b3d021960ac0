"""``hotline users …``: the web page's log-in accounts, and the account changes the CLI
and the admin page share.

A user is an ``agents`` row with a password (leads and admins are agents too, with
another role). Every change (added, role, disabled/enabled, password) is written to the
access audit log as action ``change`` on object ``user`` with who made it, so the audit
trail of accounts lives next to the audit of customer data. From the CLI the actor is
``cli:<os user>``. Exit codes as everywhere: 1 refused, 2 bad input.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import TYPE_CHECKING, Any

from agents.accounts import (
    LastAdmin,
    UserExists,
    check_password,
    create_user,
    reset_password,
    set_active,
)
from hotline.cli.base import EXIT_CONFIG, SessionOpener, SettingsLoader, error
from kernel.roles import ALL_ROLES

if TYPE_CHECKING:
    pass

CLI_ROLE = "cli"


def _cli_actor() -> str:
    try:
        who = getpass.getuser()
    except (KeyError, OSError):  # no login name (e.g. a container without a passwd entry)
        who = "unknown"
    return f"cli:{who}"[:32]


def _read_password(prompt: str) -> str | None:
    """From the terminal (asked twice; None when they differ) or one line of stdin."""
    if sys.stdin.isatty():
        first = getpass.getpass(prompt)
        if getpass.getpass("again: ") != first:
            return None
        return first
    return sys.stdin.readline().rstrip("\r\n")


class UsersCommands:
    def __init__(self, settings: SettingsLoader, db_session: SessionOpener) -> None:
        self._settings = settings
        self._db_session = db_session

    def add(self, args: argparse.Namespace) -> int:
        settings = self._settings(args)
        password = _read_password(f"password for {args.staff_number}: ")
        if password is None:
            error("the passwords differ")
            return EXIT_CONFIG
        try:
            check_password(password)
        except ValueError as exc:
            error(exc)
            return EXIT_CONFIG
        with self._db_session(settings) as s:
            try:
                agent = create_user(
                    s,
                    staff_number=args.staff_number,
                    name=args.name,
                    role=args.role,
                    password=password,
                    team=args.team,
                    endpoint=args.endpoint,
                    by=_cli_actor(),
                    by_role=CLI_ROLE,
                )
            except UserExists as exc:
                error(exc)
                return 1
            except ValueError as exc:
                error(exc)
                return EXIT_CONFIG
            print(f"added {agent.staff_number} {agent.name} ({agent.role}) at {agent.endpoint}")
        return 0

    def passwd(self, args: argparse.Namespace) -> int:
        settings = self._settings(args)
        from agents.seat_store import UnknownAgent

        password = _read_password(f"new password for {args.staff_number}: ")
        if password is None:
            error("the passwords differ")
            return EXIT_CONFIG
        with self._db_session(settings) as s:
            try:
                reset_password(s, args.staff_number, password, by=_cli_actor(), by_role=CLI_ROLE)
            except UnknownAgent as exc:
                error(exc)
                return 1
            except ValueError as exc:
                error(exc)
                return EXIT_CONFIG
        print(f"password of {args.staff_number.strip()} set")
        return 0

    def list_(self, args: argparse.Namespace) -> int:
        settings = self._settings(args)
        from sqlalchemy import select

        from ticketdb.models import Agent

        with self._db_session(settings) as s:
            users = list(s.scalars(select(Agent).order_by(Agent.staff_number)))
            if not users:
                print("no users yet (hotline users add STAFF --name NAME --role ROLE)")
                return 0
            print(f"{'staff':8} {'name':18} {'role':6} {'team':10} {'status':8} {'login':9} lang")
            for u in users:
                status = "active" if u.active else "disabled"
                login = "password" if u.password_hash else "none"
                print(
                    f"{u.staff_number:8} {u.name:18} {u.role:6} {u.team or '-':10} "
                    f"{status:8} {login:9} {u.ui_language}"
                )
        return 0

    def set_active(self, args: argparse.Namespace) -> int:
        settings = self._settings(args)
        from agents.seat_store import UnknownAgent

        active = args.users_command == "enable"
        with self._db_session(settings) as s:
            try:
                changed = set_active(
                    s, args.staff_number, active, by=_cli_actor(), by_role=CLI_ROLE
                )
            except (UnknownAgent, LastAdmin) as exc:
                error(exc)
                return 1
        state = "enabled" if active else "disabled"
        print(f"{args.staff_number.strip()} {state}" + ("" if changed else " (already)"))
        return 0


def add_users_parser(
    sub: Any, settings: SettingsLoader, db_session: SessionOpener
) -> argparse.ArgumentParser:
    """Register ``hotline users …`` on the top-level subparsers."""
    cmds = UsersCommands(settings, db_session)
    group: argparse.ArgumentParser = sub.add_parser(
        "users", help="web page log-in accounts (every change is audited)"
    )
    usub = group.add_subparsers(dest="users_command", required=True)

    p = usub.add_parser(
        "add",
        help="add a user; the password is asked for (or one line on stdin, >= 8 characters)",
    )
    p.add_argument("staff_number")
    p.add_argument("--name", required=True)
    p.add_argument("--role", required=True, choices=ALL_ROLES)
    p.add_argument("--endpoint", help="where calls ring them (default: PJSIP/STAFF_NUMBER)")
    p.add_argument("--team", default="")
    p.set_defaults(func=cmds.add)

    p = usub.add_parser("passwd", help="set a user's password (asked for, or one line on stdin)")
    p.add_argument("staff_number")
    p.set_defaults(func=cmds.passwd)

    p = usub.add_parser("list", help="users with role, status and whether they can log in")
    p.set_defaults(func=cmds.list_)

    for name, text in (
        ("disable", "stop a user logging in"),
        ("enable", "let a user log in again"),
    ):
        p = usub.add_parser(name, help=text)
        p.add_argument("staff_number")
        p.set_defaults(func=cmds.set_active)
    return group
