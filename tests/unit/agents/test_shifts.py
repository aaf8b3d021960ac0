"""Shift rules at fixed instants: periods, routability, every rule's refusal and its reason,
lead overrides, staffing alerts and their monitor, handovers, and the file's line errors."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from agents.shift_file import ShiftsInvalid, load_shifts
from agents.shifts import (
    ACTING_LEAD,
    ALREADY,
    LEAD_STAYS_OPEN,
    MAX_AWAY,
    MAX_LEAVE,
    MIN_ON_DUTY,
    NOT_PRESENT,
    STAY_UNTIL_END,
    AgentView,
    Alert,
    AlertMonitor,
    Roster,
    Rules,
    ShiftChange,
    ShiftConfig,
    Staffing,
    alerts,
    handover_due,
    hours_at,
    may_go_away,
    may_log_off,
    may_take_leave,
    overdue_away,
    override,
    period_at,
    render_day,
    routable,
    staffing,
)
from kernel.calendar import load_calendars

REPO = Path(__file__).resolve().parents[3]
SH = ZoneInfo("Asia/Shanghai")

# The fund call center (domain.md §4). 2026-11-02 is a Monday; 11-04 a holiday below.
FUND = """\
timezone: Asia/Shanghai
holidays_from: default
teams:
  hotline: {description: fund hotline}
  evening: {}
shifts:
  day:
    teams: [hotline]
    days: mon-fri
    periods:
      - {at: "09:00-09:30", kind: prep, name: briefing}
      - {at: "09:30-11:30", kind: on_post, name: morning}
      - {at: "11:30-13:00", kind: break, name: lunch}
      - {at: "13:00-17:00", kind: on_post, name: afternoon}
      - {at: "17:00-17:30", kind: wrap, name: summary}
  late:
    teams: [evening]
    days: [mon-fri]
    periods:
      - {at: "18:00-21:00", kind: on_post}
"""

CALENDAR = """\
timezone: Asia/Shanghai
calendars:
  default:
    weekly: {mon: ["09:30-11:30"]}
    holidays: ["2026-11-04"]
"""

# Other centers: day 8:00–12:00 + 12:30–16:30, evening 15:30–17:30 + 18:00–24:00, and a
# night shift from midnight for the three-shift variant.
TWO_SHIFTS = """\
timezone: Asia/Shanghai
teams: {day: {}, evening: {}, night: {}}
shifts:
  day:
    teams: [day]
    days: mon-sun
    periods:
      - {at: "08:00-12:00", kind: on_post}
      - {at: "12:30-16:30", kind: on_post}
  evening:
    teams: [evening]
    days: mon-sun
    periods:
      - {at: "15:30-17:30", kind: on_post}
      - {at: "18:00-24:00", kind: on_post}
  night:
    teams: [night]
    days: [tue, wed, thu, fri, sat, sun]
    periods:
      - {at: "00:00-08:00", kind: on_post}
"""


def at(h: int, mi: int = 0, s: int = 0, day: int = 2) -> datetime:
    return datetime(2026, 11, day, h, mi, s, tzinfo=SH)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def fund(tmp_path: Path) -> ShiftConfig:
    calendars = load_calendars(write(tmp_path, "calendar.yaml", CALENDAR))
    return load_shifts(write(tmp_path, "shifts.yaml", FUND), calendars)


@pytest.fixture
def two(tmp_path: Path) -> ShiftConfig:
    return load_shifts(write(tmp_path, "two.yaml", TWO_SHIFTS))


NAMES = {1: "Zhang Wei", 2: "Li Na", 3: "Wang Fang", 4: "Liu Yang", 5: "Chen Jing", 6: "Zhao Lei"}


def seat(agent_id: int, **changes: Any) -> AgentView:
    base = AgentView(
        id=agent_id,
        name=NAMES.get(agent_id, f"agent {agent_id}"),
        role="lead" if agent_id == 1 else "agent",
        team="hotline",
        state="available",
        state_since=at(9, 0),
    )
    return replace(base, **changes)


def roster(
    config: ShiftConfig, changes: dict[int, dict[str, Any]] | None = None, **kw: Any
) -> Roster:
    """The fund's six seats (1 = lead, 2–6 normal) plus an admin (9), all available."""
    changes = changes or {}
    agents = [seat(i, **changes.get(i, {})) for i in range(1, 7)]
    agents.append(seat(9, role="admin", name="Admin", **changes.get(9, {})))
    return Roster(config, tuple(agents), **kw)


