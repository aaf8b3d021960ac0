"""Capped exponential backoff, once for the whole product: ``ceiling`` is the delay
before retry number n, ``Backoff`` a stateful, jittered sequence of them (reconnecting to
Asterisk), ``RetryPolicy`` the delays of a job retried until it is given up (sending
e-mail).

Jitter spreads the retries of several controllers (or of messages that failed together)
so a restarted server is not hit by a synchronised stampede.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field


def ceiling(attempt: int, initial: float, factor: float, maximum: float) -> float:
    """The un-jittered delay before retry number ``attempt`` (0-based)."""
    # Bound the exponent so huge attempt counts never overflow a float.
    return min(maximum, initial * factor ** min(max(attempt, 0), 64))


@dataclass
class Backoff:
    initial: float = 0.5
    maximum: float = 30.0
    factor: float = 2.0
    jitter: float = 0.5  # fraction of the delay that is randomised away (0: none, 1: full)
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def ceiling(self, attempt: int) -> float:
        """The un-jittered delay before retry number ``attempt`` (0-based)."""
        return ceiling(attempt, self.initial, self.factor, self.maximum)

    def next_delay(self) -> float:
        ceiling = self.ceiling(self.attempt)
        self.attempt += 1
        return ceiling * (1.0 - self.jitter * self.rng.random())

    def reset(self) -> None:
        self.attempt = 0


@dataclass(frozen=True)
class RetryPolicy:
    """Delay before attempt n+1 after n failures: min(max, initial · factor^(n-1)) ± the
    jitter share; after ``max_attempts`` failures the job is given up."""

    initial: float
    factor: float
    max: float
    max_attempts: int
    jitter: float = 0.1

    def delay(self, failures: int, rng: Callable[[], float] = random.random) -> float:
        """Seconds to wait after the ``failures``-th failure (1 for the first)."""
        base = ceiling(failures - 1, self.initial, self.factor, self.max)
        return base * (1 + self.jitter * (2 * rng() - 1))
