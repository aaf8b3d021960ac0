"""The callback worklist (domain.md §5, decision 0013): who is called back, by whom, and
how every attempt went.

Each item is a ``callback_requests`` row. Callers' own requests (sources ``ivr`` and
``queue``) are made by the IVR and the queue; ``sources.generate`` adds the others, keyed
``node=""`` and ``channel_id="ticket:<id>"`` or ``"call:<id>"`` and inserted with
``ON CONFLICT DO NOTHING``, so generating twice adds nothing:

- ``complaint``: every complaint handled (resolved, or judged unfounded: both set
  ``resolved_at``), ``complaint_after_days`` later;
- ``member``: every call of a member customer — 100 % coverage. VIPs count as members:
  VIP is the tier above member (domain.md §7), and leaving the best customers out of the
  follow-up every member gets would serve them worse;
- ``survey``: a satisfaction survey ``survey_after_days`` working days after an order.

The reason's time (resolved + delay, the call's end, the survey day) is the request
time; the callback is due ``due_days`` after it.

An item is open until it is *completed* (reached: satisfaction and remarks) or
*unreachable* (``max_attempts`` attempts not reached; listed by ``coverage.unreachable_report``);
either way a complaint's ticket then moves to callback_done (``close_ticket``).
Queue callbacks answered by the queue engine end as ``done`` / ``unreached``
(``agents.queue_store``); the reports count those as completed / unreachable.

Dialling: ``request_dial`` puts a *dial entry* in the global queue (``queue_entries``,
status ``callback``, pinned to the agent) that the queue engine picks up; the engine
reports the attempt back through ``apply_dial_outcome``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from agents.seat_store import get_seat
from callbacks import plan
from callbacks.plan import CallbackRules
from ticketdb.models import (
    Agent,
    CallbackRequest,
    Customer,
    QueueEntry,
    Ticket,
)
from ticketdb.sql import insert, transaction

if TYPE_CHECKING:
    from agents.shifts import ShiftConfig
    from kernel.settings import CallbackSettings

GENERATED_NODE = ""
GENERATED_SOURCES = ("complaint", "member", "survey")
OPEN = "open"
COMPLETED = "completed"
UNREACHABLE = "unreachable"
# The queue engine's own ends for queue callbacks (agents.queue_store) count the same.
REACHED_STATUSES = (COMPLETED, "done")
UNREACHABLE_STATUSES = (UNREACHABLE, "unreached")
MEMBER_TIERS = ("member", "vip")
SATISFACTION = ("satisfied", "neutral", "unsatisfied")
OUTCOMES = ("reached", "not_reached")
MAX_REMARKS = 4000
# Reasons older than this are left alone: a first run on an old database must not
# call back everyone from last year.
DEFAULT_LOOKBACK = timedelta(days=30)
# The call records of callbacks themselves (ivr.queue.callback) are dialled "callback".
OUTBOUND_DIALLED = "callback"

# A worklist dial waiting for (or being dialled by) the queue engine.
DIAL_PREFIX = "dial:"
DIAL_QUEUE = "worklist"
# Engine outcomes that say nothing about the customer: not counted as attempts.
NOT_ATTEMPTS = ("agent_unavailable", "quiet_hours")


class NotFound(LookupError):
    """No such callback item."""


class Refused(Exception):
    """The request cannot be done now; ``str()`` is the reason to show the agent."""


def dial_key(request_id: int) -> str:
    return f"{DIAL_PREFIX}{request_id}"


class HasChannel(Protocol):
    @property
    def channel_id(self) -> str: ...


def is_dial_entry(entry: HasChannel) -> bool:
    return entry.channel_id.startswith(DIAL_PREFIX)


def rules_for(cb: CallbackSettings, tz: tzinfo) -> CallbackRules:
    """The dialling rules from the ``[callbacks]`` settings, in the calendar's zone."""
    return CallbackRules(
        quiet_hours=tuple(cb.quiet_hours),
        tz=tz,
        max_attempts=cb.max_attempts,
        caller_id=cb.caller_id,
    )


# --- sharing out ---------------------------------------------------------------------


