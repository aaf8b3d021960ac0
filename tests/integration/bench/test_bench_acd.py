"""``hotline bench acd`` run small: the invariants and the figures' presence and sense.

Timing figures are not checked against thresholds (they depend on the machine); what
must hold on any machine is checked: every caller served once with a complete record
naming an agent, every offer matched by exactly one agent leg, no agent given two calls.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.acd import (
    AcdBenchResult,
    Latency,
    _analyse,
    _Change,
    _Leg,
    format_table,
    run_acd_bench,
)
from tests.integration.conftest import make_settings

REPO = Path(__file__).parents[3]


def assert_invariants(r: AcdBenchResult, callers: int) -> None:
    report = r.format_report()
    assert r.calls_placed == r.waiting_at_start == callers, report
    assert r.records_complete == r.records_with_agent == callers, report
    assert r.records_duplicated == 0, report
    assert r.double_rings == 0 and r.overlapping_legs == 0, report
    assert r.offers_without_leg == 0 and r.legs_without_offer == 0, report
    assert not r.stalled, report
    assert r.ok, report


async def test_bench_acd_small(db_url: str, prompts_dir: Path, built_prompts: object) -> None:
    settings = make_settings(db_url, prompts_dir, "http://127.0.0.1:1")
    r = await run_acd_bench(5, 40, db_url, talk_seconds=0.1, settings=settings)
    assert_invariants(r, 40)
    # At least one offer per caller (more when an agent hung up before being bridged and
    # the caller went back in line): the engine's count, the seats' history and the
    # simulator's legs agree. Each agent's first offer follows their return.
    report = r.format_report()
    assert r.offers == r.agent_legs == r.latency.count >= 40, report
    assert r.latency_after_return.count == 5, report
    assert r.latency_after_call.count == r.offers - 5, report
    assert r.lost_claims == 0, report  # one node: nobody else claims its agents
    # Figures present and in order.
    assert r.decisions_per_second is not None and r.decisions_per_second > 0
    assert r.offers_span_seconds is not None and r.offers_span_seconds > 0
    assert r.first_wave_seconds is not None and 0 < r.first_wave_seconds < r.wall_seconds
    for lat in (r.latency, r.latency_after_return, r.latency_after_call):
        assert lat.p50_ms is not None and lat.p95_ms is not None and lat.p99_ms is not None
        assert lat.max_ms is not None
        assert 0 < lat.p50_ms <= lat.p95_ms <= lat.p99_ms <= lat.max_ms
    # Each agent served about callers / agents calls of at least the talk time each.
    assert r.wall_seconds > (40 / 5) * 0.1
    assert r.passes > 0 and r.pass_p50_ms is not None and r.pass_p99_ms is not None
    assert r.pass_p50_ms <= r.pass_p99_ms
    assert r.loop_lag.count > 0 and r.loop_lag.p99_ms is not None
    assert r.database == db_url.split(":", 1)[0]
    data = r.as_json()
    assert data["ok"] is True and data["latency"]["count"] == r.offers
    table = format_table([r])
    assert table.count("\n") == 2 and "hotline bench acd --agents 5 --callers 40" in table


def test_bench_acd_cli_json(tmp_path: Path, prompts_dir: Path, built_prompts: object) -> None:
    env = {
        **os.environ,
        "HOTLINE_PATHS_DATA_DIR": str(tmp_path / "var"),
        "HOTLINE_PATHS_PROMPTS_DIR": str(prompts_dir),
    }
    args = ["bench", "acd", "--agents", "2", "--callers", "6", "--talk", "0.1", "--json"]
    done = subprocess.run(
        [sys.executable, "-m", "hotline.cli", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["ok"] is True
    assert result["command"] == "hotline bench acd --agents 2 --callers 6 --talk 0.1"
    assert result["agents"] == 2 and result["callers"] == 6
    assert result["calls_placed"] == result["records_complete"] == 6
    assert result["records_with_agent"] == 6
    assert result["double_rings"] == result["overlapping_legs"] == 0
    assert result["offers"] == result["agent_legs"] == result["latency"]["count"] >= 6
    assert result["latency"]["p99_ms"] >= result["latency"]["p50_ms"] > 0
    assert result["decisions_per_second"] > 0


def test_bench_acd_refuses_an_empty_run(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "hotline.cli", "bench", "acd", "--agents", "0", "--json"],
        env={**os.environ, "HOTLINE_PATHS_DATA_DIR": str(tmp_path / "var")},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "at least 1" in done.stderr


def test_analysis_finds_double_assignments_and_unmatched_offers() -> None:
    """The checks themselves: a seat rung while on a call, two legs to one phone at once,
    a leg nobody was offered, and the latency from availability to the leg."""
    t0 = datetime(2026, 1, 1, tzinfo=UTC)

    def at(s: float) -> datetime:
        return t0 + timedelta(seconds=s)

    changes = [
        _Change(1, 1, "available", at(0), "90000"),
        _Change(2, 1, "ringing", at(1), "system"),
        _Change(3, 1, "on_call", at(2), "system"),
        _Change(4, 1, "ringing", at(3), "system"),  # rung while on a call
        _Change(5, 2, "available", at(0), "90001"),
        _Change(6, 2, "ringing", at(0.5), "system"),
    ]
    endpoints = {1: "PJSIP/90000", 2: "PJSIP/90001"}
    legs = [
        _Leg("PJSIP/90000", at(1.25), 1.25, 10.0),
        _Leg("PJSIP/90000", at(3.5), 3.5, 11.0),  # the first leg is still up
        _Leg("PJSIP/90001", at(0.75), 0.75, 2.0),
        _Leg("PJSIP/90001", at(4.0), 4.0, 5.0),  # no offer for it
    ]
    # Otherwise a good run: what makes it fail is what the analysis finds.
    r = AcdBenchResult(2, 2, 0.5, "sqlite", 0.5, "", waiting_at_start=2, calls_placed=2)
    r.records_complete = r.records_with_agent = 2
    assert r.ok
    _analyse(r, changes, endpoints, legs, returned_at=at(0))
    assert r.double_rings == 1
    assert r.overlapping_legs == 1
    assert r.legs_without_offer == 1 and r.offers_without_leg == 0
    assert not r.ok
    # From the row before each ring to its leg: the agents' returns, and the bad ring.
    assert r.latency_after_return == Latency.of([1.25, 0.75])
    assert r.latency_after_call == Latency.of([1.5])
    assert r.first_wave_seconds == 1.25