def with_rules(config: ShiftConfig, **rules: Any) -> ShiftConfig:
    return replace(config, rules=replace(config.rules, **rules))


# --- the shipped file and periods -----------------------------------------------------


def test_shipped_file_is_the_fund_rules() -> None:
    config = load_shifts(REPO / "config/shifts.yaml", load_calendars(REPO / "config/calendar.yaml"))
    assert config.rules == Rules()
    assert config.rules == Rules(4, 2, 1, 10, 1, True)
    team = config.team_schedule("hotline")
    got = [
        (p.kind, p.start.strftime("%H:%M"), p.end.strftime("%H:%M"))
        for p in team_periods(team, date(2026, 11, 2))
    ]
    assert got == [
        ("prep", "09:00", "09:30"),
        ("on_post", "09:30", "11:30"),
        ("break", "11:30", "13:00"),
        ("on_post", "13:00", "17:00"),
        ("wrap", "17:00", "17:30"),
    ]
    assert period_at(team, datetime(2026, 10, 1, 10, tzinfo=SH)) is None  # National Day
    assert period_at(team, datetime(2026, 11, 7, 10, tzinfo=SH)) is None  # Saturday


def team_periods(schedule: Any, d: date) -> list[Any]:
    """Every distinct period of a day, sampled each minute."""
    seen: dict[tuple[datetime, str], Any] = {}
    t = datetime(d.year, d.month, d.day, tzinfo=SH)
    for _ in range(24 * 60):
        p = period_at(schedule, t)
        if p is not None:
            seen.setdefault((p.start, p.name), p)
        t += timedelta(minutes=1)
    return list(seen.values())


@pytest.mark.parametrize(
    ("when", "kind", "name"),
    [
        (at(8, 59, 59), None, None),
        (at(9, 0), "prep", "briefing"),
        (at(9, 29, 59), "prep", "briefing"),
        (at(9, 30), "on_post", "morning"),
        (at(11, 30), "break", "lunch"),
        (at(12, 59, 59), "break", "lunch"),
        (at(13, 0), "on_post", "afternoon"),
        (at(17, 0), "wrap", "summary"),
        (at(17, 29, 59), "wrap", "summary"),
        (at(17, 30), None, None),
        (at(10, day=4), None, None),  # holiday from the calendar
        (at(10, day=7), None, None),  # Saturday
    ],
)
def test_period_at(fund: ShiftConfig, when: datetime, kind: str | None, name: str | None) -> None:
    p = period_at(fund.team_schedule("hotline"), when)
    assert (p.kind, p.name) == (kind, name) if p else kind is None


def test_period_instants_and_time_zone(fund: ShiftConfig) -> None:
    # 02:00 UTC is 10:00 in Shanghai.
    p = period_at(
        fund.team_schedule("hotline"), datetime(2026, 11, 2, 2, 0, tzinfo=ZoneInfo("UTC"))
    )
    assert p is not None
    assert (p.start, p.end, p.shift, p.teams) == (
        at(9, 30),
        at(11, 30),
        "day",
        frozenset({"hotline"}),
    )
    with pytest.raises(ValueError, match="naive"):
        period_at(fund.schedule, datetime(2026, 11, 2, 10))


def test_hours(fund: ShiftConfig) -> None:
    assert hours_at(fund.schedule, at(10)) == "open"
    assert hours_at(fund.schedule, at(12)) == "outside"
    assert hours_at(fund.schedule, at(17, 45)) == "off"
    assert hours_at(fund.schedule, at(19)) == "open"  # the evening team is on post


# --- routable -------------------------------------------------------------------------


def test_routable_by_state_role_skill_and_shift(fund: ShiftConfig) -> None:
    r = roster(
        fund,
        {
            2: {"skills": {"funds": 3}, "state_since": at(9, 40)},
            3: {"skills": {"funds": 1}, "state_since": at(9, 35)},
            4: {"state": "ringing"},
            5: {"state": "away", "away_reason": "toilet"},
            6: {"team": "evening", "skills": {"funds": 5}},
            1: {"skills": {"funds": 2}, "state_since": at(9, 50)},
            9: {"skills": {"funds": 5}},
        },
    )
    # Longest available first; the admin is not a seat; the evening agent is off shift.
    assert [a.id for a in routable(r, at(10), "funds")] == [3, 2, 1]
    assert [a.id for a in routable(r, at(10))] == [3, 2, 1]
    assert routable(r, at(10), "insurance") == []
    assert [a.id for a in routable(r, at(19), "funds")] == [6]
    assert [a.id for a in routable(r, at(12), "funds")] == [3, 2, 1]  # lunch cover
    assert routable(r, at(10, day=4), "funds") == []  # holiday
    assert routable(r, at(17, 30)) == []


