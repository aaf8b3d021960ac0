"""Call records (one row per call, keyed by (node, channel_id)), customers, callback requests,
agents and their seat states."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from kernel.clock import utcnow
from kernel.roles import ALL_ROLES
from ticketdb.base import Base, JSONType, UTCDateTime


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
        # The screen pop and the CRM API look up a caller's past calls by number.
        Index("ix_calls_caller_number", "caller_number"),
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
    # Every leg after the IVR, in order: queue entries, agent offers and answers, holds,
    # transfers (``ivr.queue``), each a dict with at least "t" and "event".
    legs: Mapped[list[Any]] = mapped_column(JSONType, default=list, server_default=text("'[]'"))
    queue_entered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    agent_answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The queue callback this call became (the caller kept their place and hung up).
    callback_id: Mapped[int | None] = mapped_column(Integer)
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
    queue: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    agent_id: Mapped[int | None] = mapped_column(Integer)
    # answered | no_answer | busy | failed | agent_unavailable | …; None while open.
    outcome: Mapped[str | None] = mapped_column(String(32))
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Every attempt: {"t", "agent", "outcome", "channel"}.
    history: Mapped[list[Any]] = mapped_column(JSONType, default=list, server_default=text("'[]'"))
    # The callback worklist (issue #5): what it follows up, by when, for whom, and how it
    # went. Generated requests (complaint, member, survey, apology) are keyed
    # node="" and channel_id="ticket:<id>" / "call:<id>", so generating twice adds nothing.
    ticket_id: Mapped[int | None] = mapped_column(Integer)
    customer_id: Mapped[int | None] = mapped_column(Integer)
    call_id: Mapped[int | None] = mapped_column(Integer)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Not dialled before this (a later time slot after an unreached attempt).
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The agent whose worklist it is on (agents.id).
    assigned_to: Mapped[int | None] = mapped_column(Integer)
    # satisfied | neutral | unsatisfied
    satisfaction: Mapped[str | None] = mapped_column(String(16))
    remarks: Mapped[str | None] = mapped_column(Text)

    def __repr__(self) -> str:
        return f"<CallbackRequest {self.number} {self.source} {self.status}>"


# agents.seats.State, repeated so the schema doesn't import the state machine.
SEAT_STATES = ("offline", "available", "ringing", "on_call", "wrap_up", "away", "on_leave")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


class Agent(Base):
    """A person who takes calls (or leads those who do). Never deleted: history refers to it."""

    __tablename__ = "agents"
    __table_args__ = (CheckConstraint(_one_of("role", ALL_ROLES), name="role"),)

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
    # A salted hash (werkzeug.security); None: cannot log in to the web page.
    password_hash: Mapped[str | None] = mapped_column(String(256))
    # Offers not answered in a row; reset on answer (queue engine, any node).
    missed_in_row: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    # The normal seat a lead designated to act while no lead is present (at most one).
    acting_lead: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The web page's language for this user: "en" or "zh".
    ui_language: Mapped[str] = mapped_column(String(8), default="en", server_default="en")

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
    which call: set by one conditional UPDATE (``agents.seat_store.claim_available``), so
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
    # The claiming node's generation (``ControllerNode.generation``) when it claimed.
    claim_generation: Mapped[int | None] = mapped_column(Integer)
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


QUEUE_ENTRY_STATUSES = ("waiting", "offered", "connected", "callback", "dialing", "done")


class QueueEntry(Base):
    """A call (or a queue callback) waiting for an agent: the global queue every node reads.

    ``id`` is the global arrival sequence; ``arrived_at`` is the first arrival in any
    queue (kept across transfers between queues), ``entered_at`` the arrival in this one.
    Rows are deleted when the call leaves the queue for good (answered, abandoned, ended).
    """

    __tablename__ = "queue_entries"
    __table_args__ = (
        UniqueConstraint("node", "channel_id"),
        Index("ix_queue_entries_status", "status", "queue"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    node: Mapped[str] = mapped_column(String(64))
    channel_id: Mapped[str] = mapped_column(String(128))
    queue: Mapped[str] = mapped_column(String(64))
    tier: Mapped[str] = mapped_column(String(16), default="general")
    injury: Mapped[bool] = mapped_column(Boolean, default=False)
    external: Mapped[bool] = mapped_column(Boolean, default=True)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    skill: Mapped[str | None] = mapped_column(String(64))
    arrived_at: Mapped[datetime] = mapped_column(UTCDateTime)
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="waiting")
    agent_id: Mapped[int | None] = mapped_column(Integer)
    caller_number: Mapped[str] = mapped_column(String(64), default="")
    language: Mapped[str] = mapped_column(String(8), default="")
    callback_id: Mapped[int | None] = mapped_column(Integer)
    # A callback not reached is tried again in a later time slot, not before this.
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The node dialling a queue callback just now (any live node may take one).
    dialing_node: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"<QueueEntry {self.id} {self.queue} {self.status} {self.node}/{self.channel_id}>"


class ControllerNode(Base):
    """A controller process sharing the database; a stale heartbeat means it died."""

    __tablename__ = "controller_nodes"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Goes up each time the node (re)joins: a process that was buried while it stalled,
    # or a restart, is a new generation, and claims say which generation made them.
    generation: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))


class AgentPhone(Base):
    """An agent's phone as one node's Asterisk sees it (``GET /endpoints``, endpoint state
    events, refused originates): reachable or not (and why), and how many channels it
    carries. One row per agent and node: each node rings through its own Asterisk."""

    __tablename__ = "agent_phones"

    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"), primary_key=True)
    node: Mapped[str] = mapped_column(String(64), primary_key=True)
    endpoint: Mapped[str] = mapped_column(String(128))
    reachable: Mapped[bool] = mapped_column(Boolean)
    channels: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    reason: Mapped[str | None] = mapped_column(String(256))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LeadAlert(Base):
    """An alert for the lead's wallboard (understaffed, overdue away, no acting lead,
    missed calls); open while ``cleared_at`` is None."""

    __tablename__ = "lead_alerts"
    __table_args__ = (Index("ix_lead_alerts_cleared_at", "cleared_at", "raised_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    agent_id: Mapped[int | None] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(Text)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime)
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    node: Mapped[str] = mapped_column(String(64))


class HandoverNote(Base):
    """The handover log at a change of shift: the author's text plus a generated summary
    (open callbacks, active alerts, calls waiting)."""

    __tablename__ = "handover_notes"
    __table_args__ = (UniqueConstraint("team", "at", "author"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team: Mapped[str] = mapped_column(String(64))
    shift_ending: Mapped[str | None] = mapped_column(String(64))
    shift_starting: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    author: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    summary: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class CallControl(Base):
    """A request from the web page to the controller that runs a call (hold, transfer …);
    the node polls its pending ones and answers in ``status``/``result``."""

    __tablename__ = "call_controls"
    __table_args__ = (Index("ix_call_controls_node_status", "node", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    node: Mapped[str] = mapped_column(String(64))
    channel_id: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(32))
    args: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    requested_by: Mapped[str] = mapped_column(String(32))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # pending → done | failed
    status: Mapped[str] = mapped_column(String(16), default="pending")
    result: Mapped[str | None] = mapped_column(Text)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# --- tickets (issue #5) -------------------------------------------------------------

TICKET_KINDS = ("order", "complaint", "inquiry", "fault", "other")
# tickets.workflow.Status, repeated so the schema doesn't import the workflow.
TICKET_STATUSES = (
    "new",
    "assigned",
    "in_progress",
    "resolved",
    "callback_done",
    "closed",
    "rejected",
    "out_of_area",
    "unfounded",
)
TICKET_SEVERITIES = ("normal", "high", "urgent")


class Ticket(Base):
    """A record the business acts on: an order, complaint, inquiry, fault report or other.

    The fields every kind shares are columns; the kind's own fields (domain.md §2) are in
    ``details``, always written through the kind's validating model (``tickets.kinds``),
    never as a free-form blob.
    """

    __tablename__ = "tickets"
    __table_args__ = (
        CheckConstraint(_one_of("kind", TICKET_KINDS), name="kind"),
        CheckConstraint(_one_of("status", TICKET_STATUSES), name="status"),
        CheckConstraint(_one_of("severity", TICKET_SEVERITIES), name="severity"),
        Index("ix_tickets_status_kind", "status", "kind"),
        Index("ix_tickets_created_at", "created_at"),
        Index("ix_tickets_contact_phone", "contact_phone"),
        Index("ix_tickets_call_id", "call_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    # The kind's sub-category, e.g. "product_quality" / "service_quality" for complaints.
    category: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="new")
    severity: Mapped[str] = mapped_column(String(16), default="normal")
    # The call this ticket was opened from (None: made by hand).
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    contact_name: Mapped[str] = mapped_column(String(128), default="")
    contact_phone: Mapped[str] = mapped_column(String(32), default="")
    address: Mapped[str] = mapped_column(String(256), default="")
    # One line saying what it is about; the kind's fields hold the rest.
    summary: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(
        JSONType, default=dict, server_default=text("'{}'")
    )
    menu_path: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    queue: Mapped[str | None] = mapped_column(String(64))
    # Staff numbers: who took the call / created it, and who works on it now.
    created_by: Mapped[str] = mapped_column(String(32))
    assignee: Mapped[str | None] = mapped_column(String(32))
    # Who it was escalated to (department names from the escalation rules).
    department: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # SLA milestones: set by the workflow when the status first reaches them.
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    callback_done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Orders: the day's dispatch list this order went out on (local date), and channel.
    dispatch_day: Mapped[str | None] = mapped_column(String(10))
    dispatch_channel: Mapped[str | None] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer, default=0)

    def __repr__(self) -> str:
        return f"<Ticket {self.id} {self.kind} {self.status}>"


class TicketEvent(Base):
    """One change of a ticket: who, when, what (status, fields, assignment, a note)."""

    __tablename__ = "ticket_events"
    __table_args__ = (Index("ix_ticket_events_ticket_id_at", "ticket_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    # A staff number, or "system".
    actor: Mapped[str] = mapped_column(String(32))
    # created | status | fields | assigned | note | escalated | dispatched
    action: Mapped[str] = mapped_column(String(16))
    # {field: [old, new]} for changes; {} for a note.
    changes: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    note: Mapped[str | None] = mapped_column(Text)


class Notification(Base):
    """The persistent outbox: one message to one recipient over one channel.

    Unique per (ticket, rule, channel, recipient), so escalating the same ticket twice
    never sends twice. A send that fails is retried with backoff (``next_attempt_at``);
    every attempt is a ``NotificationAttempt`` row.
    """

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("ticket_id", "rule", "channel", "recipient"),
        Index("ix_notifications_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    rule: Mapped[str] = mapped_column(String(64))
    # "email" or "inapp".
    channel: Mapped[str] = mapped_column(String(16))
    # An e-mail address, or a role / staff number for in-app.
    recipient: Mapped[str] = mapped_column(String(256))
    subject: Mapped[str] = mapped_column(String(256))
    body: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(16), default="normal")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # pending → sent | failed (gave up); in-app: pending until read → read
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class NotificationAttempt(Base):
    __tablename__ = "notification_attempts"
    __table_args__ = (Index("ix_notification_attempts_notification_id", "notification_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    ok: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(Text)


class TicketSla(Base):
    """Where a ticket stands against one SLA target, as the last sweep computed it."""

    __tablename__ = "ticket_slas"
    __table_args__ = (
        UniqueConstraint("ticket_id", "target"),
        Index("ix_ticket_slas_state", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    # first_response | callback | resolution
    target: Mapped[str] = mapped_column(String(32))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # ok | near | breached | met | missed (met late)
    state: Mapped[str] = mapped_column(String(16))
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Recording(Base):
    """A call recording kept under ``recordings/calls/YYYY/MM/DD/<call-id>.wav``."""

    __tablename__ = "recordings"
    __table_args__ = (
        UniqueConstraint("name"),
        Index("ix_recordings_call_id", "call_id"),
        Index("ix_recordings_started_at", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"))
    # The ARI recording name (unique per recording).
    name: Mapped[str] = mapped_column(String(128))
    # Relative to paths.calls_dir; None until the file is stored.
    path: Mapped[str | None] = mapped_column(String(512))
    size_bytes: Mapped[int | None] = mapped_column(Integer)
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # recording | stored | failed | purged
    status: Mapped[str] = mapped_column(String(16), default="recording")
    error: Mapped[str | None] = mapped_column(Text)


class AuditEntry(Base):
    """Every access to a customer record, ticket, call or recording (domain.md §7)."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_object", "object_type", "object_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(16))
    # view | search | play | download | export | refused
    action: Mapped[str] = mapped_column(String(16))
    # customer | ticket | call | recording | report
    object_type: Mapped[str] = mapped_column(String(16))
    object_id: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)