def agents_on_shift(s: Session, shifts: ShiftConfig | None, now: datetime) -> list[int]:
    """Normal seats logged in (not offline or on leave) and, with shift rules, on shift
    now: the agents the worklist is shared among."""
    from agents.roster import read_roster
    from agents.seat_store import list_seats
    from agents.shifts import PRESENT_STATES, on_shift

    if shifts is not None:
        roster = read_roster(s, shifts)
        return sorted(
            a.id
            for a in roster.agents
            if a.role == "agent" and a.state in PRESENT_STATES and on_shift(roster, a, now)
        )
    return sorted(
        row.agent.id
        for row in list_seats(s)
        if row.agent.active and row.agent.role == "agent" and row.seat.state in PRESENT_STATES
    )


def _due_order() -> tuple[Any, ...]:
    # Due first; items without a due time last (NULLs sort differently per database).
    return (
        CallbackRequest.due_at.is_(None),
        CallbackRequest.due_at,
        CallbackRequest.requested_at,
        CallbackRequest.id,
    )


def share_out(s: Session, agent_ids_on_shift: Sequence[int], now: datetime) -> dict[int, int]:
    """Give every open, unassigned item requested by ``now`` to an agent on shift, the
    one with the fewest open items first (ties: lowest id), due items first; commits.
    Returns item id → agent id for the items given."""
    agents = sorted(set(agent_ids_on_shift))
    if not agents:
        return {}
    given: list[tuple[int, int]] = []
    with transaction(s):
        loads = dict.fromkeys(agents, 0)
        for agent_id, count in s.execute(
            select(CallbackRequest.assigned_to, func.count())
            .where(CallbackRequest.status == OPEN, CallbackRequest.assigned_to.in_(agents))
            .group_by(CallbackRequest.assigned_to)
        ):
            if agent_id is not None:
                loads[agent_id] = count
        items = s.scalars(
            select(CallbackRequest.id)
            .where(
                CallbackRequest.status == OPEN,
                CallbackRequest.assigned_to.is_(None),
                CallbackRequest.requested_at <= now,
            )
            .order_by(*_due_order())
        ).all()
        for item_id, agent_id in plan.share_out(list(items), loads):
            # Only if still unassigned: a lead may have given it to someone meanwhile.
            result = s.execute(
                update(CallbackRequest)
                .where(CallbackRequest.id == item_id, CallbackRequest.assigned_to.is_(None))
                .values(assigned_to=agent_id)
                .execution_options(synchronize_session=False)
            )
            if getattr(result, "rowcount", 0) == 1:
                given.append((item_id, agent_id))
    return dict(given)


# --- an agent's list -----------------------------------------------------------------


@dataclass(frozen=True)
class WorkItem:
    id: int
    source: str
    number: str
    name: str
    ticket_id: int | None
    call_id: int | None
    queue: str | None
    requested_at: datetime
    due_at: datetime | None
    overdue: bool
    not_before: datetime | None
    attempts: int
    last_attempt_at: datetime | None
    quiet_now: bool
    # When it may be dialled: now, the end of quiet hours, or the next time slot.
    next_dial_at: datetime
    # "waiting" (for the engine), "dialing", or None (no dial in progress).
    dial: str | None
    # A queue callback: the engine also dials it by itself in the caller's turn.
    auto: bool
    history: list[dict[str, Any]] = field(default_factory=list)


def _dials(s: Session, request_ids: Sequence[int]) -> dict[int, QueueEntry]:
    if not request_ids:
        return {}
    rows = s.scalars(select(QueueEntry).where(QueueEntry.callback_id.in_(list(request_ids))))
    return {e.callback_id: e for e in rows if e.callback_id is not None}


def _dial_state(entry: QueueEntry | None) -> str | None:
    if entry is None:
        return None
    if entry.status == "dialing":
        return "dialing"
    if is_dial_entry(entry) or entry.agent_id is not None:
        return "waiting"
    return None


