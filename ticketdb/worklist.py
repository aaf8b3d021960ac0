"""The callback worklist (domain.md §5, decision 0013): who is called back, by whom, and
how every attempt went.

Each item is a ``callback_requests`` row. Callers' own requests (sources ``ivr`` and
``queue``) are made by the IVR and the queue; ``generate`` adds the others, keyed
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
*unreachable* (``max_attempts`` attempts not reached; listed by ``unreachable_report``);
either way a complaint's ticket then moves to callback_done (``close_ticket``).
Queue callbacks answered by the queue engine end as ``done`` / ``unreached``
(``agents.queue_store``); the reports count those as completed / unreachable.

Dialling: ``request_dial`` puts a *dial entry* in the global queue (``queue_entries``,
status ``callback``, pinned to the agent) that the queue engine picks up; the engine
reports the attempt back through ``apply_dial_outcome``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from agents.seat_store import get_seat
from ticketdb.customers import normalise_phone
from ticketdb.models import (
    Agent,
    Call,
    CallbackRequest,
    Customer,
    QueueEntry,
    Ticket,
)
from ticketdb.sql import insert, transaction
from tickets import callback_plan as plan
from tickets.callback_plan import CallbackRules

if TYPE_CHECKING:
    from agents.shifts import ShiftConfig
    from kernel.calendar import BusinessCalendar
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


# --- generation ----------------------------------------------------------------------


@dataclass(frozen=True)
class GenerateResult:
    complaint: int = 0
    member: int = 0
    survey: int = 0
    # Reasons that got no item, each with why (e.g. no phone number to call).
    skipped: tuple[str, ...] = ()

    @property
    def added(self) -> int:
        return self.complaint + self.member + self.survey


def _number(*candidates: str | None) -> str | None:
    for raw in candidates:
        if raw:
            try:
                return normalise_phone(raw)
            except ValueError:
                continue
    return None


def _add(
    s: Session,
    *,
    channel_id: str,
    source: str,
    number: str,
    reason_at: datetime,
    due_days: int,
    ticket_id: int | None = None,
    customer_id: int | None = None,
    call_id: int | None = None,
) -> int:
    """Insert one generated item unless it exists; 1 when added."""
    added = s.scalar(
        insert(s, CallbackRequest)
        .values(
            node=GENERATED_NODE,
            channel_id=channel_id,
            number=number,
            requested_at=reason_at,
            source=source,
            language="",
            status=OPEN,
            ticket_id=ticket_id,
            customer_id=customer_id,
            call_id=call_id,
            due_at=reason_at + timedelta(days=due_days),
        )
        .on_conflict_do_nothing(index_elements=["node", "channel_id", "source"])
        .returning(CallbackRequest.id)
    )
    return 0 if added is None else 1


def _has_request(source: str, column: Any) -> Any:
    return (
        select(CallbackRequest.id)
        .where(CallbackRequest.source == source, column)
        .correlate_except(CallbackRequest)
        .exists()
    )


def generate(
    s: Session,
    cb: CallbackSettings,
    calendar: BusinessCalendar,
    now: datetime,
    *,
    lookback: timedelta = DEFAULT_LOOKBACK,
) -> GenerateResult:
    """Add the worklist items due by ``now`` from complaints, members' calls and orders;
    commits. Idempotent: an item that exists is never added again (nor changed)."""
    skipped: list[str] = []
    since = now - lookback
    with transaction(s):
        complaint = _complaints(s, cb, now, since, skipped)
    member = 0
    if cb.member_calls:
        with transaction(s):
            member = _member_calls(s, cb, now, since, skipped)
    with transaction(s):
        survey = _surveys(s, cb, calendar, now, since, skipped)
    return GenerateResult(complaint, member, survey, tuple(skipped))


def _complaints(
    s: Session, cb: CallbackSettings, now: datetime, since: datetime, skipped: list[str]
) -> int:
    delay = timedelta(days=cb.complaint_after_days)
    rows = s.execute(
        select(Ticket, Customer.phone)
        .outerjoin(Customer, Customer.id == Ticket.customer_id)
        .where(
            Ticket.kind == "complaint",
            Ticket.resolved_at.is_not(None),
            Ticket.status != "rejected",
            Ticket.resolved_at <= now - delay,
            Ticket.resolved_at >= since - delay,
            Ticket.callback_done_at.is_(None),
            ~_has_request("complaint", CallbackRequest.ticket_id == Ticket.id),
        )
        .order_by(Ticket.id)
    ).all()
    added = 0
    for ticket, customer_phone in rows:
        assert ticket.resolved_at is not None
        number = _number(ticket.contact_phone, customer_phone)
        if number is None:
            skipped.append(f"complaint ticket {ticket.id}: no phone number to call")
            continue
        added += _add(
            s,
            channel_id=f"ticket:{ticket.id}",
            source="complaint",
            number=number,
            reason_at=ticket.resolved_at + delay,
            due_days=cb.due_days,
            ticket_id=ticket.id,
            customer_id=ticket.customer_id,
            call_id=ticket.call_id,
        )
    return added


def _member_call_filter() -> Any:
    """Calls of member customers (the tier the call was taken with, or the customer's
    tier now), callbacks' own records left out."""
    member_phones = select(Customer.phone).where(Customer.tier.in_(MEMBER_TIERS))
    return (
        Call.ended_at.is_not(None)
        & (Call.dialled_number != OUTBOUND_DIALLED)
        & or_(Call.customer_tier.in_(MEMBER_TIERS), Call.caller_number.in_(member_phones))
    )


