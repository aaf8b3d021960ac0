"""Callback planning with a fixed clock: quiet hours (across midnight, in the calendar's
zone), a customer not reached tried in another time slot, and the balanced share-out."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from callbacks.plan import (
    CallbackRules,
    Slot,
    add_working_days,
    day_slots,
    is_quiet,
    next_dial_time,
    next_slot_time,
    share_out,
    slot_at,
)

SH = ZoneInfo("Asia/Shanghai")
DEFAULT = ("12:00-13:30", "21:00-08:00")


def sh(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 11) -> datetime:
    """A Shanghai wall time in November 2026 (2026-11-02 is a Monday)."""
    return datetime(2026, month, day, hour, minute, second, tzinfo=SH)


@pytest.mark.parametrize(
    ("at", "quiet"),
    [
        (sh(2, 11, 59, 59), False),
        (sh(2, 12, 0), True),
        (sh(2, 13, 29, 59), True),
        (sh(2, 13, 30), False),
        (sh(2, 20, 59, 59), False),
        (sh(2, 21, 0), True),
        (sh(2, 23, 59), True),
        (sh(3, 0, 0), True),  # past midnight: still the night window
        (sh(3, 7, 59, 59), True),
        (sh(3, 8, 0), False),
    ],
)
def test_quiet_hours_with_a_window_across_midnight(at: datetime, quiet: bool) -> None:
    assert is_quiet(at, DEFAULT, SH) is quiet
    # The same instant in UTC is judged by Shanghai's clock, not UTC's.
    assert is_quiet(at.astimezone(UTC), DEFAULT, SH) is quiet


def test_the_zone_decides() -> None:
    # 02:00 UTC is 10:00 in Shanghai (free) but 02:00 in UTC (quiet).
    at = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
    assert not is_quiet(at, DEFAULT, SH)
    assert is_quiet(at, DEFAULT, UTC)


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (sh(2, 10, 0), sh(2, 10, 0)),  # free now: now
        (sh(2, 12, 10), sh(2, 13, 30)),  # lunch: after lunch
        (sh(2, 22, 0), sh(3, 8, 0)),  # evening: tomorrow morning
        (sh(3, 2, 0), sh(3, 8, 0)),  # after midnight: this morning
        (datetime(2026, 12, 31, 23, 0, tzinfo=SH), datetime(2027, 1, 1, 8, 0, tzinfo=SH)),
    ],
)
def test_next_dial_time(at: datetime, expected: datetime) -> None:
    found = next_dial_time(at, DEFAULT, SH)
    assert found == expected
    assert not is_quiet(found, DEFAULT, SH)


def test_no_quiet_hours_and_a_day_all_quiet() -> None:
    assert not is_quiet(sh(2, 3, 0), (), SH)
    assert next_dial_time(sh(2, 3, 0), (), SH) == sh(2, 3, 0)
    with pytest.raises(ValueError, match="whole day"):
        next_dial_time(sh(2, 3, 0), ("00:00-12:00", "12:00-00:00"), SH)
    with pytest.raises(ValueError, match="HH:MM-HH:MM"):
        is_quiet(sh(2, 3, 0), ("9-17",), SH)


def test_slots_are_the_dialable_day_cut_at_noon_and_five() -> None:
    assert day_slots(DEFAULT) == (
        Slot("morning", 8 * 60, 12 * 60),
        Slot("afternoon", 13 * 60 + 30, 17 * 60),
        Slot("evening", 17 * 60, 21 * 60),
    )
    assert slot_at(sh(2, 12, 30), DEFAULT, SH) is None


@pytest.mark.parametrize(
    ("tried", "next_try"),
    [
        (sh(2, 9, 15), sh(2, 13, 30)),  # morning → this afternoon
        (sh(2, 16, 59), sh(2, 17, 0)),  # afternoon → this evening
        (sh(2, 18, 0), sh(3, 8, 0)),  # evening → tomorrow morning
        (sh(2, 22, 0), sh(3, 8, 0)),  # a call by hand in quiet hours → first slot after
    ],
)
def test_not_reached_is_tried_in_another_slot(tried: datetime, next_try: datetime) -> None:
    found = next_slot_time(tried, DEFAULT, SH)
    assert found == next_try
    assert not is_quiet(found, DEFAULT, SH)


def test_every_retry_lands_in_another_slot_and_never_in_quiet_hours() -> None:
    at = sh(2, 0, 0)
    while at < sh(3, 0, 0):
        retry = next_slot_time(at, DEFAULT, SH)
        assert retry > at
        assert not is_quiet(retry, DEFAULT, SH)
        tried = slot_at(at, DEFAULT, SH)
        if tried is not None:
            again = slot_at(retry, DEFAULT, SH)
            assert again is not None and again.name != tried.name
        at += timedelta(minutes=10)


def test_with_one_part_of_the_day_left_the_retry_is_the_next_day() -> None:
    only_mornings = ("12:00-08:00",)
    assert [s.name for s in day_slots(only_mornings)] == ["morning"]
    assert next_slot_time(sh(2, 9, 0), only_mornings, SH) == sh(3, 8, 0)


def test_rules_tell_when_quiet_hours_begin() -> None:
    rules = CallbackRules(DEFAULT, SH, max_attempts=3, caller_id="4008001234")
    assert rules.quiet_from(sh(2, 11, 0)) == sh(2, 12, 0)
    assert rules.quiet_from(sh(2, 12, 30)) == sh(2, 12, 30)  # quiet already
    assert rules.quiet_from(sh(2, 14, 0)) == sh(2, 21, 0)
    assert CallbackRules((), SH).quiet_from(sh(2, 14, 0)) is None
    assert rules.retry_at(sh(2, 9, 0)) == sh(2, 13, 30)
    with pytest.raises(ValueError, match="quiet window"):
        CallbackRules(("noon",), SH)


def test_share_out_gives_each_item_to_the_least_loaded_agent_ties_by_id() -> None:
    loads = {3: 2, 1: 0, 2: 0}
    given = share_out(["a", "b", "c", "d", "e", "f"], loads)
    assert given == [("a", 1), ("b", 2), ("c", 1), ("d", 2), ("e", 1), ("f", 2)]
    # Everyone at 3 now would take turns by id; the same input gives the same answer.
    assert share_out(["a", "b", "c", "d", "e", "f"], loads) == given
    assert share_out(["x"], {}) == []
    final = {3: 2, 1: 0, 2: 0}
    for _, agent in share_out(list(range(7)), final):
        final[agent] += 1
    assert max(final.values()) - min(final.values()) <= 1


def test_survey_day_counts_working_days() -> None:
    holidays = {date(2026, 11, 5)}

    def working(d: date) -> bool:
        return d.weekday() < 5 and d not in holidays

    # Monday + 3 working days, with Thursday a holiday: Tue, Wed, Fri.
    assert add_working_days(date(2026, 11, 2), 3, working) == date(2026, 11, 6)
    # Friday + 1: over the weekend to Monday.
    assert add_working_days(date(2026, 11, 6), 1, working) == date(2026, 11, 9)
    assert add_working_days(date(2026, 11, 7), 0, working) == date(2026, 11, 7)
    with pytest.raises(ValueError, match="working days"):
        add_working_days(date(2026, 11, 2), 1, lambda d: False)