def test_routable_skill_level_zero_is_no_skill(fund: ShiftConfig) -> None:
    r = roster(fund, {2: {"skills": {"funds": 0}}})
    assert 2 not in [a.id for a in routable(r, at(10), "funds")]


# --- going away -----------------------------------------------------------------------


def test_away_allowed_with_the_limit(fund: ShiftConfig) -> None:
    d = may_go_away(roster(fund), 2, "toilet", at(10))
    assert (d.allowed, d.rule) == (True, None)
    assert d.reason == "Li Na may go away (toilet) for up to 10 minutes"
    d = may_go_away(roster(fund, {2: {"away_limit_minutes": 5}}), 2, "break", at(10))
    assert d.reason == "Li Na may go away (break) for up to 5 minutes"


def test_away_refused_when_another_seat_is_away(fund: ShiftConfig) -> None:
    r = roster(fund, {2: {"state": "away", "away_reason": "break", "state_since": at(10, 2)}})
    d = may_go_away(r, 3, "toilet", at(10, 5))
    assert (d.allowed, d.rule) == (False, MAX_AWAY)
    assert d.reason == (
        "Li Na is already away (break since 10:02); at most 1 seat may be away at once"
    )
    # The lead's seat counts too; an admin is not a seat.
    assert may_go_away(r, 1, "meeting", at(10, 5)).rule == MAX_AWAY
    assert may_go_away(r, 9, "break", at(10, 5)).allowed


def test_away_setting_of_two(fund: ShiftConfig) -> None:
    config = with_rules(fund, max_away_at_once=2, min_normal_on_duty_open=2)
    r = roster(config, {2: {"state": "away", "away_reason": "break", "state_since": at(10, 2)}})
    assert may_go_away(r, 3, "toilet", at(10, 5)).allowed
    r = roster(
        config,
        {
            2: {"state": "away", "away_reason": "break", "state_since": at(10, 2)},
            3: {"state": "away", "away_reason": "toilet", "state_since": at(10, 4)},
        },
    )
    d = may_go_away(r, 4, "toilet", at(10, 5))
    assert d.rule == MAX_AWAY
    assert d.reason == (
        "Li Na (break since 10:02) and Wang Fang (toilet since 10:04) are already away; "
        "at most 2 seats may be away at once"
    )


def test_away_refused_below_the_open_minimum(fund: ShiftConfig) -> None:
    r = roster(fund, {6: {"state": "on_leave"}})  # 4 normal seats on duty
    d = may_go_away(r, 2, "toilet", at(10))
    assert (d.allowed, d.rule) == (False, MIN_ON_DUTY)
    assert d.reason == (
        "only 3 normal seats would remain on duty while the market is open (minimum 4)"
    )
    # The lead is not a normal seat: the minimum doesn't hold the lead back.
    assert may_go_away(r, 1, "meeting", at(10)).allowed


def test_away_outside_market_hours_keeps_two(fund: ShiftConfig) -> None:
    at_lunch = at(12)
    r = roster(fund, {4: {"state": "offline"}, 5: {"state": "offline"}})  # 3 cover lunch
    assert may_go_away(r, 2, "toilet", at_lunch).allowed
    r = roster(fund, {3: {"state": "offline"}, 4: {"state": "offline"}, 5: {"state": "offline"}})
    d = may_go_away(r, 2, "toilet", at_lunch)
    assert d.rule == MIN_ON_DUTY
    assert d.reason == ("only 1 normal seat would remain on duty outside market hours (minimum 2)")
    # Off shift altogether there is no minimum.
    assert may_go_away(r, 2, "toilet", at(18, 0, day=7)).allowed


def test_away_refusals_of_state_are_not_overridable(fund: ShiftConfig) -> None:
    r = roster(fund, {2: {"state": "away", "away_reason": "break"}, 3: {"state": "offline"}})
    d = may_go_away(r, 2, "toilet", at(10))
    assert (d.rule, d.overridable_by) == (ALREADY, frozenset())
    d = may_go_away(r, 3, "toilet", at(10))
    assert (d.rule, d.overridable_by) == (NOT_PRESENT, frozenset())
    with pytest.raises(PermissionError):
        override(d, 1, at(10))


# --- overrides ------------------------------------------------------------------------


