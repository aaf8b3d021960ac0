"""Agents and their seats: accounts, skills, state changes with history, and claims.

Every state change is validated by the pure machine in ``agents.seats``, then written as
one transaction: the new ``seat_states`` row values and a ``seat_state_changes`` history
row. The update is conditional on the version read (optimistic concurrency), so of two
concurrent changes from the same state one wins and the other raises ``StaleState``
instead of silently overwriting it.

``claim_available`` is the multi-node safety primitive: a single conditional UPDATE
(``… WHERE state = 'available' AND claimed_by_node IS NULL``) that the database
serialises, so of any number of controllers claiming one agent exactly one succeeds.
The claim stays while the seat rings, is on a call and in wrap-up; it ends when the seat
reaches a state that holds no call (available, away, offline, on leave).

These are the functions the CLI and the web API call; each commits (or rolls back and
raises), so the session is usable afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, delete, insert, select, true, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from agents.seats import (
    FREE_STATES,
    Actor,
    EventKind,
    IllegalTransition,
    State,
    event_for,
    transition,
)
from kernel.clock import utcnow
from kernel.csvfile import csv_rows
from kernel.roles import ALL_ROLES, LEAD_ROLES, SEAT_ROLES
from ticketdb.models import Agent, AgentSkill, SeatState, SeatStateChange

SYSTEM = "system"
# Seats whose claim carries a live call leg: the system changes them only as the claim's node.
_CALL_STATES = frozenset({State.RINGING.value, State.ON_CALL.value})
MAX_STAFF_NUMBER = 32
MAX_NAME = 128
MAX_TEAM = 64
MAX_ENDPOINT = 128
MAX_REASON = 32

CSV_REQUIRED = ("staff_number", "name", "role", "team", "endpoint")
CSV_OPTIONAL = ("skills", "languages", "away_limit_minutes")

_STAFF_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# Asterisk dial strings: technology/resource, e.g. PJSIP/8001, SIP/alice, Local/8001@agents.
_ENDPOINT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*/\S+$")
_SKILL = re.compile(r"^[a-z][a-z0-9_]*$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")


class UnknownAgent(LookupError):
    """No agent with that id or staff number."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown agent"


class StaleState(Exception):
    """The seat changed since it was read (another node, page or command got there first)."""


class NotClaimed(StaleState):
    """A node acted on a call for an agent it does not hold the claim on."""


class AgentImportError(ValueError):
    """A bad agents file; the message names the file and line."""


@dataclass(frozen=True)
class AgentSeat:
    """An agent with its current seat state and skills (the lead's view, ``agents list``)."""

    agent: Agent
    seat: SeatState
    skills: dict[str, int] = field(default_factory=dict)


@contextmanager
def _transaction(s: Session) -> Iterator[None]:
    """Commit on success; roll back on failure so the session stays usable."""
    try:
        yield
        s.commit()
    except BaseException:
        s.rollback()
        raise


def _rowcount(result: Any) -> int:
    return cast(CursorResult[Any], result).rowcount


# --- agents -------------------------------------------------------------------------------


def parse_skill(text: str) -> tuple[str, int]:
    """``"mobile:3"`` → ``("mobile", 3)``; a bare ``"mobile"`` is level 1."""
    name, sep, level = text.strip().partition(":")
    if not sep:
        return _skill(name, 1)
    try:
        return _skill(name, int(level))
    except ValueError as exc:
        if "invalid literal" in str(exc):
            raise ValueError(f"skill level must be a whole number 1-5 (got {text!r})") from None
        raise


def _skill(name: str, level: int) -> tuple[str, int]:
    if not _SKILL.match(name) or len(name) > 64:
        raise ValueError(f"bad skill name {name!r}: lower-case letters, digits and _")
    if not 1 <= level <= 5:
        raise ValueError(f"skill level must be 1-5 (got {name}:{level})")
    return name, level


