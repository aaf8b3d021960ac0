"""SLA states in the database: a sweep (a scheduled job, or ``hotline sla sweep``) works
out where every live ticket stands against its targets (``tickets.sla``) and keeps one
``ticket_slas`` row per ticket and target; the wallboard reads breaches and near
breaches from those rows.

A row is written only when its due time or state changes, so ``computed_at`` says since
when the state has held. The clock stops when a ticket is closed, rejected or marked out
of area (an out-of-area order is finished; its apology call is on the callback worklist
with its own due time). Such a ticket is settled once, as of the moment it stopped:
``met``/``missed``/``breached`` rows stay as they were then, ``ok``/``near`` rows go
(the target no longer applies), and it is not looked at again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, exists, select
from sqlalchemy.orm import Session

from kernel.calendar import BusinessCalendar
from ticketdb.models import Ticket, TicketSla
from ticketdb.sql import insert, transaction
from tickets.config import TicketRules
from tickets.sla import STATES, TargetState, evaluate

STOPPED = ("closed", "rejected", "out_of_area")
OPEN_STATES = ("ok", "near", "breached")
# Rows per multi-row INSERT, well under both databases' parameter limits.
_CHUNK = 200

# An existing row: (id, due_at, state).
_Row = tuple[int, datetime | None, str | None]
_NONE: _Row = (0, None, None)


@dataclass(frozen=True)
class SweepResult:
    # Every state in tickets.sla.STATES → live tickets' targets in it after the sweep.
    counts: dict[str, int]
    tickets: int  # live tickets looked at
    written: int  # rows inserted or changed
    settled: int  # stopped tickets settled by this sweep


@dataclass(frozen=True)
class Breach:
    """One target of a live ticket in a wallboard state, with what the lead needs."""

    ticket_id: int
    kind: str
    category: str | None
    severity: str
    status: str
    contact_name: str
    contact_phone: str
    assignee: str | None
    target: str
    state: str
    due_at: datetime
    since: datetime  # when the state was set

    def overdue_seconds(self, now: datetime) -> float:
        """How long past due (negative: still to go)."""
        return (now - self.due_at).total_seconds()


def _stop_time(t: Ticket, now: datetime) -> datetime:
    return min(now, t.closed_at or t.updated_at or now)


def sweep(
    s: Session,
    rules: TicketRules,
    calendar: BusinessCalendar,
    now: datetime,
    near_fraction: float,
) -> SweepResult:
    """Recompute the SLA rows of every live ticket and settle newly stopped ones; one
    transaction, commits."""
    policy = rules.sla
    live_q = select(Ticket).where(Ticket.status.not_in(STOPPED))
    # Stopped since its rows were last written: some row still open and written no later
    # than the ticket's last change (settling writes every kept row, so it is then newer).
    unsettled = exists().where(
        TicketSla.ticket_id == Ticket.id,
        TicketSla.state.in_(OPEN_STATES),
        TicketSla.computed_at <= Ticket.updated_at,
    )
    stopped_q = select(Ticket).where(Ticket.status.in_(STOPPED), unsettled)
    counts: Counter[str] = Counter({state: 0 for state in STATES})
    upserts: list[dict[str, Any]] = []
    removals: list[int] = []
    with transaction(s):
        live = s.scalars(live_q.order_by(Ticket.id)).all()
        stopped = s.scalars(stopped_q.order_by(Ticket.id)).all()
        existing = _rows(s, None)
        existing.update(_rows(s, [t.id for t in stopped]))
        for t in live:
            rows = existing.get(t.id, {})
            states = evaluate(t, policy, calendar, now, near_fraction)
            counts.update(st.state for st in states)
            changed = [
                st for st in states if rows.get(st.target, _NONE)[1:] != (st.due_at, st.state)
            ]
            upserts += _values(t.id, changed, now)
            removals += _dropped(rows, states)
        for t in stopped:
            rows = existing.get(t.id, {})
            final = evaluate(t, policy, calendar, _stop_time(t, now), near_fraction)
            kept = [st for st in final if st.state not in ("ok", "near")]
            upserts += _values(t.id, kept, now)
            removals += _dropped(rows, kept)
        for i in range(0, len(upserts), _CHUNK):
            stmt = insert(s, TicketSla).values(upserts[i : i + _CHUNK])
            s.execute(
                stmt.on_conflict_do_update(
                    index_elements=["ticket_id", "target"],
                    set_={
                        "due_at": stmt.excluded.due_at,
                        "state": stmt.excluded.state,
                        "computed_at": stmt.excluded.computed_at,
                    },
                )
            )
        for i in range(0, len(removals), _CHUNK):
            s.execute(delete(TicketSla).where(TicketSla.id.in_(removals[i : i + _CHUNK])))
    return SweepResult(
        counts=dict(counts), tickets=len(live), written=len(upserts), settled=len(stopped)
    )


def _rows(s: Session, stopped_ids: Sequence[int] | None) -> dict[int, dict[str, _Row]]:
    """Existing rows by ticket and target: the live tickets' (``None``, one join), or the
    given stopped tickets'."""
    stmt = select(
        TicketSla.ticket_id, TicketSla.target, TicketSla.id, TicketSla.due_at, TicketSla.state
    )
    if stopped_ids is None:
        stmt = stmt.join(Ticket, Ticket.id == TicketSla.ticket_id).where(
            Ticket.status.not_in(STOPPED)
        )
    elif stopped_ids:
        stmt = stmt.where(TicketSla.ticket_id.in_(stopped_ids))
    else:
        return {}
    out: dict[int, dict[str, _Row]] = {}
    for ticket_id, target, row_id, due, state in s.execute(stmt):
        out.setdefault(ticket_id, {})[target] = (row_id, due, state)
    return out


def _values(ticket_id: int, states: Iterable[TargetState], now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "ticket_id": ticket_id,
            "target": st.target,
            "due_at": st.due_at,
            "state": st.state,
            "computed_at": now,
        }
        for st in states
    ]


def _dropped(rows: dict[str, _Row], kept: Sequence[TargetState]) -> list[int]:
    """Ids of a ticket's rows whose target is no longer kept (the policy dropped it, or it
    stopped applying)."""
    targets = {st.target for st in kept}
    return [row_id for target, (row_id, _, _) in rows.items() if target not in targets]


_SEVERITY_RANK = case((Ticket.severity == "urgent", 0), (Ticket.severity == "high", 1), else_=2)


def breaches(s: Session, states: Sequence[str] = ("breached", "near")) -> list[Breach]:
    """Live tickets' targets in ``states``, for the wallboard: urgent first, then high,
    then by due time (the most overdue first)."""
    unknown = [st for st in states if st not in STATES]
    if unknown:
        raise ValueError(f"unknown SLA state(s) {', '.join(unknown)} (states: {', '.join(STATES)})")
    stmt = (
        select(Ticket, TicketSla)
        .join(TicketSla, TicketSla.ticket_id == Ticket.id)
        .where(TicketSla.state.in_(states), Ticket.status.not_in(STOPPED))
        .order_by(_SEVERITY_RANK, TicketSla.due_at, Ticket.id, TicketSla.target)
    )
    return [
        Breach(
            ticket_id=t.id,
            kind=t.kind,
            category=t.category,
            severity=t.severity,
            status=t.status,
            contact_name=t.contact_name,
            contact_phone=t.contact_phone,
            assignee=t.assignee,
            target=row.target,
            state=row.state,
            due_at=row.due_at,
            since=row.computed_at,
        )
        for t, row in s.execute(stmt)
    ]
