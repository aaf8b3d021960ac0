"""The callback reports: coverage of members' calls per period (every call followed up?)
and the customers nobody could reach."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ticketdb.models import (
    Agent,
    Call,
    CallbackRequest,
    Customer,
)

if TYPE_CHECKING:
    pass

from callbacks.sources import customers_by_phone, first_number, member_call_filter
from callbacks.worklist import MEMBER_TIERS, REACHED_STATUSES, UNREACHABLE_STATUSES


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
        .where(member_call_filter(), Call.started_at >= since, Call.started_at < until)
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
    numbers = {c.id: first_number(c.caller_number) or c.caller_number for c in calls}
    customers = customers_by_phone(s, numbers.values())
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