def test_lead_override_record(fund: ShiftConfig) -> None:
    r = roster(fund, {2: {"state": "away", "away_reason": "break", "state_since": at(10, 2)}})
    d = may_go_away(r, 3, "toilet", at(10, 5))
    assert d.overridable_by == {1}
    record = override(d, 1, at(10, 6))
    assert record.at == at(10, 6)
    assert record.decided_at == at(10, 5)
    assert (record.lead_id, record.agent_id, record.action) == (1, 3, "away")
    assert (record.rule, record.away_reason) == (MAX_AWAY, "toilet")
    assert record.refusal == d.reason
    line = record.log_line()
    assert "lead 1 overrode max_away_at_once for agent 3 (away (toilet))" in line
    assert d.reason in line


def test_override_needs_a_lead_not_the_agent(fund: ShiftConfig) -> None:
    r = roster(fund, {2: {"state": "away", "away_reason": "break"}})
    d = may_go_away(r, 3, "toilet", at(10, 5))
    with pytest.raises(PermissionError):
        override(d, 3, at(10, 6))  # the agent themself
    with pytest.raises(PermissionError):
        override(d, 4, at(10, 6))  # a normal seat
    with pytest.raises(PermissionError):
        override(d, 9, at(10, 6))  # an admin
    allowed = may_go_away(roster(fund), 3, "toilet", at(10))
    with pytest.raises(ValueError, match="nothing to override"):
        override(allowed, 1, at(10))


def test_acting_lead_may_override_while_the_lead_is_on_leave(fund: ShiftConfig) -> None:
    r = roster(
        fund,
        {1: {"state": "on_leave"}, 2: {"acting_lead": True}, 4: {"state": "away"}},
    )
    assert r.acting_lead is not None and r.acting_lead.id == 2
    d = may_go_away(r, 3, "toilet", at(10))
    assert d.overridable_by == {1, 2}
    assert override(d, 2, at(10)).lead_id == 2
    # The acting lead's own request is someone else's to override.
    d = may_go_away(r, 2, "toilet", at(10))
    assert d.overridable_by == {1}


def test_roster_acting_lead_consistency(fund: ShiftConfig) -> None:
    assert roster(fund, acting_lead_id=3).acting_lead == seat(3)
    with pytest.raises(ValueError, match="more than one"):
        roster(fund, {2: {"acting_lead": True}}, acting_lead_id=3)
    with pytest.raises(ValueError, match="more than one"):
        roster(fund, {2: {"acting_lead": True}, 3: {"acting_lead": True}})
    with pytest.raises(ValueError, match="normal seat"):
        roster(fund, acting_lead_id=1)


# --- leave ----------------------------------------------------------------------------


def test_leave_allowed(fund: ShiftConfig) -> None:
    d = may_take_leave(roster(fund), 2, at(10))
    assert (d.allowed, d.rule, d.action) == (True, None, "leave")


def test_leave_refused_when_another_normal_seat_is_on_leave(fund: ShiftConfig) -> None:
    r = roster(fund, {3: {"state": "on_leave"}})
    d = may_take_leave(r, 2, at(8))
    assert (d.allowed, d.rule) == (False, MAX_LEAVE)
    assert d.reason == (
        "Wang Fang is already on leave; at most 1 normal seat may be on leave at once"
    )
    assert override(d, 1, at(8)).rule == MAX_LEAVE
    assert may_take_leave(r, 3, at(8)).rule == ALREADY


def test_leave_keeps_the_minimum(fund: ShiftConfig) -> None:
    r = roster(with_rules(fund, max_normal_on_leave_at_once=2), {3: {"state": "on_leave"}})
    d = may_take_leave(r, 2, at(10))
    assert d.rule == MIN_ON_DUTY
    assert d.reason.startswith("only 3 normal seats would remain on duty")


def test_lead_leave_needs_an_acting_lead(fund: ShiftConfig) -> None:
    d = may_take_leave(roster(fund), 1, at(8))
    assert (d.allowed, d.rule) == (False, ACTING_LEAD)
    assert d.reason == (
        "the lead's absence needs an acting lead: designate a normal seat as acting lead first"
    )
    assert d.overridable_by == frozenset()  # nobody else leads
    assert may_take_leave(roster(fund, acting_lead_id=2), 1, at(8)).allowed
    # With the setting off, the lead may go.
    assert may_take_leave(roster(with_rules(fund, lead_absence_needs_acting_lead=False)), 1, at(8))


