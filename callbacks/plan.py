"""Callback planning (domain.md §5): quiet hours, time slots for retries, sharing out.

Pure: the instant is always passed in. Quiet hours are local windows ``"HH:MM-HH:MM"``
in one time zone (the calendar file's); a window whose end is not after its start runs
past midnight (``"21:00-08:00"``). Windows are half-open like the calendar's:
``"12:00-13:30"`` is quiet at 12:00 and free again at 13:30.

**Time slots.** The day's dialable time (everything outside quiet hours) is cut at noon
and at 17:00 into *morning*, *afternoon* and *evening*; with the default quiet hours
(12:00–13:30, 21:00–08:00) that is 08:00–12:00, 13:30–17:00 and 17:00–21:00. A customer
not reached is tried next at the start of the first later slot of another part of the day
(a morning miss → this afternoon, an evening miss → tomorrow morning). Only when quiet
hours leave a single part of the day is the next try the same part, a day later.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from itertools import pairwise
from typing import TypeVar

DAY = 24 * 60
# Where the dialable day is cut into parts: noon and 17:00 (minutes since midnight).
SLOT_CUTS = (12 * 60, 17 * 60)
SLOT_NAMES = ("morning", "afternoon", "evening")
# How far ahead a slot is looked for (a day is enough unless quiet hours fill it).
_LOOKAHEAD_DAYS = 8

Span = tuple[int, int]  # minutes since local midnight, [start, end), start < end

_WINDOW = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-3]):([0-5][0-9])$")


def parse_windows(windows: Iterable[str]) -> tuple[Span, ...]:
    """Quiet windows as spans within one day, sorted and merged; a window past midnight
    becomes two spans. ValueError names a bad window."""
    spans: list[Span] = []
    for window in windows:
        m = _WINDOW.match(window.strip())
        if not m:
            raise ValueError(f'quiet window must be "HH:MM-HH:MM" (got {window!r})')
        start = int(m.group(1)) * 60 + int(m.group(2))
        end = int(m.group(3)) * 60 + int(m.group(4))
        if start == end:
            raise ValueError(f"empty quiet window {window!r}")
        if start < end:
            spans.append((start, end))
        else:
            spans.extend(s for s in ((start, DAY), (0, end)) if s[0] < s[1])
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(merged)


def free_spans(windows: Iterable[str]) -> tuple[Span, ...]:
    """The dialable spans of a day: the complement of the quiet windows."""
    out: list[Span] = []
    at = 0
    for start, end in parse_windows(windows):
        if start > at:
            out.append((at, start))
        at = max(at, end)
    if at < DAY:
        out.append((at, DAY))
    return tuple(out)


@dataclass(frozen=True)
class Slot:
    name: str  # morning | afternoon | evening
    start: int  # minutes since midnight
    end: int


def day_slots(windows: Iterable[str]) -> tuple[Slot, ...]:
    """The day's dialable time cut at noon and 17:00 into named slots, in order."""
    slots: list[Slot] = []
    for start, end in free_spans(windows):
        cuts = [start, *(c for c in SLOT_CUTS if start < c < end), end]
        for a, b in pairwise(cuts):
            part = sum(1 for c in SLOT_CUTS if a >= c)
            slots.append(Slot(SLOT_NAMES[part], a, b))
    return tuple(slots)


def _local(at: datetime, tz: tzinfo) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"naive datetime {at!r}: pass an aware datetime")
    return at.astimezone(tz)


def _minute(local: datetime) -> int:
    # Window edges fall on whole minutes, so the minute decides (11:59:59 is before noon).
    return local.hour * 60 + local.minute


def _instant(d: date, minutes: int, tz: tzinfo) -> datetime:
    """Local wall time ``minutes`` after midnight of ``d`` as an aware UTC instant."""
    wall = datetime.combine(d, time()) + timedelta(minutes=minutes)
    return wall.replace(tzinfo=tz).astimezone(UTC)


def is_quiet(at: datetime, windows: Sequence[str], tz: tzinfo) -> bool:
    """Whether ``at`` falls in quiet hours (local time in ``tz``)."""
    minute = _minute(_local(at, tz))
    return any(start <= minute < end for start, end in parse_windows(windows))


def next_dial_time(at: datetime, windows: Sequence[str], tz: tzinfo) -> datetime:
    """The first instant at or after ``at`` outside quiet hours (``at`` itself when free).

    ValueError when the quiet hours cover the whole day (nothing could ever be dialled).
    """
    spans = free_spans(windows)
    if not spans:
        raise ValueError("quiet hours cover the whole day: no time to dial")
    local = _local(at, tz)
    minute = _minute(local)
    for start, end in spans:
        if start <= minute < end:
            return at
        if minute < start:
            return _instant(local.date(), start, tz)
    return _instant(local.date() + timedelta(days=1), spans[0][0], tz)


