"""Reading a shifts file (``config/shifts.yaml``): the YAML checked field by field and
across fields (overlapping periods, unknown calendars), every problem with its line.
The rules it builds are ``agents.shifts``; this is the only part of them that does I/O."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StrictBool,
    StrictInt,
    StringConstraints,
    ValidationError,
    field_validator,
)

from agents.shifts import (
    WEEKDAYS,
    PeriodKind,
    PeriodSpec,
    Rules,
    Schedule,
    Shift,
    ShiftConfig,
    hhmm,
)
from kernel import yamlfile
from kernel.calendar import Calendars, parse_window

DEFAULT_FILE = Path("config/shifts.yaml")


def _parse_span(value: object) -> tuple[int, int]:
    """The calendar's "HH:MM-HH:MM" windows, with the reason a shift's may be refused."""
    try:
        return parse_window(value)
    except ValueError as exc:
        if "start must be before end" in str(exc):
            raise ValueError(f"{exc} (a shift may not cross midnight)") from None
        raise


def _parse_days(value: object) -> frozenset[int]:
    items = [value] if isinstance(value, str) else value
    usage = 'must be weekdays, e.g. "mon-fri" or [sat, sun]'
    if not isinstance(items, list) or not items:
        raise ValueError(usage)
    days: set[int] = set()
    for item in items:
        if not isinstance(item, str):
            raise ValueError(f"{usage} (got {item!r})")
        ends = [part.strip().lower() for part in item.split("-")]
        if len(ends) > 2 or any(e not in WEEKDAYS for e in ends):
            raise ValueError(f"unknown weekday in {item!r} (use {', '.join(WEEKDAYS)})")
        first, last = WEEKDAYS.index(ends[0]), WEEKDAYS.index(ends[-1])
        if last < first:
            raise ValueError(f"{item!r} runs backwards (write e.g. [sat, sun, mon])")
        days.update(range(first, last + 1))
    return frozenset(days)


Span = Annotated[tuple[int, int], PlainValidator(_parse_span)]
Days = Annotated[frozenset[int], PlainValidator(_parse_days)]
Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]+$")]
NonNegative = Annotated[StrictInt, Field(ge=0)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _PeriodIn(_Model):
    at: Span
    kind: PeriodKind
    name: str | None = None


class _ShiftIn(_Model):
    teams: Annotated[list[str], Field(min_length=1)]
    days: Days
    periods: Annotated[list[_PeriodIn], Field(min_length=1)]


class _TeamIn(_Model):
    description: str = ""


class _RulesIn(_Model):
    min_normal_on_duty_open: NonNegative = Rules.min_normal_on_duty_open
    min_normal_on_duty_outside: NonNegative = Rules.min_normal_on_duty_outside
    max_away_at_once: NonNegative = Rules.max_away_at_once
    away_minutes_limit: Annotated[StrictInt, Field(ge=1)] = Rules.away_minutes_limit
    max_normal_on_leave_at_once: NonNegative = Rules.max_normal_on_leave_at_once
    lead_absence_needs_acting_lead: StrictBool = Rules.lead_absence_needs_acting_lead


class _FileIn(_Model):
    timezone: str
    holidays_from: str | None = None
    teams: Annotated[dict[Name, _TeamIn], Field(min_length=1)]
    shifts: Annotated[dict[Name, _ShiftIn], Field(min_length=1)]
    rules: _RulesIn = _RulesIn()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (KeyError, ValueError, OSError):
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name such as Asia/Shanghai)"
            ) from None
        return value


class ShiftsInvalid(Exception):
    """Problems in the shifts file, each one line: ``file:line: key: problem``."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