def _customers_by_phone(s: Session, numbers: Iterable[str]) -> dict[str, Customer]:
    wanted = {n for n in numbers if n}
    if not wanted:
        return {}
    return {c.phone: c for c in s.scalars(select(Customer).where(Customer.phone.in_(wanted)))}


def _member_calls(
    s: Session, cb: CallbackSettings, now: datetime, since: datetime, skipped: list[str]
) -> int:
    own_request = (
        select(CallbackRequest.id)
        .where(
            CallbackRequest.node == Call.node,
            CallbackRequest.channel_id == Call.channel_id,
        )
        .correlate_except(CallbackRequest)
        .exists()
    )
    calls = s.scalars(
        select(Call)
        .where(
            _member_call_filter(),
            Call.started_at >= since,
            Call.ended_at <= now,
            # A call that became a queue callback, or asked for one in the menu, already
            # has its callback.
            Call.callback_id.is_(None),
            ~own_request,
            ~_has_request("member", CallbackRequest.call_id == Call.id),
        )
        .order_by(Call.id)
    ).all()
    numbers = {c.id: _number(c.caller_number) for c in calls}
    customers = _customers_by_phone(s, (n for n in numbers.values() if n))
    added = 0
    for call in calls:
        number = numbers[call.id]
        if number is None:
            skipped.append(f"member call {call.id}: no phone number to call")
            continue
        customer = customers.get(number)
        assert call.ended_at is not None
        added += _add(
            s,
            channel_id=f"call:{call.id}",
            source="member",
            number=number,
            reason_at=call.ended_at,
            due_days=cb.due_days,
            customer_id=customer.id if customer is not None else None,
            call_id=call.id,
        )
    return added


def _surveys(
    s: Session,
    cb: CallbackSettings,
    calendar: BusinessCalendar,
    now: datetime,
    since: datetime,
    skipped: list[str],
) -> int:
    # N working days are at least N calendar days: a cheap filter before the calendar.
    rows = s.execute(
        select(Ticket, Customer.phone)
        .outerjoin(Customer, Customer.id == Ticket.customer_id)
        .where(
            Ticket.kind == "order",
            Ticket.status.not_in(("rejected", "out_of_area")),
            Ticket.created_at <= now - timedelta(days=cb.survey_after_days),
            Ticket.created_at >= since - timedelta(days=2 * cb.survey_after_days + 14),
            ~_has_request("survey", CallbackRequest.ticket_id == Ticket.id),
        )
        .order_by(Ticket.id)
    ).all()
    added = 0
    for ticket, customer_phone in rows:
        local = ticket.created_at.astimezone(calendar.tz)
        day = plan.add_working_days(local.date(), cb.survey_after_days, calendar.is_working_day)
        reason_at = datetime.combine(day, local.time()).replace(tzinfo=calendar.tz)
        reason_at = reason_at.astimezone(UTC)
        if reason_at > now or reason_at < since:
            continue
        number = _number(ticket.contact_phone, customer_phone)
        if number is None:
            skipped.append(f"order ticket {ticket.id}: no phone number to call")
            continue
        added += _add(
            s,
            channel_id=f"ticket:{ticket.id}",
            source="survey",
            number=number,
            reason_at=reason_at,
            due_days=cb.due_days,
            ticket_id=ticket.id,
            customer_id=ticket.customer_id,
            call_id=ticket.call_id,
        )
    return added


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
    from ticketdb.tickets import StaleTicket, TicketNotFound, change_status
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


# --- reports -------------------------------------------------------------------------


@dataclass(frozen=True)
class CoverageRow:
    customer_id: int | None
    name: str
    phone: str
    tier: str
    calls: int
    done: int
    open: int
    unreachable: int
    # Calls with no callback item at all (not generated yet).
    missing: int

    @property
    def status(self) -> str:
        """owed (a callback still to make) | unreachable | done."""
        if self.open or self.missing:
            return "owed"
        return "unreachable" if self.unreachable else "done"


