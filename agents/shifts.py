"""Shift rules (``config/shifts.yaml``): who must be at their post when, and the staffing
rules of domain.md §4 as pure functions of a roster snapshot and a fixed instant.

A *shift* is a named run of periods on some weekdays, worked by one or more teams:
``prep`` (briefing), ``on_post`` (every seat answering; "the market is open"),
``break`` (the lead decides who covers) and ``wrap`` (post-shift summary). A gap between
two periods of a shift is a break too, so an agent is *on shift* exactly when
``period_at`` gives a period. Periods are half-open ``[start, end)`` in the file's time
zone; holidays of a business calendar (``holidays_from``) have no shifts.

Nothing here reads the clock or the database: the ACD, CLI and wallboard pass a ``Roster``
and ``now``, so every rule is a fixed-instant unit test. Whether a seat's *state* may
change at all (e.g. not while on a call) is ``agents.seats``' question; here it is only
whether the staffing rules allow it. No I/O: ``agents.shift_file`` reads the file.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Literal
from zoneinfo import ZoneInfo

from kernel.roles import SEAT_ROLES

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

PeriodKind = Literal["prep", "on_post", "break", "wrap"]
Role = Literal["agent", "lead", "admin"]
SeatState = Literal["offline", "available", "ringing", "on_call", "wrap_up", "away", "on_leave"]
Hours = Literal["open", "outside", "off"]  # site-wide: some team on post / on shift / none
Action = Literal["away", "leave", "log_off"]
AlertKind = Literal["understaffed", "overdue_away", "no_acting_lead", "phone_offline"]
Severity = Literal["critical", "warning"]

# Logged in and answering (or about to): what "on duty" counts.
DUTY_STATES: frozenset[str] = frozenset({"available", "ringing", "on_call", "wrap_up"})
# At work, reachable by the lead: on duty or stepped away.
PRESENT_STATES: frozenset[str] = DUTY_STATES | {"away"}

# Rule ids, as stored in override records and shown on the wallboard.
MAX_AWAY = "max_away_at_once"
MIN_ON_DUTY = "min_on_duty"
MAX_LEAVE = "max_normal_on_leave_at_once"
ACTING_LEAD = "lead_absence_needs_acting_lead"
STAY_UNTIL_END = "stay_until_shift_end"
LEAD_STAYS_OPEN = "lead_stays_while_open"
NOT_PRESENT = "not_present"  # state preconditions: not overridable
ALREADY = "already"

_SEVERITY_ORDER = {"critical": 0, "warning": 1}
_KIND_ORDER = {"understaffed": 0, "no_acting_lead": 1, "overdue_away": 2, "phone_offline": 3}


# --- configuration ------------------------------------------------------------------


@dataclass(frozen=True)
class PeriodSpec:
    """A period as written in the file: minutes since local midnight, [start, end)."""

    name: str
    kind: PeriodKind
    start: int
    end: int


@dataclass(frozen=True)
class Shift:
    name: str
    teams: frozenset[str]
    days: frozenset[int]  # 0 = Monday, like date.weekday()
    periods: tuple[PeriodSpec, ...]  # in time order, no overlaps

    @property
    def start(self) -> int:
        return self.periods[0].start

    @property
    def end(self) -> int:
        return self.periods[-1].end


@dataclass(frozen=True)
class Schedule:
    """Shifts in one time zone, minus holidays: the whole site's, or one team's."""

    tz: ZoneInfo
    shifts: tuple[Shift, ...]
    holidays: frozenset[date] = frozenset()

    def for_team(self, team: str) -> Schedule:
        return Schedule(self.tz, tuple(s for s in self.shifts if team in s.teams), self.holidays)

    def shift(self, name: str) -> Shift:
        for s in self.shifts:
            if s.name == name:
                return s
        raise KeyError(f"no shift named {name!r}")


@dataclass(frozen=True)
class Rules:
    """The staffing settings; defaults are the fund call center's (domain.md §4)."""

    min_normal_on_duty_open: int = 4
    min_normal_on_duty_outside: int = 2
    max_away_at_once: int = 1
    away_minutes_limit: int = 10  # a lead may set another limit per agent
    max_normal_on_leave_at_once: int = 1
    lead_absence_needs_acting_lead: bool = True


