"""Business hours: when the hotline is staffed (``config/calendar.yaml``).

A calendar is weekly opening windows in one time zone, minus whole-day holidays and
one-off closures, plus one-off openings (make-up working days). Windows are half-open,
``[start, end)``: "13:00-17:00" is open at 16:59:59 and closed at 17:00. Everything here
is pure: callers pass the instant, so tests and the IVR agree on what "now" is.

Problems in the file are reported as ONE line, ``file:line: key: problem``, the line
found from the YAML node marks (``yaml.compose``), like the other config loaders.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from pathlib import Path
from types import MappingProxyType
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    ValidationError,
    field_validator,
)

from kernel import yamlfile

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# How far next_open looks ahead: a year, so even an annual shutdown has an answer.
LOOKAHEAD_DAYS = 366

# A window as minutes since local midnight, [start, end); end may be 24:00 (1440).
Window = tuple[int, int]

_WINDOW = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# An offset is matched only to refuse it with a clear message.
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?(Z|[+-]\d{2}:?\d{2})?$")


class CalendarError(Exception):
    """A problem in the calendar file, phrased as the one line to show the operator."""


# --- parsing of the file's scalar formats -------------------------------------------


def _fmt(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_window(value: object) -> Window:
    """``"09:30-11:30"`` → minutes since midnight (start, end); ValueError says why not."""
    if not isinstance(value, str):
        raise ValueError('must be a quoted "HH:MM-HH:MM" string')
    m = _WINDOW.match(value.strip())
    if not m:
        raise ValueError(f'must be "HH:MM-HH:MM", e.g. "09:30-11:30" (got {value!r})')
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2 != 0):
        raise ValueError(f"not a time of day in {value!r} (00:00 to 24:00)")
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if start >= end:
        raise ValueError(f"start must be before end in {value!r}")
    return start, end


def _no_overlaps(windows: list[Window]) -> list[Window]:
    ordered = sorted(windows)
    for (s1, e1), (s2, e2) in pairwise(ordered):
        if s2 < e1:
            raise ValueError(f"windows {_fmt(s1)}-{_fmt(e1)} and {_fmt(s2)}-{_fmt(e2)} overlap")
    return ordered


def _parse_date(value: object) -> date:
    # YAML turns an unquoted 2026-10-01 into a date already.
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _DATE.match(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError as exc:
            raise ValueError(f"not a valid date {value!r}: {exc}") from None
    raise ValueError(f'must be a date "YYYY-MM-DD" (got {value!r})')


def _parse_local_datetime(value: object) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and _DATETIME.match(value.strip()):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError as exc:
            raise ValueError(f"not a valid date and time {value!r}: {exc}") from None
    else:
        raise ValueError(f'must be a local date and time "YYYY-MM-DDTHH:MM" (got {value!r})')
    if parsed.tzinfo is not None:
        # One convention only: closures are in the calendar's own time zone.
        raise ValueError("give local time without a UTC offset (the file's timezone applies)")
    return parsed


WindowField = Annotated[Window, PlainValidator(parse_window)]
DayWindows = Annotated[list[WindowField], AfterValidator(_no_overlaps)]
DateField = Annotated[date, PlainValidator(_parse_date)]
LocalDateTime = Annotated[datetime, PlainValidator(_parse_local_datetime)]
CalendarName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]+$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class _Weekly(_Model):
    mon: DayWindows = []
    tue: DayWindows = []
    wed: DayWindows = []
    thu: DayWindows = []
    fri: DayWindows = []
    sat: DayWindows = []
    sun: DayWindows = []


class _Closure(_Model):
    start: LocalDateTime = Field(alias="from")
    end: LocalDateTime = Field(alias="to")
    reason: str = ""


class _ExtraOpen(_Model):
    date: DateField
    hours: Annotated[DayWindows, Field(min_length=1)]


class _Calendar(_Model):
    weekly: _Weekly
    holidays: list[DateField] = []
    closures: list[_Closure] = []
    extra_open: list[_ExtraOpen] = []


class _File(_Model):
    timezone: str
    calendars: Annotated[dict[CalendarName, _Calendar], Field(min_length=1)]

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (KeyError, ValueError, OSError):  # ZoneInfoNotFoundError is a KeyError
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name such as Asia/Shanghai)"
            ) from None
        return value


# --- the calendar as the rest of the code uses it -----------------------------------


@dataclass(frozen=True)
class Closure:
    start: datetime  # aware, UTC
    end: datetime
    reason: str


@dataclass(frozen=True, eq=False)
class BusinessCalendar:
    name: str
    tz: ZoneInfo
    weekly: tuple[tuple[Window, ...], ...]  # index 0 is Monday, like date.weekday()
    holidays: frozenset[date]
    closures: tuple[Closure, ...]
    extra_open: Mapping[date, tuple[Window, ...]]

    def windows_on(self, d: date) -> tuple[Window, ...]:
        """The opening windows of local date ``d`` (minutes since midnight), before closures."""
        if d in self.holidays:
            return ()
        extra = self.extra_open.get(d)
        return extra if extra is not None else self.weekly[d.weekday()]

    def is_working_day(self, d: date) -> bool:
        """Whether ``d`` has opening hours at all; partial closures don't change that."""
        return bool(self.windows_on(d))

    def is_open(self, at: datetime) -> bool:
        local = self._local(at)
        minute = local.hour * 60 + local.minute
        if not any(s <= minute < e for s, e in self.windows_on(local.date())):
            return False
        return self._after_closures(at.astimezone(UTC)) == at.astimezone(UTC)

    def next_open(self, at: datetime) -> datetime | None:
        """The earliest instant at or after ``at`` when the line is open, in the calendar's
        zone (``at`` itself when open now); None when closed for the next 366 days."""
        local = self._local(at)
        now = at.astimezone(UTC)
        horizon = now + timedelta(days=LOOKAHEAD_DAYS)
        for offset in range(LOOKAHEAD_DAYS + 1):
            d = local.date() + timedelta(days=offset)
            for start, end in self.windows_on(d):
                window_end = self._instant(d, end)
                if window_end <= now:
                    continue
                candidate = self._after_closures(max(self._instant(d, start), now))
                if candidate < window_end:
                    return candidate.astimezone(self.tz) if candidate <= horizon else None
        return None

    def _local(self, at: datetime) -> datetime:
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError(f"naive datetime {at!r}: pass an aware datetime")
        return at.astimezone(self.tz)

    def _instant(self, d: date, minutes: int) -> datetime:
        # Wall-clock arithmetic, so 24:00 lands on the next day's midnight.
        wall = datetime.combine(d, time()) + timedelta(minutes=minutes)
        return wall.replace(tzinfo=self.tz).astimezone(UTC)

    def _after_closures(self, at_utc: datetime) -> datetime:
        """``at_utc``, or the end of the closure(s) covering it (they may chain)."""
        moved = True
        while moved:
            moved = False
            for c in self.closures:
                if c.start <= at_utc < c.end:
                    at_utc, moved = c.end, True
        return at_utc