def test_acting_lead_cannot_leave_while_standing_in(fund: ShiftConfig) -> None:
    r = roster(fund, {1: {"state": "on_leave"}}, acting_lead_id=2)
    d = may_take_leave(r, 2, at(8))
    assert d.rule == ACTING_LEAD
    assert d.reason == (
        "Li Na is the acting lead while the lead is on leave; designate another acting lead first"
    )


# --- logging off ----------------------------------------------------------------------


def test_normal_seats_stay_until_the_end_of_shift(fund: ShiftConfig) -> None:
    r = roster(fund)
    for when in (at(9, 10), at(10), at(17, 10)):
        d = may_log_off(r, 2, when)
        assert (d.rule, d.reason) == (
            STAY_UNTIL_END,
            "normal seats stay until the end of the day shift at 17:30",
        )
    assert may_log_off(r, 2, at(17, 30)).allowed
    assert may_log_off(r, 2, at(12)).allowed  # lunch, enough cover
    r = roster(fund, {3: {"state": "offline"}, 4: {"state": "offline"}, 5: {"state": "offline"}})
    assert may_log_off(r, 2, at(12)).rule == MIN_ON_DUTY


def test_lead_leaves_after_the_market_closes(fund: ShiftConfig) -> None:
    r = roster(fund, acting_lead_id=2)
    d = may_log_off(r, 1, at(16, 59))
    assert (d.rule, d.reason) == (
        LEAD_STAYS_OPEN,
        "the lead may leave only after the market closes",
    )
    assert may_log_off(r, 1, at(17, 0)).allowed
    assert may_log_off(roster(fund, {1: {"state": "offline"}}), 1, at(17)).rule == NOT_PRESENT


# --- staffing, overdue, alerts ----------------------------------------------------------


def test_staffing_counts_normal_seats_on_shift_and_on_duty(fund: ShiftConfig) -> None:
    r = roster(fund)
    assert staffing(r, at(10)) == Staffing(5, 4, False, "open")
    r = roster(
        fund,
        {
            2: {"state": "ringing"},
            3: {"state": "on_call"},
            4: {"state": "wrap_up"},
            5: {"state": "away"},
            6: {"team": "evening"},  # off shift at 10:00
        },
    )
    assert staffing(r, at(10)) == Staffing(3, 4, True, "open")
    assert staffing(r, at(12)) == Staffing(3, 2, False, "outside")
    assert staffing(r, at(19)) == Staffing(1, 4, True, "open")
    assert staffing(r, at(17, 45)) == Staffing(0, 0, False, "off")


def test_overdue_away(fund: ShiftConfig) -> None:
    r = roster(
        fund,
        {
            2: {"state": "away", "away_reason": "break", "state_since": at(10)},
            3: {
                "state": "away",
                "away_reason": "meeting",
                "state_since": at(10),
                "away_limit_minutes": 30,
            },
            1: {"state": "away", "away_reason": "toilet", "state_since": at(9, 58)},
        },
    )
    assert overdue_away(r, at(10, 8)) == []
    assert [(a.id, m) for a, m in overdue_away(r, at(10, 8, 1))] == [(1, 1)]
    assert [(a.id, m) for a, m in overdue_away(r, at(10, 10))] == [(1, 2)]
    assert [(a.id, m) for a, m in overdue_away(r, at(10, 14))] == [(1, 6), (2, 4)]
    assert [(a.id, m) for a, m in overdue_away(r, at(10, 31))] == [(1, 23), (2, 21), (3, 1)]


def test_alerts_understaffed_open_and_outside(fund: ShiftConfig) -> None:
    r = roster(fund, {3: {"state": "on_leave"}, 4: {"state": "offline"}, 5: {"state": "offline"}})
    assert alerts(r, at(10)) == [
        Alert(
            "understaffed",
            "critical",
            "2 normal seats on duty while the market is open (minimum 4)",
        )
    ]
    assert alerts(r, at(12)) == []  # 2 cover lunch: enough
    r = roster(fund, {i: {"state": "offline"} for i in (3, 4, 5, 6)})
    assert alerts(r, at(12)) == [
        Alert("understaffed", "warning", "1 normal seat on duty outside market hours (minimum 2)")
    ]
    assert alerts(r, at(17, 45)) == []


