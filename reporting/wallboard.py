"""The lead wallboard's figures for one local day: per-queue service figures, agents and
staffing against the shift rules, urgent tickets, and the chart series.

Definitions (the ones the wallboard prints next to the numbers):

- *answered*: calls an agent answered today (``agent_answered_at`` in the day so far);
  *abandoned*: callers who hung up while waiting, today (``end_reason`` "abandoned");
- *service level*: answered within the queue's ``service_level_seconds`` (15 s, "three
  rings", unless the queue sets its own) ÷ answered (``agents.service_level``, the
  same figure as the reports'); callers who gave up show in the abandonment rate;
- *ASA*: the mean wait of the answered calls; *abandonment rate*: abandoned ÷ (answered +
  abandoned); both None while there is nothing to divide by;
- *calls by kind*: distinct calls with a ticket of that kind opened today;
- *satisfaction*: per day, the mean of callback answers (satisfied 100, neutral 50,
  unsatisfied 0) and fault tickets' 1-5 ratings (mapped onto 0-100).

Days are local to the site's zone; every instant passed in and returned is aware. Only
reads.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from agents.lead_store import ABANDONED, WAITING_STATUSES, queue_calls
from agents.queue_config import QueueCatalog, QueueConfig
from agents.roster import read_roster
from agents.seat_store import list_seats
from agents.service_level import service_level
from agents.shifts import Alert, ShiftConfig, Staffing, alerts, overdue_away, staffing
from kernel.roles import SEAT_ROLES
from ticketdb.models import Call, CallbackRequest, QueueEntry, Ticket

DEFAULT_THRESHOLD = 15  # seconds; a queue not in the catalog answers "within three rings"
# A ticket the lead must still see: not yet resolved or otherwise finished.
FINISHED_STATUSES = ("resolved", "callback_done", "closed", "rejected", "out_of_area", "unfounded")
SATISFACTION_SCORES = {"satisfied": 100.0, "neutral": 50.0, "unsatisfied": 0.0}
RATING_FIELDS = ("rating_speed", "rating_attitude", "rating_result")


# --- days ---------------------------------------------------------------------------


def local_day(now: datetime, tz: tzinfo) -> date:
    return now.astimezone(tz).date()


def day_start(day: date, tz: tzinfo) -> datetime:
    """Local midnight of ``day`` as a UTC instant."""
    return datetime.combine(day, time(), tz).astimezone(UTC)


# --- queues -------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueDay:
    """One queue's wallboard line: waiting now, and the day so far."""

    queue: str
    threshold_seconds: int
    waiting: int
    oldest_waiting_since: datetime | None
    longest_wait_seconds: float | None
    offered: int  # entered the queue today
    answered: int
    answered_on_time: int
    abandoned: int
    service_level: float | None
    asa_seconds: float | None
    abandonment_rate: float | None
    by_kind: dict[str, int] = field(default_factory=dict)


def _threshold(catalog: QueueCatalog | None, queue: str) -> int:
    if catalog is None or not catalog.has_queue(queue):
        return DEFAULT_THRESHOLD
    config: QueueConfig = catalog.config(queue)
    return config.service_level_seconds


def _wait(row: Any) -> float | None:
    if row.wait_seconds is not None:
        return max(0.0, float(row.wait_seconds))
    if row.queue_entered_at is not None and row.agent_answered_at is not None:
        waited: timedelta = row.agent_answered_at - row.queue_entered_at
        return max(0.0, waited.total_seconds())
    return None


