"""Where the callbacks nobody asked for come from (domain.md §5, decision 0013): every
complaint handled, every member's call, a survey after an order — ``generate`` adds them to
the worklist, keyed so that generating twice adds nothing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from callbacks import plan
from ticketdb.customers import normalise_phone
from ticketdb.models import (
    Call,
    CallbackRequest,
    Customer,
    Ticket,
)
from ticketdb.sql import insert, transaction

if TYPE_CHECKING:
    from kernel.calendar import BusinessCalendar
    from kernel.settings import CallbackSettings

from callbacks.worklist import (
    DEFAULT_LOOKBACK,
    GENERATED_NODE,
    MEMBER_TIERS,
    OPEN,
    OUTBOUND_DIALLED,
)


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


def first_number(*candidates: str | None) -> str | None:
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
        number = first_number(ticket.contact_phone, customer_phone)
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


def member_call_filter() -> Any:
    """Calls of member customers (the tier the call was taken with, or the customer's
    tier now), callbacks' own records left out."""
    member_phones = select(Customer.phone).where(Customer.tier.in_(MEMBER_TIERS))
    return (
        Call.ended_at.is_not(None)
        & (Call.dialled_number != OUTBOUND_DIALLED)
        & or_(Call.customer_tier.in_(MEMBER_TIERS), Call.caller_number.in_(member_phones))
    )


def customers_by_phone(s: Session, numbers: Iterable[str]) -> dict[str, Customer]:
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
            member_call_filter(),
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
    numbers = {c.id: first_number(c.caller_number) for c in calls}
    customers = customers_by_phone(s, (n for n in numbers.values() if n))
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
        number = first_number(ticket.contact_phone, customer_phone)
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