def _validated(
    *,
    staff_number: str,
    name: str,
    role: str,
    team: str,
    endpoint: str,
    languages: Sequence[str],
    away_limit_minutes: int | None,
    active: bool,
) -> dict[str, Any]:
    staff_number = staff_number.strip()
    if not _STAFF_NUMBER.match(staff_number) or len(staff_number) > MAX_STAFF_NUMBER:
        raise ValueError(
            f"bad staff number {staff_number!r}: letters, digits, . _ - "
            f"(at most {MAX_STAFF_NUMBER})"
        )
    if staff_number == SYSTEM:
        raise ValueError(f"{SYSTEM!r} is reserved for the controller")
    name = " ".join(name.split())
    if not name or len(name) > MAX_NAME:
        raise ValueError(f"name must be 1-{MAX_NAME} characters")
    role = role.strip().lower()
    if role not in ALL_ROLES:
        raise ValueError(f"role must be one of {', '.join(ALL_ROLES)} (got {role!r})")
    team = team.strip()
    if len(team) > MAX_TEAM:
        raise ValueError(f"team longer than {MAX_TEAM} characters")
    endpoint = endpoint.strip()
    if not _ENDPOINT.match(endpoint) or len(endpoint) > MAX_ENDPOINT:
        raise ValueError(f"endpoint must look like PJSIP/8001 (got {endpoint!r})")
    langs: list[str] = []
    for lang in languages:
        if not _LANGUAGE.match(lang):
            raise ValueError(f"bad language code {lang!r} (e.g. zh, en)")
        if lang not in langs:
            langs.append(lang)
    if away_limit_minutes is not None and not 1 <= away_limit_minutes <= 24 * 60:
        raise ValueError(f"away limit must be 1-1440 minutes (got {away_limit_minutes})")
    return {
        "staff_number": staff_number,
        "name": name,
        "role": role,
        "team": team,
        "endpoint": endpoint,
        "languages": langs,
        "away_limit_minutes": away_limit_minutes,
        "active": active,
    }


def _insert_for(s: Session, model: type[Any]) -> Any:
    dialect = s.get_bind().dialect.name
    if dialect == "postgresql":
        return pg_insert(model)
    if dialect == "sqlite":
        return sqlite_insert(model)
    raise NotImplementedError(f"agents need SQLite or PostgreSQL, not {dialect}")


def _apply_agent(
    s: Session, values: Mapping[str, Any], skills: Mapping[str, int] | None, now: datetime
) -> int:
    """Upsert the agent by staff number, make sure it has a seat; no commit. Returns the id."""
    stmt = _insert_for(s, Agent).values(**values, created_at=now)
    changes = {k: stmt.excluded[k] for k in values if k != "staff_number"}
    s.execute(stmt.on_conflict_do_update(index_elements=["staff_number"], set_=changes))
    agent_id: int = s.scalars(
        select(Agent.id).where(Agent.staff_number == values["staff_number"])
    ).one()
    seat = _insert_for(s, SeatState).values(
        agent_id=agent_id, state=State.OFFLINE.value, since=now, version=0
    )
    s.execute(seat.on_conflict_do_nothing(index_elements=["agent_id"]))
    if skills is not None:
        _replace_skills(s, agent_id, skills)
    return agent_id


def _replace_skills(s: Session, agent_id: int, skills: Mapping[str, int]) -> None:
    checked = dict(_skill(name, level) for name, level in skills.items())
    s.execute(delete(AgentSkill).where(AgentSkill.agent_id == agent_id))
    if checked:
        s.execute(
            insert(AgentSkill),
            [{"agent_id": agent_id, "skill": k, "level": v} for k, v in checked.items()],
        )


