"""SLA targets of a ticket (domain.md §2, issue #5 item 4): when each is due and where
the ticket stands against it.

Three targets, each measured from the ticket's creation:

- **first_response** — N minutes of elapsed time (``first_response_minutes`` of the kind;
  an urgent ticket gets the policy's ``urgent_first_response_minutes`` whatever its kind).
- **callback** — N calendar days: the same local time of day N days later.
- **resolution** — N *working* days on the business calendar (holidays, weekends and
  make-up working days from ``config/calendar.yaml``, shared with the IVR): due at the
  same local time of day on the N-th working day after the creation day. A ticket created
  on a non-working day counts from the start (first opening time) of the next working
  day: made on Saturday, 3 working days is Wednesday at opening time when Monday to
  Wednesday are working days. Partial-day closures don't change what a working day is.

States: ``met`` (milestone at or before due), ``missed`` (milestone after due),
``breached`` (no milestone and now ≥ due), ``near`` (no milestone, and at least
``near_fraction`` of the span from creation to due has passed), else ``ok``.

Pure: the calendar and ``now`` are passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol

from kernel.calendar import LOOKAHEAD_DAYS, BusinessCalendar
from tickets.config import SlaPolicy

TARGETS = ("first_response", "callback", "resolution")
STATES = ("ok", "near", "breached", "met", "missed")
# Final states: the milestone is there, nothing can change them.
FINAL_STATES = ("met", "missed")


class SlaTicket(Protocol):
    """What the SLA reads of a ticket (``ticketdb.models.Ticket`` fits)."""

    @property
    def kind(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def first_response_at(self) -> datetime | None: ...
    @property
    def callback_done_at(self) -> datetime | None: ...
    @property
    def resolved_at(self) -> datetime | None: ...


@dataclass(frozen=True)
class TargetState:
    target: str
    due_at: datetime  # UTC
    state: str
    milestone_at: datetime | None


def _next_working_day(calendar: BusinessCalendar, d: date) -> date:
    """The first working day strictly after ``d``."""
    for offset in range(1, LOOKAHEAD_DAYS + 1):
        candidate = d + timedelta(days=offset)
        if calendar.is_working_day(candidate):
            return candidate
    raise ValueError(f"calendar {calendar.name!r} has no working day in the year after {d}")


def add_working_days(calendar: BusinessCalendar, start: datetime, days: int) -> datetime:
    """``start`` plus ``days`` working days (see the module docstring), in UTC."""
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError(f"naive datetime {start!r}: pass an aware datetime")
    local = start.astimezone(calendar.tz)
    d = local.date()
    if calendar.is_working_day(d):
        at = local.time()
    else:
        d = _next_working_day(calendar, d)
        opens = calendar.windows_on(d)[0][0]
        at = time(opens // 60, opens % 60)
    for _ in range(days):
        d = _next_working_day(calendar, d)
    return datetime.combine(d, at, tzinfo=calendar.tz).astimezone(UTC)


def add_calendar_days(calendar: BusinessCalendar, start: datetime, days: int) -> datetime:
    """The same local time of day ``days`` days later, in UTC."""
    local = start.astimezone(calendar.tz)
    wall = datetime.combine(local.date() + timedelta(days=days), local.time())
    return wall.replace(tzinfo=calendar.tz).astimezone(UTC)


def due_instants(
    ticket: SlaTicket, policy: SlaPolicy, calendar: BusinessCalendar
) -> dict[str, datetime]:
    """The targets that apply to ``ticket`` and when each is due (UTC)."""
    targets = policy.by_kind.get(ticket.kind)
    created = ticket.created_at
    due: dict[str, datetime] = {}
    minutes = targets.first_response_minutes if targets is not None else None
    if ticket.severity == "urgent":
        minutes = policy.urgent_first_response_minutes
    if minutes is not None:
        due["first_response"] = (created + timedelta(minutes=minutes)).astimezone(UTC)
    if targets is not None and targets.callback_days is not None:
        due["callback"] = add_calendar_days(calendar, created, targets.callback_days)
    if targets is not None and targets.resolution_working_days is not None:
        due["resolution"] = add_working_days(calendar, created, targets.resolution_working_days)
    return due


def state_of(
    created_at: datetime,
    due_at: datetime,
    milestone_at: datetime | None,
    now: datetime,
    near_fraction: float,
) -> str:
    """One target's state (see the module docstring)."""
    if milestone_at is not None:
        return "met" if milestone_at <= due_at else "missed"
    if now >= due_at:
        return "breached"
    span = (due_at - created_at).total_seconds()
    used = (now - created_at).total_seconds()
    if span > 0 and used >= near_fraction * span:
        return "near"
    return "ok"


def milestone(ticket: SlaTicket, target: str) -> datetime | None:
    if target == "first_response":
        return ticket.first_response_at
    if target == "callback":
        return ticket.callback_done_at
    if target == "resolution":
        return ticket.resolved_at
    raise ValueError(f"unknown SLA target {target!r} (targets: {', '.join(TARGETS)})")


def evaluate(
    ticket: SlaTicket,
    policy: SlaPolicy,
    calendar: BusinessCalendar,
    now: datetime,
    near_fraction: float,
) -> list[TargetState]:
    """Every target that applies to ``ticket``, in TARGETS order, with its state at ``now``."""
    if not 0 < near_fraction < 1:
        raise ValueError(f"near_fraction must be between 0 and 1 (got {near_fraction})")
    out = []
    for target, due in due_instants(ticket, policy, calendar).items():
        done = milestone(ticket, target)
        out.append(
            TargetState(
                target, due, state_of(ticket.created_at, due, done, now, near_fraction), done
            )
        )
    return out
