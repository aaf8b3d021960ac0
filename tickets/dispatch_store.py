"""The day's order dispatch in the database: orders taken before the day's cutoff go
onto that day's channel lists; orders outside the sales area are marked out of area and
get an apology callback on the worklist.

Idempotent: an order is taken once (it then has a ``dispatch_day``, or is no longer in a
dispatchable status) and the apology callback is keyed ``("", "ticket:<id>", "apology")``
with ON CONFLICT DO NOTHING, so running a day again, or after a crash, changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ticketdb.customers import normalise_phone
from ticketdb.models import CallbackRequest, Ticket, TicketEvent
from ticketdb.sql import insert, transaction
from tickets.config import TicketRules
from tickets.dispatch import area_of, cutoff_instant, plan_dispatch

# Orders still waiting to go out; later statuses (resolved, closed …) are past dispatch.
DISPATCHABLE = ("new", "assigned", "in_progress")
APOLOGY_SOURCE = "apology"
# The apology call is due this long after the order is found to be out of area.
APOLOGY_DUE = timedelta(days=3)


@dataclass(frozen=True)
class DispatchResult:
    day: date
    cutoff: datetime  # UTC
    # Ticket ids this run put on each channel's list (every configured channel).
    dispatched: dict[str, list[int]]
    # Marked out of area by this run; apology callbacks created (a replay creates none,
    # and an order without a callable phone number gets none).
    out_of_area: list[int] = field(default_factory=list)
    apologies: int = 0
    # No channel, or an unknown one: not dispatched, left for a person to correct.
    unrouted: list[int] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.out_of_area) or any(self.dispatched.values())


def run_dispatch(
    s: Session,
    rules: TicketRules,
    tz: ZoneInfo,
    day: date,
    dispatch_time: str,
    now: datetime,
    actor: str = "system",
) -> DispatchResult:
    """Dispatch every order created before ``day``'s cutoff (``dispatch_time`` local) that
    has not gone out yet; one transaction, commits."""
    cutoff = cutoff_instant(day, dispatch_time, tz)
    stmt = (
        select(Ticket)
        .where(
            Ticket.kind == "order",
            Ticket.dispatch_day.is_(None),
            Ticket.status.in_(DISPATCHABLE),
            Ticket.created_at < cutoff,
        )
        .order_by(Ticket.created_at, Ticket.id)
        # Two runs at once (the scheduler and a lead's `hotline dispatch run`) must not
        # both take an order; SQLite has one writer anyway.
        .with_for_update()
    )
    apologies = 0
    with transaction(s):
        plan = plan_dispatch(s.scalars(stmt).all(), rules.dispatch)
        for channel, orders in plan.by_channel.items():
            for t in orders:
                changes = {
                    "dispatch_day": [None, day.isoformat()],
                    "dispatch_channel": [t.dispatch_channel, channel],
                }
                t.dispatch_day, t.dispatch_channel = day.isoformat(), channel
                _touch(t, now)
                s.add(
                    TicketEvent(
                        ticket_id=t.id, at=now, actor=actor, action="dispatched", changes=changes
                    )
                )
        for t in plan.out_of_area:
            note = f"outside the sales area ({area_of(t) or 'no area given'}): apology call"
            try:
                number = normalise_phone(t.contact_phone)
            except ValueError:
                number = None
                note += f"; no callable phone number ({t.contact_phone!r}), no callback made"
            s.add(
                TicketEvent(
                    ticket_id=t.id,
                    at=now,
                    actor=actor,
                    action="status",
                    changes={"status": [t.status, "out_of_area"]},
                    note=note,
                )
            )
            t.status = "out_of_area"
            _touch(t, now)
            if number is not None:
                apologies += _apology_callback(s, t, number, now)
    return DispatchResult(
        day=day,
        cutoff=cutoff,
        dispatched={ch: [t.id for t in orders] for ch, orders in plan.by_channel.items()},
        out_of_area=[t.id for t in plan.out_of_area],
        apologies=apologies,
        unrouted=[t.id for t in plan.unrouted],
    )


def _touch(ticket: Ticket, now: datetime) -> None:
    ticket.updated_at = now
    # Any optimistic check on the version sees that the order changed under it.
    ticket.version = (ticket.version or 0) + 1


def _apology_callback(s: Session, ticket: Ticket, number: str, now: datetime) -> int:
    """Put the apology call on the callback worklist; 1 when added, 0 when already there."""
    stmt = (
        insert(s, CallbackRequest)
        .values(
            node="",
            channel_id=f"ticket:{ticket.id}",
            source=APOLOGY_SOURCE,
            number=number,
            ticket_id=ticket.id,
            customer_id=ticket.customer_id,
            requested_at=now,
            due_at=now + APOLOGY_DUE,
            status="open",
            note="order outside the sales area: inform the customer and apologise",
        )
        .on_conflict_do_nothing(index_elements=["node", "channel_id", "source"])
        # RETURNING, not rowcount: the ORM's insert reports no row count on PostgreSQL.
        .returning(CallbackRequest.id)
    )
    return 0 if s.execute(stmt).first() is None else 1


def dispatch_list(s: Session, day: date, channels: Sequence[str] = ()) -> dict[str, list[Ticket]]:
    """The orders that went out on ``day``'s lists, by channel, oldest first. Every
    channel in ``channels`` is a key (maybe with an empty list), in that order; channels
    found in the records but no longer configured follow."""
    lists: dict[str, list[Ticket]] = {channel: [] for channel in channels}
    stmt = (
        select(Ticket)
        .where(Ticket.dispatch_day == day.isoformat())
        .order_by(Ticket.created_at, Ticket.id)
    )
    for t in s.scalars(stmt):
        lists.setdefault(t.dispatch_channel or "", []).append(t)
    return lists