@dataclass(frozen=True, eq=False)
class Calendars:
    source: Path
    timezone: ZoneInfo
    calendars: Mapping[str, BusinessCalendar]

    @property
    def names(self) -> list[str]:
        return sorted(self.calendars)

    def get(self, name: str) -> BusinessCalendar:
        try:
            return self.calendars[name]
        except KeyError:
            known = ", ".join(self.names)
            raise KeyError(
                f"no calendar named {name!r} in {self.source} (known: {known})"
            ) from None


# --- loading ------------------------------------------------------------------------

_Loc = tuple[str, ...]


def _describe(exc: ValidationError) -> tuple[tuple[object, ...], str]:
    # A misspelt key also makes the real one "missing": name the misspelling.
    err = min(exc.errors(), key=lambda e: e["type"] == "missing")
    loc, problem = yamlfile.pydantic_problem(err)
    if err["type"] == "extra_forbidden" and len(loc) >= 2 and loc[-2] == "weekly":
        problem = f"unknown weekday (use {', '.join(WEEKDAYS)})"
    return loc, problem


def load_calendars(path: Path) -> Calendars:
    """Read and validate the calendar file; any problem raises ``CalendarError``."""

    def fail(loc: tuple[object, ...], problem: str) -> CalendarError:
        key = ".".join(str(p) for p in loc) or "(top level)"
        return CalendarError(f"{path}:{yamlfile.line_of(lines, loc)}: {key}: {problem}")

    try:
        data, lines = yamlfile.read(path, "calendar file", unreadable_line=None)
    except yamlfile.SourceError as exc:
        raise CalendarError(exc.at(path)) from None
    try:
        parsed = _File.model_validate(data if data is not None else {})
    except ValidationError as exc:
        loc, problem = _describe(exc)
        raise fail(loc, problem) from None

    tz = ZoneInfo(parsed.timezone)
    built: dict[str, BusinessCalendar] = {}
    for name, cal in parsed.calendars.items():
        at: tuple[object, ...] = ("calendars", name)
        holidays = frozenset(cal.holidays)
        extra: dict[date, tuple[Window, ...]] = {}
        for i, opening in enumerate(cal.extra_open):
            where = (*at, "extra_open", i, "date")
            if opening.date in holidays:
                raise fail(where, f"{opening.date} is also listed as a holiday")
            if opening.date in extra:
                raise fail(where, f"{opening.date} is listed twice")
            extra[opening.date] = tuple(opening.hours)
        closures = []
        for i, closure in enumerate(cal.closures):
            if closure.start >= closure.end:
                raise fail((*at, "closures", i), "'from' must be before 'to'")
            closures.append(
                Closure(
                    closure.start.replace(tzinfo=tz).astimezone(UTC),
                    closure.end.replace(tzinfo=tz).astimezone(UTC),
                    closure.reason,
                )
            )
        built[name] = BusinessCalendar(
            name=name,
            tz=tz,
            weekly=tuple(tuple(getattr(cal.weekly, day)) for day in WEEKDAYS),
            holidays=holidays,
            closures=tuple(sorted(closures, key=lambda c: c.start)),
            extra_open=MappingProxyType(extra),
        )
    return Calendars(source=path, timezone=tz, calendars=MappingProxyType(built))
