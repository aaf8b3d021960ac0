"""The ticket workflow: every allowed transition of every kind is accepted, everything
else refused with a message naming both states and what is allowed; milestones."""

from __future__ import annotations

import pytest

from ticketdb.models import TICKET_STATUSES
from tickets.config import KINDS
from tickets.workflow import (
    STATUSES,
    TransitionRefused,
    allowed_next,
    check_transition,
    milestones,
)

COMMON = {
    "new": {"assigned", "in_progress", "resolved", "rejected"},
    "assigned": {"in_progress", "resolved", "rejected"},
    "in_progress": {"resolved", "rejected"},
    "resolved": {"callback_done", "in_progress", "closed"},
    "callback_done": {"closed", "in_progress"},
    "rejected": {"closed"},
    "closed": set(),
    # Not reachable for most kinds; nothing leads on from them there either.
    "out_of_area": {"callback_done", "closed"},
    "unfounded": {"callback_done", "closed"},
}
# Written out by hand (not derived from the module), so a change to the table shows here.
ALLOWED: dict[str, dict[str, set[str]]] = {
    kind: {state: set(targets) for state, targets in COMMON.items()} for kind in KINDS
}
for state in ("new", "assigned", "in_progress"):
    ALLOWED["order"][state].add("out_of_area")
    ALLOWED["complaint"][state].add("unfounded")
# Complaints end with a callback: never closed straight from an outcome.
ALLOWED["complaint"]["resolved"].discard("closed")
ALLOWED["complaint"]["unfounded"].discard("closed")

ALL_ALLOWED = [
    (kind, old, new)
    for kind, table in ALLOWED.items()
    for old, targets in table.items()
    for new in sorted(targets)
]
ALL_REFUSED = [
    (kind, old, new)
    for kind, table in ALLOWED.items()
    for old, targets in table.items()
    for new in STATUSES
    if new not in targets
]


def test_statuses_match_the_schema() -> None:
    assert STATUSES == TICKET_STATUSES


@pytest.mark.parametrize(("kind", "old", "new"), ALL_ALLOWED)
def test_every_allowed_transition_is_accepted(kind: str, old: str, new: str) -> None:
    check_transition(kind, old, new)
    assert new in allowed_next(kind, old)


@pytest.mark.parametrize(("kind", "old", "new"), ALL_REFUSED)
def test_everything_else_is_refused(kind: str, old: str, new: str) -> None:
    with pytest.raises(TransitionRefused) as caught:
        check_transition(kind, old, new)
    message = str(caught.value)
    assert old in message and new in message
    assert caught.value.allowed == allowed_next(kind, old)
    assert set(caught.value.allowed) == ALLOWED[kind][old]
    assert message.endswith(", ".join(caught.value.allowed) or "nothing (it is final)")


def test_every_state_refuses_something() -> None:
    for kind in KINDS:
        for state in STATUSES:
            assert any(k == kind and o == state for k, o, _ in ALL_REFUSED), (kind, state)


def test_kind_specific_refusals_say_why() -> None:
    with pytest.raises(TransitionRefused) as caught:
        check_transition("complaint", "resolved", "closed")
    assert str(caught.value) == (
        "a complaint ticket cannot go from resolved to closed: complaints end with a callback "
        "(callback_done first); from resolved it may go to: in_progress, callback_done"
    )
    with pytest.raises(TransitionRefused, match="only an order can be out_of_area"):
        check_transition("inquiry", "new", "out_of_area")
    with pytest.raises(TransitionRefused, match="only a complaint can be unfounded"):
        check_transition("order", "in_progress", "unfounded")
    with pytest.raises(TransitionRefused, match="the fault ticket is already new"):
        check_transition("fault", "new", "new")
    with pytest.raises(
        TransitionRefused, match=r"from closed it may go to: nothing \(it is final\)"
    ):
        check_transition("other", "closed", "in_progress")


def test_unknown_kind_or_status() -> None:
    with pytest.raises(TransitionRefused, match="unknown ticket kind 'lost'"):
        check_transition("lost", "new", "assigned")
    with pytest.raises(TransitionRefused, match="unknown new status 'done'"):
        check_transition("order", "new", "done")
    with pytest.raises(TransitionRefused, match="unknown current status 'open'"):
        allowed_next("order", "open")


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("new", "assigned", ("first_response_at",)),
        ("new", "resolved", ("first_response_at", "resolved_at")),
        ("new", "out_of_area", ("first_response_at", "resolved_at")),
        ("assigned", "in_progress", ()),
        ("in_progress", "resolved", ("resolved_at",)),
        ("in_progress", "rejected", ("resolved_at",)),
        ("assigned", "unfounded", ("resolved_at",)),
        ("resolved", "callback_done", ("callback_done_at",)),
        ("unfounded", "callback_done", ("callback_done_at",)),
        ("callback_done", "closed", ("closed_at",)),
        ("resolved", "in_progress", ()),
    ],
)
def test_milestones(old: str, new: str, expected: tuple[str, ...]) -> None:
    assert milestones(old, new) == expected
