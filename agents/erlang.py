"""Erlang C staffing estimate: how many agents a queue needs for its service level.

The model is M/M/n: calls arrive at random (Poisson) at a steady rate, handle times are
exponential, nobody hangs up while waiting. Real callers abandon, so Erlang C errs on
the side of too many agents; that is the usual and accepted bias for a lead's estimate.

Numerics: the textbook formula has ``A**n / n!`` terms that overflow a float beyond
about 170 agents. Erlang B has a recurrence whose every step stays in (0, 1), and
Erlang C follows from it exactly, so any number of agents is safe and costs O(n).

Units: arrivals per hour, handle and wait times in seconds, intensity in Erlangs.
See docs/decisions/0008-erlang-c.md for why this is written here rather than imported.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = [
    "StaffingEstimate",
    "agents_needed",
    "asa",
    "erlang_b",
    "erlang_c",
    "estimate_from_history",
    "service_level",
    "traffic_intensity",
]


@dataclass(frozen=True, slots=True)
class StaffingEstimate:
    """What a queue needs.

    ``agents`` is the head count to put on shift: ``productive_agents`` grossed up for
    shrinkage (breaks, training, leave). ``service_level``, ``asa_seconds`` and
    ``occupancy`` are those expected with ``productive_agents`` on the phones; without
    shrinkage the two counts are equal.
    """

    agents: int
    service_level: float
    asa_seconds: float
    occupancy: float
    intensity: float
    productive_agents: int


def traffic_intensity(arrivals_per_hour: float, aht_seconds: float) -> float:
    """Offered load in Erlangs: the number of agents kept busy on average."""
    _check_non_negative("arrivals_per_hour", arrivals_per_hour)
    _check_non_negative("aht_seconds", aht_seconds)
    return arrivals_per_hour * aht_seconds / 3600.0


def erlang_b(servers: int, intensity: float) -> float:
    """Probability that a call finds all ``servers`` busy when blocked calls are lost."""
    _check_agents(servers)
    _check_non_negative("intensity", intensity)
    b = 1.0
    # B(k) = A·B(k-1) / (k + A·B(k-1)): each step is a ratio of positives below 1.
    for k in range(1, servers + 1):
        b = intensity * b / (k + intensity * b)
    return b


def erlang_c(agents: int, intensity: float) -> float:
    """Probability that a call has to wait (all agents busy, calls queue).

    With ``agents <= intensity`` the queue grows without bound: every call waits (1.0).
    With no traffic nobody waits (0.0).
    """
    _check_agents(agents)
    _check_non_negative("intensity", intensity)
    if intensity == 0:
        return 0.0
    if agents <= intensity:
        return 1.0
    return _c_from_b(agents, intensity, erlang_b(agents, intensity))


def service_level(
    agents: int, intensity: float, aht_seconds: float, target_seconds: float
) -> float:
    """Share of calls answered within ``target_seconds`` (0.0 when the queue is unstable)."""
    _check_non_negative("target_seconds", target_seconds)
    pw = erlang_c(agents, intensity)
    if intensity == 0:
        return 1.0
    if agents <= intensity:
        return 0.0
    _check_positive("aht_seconds", aht_seconds)
    return _sl(pw, agents, intensity, aht_seconds, target_seconds)


def asa(agents: int, intensity: float, aht_seconds: float) -> float:
    """Average speed of answer in seconds over all calls (``inf`` when unstable)."""
    pw = erlang_c(agents, intensity)
    if intensity == 0:
        return 0.0
    if agents <= intensity:
        return math.inf
    _check_positive("aht_seconds", aht_seconds)
    return pw * aht_seconds / (agents - intensity)


def agents_needed(
    arrivals_per_hour: float,
    aht_seconds: float,
    target_seconds: float = 15,
    target_level: float = 0.8,
    max_occupancy: float | None = 0.85,
    shrinkage: float = 0.0,
) -> StaffingEstimate:
    """Fewest agents that answer ``target_level`` of calls within ``target_seconds``.

    ``max_occupancy`` additionally keeps agents from being busy more than that share of
    the time (burn-out guard; ``None`` disables it). ``shrinkage`` is the share of paid
    time not on the phones; the head count is rounded up for it. No traffic needs no one.
    """
    _check_non_negative("arrivals_per_hour", arrivals_per_hour)
    _check_non_negative("target_seconds", target_seconds)
    if not 0.0 <= target_level < 1.0:
        # SL reaches 1 only in the limit, so 1.0 would search forever.
        raise ValueError(f"target_level must be in [0, 1), got {target_level}")
    if max_occupancy is not None and not 0.0 < max_occupancy <= 1.0:
        raise ValueError(f"max_occupancy must be in (0, 1], got {max_occupancy}")
    if not 0.0 <= shrinkage < 1.0:
        raise ValueError(f"shrinkage must be in [0, 1), got {shrinkage}")
    if arrivals_per_hour == 0:
        return StaffingEstimate(0, 1.0, 0.0, 0.0, 0.0, 0)
    _check_positive("aht_seconds", aht_seconds)

    a = traffic_intensity(arrivals_per_hour, aht_seconds)
    # Below this the queue is unstable or over the occupancy cap; no need to test those.
    n = math.floor(a) + 1
    if max_occupancy is not None:
        n = max(n, math.ceil(a / max_occupancy))
        while a / n > max_occupancy:  # guard the float ceil above
            n += 1
    b = erlang_b(n, a)
    while True:
        pw = _c_from_b(n, a, b)
        sl = _sl(pw, n, a, aht_seconds, target_seconds)
        if sl >= target_level:
            break
        n += 1
        b = a * b / (n + a * b)  # continue the Erlang B recurrence instead of restarting
    # The tiny epsilon keeps 2 / (1 - 0.8) = 10.000000000000002 from becoming 11.
    scheduled = math.ceil(n / (1.0 - shrinkage) - 1e-9)
    return StaffingEstimate(
        agents=scheduled,
        service_level=sl,
        asa_seconds=pw * aht_seconds / (n - a),
        occupancy=a / n,
        intensity=a,
        productive_agents=n,
    )


def estimate_from_history(
    arrival_times: Sequence[datetime],
    handle_seconds: Sequence[float],
    window: timedelta,
    now: datetime,
    *,
    target_seconds: float = 15,
    target_level: float = 0.8,
    max_occupancy: float | None = 0.85,
    shrinkage: float = 0.0,
    fallback_aht_seconds: float | None = None,
) -> StaffingEstimate:
    """Estimate from what the queue saw recently.

    The arrival rate is the number of ``arrival_times`` in ``(now - window, now]``
    divided by the window; times outside it are ignored, so callers may pass more.
    ``handle_seconds`` are talk plus wrap-up of recently completed calls (the caller
    picks which); their mean is the handle time.

    No arrival in the window means no load: zero agents needed, whatever the handle
    times. Arrivals but no completed call yet (start of the day) use
    ``fallback_aht_seconds``, typically the queue's configured figure; without one that
    is a ``ValueError``, because guessing a handle time would make up the answer.
    """
    if window <= timedelta(0):
        raise ValueError(f"window must be positive, got {window}")
    start = now - window
    arrivals = sum(1 for t in arrival_times if start < t <= now)
    if arrivals == 0:
        aht = 0.0
    elif handle_seconds:
        for h in handle_seconds:
            _check_non_negative("handle_seconds", h)
        aht = math.fsum(handle_seconds) / len(handle_seconds)
    elif fallback_aht_seconds is not None:
        aht = fallback_aht_seconds
    else:
        raise ValueError("arrivals but no handle times: pass fallback_aht_seconds")
    rate = arrivals * 3600.0 / window.total_seconds()
    return agents_needed(
        rate,
        aht,
        target_seconds=target_seconds,
        target_level=target_level,
        max_occupancy=max_occupancy,
        shrinkage=shrinkage,
    )


def _c_from_b(n: int, a: float, b: float) -> float:
    # Exact identity C = n·B / (n - A·(1 - B)), valid for n > A.
    return n * b / (n - a * (1.0 - b))


def _sl(pw: float, n: int, a: float, aht: float, target: float) -> float:
    # Waits of delayed calls are exponential with rate (n - A) / AHT.
    return 1.0 - pw * math.exp(-(n - a) * target / aht)


def _check_agents(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"agent count must be a non-negative int, got {n!r}")


def _check_non_negative(name: str, value: float) -> None:
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be finite and >= 0, got {value}")


def _check_positive(name: str, value: float) -> None:
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be finite and > 0, got {value}")
