"""One service level everywhere: the wallboard's day, the lead's rolling window and the
reports divide the same way."""

from __future__ import annotations

from agents.service_level import service_level


def test_on_time_over_answered_and_none_before_any_answer() -> None:
    assert service_level(3, 4) == 0.75
    assert service_level(0, 2) == 0.0
    assert service_level(0, 0) is None
