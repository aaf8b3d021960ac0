"""Call records (one row per call, keyed by (node, channel_id)), customers, callback requests,
agents and their seat states."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from ticketdb.base import Base, JSONType, UTCDateTime


def utcnow() -> datetime:
    return datetime.now(UTC)


class Call(Base):
    """One call as the controller saw it; rows are only ever completed, never deleted.

    A row may start "minimal" (only the key and a substitute ``started_at``) when the
    start record was lost; later operations fill it in (see ``ticketdb.call_log``).
    """

    __tablename__ = "calls"
    __table_args__ = (
        # The idempotency key: every replayed operation lands on the same row.
        UniqueConstraint("node", "channel_id"),
        Index("ix_calls_started_at", "started_at"),
        # Reconcile asks "which of this node's calls are still open?".
        Index("ix_calls_node_ended_at", "node", "ended_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    node: Mapped[str] = mapped_column(String(64))
    channel_id: Mapped[str] = mapped_column(String(128))
    caller_number: Mapped[str] = mapped_column(String(64), default="")
    caller_name: Mapped[str] = mapped_column(String(128), default="")
    dialled_number: Mapped[str] = mapped_column(String(64), default="")
    language: Mapped[str] = mapped_column(String(8), default="")
    customer_tier: Mapped[str | None] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hangup_cause: Mapped[int | None] = mapped_column(Integer)
    hangup_cause_text: Mapped[str | None] = mapped_column(String(128))
    # "caller", "system" or "unknown"; not a CHECK constraint, so a new value can never
    # make a record unwritable.
    hangup_side: Mapped[str | None] = mapped_column(String(16))
    end_reason: Mapped[str | None] = mapped_column(String(32))
    menu_path: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    queue: Mapped[str | None] = mapped_column(String(64))
    wait_seconds: Mapped[float | None] = mapped_column(Float)
    agent: Mapped[str | None] = mapped_column(String(64))
    recording_path: Mapped[str | None] = mapped_column(String(512))
    # The controller's resumable call-state snapshot (re-adoption after a restart).
    state: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # What the caller gave the IVR (member number, order number, …), by field name.
    data: Mapped[dict[str, Any]] = mapped_column(
        JSONType, default=dict, server_default=text("'{}'")
    )
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def is_complete(self) -> bool:
        return self.ended_at is not None and self.end_reason is not None

    def __repr__(self) -> str:
        return f"<Call {self.node}/{self.channel_id} ended={self.ended_at}>"


CUSTOMER_TIERS = ("general", "member", "vip")


class Customer(Base):
    """A known caller, found by caller ID; the tier decides priority and callbacks."""

    __tablename__ = "customers"
    __table_args__ = (
        CheckConstraint(
            "tier IN (" + ", ".join(f"'{t}'" for t in CUSTOMER_TIERS) + ")", name="tier"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Normalised (ticketdb.customers.normalise_phone): digits, with a leading + kept.
    phone: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128), default="")
    tier: Mapped[str] = mapped_column(String(16), default="general")
    company: Mapped[str | None] = mapped_column(String(128))
    address: Mapped[str | None] = mapped_column(String(256))
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"<Customer {self.phone} {self.tier}>"


class CallbackRequest(Base):
    """A caller asked to be called back (from the IVR menu or while waiting in a queue)."""

    __tablename__ = "callback_requests"
    __table_args__ = (
        # One request per call and source, so a replayed request is a no-op.
        UniqueConstraint("node", "channel_id", "source"),
        # The callback list: open requests, oldest first.
        Index("ix_callback_requests_status_requested_at", "status", "requested_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    node: Mapped[str] = mapped_column(String(64))
    channel_id: Mapped[str] = mapped_column(String(128))
    number: Mapped[str] = mapped_column(String(32))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # "ivr" or "queue"; "open" → later states. No CHECK constraints, like calls: a new
    # value must never make a request unwritable.
    source: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(8), default="")
    status: Mapped[str] = mapped_column(String(16), default="open")
    note: Mapped[str | None] = mapped_column(Text)

    def __repr__(self) -> str:
        return f"<CallbackRequest {self.number} {self.source} {self.status}>"


AGENT_ROLES = ("agent", "lead", "admin")
# agents.seats.State, repeated so the schema doesn't import the state machine.
SEAT_STATES = ("offline", "available", "ringing", "on_call", "wrap_up", "away", "on_leave")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


class Agent(Base):
    """A person who takes calls (or leads those who do). Never deleted: history refers to it."""

    __tablename__ = "agents"
    __table_args__ = (CheckConstraint(_one_of("role", AGENT_ROLES), name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    staff_number: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16), default="agent")
    team: Mapped[str] = mapped_column(String(64), default="")
    languages: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # Where the queue engine rings the agent, e.g. "PJSIP/8001".
    endpoint: Mapped[str] = mapped_column(String(128))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # None: the team's default from the shift rules.
    away_limit_minutes: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<Agent {self.staff_number} {self.role}>"


class AgentSkill(Base):
    __tablename__ = "agent_skills"
    __table_args__ = (CheckConstraint("level BETWEEN 1 AND 5", name="level"),)

    # The primary key makes (agent, skill) unique.
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"), primary_key=True)
    skill: Mapped[str] = mapped_column(String(64), primary_key=True)
    level: Mapped[int] = mapped_column(Integer)

    def __repr__(self) -> str:
        return f"<AgentSkill {self.agent_id} {self.skill}:{self.level}>"


class SeatState(Base):
    """The current state of one agent's seat; every change bumps ``version``.

    ``claimed_by_node``/``claim_channel`` say which controller reserved the agent for
    which call: set by one conditional UPDATE (``ticketdb.seats.claim_available``), so
    two nodes can never both win the same agent.
    """

    __tablename__ = "seat_states"
    __table_args__ = (CheckConstraint(_one_of("state", SEAT_STATES), name="state"),)

    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default="offline")
    since: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(String(32))
    wrap_up_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by_node: Mapped[str | None] = mapped_column(String(64))
    claim_channel: Mapped[str | None] = mapped_column(String(128))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=0)

    def __repr__(self) -> str:
        return f"<SeatState {self.agent_id} {self.state} v{self.version}>"


class SeatStateChange(Base):
    """One stored change of a seat's state: when, from what to what, why and by whom."""

    __tablename__ = "seat_state_changes"
    __table_args__ = (Index("ix_seat_state_changes_agent_id_at", "agent_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"))
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    # A staff number, or "system" for the controller.
    by: Mapped[str] = mapped_column(String(32))
    node: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)

    def __repr__(self) -> str:
        return f"<SeatStateChange {self.agent_id} {self.from_state}->{self.to_state} {self.at}>"
