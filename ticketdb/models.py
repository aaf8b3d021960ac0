"""Call records (one row per call, keyed by (node, channel_id)), customers, callback requests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Float,
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