class RetentionRun(Base):
    """One purge of recordings and call ledgers older than the retention period."""

    __tablename__ = "retention_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    cutoff: Mapped[datetime] = mapped_column(UTCDateTime)
    by: Mapped[str] = mapped_column(String(32))
    recordings: Mapped[int] = mapped_column(Integer)
    recording_bytes: Mapped[int] = mapped_column(BigInteger)
    calls: Mapped[int] = mapped_column(Integer)
    # What went: {"recordings": [paths…], "calls": [ids…]} (kept small: ids only).
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class JobRun(Base):
    """One run of a scheduled job, on whichever node held the scheduler lock."""

    __tablename__ = "job_runs"
    __table_args__ = (
        UniqueConstraint("job", "scheduled_at"),
        Index("ix_job_runs_job_started_at", "job", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(String(64))
    node: Mapped[str] = mapped_column(String(64))
    # The run's scheduled time: (job, scheduled_at) is unique, so a run is never doubled.
    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # running | ok | failed
    status: Mapped[str] = mapped_column(String(16))
    result: Mapped[str | None] = mapped_column(Text)


class SchedulerLease(Base):
    """Who runs the scheduler: one row per lock name, held by renewing ``expires_at``."""

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


# --- the web page (issue #6) --------------------------------------------------------


class LoginAttempt(Base):
    """One try to log in to the web page, kept for throttling (per staff number and per
    address) and for the audit of who tried what."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_staff_number_at", "staff_number", "at"),
        Index("ix_login_attempts_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    staff_number: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    succeeded: Mapped[bool] = mapped_column(Boolean)


class ApiToken(Base):
    """A bearer token for /api/v1, acting as its agent (with that agent's role)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"))
    name: Mapped[str] = mapped_column(String(64))
    # sha256 hex of the token; the token itself is shown once and never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