def _within(at: datetime | None, start: datetime, now: datetime) -> bool:
    return at is not None and start <= at <= now


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def queue_day(
    s: Session, catalog: QueueCatalog | None, start: datetime, now: datetime
) -> list[QueueDay]:
    """Every queue's figures from ``start`` (the local day's start) to ``now``: the
    catalog's queues in its order, then any other queue seen today by name."""
    waiting_rows = s.execute(
        select(QueueEntry.queue, QueueEntry.entered_at).where(
            QueueEntry.status.in_(WAITING_STATUSES)
        )
    ).all()
    calls = queue_calls(s, start, now)
    kinds = s.execute(
        select(Call.queue, Ticket.kind, func.count(func.distinct(Ticket.call_id)))
        .join(Call, Call.id == Ticket.call_id)
        .where(Ticket.created_at.between(start, now), Call.queue.is_not(None))
        .group_by(Call.queue, Ticket.kind)
    ).all()

    waiting_of: dict[str, list[datetime]] = defaultdict(list)
    for queue, entered in waiting_rows:
        waiting_of[queue].append(entered)
    calls_of: dict[str, list[Any]] = defaultdict(list)
    for row in calls:
        calls_of[row.queue].append(row)
    kinds_of: dict[str, dict[str, int]] = defaultdict(dict)
    for name, kind, count in kinds:
        if name is not None:
            kinds_of[name][kind] = int(count)

    names = list(catalog.queues) if catalog is not None else []
    seen = set(waiting_of) | set(calls_of) | set(kinds_of)
    names += sorted(seen - set(names))
    out = []
    for name in names:
        threshold = _threshold(catalog, name)
        oldest = min(waiting_of[name], default=None)
        rows = calls_of[name]
        answered = [r for r in rows if _within(r.agent_answered_at, start, now)]
        waits = [w for w in (_wait(r) for r in answered) if w is not None]
        on_time = sum(1 for w in waits if w <= threshold)
        abandoned = sum(
            1 for r in rows if r.end_reason == ABANDONED and _within(r.ended_at, start, now)
        )
        served = len(answered) + abandoned
        out.append(
            QueueDay(
                queue=name,
                threshold_seconds=threshold,
                waiting=len(waiting_of[name]),
                oldest_waiting_since=oldest,
                longest_wait_seconds=None
                if oldest is None
                else max(0.0, (now - oldest).total_seconds()),
                offered=sum(1 for r in rows if _within(r.queue_entered_at, start, now)),
                answered=len(answered),
                answered_on_time=on_time,
                abandoned=abandoned,
                service_level=service_level(on_time, len(waits)),
                asa_seconds=math.fsum(waits) / len(waits) if waits else None,
                abandonment_rate=_ratio(abandoned, served),
                by_kind=dict(sorted(kinds_of[name].items())),
            )
        )
    return out


# --- agents and staffing --------------------------------------------------------------


@dataclass(frozen=True)
class AgentLine:
    agent_id: int
    staff_number: str
    name: str
    role: str
    team: str
    state: str
    since: datetime
    reason: str | None
    acting_lead: bool
    away_limit_minutes: int | None  # the agent's own limit; None: the rules' default
    overdue_minutes: int | None  # away past the limit by this many minutes; None: not


@dataclass(frozen=True)
class StaffingView:
    """The shift rules' judgement of the roster now (None fields: no shifts file)."""

    agents: list[AgentLine]
    staffing: Staffing | None
    alerts: list[Alert]
    acting_lead_id: int | None
    default_away_limit: int | None


def staffing_view(s: Session, config: ShiftConfig | None, now: datetime) -> StaffingView:
    """Active seats (agents and leads, by staff number) with state and time in state, and
    what the shift rules say of them now: staffing, alerts, overdue aways."""
    overdue: dict[int, int] = {}
    staff: Staffing | None = None
    found: list[Alert] = []
    acting: int | None = None
    if config is not None:
        roster = read_roster(s, config)
        staff = staffing(roster, now)
        found = alerts(roster, now)
        overdue = {a.id: minutes for a, minutes in overdue_away(roster, now)}
        acting = roster.acting_lead_id
    lines = [
        AgentLine(
            agent_id=row.agent.id,
            staff_number=row.agent.staff_number,
            name=row.agent.name,
            role=row.agent.role,
            team=row.agent.team,
            state=row.seat.state,
            since=row.seat.since,
            reason=row.seat.reason,
            acting_lead=row.agent.acting_lead,
            away_limit_minutes=row.agent.away_limit_minutes,
            overdue_minutes=overdue.get(row.agent.id),
        )
        for row in list_seats(s)
        if row.agent.active and row.agent.role in SEAT_ROLES
    ]
    if config is None:
        acting = next((a.agent_id for a in lines if a.acting_lead and a.role == "agent"), None)
    return StaffingView(
        agents=lines,
        staffing=staff,
        alerts=found,
        acting_lead_id=acting,
        default_away_limit=config.rules.away_minutes_limit if config is not None else None,
    )


# --- urgent tickets -----------------------------------------------------------------


