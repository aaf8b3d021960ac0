"""``hotline bench soak`` run short: the controller's idle figures before and after are
read from the real process (tasks from its /metrics, fds from /proc), and the verdict's
rules fail what they should."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.soak import MAX_FD_GROWTH, MAX_TASK_GROWTH, failures, run_soak
from tests.integration.bench.test_bench_load import SMALL
from tests.integration.conftest import make_settings


async def test_bench_soak_short(sqlite_url: str, prompts_dir: Path, built_prompts: object) -> None:
    site = make_settings(sqlite_url, prompts_dir, "http://127.0.0.1:1")
    # A few seconds: the RSS slope of so short a run means nothing, so no limit on it here.
    r = await run_soak(site, replace(SMALL, duration=5.0), warm_up=3.0, max_rss_slope=1e9)
    before, after = r["idle_before"], r["idle_after"]
    for reading in (before, after):
        assert reading["asyncio_tasks"] is not None and reading["asyncio_tasks"] > 3, r
        assert reading["open_fds"] is not None and reading["open_fds"] > 3, r
        assert reading["rss_mb"] is not None and reading["rss_mb"] > 10, r
    # Calls come and go; the controller idles with what it had before.
    assert r["asyncio_tasks_growth"] <= MAX_TASK_GROWTH, r
    assert r["open_fds_growth"] <= MAX_FD_GROWTH, r
    assert r["rss_slope_mb_per_hour"] is not None and r["rss_steady_samples"] >= 3, r
    assert r["records_lost"] == r["records_duplicated"] == 0, r
    assert r["calls_placed"] > 0 and r["calls_as_scripted"] == r["calls_placed"], r
    assert r["verdict"] == "pass" and r["failures"] == [], r


def _figures(**changes: Any) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "rss_slope_mb_per_hour": 3.0,
        "asyncio_tasks_growth": 0.0,
        "open_fds_growth": 1.0,
        "records_lost": 0,
        "records_duplicated": 0,
        "place_errors": 0,
        "thresholds": {
            "max_rss_slope_mb_per_hour": 20.0,
            "max_task_growth": MAX_TASK_GROWTH,
            "max_fd_growth": MAX_FD_GROWTH,
        },
    }
    return {**figures, **changes}


def test_the_verdict_fails_leaks_and_lost_records() -> None:
    assert failures(_figures()) == []
    assert failures(_figures(rss_slope_mb_per_hour=45.5)) == ["RSS grows 45.5 MB/hour (limit 20)"]
    assert failures(_figures(asyncio_tasks_growth=MAX_TASK_GROWTH + 1.0)) == [
        f"asyncio tasks: +{MAX_TASK_GROWTH + 1} idle after vs before (limit +{MAX_TASK_GROWTH})"
    ]
    assert failures(_figures(open_fds_growth=None)) == ["open fds: not readable"]
    assert failures(_figures(records_lost=1)) == ["records lost 1, duplicated 0"]
    assert failures(_figures(rss_slope_mb_per_hour=None)) == [
        "no RSS slope (fewer than two samples)"
    ]
