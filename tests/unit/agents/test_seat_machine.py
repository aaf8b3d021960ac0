"""The pure seat state machine: every (state, event) pair, reasons and who may do what."""

from __future__ import annotations

import itertools

import pytest

from agents.seats import (
    AWAY_REASONS,
    Actor,
    Event,
    EventKind,
    IllegalTransition,
    State,
    event_for,
    transition,
)

S, E = State, EventKind

# Written out independently of the module's table: the allowed moves for a system actor
# (a reason is given where one is needed).
ALLOWED: dict[tuple[State, EventKind], State] = {
    (S.OFFLINE, E.LOGIN): S.AVAILABLE,
    (S.ON_LEAVE, E.LOGIN): S.AVAILABLE,
    (S.AVAILABLE, E.OFFER): S.RINGING,
    (S.RINGING, E.ANSWER): S.ON_CALL,
    (S.RINGING, E.NO_ANSWER): S.AVAILABLE,
    (S.ON_CALL, E.CALL_END): S.WRAP_UP,
    (S.WRAP_UP, E.WRAP_UP_END): S.AVAILABLE,
    (S.WRAP_UP, E.WRAP_UP_EXTEND): S.WRAP_UP,
    (S.AVAILABLE, E.AWAY): S.AWAY,
    (S.RINGING, E.AWAY): S.AWAY,
    (S.AWAY, E.BACK): S.AVAILABLE,
}
for _state in State:
    if _state not in (S.ON_CALL, S.OFFLINE):
        ALLOWED[(_state, E.LOGOUT)] = S.OFFLINE
    if _state not in (S.ON_CALL, S.ON_LEAVE):
        ALLOWED[(_state, E.LEAVE)] = S.ON_LEAVE


def event(kind: EventKind, actor: Actor = Actor.SYSTEM) -> Event:
    reason = "missed_calls" if kind is E.AWAY else None
    return Event(kind, Actor.LEAD if kind is E.LEAVE else actor, reason)


@pytest.mark.parametrize(("state", "kind"), list(itertools.product(State, EventKind)))
def test_every_state_and_event(state: State, kind: EventKind) -> None:
    expected = ALLOWED.get((state, kind))
    if expected is None:
        with pytest.raises(IllegalTransition):
            transition(state, event(kind))
    else:
        assert transition(state.value, event(kind)) is expected


def test_a_working_day() -> None:
    steps = [
        (E.LOGIN, Actor.SELF, None, S.AVAILABLE),
        (E.OFFER, Actor.SYSTEM, None, S.RINGING),
        (E.ANSWER, Actor.SYSTEM, None, S.ON_CALL),
        (E.CALL_END, Actor.SYSTEM, None, S.WRAP_UP),
        (E.WRAP_UP_EXTEND, Actor.SELF, None, S.WRAP_UP),
        (E.WRAP_UP_END, Actor.SELF, None, S.AVAILABLE),
        (E.AWAY, Actor.SELF, "toilet", S.AWAY),
        (E.BACK, Actor.SELF, None, S.AVAILABLE),
        (E.OFFER, Actor.SYSTEM, None, S.RINGING),
        (E.NO_ANSWER, Actor.SYSTEM, None, S.AVAILABLE),
        (E.LOGOUT, Actor.SELF, None, S.OFFLINE),
    ]
    state = S.OFFLINE
    for kind, actor, reason, expected in steps:
        state = transition(state, Event(kind, actor, reason))
        assert state is expected, kind


@pytest.mark.parametrize("reason", AWAY_REASONS)
def test_away_from_available_with_each_reason(reason: str) -> None:
    assert transition("available", Event(E.AWAY, Actor.SELF, reason)) is S.AWAY


@pytest.mark.parametrize("reason", [None, "", "lunch", "Break"])
def test_away_needs_a_known_reason(reason: str | None) -> None:
    with pytest.raises(IllegalTransition, match="needs a reason"):
        transition("available", Event(E.AWAY, Actor.SELF, reason))