def _item(
    r: CallbackRequest,
    name: str | None,
    entry: QueueEntry | None,
    now: datetime,
    rules: CallbackRules,
) -> WorkItem:
    earliest = max(now, r.not_before) if r.not_before is not None else now
    return WorkItem(
        id=r.id,
        source=r.source,
        number=r.number,
        name=name or "",
        ticket_id=r.ticket_id,
        call_id=r.call_id,
        queue=r.queue,
        requested_at=r.requested_at,
        due_at=r.due_at,
        overdue=r.due_at is not None and r.due_at < now,
        not_before=r.not_before,
        attempts=r.attempts,
        last_attempt_at=r.last_attempt_at,
        quiet_now=rules.is_quiet(now),
        next_dial_at=rules.next_dial_time(earliest),
        dial=_dial_state(entry),
        auto=entry is not None and not is_dial_entry(entry),
        history=list(r.history or []),
    )


def worklist(s: Session, agent_id: int, now: datetime, rules: CallbackRules) -> list[WorkItem]:
    """The agent's open items, due first, each with when it may be dialled."""
    rows = s.execute(
        select(CallbackRequest, Customer.name)
        .outerjoin(Customer, Customer.id == CallbackRequest.customer_id)
        .where(CallbackRequest.assigned_to == agent_id, CallbackRequest.status == OPEN)
        .order_by(*_due_order())
    ).all()
    dials = _dials(s, [r.id for r, _ in rows])
    return [_item(r, name, dials.get(r.id), now, rules) for r, name in rows]


def open_items(
    s: Session, now: datetime, rules: CallbackRules
) -> list[tuple[WorkItem, int | None]]:
    """Every open item with the agent it is assigned to (None: not shared out yet)."""
    rows = s.execute(
        select(CallbackRequest, Customer.name)
        .outerjoin(Customer, Customer.id == CallbackRequest.customer_id)
        .where(CallbackRequest.status == OPEN)
        .order_by(*_due_order())
    ).all()
    dials = _dials(s, [r.id for r, _ in rows])
    return [(_item(r, name, dials.get(r.id), now, rules), r.assigned_to) for r, name in rows]


def get_item(s: Session, request_id: int) -> CallbackRequest:
    request = s.get(CallbackRequest, request_id, populate_existing=True)
    if request is None:
        raise NotFound(f"no callback {request_id}")
    return request


# --- attempts ------------------------------------------------------------------------


@dataclass(frozen=True)
class AttemptResult:
    status: str  # open | completed | unreachable
    attempts: int
    not_before: datetime | None


def _history(request: CallbackRequest, entry: dict[str, Any]) -> None:
    request.history = [*(request.history or []), entry]


def _not_reached(
    request: CallbackRequest, now: datetime, rules: CallbackRules, outcome: str
) -> None:
    """Count an attempt that did not reach the customer; reschedule or give up."""
    request.attempts += 1
    request.last_attempt_at = now
    request.outcome = outcome
    if request.attempts >= rules.max_attempts:
        request.status = UNREACHABLE
        request.completed_at = now
        request.not_before = None
    else:
        request.not_before = rules.retry_at(now)


# Tickets whose workflow waits for their callback (tickets.workflow): complaints handled
# (resolved or unfounded) and orders out of the sales area (the apology call).
TICKET_SOURCES = ("complaint", "apology")
WAITING_STATUSES = ("resolved", "unfounded", "out_of_area")


def close_ticket(s: Session, request_id: int, by: str, now: datetime) -> bool:
    """The callback of a complaint (or an apology call) is closed: its ticket moves on to
    callback_done through the ticket workflow, with the outcome as the note; commits.
    An unreachable customer is recorded there too (tickets.workflow). False when there
    is nothing to move (no ticket, or it has moved on meanwhile)."""
    from tickets.store import StaleTicket, TicketNotFound, change_status
    from tickets.workflow import TransitionRefused

    request = get_item(s, request_id)
    if request.ticket_id is None or request.source not in TICKET_SOURCES:
        return False
    ticket = s.get(Ticket, request.ticket_id, populate_existing=True)
    if ticket is None or ticket.status not in WAITING_STATUSES:
        return False
    if request.status in REACHED_STATUSES:
        note = f"callback {request.id}: customer {request.satisfaction or 'reached'}"
    else:
        note = f"callback {request.id}: customer unreachable after {request.attempts} attempts"
    try:
        change_status(s, ticket.id, "callback_done", by=by or "system", now=now, note=note)
    except (TransitionRefused, StaleTicket, TicketNotFound, ValueError):
        return False  # changed by someone else meanwhile: their change stands
    return True


