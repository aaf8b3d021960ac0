"""Seat changes checked against the shift rules, on both back ends: which rule applies to
which change, refusals, a lead's override in the history, and wrap-up end/extend."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

from agents.seat_changes import ChangeResult, RuleRefused, change_state, end_wrap_up, extend_wrap_up
from agents.seat_store import (
    SYSTEM,
    StaleState,
    UnknownAgent,
    add_agent,
    agent_by_staff_number,
    claim_available,
    get_seat,
    history,
    set_state,
)
from agents.seats import IllegalTransition
from agents.shifts import PeriodSpec, Rules, Schedule, Shift, ShiftConfig

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday, inside the on-post period


def config(**rules: Any) -> ShiftConfig:
    day = Shift(
        "day",
        frozenset({"hotline"}),
        frozenset(range(7)),
        (PeriodSpec("on_post", "on_post", 9 * 60, 17 * 60),),
    )
    defaults: dict[str, Any] = {"min_normal_on_duty_open": 0, "min_normal_on_duty_outside": 0}
    return ShiftConfig(
        Schedule(ZoneInfo("UTC"), (day,)),
        MappingProxyType({"hotline": ""}),
        Rules(**(defaults | rules)),
    )


def agent(s: Session, staff: str, role: str = "agent", **extra: Any) -> int:
    return add_agent(
        s,
        staff_number=staff,
        name=f"Agent {staff}",
        endpoint=f"PJSIP/{staff}",
        role=role,
        team="hotline",
        now=T0 - timedelta(hours=1),
        **extra,
    ).id


def change(s: Session, cfg: ShiftConfig | None, staff: str, to: str, **kw: Any) -> ChangeResult:
    args: dict[str, Any] = {
        "by": staff,
        "reason": None,
        "note": None,
        "override": False,
        "now": T0,
    }
    args.update(kw)
    return change_state(s, config=cfg, staff_number=staff, to_state=to, **args)


@pytest.fixture
def s(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with sessions() as session:
        agent(session, "L1", "lead")
        for staff in ("A1", "A2", "A3"):
            agent(session, staff)
            set_state(
                session,
                agent_id=_id(session, staff),
                to_state="available",
                by=SYSTEM,
                now=T0 - timedelta(minutes=30),
            )
        yield session


def _id(s: Session, staff: str) -> int:
    found = agent_by_staff_number(s, staff)
    assert found is not None
    return found.id


def test_without_rules_only_the_state_machine_decides(s: Session) -> None:
    for staff in ("A1", "A2", "A3"):
        assert change(s, None, staff, "away", reason="break").seat.state == "away"
    assert change(s, None, "A1", "offline").override_line is None


def test_max_away_refusal_and_override(s: Session) -> None:
    cfg = config(max_away_at_once=1)
    change(s, cfg, "A1", "away", reason="break")
    with pytest.raises(RuleRefused) as refused:
        change(s, cfg, "A2", "away", reason="toilet")
    d = refused.value.decision
    assert d.rule == "max_away_at_once" and _id(s, "L1") in d.overridable_by
    assert str(refused.value).startswith("refused by max_away_at_once: Agent A1 is already away")
    assert "\n" not in str(refused.value)
    # The agent themself, a peer, and a lead who did not ask to override: refused.
    with pytest.raises(RuleRefused):
        change(s, cfg, "A2", "away", reason="toilet", override=True)
    with pytest.raises(IllegalTransition, match="only a lead"):
        change(s, cfg, "A2", "away", reason="toilet", by="A3", override=True)
    with pytest.raises(RuleRefused):
        change(s, cfg, "A2", "away", reason="toilet", by="L1")
    assert get_seat(s, _id(s, "A2")).state == "available"

    done = change(s, cfg, "A2", "away", reason="toilet", by="L1", override=True)
    assert done.seat.state == "away" and done.override_line is not None
    assert f"lead {_id(s, 'L1')} overrode max_away_at_once" in done.override_line
    last = history(s, _id(s, "A2"))[-1]
    assert (last.to_state, last.by, last.note) == ("away", "L1", done.override_line)


def test_leave_and_log_off_rules(s: Session) -> None:
    cfg = config(max_normal_on_leave_at_once=1)
    change(s, cfg, "A1", "on_leave", by="L1")
    with pytest.raises(RuleRefused) as leave:
        change(s, cfg, "A2", "on_leave", by="L1")
    assert leave.value.decision.rule == "max_normal_on_leave_at_once"
    # A seat on leave is not logged in: the log-off rule's "not present" is no refusal.
    assert change(s, cfg, "A1", "offline", by="L1").seat.state == "offline"

    with pytest.raises(RuleRefused) as log_off:
        change(s, cfg, "A3", "offline")
    assert log_off.value.decision.rule == "stay_until_shift_end"
    evening = T0.replace(hour=18)  # the shift is over
    assert change(s, cfg, "A3", "offline", now=evening).seat.state == "offline"
    overridden = change(s, cfg, "A2", "offline", by="L1", override=True, note="doctor")
    assert overridden.seat.state == "offline"
    assert history(s, _id(s, "A2"))[-1].note == f"{overridden.override_line}; doctor"


def test_the_state_machine_refuses_before_the_rules(s: Session) -> None:
    cfg = config(max_away_at_once=0)
    with pytest.raises(IllegalTransition, match="needs a reason"):
        change(s, cfg, "A1", "away")
    now = T0
    a1 = _id(s, "A1")
    assert claim_available(s, agent_id=a1, node="n", channel_id="c", now=now)
    set_state(s, agent_id=a1, to_state="ringing", by=SYSTEM, node="n", now=now)
    set_state(s, agent_id=a1, to_state="on_call", by=SYSTEM, node="n", now=now)
    # A lead's override could not help: the seat is on a call.
    with pytest.raises(IllegalTransition, match="while on a call"):
        change(s, cfg, "A1", "on_leave", by="L1", override=True)
    with pytest.raises(UnknownAgent):
        change(s, cfg, "nobody", "away", reason="break")


def test_inactive_agents_are_not_counted_by_the_rules(s: Session) -> None:
    cfg = config(max_away_at_once=0)
    agent(s, "A3", active=False)
    assert change(s, cfg, "A3", "offline").seat.state == "offline"


def test_wrap_up_end_and_extend(s: Session) -> None:
    a1 = _id(s, "A1")
    with pytest.raises(IllegalTransition, match="not in wrap-up"):
        end_wrap_up(s, "A1", "A1", T0)
    assert claim_available(s, agent_id=a1, node="n", channel_id="c", now=T0)
    for to in ("ringing", "on_call"):
        set_state(s, agent_id=a1, to_state=to, by=SYSTEM, node="n", now=T0)
    until = T0 + timedelta(seconds=30)
    set_state(s, agent_id=a1, to_state="wrap_up", by=SYSTEM, node="n", now=T0, wrap_up_until=until)

    with pytest.raises(ValueError, match="at least 1 second"):
        extend_wrap_up(s, "A1", "A1", 0, T0)
    assert extend_wrap_up(s, "A1", "A1", 60, T0).wrap_up_until == until + timedelta(seconds=60)
    # Once the end has passed, the extension counts from now.
    late = T0 + timedelta(minutes=5)
    assert extend_wrap_up(s, "A1", "A1", 20, late).wrap_up_until == late + timedelta(seconds=20)
    with pytest.raises(IllegalTransition, match="only a lead"):
        end_wrap_up(s, "A1", "A2", late)
    seat = end_wrap_up(s, "A1", "L1", late)
    assert (seat.state, seat.wrap_up_until, seat.claimed_by_node) == ("available", None, None)


def test_a_seat_changed_meanwhile_is_stale(s: Session, sessions: sessionmaker[Session]) -> None:
    """Another request moves the seat after the rules read it: the change is not written."""
    a1 = _id(s, "A1")
    seat_reads: list[object] = []

    def meanwhile(state: ORMExecuteState) -> None:
        if state.is_select and "seat_states" in str(state.statement):
            seat_reads.append(state.statement)
            if len(seat_reads) == 2:  # change_state has read the seat; set_state has not
                with sessions() as other:
                    set_state(other, agent_id=a1, to_state="away", reason="break", by="A1", now=T0)

    event.listen(s, "do_orm_execute", meanwhile)
    try:
        with pytest.raises(StaleState):
            change(s, config(), "A1", "offline", by="L1", override=True)
    finally:
        event.remove(s, "do_orm_execute", meanwhile)
    assert len(seat_reads) >= 2
    assert get_seat(s, a1).state == "away"
