"""SLA due times and states on a working-day calendar (weekends, holidays, make-up days),
with fixed clocks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from kernel.calendar import BusinessCalendar, load_calendars
from tickets.config import SlaPolicy, parse_rules
from tickets.sla import add_working_days, due_instants, evaluate, state_of

REPO = Path(__file__).resolve().parents[3]
SHANGHAI = ZoneInfo("Asia/Shanghai")

# Friday 1 May 2026 a holiday, Saturday 9 May a make-up working day.
CALENDAR = """\
timezone: Asia/Shanghai
calendars:
  default:
    weekly:
      mon: ["09:30-11:30", "13:00-17:00"]
      tue: ["09:30-11:30", "13:00-17:00"]
      wed: ["09:30-11:30", "13:00-17:00"]
      thu: ["09:30-11:30", "13:00-17:00"]
      fri: ["09:30-11:30", "13:00-17:00"]
    holidays: ["2026-05-01"]
    extra_open:
      - {date: "2026-05-09", hours: ["10:00-12:00"]}
"""

RULES = """\
sla:
  urgent_first_response_minutes: 10
  kinds:
    complaint: {first_response_minutes: 60, callback_days: 3, resolution_working_days: 3}
    other: {resolution_working_days: 3}
"""


@pytest.fixture
def calendar(tmp_path: Path) -> BusinessCalendar:
    path = tmp_path / "calendar.yaml"
    path.write_text(CALENDAR, encoding="utf-8")
    return load_calendars(path).get("default")


@pytest.fixture
def policy() -> SlaPolicy:
    return parse_rules(RULES).sla


def local(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


@dataclass
class T:
    kind: str
    created_at: datetime
    severity: str = "normal"
    first_response_at: datetime | None = None
    callback_done_at: datetime | None = None
    resolved_at: datetime | None = None


def test_resolution_skips_a_holiday_and_a_weekend(calendar: BusinessCalendar) -> None:
    # Thursday 30 April 15:00; Fri 1 May holiday, Sat/Sun weekend: Mon, Tue, Wed.
    due = add_working_days(calendar, local(2026, 4, 30, 15, 0), 3)
    assert due == local(2026, 5, 6, 15, 0)
    assert due.tzinfo is UTC


def test_resolution_counts_a_make_up_saturday(calendar: BusinessCalendar) -> None:
    # Thursday 7 May 10:00: Fri 8, Sat 9 (make-up working day), Mon 11.
    assert add_working_days(calendar, local(2026, 5, 7, 10, 0), 3) == local(2026, 5, 11, 10, 0)


def test_created_on_a_non_working_day_counts_from_the_next_opening(
    calendar: BusinessCalendar,
) -> None:
    # Holiday Friday 1 May at 20:00 → counts from Monday 4 May 09:30: Tue, Wed, Thu.
    assert add_working_days(calendar, local(2026, 5, 1, 20, 0), 3) == local(2026, 5, 7, 9, 30)
    # Sunday 3 May → Monday 09:30 → 1 working day later: Tuesday 09:30.
    assert add_working_days(calendar, local(2026, 5, 3, 8, 0), 1) == local(2026, 5, 5, 9, 30)
    # A working day after hours keeps its time of day: Monday 22:00 → Thursday 22:00.
    assert add_working_days(calendar, local(2026, 5, 4, 22, 0), 3) == local(2026, 5, 7, 22, 0)


def test_national_day_on_the_shipped_calendar() -> None:
    shipped = load_calendars(REPO / "config" / "calendar.yaml").get("default")
    # Wednesday 30 Sep 2026; 1–7 Oct holidays; Thu 8, Fri 9, make-up Saturday 10 Oct.
    assert add_working_days(shipped, local(2026, 9, 30, 10, 0), 3) == local(2026, 10, 10, 10, 0)


def test_due_instants_per_target(calendar: BusinessCalendar, policy: SlaPolicy) -> None:
    created = local(2026, 4, 30, 15, 0)
    due = due_instants(T("complaint", created), policy, calendar)
    assert due == {
        "first_response": created + timedelta(minutes=60),
        # Calendar days, holiday or not: Sunday 3 May at 15:00.
        "callback": local(2026, 5, 3, 15, 0),
        "resolution": local(2026, 5, 6, 15, 0),
    }
    # Urgent: the policy's urgent minutes, even for a kind without a first-response target.
    urgent = due_instants(T("other", created, severity="urgent"), policy, calendar)
    assert urgent == {
        "first_response": created + timedelta(minutes=10),
        "resolution": local(2026, 5, 6, 15, 0),
    }
    assert due_instants(T("inquiry", created), policy, calendar) == {}


def test_states_over_the_life_of_a_target() -> None:
    created = local(2026, 4, 30, 15, 0)
    due = created + timedelta(hours=10)
    assert state_of(created, due, None, created + timedelta(hours=7), 0.8) == "ok"
    assert state_of(created, due, None, created + timedelta(hours=8), 0.8) == "near"
    assert state_of(created, due, None, due - timedelta(seconds=1), 0.8) == "near"
    assert state_of(created, due, None, due, 0.8) == "breached"
    assert state_of(created, due, due, due + timedelta(days=9), 0.8) == "met"  # on the dot
    assert state_of(created, due, due + timedelta(seconds=1), due, 0.8) == "missed"


def test_a_breach_over_the_weekend_and_holiday(
    calendar: BusinessCalendar, policy: SlaPolicy
) -> None:
    created = local(2026, 4, 30, 15, 0)
    ticket = T("complaint", created, first_response_at=created + timedelta(minutes=20))

    def states(now: datetime) -> dict[str, str]:
        return {s.target: s.state for s in evaluate(ticket, policy, calendar, now, 0.8)}

    # Over the long weekend: first response met; the callback (3 calendar days) is
    # breached on Sunday; resolution (due Wednesday 15:00) is still fine.
    assert states(local(2026, 5, 3, 15, 0)) == {
        "first_response": "met",
        "callback": "breached",
        "resolution": "ok",
    }
    # 80 % of the 6-day span is used on Tuesday 5 May at 10:12.
    assert states(local(2026, 5, 5, 10, 11))["resolution"] == "ok"
    assert states(local(2026, 5, 5, 10, 12))["resolution"] == "near"
    assert states(local(2026, 5, 6, 14, 59))["resolution"] == "near"
    assert states(local(2026, 5, 6, 15, 0))["resolution"] == "breached"
    ticket.resolved_at = local(2026, 5, 6, 16, 0)
    ticket.callback_done_at = local(2026, 5, 2, 9, 0)
    assert states(local(2026, 5, 7, 9, 0)) == {
        "first_response": "met",
        "callback": "met",
        "resolution": "missed",
    }


def test_near_fraction_must_be_a_fraction(calendar: BusinessCalendar, policy: SlaPolicy) -> None:
    ticket = T("complaint", local(2026, 4, 30, 15, 0))
    with pytest.raises(ValueError, match="near_fraction"):
        evaluate(ticket, policy, calendar, local(2026, 5, 1, 0, 0), 1.0)


def test_a_calendar_without_working_days_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "closed.yaml"
    path.write_text("timezone: UTC\ncalendars:\n  never: {weekly: {}}\n", encoding="utf-8")
    never = load_calendars(path).get("never")
    with pytest.raises(ValueError, match="no working day"):
        add_working_days(never, datetime(2026, 5, 1, tzinfo=UTC), 3)
