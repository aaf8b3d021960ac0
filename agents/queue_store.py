"""The global queue: one ``queue_entries`` row per call (or queue callback) waiting for a
person, shared by every controller node.

Queue order is computed from these rows by ``agents.distribution`` on every node alike;
the rows only hold what the order needs. An entry is keyed by the call —
``(node, channel_id)`` — so a replayed enqueue, or a transfer to another queue, lands on
the same row and keeps the first arrival time and the arrival sequence (``id``).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from callbacks import worklist
from callbacks.plan import CallbackRules
from callbacks.requests import request_callback
from ticketdb.models import Call, CallbackRequest, QueueEntry
from ticketdb.sql import insert, transaction

# Entries still waiting for an agent (an offered one may come back to waiting).
QUEUED = ("waiting", "offered", "callback", "dialing")


@dataclass(frozen=True)
class EnqueueResult:
    entry_id: int
    refused: str | None = None  # "full"


def enqueue(
    s: Session,
    *,
    node: str,
    channel_id: str,
    queue: str,
    tier: str,
    arrived_at: datetime,
    now: datetime,
    caller_number: str = "",
    language: str = "",
    priority: int = 0,
    skill: str | None = None,
    injury: bool = False,
    external: bool = True,
    max_length: int | None = None,
    keep_place: bool = False,
) -> EnqueueResult:
    """Put the call in ``queue`` (or move it there); commits.

    A call already in the queue table keeps its arrival time and sequence: a transfer
    keeps the caller's place in line. Refused with ``"full"`` when ``max_length`` callers
    already wait in ``queue`` (the call's own row does not count). With ``keep_place``
    an existing entry is left exactly as it is.
    """
    with transaction(s):
        existing = s.scalars(
            select(QueueEntry)
            .where(QueueEntry.node == node, QueueEntry.channel_id == channel_id)
            .with_for_update()
        ).one_or_none()
        if keep_place and existing is not None:
            return EnqueueResult(existing.id)
        if max_length is not None:
            waiting = s.scalar(
                select(func.count())
                .select_from(QueueEntry)
                .where(
                    QueueEntry.queue == queue,
                    QueueEntry.status.in_(QUEUED),
                    or_(QueueEntry.node != node, QueueEntry.channel_id != channel_id),
                )
            )
            if (waiting or 0) >= max_length:
                return EnqueueResult(existing.id if existing else 0, refused="full")
        values: dict[str, Any] = {
            "queue": queue,
            "tier": tier,
            "priority": priority,
            "skill": skill,
            "injury": injury,
            "external": external,
            "entered_at": now,
            "status": "waiting",
            "agent_id": None,
            "updated_at": now,
        }
        if existing is not None:
            s.execute(
                update(QueueEntry)
                .where(QueueEntry.id == existing.id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            return EnqueueResult(existing.id)
        s.execute(
            insert(s, QueueEntry)
            .values(
                node=node,
                channel_id=channel_id,
                arrived_at=arrived_at,
                caller_number=caller_number,
                language=language[:8],
                **values,
            )
            .on_conflict_do_nothing(index_elements=["node", "channel_id"])
        )
        entry_id = s.scalar(
            select(QueueEntry.id).where(
                QueueEntry.node == node, QueueEntry.channel_id == channel_id
            )
        )
    assert entry_id is not None
    return EnqueueResult(entry_id)


def mark(
    s: Session,
    *,
    node: str,
    channel_id: str,
    status: str,
    now: datetime,
    agent_id: int | None = None,
) -> bool:
    """Set the entry's status (and the agent it is offered to / connected with); commits."""
    with transaction(s):
        result = s.execute(
            update(QueueEntry)
            .where(QueueEntry.node == node, QueueEntry.channel_id == channel_id)
            .values(status=status, agent_id=agent_id, updated_at=now)
            # No in-session objects to refresh: a pass has a thousand entries loaded.
            .execution_options(synchronize_session=False)
        )
    return bool(getattr(result, "rowcount", 0))


def leave(s: Session, *, node: str, channel_id: str) -> None:
    """The call left the queue for good; commits. Unknown calls are fine (a replay)."""
    with transaction(s):
        s.execute(
            delete(QueueEntry)
            .where(QueueEntry.node == node, QueueEntry.channel_id == channel_id)
            .execution_options(synchronize_session=False)
        )


@dataclass(frozen=True, slots=True)
class Queued:
    """A queue entry as the distributor reads it: plain columns, no ORM identity. Every
    pass reads every waiting call, and passes run several times a second under load."""

    id: int
    node: str
    channel_id: str
    queue: str
    tier: str
    injury: bool
    external: bool
    priority: int
    skill: str | None
    arrived_at: datetime
    status: str
    agent_id: int | None
    callback_id: int | None


_QUEUED_COLUMNS = tuple(getattr(QueueEntry, name) for name in Queued.__slots__)


def queued(s: Session, *, live_nodes: Collection[str], now: datetime) -> list[Queued]:
    """Entries the distributor may assign now: calls waiting on live nodes, and queue
    callbacks due (whichever node booked them: a callback outlives its node)."""
    stmt = (
        select(*_QUEUED_COLUMNS)
        .where(
            or_(
                (QueueEntry.status == "waiting") & QueueEntry.node.in_(list(live_nodes)),
                (QueueEntry.status == "callback")
                & or_(QueueEntry.not_before.is_(None), QueueEntry.not_before <= now),
            )
        )
        .order_by(QueueEntry.id)
    )
    return [Queued(*row) for row in s.execute(stmt)]


def is_pinned(entry: QueueEntry | Queued) -> bool:
    """A callback entry for one agent only: a worklist dial, or a queue callback an
    agent clicked to dial (decision 0013). The distributor gives it to no one else."""
    return entry.status == "callback" and (
        entry.agent_id is not None or worklist.is_dial_entry(entry)
    )


# --- queue callbacks -----------------------------------------------------------------------


def book_callback(
    s: Session,
    *,
    node: str,
    channel_id: str,
    number: str,
    language: str,
    now: datetime,
    queue: str,
    tier: str = "general",
    arrived_at: datetime | None = None,
    priority: int = 0,
    skill: str | None = None,
    injury: bool = False,
) -> int:
    """Turn the caller's place into a queue callback; commits; returns the request id.

    The entry keeps its arrival and sequence, so the callback is served in the caller's
    turn; a caller the queue refused (full, nobody on shift) gets a new place in
    ``queue``, served once an agent is free. A replay returns the same request (one per
    call and source, never two).
    """
    enqueue(
        s,
        node=node,
        channel_id=channel_id,
        queue=queue,
        tier=tier,
        arrived_at=arrived_at or now,
        now=now,
        caller_number=number,
        language=language,
        priority=priority,
        skill=skill,
        injury=injury,
        keep_place=True,
    )
    request_callback(
        s,
        node=node,
        channel_id=channel_id,
        number=number,
        requested_at=now,
        source="queue",
        language=language,
    )
    with transaction(s):
        request = s.scalars(
            select(CallbackRequest).where(
                CallbackRequest.node == node,
                CallbackRequest.channel_id == channel_id,
                CallbackRequest.source == "queue",
            )
        ).one()
        entry = s.scalars(
            select(QueueEntry).where(QueueEntry.node == node, QueueEntry.channel_id == channel_id)
        ).one_or_none()
        if entry is not None:
            request.queue = entry.queue
            entry.status = "callback"
            entry.callback_id = request.id
            entry.agent_id = None
            entry.updated_at = now
        s.execute(
            update(Call)
            .where(Call.node == node, Call.channel_id == channel_id)
            .values(callback_id=request.id)
        )
        callback_id = request.id
    return callback_id


def start_callback(s: Session, *, entry_id: int, agent_id: int, node: str, now: datetime) -> bool:
    """Take a due callback entry for dialling; commits. Exactly one node wins a race."""
    with transaction(s):
        result = s.execute(
            update(QueueEntry)
            .where(QueueEntry.id == entry_id, QueueEntry.status == "callback")
            .values(status="dialing", agent_id=agent_id, dialing_node=node, updated_at=now)
            .execution_options(synchronize_session=False)
        )
    return bool(getattr(result, "rowcount", 0))


@dataclass(frozen=True)
class CallbackOutcome:
    finished: bool  # answered, or out of attempts
    attempts: int


def record_callback_attempt(
    s: Session,
    *,
    entry_id: int,
    outcome: str,
    agent: str | None,
    channel: str | None,
    now: datetime,
    retry_after: timedelta,
    max_attempts: int,
    rules: CallbackRules | None = None,
) -> CallbackOutcome:
    """Record one attempt of a queue callback; commits.

    ``answered`` completes the request and removes the entry. ``agent_unavailable`` (no
    agent picked up) and ``quiet_hours`` (quiet hours began before the customer was
    dialled) don't count as attempts on the customer: the entry simply waits again. Any
    other outcome (no answer, busy, failed) counts; the entry waits until
    ``now + retry_after`` — another time slot — or, out of attempts, the request is
    closed as ``unreached``. A worklist dial is recorded by the worklist's own rules
    (``callbacks.worklist.apply_dial_outcome``, with ``rules``).
    """
    with transaction(s):
        entry = s.get(QueueEntry, entry_id, populate_existing=True)
        if entry is None or entry.callback_id is None:
            return CallbackOutcome(True, 0)
        request = s.get(CallbackRequest, entry.callback_id, populate_existing=True)
        assert request is not None
        if not worklist.is_dial_entry(entry):
            return _queue_callback_attempt(
                s, entry, request, outcome, agent, channel, now, retry_after, max_attempts
            )
        closed = worklist.apply_dial_outcome(
            s,
            entry,
            request,
            outcome=outcome,
            agent=agent,
            channel=channel,
            now=now,
            rules=rules or CallbackRules((), UTC, max_attempts),
        )
        request_id, attempts = request.id, request.attempts
    if closed:  # unreachable: a complaint's ticket records that too
        worklist.close_ticket(s, request_id, agent or "system", now)
    return CallbackOutcome(closed, attempts)


def _queue_callback_attempt(
    s: Session,
    entry: QueueEntry,
    request: CallbackRequest,
    outcome: str,
    agent: str | None,
    channel: str | None,
    now: datetime,
    retry_after: timedelta,
    max_attempts: int,
) -> CallbackOutcome:
    """A queue callback's attempt, inside the caller's transaction."""
    counts = outcome not in worklist.NOT_ATTEMPTS
    attempts = request.attempts + (1 if counts else 0)
    request.history = [
        *request.history,
        {"t": now.isoformat(), "outcome": outcome, "agent": agent, "channel": channel},
    ]
    request.attempts = attempts
    request.last_attempt_at = now
    if counts:
        request.outcome = outcome
    finished = outcome == "answered" or attempts >= max_attempts
    if finished:
        request.status = "done" if outcome == "answered" else "unreached"
        request.completed_at = now
        s.delete(entry)
    else:
        entry.status = "callback"
        entry.agent_id = None
        entry.dialing_node = None
        entry.updated_at = now
        if counts:
            entry.not_before = now + retry_after
    return CallbackOutcome(finished, attempts)
