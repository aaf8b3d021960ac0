"""Reconnect backoff: exponential, capped, jittered downwards, reset on demand."""

from __future__ import annotations

import random

import pytest

from kernel.backoff import Backoff, RetryPolicy, ceiling


def test_without_jitter_the_schedule_doubles_up_to_the_cap() -> None:
    b = Backoff(initial=0.5, maximum=30.0, factor=2.0, jitter=0.0)
    assert [b.next_delay() for _ in range(9)] == [0.5, 1, 2, 4, 8, 16, 30, 30, 30]


def test_jitter_stays_within_its_band_and_varies() -> None:
    b = Backoff(initial=1.0, maximum=8.0, factor=2.0, jitter=0.5, rng=random.Random(7))
    delays = [b.next_delay() for _ in range(200)]
    for attempt, delay in enumerate(delays):
        ceiling = min(8.0, 2.0**attempt)
        assert ceiling * 0.5 <= delay <= ceiling
    capped = delays[10:]
    assert len({round(d, 6) for d in capped}) > 50  # really random, not a constant


def test_reset_starts_from_the_bottom_again() -> None:
    b = Backoff(initial=0.05, maximum=0.5, jitter=0.0)
    for _ in range(6):
        b.next_delay()
    assert b.next_delay() == 0.5
    b.reset()
    assert b.next_delay() == pytest.approx(0.05)


def test_huge_attempt_counts_do_not_overflow() -> None:
    b = Backoff(initial=0.5, maximum=30.0, jitter=0.0, attempt=10_000)
    assert b.next_delay() == 30.0


def test_a_retry_policy_grows_to_its_cap_with_symmetric_jitter() -> None:
    policy = RetryPolicy(initial=30, factor=2, max=100, max_attempts=4)
    assert [policy.delay(n, lambda: 0.5) for n in (1, 2, 3, 4)] == [30, 60, 100, 100]
    assert policy.delay(1, lambda: 0.0) == pytest.approx(27)  # -10 %
    assert policy.delay(1, lambda: 1.0) == pytest.approx(33)  # +10 %
    assert ceiling(10_000, 0.5, 2.0, 30.0) == 30.0  # no overflow
