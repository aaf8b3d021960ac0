"""The periods a management report covers (domain.md §6): a local day, a week
(Monday to Sunday, as rosters are written) or a calendar month, in the site's time zone.

A period is the half-open range ``[start, end)`` of local midnights turned into UTC
instants, so a call at 23:59 local time on the 31st belongs to that month, and a day
across a daylight-saving change is 23 or 25 hours long rather than a fixed 24.

Pure: the zone and the chosen day are passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Literal

Period = Literal["day", "week", "month"]
PERIODS: tuple[Period, ...] = ("day", "week", "month")
# Days outside these years are refused: the month after December 9999 has no date.
MIN_YEAR = 1900
MAX_YEAR = 9998


class PeriodError(ValueError):
    """A period or day the report cannot cover; ``str()`` says why."""


@dataclass(frozen=True)
class ReportWindow:
    """One report period: its local first and last day and the UTC range ``[start, end)``."""

    period: Period
    first_day: date
    last_day: date
    start: datetime  # UTC, inclusive
    end: datetime  # UTC, exclusive

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    def contains(self, at: datetime) -> bool:
        return self.start <= at < self.end


def parse_period(value: str | None, default: Period = "day") -> Period:
    """``day`` | ``week`` | ``month`` (``default`` when empty); PeriodError otherwise."""
    if not value:
        return default
    if value not in PERIODS:
        raise PeriodError(f"period: one of {', '.join(PERIODS)} (got {value!r})")
    return value


def parse_day(value: str | None, default: date) -> date:
    """A ``YYYY-MM-DD`` day (``default`` when empty); PeriodError otherwise."""
    if not value:
        return default
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise PeriodError(f"day: a date YYYY-MM-DD (got {value!r})") from None
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise PeriodError(f"day: a year from {MIN_YEAR} to {MAX_YEAR} (got {value!r})")
    return day


def local_day(at: datetime, tz: tzinfo) -> date:
    """The local date of instant ``at`` in ``tz`` (e.g. "today" for the default report)."""
    return at.astimezone(tz).date()


def _first_day(period: Period, day: date) -> date:
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return day


def _next_first_day(period: Period, first: date) -> date:
    if period == "week":
        return first + timedelta(days=7)
    if period == "month":
        return (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first + timedelta(days=1)


def _midnight(day: date, tz: tzinfo) -> datetime:
    # ZoneInfo resolves a local midnight that falls in a DST gap to the later offset.
    return datetime.combine(day, time(), tz).astimezone(UTC)


def window(period: Period, day: date, tz: tzinfo) -> ReportWindow:
    """The ``period`` containing local ``day`` in ``tz``."""
    first = _first_day(period, day)
    following = _next_first_day(period, first)
    return ReportWindow(
        period=period,
        first_day=first,
        last_day=following - timedelta(days=1),
        start=_midnight(first, tz),
        end=_midnight(following, tz),
    )


def previous(w: ReportWindow) -> date:
    """A day of the period before ``w`` (for a "previous" link)."""
    return _first_day(w.period, w.first_day - timedelta(days=1))


def following(w: ReportWindow) -> date:
    """The first day of the period after ``w``."""
    return w.last_day + timedelta(days=1)


def share(part: int, whole: int) -> float | None:
    """``part / whole``, or None when there is nothing to divide (no "0 %" out of nothing)."""
    return part / whole if whole else None