def test_ringing_seat_goes_away_only_for_missed_calls() -> None:
    assert transition("ringing", Event(E.AWAY, Actor.SYSTEM, "missed_calls")) is S.AWAY
    with pytest.raises(IllegalTransition, match="missed calls"):
        transition("ringing", Event(E.AWAY, Actor.SELF, "break"))


def test_no_logout_or_leave_while_on_a_call() -> None:
    with pytest.raises(IllegalTransition, match="while on a call"):
        transition("on_call", Event(E.LOGOUT, Actor.SELF))
    with pytest.raises(IllegalTransition, match="while on a call"):
        transition("on_call", Event(E.LEAVE, Actor.LEAD))


@pytest.mark.parametrize("actor", [Actor.SELF, Actor.SYSTEM, Actor.PEER])
def test_only_a_lead_grants_leave(actor: Actor) -> None:
    with pytest.raises(IllegalTransition):
        transition("available", Event(E.LEAVE, actor))
    assert transition("available", Event(E.LEAVE, Actor.LEAD)) is S.ON_LEAVE


@pytest.mark.parametrize("kind", list(EventKind))
def test_a_peer_changes_nothing(kind: EventKind) -> None:
    for state in State:
        with pytest.raises(IllegalTransition, match="only a lead"):
            transition(state, Event(kind, Actor.PEER, "break"))


@pytest.mark.parametrize("kind", [E.OFFER, E.ANSWER, E.NO_ANSWER, E.CALL_END])
def test_call_events_are_not_set_by_hand(kind: EventKind) -> None:
    start = {E.OFFER: "available", E.ANSWER: "ringing", E.NO_ANSWER: "ringing"}
    state = start.get(kind, "on_call")
    with pytest.raises(IllegalTransition, match="call handling"):
        transition(state, Event(kind, Actor.SELF))
    # A lead may reset a stuck seat.
    transition(state, Event(kind, Actor.LEAD))


def test_unknown_state_is_illegal() -> None:
    with pytest.raises(IllegalTransition, match="unknown seat state"):
        transition("asleep", Event(E.LOGIN))


@pytest.mark.parametrize(
    ("current", "target", "kind"),
    [
        ("offline", "available", E.LOGIN),
        ("on_leave", "available", E.LOGIN),
        ("ringing", "available", E.NO_ANSWER),
        ("wrap_up", "available", E.WRAP_UP_END),
        ("away", "available", E.BACK),
        ("available", "ringing", E.OFFER),
        ("ringing", "on_call", E.ANSWER),
        ("on_call", "wrap_up", E.CALL_END),
        ("wrap_up", "wrap_up", E.WRAP_UP_EXTEND),
        ("available", "away", E.AWAY),
        ("away", "offline", E.LOGOUT),
        ("wrap_up", "on_leave", E.LEAVE),
    ],
)
def test_event_for_a_target_state(current: str, target: str, kind: EventKind) -> None:
    ev = event_for(current, target, actor=Actor.LEAD, reason="break")
    assert (ev.kind, ev.actor, ev.reason) == (kind, Actor.LEAD, "break")


@pytest.mark.parametrize(
    ("current", "target", "message"),
    [
        ("available", "available", "already available"),
        ("on_call", "available", "cannot go from on_call to available"),
        ("available", "wrap_up", "cannot go from available to wrap_up"),
        ("offline", "on_call", "cannot go from offline to on_call"),
        ("away", "ringing", "cannot go from away to ringing"),
        ("away", "away", "already away"),
        ("offline", "nowhere", "unknown seat state"),
    ],
)
def test_event_for_impossible_targets(current: str, target: str, message: str) -> None:
    with pytest.raises(IllegalTransition, match=message):
        event_for(current, target, actor=Actor.SELF)


def test_same_state_logout_is_reported_plainly() -> None:
    ev = event_for("offline", "offline", actor=Actor.SELF)
    with pytest.raises(IllegalTransition, match="already offline"):
        transition("offline", ev)