def record_attempt(
    s: Session,
    request_id: int,
    outcome: str,
    agent: str,
    now: datetime,
    *,
    rules: CallbackRules,
    agent_id: int | None = None,
    satisfaction: str | None = None,
    remarks: str | None = None,
) -> AttemptResult:
    """Record one callback attempt as the agent reports it; commits.

    ``reached`` needs ``satisfaction`` (satisfied | neutral | unsatisfied) and completes
    the item (a handled complaint's ticket goes to callback_done). ``not_reached``
    counts an attempt: the item waits for the next time slot, or after
    ``rules.max_attempts`` attempts is closed as unreachable. A dial through the queue
    engine that was not answered is counted by the engine; one that was answered is
    counted when the agent reports it here. NotFound, ValueError (bad input) or Refused
    (the item is already closed)."""
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)} (got {outcome!r})")
    if outcome == "reached" and satisfaction not in SATISFACTION:
        raise ValueError(f"satisfaction: one of {', '.join(SATISFACTION)} when reached")
    if outcome == "not_reached" and satisfaction is not None:
        raise ValueError("satisfaction: only when the customer was reached")
    remarks = (remarks or "").strip() or None
    if remarks is not None and len(remarks) > MAX_REMARKS:
        raise ValueError(f"remarks: at most {MAX_REMARKS} characters")
    with transaction(s):
        request = get_item(s, request_id)
        if request.status != OPEN:
            raise Refused(f"callback {request_id} is already {request.status}")
        _history(
            request,
            {
                "t": now.isoformat(),
                "outcome": outcome,
                "agent": agent,
                "channel": None,
                "satisfaction": satisfaction,
            },
        )
        if agent_id is not None:
            request.agent_id = agent_id
        if outcome == "reached":
            request.attempts += 1
            request.last_attempt_at = now
            request.outcome = "reached"
            request.status = COMPLETED
            request.completed_at = now
            request.satisfaction = satisfaction
            request.remarks = remarks
            request.not_before = None
        else:
            if remarks is not None:
                request.remarks = remarks
            _not_reached(request, now, rules, "not_reached")
        if request.status != OPEN:
            _drop_waiting_dial(s, request.id)
        result = AttemptResult(request.status, request.attempts, request.not_before)
    if result.status != OPEN:
        close_ticket(s, request_id, agent, now)
    return result


def _drop_waiting_dial(s: Session, request_id: int) -> None:
    """A closed item needs no dial: a worklist dial not yet started goes (one being
    dialled reports back and finds the item closed)."""
    for entry in s.scalars(
        select(QueueEntry).where(
            QueueEntry.callback_id == request_id,
            QueueEntry.channel_id == dial_key(request_id),
            QueueEntry.status == "callback",
        )
    ):
        s.delete(entry)


# --- dialling through the queue engine -----------------------------------------------


@dataclass(frozen=True)
class DialRequested:
    request_id: int
    entry_id: int


