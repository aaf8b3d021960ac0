"""The seat state machine: which changes of an agent's seat state are allowed, and by whom.

Pure functions, no database: ``agents.seat_store`` validates every stored change here, and
the queue engine, CLI and web page all go through it, so a rule lives in one place.

States::

    offline ──login──▶ available ──offer──▶ ringing ──answer──▶ on_call ──call end──▶ wrap_up
                        ▲  │  ▲                │ no answer                              │ │
                        │ away back            ▼                                       │ extend
                        │  ▼  │  ◀─────────────┘                                       │ (stays)
                        │  away  ◀── ringing (reason missed_calls: auto-away)          │
                        └──────────── wrap-up end (timer, or the agent ends it early) ─┘

    any state except on_call ──logout──▶ offline
    any state except on_call ──leave (a lead)──▶ on_leave ──login──▶ available
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class State(StrEnum):
    OFFLINE = "offline"
    AVAILABLE = "available"
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    AWAY = "away"
    ON_LEAVE = "on_leave"


class EventKind(StrEnum):
    LOGIN = "login"
    OFFER = "offer"  # the queue engine rings the agent
    ANSWER = "answer"
    NO_ANSWER = "no_answer"  # ring timeout, refused, or the caller left while it rang
    CALL_END = "call_end"
    WRAP_UP_END = "wrap_up_end"  # timer ran out, or the agent ended wrap-up early
    WRAP_UP_EXTEND = "wrap_up_extend"
    AWAY = "away"
    BACK = "back"
    LOGOUT = "logout"
    LEAVE = "leave"


class Actor(StrEnum):
    """Who asks for the change, relative to the agent whose seat it is."""

    SELF = "self"  # the agent themself
    LEAD = "lead"  # a lead or admin (on anyone's seat, their own included)
    SYSTEM = "system"  # the controller (queue engine, timers, recovery)
    PEER = "peer"  # another normal agent: never allowed


AWAY_REASONS = ("break", "toilet", "meeting", "training", "missed_calls", "other")

# Changes caused by calls: only the controller sees calls, but a lead may reset a stuck seat.
_CALL_EVENTS = frozenset(
    {EventKind.OFFER, EventKind.ANSWER, EventKind.NO_ANSWER, EventKind.CALL_END}
)

_S = State
_E = EventKind
# (current state, event) → new state. LOGOUT and LEAVE are handled separately: they apply
# to every state except on_call.
_TABLE: dict[tuple[State, EventKind], State] = {
    (_S.OFFLINE, _E.LOGIN): _S.AVAILABLE,
    (_S.ON_LEAVE, _E.LOGIN): _S.AVAILABLE,
    (_S.AVAILABLE, _E.OFFER): _S.RINGING,
    (_S.RINGING, _E.ANSWER): _S.ON_CALL,
    (_S.RINGING, _E.NO_ANSWER): _S.AVAILABLE,
    (_S.ON_CALL, _E.CALL_END): _S.WRAP_UP,
    (_S.WRAP_UP, _E.WRAP_UP_END): _S.AVAILABLE,
    (_S.WRAP_UP, _E.WRAP_UP_EXTEND): _S.WRAP_UP,
    (_S.AVAILABLE, _E.AWAY): _S.AWAY,
    # After N unanswered offers in a row the engine sets the agent away in one step, so
    # no other node can offer a call in between.
    (_S.RINGING, _E.AWAY): _S.AWAY,
    (_S.AWAY, _E.BACK): _S.AVAILABLE,
}

# The event that takes ``current`` to ``target`` (``event_for``); the target alone is
# ambiguous only for "available" (login, no answer, wrap-up end, back) and "wrap_up".
_BY_TARGET: dict[State, EventKind] = {
    _S.RINGING: _E.OFFER,
    _S.ON_CALL: _E.ANSWER,
    _S.AWAY: _E.AWAY,
    _S.OFFLINE: _E.LOGOUT,
    _S.ON_LEAVE: _E.LEAVE,
}
_TO_AVAILABLE: dict[State, EventKind] = {
    _S.OFFLINE: _E.LOGIN,
    _S.ON_LEAVE: _E.LOGIN,
    _S.RINGING: _E.NO_ANSWER,
    _S.WRAP_UP: _E.WRAP_UP_END,
    _S.AWAY: _E.BACK,
}


class IllegalTransition(ValueError):
    """A change the seat rules don't allow; the message says why, in one line."""


@dataclass(frozen=True)
class Event:
    kind: EventKind
    actor: Actor = Actor.SYSTEM
    reason: str | None = None


def _state(value: str) -> State:
    try:
        return State(value)
    except ValueError:
        raise IllegalTransition(f"unknown seat state {value!r}") from None


def transition(current: str, event: Event) -> State:
    """The state after ``event`` in state ``current``; raises IllegalTransition if not allowed."""
    state = _state(current)
    kind = event.kind
    if event.actor is Actor.PEER:
        raise IllegalTransition("only a lead can change another agent's seat")
    if kind is EventKind.AWAY:
        if event.reason not in AWAY_REASONS:
            raise IllegalTransition(
                f"going away needs a reason: one of {', '.join(AWAY_REASONS)} "
                f"(got {event.reason!r})"
            )
        if state is State.RINGING and event.reason != "missed_calls":
            raise IllegalTransition(
                "a ringing seat can only be set away for missed calls; answer or let it ring out"
            )
    if kind in (EventKind.LOGOUT, EventKind.LEAVE):
        target = State.OFFLINE if kind is EventKind.LOGOUT else State.ON_LEAVE
        if kind is EventKind.LEAVE and event.actor is not Actor.LEAD:
            raise IllegalTransition("only a lead can put a seat on leave")
        if state is State.ON_CALL:
            raise IllegalTransition(f"cannot go {target} while on a call; end the call first")
        if state is target:
            raise IllegalTransition(f"the seat is already {target}")
        return target
    new = _TABLE.get((state, kind))
    if new is None:
        raise IllegalTransition(f"{kind} is not allowed while {state}")
    if kind in _CALL_EVENTS and event.actor is Actor.SELF:
        # Offers, answers and hang-ups are what the controller observes on the phone line.
        raise IllegalTransition(f"{kind} is set by the call handling, not by hand")
    return new


def event_for(current: str, target: str, *, actor: Actor, reason: str | None = None) -> Event:
    """The event that moves a seat from ``current`` to ``target`` (for callers naming states).

    Raises IllegalTransition when no event does, e.g. on_call → available (the call must
    end first) or available → available.
    """
    state, goal = _state(current), _state(target)
    if goal is State.AVAILABLE:
        kind = _TO_AVAILABLE.get(state)
    elif goal is State.WRAP_UP:
        kind = {State.ON_CALL: EventKind.CALL_END, State.WRAP_UP: EventKind.WRAP_UP_EXTEND}.get(
            state
        )
    else:
        kind = _BY_TARGET[goal]
        if kind not in (EventKind.LOGOUT, EventKind.LEAVE) and (state, kind) not in _TABLE:
            kind = None
    if kind is None:
        if state is goal:
            raise IllegalTransition(f"the seat is already {goal}")
        raise IllegalTransition(f"cannot go from {state} to {goal}")
    return Event(kind, actor, reason)


# Seats in these states hold no call: a node's claim on them ends when the seat gets there.
FREE_STATES = frozenset({State.OFFLINE, State.AVAILABLE, State.AWAY, State.ON_LEAVE})