def test_alerts_overdue_and_acting_lead_in_a_fixed_order(fund: ShiftConfig) -> None:
    changes: dict[int, dict[str, Any]] = {
        1: {"state": "on_leave"},
        2: {"state": "away", "away_reason": "break", "state_since": at(10)},
        3: {"state": "away", "away_reason": "toilet", "state_since": at(10, 1)},
        4: {"state": "offline"},
    }
    r = roster(fund, changes)
    expected = [
        Alert(
            "understaffed",
            "critical",
            "2 normal seats on duty while the market is open (minimum 4)",
        ),
        Alert(
            "no_acting_lead", "critical", "the lead is on leave and no acting lead is designated"
        ),
        Alert(
            "overdue_away",
            "warning",
            "Li Na has been away (break) for 15 min, 5 min over the 10-min limit",
            2,
        ),
        Alert(
            "overdue_away",
            "warning",
            "Wang Fang has been away (toilet) for 14 min, 4 min over the 10-min limit",
            3,
        ),
    ]
    assert alerts(r, at(10, 15)) == expected
    shuffled = Roster(fund, tuple(reversed(r.agents)))
    assert alerts(shuffled, at(10, 15)) == expected


def test_no_acting_lead_alert(fund: ShiftConfig) -> None:
    def kinds(r: Roster, when: datetime) -> list[str]:
        return [a.message for a in alerts(r, when) if a.kind == "no_acting_lead"]

    on_leave = {1: {"state": "on_leave"}}
    assert kinds(roster(fund, on_leave, acting_lead_id=2), at(10)) == []
    assert kinds(roster(fund, {**on_leave, 2: {"state": "offline"}}, acting_lead_id=2), at(10)) == [
        "the lead is on leave and the acting lead Li Na is not logged in"
    ]
    assert kinds(roster(fund, on_leave), at(17, 45)) == []  # nobody on shift
    offline = {1: {"state": "offline"}}
    assert kinds(roster(fund, offline), at(10)) == [
        "no lead is logged in and no acting lead is designated"
    ]
    assert kinds(roster(fund, offline), at(17, 10)) == []  # the lead may leave after close
    assert kinds(roster(fund, {1: {"state": "away"}}), at(10)) == []
    assert (
        kinds(roster(with_rules(fund, lead_absence_needs_acting_lead=False), on_leave), at(10))
        == []
    )


def test_alert_monitor_raises_and_clears_within_one_feed(fund: ShiftConfig) -> None:
    monitor = AlertMonitor()
    full = roster(fund)
    short = roster(fund, {5: {"state": "on_leave"}, 6: {"state": "offline"}})
    t = at(10)
    assert monitor.feed(full, t).raised == ()
    change = monitor.feed(short, t + timedelta(seconds=1))  # the next one-second poll
    assert [a.kind for a in change.raised] == ["understaffed"]
    assert monitor.since(change.raised[0]) == t + timedelta(seconds=1)
    again = monitor.feed(short, t + timedelta(seconds=2))
    assert (again.raised, again.cleared) == ((), ())
    assert [a.kind for a in again.active] == ["understaffed"]
    back = monitor.feed(full, t + timedelta(seconds=3))
    assert [a.kind for a in back.cleared] == ["understaffed"]
    assert monitor.active == ()
    with pytest.raises(ValueError, match="time order"):
        monitor.feed(full, t)


def test_alert_monitor_overdue_raised_once_as_minutes_grow(fund: ShiftConfig) -> None:
    monitor = AlertMonitor()
    r = roster(fund, {2: {"state": "away", "away_reason": "toilet", "state_since": at(10)}})
    raised_at = []
    t = at(10, 9, 57)
    while t <= at(10, 12):
        change = monitor.feed(r, t)
        raised_at += [t for a in change.raised if a.kind == "overdue_away"]
        assert change.cleared == ()
        t += timedelta(seconds=1)
    # Polled each second: raised on the first poll past the limit, never again.
    assert raised_at == [at(10, 10, 1)]
    assert monitor.active[0].message.endswith("2 min over the 10-min limit")
    back = roster(fund)
    assert [a.agent_id for a in monitor.feed(back, t).cleared] == [2]


# --- two and three shifts, handovers ---------------------------------------------------


def test_two_shift_periods_and_routing(two: ShiftConfig) -> None:
    day, evening = two.team_schedule("day"), two.team_schedule("evening")
    p = period_at(day, at(12, 15))  # the unnamed gap inside the day shift is a break
    assert p is not None and (p.kind, p.start, p.end) == ("break", at(12), at(12, 30))
    assert period_at(evening, at(17, 45)) is not None
    assert period_at(day, at(16, 30)) is None
    assert period_at(evening, at(23, 59, 59)) is not None
    r = Roster(
        two,
        (
            seat(2, team="day"),
            seat(3, team="evening"),
            seat(4, team="night"),
        ),
    )
    assert [a.id for a in routable(r, at(16))] == [2, 3]
    assert [a.id for a in routable(r, at(17))] == [3]
    assert [a.id for a in routable(r, at(1, day=3))] == [4]  # Tuesday night
    assert routable(r, at(1, day=2)) == []  # no night shift into Monday


