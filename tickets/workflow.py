"""The ticket status workflow: which status may follow which, per kind, and the SLA
milestones each status sets.

The main line is new → assigned → in_progress → resolved → callback_done → closed.
Besides: ``rejected`` (any kind), ``out_of_area`` (orders: the address is outside the
sales area, the customer gets an apology call) and ``unfounded`` (complaints the
operator judged not well founded). These three are outcomes, like ``resolved``.

Complaints always end with a callback (domain.md §2, §5): they reach ``closed`` only
through ``callback_done`` — an unreachable customer is recorded there too, by the
callback's outcome. A resolved ticket may be reopened (back to ``in_progress``) when the
callback finds the customer unsatisfied; ``closed`` is final.
"""

from __future__ import annotations

from enum import StrEnum

from tickets.config import KINDS


class Status(StrEnum):
    NEW = "new"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CALLBACK_DONE = "callback_done"
    CLOSED = "closed"
    REJECTED = "rejected"
    OUT_OF_AREA = "out_of_area"
    UNFOUNDED = "unfounded"


STATUSES: tuple[str, ...] = tuple(s.value for s in Status)
# Statuses that are an outcome of the work (the resolution milestone).
OUTCOMES = frozenset({Status.RESOLVED, Status.REJECTED, Status.OUT_OF_AREA, Status.UNFOUNDED})
# Statuses only some kinds may take.
ONLY_FOR: dict[Status, str] = {Status.OUT_OF_AREA: "order", Status.UNFOUNDED: "complaint"}

_S = Status
# Every kind's transitions; ONLY_FOR and _NOT_FOR narrow them per kind.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    # Solved on the call (an inquiry answered) goes straight to resolved.
    _S.NEW: frozenset(
        {_S.ASSIGNED, _S.IN_PROGRESS, _S.RESOLVED, _S.REJECTED, _S.OUT_OF_AREA, _S.UNFOUNDED}
    ),
    _S.ASSIGNED: frozenset(
        {_S.IN_PROGRESS, _S.RESOLVED, _S.REJECTED, _S.OUT_OF_AREA, _S.UNFOUNDED}
    ),
    _S.IN_PROGRESS: frozenset({_S.RESOLVED, _S.REJECTED, _S.OUT_OF_AREA, _S.UNFOUNDED}),
    # Reopened when the callback finds the customer unsatisfied.
    _S.RESOLVED: frozenset({_S.CALLBACK_DONE, _S.IN_PROGRESS, _S.CLOSED}),
    _S.CALLBACK_DONE: frozenset({_S.CLOSED, _S.IN_PROGRESS}),
    _S.REJECTED: frozenset({_S.CLOSED}),
    # The apology call made, or closed with that outcome.
    _S.OUT_OF_AREA: frozenset({_S.CALLBACK_DONE, _S.CLOSED}),
    _S.UNFOUNDED: frozenset({_S.CALLBACK_DONE, _S.CLOSED}),
    _S.CLOSED: frozenset(),
}
# Kind-specific refusals of otherwise allowed transitions, with the reason.
_NOT_FOR: dict[tuple[str, Status, Status], str] = {
    ("complaint", _S.RESOLVED, _S.CLOSED): "complaints end with a callback (callback_done first)",
    ("complaint", _S.UNFOUNDED, _S.CLOSED): "complaints end with a callback (callback_done first)",
}

# Milestone columns of the ticket, set when the ticket first gets there.
FIRST_RESPONSE = "first_response_at"
RESOLVED = "resolved_at"
CALLBACK_DONE = "callback_done_at"
CLOSED = "closed_at"


class TransitionRefused(Exception):
    """A status change the workflow does not allow; the message names both states and
    what is allowed instead."""

    def __init__(self, message: str, *, allowed: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.allowed = allowed


def _status(value: str, what: str) -> Status:
    try:
        return Status(value)
    except ValueError:
        raise TransitionRefused(
            f"unknown {what} status {value!r} (statuses: {', '.join(STATUSES)})"
        ) from None


def _a(word: str) -> str:
    return f"{'an' if word[0] in 'aeiou' else 'a'} {word}"


def _permitted(kind: str, old: Status, new: Status) -> bool:
    if new not in TRANSITIONS[old]:
        return False
    only = ONLY_FOR.get(new)
    if only is not None and only != kind:
        return False
    return (kind, old, new) not in _NOT_FOR


def allowed_next(kind: str, status: str) -> tuple[str, ...]:
    """The statuses a ``kind`` ticket may move to from ``status``, in workflow order."""
    old = _status(status, "current")
    return tuple(s.value for s in Status if _permitted(kind, old, s))


def check_transition(kind: str, old: str, new: str) -> None:
    """Nothing when ``kind`` may go from ``old`` to ``new``; else TransitionRefused."""
    if kind not in KINDS:
        raise TransitionRefused(f"unknown ticket kind {kind!r} (kinds: {', '.join(KINDS)})")
    before, after = _status(old, "current"), _status(new, "new")
    if _permitted(kind, before, after):
        return
    allowed = allowed_next(kind, before)
    options = ", ".join(allowed) if allowed else "nothing (it is final)"
    why = f"{_a(kind)} ticket cannot go from {before} to {after}"
    if before == after:
        why = f"the {kind} ticket is already {after}"
    elif (only := ONLY_FOR.get(after)) is not None and only != kind:
        why += f": only {_a(only)} can be {after}"
    elif (reason := _NOT_FOR.get((kind, before, after))) is not None:
        why += f": {reason}"
    raise TransitionRefused(f"{why}; from {before} it may go to: {options}", allowed=allowed)


def milestones(old: str, new: str) -> tuple[str, ...]:
    """The milestone columns a change from ``old`` to ``new`` reaches (set if unset)."""
    reached: list[str] = []
    if old == Status.NEW and new != Status.NEW:
        reached.append(FIRST_RESPONSE)
    if new in OUTCOMES:
        reached.append(RESOLVED)
    if new == Status.CALLBACK_DONE:
        reached.append(CALLBACK_DONE)
    if new == Status.CLOSED:
        reached.append(CLOSED)
    return tuple(reached)
