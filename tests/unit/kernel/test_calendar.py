"""Business calendar: open/closed at fixed instants, next opening, one-line file errors."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from kernel.calendar import BusinessCalendar, CalendarError, load_calendars
from kernel.settings import Settings

REPO = Path(__file__).resolve().parents[3]
SH = ZoneInfo("Asia/Shanghai")

# 2026-11-02 is a Monday; 11-06 Friday, 11-07/08 the weekend.
SAMPLE = """\
timezone: Asia/Shanghai
calendars:
  default:
    weekly:
      mon: ["09:30-11:30", "13:00-17:00"]
      tue: ["09:30-11:30", "13:00-17:00"]
      wed: ["09:30-11:30", "13:00-17:00"]
      thu: ["09:30-11:30", "13:00-17:00"]
      fri: ["09:30-11:30", "13:00-17:00"]
    holidays: ["2026-11-04", 2026-11-05]
    closures:
      - {from: "2026-11-03T15:00", to: "2026-11-03T17:00", reason: "staff training"}
      - {from: "2026-11-06T09:00", to: "2026-11-06T10:00"}
      - {from: "2026-11-06T10:00", to: "2026-11-06T10:15", reason: "chained"}
    extra_open:
      - {date: "2026-11-07", hours: ["10:00-12:00"]}
  evening:
    weekly:
      sun: ["18:00-24:00"]