def test_handover_at_each_change_of_shift(two: ShiftConfig) -> None:
    changes = handover_due(two.schedule, at(7), at(8, day=3))
    assert changes == [
        ShiftChange(at(8), (), ("day",), ()),
        ShiftChange(at(15, 30), (), ("evening",), ("day",)),
        ShiftChange(at(16, 30), ("day",), (), ("evening",)),
        # Evening ends at 24:00 as the night shift starts: one change, one handover.
        ShiftChange(at(0, day=3), ("evening",), ("night",), ()),
        ShiftChange(at(8, day=3), ("night",), ("day",), ()),
    ]
    # Polled every second: each change appears in exactly one interval (previous, now].
    assert handover_due(two.schedule, at(15, 29, 59), at(15, 30)) == [changes[1]]
    assert handover_due(two.schedule, at(15, 30), at(15, 30, 1)) == []
    assert handover_due(two.schedule, at(12), at(12, 45)) == []  # a break is no change
    with pytest.raises(ValueError):
        handover_due(two.schedule, at(10), at(9))


def test_handover_skips_holidays(fund: ShiftConfig) -> None:
    changes = handover_due(fund.team_schedule("hotline"), at(0, day=3), at(23, 59, day=5))
    assert [(c.at.day, c.at.hour) for c in changes] == [(3, 9), (3, 17), (5, 9), (5, 17)]


def test_render_day(fund: ShiftConfig, two: ShiftConfig) -> None:
    text = render_day(fund, date(2026, 11, 2))
    assert "  09:30-11:30  on_post  morning" in text
    assert "  17:30  day ends" in text
    assert "at least 4 normal seats on duty while the market is open" in text
    assert "holiday (calendar default): no shifts" in render_day(fund, date(2026, 11, 4))
    text = render_day(two, date(2026, 11, 3))
    assert "  12:00-12:30  break" in text
    assert "  15:30  evening starts; day continues" in text
    assert "  24:00  evening ends; night starts" in text
    assert "  00:00  evening ends; night starts" in text
    assert "  08:00-12:00  on_post\n" in text  # unnamed periods go by their kind


# --- file errors at their lines ----------------------------------------------------------

BASE = """\
timezone: Asia/Shanghai
teams:
  hotline: {}
  other: {}
shifts:
  day:
    teams: [hotline]
    days: mon-fri
    periods:
      - {at: "09:00-09:30", kind: prep}
      - {at: "09:30-11:30", kind: on_post}
rules:
  min_normal_on_duty_open: 4
"""


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        ('"09:00-09:30"', '"9:00-09:30"', 10, 'shifts.day.periods.0.at: must be "HH:MM-HH:MM"'),
        ('"09:00-09:30"', '"09:00-24:30"', 10, "not a time of day"),
        ('"09:00-09:30"', '"09:30-09:00"', 10, "start must be before end"),
        (
            '"09:30-11:30"',
            '"09:15-11:30"',
            11,
            "shifts.day.periods.1.at: overlaps period 1 (09:00-09:30)",
        ),
        (
            "teams: [hotline]",
            "teams: [hotline, sales]",
            7,
            "shifts.day.teams.1: unknown team 'sales'",
        ),
        ("open: 4", "open: -1", 13, "rules.min_normal_on_duty_open: Input should be greater"),
        (
            "open: 4",
            "open: yes",
            13,
            "rules.min_normal_on_duty_open: Input should be a valid integer",
        ),
        ("kind: prep", "kind: lunch", 10, "shifts.day.periods.0.kind: Input should be"),
        ("days: mon-fri", "days: mon-fry", 8, "shifts.day.days: unknown weekday in 'mon-fry'"),
        ("days: mon-fri", "days: fri-mon", 8, "runs backwards"),
        ("    periods:", "    perods:", 9, "shifts.day.perods: unknown key"),
        ("Asia/Shanghai", "Asia/Beijing", 1, "timezone: unknown time zone 'Asia/Beijing'"),
        ("  other: {}", "  hotline: {}", 4, "duplicate key 'hotline'"),
        ("  day:", "  day shift:", 6, "shifts.day shift: String should match pattern"),
        (
            "rules:\n  min_normal_on_duty_open: 4",
            "rules: [4]",
            12,
            "rules: Input should be a valid dictionary",
        ),
    ],
)
def test_file_errors_name_the_line(
    tmp_path: Path, old: str, new: str, line: int, message: str
) -> None:
    assert old in BASE
    path = write(tmp_path, "shifts.yaml", BASE.replace(old, new, 1))
    with pytest.raises(ShiftsInvalid) as err:
        load_shifts(path)
    assert any(p.startswith(f"{path}:{line}: ") and message in p for p in err.value.problems), (
        err.value.problems
    )


