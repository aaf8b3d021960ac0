"""The site's configuration files as the admin page shows them: read from disk on every
call (so an edit shows at the next page load), with the same checks as ``hotline menus
check`` / ``hotline shifts check``, and every problem kept as its one-line message
(``file:line: key: problem``) instead of an exception.

No Flask here: the views in ``webapp.admin`` render what these functions return.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Generic, Literal, TypeVar

from agents.queue_config import QueueCatalog, QueueConfigError, load_queues
from agents.shift_file import ShiftsInvalid, load_shifts
from agents.shifts import (
    Period,
    Shift,
    ShiftChange,
    ShiftConfig,
    handover_due,
    periods_at,
    shifts_on,
)
from ivr.menus.loader import load_menu
from ivr.menus.model import Menu, MenuInvalid
from kernel.calendar import CalendarError, Calendars, load_calendars
from kernel.settings import Settings

Status = Literal["ok", "error", "missing"]
T = TypeVar("T")


@dataclass(frozen=True)
class Loaded(Generic[T]):
    """A file read and checked: ``value`` when it is fine, else its ``problems``."""

    path: Path
    status: Status
    value: T | None = None
    problems: tuple[str, ...] = ()


def _missing(path: Path) -> Loaded[T]:
    return Loaded(path, "missing")


def read_queues(settings: Settings) -> Loaded[QueueCatalog]:
    path = settings.paths.queues_file
    if not path.exists():
        return _missing(path)
    try:
        return Loaded(path, "ok", load_queues(path))
    except QueueConfigError as exc:
        return Loaded(path, "error", problems=(str(exc),))


def read_calendars(settings: Settings) -> Loaded[Calendars]:
    path = settings.paths.calendar_file
    if not path.exists():
        return _missing(path)
    try:
        return Loaded(path, "ok", load_calendars(path))
    except CalendarError as exc:
        return Loaded(path, "error", problems=(str(exc),))


def read_shifts(settings: Settings, calendars: Loaded[Calendars]) -> Loaded[ShiftConfig]:
    """The shifts file with the calendar's holidays (like ``hotline shifts check``)."""
    path = settings.paths.shifts_file
    if not path.exists():
        return _missing(path)
    if calendars.status == "error":
        # Checking without it would blame the shifts file for the calendar's mistake.
        return Loaded(path, "error", problems=(f"{path}: not checked: {calendars.problems[0]}",))
    try:
        return Loaded(path, "ok", load_shifts(path, calendars.value))
    except ShiftsInvalid as exc:
        return Loaded(path, "error", problems=tuple(exc.problems))


def menu_files(settings: Settings) -> list[Path]:
    """The menu files in ``paths.menus_dir``, by name (what ``hotline menus check`` checks)."""
    folder = settings.paths.menus_dir
    return sorted(folder.glob("*.yaml")) if folder.is_dir() else []


def live_menu_name(settings: Settings) -> str:
    return settings.ivr.menu


def read_menu(
    path: Path, queues: Loaded[QueueCatalog], calendars: Loaded[Calendars]
) -> Loaded[Menu]:
    """One menu file, fully checked against the queues and calendar (when those are
    fine; a broken one is reported on its own)."""
    if not path.exists():
        return _missing(path)
    names = calendars.value.names if calendars.value is not None else None
    try:
        return Loaded(path, "ok", load_menu(path, queues.value, names))
    except MenuInvalid as exc:
        return Loaded(path, "error", problems=tuple(str(p) for p in exc.problems))


@dataclass(frozen=True)
class Checks:
    queues: Loaded[QueueCatalog]
    calendars: Loaded[Calendars]
    shifts: Loaded[ShiftConfig]
    menus: tuple[Loaded[Menu], ...]

    @property
    def problems(self) -> int:
        found = [self.queues.problems, self.calendars.problems, self.shifts.problems]
        return sum(len(p) for p in found) + sum(len(m.problems) for m in self.menus)


def run_checks(settings: Settings) -> Checks:
    """Every configuration file checked now."""
    queues = read_queues(settings)
    calendars = read_calendars(settings)
    shifts = read_shifts(settings, calendars)
    menus = tuple(read_menu(p, queues, calendars) for p in menu_files(settings))
    return Checks(queues, calendars, shifts, menus)


# --- the shift rules on one day ------------------------------------------------------


@dataclass(frozen=True)
class ShiftDay:
    """What ``hotline shifts show`` prints for a day, as data."""

    day: date
    zone: str
    holiday: bool
    shifts: tuple[Shift, ...]
    changes: tuple[ShiftChange, ...]
    now: tuple[Period, ...] = field(default_factory=tuple)


def shift_day(config: ShiftConfig, now: datetime) -> ShiftDay:
    """Today (in the schedule's zone) at ``now`` (aware)."""
    sched = config.schedule
    local = now.astimezone(sched.tz)
    d = local.date()
    start = datetime.combine(d, datetime.min.time(), sched.tz)
    end = start + timedelta(days=1)
    changes = tuple(
        c
        for c in handover_due(sched, start - timedelta(microseconds=1), end)
        if (c.at > start or c.starting) and (c.at < end or c.ending)
    )
    return ShiftDay(
        day=d,
        zone=sched.tz.key,
        holiday=d in sched.holidays,
        shifts=shifts_on(sched, d),
        changes=changes,
        now=tuple(periods_at(sched, now)),
    )


def period_span(period: Period) -> str:
    """``HH:MM–HH:MM`` in the period's own zone; a period ending at midnight ends at 24:00."""
    end = period.end.strftime("%H:%M")
    if end == "00:00" and period.end.date() > period.start.date():
        end = "24:00"
    return f"{period.start.strftime('%H:%M')}–{end}"


def clock(minutes: int) -> str:
    """Minutes since midnight as ``HH:MM`` (24:00 for the end of the day)."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