@dataclass(frozen=True)
class CoverageReport:
    since: datetime
    until: datetime
    rows: list[CoverageRow]

    @property
    def owed(self) -> list[CoverageRow]:
        return [r for r in self.rows if r.status == "owed"]

    @property
    def complete(self) -> bool:
        """Every member with calls in the period got their callback (or is unreachable)."""
        return not self.owed


_TALLY = ("calls", "done", "open", "unreachable", "missing")


def _callback_state(request: CallbackRequest | None) -> str:
    if request is None:
        return "missing"
    if request.status in REACHED_STATUSES:
        return "done"
    if request.status in UNREACHABLE_STATUSES:
        return "unreachable"
    return "open"


def coverage_report(s: Session, since: datetime, until: datetime) -> CoverageReport:
    """Member customers who called in ``[since, until)``, and for each whether their
    calls' callbacks are done, still owed, or unreachable (100 % coverage check)."""
    calls = s.scalars(
        select(Call)
        .where(_member_call_filter(), Call.started_at >= since, Call.started_at < until)
        .order_by(Call.id)
    ).all()
    if not calls:
        return CoverageReport(since, until, [])
    ids = [c.id for c in calls]
    callback_ids = [c.callback_id for c in calls if c.callback_id is not None]
    channels = [c.channel_id for c in calls]
    requests = s.scalars(
        select(CallbackRequest).where(
            or_(
                (CallbackRequest.source == "member") & CallbackRequest.call_id.in_(ids),
                CallbackRequest.id.in_(callback_ids),
                CallbackRequest.channel_id.in_(channels),
            )
        )
    ).all()
    by_call = {r.call_id: r for r in requests if r.source == "member"}
    by_id = {r.id: r for r in requests}
    by_channel = {(r.node, r.channel_id): r for r in requests if r.source in ("ivr", "queue")}
    numbers = {c.id: _number(c.caller_number) or c.caller_number for c in calls}
    customers = _customers_by_phone(s, numbers.values())
    tally: dict[str, dict[str, int]] = {}
    who: dict[str, tuple[Customer | None, str]] = {}
    for call in calls:
        request = (
            by_call.get(call.id)
            or (by_id.get(call.callback_id) if call.callback_id is not None else None)
            or by_channel.get((call.node, call.channel_id))
        )
        number = numbers[call.id]
        customer = customers.get(number)
        tier = customer.tier if customer is not None else (call.customer_tier or "")
        if tier not in MEMBER_TIERS and call.customer_tier not in MEMBER_TIERS:
            continue
        counts = tally.setdefault(number, dict.fromkeys(_TALLY, 0))
        counts["calls"] += 1
        counts[_callback_state(request)] += 1
        who[number] = (customer, tier)
    rows = []
    for number, counts in tally.items():
        customer, tier = who[number]
        rows.append(
            CoverageRow(
                customer_id=customer.id if customer is not None else None,
                name=customer.name if customer is not None else "",
                phone=number,
                tier=tier,
                calls=counts["calls"],
                done=counts["done"],
                open=counts["open"],
                unreachable=counts["unreachable"],
                missing=counts["missing"],
            )
        )
    rows.sort(key=lambda r: ({"owed": 0, "unreachable": 1, "done": 2}[r.status], r.phone))
    return CoverageReport(since, until, rows)


@dataclass(frozen=True)
class UnreachableRow:
    id: int
    source: str
    number: str
    name: str
    ticket_id: int | None
    attempts: int
    last_attempt_at: datetime | None
    closed_at: datetime | None
    agent: str | None  # staff number of the agent it was assigned to


def unreachable_report(s: Session, since: datetime, until: datetime) -> list[UnreachableRow]:
    """Items closed as unreachable in ``[since, until)``, oldest first."""
    rows = s.execute(
        select(CallbackRequest, Customer.name, Agent.staff_number)
        .outerjoin(Customer, Customer.id == CallbackRequest.customer_id)
        .outerjoin(Agent, Agent.id == CallbackRequest.assigned_to)
        .where(
            CallbackRequest.status.in_(UNREACHABLE_STATUSES),
            CallbackRequest.completed_at >= since,
            CallbackRequest.completed_at < until,
        )
        .order_by(CallbackRequest.completed_at, CallbackRequest.id)
    ).all()
    return [
        UnreachableRow(
            id=r.id,
            source=r.source,
            number=r.number,
            name=name or "",
            ticket_id=r.ticket_id,
            attempts=r.attempts,
            last_attempt_at=r.last_attempt_at,
            closed_at=r.completed_at,
            agent=staff,
        )
        for r, name, staff in rows
    ]