_Loc = tuple[object, ...]


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def _cross_checks(parsed: _FileIn, calendars: Calendars | None) -> list[tuple[_Loc, str]]:
    found: list[tuple[_Loc, str]] = []
    if parsed.holidays_from is not None:
        if calendars is None:
            found.append(
                (("holidays_from",), "needs the calendar file (paths.calendar_file), not found")
            )
        elif parsed.holidays_from not in calendars.calendars:
            found.append(
                (
                    ("holidays_from",),
                    f"unknown calendar {parsed.holidays_from!r} in {calendars.source} "
                    f"(known: {', '.join(calendars.names)})",
                )
            )
    known = ", ".join(sorted(parsed.teams))
    shifts = list(parsed.shifts.items())
    for name, shift in shifts:
        for i, team in enumerate(shift.teams):
            if team not in parsed.teams:
                found.append(
                    (("shifts", name, "teams", i), f"unknown team {team!r} (known: {known})")
                )
        for j, p in enumerate(shift.periods):
            for i, q in enumerate(shift.periods[:j]):
                if _overlaps(p.at, q.at):
                    found.append(
                        (
                            ("shifts", name, "periods", j, "at"),
                            f"overlaps period {i + 1} ({hhmm(q.at[0])}-{hhmm(q.at[1])})",
                        )
                    )
    # Two shifts of one team may not overlap: an agent would be in both.
    for k, (name, shift) in enumerate(shifts):
        for other_name, other in shifts[:k]:
            teams = sorted(set(shift.teams) & set(other.teams))
            days = sorted(shift.days & other.days)
            if not teams or not days:
                continue
            for j, p in enumerate(shift.periods):
                clash = next((q for q in other.periods if _overlaps(p.at, q.at)), None)
                if clash is not None:
                    found.append(
                        (
                            ("shifts", name, "periods", j, "at"),
                            f"overlaps shift {other_name}'s period {hhmm(clash.at[0])}-"
                            f"{hhmm(clash.at[1])} for team {teams[0]} on {WEEKDAYS[days[0]]}",
                        )
                    )
    return found


def load_shifts(path: Path, calendars: Calendars | None = None) -> ShiftConfig:
    """Read and check the shifts file; ``ShiftsInvalid`` lists every problem with its line.

    ``calendars`` is the loaded ``paths.calendar_file``, needed when the file names one in
    ``holidays_from``.
    """
    try:
        data, lines = yamlfile.read(path, "shifts file")
    except yamlfile.SourceError as exc:
        raise ShiftsInvalid([exc.at(path)]) from None

    def problems(found: Iterable[tuple[_Loc, str]]) -> ShiftsInvalid:
        out = set()
        for loc, problem in found:
            key = ".".join(str(p) for p in loc) or "(top level)"
            out.add((yamlfile.line_of(lines, loc), f"{key}: {problem}"))
        return ShiftsInvalid([f"{path}:{line}: {msg}" for line, msg in sorted(out)])

    if not isinstance(data, dict):
        raise problems([((), "must be a mapping (timezone:, teams:, shifts:, rules:)")])
    try:
        parsed = _FileIn.model_validate(data)
    except ValidationError as exc:
        raise problems(yamlfile.pydantic_problem(e) for e in exc.errors()) from None
    found = _cross_checks(parsed, calendars)
    if found:
        raise problems(found)

    holidays: frozenset[date] = frozenset()
    if parsed.holidays_from is not None and calendars is not None:
        holidays = calendars.calendars[parsed.holidays_from].holidays
    shifts = tuple(
        Shift(
            name=name,
            teams=frozenset(s.teams),
            days=s.days,
            periods=tuple(
                sorted(
                    (PeriodSpec(p.name or p.kind, p.kind, *p.at) for p in s.periods),
                    key=lambda p: p.start,
                )
            ),
        )
        for name, s in parsed.shifts.items()
    )
    return ShiftConfig(
        schedule=Schedule(ZoneInfo(parsed.timezone), shifts, holidays),
        teams=MappingProxyType({n: t.description for n, t in parsed.teams.items()}),
        rules=Rules(**parsed.rules.model_dump()),
        source=path,
        holidays_from=parsed.holidays_from,
    )