def request_dial(
    s: Session, request_id: int, agent_id: int, now: datetime, rules: CallbackRules
) -> DialRequested:
    """The agent clicked "call": queue a dial that rings this agent's phone first, then
    the customer (the queue engine dials it; decision 0013); commits.

    Refused, with the reason, in quiet hours, before the item's next time slot, when the
    agent's seat is not free, when the item is someone else's, or while a dial of it is
    already on its way. NotFound for an unknown item."""
    with transaction(s):
        request = get_item(s, request_id)
        if request.status != OPEN:
            raise Refused(f"callback {request_id} is already {request.status}")
        if request.assigned_to not in (None, agent_id):
            owner = s.get(Agent, request.assigned_to)
            who = owner.staff_number if owner is not None else f"agent {request.assigned_to}"
            raise Refused(f"callback {request_id} is on the worklist of {who}")
        if rules.is_quiet(now):
            quiet = ", ".join(rules.quiet_hours)
            raise Refused(
                f"quiet hours ({quiet}): customers are not called now; "
                f"dial from {rules.local_time(rules.next_dial_time(now))}"
            )
        if request.not_before is not None and request.not_before > now:
            raise Refused(
                f"not reached last time: the next try is from "
                f"{rules.local_time(request.not_before)} (another time slot)"
            )
        agent = s.get(Agent, agent_id)
        if agent is None or not agent.active:
            raise Refused("your account cannot take calls")
        seat = get_seat(s, agent_id)
        if seat.state != "available" or seat.claimed_by_node is not None:
            state = "being offered a call" if seat.state == "available" else seat.state
            raise Refused(f"your seat is {state.replace('_', ' ')}: be available to dial")
        request.assigned_to = agent_id
        # A queue callback still in the queue: pin its own entry to this agent rather
        # than add a second one (the engine would otherwise dial it twice).
        queued = s.scalars(
            select(QueueEntry).where(
                QueueEntry.callback_id == request.id,
                QueueEntry.channel_id != dial_key(request.id),
            )
        ).one_or_none()
        if queued is not None:
            if queued.status != "callback" or queued.agent_id not in (None, agent_id):
                raise Refused(f"callback {request_id} is being dialled already")
            queued.agent_id = agent_id
            queued.updated_at = now
            return DialRequested(request.id, queued.id)
        entry_id = s.scalar(
            insert(s, QueueEntry)
            .values(
                node=GENERATED_NODE,
                channel_id=dial_key(request.id),
                queue=DIAL_QUEUE,
                tier="general",
                arrived_at=now,
                entered_at=now,
                status="callback",
                agent_id=agent_id,
                caller_number=request.number,
                language=request.language[:8],
                callback_id=request.id,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["node", "channel_id"])
            .returning(QueueEntry.id)
        )
        if entry_id is None:
            raise Refused(f"callback {request_id} is being dialled already")
        return DialRequested(request.id, entry_id)


def cancel_dial(s: Session, request_id: int, agent_id: int) -> bool:
    """Withdraw this agent's dial not yet started; commits. False when there is none
    (or it is being dialled already)."""
    with transaction(s):
        entries = s.scalars(
            select(QueueEntry).where(
                QueueEntry.callback_id == request_id,
                QueueEntry.status == "callback",
                QueueEntry.agent_id == agent_id,
            )
        ).all()
        for entry in entries:
            if is_dial_entry(entry):
                s.delete(entry)
            else:
                entry.agent_id = None  # a queue callback: back to the engine's turn
        return bool(entries)


def apply_dial_outcome(
    s: Session,
    entry: QueueEntry,
    request: CallbackRequest,
    *,
    outcome: str,
    agent: str | None,
    channel: str | None,
    now: datetime,
    rules: CallbackRules,
) -> bool:
    """The queue engine's report of one worklist dial, inside the caller's transaction.
    True when the item is closed.

    answered: the entry goes; the item stays open until the agent reports how it went.
    quiet_hours (the customer's leg would have started in quiet hours): the dial waits
    in the queue for the end of quiet hours. agent_unavailable: the entry goes (the
    agent may click again). Anything else did not reach the customer: counted,
    rescheduled into another time slot, unreachable after the last attempt."""
    _history(
        request, {"t": now.isoformat(), "outcome": outcome, "agent": agent, "channel": channel}
    )
    if outcome == "quiet_hours":
        entry.status = "callback"
        entry.dialing_node = None
        entry.updated_at = now
        return False
    s.delete(entry)
    if request.status != OPEN:
        return True  # closed by hand meanwhile: the attempt is only logged
    if outcome == "answered":
        request.last_attempt_at = now
        request.outcome = "answered"
    elif outcome not in NOT_ATTEMPTS:
        _not_reached(request, now, rules, outcome)
    return request.status != OPEN
