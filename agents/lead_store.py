"""The lead's wallboard data: alerts stored as events, handover notes, live queue figures.

Alerts come from ``agents.shifts.AlertMonitor`` (raised/cleared as the roster changes)
or one-off events (``raise_alert``, e.g. an agent set away after missed calls). A row is
open while ``cleared_at`` is None; an alert's identity is (kind, agent_id), so raising
one that is already open refreshes its wording instead of adding a second row.

Handover notes carry a summary generated when they are written, so the next shift reads
what was open then, not what is open when they look.

``queue_stats`` turns the global queue and the recent call records into the figures a
wallboard shows, with an Erlang C estimate of the agents each queue needs
(``agents.erlang``). Every function commits or only reads.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, func, or_, select
from sqlalchemy.orm import Session

from agents import erlang
from agents.queue_config import QueueCatalog
from agents.service_level import service_level
from agents.shifts import Alert, AlertChanges
from ticketdb.models import Call, CallbackRequest, HandoverNote, LeadAlert, QueueEntry
from ticketdb.sql import transaction

WAITING_STATUSES = ("waiting", "offered")  # a caller on the line, not yet with an agent
CALLBACK_STATUSES = ("callback", "dialing")  # a queue callback not yet done
ABANDONED = "abandoned"
HANDOVER_CALLBACK_ITEMS = 50
# Erlang C target: this share of calls answered within the queue's service_level_seconds.
TARGET_LEVEL = 0.8
MAX_TEAM = 64
MAX_AUTHOR = 32

_Key = tuple[str, int | None]


# --- alerts -------------------------------------------------------------------------


def open_alerts(s: Session) -> list[LeadAlert]:
    """Alerts not cleared yet, oldest first."""
    stmt = (
        select(LeadAlert)
        .where(LeadAlert.cleared_at.is_(None))
        .order_by(LeadAlert.raised_at, LeadAlert.id)
        .execution_options(populate_existing=True)
    )
    return list(s.scalars(stmt))


def _open_rows(s: Session) -> dict[_Key, list[LeadAlert]]:
    """Open rows by identity; normally one each (two only if nodes raced)."""
    found: dict[_Key, list[LeadAlert]] = defaultdict(list)
    for row in open_alerts(s):
        found[(row.kind, row.agent_id)].append(row)
    return found


def _refresh(row: LeadAlert, alert: Alert) -> None:
    # Assigning only on a difference keeps an unchanged tick free of writes.
    if row.message != alert.message:
        row.message = alert.message
    if row.severity != alert.severity:
        row.severity = alert.severity


def record_alert_changes(s: Session, changes: AlertChanges, *, node: str, now: datetime) -> None:
    """Store what an ``AlertMonitor`` feed reported; commits.

    A raised alert gets a row (or, when one is already open, its wording refreshed); a
    cleared one has its open row(s) closed at ``now``; a still-active alert's open row
    takes its current wording (e.g. minutes over the away limit).
    """
    with transaction(s):
        found = _open_rows(s)
        for alert in changes.raised:
            rows = found.get(alert.key)
            if rows:
                _refresh(rows[0], alert)
                continue
            row = LeadAlert(
                kind=alert.kind,
                severity=alert.severity,
                agent_id=alert.agent_id,
                message=alert.message,
                raised_at=now,
                node=node,
            )
            s.add(row)
            found[alert.key] = [row]
        for alert in changes.active:
            rows = found.get(alert.key)
            if rows:
                _refresh(rows[0], alert)
        for alert in changes.cleared:
            for row in found.pop(alert.key, []):
                row.cleared_at = now


def raise_alert(
    s: Session,
    *,
    kind: str,
    severity: str,
    message: str,
    agent_id: int | None,
    node: str,
    now: datetime,
) -> bool:
    """Open a one-off alert (e.g. "missed_calls"); commits. False when one of the same
    kind for the same agent is already open (it is left as it is)."""
    with transaction(s):
        if _open_rows(s).get((kind, agent_id)):
            return False
        s.add(
            LeadAlert(
                kind=kind,
                severity=severity,
                agent_id=agent_id,
                message=message,
                raised_at=now,
                node=node,
            )
        )
    return True


def clear_alert(s: Session, *, kind: str, agent_id: int | None, now: datetime) -> bool:
    """Close the open alert of this kind for this agent; commits. False when none is open."""
    with transaction(s):
        rows = _open_rows(s).get((kind, agent_id), [])
        for row in rows:
            row.cleared_at = now
    return bool(rows)


def alerts_since(s: Session, since: datetime) -> list[LeadAlert]:
    """Alerts raised or cleared at or after ``since``, by when they were raised."""
    stmt = (
        select(LeadAlert)
        .where(or_(LeadAlert.raised_at >= since, LeadAlert.cleared_at >= since))
        .order_by(LeadAlert.raised_at, LeadAlert.id)
        .execution_options(populate_existing=True)
    )
    return list(s.scalars(stmt))


# --- handover notes -----------------------------------------------------------------


def _entry_counts(s: Session, statuses: Iterable[str]) -> dict[str, int]:
    rows = s.execute(
        select(QueueEntry.queue, func.count())
        .where(QueueEntry.status.in_(tuple(statuses)))
        .group_by(QueueEntry.queue)
        .order_by(QueueEntry.queue)
    )
    return {queue: count for queue, count in rows}


def handover_summary(s: Session) -> dict[str, Any]:
    """What is open now: callback requests, alerts, callers and callbacks in the queues."""
    open_cb = CallbackRequest.status == "open"
    count = s.scalar(select(func.count()).select_from(CallbackRequest).where(open_cb)) or 0
    items = s.scalars(
        select(CallbackRequest)
        .where(open_cb)
        .order_by(CallbackRequest.requested_at, CallbackRequest.id)
        .limit(HANDOVER_CALLBACK_ITEMS)
    )
    return {
        "open_callbacks": count,
        "callbacks": [
            {
                "id": r.id,
                "number": r.number,
                "queue": r.queue,
                "requested_at": r.requested_at.isoformat(),
                "attempts": r.attempts,
            }
            for r in items
        ],
        "alerts": [
            {"kind": a.kind, "severity": a.severity, "message": a.message} for a in open_alerts(s)
        ],
        "waiting": _entry_counts(s, WAITING_STATUSES),
        "queued_callbacks": _entry_counts(s, CALLBACK_STATUSES),
    }


def add_handover_note(
    s: Session,
    *,
    team: str,
    author: str,
    text: str,
    now: datetime,
    shift_ending: str | None = None,
    shift_starting: str | None = None,
) -> HandoverNote:
    """Store a handover note with the summary of what is open now; commits.

    Raises ValueError for an empty team, author or text (or one too long for its column).
    """
    team, author, text = team.strip(), author.strip(), text.strip()
    if not team or len(team) > MAX_TEAM:
        raise ValueError(f"team must be 1-{MAX_TEAM} characters")
    if not author or len(author) > MAX_AUTHOR:
        raise ValueError(f"author must be 1-{MAX_AUTHOR} characters")
    if not text:
        raise ValueError("the note needs some text")
    with transaction(s):
        note = HandoverNote(
            team=team,
            author=author,
            text=text,
            at=now,
            shift_ending=shift_ending,
            shift_starting=shift_starting,
            summary=handover_summary(s),
        )
        s.add(note)
    return note


def handover_notes(s: Session, *, team: str | None = None, limit: int = 20) -> list[HandoverNote]:
    """The latest notes (of one team, or all), newest first."""
    stmt = select(HandoverNote).execution_options(populate_existing=True)
    if team is not None:
        stmt = stmt.where(HandoverNote.team == team)
    stmt = stmt.order_by(HandoverNote.at.desc(), HandoverNote.id.desc()).limit(limit)
    return list(s.scalars(stmt))


# --- queue statistics ---------------------------------------------------------------


@dataclass(frozen=True)
class QueueStats:
    """One queue's wallboard line: now, and over the last ``window_minutes``."""

    queue: str
    waiting: int  # callers on the line (waiting or being offered)
    callbacks_waiting: int  # queue callbacks not yet done (waiting for an agent or dialing)
    longest_wait_seconds: float | None  # the oldest waiting caller's time here; None: nobody
    answered: int
    abandoned: int
    service_level: float | None  # share answered within service_level_seconds; None: none
    arrivals_per_hour: float
    mean_handle_seconds: float | None  # talk + the queue's wrap-up; None: no call completed
    agents_needed: int | None  # Erlang C for TARGET_LEVEL; None: no handle time to go on