"""


def local(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=SH)


@pytest.fixture
def cal(tmp_path: Path) -> BusinessCalendar:
    path = tmp_path / "calendar.yaml"
    path.write_text(SAMPLE)
    return load_calendars(path).get("default")


@pytest.mark.parametrize(
    ("at", "is_open"),
    [
        (local(2026, 11, 2, 9, 29, 59), False),  # just before opening
        (local(2026, 11, 2, 9, 30), True),  # window start is inside
        (local(2026, 11, 2, 11, 29, 59), True),
        (local(2026, 11, 2, 11, 30), False),  # window end is outside: lunch break
        (local(2026, 11, 2, 12, 59), False),
        (local(2026, 11, 2, 13, 0), True),
        (local(2026, 11, 2, 16, 59, 59), True),
        (local(2026, 11, 2, 17, 0), False),
        (local(2026, 11, 2, 3, 0), False),  # night
        (local(2026, 11, 3, 14, 59), True),  # before the closure
        (local(2026, 11, 3, 15, 0), False),  # closure start is closed
        (local(2026, 11, 3, 16, 30), False),
        (local(2026, 11, 4, 10, 0), False),  # holiday (quoted date)
        (local(2026, 11, 5, 10, 0), False),  # holiday (unquoted YAML date)
        (local(2026, 11, 6, 10, 0), False),  # second of two chained closures
        (local(2026, 11, 6, 10, 15), True),
        (local(2026, 11, 7, 10, 0), True),  # Saturday with extra_open hours
        (local(2026, 11, 7, 9, 30), False),  # extra_open replaces the weekly hours
        (local(2026, 11, 7, 12, 0), False),
        (local(2026, 11, 8, 10, 0), False),  # Sunday
        # Other zones: 02:00 UTC is 10:00 in Shanghai; 21:00 New York (EST) on Sunday
        # 1 Nov is 10:00 Monday in Shanghai.
        (datetime(2026, 11, 2, 2, 0, tzinfo=UTC), True),
        (datetime(2026, 11, 2, 9, 0, tzinfo=UTC), False),  # 17:00 Shanghai
        (datetime(2026, 11, 1, 21, 0, tzinfo=ZoneInfo("America/New_York")), True),
        (datetime(2026, 11, 2, 10, 0, tzinfo=timezone(timedelta(hours=8))), True),
    ],
)
def test_is_open_at_fixed_instants(cal: BusinessCalendar, at: datetime, is_open: bool) -> None:
    assert cal.is_open(at) is is_open


def test_naive_datetimes_are_refused(cal: BusinessCalendar) -> None:
    with pytest.raises(ValueError, match="naive"):
        cal.is_open(datetime(2026, 11, 2, 10, 0))


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (local(2026, 11, 2, 10, 0), local(2026, 11, 2, 10, 0)),  # open now: now
        (local(2026, 11, 2, 7, 0), local(2026, 11, 2, 9, 30)),
        (local(2026, 11, 2, 11, 30), local(2026, 11, 2, 13, 0)),  # lunch
        (local(2026, 11, 2, 17, 0), local(2026, 11, 3, 9, 30)),  # evening
        (local(2026, 11, 3, 15, 0), local(2026, 11, 6, 10, 15)),  # closure, 2 holidays, chain
        (local(2026, 11, 6, 17, 0), local(2026, 11, 7, 10, 0)),  # extra_open Saturday
        (local(2026, 11, 7, 12, 0), local(2026, 11, 9, 9, 30)),  # weekend → Monday
        (datetime(2026, 11, 2, 9, 0, tzinfo=UTC), local(2026, 11, 3, 9, 30)),
    ],
)
def test_next_open(cal: BusinessCalendar, at: datetime, expected: datetime) -> None:
    got = cal.next_open(at)
    assert got == expected
    assert got is not None and got.tzinfo == SH  # ready to announce in local time
    assert cal.is_open(got)


def test_next_open_is_none_when_never_open(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("timezone: UTC\ncalendars:\n  closed:\n    weekly: {}\n")
    closed = load_calendars(path).get("closed")
    assert closed.next_open(datetime(2026, 1, 1, tzinfo=UTC)) is None
    assert not closed.is_working_day(date(2026, 1, 5))


def test_next_open_looks_a_year_ahead_but_not_further(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "timezone: UTC\ncalendars:\n  rare:\n    weekly: {}\n    extra_open:\n"
        '      - {date: "2027-01-01", hours: ["10:00-11:00"]}\n'
    )
    rare = load_calendars(path).get("rare")
    assert rare.next_open(datetime(2026, 1, 2, tzinfo=UTC)) == datetime(2027, 1, 1, 10, tzinfo=UTC)
    assert rare.next_open(datetime(2025, 12, 1, tzinfo=UTC)) is None


def test_window_up_to_midnight(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(SAMPLE)
    evening = load_calendars(path).get("evening")
    assert evening.is_open(local(2026, 11, 8, 23, 59, 59))
    assert not evening.is_open(local(2026, 11, 9, 0, 0))
    assert evening.next_open(local(2026, 11, 9, 0, 0)) == local(2026, 11, 15, 18, 0)


def test_is_working_day(cal: BusinessCalendar) -> None:
    assert cal.is_working_day(date(2026, 11, 2))
    assert cal.is_working_day(date(2026, 11, 3))  # a partial closure keeps it a working day
    assert not cal.is_working_day(date(2026, 11, 4))  # holiday
    assert cal.is_working_day(date(2026, 11, 7))  # extra_open Saturday
    assert not cal.is_working_day(date(2026, 11, 8))


def test_unknown_calendar_name_is_a_clear_key_error(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(SAMPLE)
    calendars = load_calendars(path)
    assert calendars.names == ["default", "evening"]
    with pytest.raises(KeyError, match=r"no calendar named 'sales'.*known: default, evening"):
        calendars.get("sales")


def test_shipped_calendar_loads_and_matches_domain_hours() -> None:
    settings = Settings()
    calendars = load_calendars(REPO / settings.paths.calendar_file)
    cal = calendars.get("default")
    assert cal.tz == SH
    assert cal.is_open(local(2026, 11, 2, 9, 30))
    assert not cal.is_open(local(2026, 11, 2, 12, 0))
    assert not cal.is_open(local(2026, 10, 1, 10, 0))  # National Day
    assert cal.is_open(local(2026, 10, 10, 10, 0))  # make-up working Saturday
    assert cal.next_open(local(2026, 9, 30, 17, 0)) == local(2026, 10, 8, 9, 30)


# --- validation errors: one line naming the file, line and key -----------------------


def error_for(tmp_path: Path, text: str) -> str:
    path = tmp_path / "calendar.yaml"
    path.write_text(text)
    with pytest.raises(CalendarError) as info:
        load_calendars(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}:")
    return message.removeprefix(f"{path}:")


def line_of(text: str, needle: str) -> int:
    lines = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert len(lines) == 1, needle
    return lines[0]


@pytest.mark.parametrize(
    ("old", "new", "marker", "key", "problem"),
    [
        (
            '"09:30-11:30", "13:00-17:00"]\n      tue',
            '"09:30-11:30", "9-17"]\n      tue',
            '"9-17"',
            "calendars.default.weekly.mon.1",
            'must be "HH:MM-HH:MM"',
        ),
        (
            'tue: ["09:30-11:30"',
            'tue: ["09:30-25:00"',
            "tue:",
            "calendars.default.weekly.tue.0",
            "not a time of day",
        ),
        (
            'wed: ["09:30-11:30"',
            'wed: ["11:30-09:30"',
            "wed:",
            "calendars.default.weekly.wed.0",
            "start must be before end",
        ),
        (
            'thu: ["09:30-11:30", "13:00-17:00"]',
            'thu: ["09:30-11:30", "11:00-17:00"]',
            "thu:",
            "calendars.default.weekly.thu",
            "windows 09:30-11:30 and 11:00-17:00 overlap",
        ),
        (
            "      fri:",
            "      fri: []\n      thurs: []\n      xfri:",
            "thurs:",
            "calendars.default.weekly.thurs",
            "unknown weekday",
        ),
        (
            "      fri:",
            "      fri: []\n      mon: []\n      xfri:",
            "      mon: []",
            "",
            "duplicate key 'mon'",
        ),
        (
            '"2026-11-04"',
            '"2026-02-30"',
            "holidays:",
            "calendars.default.holidays.0",
            "not a valid date",
        ),
        (
            '"2026-11-04"',
            '"4 Nov"',
            "holidays:",
            "calendars.default.holidays.0",
            'must be a date "YYYY-MM-DD"',
        ),
        (
            'to: "2026-11-03T17:00", reason: "staff',
            'to: "2026-11-03T14:00", reason: "staff',
            "staff training",
            "calendars.default.closures.0",
            "'from' must be before 'to'",
        ),
        (
            '{from: "2026-11-06T09:00"',
            '{from: "tomorrow"',
            '"tomorrow"',
            "calendars.default.closures.1.from",
            "must be a local date and time",
        ),
        (
            '{from: "2026-11-06T09:00"',
            '{from: "2026-11-06T09:00+08:00"',
            '"2026-11-06T09:00+08:00"',
            "calendars.default.closures.1.from",
            "without a UTC offset",
        ),
        (
            'reason: "chained"',
            'reson: "chained"',
            "reson",
            "calendars.default.closures.2.reson",
            "unknown key",
        ),
        (
            'date: "2026-11-07"',
            'date: "2026-11-04"',
            'date: "2026-11-04"',
            "calendars.default.extra_open.0.date",
            "also listed as a holiday",
        ),
        (
            'hours: ["10:00-12:00"]',
            "hours: []",
            "hours: []",
            "calendars.default.extra_open.0.hours",
            "at least 1 item",
        ),
        (
            "timezone: Asia/Shanghai",
            "timezone: Asia/Beijing",
            "timezone:",
            "timezone",
            "unknown time zone 'Asia/Beijing'",
        ),
        (
            "  evening:\n    weekly:\n",
            "  evening:\n    hours:\n",
            "    hours:",
            "calendars.evening.hours",
            "unknown key",
        ),
        (
            "  evening:",
            "  even ing:",
            "even ing",
            "calendars.even ing",
            "should match pattern",
        ),
        (
            "    holidays: [",
            "    holidays: [[",
            "    holidays: [[",
            "",
            "not valid YAML",
        ),
    ],
)
def test_validation_error_names_the_line_and_key(
    tmp_path: Path, old: str, new: str, marker: str, key: str, problem: str
) -> None:
    assert SAMPLE.count(old) == 1, old
    text = SAMPLE.replace(old, new)
    message = error_for(tmp_path, text)
    line, _, rest = message.partition(": ")
    if key:
        assert line == str(line_of(text, marker)), message
        assert rest.startswith(f"{key}: "), message
    else:
        # Errors found before validation have no key, only the line.
        assert line.isdigit(), message
        assert abs(int(line) - line_of(text, marker)) <= 1, message
    assert problem in rest, message


def test_missing_weekly_and_empty_file(tmp_path: Path) -> None:
    text = "timezone: UTC\ncalendars:\n  default:\n    holidays: []\n"
    assert error_for(tmp_path, text) == "3: calendars.default.weekly: required"
    assert error_for(tmp_path, "") == "1: timezone: required"


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(CalendarError, match="cannot read calendar file"):
        load_calendars(tmp_path / "absent.yaml")
