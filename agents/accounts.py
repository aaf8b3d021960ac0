"""Staff accounts: who may log in, with which role and password, and the audit of every
change. The command line (``hotline users``) and the admin page both use these rules.

A user is an ``agents`` row with a password (leads and admins are agents too, with
another role). Storage and rules only: no web, no command line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kernel.roles import ALL_ROLES

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ticketdb.models import Agent

MIN_PASSWORD = 8
# Hashing is deliberately slow; a bound keeps one request from hashing megabytes.
MAX_PASSWORD = 256


def set_password(s: Session, staff_number: str, password: str) -> None:
    """Store a salted hash of ``password`` for the agent (web page login); commits.

    Raises UnknownAgent, ValueError for a password not 8-256 characters long.
    """
    from sqlalchemy import update
    from werkzeug.security import generate_password_hash

    from agents.seat_store import UnknownAgent, agent_by_staff_number
    from ticketdb.models import Agent

    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise ValueError(f"the password must be {MIN_PASSWORD}-{MAX_PASSWORD} characters")
    agent = agent_by_staff_number(s, staff_number)
    if agent is None:
        raise UnknownAgent(f"no agent with staff number {staff_number.strip()}")
    try:
        s.execute(
            update(Agent)
            .where(Agent.id == agent.id)
            .values(password_hash=generate_password_hash(password))
        )
        s.commit()
    except BaseException:
        s.rollback()
        raise


class UserExists(ValueError):
    """``users add`` for a staff number already on file (change it instead)."""


class LastAdmin(ValueError):
    """The change would leave no active admin: nobody could manage the accounts."""


def check_password(password: str) -> None:
    """ValueError unless the password is MIN_PASSWORD to MAX_PASSWORD characters."""
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

    check_password(password)
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
    if role not in ALL_ROLES:
        raise ValueError(f"role must be one of {', '.join(ALL_ROLES)} (got {role!r})")
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
