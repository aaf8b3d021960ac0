"""A person's seat change (the CLI, the web page), checked against the shift rules first.

``agents.seat_store.set_state`` decides whether the state machine allows a change and who may
make it; ``agents.shifts`` decides whether the staffing rules allow it (at most one seat
away, keep the minimum on duty, …). This is the one place where both meet, so the CLI
and the API refuse the same changes for the same reasons:

- going away asks ``may_go_away``, going on leave ``may_take_leave``, logging off
  ``may_log_off``; the rules are asked only when a shift config is given;
- a refusal raises ``RuleRefused`` unless the change is an override by a lead the
  decision names; the override's log line then becomes the history row's note.

The rules judge a snapshot of the roster: the seat itself is changed only at the version
the rules saw (``StaleState`` otherwise), but two different seats changed at the same
instant may both pass a rule such as max_away_at_once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from agents.roster import read_roster

# ``_actor`` is set_state's own judgement of who asks; shared so the early check below
# and the stored change can never disagree about it.
from agents.seat_store import UnknownAgent, _actor, agent_by_staff_number, get_seat, set_state
from agents.seats import Actor, IllegalTransition, State, event_for, transition
from agents.shifts import (
    ALREADY,
    NOT_PRESENT,
    Decision,
    ShiftConfig,
    may_go_away,
    may_log_off,
    may_take_leave,
)
from agents.shifts import override as override_refusal
from ticketdb.models import Agent, SeatState

# Refusals that state facts (already away, not logged in): whether such a change is
# possible at all is the state machine's question, and set_state answers it.
_FACT_RULES = frozenset({NOT_PRESENT, ALREADY})


class RuleRefused(Exception):
    """A shift rule refuses the change; ``decision`` says which rule, why, and who may
    override it."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(f"refused by {decision.rule}: {decision.reason}")
        self.decision = decision


@dataclass(frozen=True)
class ChangeResult:
    seat: SeatState
    override_line: str | None = None  # OverrideRecord.log_line() when a lead overrode


def _agent(s: Session, staff_number: str) -> Agent:
    agent = agent_by_staff_number(s, staff_number)
    if agent is None:
        raise UnknownAgent(f"no agent with staff number {staff_number!r}")
    return agent


def _decision(
    s: Session, config: ShiftConfig, agent: Agent, to_state: str, reason: str | None, now: datetime
) -> Decision | None:
    """The rules' refusal of this change, or None when they allow it or don't apply."""
    if to_state not in (State.AWAY, State.ON_LEAVE, State.OFFLINE):
        return None
    roster = read_roster(s, config)
    if all(a.id != agent.id for a in roster.agents):
        return None  # inactive agents are not staff the rules count
    if to_state == State.AWAY:
        decision = may_go_away(roster, agent.id, reason or "", now)
    elif to_state == State.ON_LEAVE:
        decision = may_take_leave(roster, agent.id, now)
    else:
        decision = may_log_off(roster, agent.id, now)
    if decision.allowed or decision.rule in _FACT_RULES:
        return None
    return decision


def change_state(
    s: Session,
    *,
    config: ShiftConfig | None,
    staff_number: str,
    to_state: str,
    by: str,
    reason: str | None,
    note: str | None,
    override: bool,
    now: datetime,
) -> ChangeResult:
    """Move the seat of ``staff_number`` to ``to_state`` on behalf of ``by``; commits.

    Raises IllegalTransition (the state machine or ``by``'s role refuses), RuleRefused
    (a shift rule refuses and no permitted override was asked for), UnknownAgent,
    StaleState (the seat changed meanwhile), ValueError (bad input).
    """
    agent = _agent(s, staff_number)
    seat = get_seat(s, agent.id)
    # Copied: reading the roster refreshes the same (identity-mapped) seat object.
    state, version = seat.state, seat.version
    # The state machine first: a change it refuses must not be reported as a rule's
    # refusal that a lead could override.
    actor = _actor(s, agent, by)
    transition(state, event_for(state, to_state, actor=actor, reason=reason))

    line: str | None = None
    decision = _decision(s, config, agent, to_state, reason, now) if config is not None else None
    if decision is not None:
        lead = agent_by_staff_number(s, by) if override and actor is Actor.LEAD else None
        if lead is None or lead.id not in decision.overridable_by:
            raise RuleRefused(decision)
        line = override_refusal(decision, lead.id, now).log_line()
        note = line if note is None else f"{line}; {note}"
    new = set_state(
        s,
        agent_id=agent.id,
        to_state=to_state,
        by=by,
        reason=reason,
        note=note,
        now=now,
        expected_version=version,
    )
    return ChangeResult(new, line)


def _in_wrap_up(s: Session, staff_number: str) -> tuple[Agent, SeatState]:
    agent = _agent(s, staff_number)
    seat = get_seat(s, agent.id)
    if seat.state != State.WRAP_UP:
        raise IllegalTransition(f"agent {agent.staff_number} is not in wrap-up ({seat.state})")
    return agent, seat


def end_wrap_up(s: Session, staff_number: str, by: str, now: datetime) -> SeatState:
    """End the seat's wrap-up early (back to available); commits.

    Raises IllegalTransition when the seat is not in wrap-up or ``by`` may not end it,
    UnknownAgent, StaleState.
    """
    agent, seat = _in_wrap_up(s, staff_number)
    return set_state(
        s,
        agent_id=agent.id,
        to_state=State.AVAILABLE,
        by=by,
        now=now,
        expected_version=seat.version,
    )


def extend_wrap_up(
    s: Session, staff_number: str, by: str, seconds: int, now: datetime
) -> SeatState:
    """Give the seat ``seconds`` more wrap-up, counted from its current end (or from now
    when that has passed); commits. Raises like ``end_wrap_up``, ValueError for
    ``seconds`` < 1."""
    if seconds < 1:
        raise ValueError(f"extend wrap-up by at least 1 second (got {seconds})")
    agent, seat = _in_wrap_up(s, staff_number)
    current = seat.wrap_up_until
    start = now if current is None or current < now else current
    return set_state(
        s,
        agent_id=agent.id,
        to_state=State.WRAP_UP,
        by=by,
        now=now,
        wrap_up_until=start + timedelta(seconds=seconds),
        expected_version=seat.version,
    )