@dataclass(frozen=True)
class UrgentTicket:
    ticket_id: int
    kind: str
    category: str | None
    severity: str
    status: str
    injury: bool
    summary: str
    created_at: datetime
    created_by: str
    assignee: str | None


def urgent_tickets(s: Session, limit: int = 50) -> list[UrgentTicket]:
    """Unfinished tickets that are urgent or report a physically harmed customer (the
    injury flag, urgent even before the escalation rules have run), newest first."""
    complaint = (Ticket.kind == "complaint") & (Ticket.category == "product_quality")
    rows = s.scalars(
        select(Ticket)
        .where(
            Ticket.status.not_in(FINISHED_STATUSES),
            or_(Ticket.severity == "urgent", complaint),
        )
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
        .execution_options(populate_existing=True)
    )
    out = []
    for t in rows:
        injury = bool((t.details or {}).get("injury"))
        if t.severity != "urgent" and not injury:
            continue
        out.append(
            UrgentTicket(
                ticket_id=t.id,
                kind=t.kind,
                category=t.category,
                severity=t.severity,
                status=t.status,
                injury=injury,
                summary=t.summary,
                created_at=t.created_at,
                created_by=t.created_by,
                assignee=t.assignee,
            )
        )
        if len(out) >= limit:
            break
    return out


# --- chart series -------------------------------------------------------------------


def calls_per_hour(s: Session, day: date, tz: tzinfo, now: datetime) -> list[int]:
    """Calls that started in each local hour of ``day`` (24 counts; hours after ``now``
    are 0). A day with a clock change still has 24 slots: hours are wall-clock hours."""
    start = day_start(day, tz)
    end = min(now, day_start(day + timedelta(days=1), tz))
    counts = [0] * 24
    for (started,) in s.execute(select(Call.started_at).where(Call.started_at.between(start, end))):
        counts[started.astimezone(tz).hour] += 1
    return counts


def calls_by_kind(s: Session, start: datetime, now: datetime) -> dict[str, int]:
    """Distinct calls with a ticket of each kind opened from ``start`` to ``now``."""
    rows = s.execute(
        select(Ticket.kind, func.count(func.distinct(Ticket.call_id)))
        .where(Ticket.call_id.is_not(None), Ticket.created_at.between(start, now))
        .group_by(Ticket.kind)
        .order_by(Ticket.kind)
    )
    return {kind: int(count) for kind, count in rows}


@dataclass(frozen=True)
class DaySatisfaction:
    day: date
    responses: int
    score: float | None  # 0-100; None: no answers that day


def _rating_score(details: Mapping[str, Any]) -> float | None:
    ratings = [
        details[k]
        for k in RATING_FIELDS
        if isinstance(details.get(k), int) and not isinstance(details.get(k), bool)
    ]
    if not ratings:
        return None
    return (math.fsum(ratings) / len(ratings) - 1) * 25.0


def satisfaction_trend(
    s: Session, last_day: date, tz: tzinfo, days: int = 14
) -> list[DaySatisfaction]:
    """The last ``days`` local days up to ``last_day``, oldest first."""
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    first = last_day - timedelta(days=days - 1)
    start, end = day_start(first, tz), day_start(last_day + timedelta(days=1), tz)
    scores: dict[date, list[float]] = defaultdict(list)
    callbacks = s.execute(
        select(CallbackRequest.completed_at, CallbackRequest.satisfaction).where(
            CallbackRequest.completed_at >= start,
            CallbackRequest.completed_at < end,
            CallbackRequest.satisfaction.in_(tuple(SATISFACTION_SCORES)),
        )
    )
    for at, answer in callbacks:
        if at is not None and answer is not None:
            scores[at.astimezone(tz).date()].append(SATISFACTION_SCORES[answer])
    faults = s.execute(
        select(Ticket.resolved_at, Ticket.details).where(
            Ticket.kind == "fault", Ticket.resolved_at >= start, Ticket.resolved_at < end
        )
    )
    for at, details in faults:
        score = _rating_score(details or {})
        if score is not None:
            scores[at.astimezone(tz).date()].append(score)
    out = []
    for offset in range(days):
        d = first + timedelta(days=offset)
        values = scores.get(d, [])
        out.append(
            DaySatisfaction(d, len(values), math.fsum(values) / len(values) if values else None)
        )
    return out
