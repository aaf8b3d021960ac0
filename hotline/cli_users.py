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

from hotline.cli_agents import (
    EXIT_CONFIG,
    MAX_PASSWORD,
    MIN_PASSWORD,
    ROLES,
    SessionOpener,
    SettingsLoader,
    set_password,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ticketdb.models import Agent

CLI_ROLE = "cli"


class UserExists(ValueError):
    """``users add`` for a staff number already on file (change it instead)."""


class LastAdmin(ValueError):
    """The change would leave no active admin: nobody could manage the accounts."""


def _error(message: object) -> None:
    print(f"hotline: error: {message}", file=sys.stderr)


def _check_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise ValueError(f"the password must be {MIN_PASSWORD}-{MAX_PASSWORD} characters")


def log_user_change(s: Session, *, by: str, by_role: str, staff_number: str, detail: str) -> None:
    """One audit entry for a change to an account; commits."""
    from ticketdb.audit import record_access

    record_access(
        s,
        actor=by,
        role=by_role,
        action="change",
        object_type="user",
        object_id=staff_number,
        detail=detail,
    )


def _existing(s: Session, staff_number: str) -> Agent:
    from agents.seat_store import UnknownAgent, agent_by_staff_number

    agent = agent_by_staff_number(s, staff_number)
    if agent is None:
        raise UnknownAgent(f"no user with staff number {staff_number.strip()}")
    return agent


def create_user(
    s: Session,
    *,
    staff_number: str,
    name: str,
    role: str,
    password: str,
    by: str,
    by_role: str,
    team: str = "",
    endpoint: str | None = None,
) -> Agent:
    """Add an account that can log in; its seat starts offline. The endpoint defaults to
    ``PJSIP/<staff number>`` (admins rarely take calls but every agent row has one).

    Raises UserExists, ValueError for bad input (nothing stored). Logged.
    """
    from agents.seat_store import add_agent, agent_by_staff_number

    _check_password(password)
    if agent_by_staff_number(s, staff_number) is not None:
        raise UserExists(
            f"user {staff_number.strip()} already exists (change the password with "
            "hotline users passwd)"
        )
    agent = add_agent(
        s,
        staff_number=staff_number,
        name=name,
        role=role,
        team=team,
        endpoint=endpoint or f"PJSIP/{staff_number.strip()}",
    )
    set_password(s, agent.staff_number, password)
    log_user_change(
        s,
        by=by,
        by_role=by_role,
        staff_number=agent.staff_number,
        detail=f"added as {agent.role}" + (f", team {agent.team}" if agent.team else ""),
    )
    return agent


def reset_password(s: Session, staff_number: str, password: str, *, by: str, by_role: str) -> None:
    """Store a new password hash. Raises UnknownAgent, ValueError. Logged."""
    set_password(s, staff_number, password)
    log_user_change(
        s, by=by, by_role=by_role, staff_number=staff_number.strip(), detail="password set"
    )


def _other_active_admins(s: Session, agent_id: int) -> int:
    from sqlalchemy import func, select

    from ticketdb.models import Agent

    count = s.scalar(
        select(func.count())
        .select_from(Agent)
        .where(Agent.role == "admin", Agent.active.is_(True), Agent.id != agent_id)
    )
    return int(count or 0)


def _update(s: Session, agent_id: int, **values: Any) -> None:
    from sqlalchemy import update

    from ticketdb.models import Agent
    from ticketdb.sql import transaction

    with transaction(s):
        s.execute(update(Agent).where(Agent.id == agent_id).values(**values))


def set_role(s: Session, staff_number: str, role: str, *, by: str, by_role: str) -> bool:
    """Give the user another role; False when it already had it (nothing logged).

    A lead or admin cannot stay the acting lead (a normal seat's duty), so that flag is
    cleared. Raises UnknownAgent, ValueError, LastAdmin.
    """
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)} (got {role!r})")
    agent = _existing(s, staff_number)
    old = agent.role
    if old == role:
        return False
    if old == "admin" and agent.active and _other_active_admins(s, agent.id) == 0:
        raise LastAdmin(f"{agent.staff_number} is the last active admin; make another admin first")
    _update(s, agent.id, role=role, acting_lead=agent.acting_lead and role == "agent")
    log_user_change(
        s, by=by, by_role=by_role, staff_number=agent.staff_number, detail=f"role {old} → {role}"
    )
    return True


def set_active(s: Session, staff_number: str, active: bool, *, by: str, by_role: str) -> bool:
    """Enable or disable log-in (a disabled user's sessions end at their next request and
    the queue engine stops offering them calls); False when nothing changed.

    Raises UnknownAgent, LastAdmin.
    """
    agent = _existing(s, staff_number)
    if agent.active == active:
        return False
    if not active and agent.role == "admin" and _other_active_admins(s, agent.id) == 0:
        raise LastAdmin(f"{agent.staff_number} is the last active admin; it cannot be disabled")
    _update(s, agent.id, active=active)
    log_user_change(
        s,
        by=by,
        by_role=by_role,
        staff_number=agent.staff_number,
        detail="enabled" if active else "disabled",
    )
    return True


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
            _error("the passwords differ")
            return EXIT_CONFIG
        try:
            _check_password(password)
        except ValueError as exc:
            _error(exc)
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
                _error(exc)
                return 1
            except ValueError as exc:
                _error(exc)
                return EXIT_CONFIG
            print(f"added {agent.staff_number} {agent.name} ({agent.role}) at {agent.endpoint}")
        return 0

    def passwd(self, args: argparse.Namespace) -> int:
        settings = self._settings(args)
        from agents.seat_store import UnknownAgent

        password = _read_password(f"new password for {args.staff_number}: ")
        if password is None:
            _error("the passwords differ")
            return EXIT_CONFIG
        with self._db_session(settings) as s:
            try:
                reset_password(s, args.staff_number, password, by=_cli_actor(), by_role=CLI_ROLE)
            except UnknownAgent as exc:
                _error(exc)
                return 1
            except ValueError as exc:
                _error(exc)
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
                _error(exc)
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
    p.add_argument("--role", required=True, choices=ROLES)
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
