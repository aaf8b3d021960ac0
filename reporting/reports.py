"""Management reports over a period (domain.md §6, issue #6 item 4): tickets by kind,
calls and tickets by origin, queue and agent figures, callback satisfaction, callbacks
done against due, and member callback coverage (``callbacks.worklist.coverage_report``).

Every function reads only and takes the period as UTC instants ``[start, end)``
(``reporting.periods.window`` makes them from a local day, week or month). Rows
are fetched with the few columns a report needs and counted in Python, so SQLite and
PostgreSQL give the same figures by construction.

Which instant places a record in the period:

- a ticket: ``created_at`` (created, urgent, by origin, by agent); ``resolved_at`` and
  ``closed_at`` for the tickets resolved and closed in the period, whenever created;
- a call: ``started_at``; in a queue, its arrival there (``queue_entered_at``); for an
  agent, the moment the agent answered (``agent_answered_at``);
- a callback item: when it is due (``due_at``; a caller's own request from the IVR, the
  queue or the API has none and is due ``callbacks.due_days`` after it was made, the
  "within 3 days" rule) and when it was completed (``completed_at``).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from agents.lead_store import ABANDONED
from agents.service_level import service_level
from callbacks.worklist import (
    OPEN,
    OUTBOUND_DIALLED,
    REACHED_STATUSES,
    SATISFACTION,
    UNREACHABLE_STATUSES,
)
from reporting.periods import share
from ticketdb.models import TICKET_KINDS, Agent, Call, CallbackRequest, Ticket

# Where a call came from: dialled in by the customer, or a callback we dialled out.
INBOUND = "inbound"
CALLBACK = "callback"
# A ticket made by hand, not from a call.
MANUAL = "manual"
ORIGINS = (INBOUND, CALLBACK, MANUAL)
# Callback items by why they exist, in the order the reports list them.
CALLBACK_SOURCES = ("complaint", "member", "survey", "apology", "ivr", "queue", "api")
# "Answered within three rings" (domain.md §6) for a queue not in the queues file.
DEFAULT_SERVICE_LEVEL_SECONDS = 15
# A callback is made within 3 days (domain.md §5): the due time of an item without one.
DEFAULT_DUE = timedelta(days=3)
TOTAL = "total"


def _in(at: datetime | None, start: datetime, end: datetime) -> bool:
    return at is not None and start <= at < end


def _between(column: Any, start: datetime, end: datetime) -> Any:
    return and_(column >= start, column < end)


def _mean(values: Sequence[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def _source_order(sources: Iterable[str]) -> list[str]:
    known = [src for src in CALLBACK_SOURCES if src in sources]
    return known + sorted(set(sources) - set(CALLBACK_SOURCES))


# --- tickets by kind -----------------------------------------------------------------


@dataclass(frozen=True)
class KindRow:
    kind: str  # a ticket kind, or "total"
    created: int
    urgent: int  # created with severity urgent (e.g. a complaint with an injury)
    resolved: int  # resolved in the period, whenever created
    closed: int  # closed in the period, whenever created


def by_kind(s: Session, start: datetime, end: datetime) -> list[KindRow]:
    """One row per ticket kind (every kind, zeros included), then the total."""
    rows = s.execute(
        select(
            Ticket.kind, Ticket.severity, Ticket.created_at, Ticket.resolved_at, Ticket.closed_at
        ).where(
            or_(
                _between(Ticket.created_at, start, end),
                _between(Ticket.resolved_at, start, end),
                _between(Ticket.closed_at, start, end),
            )
        )
    ).all()
    counts: dict[str, Counter[str]] = {kind: Counter() for kind in TICKET_KINDS}
    for r in rows:
        c = counts.setdefault(r.kind, Counter())
        if _in(r.created_at, start, end):
            c["created"] += 1
            c["urgent"] += r.severity == "urgent"
        c["resolved"] += _in(r.resolved_at, start, end)
        c["closed"] += _in(r.closed_at, start, end)
    out = [
        KindRow(kind, c["created"], c["urgent"], c["resolved"], c["closed"])
        for kind, c in counts.items()
    ]
    return [*out, _sum_rows(KindRow, out, kind=TOTAL)]


def _sum_rows(cls: Any, rows: Sequence[Any], **label: str) -> Any:
    """A total row: the sum of every integer field of ``rows``."""
    values: dict[str, Any] = dict(label)
    for f in fields(cls):
        if f.name not in values:
            values[f.name] = sum(getattr(r, f.name) for r in rows)
    return cls(**values)


# --- calls and tickets by origin -----------------------------------------------------


@dataclass(frozen=True)
class OriginRow:
    origin: str  # inbound | callback | manual | total
    calls: int  # calls started in the period
    answered: int  # of those, talked to an agent (a callback: the customer answered)
    self_service: int  # inbound calls that ended in the voice menu, never queued
    tickets: int  # tickets created in the period from calls of this origin (or by hand)


def call_origin(dialled_number: str | None) -> str:
    """inbound, or callback for the records of callbacks we dialled out."""
    return CALLBACK if dialled_number == OUTBOUND_DIALLED else INBOUND


def by_origin(s: Session, start: datetime, end: datetime) -> list[OriginRow]:
    """Calls and the tickets made from them, by where the call came from; tickets made
    by hand under "manual"; then the total."""
    calls = s.execute(
        select(Call.dialled_number, Call.agent_answered_at, Call.queue).where(
            _between(Call.started_at, start, end)
        )
    ).all()
    tickets = s.execute(
        select(Ticket.call_id, Call.dialled_number)
        .outerjoin(Call, Call.id == Ticket.call_id)
        .where(_between(Ticket.created_at, start, end))
    ).all()
    counts: dict[str, Counter[str]] = {origin: Counter() for origin in ORIGINS}
    for c in calls:
        origin = call_origin(c.dialled_number)
        counts[origin]["calls"] += 1
        counts[origin]["answered"] += c.agent_answered_at is not None
        counts[origin]["self_service"] += origin == INBOUND and c.queue is None
    for t in tickets:
        origin = MANUAL if t.call_id is None else call_origin(t.dialled_number)
        counts[origin]["tickets"] += 1
    out = [
        OriginRow(o, c["calls"], c["answered"], c["self_service"], c["tickets"])
        for o, c in counts.items()
    ]
    return [*out, _sum_rows(OriginRow, out, origin=TOTAL)]


# --- queues --------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueRow:
    queue: str
    offered: int  # callers who arrived in the queue in the period
    answered: int  # of those, answered by an agent
    abandoned: int  # hung up while waiting
    callback_kept: int  # kept their place and asked to be called back
    service_level_seconds: int
    answered_in_time: int  # answered within service_level_seconds
    service_level: float | None  # answered_in_time / answered; None: none answered
    asa_seconds: float | None  # average speed of answer; None: none answered
    abandon_rate: float | None  # abandoned / offered; None: none offered


def _wait(c: Any) -> float | None:
    if c.wait_seconds is not None:
        return max(0.0, float(c.wait_seconds))
    if c.queue_entered_at is not None and c.agent_answered_at is not None:
        return max(0.0, float((c.agent_answered_at - c.queue_entered_at).total_seconds()))
    return None


def by_queue(
    s: Session,
    start: datetime,
    end: datetime,
    service_levels: Mapping[str, int] | None = None,
) -> list[QueueRow]:
    """Each queue's callers who arrived in the period (a call is counted in the queue it
    was last in). ``service_levels`` maps the configured queues to their answer target
    in seconds (listed even without calls, in its order); other queues found in the
    records use ``DEFAULT_SERVICE_LEVEL_SECONDS``. Callbacks we dialled out are not
    offered calls and are left out."""
    levels = dict(service_levels or {})
    arrived = or_(
        _between(Call.queue_entered_at, start, end),
        and_(Call.queue_entered_at.is_(None), _between(Call.started_at, start, end)),
    )
    calls = s.execute(
        select(
            Call.queue,
            Call.queue_entered_at,
            Call.agent_answered_at,
            Call.wait_seconds,
            Call.end_reason,
            Call.callback_id,
        ).where(
            Call.queue.is_not(None),
            Call.dialled_number != OUTBOUND_DIALLED,
            arrived,
        )
    ).all()
    of: dict[str, list[Any]] = defaultdict(list)
    for c in calls:
        of[c.queue].append(c)
    names = list(levels) + sorted(set(of) - set(levels))
    out = []
    for name in names:
        target = levels.get(name, DEFAULT_SERVICE_LEVEL_SECONDS)
        rows = of.get(name, [])
        answered = [c for c in rows if c.agent_answered_at is not None]
        waits = [w for w in (_wait(c) for c in answered) if w is not None]
        in_time = sum(1 for w in waits if w <= target)
        abandoned = sum(1 for c in rows if c.end_reason == ABANDONED)
        out.append(
            QueueRow(
                queue=name,
                offered=len(rows),
                answered=len(answered),
                abandoned=abandoned,
                callback_kept=sum(1 for c in rows if c.callback_id is not None),
                service_level_seconds=target,
                answered_in_time=in_time,
                service_level=service_level(in_time, len(waits)),
                asa_seconds=_mean(waits),
                abandon_rate=share(abandoned, len(rows)),
            )
        )
    return out


# --- agents --------------------------------------------------------------------------


@dataclass(frozen=True)
class AgentRow:
    staff_number: str
    name: str
    answered: int  # inbound calls answered in the period
    callbacks_dialled: int  # callbacks dialled out in which the customer answered
    talk_seconds: float  # from answer to end, over both (calls that have ended)
    tickets: int  # tickets filed in the period
    callbacks_completed: int  # callback items completed with the customer reached

    @property
    def mean_talk_seconds(self) -> float | None:
        talks = self.answered + self.callbacks_dialled
        return self.talk_seconds / talks if talks else None


def _completed_by(r: Any, staff_of: Mapping[int, str]) -> str | None:
    """Who completed a callback item: the agent the worklist recorded, else (a queue
    callback) the agent of its last attempt."""
    if r.agent_id is not None and r.agent_id in staff_of:
        return staff_of[r.agent_id]
    for attempt in reversed(r.history or []):
        if isinstance(attempt, dict) and attempt.get("agent"):
            return str(attempt["agent"])
    return None


def by_agent(s: Session, start: datetime, end: datetime) -> list[AgentRow]:
    """Every active agent and lead (zeros included), and anyone else with work in the
    period, by staff number. A call transferred between agents counts for the last."""
    agents = s.execute(
        select(Agent.id, Agent.staff_number, Agent.name, Agent.role, Agent.active)
    ).all()
    staff_of = {a.id: a.staff_number for a in agents}
    names = {a.staff_number: a.name for a in agents}
    calls = s.execute(
        select(Call.agent, Call.dialled_number, Call.agent_answered_at, Call.ended_at).where(
            Call.agent.is_not(None), _between(Call.agent_answered_at, start, end)
        )
    ).all()
    tickets = s.execute(
        select(Ticket.created_by).where(_between(Ticket.created_at, start, end))
    ).all()
    done = s.execute(
        select(CallbackRequest.agent_id, CallbackRequest.history).where(
            CallbackRequest.status.in_(REACHED_STATUSES),
            _between(CallbackRequest.completed_at, start, end),
        )
    ).all()
    counts: dict[str, Counter[str]] = {
        a.staff_number: Counter() for a in agents if a.active and a.role in ("agent", "lead")
    }
    talk: dict[str, float] = defaultdict(float)
    for c in calls:
        key = "callbacks_dialled" if call_origin(c.dialled_number) == CALLBACK else "answered"
        counts.setdefault(c.agent, Counter())[key] += 1
        if c.ended_at is not None:
            talk[c.agent] += max(0.0, (c.ended_at - c.agent_answered_at).total_seconds())
    for t in tickets:
        counts.setdefault(t.created_by, Counter())["tickets"] += 1
    for r in done:
        who = _completed_by(r, staff_of)
        if who is not None:
            counts.setdefault(who, Counter())["callbacks_completed"] += 1
    return [
        AgentRow(
            staff_number=staff,
            name=names.get(staff, ""),
            answered=c["answered"],
            callbacks_dialled=c["callbacks_dialled"],
            talk_seconds=talk[staff],
            tickets=c["tickets"],
            callbacks_completed=c["callbacks_completed"],
        )
        for staff, c in sorted(counts.items())
    ]


# --- satisfaction --------------------------------------------------------------------


@dataclass(frozen=True)
class SatisfactionRow:
    source: str  # why the callback was made (complaint, member, survey …), or "total"
    satisfied: int
    neutral: int
    unsatisfied: int
    answers: int

    @property
    def satisfied_share(self) -> float | None:
        return share(self.satisfied, self.answers)


def satisfaction(s: Session, start: datetime, end: datetime) -> list[SatisfactionRow]:
    """What customers said when called back, for callbacks completed in the period, by
    the callback's reason; then the total."""
    rows = s.execute(
        select(CallbackRequest.source, CallbackRequest.satisfaction).where(
            CallbackRequest.status.in_(REACHED_STATUSES),
            CallbackRequest.satisfaction.in_(SATISFACTION),
            _between(CallbackRequest.completed_at, start, end),
        )
    ).all()
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for r in rows:
        counts[r.source][r.satisfaction] += 1
    out = [
        SatisfactionRow(
            source=src,
            satisfied=counts[src]["satisfied"],
            neutral=counts[src]["neutral"],
            unsatisfied=counts[src]["unsatisfied"],
            answers=sum(counts[src].values()),
        )
        for src in _source_order(counts)
    ]
    return [*out, _sum_rows(SatisfactionRow, out, source=TOTAL)]


