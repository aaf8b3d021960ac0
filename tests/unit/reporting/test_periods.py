"""Report periods: local days, Monday-to-Sunday weeks and calendar months turned into UTC
ranges in the site's zone, across month and year ends and daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from reporting.periods import (
    PeriodError,
    following,
    local_day,
    parse_day,
    parse_period,
    previous,
    share,
    window,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")


def test_a_day_is_local_midnight_to_midnight() -> None:
    w = window("day", date(2026, 3, 2), SHANGHAI)
    assert (w.first_day, w.last_day, w.days) == (date(2026, 3, 2), date(2026, 3, 2), 1)
    assert w.start == datetime(2026, 3, 1, 16, 0, tzinfo=UTC)
    assert w.end == datetime(2026, 3, 2, 16, 0, tzinfo=UTC)
    assert w.contains(w.start)
    assert not w.contains(w.end)
    assert w.contains(w.end - timedelta(microseconds=1))


def test_a_week_runs_monday_to_sunday() -> None:
    for d in (date(2026, 3, 2), date(2026, 3, 4), date(2026, 3, 8)):
        w = window("week", d, SHANGHAI)
        assert (w.first_day, w.last_day, w.days) == (date(2026, 3, 2), date(2026, 3, 8), 7)
        assert w.start == datetime(2026, 3, 1, 16, 0, tzinfo=UTC)
        assert w.end == datetime(2026, 3, 8, 16, 0, tzinfo=UTC)
    # A week across the year end.
    w = window("week", date(2027, 1, 1), SHANGHAI)
    assert (w.first_day, w.last_day) == (date(2026, 12, 28), date(2027, 1, 3))


@pytest.mark.parametrize(
    ("day", "first", "last"),
    [
        (date(2026, 2, 14), date(2026, 2, 1), date(2026, 2, 28)),
        (date(2028, 2, 29), date(2028, 2, 1), date(2028, 2, 29)),
        (date(2026, 12, 31), date(2026, 12, 1), date(2026, 12, 31)),
        (date(2026, 1, 1), date(2026, 1, 1), date(2026, 1, 31)),
    ],
)
def test_a_month_is_the_calendar_month(day: date, first: date, last: date) -> None:
    w = window("month", day, SHANGHAI)
    assert (w.first_day, w.last_day) == (first, last)
    assert w.start == datetime.combine(first, datetime.min.time(), SHANGHAI).astimezone(UTC)
    assert w.end == datetime.combine(
        last + timedelta(days=1), datetime.min.time(), SHANGHAI
    ).astimezone(UTC)


def test_daylight_saving_days_are_23_or_25_hours() -> None:
    spring = window("day", date(2026, 3, 29), BERLIN)
    assert spring.end - spring.start == timedelta(hours=23)
    autumn = window("day", date(2026, 10, 25), BERLIN)
    assert autumn.end - autumn.start == timedelta(hours=25)
    # São Paulo once skipped midnight itself: the day starts at the jump.
    sao_paulo = window("day", date(2018, 11, 4), ZoneInfo("America/Sao_Paulo"))
    assert sao_paulo.start == datetime(2018, 11, 4, 3, 0, tzinfo=UTC)


def test_previous_and_following_periods() -> None:
    w = window("month", date(2026, 3, 15), SHANGHAI)
    assert previous(w) == date(2026, 2, 1)
    assert following(w) == date(2026, 4, 1)
    w = window("week", date(2026, 3, 4), SHANGHAI)
    assert previous(w) == date(2026, 2, 23)
    assert following(w) == date(2026, 3, 9)
    w = window("day", date(2026, 1, 1), SHANGHAI)
    assert previous(w) == date(2025, 12, 31)
    assert following(w) == date(2026, 1, 2)


def test_the_local_day_of_an_instant() -> None:
    late = datetime(2026, 3, 1, 16, 30, tzinfo=UTC)  # 00:30 on 2 March in Shanghai
    assert local_day(late, SHANGHAI) == date(2026, 3, 2)
    assert local_day(late, UTC) == date(2026, 3, 1)


def test_parsing_the_request() -> None:
    today = date(2026, 3, 2)
    assert parse_period(None) == "day"
    assert parse_period("") == "day"
    assert parse_period("month") == "month"
    assert parse_day(None, today) == today
    assert parse_day("2026-02-28", today) == date(2026, 2, 28)
    with pytest.raises(PeriodError, match="period: one of day, week, month"):
        parse_period("year")
    with pytest.raises(PeriodError, match="day: a date YYYY-MM-DD"):
        parse_day("2026-02-30", today)
    with pytest.raises(PeriodError, match="day: a year from"):
        parse_day("9999-12-31", today)


def test_share() -> None:
    assert share(1, 4) == 0.25
    assert share(0, 0) is None