def add_agent(
    s: Session,
    *,
    staff_number: str,
    name: str,
    endpoint: str,
    role: str = "agent",
    team: str = "",
    languages: Sequence[str] = (),
    skills: Mapping[str, int] | None = None,
    away_limit_minutes: int | None = None,
    active: bool = True,
    now: datetime | None = None,
) -> Agent:
    """Add the agent, or update the one with this staff number; commits.

    A new agent's seat starts offline; an existing seat is left as it is. ``skills``
    None keeps the skills on file, a mapping replaces them. Raises ValueError for bad
    input.
    """
    values = _validated(
        staff_number=staff_number,
        name=name,
        role=role,
        team=team,
        endpoint=endpoint,
        languages=languages,
        away_limit_minutes=away_limit_minutes,
        active=active,
    )
    if skills is not None:
        skills = dict(_skill(k, v) for k, v in skills.items())
    with _transaction(s):
        agent_id = _apply_agent(s, values, skills, now or utcnow())
    return _fresh_agent(s, agent_id)


def set_skills(s: Session, *, agent_id: int, skills: Mapping[str, int]) -> None:
    """Replace the agent's skills (name → level 1-5); commits."""
    _fresh_agent(s, agent_id)
    with _transaction(s):
        _replace_skills(s, agent_id, skills)


def skills_of(s: Session, agent_id: int) -> dict[str, int]:
    rows = s.execute(
        select(AgentSkill.skill, AgentSkill.level)
        .where(AgentSkill.agent_id == agent_id)
        .order_by(AgentSkill.skill)
    )
    return {skill: level for skill, level in rows}


def _fresh_agent(s: Session, agent_id: int) -> Agent:
    agent = s.scalars(
        select(Agent).where(Agent.id == agent_id).execution_options(populate_existing=True)
    ).one_or_none()
    if agent is None:
        raise UnknownAgent(f"no agent with id {agent_id}")
    return agent


def agent_by_staff_number(s: Session, staff_number: str) -> Agent | None:
    return s.scalars(
        select(Agent)
        .where(Agent.staff_number == staff_number.strip())
        .execution_options(populate_existing=True)
    ).one_or_none()


def list_seats(s: Session) -> list[AgentSeat]:
    """Every agent with seat and skills, by staff number."""
    rows = s.execute(
        select(Agent, SeatState)
        .join(SeatState, SeatState.agent_id == Agent.id)
        .order_by(Agent.staff_number)
        .execution_options(populate_existing=True)
    ).all()
    skills: dict[int, dict[str, int]] = {}
    for agent_id, skill, level in s.execute(
        select(AgentSkill.agent_id, AgentSkill.skill, AgentSkill.level).order_by(
            AgentSkill.agent_id, AgentSkill.skill
        )
    ):
        skills.setdefault(agent_id, {})[skill] = level
    return [AgentSeat(agent, seat, skills.get(agent.id, {})) for agent, seat in rows]


@dataclass(frozen=True)
class SeatSummary:
    """An active agent's seat as plain values, without ORM objects."""

    agent_id: int
    staff_number: str
    role: str
    team: str
    state: str
    since: datetime
    skills: Mapping[str, int]


def seat_summaries(s: Session, *, free_only: bool = False) -> list[SeatSummary]:
    """Active agents' seats and skills by staff number; with ``free_only`` just the seats
    a call may be offered to: a seat role, available and claimed by no node.

    Plain column reads for the queue engine, which reads seats several times a second
    under load: building ORM objects for every agent held the GIL for most of a pass
    (profiled at 1,000 calls in progress, 500 agents).
    """
    query = (
        select(
            Agent.id,
            Agent.staff_number,
            Agent.role,
            Agent.team,
            SeatState.state,
            SeatState.since,
        )
        .join(SeatState, SeatState.agent_id == Agent.id)
        .where(Agent.active.is_(True))
        .order_by(Agent.staff_number)
    )
    if free_only:
        query = query.where(
            Agent.role.in_(SEAT_ROLES),
            SeatState.state == "available",
            SeatState.claimed_by_node.is_(None),
        )
    rows = s.execute(query).all()
    if not rows:
        return []
    skill_query = select(AgentSkill.agent_id, AgentSkill.skill, AgentSkill.level)
    if free_only:
        skill_query = skill_query.where(AgentSkill.agent_id.in_([r[0] for r in rows]))
    skills: dict[int, dict[str, int]] = {}
    for agent_id, skill, level in s.execute(skill_query):
        skills.setdefault(agent_id, {})[skill] = level
    return [
        SeatSummary(agent_id, staff, role, team, state, since, skills.get(agent_id, {}))
        for agent_id, staff, role, team, state, since in rows
    ]