def slot_at(at: datetime, windows: Sequence[str], tz: tzinfo) -> Slot | None:
    """The slot ``at`` falls in; None in quiet hours."""
    minute = _minute(_local(at, tz))
    for slot in day_slots(windows):
        if slot.start <= minute < slot.end:
            return slot
    return None


def next_slot_time(tried_at: datetime, windows: Sequence[str], tz: tzinfo) -> datetime:
    """When to try a customer not reached at ``tried_at``: the start of the first later
    slot of another part of the day (never in quiet hours). Tried in quiet hours (a call
    made by hand): the next dialable instant. ValueError when nothing is dialable."""
    slots = day_slots(windows)
    if not slots:
        raise ValueError("quiet hours cover the whole day: no time to dial")
    tried = slot_at(tried_at, windows, tz)
    if tried is None:
        return next_dial_time(tried_at, windows, tz)
    different = any(s.name != tried.name for s in slots)
    local = _local(tried_at, tz)
    for offset in range(_LOOKAHEAD_DAYS):
        d = local.date() + timedelta(days=offset)
        for slot in slots:
            if offset == 0 and slot.start <= tried.start:
                continue  # this slot or earlier today
            if different and slot.name == tried.name:
                continue
            return _instant(d, slot.start, tz)
    raise AssertionError("unreachable: every day has its slots")


@dataclass(frozen=True)
class CallbackRules:
    """What the dialler and the worklist obey: quiet hours in the calendar's zone, the
    attempts before a customer is unreachable, and the caller ID shown to customers."""

    quiet_hours: tuple[str, ...]
    tz: tzinfo
    max_attempts: int = 3
    caller_id: str = ""

    def __post_init__(self) -> None:
        parse_windows(self.quiet_hours)  # refuse bad windows when built, not when dialling

    def is_quiet(self, at: datetime) -> bool:
        return is_quiet(at, self.quiet_hours, self.tz)

    def next_dial_time(self, at: datetime) -> datetime:
        return next_dial_time(at, self.quiet_hours, self.tz)

    def retry_at(self, tried_at: datetime) -> datetime:
        return next_slot_time(tried_at, self.quiet_hours, self.tz)

    def quiet_from(self, at: datetime) -> datetime | None:
        """When quiet hours next begin, at or after ``at`` (``at`` itself when quiet now);
        None without quiet hours. A dial taken at ``at`` must not reach the customer from
        then on."""
        spans = parse_windows(self.quiet_hours)
        if not spans:
            return None
        if self.is_quiet(at):
            return at
        local = _local(at, self.tz)
        minute = _minute(local)
        for offset in (0, 1):
            for start, _ in spans:
                if offset or start > minute:
                    return _instant(local.date() + timedelta(days=offset), start, self.tz)
        raise AssertionError("unreachable: a quiet span starts within a day")

    def local_time(self, at: datetime) -> str:
        """``at`` as local "HH:MM", for messages."""
        return _local(at, self.tz).strftime("%H:%M")


def add_working_days(start: date, n: int, is_working_day: Callable[[date], bool]) -> date:
    """The ``n``-th working day after ``start`` (``start`` itself for 0). ValueError when
    the calendar has no such day within two years."""
    if n < 0:
        raise ValueError(f"working days must be 0 or more (got {n})")
    d, left = start, n
    for _ in range(2 * 366):
        if left == 0:
            return d
        d += timedelta(days=1)
        if is_working_day(d):
            left -= 1
    if left == 0:
        return d
    raise ValueError(f"no {n} working days after {start} within two years")


T = TypeVar("T")


def share_out(items: Sequence[T], loads: Mapping[int, int]) -> list[tuple[T, int]]:
    """Give each item, in order, to the agent with the fewest open items now (ties: the
    lowest agent id), counting each item given. ``loads``: agent id → open items already
    on that agent's list; the agents it names are the ones on shift. Deterministic."""
    heap = [(load, agent_id) for agent_id, load in loads.items()]
    if not heap:
        return []
    heapq.heapify(heap)
    out: list[tuple[T, int]] = []
    for item in items:
        load, agent_id = heapq.heappop(heap)
        out.append((item, agent_id))
        heapq.heappush(heap, (load + 1, agent_id))
    return out