def _in(at: datetime | None, start: datetime, now: datetime) -> bool:
    return at is not None and start < at <= now


def _wait(call: Any) -> float | None:
    if call.wait_seconds is not None:
        return float(call.wait_seconds)
    if call.queue_entered_at is not None and call.agent_answered_at is not None:
        return float((call.agent_answered_at - call.queue_entered_at).total_seconds())
    return None


def queue_calls(
    s: Session, start: datetime, now: datetime, names: Sequence[str] | None = None
) -> Sequence[
    Row[str | None, datetime | None, datetime | None, datetime | None, float | None, str | None]
]:
    """The queued calls that entered, were answered or ended in ``[start, now]`` (of the
    queues ``names``, or of any queue): what the wallboard's figures are counted from."""
    in_queue = Call.queue.in_(names) if names is not None else Call.queue.is_not(None)
    return s.execute(
        select(
            Call.queue,
            Call.queue_entered_at,
            Call.agent_answered_at,
            Call.ended_at,
            Call.wait_seconds,
            Call.end_reason,
        ).where(
            in_queue,
            or_(
                Call.queue_entered_at.between(start, now),
                Call.agent_answered_at.between(start, now),
                Call.ended_at.between(start, now),
            ),
        )
    ).all()


def queue_stats(
    s: Session, catalog: QueueCatalog, now: datetime, window_minutes: int = 60
) -> list[QueueStats]:
    """Every configured queue's figures at ``now``, in catalog order.

    The window is ``(now - window_minutes, now]``, like ``agents.erlang``'s history.
    Rows of queues not in the catalog are ignored.
    """
    if window_minutes <= 0:
        raise ValueError(f"window_minutes must be positive, got {window_minutes}")
    names = list(catalog.queues)
    start = now - timedelta(minutes=window_minutes)

    entries = s.execute(
        select(QueueEntry.queue, QueueEntry.status, QueueEntry.entered_at).where(
            QueueEntry.queue.in_(names),
            QueueEntry.status.in_(WAITING_STATUSES + CALLBACK_STATUSES),
        )
    ).all()
    calls = queue_calls(s, start, now, names)
    entries_of: dict[str, list[Any]] = defaultdict(list)
    for e in entries:
        entries_of[e.queue].append(e)
    calls_of: dict[str, list[Any]] = defaultdict(list)
    for c in calls:
        calls_of[c.queue].append(c)

    out = []
    for name in names:
        config = catalog.config(name)
        waiting = [e for e in entries_of[name] if e.status in WAITING_STATUSES]
        oldest = min((e.entered_at for e in waiting), default=None)
        longest = None if oldest is None else max(0.0, (now - oldest).total_seconds())
        answered = [c for c in calls_of[name] if _in(c.agent_answered_at, start, now)]
        waits = [w for w in (_wait(c) for c in answered) if w is not None]
        on_time = sum(1 for w in waits if w <= config.service_level_seconds)
        arrivals = sum(1 for c in calls_of[name] if _in(c.queue_entered_at, start, now))
        rate = arrivals * 60.0 / window_minutes
        handled = [
            (c.ended_at - c.agent_answered_at).total_seconds()
            for c in calls_of[name]
            if c.agent_answered_at is not None and _in(c.ended_at, start, now)
        ]
        aht = (
            math.fsum(max(0.0, h) for h in handled) / len(handled) + config.wrap_up_seconds
            if handled
            else None
        )
        needed = None
        if aht is not None and (rate == 0 or aht > 0):
            needed = erlang.agents_needed(
                rate,
                aht,
                target_seconds=config.service_level_seconds,
                target_level=TARGET_LEVEL,
            ).agents
        out.append(
            QueueStats(
                queue=name,
                waiting=len(waiting),
                callbacks_waiting=len(entries_of[name]) - len(waiting),
                longest_wait_seconds=longest,
                answered=len(answered),
                abandoned=sum(
                    1
                    for c in calls_of[name]
                    if c.end_reason == ABANDONED and _in(c.ended_at, start, now)
                ),
                service_level=service_level(on_time, len(waits)),
                arrivals_per_hour=rate,
                mean_handle_seconds=aht,
                agents_needed=needed,
            )
        )
    return out
