"""The SLA sweep and the wallboard's breaches on both back ends, with fixed clocks, on a
working-day calendar with a holiday."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from kernel.calendar import BusinessCalendar, load_calendars
from ticketdb.models import Ticket, TicketSla
from tickets.config import parse_rules
from tickets.sla_store import breaches, sweep

SHANGHAI = ZoneInfo("Asia/Shanghai")
RULES = parse_rules(
    """\
sla:
  urgent_first_response_minutes: 10
  kinds:
    complaint: {first_response_minutes: 60, callback_days: 3, resolution_working_days: 3}
    order: {resolution_working_days: 3}
"""
)
CALENDAR = """\
timezone: Asia/Shanghai
calendars:
  default:
    weekly: {mon: ["09:30-17:00"], tue: ["09:30-17:00"], wed: ["09:30-17:00"],
             thu: ["09:30-17:00"], fri: ["09:30-17:00"]}
    holidays: ["2026-05-01"]
"""
# Thursday 30 April 2026, 15:00 local; Friday is a holiday.
T0 = datetime(2026, 4, 30, 15, 0, tzinfo=SHANGHAI)


@pytest.fixture
def calendar(tmp_path: Path) -> BusinessCalendar:
    path = tmp_path / "calendar.yaml"
    path.write_text(CALENDAR, encoding="utf-8")
    return load_calendars(path).get("default")


def add_ticket(s: Session, kind: str = "complaint", created: datetime = T0, **cols: Any) -> int:
    t = Ticket(kind=kind, contact_name="Wang Fang", contact_phone="13800000001",
               created_by="8001", created_at=created, updated_at=created, **cols)  # fmt: skip
    s.add(t)
    s.commit()
    return t.id


def rows(s: Session) -> dict[tuple[int, str], tuple[str, datetime]]:
    found = s.scalars(select(TicketSla)).all()
    return {(r.ticket_id, r.target): (r.state, r.due_at) for r in found}


def states(s: Session) -> dict[tuple[int, str], str]:
    return {key: state for key, (state, _) in rows(s).items()}


def test_sweep_writes_one_row_per_target(
    sessions: sessionmaker[Session], calendar: BusinessCalendar
) -> None:
    with sessions() as s:
        c = add_ticket(s)
        o = add_ticket(s, "order")
        add_ticket(s, "inquiry")  # no targets for inquiries in these rules
        now = T0 + timedelta(minutes=50)  # 83 % of the first-response hour
        result = sweep(s, RULES, calendar, now, 0.8)
        assert result.tickets == 3 and result.written == 4
        assert result.counts == {"ok": 3, "near": 1, "breached": 0, "met": 0, "missed": 0}
        assert rows(s) == {
            (c, "first_response"): ("near", T0 + timedelta(hours=1)),
            (c, "callback"): ("ok", T0 + timedelta(days=3)),
            # Holiday Friday and the weekend: Mon, Tue, Wed.
            (c, "resolution"): ("ok", datetime(2026, 5, 6, 15, 0, tzinfo=SHANGHAI)),
            (o, "resolution"): ("ok", datetime(2026, 5, 6, 15, 0, tzinfo=SHANGHAI)),
        }
        # Nothing changed: nothing written.
        assert sweep(s, RULES, calendar, now, 0.8).written == 0


def test_breaches_over_the_holiday_weekend_and_milestones(
    sessions: sessionmaker[Session], calendar: BusinessCalendar
) -> None:
    with sessions() as s:
        c = add_ticket(s, first_response_at=T0 + timedelta(minutes=30))
        late = add_ticket(s, created=T0 - timedelta(hours=1))
        urgent = add_ticket(s, "order", created=T0 + timedelta(hours=2), severity="urgent")
        # Tuesday 5 May 13:00: the callback (Sunday) is breached, resolution is near.
        now = datetime(2026, 5, 5, 13, 0, tzinfo=SHANGHAI)
        sweep(s, RULES, calendar, now, 0.8)
        assert states(s) == {
            (c, "first_response"): "met",
            (c, "callback"): "breached",
            (c, "resolution"): "near",
            (late, "first_response"): "breached",
            (late, "callback"): "breached",
            (late, "resolution"): "near",
            (urgent, "first_response"): "breached",
            (urgent, "resolution"): "near",
        }
        found = breaches(s)
        # Urgent first; then the most overdue first.
        assert [(b.ticket_id, b.target) for b in found] == [
            (urgent, "first_response"),
            (urgent, "resolution"),
            (late, "first_response"),
            (late, "callback"),
            (c, "callback"),
            (late, "resolution"),
            (c, "resolution"),
        ]
        first = found[0]
        assert (first.kind, first.severity, first.contact_name, first.contact_phone) == (
            "order",
            "urgent",
            "Wang Fang",
            "13800000001",
        )
        assert first.overdue_seconds(now) == pytest.approx((now - first.due_at).total_seconds())
        assert [b.ticket_id for b in breaches(s, ("near",))] == [urgent, late, c]

        # The callback is made late and the ticket resolved in time: missed and met, final.
        ticket = s.get_one(Ticket, c)
        ticket.callback_done_at = now
        ticket.resolved_at = now
        s.commit()
        sweep(s, RULES, calendar, now + timedelta(minutes=1), 0.8)
        assert states(s)[(c, "callback")] == "missed"
        assert states(s)[(c, "resolution")] == "met"
        assert c not in {b.ticket_id for b in breaches(s)}

        with pytest.raises(ValueError, match="unknown SLA state"):
            breaches(s, ("late",))


def test_a_stopped_ticket_is_settled_once(
    sessions: sessionmaker[Session], calendar: BusinessCalendar
) -> None:
    with sessions() as s:
        c = add_ticket(s)
        now = T0 + timedelta(hours=2)
        sweep(s, RULES, calendar, now, 0.8)
        assert states(s) == {
            (c, "first_response"): "breached",
            (c, "callback"): "ok",
            (c, "resolution"): "ok",
        }
        ticket = s.get_one(Ticket, c)
        ticket.status, ticket.closed_at, ticket.updated_at = "rejected", now, now
        s.commit()
        later = now + timedelta(days=10)
        result = sweep(s, RULES, calendar, later, 0.8)
        assert (result.settled, result.tickets) == (1, 0)
        # The breach stands; targets still to come when it stopped no longer apply.
        assert states(s) == {(c, "first_response"): "breached"}
        assert breaches(s) == []
        again = sweep(s, RULES, calendar, later + timedelta(minutes=1), 0.8)
        assert (again.settled, again.written) == (0, 0)


def test_a_target_the_rules_drop_is_removed(
    sessions: sessionmaker[Session], calendar: BusinessCalendar
) -> None:
    with sessions() as s:
        c = add_ticket(s)
        sweep(s, RULES, calendar, T0, 0.8)
        fewer = parse_rules("sla:\n  kinds:\n    complaint: {resolution_working_days: 5}\n")
        sweep(s, fewer, calendar, T0, 0.8)
        assert rows(s) == {
            (c, "resolution"): ("ok", datetime(2026, 5, 8, 15, 0, tzinfo=SHANGHAI)),
        }