def test_base_file_is_valid(tmp_path: Path) -> None:
    config = load_shifts(write(tmp_path, "shifts.yaml", BASE))
    assert config.rules == Rules()  # unset rules take the fund defaults
    assert config.teams == {"hotline": "", "other": ""}


def test_overlapping_shifts_of_one_team(tmp_path: Path) -> None:
    text = (
        BASE
        + """\
  late:
    teams: [other, hotline]
    days: [fri, sat]
    periods:
      - {at: "11:00-12:00", kind: on_post}
"""
    )
    text = text.replace("rules:\n  min_normal_on_duty_open: 4\n", "") + "rules: {}\n"
    path = write(tmp_path, "shifts.yaml", text)
    with pytest.raises(ShiftsInvalid) as err:
        load_shifts(path)
    assert err.value.problems == [
        f"{path}:16: shifts.late.periods.0.at: overlaps shift day's period 09:30-11:30 "
        "for team hotline on fri"
    ]
    # Another team may overlap: that is how shifts hand over.
    load_shifts(write(tmp_path, "ok.yaml", text.replace("[other, hotline]", "[other]")))


def test_every_problem_is_listed_in_line_order(tmp_path: Path) -> None:
    text = BASE.replace('"09:00-09:30"', '"9:00"').replace("open: 4", "open: -4")
    path = write(tmp_path, "shifts.yaml", text)
    with pytest.raises(ShiftsInvalid) as err:
        load_shifts(path)
    assert [p.split(":")[1] for p in err.value.problems] == ["10", "13"]


def test_holidays_from_needs_a_known_calendar(tmp_path: Path) -> None:
    path = write(tmp_path, "shifts.yaml", "holidays_from: nowhere\n" + BASE)
    calendars = load_calendars(write(tmp_path, "calendar.yaml", CALENDAR))
    with pytest.raises(ShiftsInvalid) as err:
        load_shifts(path, calendars)
    assert err.value.problems[0].startswith(f"{path}:1: holidays_from: unknown calendar 'nowhere'")
    with pytest.raises(ShiftsInvalid, match="needs the calendar file"):
        load_shifts(path)


def test_not_yaml_and_missing_file(tmp_path: Path) -> None:
    path = write(tmp_path, "shifts.yaml", "timezone: [\n")
    with pytest.raises(ShiftsInvalid, match=rf"^{path}:2: not valid YAML"):
        load_shifts(path)
    with pytest.raises(ShiftsInvalid, match="cannot read"):
        load_shifts(tmp_path / "absent.yaml")
    with pytest.raises(ShiftsInvalid, match=r":1: \(top level\): must be a mapping"):
        load_shifts(write(tmp_path, "list.yaml", "- a\n"))


# --- phones ---------------------------------------------------------------------------------


def test_a_seat_whose_phone_is_offline_is_not_on_duty_nor_routable(fund: ShiftConfig) -> None:
    """Logged in and on shift, but no controller can ring the phone: the staffing counts
    and the routing leave that seat out, and the lead is told."""
    r = roster(fund, {3: {"phone_offline": True}, 4: {"state": "offline"}})
    assert staffing(r, at(10)).on_duty == 3  # seats 2, 5, 6
    assert [a.id for a in routable(r, at(10))] == [1, 2, 5, 6]
    assert alerts(r, at(10)) == [
        Alert(
            "understaffed",
            "critical",
            "3 normal seats on duty while the market is open (minimum 4)",
        ),
        Alert(
            "phone_offline",
            "warning",
            "Wang Fang is logged in on shift but their phone is offline",
            3,
        ),
    ]
    # Logged out, their phone is nobody's concern.
    r = roster(fund, {3: {"phone_offline": True, "state": "offline"}})
    assert [a.kind for a in alerts(r, at(10))] == []