@dataclass(frozen=True, eq=False)
class ShiftConfig:
    schedule: Schedule
    teams: Mapping[str, str]  # name → description
    rules: Rules
    source: Path | None = None
    holidays_from: str | None = None
    # Per-team schedules, built once: routing asks for them for every agent on every call.
    _by_team: dict[str, Schedule] = field(default_factory=dict, init=False, repr=False)

    def team_schedule(self, team: str) -> Schedule:
        found = self._by_team.get(team)
        if found is None:
            found = self._by_team[team] = self.schedule.for_team(team)
        return found


# --- roster snapshots ---------------------------------------------------------------


@dataclass(frozen=True)
class AgentView:
    """One agent as the rules see it at an instant (from the seats tables)."""

    id: int
    name: str
    role: Role
    team: str
    state: SeatState
    state_since: datetime  # aware
    away_reason: str | None = None
    away_limit_minutes: int | None = None  # None: the rules' away_minutes_limit
    acting_lead: bool = False
    skills: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    # No controller's Asterisk can reach the agent's phone (not registered, refused): they
    # cannot take a call, so they are not on duty whatever their seat says.
    phone_offline: bool = False


@dataclass(frozen=True, eq=False)
class Roster:
    """Every agent plus the designated acting lead (a normal seat), under one config.

    The acting lead is ``acting_lead_id`` or, when that is None, the one agent flagged
    ``acting_lead``; the two must agree.
    """

    config: ShiftConfig
    agents: tuple[AgentView, ...]
    acting_lead_id: int | None = None

    def __post_init__(self) -> None:
        ids = [a.id for a in self.agents]
        if len(set(ids)) != len(ids):
            raise ValueError("an agent appears twice in the roster")
        flagged = [a.id for a in self.agents if a.acting_lead]
        if len(flagged) > 1 or (
            flagged and self.acting_lead_id is not None and flagged[0] != self.acting_lead_id
        ):
            raise ValueError(f"more than one acting lead: {[*flagged, self.acting_lead_id]}")
        chosen = (
            self.acting_lead_id if self.acting_lead_id is not None else next(iter(flagged), None)
        )
        if chosen is not None and self.agent(chosen).role != "agent":
            raise ValueError("the acting lead must be a normal seat (role agent)")
        object.__setattr__(self, "acting_lead_id", chosen)

    def agent(self, agent_id: int) -> AgentView:
        for a in self.agents:
            if a.id == agent_id:
                return a
        raise KeyError(f"no agent {agent_id} in the roster")

    @property
    def acting_lead(self) -> AgentView | None:
        return None if self.acting_lead_id is None else self.agent(self.acting_lead_id)


# --- results ------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """A period on a concrete day: ``start``/``end`` are aware instants in the schedule's zone."""

    name: str
    kind: PeriodKind
    shift: str
    teams: frozenset[str]
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Decision:
    allowed: bool
    rule: str | None  # the refusing rule's id; None when allowed
    reason: str  # one sentence for the agent and the lead
    agent_id: int
    action: Action
    at: datetime
    away_reason: str | None = None
    # Who may override a refusal: leads and the acting lead, never the agent themself;
    # empty for refusals that are facts (already away, not logged in).
    overridable_by: frozenset[int] = frozenset()


@dataclass(frozen=True)
class OverrideRecord:
    """What must be logged when a lead overrides a refusal."""

    at: datetime
    lead_id: int
    agent_id: int
    action: Action
    rule: str
    refusal: str  # the reason the rules gave
    decided_at: datetime
    away_reason: str | None = None

    def log_line(self) -> str:
        what = f"away ({self.away_reason})" if self.away_reason else self.action
        return (
            f"{self.at.isoformat()} lead {self.lead_id} overrode {self.rule} for agent "
            f"{self.agent_id} ({what}): {self.refusal}"
        )


