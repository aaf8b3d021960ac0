"""The 09:30 dispatch run on both back ends, with a fixed clock: which orders are on the
day's lists, out-of-area orders marked with one apology callback, and a second run
changing nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ticketdb.models import CallbackRequest, Customer, Ticket, TicketEvent
from tickets.config import TicketRules, parse_rules
from tickets.dispatch_store import dispatch_list, run_dispatch

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 10, 9)
# The run at 09:30 local on the 9th (01:30 UTC).
NOW = datetime(2026, 10, 9, 9, 30, tzinfo=SHANGHAI)
RULES = parse_rules(
    "dispatch:\n  channels: [retail, home_delivery]\n  sales_areas: [Chaoyang, Haidian]\n"
)


def add_ticket(
    s: Session,
    created: datetime,
    *,
    kind: str = "order",
    channel: str = "retail",
    area: str = "Chaoyang",
    status: str = "new",
    phone: str = "13800000001",
    **columns: Any,
) -> int:
    details = {"product": "Fresh milk 1L", "quantity": 2, "unit_price": "6.50",
               "channel": channel, "area": area}  # fmt: skip
    t = Ticket(kind=kind, status=status, contact_name="Wang Fang", contact_phone=phone,
               address="1 Jianguo Rd", details=details if kind == "order" else {},
               created_by="8001", created_at=created, updated_at=created, **columns)  # fmt: skip
    s.add(t)
    s.commit()
    return t.id


def local(day: int, hour: int, minute: int) -> datetime:
    return datetime(2026, 10, day, hour, minute, tzinfo=SHANGHAI)


def run(s: Session, day: date = DAY, now: datetime = NOW, rules: TicketRules = RULES) -> Any:
    return run_dispatch(s, rules, SHANGHAI, day, "09:30", now)


def ids(lists: dict[str, list[Ticket]]) -> dict[str, list[int]]:
    return {channel: [t.id for t in tickets] for channel, tickets in lists.items()}


def test_the_0930_list_and_the_apology(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        customer = Customer(phone="13900000009", name="Li Lei", tier="member")
        s.add(customer)
        s.commit()
        yesterday = add_ticket(s, local(8, 15, 0))
        early = add_ticket(s, local(9, 9, 29), channel="home_delivery", area="Haidian")
        late = add_ticket(s, local(9, 9, 31))  # after the cutoff: tomorrow's list
        away = add_ticket(s, local(9, 8, 0), area="Pudong", phone="139 0000 0009",
                          customer_id=customer.id)  # fmt: skip
        complaint = add_ticket(s, local(9, 8, 0), kind="complaint")
        resolved = add_ticket(s, local(9, 8, 0), status="resolved")
        earlier = add_ticket(s, local(7, 8, 0), dispatch_day="2026-10-08",
                             dispatch_channel="retail")  # fmt: skip
        unrouted = add_ticket(s, local(9, 8, 5), channel="wholesale")

        result = run(s)
        assert result.cutoff == datetime(2026, 10, 9, 1, 30, tzinfo=UTC)
        assert result.dispatched == {"retail": [yesterday], "home_delivery": [early]}
        assert (result.out_of_area, result.apologies) == ([away], 1)
        assert result.unrouted == [unrouted]

    with sessions() as s:
        assert ids(dispatch_list(s, DAY, ("retail", "home_delivery", "depot"))) == {
            "retail": [yesterday],
            "home_delivery": [early],
            "depot": [],
        }
        for tid in (late, complaint, resolved, unrouted):
            t = s.get_one(Ticket, tid)
            assert (t.dispatch_day, t.status) == (None, "new" if tid != resolved else "resolved")
        assert s.get_one(Ticket, earlier).dispatch_day == "2026-10-08"

        marked = s.get_one(Ticket, away)
        assert (marked.status, marked.dispatch_day, marked.updated_at) == ("out_of_area", None, NOW)
        events = s.scalars(select(TicketEvent).order_by(TicketEvent.id)).all()
        assert [(e.ticket_id, e.action) for e in events] == [
            (yesterday, "dispatched"),
            (early, "dispatched"),
            (away, "status"),
        ]
        assert events[0].changes == {
            "dispatch_day": [None, "2026-10-09"],
            "dispatch_channel": [None, "retail"],
        }
        assert events[2].changes == {"status": ["new", "out_of_area"]}
        assert "Pudong" in (events[2].note or "")

        (apology,) = s.scalars(select(CallbackRequest)).all()
        assert (apology.node, apology.channel_id, apology.source) == (
            "",
            f"ticket:{away}",
            "apology",
        )
        assert (apology.number, apology.ticket_id, apology.customer_id) == (
            "13900000009",
            away,
            customer.id,
        )
        assert (apology.status, apology.requested_at) == ("open", NOW)
        assert apology.due_at == NOW + timedelta(days=3)


def test_running_twice_changes_nothing(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        add_ticket(s, local(9, 9, 0))
        add_ticket(s, local(9, 9, 0), area="Pudong")
        first = run(s)
        assert first.changed and first.apologies == 1

    def snapshot(s: Session) -> tuple[Any, ...]:
        columns = (Ticket.id, Ticket.status, Ticket.dispatch_day, Ticket.updated_at, Ticket.version)
        tickets = s.execute(select(*columns).order_by(Ticket.id)).all()
        events = s.scalar(select(func.count()).select_from(TicketEvent))
        callbacks = s.scalar(select(func.count()).select_from(CallbackRequest))
        return tuple(tickets), events, callbacks

    with sessions() as s:
        before = snapshot(s)
        again = run(s, now=NOW + timedelta(minutes=5))
        assert not again.changed and again.apologies == 0 and again.out_of_area == []
        assert again.dispatched == {"retail": [], "home_delivery": []}
    with sessions() as s:
        assert snapshot(s) == before


def test_an_order_after_the_cutoff_goes_out_the_next_day(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        today = add_ticket(s, local(9, 9, 29))
        late = add_ticket(s, local(9, 9, 30))  # exactly at the cutoff: next day
        run(s)
        result = run(s, date(2026, 10, 10), local(10, 9, 30))
        assert result.dispatched["retail"] == [late]
    with sessions() as s:
        assert ids(dispatch_list(s, DAY)) == {"retail": [today]}
        assert ids(dispatch_list(s, date(2026, 10, 10))) == {"retail": [late]}
        assert dispatch_list(s, date(2026, 10, 11)) == {}


def test_a_missed_day_is_caught_up(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        old = add_ticket(s, local(6, 12, 0))  # the 7th and 8th runs never happened
        result = run(s)
        assert result.dispatched["retail"] == [old]


def test_no_sales_areas_and_no_phone(sessions: sessionmaker[Session]) -> None:
    open_area = parse_rules("dispatch: {channels: [retail]}")
    with sessions() as s:
        anywhere = add_ticket(s, local(9, 9, 0), area="Pudong")
        assert run(s, rules=open_area).dispatched == {"retail": [anywhere]}
        # Out of area with no callable number: marked, the event says why there is no call.
        nophone = add_ticket(s, local(9, 9, 1), area="Pudong", phone="")
        result = run(s)
        assert (result.out_of_area, result.apologies) == ([nophone], 0)
        assert s.scalar(select(func.count()).select_from(CallbackRequest)) == 0
        note = s.scalars(select(TicketEvent.note).where(TicketEvent.ticket_id == nophone)).one()
        assert note is not None and "no callable phone number" in note
