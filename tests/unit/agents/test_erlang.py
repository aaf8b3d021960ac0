"""Erlang C staffing figures, checked against published examples and an exact reference.

The reference below is the textbook formula in exact rational arithmetic, a different
computation from the Erlang B recurrence the module uses, so agreement is evidence.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.erlang import (
    StaffingEstimate,
    agents_needed,
    asa,
    erlang_b,
    erlang_c,
    estimate_from_history,
    service_level,
    traffic_intensity,
)


def exact_erlang_c(n: int, a: Fraction) -> Fraction:
    """P(wait) = (A^n/n! · n/(n-A)) / (Σ_{k<n} A^k/k! + A^n/n! · n/(n-A)), exactly."""
    top = a**n / math.factorial(n) * Fraction(n) / (n - a)
    return top / (sum(a**k / math.factorial(k) for k in range(n)) + top)


# --- Published worked example -------------------------------------------------------
# The classic Erlang C walkthrough (Call Centre Helper, "How to calculate staffing with
# Erlang C"): 100 calls in 30 minutes, AHT 180 s, target 80 % answered within 20 s.
# Published: intensity 10 Erlangs; 14 agents; P(wait) 17.41 %, SL 88.84 %, ASA 7.8 s,
# occupancy 71.43 %; 13 agents give SL 79.56 %; 30 % shrinkage → 20 agents scheduled.


def test_classic_example_intensity() -> None:
    assert traffic_intensity(200, 180) == pytest.approx(10.0)


def test_classic_example_agents_needed() -> None:
    est = agents_needed(200, 180, target_seconds=20, target_level=0.8, max_occupancy=None)
    assert est.agents == 14
    assert est.productive_agents == 14
    assert est.intensity == pytest.approx(10.0)
    assert est.service_level == pytest.approx(0.8884, abs=5e-5)
    assert est.asa_seconds == pytest.approx(7.84, abs=0.005)
    assert est.occupancy == pytest.approx(10 / 14)
    # 13 is the last count that misses the target: the answer is the fewest, not just enough.
    assert service_level(13, 10.0, 180, 20) == pytest.approx(0.7956, abs=5e-5)


def test_classic_example_probability_of_waiting_matches_exact() -> None:
    for n, published in [(11, 0.6821), (12, 0.4494), (13, 0.2853), (14, 0.1741), (15, 0.1020)]:
        exact = float(exact_erlang_c(n, Fraction(10)))
        assert erlang_c(n, 10.0) == pytest.approx(exact, rel=1e-12)
        assert exact == pytest.approx(published, abs=5e-5)


def test_classic_example_with_shrinkage() -> None:
    est = agents_needed(200, 180, target_seconds=20, max_occupancy=None, shrinkage=0.3)
    assert (est.agents, est.productive_agents) == (20, 14)
    # Shrinkage changes the head count, not what the agents on the phones achieve.
    assert est.service_level == pytest.approx(0.8884, abs=5e-5)
    # 3 / (1 - 0.8) is 15.000000000000002 in floats; the head count must still be 15.
    small = agents_needed(20, 180, target_seconds=20, max_occupancy=None, shrinkage=0.8)
    assert (small.agents, small.productive_agents) == (15, 3)


def test_occupancy_cap_adds_agents() -> None:
    # 14 agents are 71 % busy; a 70 % cap needs ceil(10 / 0.7) = 15.
    est = agents_needed(200, 180, target_seconds=20, max_occupancy=0.70)
    assert est.agents == 15
    assert est.occupancy <= 0.70
    assert agents_needed(200, 180, target_seconds=20).agents == 14  # default 0.85 doesn't bind


@pytest.mark.parametrize(
    ("servers", "erlangs"),
    # Published Erlang B table, 1 % grade of service (offered traffic per trunk count).
    [(5, 1.361), (10, 4.461), (20, 12.031), (50, 37.901), (100, 84.064)],
)
def test_erlang_b_matches_published_table(servers: int, erlangs: float) -> None:
    assert erlang_b(servers, erlangs) == pytest.approx(0.01, abs=1e-5)


# --- Agreement with the exact formula -------------------------------------------------

intensities = st.fractions(min_value=Fraction(1, 100), max_value=40, max_denominator=100)


@given(a=intensities, extra=st.integers(min_value=1, max_value=20))
def test_erlang_c_matches_exact_formula(a: Fraction, extra: int) -> None:
    n = math.floor(a) + extra  # always > a: the stable region
    assert erlang_c(n, float(a)) == pytest.approx(float(exact_erlang_c(n, a)), rel=1e-9)


def test_large_agent_count_is_finite_exact_and_fast() -> None:
    # 500! overflows a float; the exact reference uses big integers.
    exact = float(exact_erlang_c(500, Fraction(480)))
    started = time.perf_counter()
    pw = erlang_c(500, 480.0)
    est = agents_needed(480 * 3600 / 180, 180, target_seconds=15, max_occupancy=None)
    elapsed = time.perf_counter() - started
    assert pw == pytest.approx(exact, rel=1e-9)
    assert 0.0 < pw < 1.0
    assert 480 < est.agents < 600
    assert math.isfinite(est.asa_seconds)
    assert service_level(est.agents, 480.0, 180, 15) >= 0.8
    assert service_level(est.agents - 1, 480.0, 180, 15) < 0.8
    assert elapsed < 1.0  # milliseconds in practice; generous for a loaded CI machine


# --- Properties ------------------------------------------------------------------------

aht_s = st.floats(min_value=5, max_value=3600)
target_s = st.floats(min_value=0, max_value=600)


@given(a=st.floats(min_value=0.01, max_value=300), aht=aht_s, target=target_s)
@settings(max_examples=200)
def test_more_agents_never_worse(a: float, aht: float, target: float) -> None:
    n = math.floor(a) + 1
    for m in range(n, n + 10):
        assert erlang_c(m + 1, a) <= erlang_c(m, a)
        assert service_level(m + 1, a, aht, target) >= service_level(m, a, aht, target)
        assert asa(m + 1, a, aht) <= asa(m, a, aht)
        assert 0.0 <= erlang_b(m, a) <= erlang_c(m, a) <= 1.0  # queueing waits ≥ loss blocks


@given(
    rate=st.floats(min_value=1, max_value=5000),
    aht=aht_s,
    target=st.floats(min_value=0, max_value=120),
    level=st.floats(min_value=0.5, max_value=0.99),
    occ=st.one_of(st.none(), st.floats(min_value=0.5, max_value=1.0)),
)
@settings(max_examples=200)
def test_agents_needed_is_the_fewest_that_meet_every_target(
    rate: float, aht: float, target: float, level: float, occ: float | None
) -> None:
    est = agents_needed(rate, aht, target, level, occ)
    a = traffic_intensity(rate, aht)
    n = est.agents

    def meets(m: int) -> bool:
        ok = m > a and service_level(m, a, aht, target) >= level
        return ok and (occ is None or a / m <= occ)

    assert meets(n)
    assert not meets(n - 1)
    assert est.service_level == pytest.approx(service_level(n, a, aht, target))
    assert est.asa_seconds == pytest.approx(asa(n, a, aht))


@given(
    rate=st.floats(min_value=1, max_value=2000),
    more=st.floats(min_value=0, max_value=500),
    aht=aht_s,
)
def test_more_calls_never_need_fewer_agents(rate: float, more: float, aht: float) -> None:
    assert agents_needed(rate + more, aht).agents >= agents_needed(rate, aht).agents


# --- Edge cases ------------------------------------------------------------------------


@pytest.mark.parametrize(("agents", "intensity"), [(0, 3.0), (5, 5.0), (5, 7.5), (10, 10.0)])
def test_too_few_agents_means_everyone_waits(agents: int, intensity: float) -> None:
    assert erlang_c(agents, intensity) == 1.0
    assert service_level(agents, intensity, 180, 20) == 0.0
    assert asa(agents, intensity, 180) == math.inf


def test_no_traffic() -> None:
    assert erlang_c(3, 0.0) == 0.0
    assert service_level(0, 0.0, 180, 20) == 1.0
    assert asa(0, 0.0, 180) == 0.0
    assert agents_needed(0, 180) == StaffingEstimate(0, 1.0, 0.0, 0.0, 0.0, 0)


def test_zero_target_seconds_is_one_minus_probability_of_waiting() -> None:
    assert service_level(14, 10.0, 180, 0) == pytest.approx(1 - erlang_c(14, 10.0))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"arrivals_per_hour": -1, "aht_seconds": 180},
        {"arrivals_per_hour": 10, "aht_seconds": 0},
        {"arrivals_per_hour": 10, "aht_seconds": math.nan},
        {"arrivals_per_hour": 10, "aht_seconds": 180, "target_level": 1.0},
        {"arrivals_per_hour": 10, "aht_seconds": 180, "max_occupancy": 0.0},
        {"arrivals_per_hour": 10, "aht_seconds": 180, "shrinkage": 1.0},
        {"arrivals_per_hour": 10, "aht_seconds": 180, "target_seconds": -1},
    ],
)
def test_agents_needed_rejects_bad_input(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        agents_needed(**kwargs)


def test_agent_count_must_be_a_non_negative_int() -> None:
    with pytest.raises(ValueError):
        erlang_c(-1, 1.0)
    with pytest.raises(ValueError):
        erlang_c(2.5, 1.0)  # type: ignore[arg-type]


# --- From history ----------------------------------------------------------------------

NOW = datetime(2025, 3, 4, 10, 30, tzinfo=UTC)


def test_history_gives_the_classic_example() -> None:
    # 100 calls spread over the last 30 minutes, plus calls outside the window that
    # must not count (too old, exactly at the window's start, in the future).
    arrivals = [NOW - timedelta(seconds=18 * i) for i in range(100)]
    arrivals += [NOW - timedelta(minutes=45), NOW - timedelta(minutes=30), NOW + timedelta(1)]
    est = estimate_from_history(
        arrivals,
        [120.0, 240.0, 180.0],
        timedelta(minutes=30),
        NOW,
        target_seconds=20,
        max_occupancy=None,
    )
    assert est.intensity == pytest.approx(10.0)
    assert est.agents == 14


def test_empty_history_needs_no_agents() -> None:
    est = estimate_from_history([], [], timedelta(minutes=30), NOW)
    assert est.agents == 0
    assert est.service_level == 1.0
    # Old arrivals only: still no current load, even with handle times known.
    old = [NOW - timedelta(hours=2)]
    assert estimate_from_history(old, [300.0], timedelta(minutes=30), NOW).agents == 0


def test_arrivals_without_handle_times_use_the_fallback() -> None:
    arrivals = [NOW - timedelta(seconds=18 * i) for i in range(100)]
    with pytest.raises(ValueError, match="fallback_aht_seconds"):
        estimate_from_history(arrivals, [], timedelta(minutes=30), NOW)
    est = estimate_from_history(
        arrivals, [], timedelta(minutes=30), NOW, target_seconds=20, fallback_aht_seconds=180
    )
    assert est.agents == 14


def test_history_rejects_empty_window_and_negative_handle_times() -> None:
    with pytest.raises(ValueError):
        estimate_from_history([NOW], [60.0], timedelta(0), NOW)
    with pytest.raises(ValueError):
        estimate_from_history([NOW], [-5.0], timedelta(minutes=5), NOW)