@dataclass(frozen=True)
class Staffing:
    on_duty: int  # normal seats on shift and logged in, not away
    required: int
    below_minimum: bool
    hours: Hours


@dataclass(frozen=True)
class Alert:
    kind: AlertKind
    severity: Severity
    message: str
    agent_id: int | None = None

    @property
    def key(self) -> tuple[str, int | None]:
        """Identity across snapshots: the message may change (minutes over), the alert doesn't."""
        return (self.kind, self.agent_id)


@dataclass(frozen=True)
class ShiftChange:
    """An instant where the set of shifts on changes: the handover point."""

    at: datetime
    ending: tuple[str, ...]
    starting: tuple[str, ...]
    continuing: tuple[str, ...]


# --- time ---------------------------------------------------------------------------


def _local(schedule: Schedule, at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"naive datetime {at!r}: pass an aware datetime")
    return at.astimezone(schedule.tz)


def _instant(schedule: Schedule, d: date, minutes: int) -> datetime:
    # Wall-clock arithmetic, so 24:00 lands on the next day's midnight.
    return (datetime.combine(d, time()) + timedelta(minutes=minutes)).replace(tzinfo=schedule.tz)


def hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _clock(at: datetime, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime("%H:%M")


def shifts_on(schedule: Schedule, d: date) -> tuple[Shift, ...]:
    """The shifts worked on local date ``d`` (none on a holiday)."""
    if d in schedule.holidays:
        return ()
    return tuple(s for s in schedule.shifts if d.weekday() in s.days)


def periods_at(schedule: Schedule, now: datetime) -> list[Period]:
    """Every shift's period at ``now`` (several when shifts of different teams overlap)."""
    local = _local(schedule, now)
    d = local.date()
    second = local.hour * 3600 + local.minute * 60 + local.second
    found = []
    for s in shifts_on(schedule, d):
        if not s.start * 60 <= second < s.end * 60:
            continue
        spec = next((p for p in s.periods if p.start * 60 <= second < p.end * 60), None)
        if spec is None:  # a gap inside the shift: an unnamed break
            before = max(p.end for p in s.periods if p.end * 60 <= second)
            after = min(p.start for p in s.periods if p.start * 60 > second)
            spec = PeriodSpec("break", "break", before, after)
        found.append(
            Period(
                spec.name,
                spec.kind,
                s.name,
                s.teams,
                _instant(schedule, d, spec.start),
                _instant(schedule, d, spec.end),
            )
        )
    return sorted(found, key=lambda p: (p.start, p.shift))


def period_at(schedule: Schedule, now: datetime) -> Period | None:
    """The period at ``now``, None when off shift. On a team's schedule there is at most
    one; on the site's, the earliest-starting of the overlapping shifts'."""
    found = periods_at(schedule, now)
    return found[0] if found else None


def hours_at(schedule: Schedule, now: datetime) -> Hours:
    kinds = {p.kind for p in periods_at(schedule, now)}
    if "on_post" in kinds:
        return "open"
    return "outside" if kinds else "off"


def _spans(schedule: Schedule, first: date, last: date) -> list[tuple[str, datetime, datetime]]:
    out = []
    d = first
    while d <= last:
        for s in shifts_on(schedule, d):
            out.append((s.name, _instant(schedule, d, s.start), _instant(schedule, d, s.end)))
        d += timedelta(days=1)
    return out


def handover_due(schedule: Schedule, previous: datetime, now: datetime) -> list[ShiftChange]:
    """The shift changes in ``(previous, now]``, oldest first: where a handover note is due.

    A change is an instant where the set of shifts on changes: a shift starting (while
    another may continue) or ending. Breaks inside a shift are not changes.
    """
    if now < previous:
        raise ValueError("now is before previous")
    first = _local(schedule, previous).date() - timedelta(days=1)
    spans = _spans(schedule, first, _local(schedule, now).date() + timedelta(days=1))
    instants = sorted({t for _, s, e in spans for t in (s, e) if previous < t <= now})
    changes = []
    for t in instants:
        before = {n for n, s, e in spans if s < t <= e}
        after = {n for n, s, e in spans if s <= t < e}
        if before != after:
            changes.append(
                ShiftChange(
                    t.astimezone(schedule.tz),
                    tuple(sorted(before - after)),
                    tuple(sorted(after - before)),
                    tuple(sorted(before & after)),
                )
            )
    return changes


# --- the rules ----------------------------------------------------------------------


def _seats(n: int) -> str:
    return f"{n} normal seat{'' if n == 1 else 's'}"


def _hours_phrase(hours: Hours) -> str:
    return "while the market is open" if hours == "open" else "outside market hours"


def on_shift(roster: Roster, agent: AgentView, now: datetime) -> bool:
    return team_on_shift(roster.config, agent.team, now)


def team_on_shift(config: ShiftConfig, team: str, now: datetime) -> bool:
    """Whether ``team`` works at ``now``: being on shift depends on the team alone."""
    return period_at(config.team_schedule(team), now) is not None


def _on_duty(roster: Roster, now: datetime) -> list[AgentView]:
    return [
        a
        for a in roster.agents
        if a.role == "agent"
        and a.state in DUTY_STATES
        and not a.phone_offline
        and on_shift(roster, a, now)
    ]


def routable(roster: Roster, now: datetime, skill: str | None = None) -> list[AgentView]:
    """Seats a call may be offered to now: available, on shift, with the skill (level ≥ 1);
    longest available first."""
    found = [
        a
        for a in roster.agents
        if a.role in SEAT_ROLES
        and a.state == "available"
        and not a.phone_offline
        and (skill is None or a.skills.get(skill, 0) >= 1)
        and on_shift(roster, a, now)
    ]
    return sorted(found, key=lambda a: (a.state_since, a.id))


def staffing(roster: Roster, now: datetime) -> Staffing:
    hours = hours_at(roster.config.schedule, now)
    rules = roster.config.rules
    required = {
        "open": rules.min_normal_on_duty_open,
        "outside": rules.min_normal_on_duty_outside,
        "off": 0,
    }[hours]
    on_duty = len(_on_duty(roster, now))
    return Staffing(on_duty, required, on_duty < required, hours)


def _overriders(roster: Roster, agent_id: int) -> frozenset[int]:
    ids = {a.id for a in roster.agents if a.role == "lead"}
    if roster.acting_lead_id is not None:
        ids.add(roster.acting_lead_id)
    return frozenset(ids - {agent_id})


def _min_on_duty_refusal(roster: Roster, agent: AgentView, now: datetime) -> str | None:
    """Why taking ``agent`` off duty now would break the minimum, or None."""
    if agent not in _on_duty(roster, now):
        return None
    s = staffing(roster, now)
    remaining = s.on_duty - 1
    if remaining >= s.required:
        return None
    return (
        f"only {_seats(remaining)} would remain on duty {_hours_phrase(s.hours)} "
        f"(minimum {s.required})"
    )


def _limit(roster: Roster, agent: AgentView) -> int:
    if agent.away_limit_minutes is not None:
        return agent.away_limit_minutes
    return roster.config.rules.away_minutes_limit


def _away_refusal(away: list[AgentView], limit: int, tz: ZoneInfo) -> str:
    if not away:
        return "no seat may be away now (max_away_at_once is 0)"
    each = [f"{a.away_reason or 'away'} since {_clock(a.state_since, tz)}" for a in away]
    if len(away) == 1:
        who = f"{away[0].name} is already away ({each[0]})"
    else:
        who = " and ".join(f"{a.name} ({e})" for a, e in zip(away, each, strict=True))
        who += " are already away"
    return f"{who}; at most {limit} seat{'' if limit == 1 else 's'} may be away at once"


def may_go_away(roster: Roster, agent_id: int, reason: str, now: datetime) -> Decision:
    """May this seat step away now? Refusals name the rule and say why."""
    agent = roster.agent(agent_id)
    tz = roster.config.schedule.tz

    def no(rule: str, why: str, overridable: bool = True) -> Decision:
        by = _overriders(roster, agent_id) if overridable else frozenset()
        return Decision(False, rule, why, agent_id, "away", now, reason, by)

    if agent.state == "away":
        return no(ALREADY, f"{agent.name} is already away", overridable=False)
    if agent.state not in PRESENT_STATES:
        return no(NOT_PRESENT, f"{agent.name} is not logged in", overridable=False)
    if agent.role in SEAT_ROLES:
        limit = roster.config.rules.max_away_at_once
        away = sorted(
            (a for a in roster.agents if a.role in SEAT_ROLES and a.state == "away"),
            key=lambda a: (a.state_since, a.id),
        )
        if len(away) >= limit:
            return no(MAX_AWAY, _away_refusal(away, limit, tz))
    refusal = _min_on_duty_refusal(roster, agent, now)
    if refusal:
        return no(MIN_ON_DUTY, refusal)
    return Decision(
        True,
        None,
        f"{agent.name} may go away ({reason}) for up to {_limit(roster, agent)} minutes",
        agent_id,
        "away",
        now,
        reason,
    )


def _lead_present(roster: Roster, excluding: int | None = None) -> bool:
    return any(
        a.role == "lead" and a.state in PRESENT_STATES and a.id != excluding for a in roster.agents
    )


def may_take_leave(roster: Roster, agent_id: int, now: datetime) -> Decision:
    """May this seat go on leave now (a lead asks)? Refusals name the rule and say why."""
    agent = roster.agent(agent_id)
    rules = roster.config.rules

    def no(rule: str, why: str, overridable: bool = True) -> Decision:
        by = _overriders(roster, agent_id) if overridable else frozenset()
        return Decision(False, rule, why, agent_id, "leave", now, None, by)

    if agent.state == "on_leave":
        return no(ALREADY, f"{agent.name} is already on leave", overridable=False)
    if agent.role == "agent":
        others = sorted(
            (a for a in roster.agents if a.role == "agent" and a.state == "on_leave"),
            key=lambda a: a.id,
        )
        limit = rules.max_normal_on_leave_at_once
        if len(others) >= limit:
            names = " and ".join(a.name for a in others)
            verb = "is" if len(others) == 1 else "are"
            return no(
                MAX_LEAVE,
                f"{names} {verb} already on leave; at most {_seats(limit)} may be on leave at once",
            )
    if rules.lead_absence_needs_acting_lead:
        acting = roster.acting_lead
        if agent.role == "lead" and not _lead_present(roster, excluding=agent.id):
            if acting is None or acting.state == "on_leave":
                return no(
                    ACTING_LEAD,
                    "the lead's absence needs an acting lead: designate a normal seat "
                    "as acting lead first",
                )
        if (
            acting is not None
            and acting.id == agent.id
            and any(a.role == "lead" and a.state == "on_leave" for a in roster.agents)
            and not _lead_present(roster)
        ):
            return no(
                ACTING_LEAD,
                f"{agent.name} is the acting lead while the lead is on leave; designate "
                "another acting lead first",
            )
    refusal = _min_on_duty_refusal(roster, agent, now)
    if refusal:
        return no(MIN_ON_DUTY, refusal)
    return Decision(True, None, f"{agent.name} may go on leave", agent_id, "leave", now)


def may_log_off(roster: Roster, agent_id: int, now: datetime) -> Decision:
    """May this seat log off now? Normal seats stay until their shift ends (breaks aside,
    keeping the minimum); the lead may leave once the market is closed."""
    agent = roster.agent(agent_id)

    def no(rule: str, why: str, overridable: bool = True) -> Decision:
        by = _overriders(roster, agent_id) if overridable else frozenset()
        return Decision(False, rule, why, agent_id, "log_off", now, None, by)

    if agent.state not in PRESENT_STATES:
        return no(NOT_PRESENT, f"{agent.name} is not logged in", overridable=False)
    if agent.role == "lead" and hours_at(roster.config.schedule, now) == "open":
        return no(LEAD_STAYS_OPEN, "the lead may leave only after the market closes")
    if agent.role == "agent":
        period = period_at(roster.config.team_schedule(agent.team), now)
        if period is not None and period.kind != "break":
            end = roster.config.schedule.shift(period.shift).end
            return no(
                STAY_UNTIL_END,
                f"normal seats stay until the end of the {period.shift} shift at {hhmm(end)}",
            )
        refusal = _min_on_duty_refusal(roster, agent, now)
        if refusal:
            return no(MIN_ON_DUTY, refusal)
    return Decision(True, None, f"{agent.name} may log off", agent_id, "log_off", now)


def override(decision: Decision, lead_id: int, now: datetime) -> OverrideRecord:
    """A lead overrides a refusal; the record is what must be logged.

    Raises ValueError for an allowed decision and PermissionError when ``lead_id`` is not
    among ``decision.overridable_by`` (not a lead, the agent themself, or a fact refusal).
    """
    if decision.allowed or decision.rule is None:
        raise ValueError("the decision allowed it: there is nothing to override")
    if lead_id not in decision.overridable_by:
        raise PermissionError(
            f"agent {lead_id} may not override {decision.rule} for agent {decision.agent_id}"
        )
    return OverrideRecord(
        at=now,
        lead_id=lead_id,
        agent_id=decision.agent_id,
        action=decision.action,
        rule=decision.rule,
        refusal=decision.reason,
        decided_at=decision.at,
        away_reason=decision.away_reason,
    )


def overdue_away(roster: Roster, now: datetime) -> list[tuple[AgentView, int]]:
    """Seats away longer than their limit, with whole minutes over (rounded up, so ≥ 1);
    longest-away first."""
    out = []
    for a in roster.agents:
        if a.role not in SEAT_ROLES or a.state != "away":
            continue
        over = (now - a.state_since).total_seconds() - _limit(roster, a) * 60
        if over > 0:
            out.append((a, math.ceil(over / 60)))
    return sorted(out, key=lambda pair: (pair[0].state_since, pair[0].id))


def phones_offline(roster: Roster, now: datetime) -> list[AgentView]:
    """Seats logged in on shift whose phone no controller can reach: the lead must know,
    callers will not reach them."""
    return [
        a
        for a in roster.agents
        if a.role in SEAT_ROLES
        and a.phone_offline
        and a.state in PRESENT_STATES
        and on_shift(roster, a, now)
    ]


def _acting_lead_alert(roster: Roster, now: datetime) -> Alert | None:
    if not roster.config.rules.lead_absence_needs_acting_lead or _lead_present(roster):
        return None
    hours = hours_at(roster.config.schedule, now)
    lead_on_leave = any(a.role == "lead" and a.state == "on_leave" for a in roster.agents)
    if hours == "off" or not (lead_on_leave or hours == "open"):
        return None
    acting = roster.acting_lead
    if acting is not None and acting.state in PRESENT_STATES:
        return None
    absent = "the lead is on leave" if lead_on_leave else "no lead is logged in"
    missing = (
        "no acting lead is designated"
        if acting is None
        else f"the acting lead {acting.name} is not logged in"
    )
    return Alert("no_acting_lead", "critical", f"{absent} and {missing}")


def alerts(roster: Roster, now: datetime) -> list[Alert]:
    """What the lead's wallboard shows now; same input, same list, in a fixed order."""
    found: list[Alert] = []
    s = staffing(roster, now)
    if s.below_minimum:
        found.append(
            Alert(
                "understaffed",
                "critical" if s.hours == "open" else "warning",
                f"{_seats(s.on_duty)} on duty {_hours_phrase(s.hours)} (minimum {s.required})",
            )
        )
    acting = _acting_lead_alert(roster, now)
    if acting:
        found.append(acting)
    for agent in phones_offline(roster, now):
        found.append(
            Alert(
                "phone_offline",
                "warning",
                f"{agent.name} is logged in on shift but their phone is offline",
                agent.id,
            )
        )
    for agent, minutes in overdue_away(roster, now):
        limit = _limit(roster, agent)
        found.append(
            Alert(
                "overdue_away",
                "warning",
                f"{agent.name} has been away ({agent.away_reason or 'away'}) for "
                f"{limit + minutes} min, {minutes} min over the {limit}-min limit",
                agent.id,
            )
        )
    return sorted(
        found,
        key=lambda a: (_SEVERITY_ORDER[a.severity], _KIND_ORDER[a.kind], a.agent_id or 0),
    )


@dataclass(frozen=True)
class AlertChanges:
    raised: tuple[Alert, ...]
    cleared: tuple[Alert, ...]
    active: tuple[Alert, ...]


class AlertMonitor:
    """Turns roster snapshots into alert events: feed it every poll (e.g. each second) and
    it returns what was raised or cleared since the previous feed. An alert keeps its
    identity (kind, agent) while its wording changes, e.g. minutes over the limit."""

    def __init__(self) -> None:
        self._active: dict[tuple[str, int | None], Alert] = {}
        self._since: dict[tuple[str, int | None], datetime] = {}
        self._last: datetime | None = None

    def feed(self, roster: Roster, now: datetime) -> AlertChanges:
        if self._last is not None and now < self._last:
            raise ValueError("snapshots must be fed in time order")
        self._last = now
        current = {a.key: a for a in alerts(roster, now)}
        raised = tuple(a for k, a in current.items() if k not in self._active)
        cleared = tuple(a for k, a in self._active.items() if k not in current)
        for a in raised:
            self._since[a.key] = now
        for a in cleared:
            del self._since[a.key]
        self._active = current
        return AlertChanges(raised, cleared, tuple(current.values()))

    @property
    def active(self) -> tuple[Alert, ...]:
        return tuple(self._active.values())

    def since(self, alert: Alert) -> datetime:
        """When an active alert was first raised."""
        return self._since[alert.key]


# --- showing a day ------------------------------------------------------------------


def describe_rules(rules: Rules) -> list[str]:
    return [
        f"at least {_seats(rules.min_normal_on_duty_open)} on duty while the market is open, "
        f"{rules.min_normal_on_duty_outside} outside market hours",
        f"at most {rules.max_away_at_once} seat(s) away at once, "
        f"for {rules.away_minutes_limit} minutes unless the lead sets another limit",
        f"at most {_seats(rules.max_normal_on_leave_at_once)} on leave at once",
        "the lead's absence needs an acting lead"
        if rules.lead_absence_needs_acting_lead
        else "no acting lead required",
    ]


def render_day(config: ShiftConfig, d: date) -> str:
    """The schedule of local date ``d`` as text (``hotline shifts show``)."""
    sched = config.schedule
    lines = [f"{d.isoformat()} ({d.strftime('%A')}), {sched.tz.key}"]
    today = shifts_on(sched, d)
    if d in sched.holidays:
        lines.append(f"holiday (calendar {config.holidays_from}): no shifts")
    elif not today:
        lines.append("no shifts")
    for s in today:
        lines.append(f"shift {s.name} (teams: {', '.join(sorted(s.teams))})")
        previous_end = None
        for p in s.periods:
            if previous_end is not None and p.start > previous_end:
                lines.append(f"  {hhmm(previous_end)}-{hhmm(p.start)}  break")
            named = f"{p.kind:<8} {p.name}" if p.name != p.kind else p.kind
            lines.append(f"  {hhmm(p.start)}-{hhmm(p.end)}  {named}")
            previous_end = p.end
    start, end = _instant(sched, d, 0), _instant(sched, d, 1440)
    # The day's changes: from its midnight (if something starts then) to 24:00 (if
    # something ends then; a shift ending at 24:00 belongs to this day).
    changes = [
        c
        for c in handover_due(sched, start - timedelta(microseconds=1), end)
        if (c.at > start or c.starting) and (c.at < end or c.ending)
    ]
    if changes:
        lines.append("shift changes (handover notes):")
        for c in changes:
            parts = [f"{n} ends" for n in c.ending] + [f"{n} starts" for n in c.starting]
            parts += [f"{n} continues" for n in c.continuing]
            clock = "24:00" if c.at == end else _clock(c.at, sched.tz)
            lines.append(f"  {clock}  {'; '.join(parts)}")
    lines.append("rules:")
    lines.extend(f"  {r}" for r in describe_rules(config.rules))
    return "\n".join(lines)