# --- callbacks done against due ------------------------------------------------------


@dataclass(frozen=True)
class CallbackRow:
    source: str  # why the callback is made, or "total"
    due: int  # items due in the period
    done: int  # of those, the customer reached (by now)
    done_on_time: int  # of those, reached by the time it was due
    unreachable: int  # of those, given up after the last attempt
    open: int  # of those, still to do
    overdue: int  # of the open ones, past due at ``now``
    completed: int  # items completed (customer reached) in the period, whenever due

    @property
    def done_share(self) -> float | None:
        return share(self.done, self.due)


def callbacks(
    s: Session,
    start: datetime,
    end: datetime,
    now: datetime,
    default_due: timedelta = DEFAULT_DUE,
) -> list[CallbackRow]:
    """Callback items due in the period and how they stand at ``now``, by reason; then
    the total. An item without a due time is due ``default_due`` after it was made."""
    due_at = or_(
        _between(CallbackRequest.due_at, start, end),
        and_(
            CallbackRequest.due_at.is_(None),
            _between(CallbackRequest.requested_at, start - default_due, end - default_due),
        ),
    )
    rows = s.execute(
        select(
            CallbackRequest.source,
            CallbackRequest.status,
            CallbackRequest.due_at,
            CallbackRequest.requested_at,
            CallbackRequest.completed_at,
        ).where(or_(due_at, _between(CallbackRequest.completed_at, start, end)))
    ).all()
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for r in rows:
        c = counts[r.source]
        reached = r.status in REACHED_STATUSES
        if reached and _in(r.completed_at, start, end):
            c["completed"] += 1
        due = r.due_at if r.due_at is not None else r.requested_at + default_due
        if not _in(due, start, end):
            continue
        c["due"] += 1
        if reached:
            c["done"] += 1
            c["done_on_time"] += r.completed_at is not None and r.completed_at <= due
        elif r.status in UNREACHABLE_STATUSES:
            c["unreachable"] += 1
        elif r.status == OPEN:
            c["open"] += 1
            c["overdue"] += due < now
    out = [
        CallbackRow(
            source=src,
            **{f.name: counts[src][f.name] for f in fields(CallbackRow) if f.name != "source"},
        )
        for src in _source_order(counts)
    ]
    return [*out, _sum_rows(CallbackRow, out, source=TOTAL)]