# --- seat states --------------------------------------------------------------------------


def get_seat(s: Session, agent_id: int) -> SeatState:
    """The seat as stored now (not a cached copy)."""
    seat = s.scalars(
        select(SeatState)
        .where(SeatState.agent_id == agent_id)
        .execution_options(populate_existing=True)
    ).one_or_none()
    if seat is None:
        raise UnknownAgent(f"no agent with id {agent_id}")
    return seat


def _actor(s: Session, agent: Agent, by: str) -> Actor:
    if by == SYSTEM:
        return Actor.SYSTEM
    who = agent_by_staff_number(s, by)
    if who is None:
        raise UnknownAgent(f"no agent with staff number {by!r}")
    if who.role in LEAD_ROLES and who.active:
        return Actor.LEAD
    return Actor.SELF if who.id == agent.id else Actor.PEER


def set_state(
    s: Session,
    *,
    agent_id: int,
    to_state: str,
    by: str,
    reason: str | None = None,
    note: str | None = None,
    node: str | None = None,
    now: datetime,
    wrap_up_until: datetime | None = None,
    expected_version: int | None = None,
    channel_id: str | None = None,
) -> SeatState:
    """Move the agent's seat to ``to_state`` and record who did it, when and why; commits.

    ``by`` is a staff number or ``"system"`` (the controller). ``reason`` is required for
    away (``agents.seats.AWAY_REASONS``) and kept for on_leave. ``wrap_up_until`` is the
    end of wrap-up (entering or extending it). Ringing a seat needs the claim of ``node``
    (``claim_available``); other call events, given ``node``, check the claim too, and
    given ``channel_id`` also that it is that call's claim: a late event of an earlier
    call must not move a seat its node has since claimed for another call.

    Raises IllegalTransition (not allowed: the message says why), UnknownAgent,
    StaleState when the seat changed since it was read (or is not at
    ``expected_version``), NotClaimed when ``node`` does not hold the claim.
    """
    agent = _fresh_agent(s, agent_id)
    seat = get_seat(s, agent_id)
    if expected_version is not None and seat.version != expected_version:
        raise StaleState(
            f"the seat of agent {agent.staff_number} changed (version {seat.version}, "
            f"expected {expected_version}): re-read it and try again"
        )
    if reason is not None and len(reason) > MAX_REASON:
        raise ValueError(f"reason longer than {MAX_REASON} characters")
    event = event_for(seat.state, to_state, actor=_actor(s, agent, by), reason=reason)
    new = transition(seat.state, event)

    if event.kind is EventKind.LOGIN and not agent.active:
        raise IllegalTransition(f"agent {agent.staff_number} is not active")
    if event.kind is EventKind.OFFER and (node is None or seat.claimed_by_node != node):
        raise NotClaimed(
            f"ringing agent {agent.staff_number} needs the claim of node {node!r}; "
            f"claimed by {seat.claimed_by_node!r}"
        )
    if event.actor is Actor.SYSTEM and node is None and seat.state in _CALL_STATES:
        # The controller acts on a seat that carries a call only as the claim's holder:
        # a change that names no claim could free a seat some node rings for a call.
        raise NotClaimed(
            f"agent {agent.staff_number} is {seat.state} for {seat.claimed_by_node!r}: "
            "a change by the system must name the claim's node"
        )
    if event.kind in (EventKind.ANSWER, EventKind.NO_ANSWER, EventKind.CALL_END):
        if node is not None and seat.claimed_by_node != node:
            raise NotClaimed(
                f"agent {agent.staff_number} is claimed by {seat.claimed_by_node!r}, not {node!r}"
            )
        if channel_id is not None and seat.claim_channel != channel_id:
            raise NotClaimed(
                f"agent {agent.staff_number} is claimed for call {seat.claim_channel!r}, "
                f"not {channel_id!r}"
            )
    if event.kind is EventKind.WRAP_UP_EXTEND and (
        wrap_up_until is None
        or (seat.wrap_up_until is not None and wrap_up_until <= seat.wrap_up_until)
    ):
        raise IllegalTransition("extending wrap-up needs a later end time")

    values: dict[str, Any] = {"state": new.value, "version": seat.version + 1}
    if event.kind is not EventKind.WRAP_UP_EXTEND:
        values["since"] = now
        values["reason"] = reason if new in (State.AWAY, State.ON_LEAVE) else None
    values["wrap_up_until"] = wrap_up_until if new is State.WRAP_UP else None
    if new in FREE_STATES:
        values.update(
            claimed_by_node=None, claim_channel=None, claimed_at=None, claim_generation=None
        )
    with _transaction(s):
        result = s.execute(
            update(SeatState)
            .where(SeatState.agent_id == agent_id, SeatState.version == seat.version)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if _rowcount(result) != 1:
            raise StaleState(
                f"the seat of agent {agent.staff_number} changed while being set to "
                f"{new}: re-read it and try again"
            )
        s.add(
            SeatStateChange(
                agent_id=agent_id,
                from_state=seat.state,
                to_state=new.value,
                reason=reason,
                at=now,
                by=by,
                node=node,
                note=note,
            )
        )
    return get_seat(s, agent_id)


def claim_available(
    s: Session, *, agent_id: int, node: str, channel_id: str, now: datetime
) -> bool:
    """Reserve an available, unclaimed agent for ``channel_id`` on ``node``; commits.

    True when this call won the agent; False when the agent is not available or another
    node (or call) claimed it first. Exactly one of any number of concurrent claimers wins.
    """
    with _transaction(s):
        result = s.execute(
            update(SeatState)
            .where(
                SeatState.agent_id == agent_id,
                SeatState.state == State.AVAILABLE.value,
                SeatState.claimed_by_node.is_(None),
            )
            .values(
                claimed_by_node=node,
                claim_channel=channel_id,
                claimed_at=now,
                version=SeatState.version + 1,
            )
            .execution_options(synchronize_session=False)
        )
        won = _rowcount(result) == 1
    return won


def release_claim(s: Session, *, agent_id: int, node: str, channel_id: str | None = None) -> bool:
    """Give back a claim that was never rung (the caller left first); commits.

    Only while the seat is still available: once it rings, ``set_state`` ends the claim.
    Returns False when ``node`` (for ``channel_id``, when given) held no such claim.
    """
    same_call = SeatState.claim_channel == channel_id if channel_id is not None else true()
    with _transaction(s):
        result = s.execute(
            update(SeatState)
            .where(
                SeatState.agent_id == agent_id,
                SeatState.state == State.AVAILABLE.value,
                SeatState.claimed_by_node == node,
                same_call,
            )
            .values(
                claimed_by_node=None,
                claim_channel=None,
                claimed_at=None,
                claim_generation=None,
                version=SeatState.version + 1,
            )
            .execution_options(synchronize_session=False)
        )
        released = _rowcount(result) == 1
    return released


def release_claims_of_node(s: Session, node: str, now: datetime) -> int:
    """End the claims a dead ``node`` holds on seats without a call; commits.

    Seats in wrap-up for it become available, each with a history row by "system";
    claimed seats still available just lose the claim. Seats it rings or whose call it
    carries are left alone: its Asterisk may still carry the call (a node that stalled is
    only thought dead), and only that node, or a lead, can tell. Returns the number of
    claims released.
    """
    released = 0
    # A seat changed concurrently (its version moved) is simply read again.
    for _attempt in range(20):
        seats = s.scalars(
            select(SeatState)
            .where(
                SeatState.claimed_by_node == node,
                SeatState.state.not_in(sorted(_CALL_STATES)),
            )
            .execution_options(populate_existing=True)
        ).all()
        if not seats:
            break
        for seat in seats:
            values: dict[str, Any] = {
                "claimed_by_node": None,
                "claim_channel": None,
                "claimed_at": None,
                "claim_generation": None,
                "version": seat.version + 1,
            }
            busy = seat.state not in FREE_STATES
            if busy:
                values.update(
                    state=State.AVAILABLE.value, since=now, reason=None, wrap_up_until=None
                )
            with _transaction(s):
                result = s.execute(
                    update(SeatState)
                    .where(
                        SeatState.agent_id == seat.agent_id,
                        SeatState.version == seat.version,
                        SeatState.claimed_by_node == node,
                    )
                    .values(**values)
                    .execution_options(synchronize_session=False)
                )
                if _rowcount(result) != 1:
                    continue
                released += 1
                if busy:
                    s.add(
                        SeatStateChange(
                            agent_id=seat.agent_id,
                            from_state=seat.state,
                            to_state=State.AVAILABLE.value,
                            at=now,
                            by=SYSTEM,
                            node=node,
                            note=f"node {node} is gone: its claim (call {seat.claim_channel}, "
                            f"{seat.state}) was released",
                        )
                    )
    return released


def history(s: Session, agent_id: int, since: datetime | None = None) -> list[SeatStateChange]:
    """The agent's seat changes, oldest first (from ``since`` on, when given)."""
    stmt = select(SeatStateChange).where(SeatStateChange.agent_id == agent_id)
    if since is not None:
        stmt = stmt.where(SeatStateChange.at >= since)
    return list(s.scalars(stmt.order_by(SeatStateChange.at, SeatStateChange.id)))


# --- import -------------------------------------------------------------------------------


def _read_csv(path: Path) -> list[tuple[dict[str, Any], dict[str, int]]]:
    """Every agent row of the file, validated; the first problem raises, naming its line."""

    def fail(line: int, problem: str) -> AgentImportError:
        return AgentImportError(f"{path}:{line}: {problem}")

    rows: list[tuple[dict[str, Any], dict[str, int]]] = []
    seen: dict[str, int] = {}
    for line, cells in csv_rows(
        path, CSV_REQUIRED, CSV_OPTIONAL, AgentImportError, "expected a header line"
    ):
        try:
            limit = cells.get("away_limit_minutes") or None
            values = _validated(
                staff_number=cells["staff_number"],
                name=cells["name"],
                role=cells["role"] or "agent",
                team=cells["team"],
                endpoint=cells["endpoint"],
                languages=cells.get("languages", "").split(),
                away_limit_minutes=int(limit) if limit else None,
                active=True,
            )
            skills = dict(parse_skill(t) for t in cells.get("skills", "").split())
        except ValueError as exc:
            raise fail(line, str(exc)) from None
        first = seen.setdefault(values["staff_number"], line)
        if first != line:
            raise fail(line, f"{values['staff_number']} is already on line {first}")
        rows.append((values, skills))
    return rows


def read_agents_csv(path: Path) -> list[tuple[dict[str, Any], dict[str, int]]]:
    """The validated rows of an agents file (values, skills), for checks before importing."""
    return _read_csv(path)


def import_csv(s: Session, path: Path, now: datetime | None = None) -> int:
    """Add or update every agent in a CSV file, skills replaced; all or nothing. Returns the count.

    Columns (header line first): ``staff_number,name,role,team,endpoint`` and optionally
    ``skills`` (space-separated ``skill:level``), ``languages`` (space-separated codes),
    ``away_limit_minutes``. Lines starting with # are comments.
    """
    rows = _read_csv(path)
    at = now or utcnow()
    with _transaction(s):
        for values, skills in rows:
            _apply_agent(s, values, skills, at)
    return len(rows)
