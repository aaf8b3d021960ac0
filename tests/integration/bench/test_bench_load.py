"""``hotline bench load`` run small: a real ``hotline run`` process, the simulator, callers
of every behaviour and agents' phones.

Timing figures are not checked against thresholds (they depend on the machine); what
must hold on any machine is: every call placed has exactly one complete record, each
record shows what its caller set out to do, and every figure was measured.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from bench.harness import BenchError, parse_metrics, slope_per_hour
from bench.load import (
    DEFAULT_MIX,
    LoadConfig,
    Route,
    menu_routes,
    parse_mix,
    run_load,
    script_for,
)
from ivr.menus.loader import load_menu
from tests.integration.conftest import make_settings

REPO = Path(__file__).parents[3]

# Small and quick: ~10 callers over 4 s, agents who talk for about a second.
SMALL = LoadConfig(
    rate=2.5,
    duration=4.0,
    agents=6,
    handle_time_mean=1.0,
    wrap_up=0.0,
    answer_after=0.2,
    think=0.3,
    patience=3.0,
    drain=40.0,
    seed=7,
)


def test_routes_are_read_from_the_telecom_menu() -> None:
    routes = menu_routes(load_menu(REPO / "menus" / "telecom.yaml", None, None))
    # Language 1 (zh), then: queries → ways to pay (information), faults → callback.
    assert routes.self_service == Route(("1", "1", "2"), "info")
    assert routes.callback == Route(("1", "4", "5"), "callback")
    queues = {r.target: r.keys for r in routes.queues}
    assert queues["mobile"] == ("1", "2", "2")
    assert queues["handling"] == ("1", "3")
    assert queues["complaints"] == ("1", "5", "1")
    assert "vip" not in queues  # a VIP caller's branch, not a general caller's


def test_scripts_and_mix() -> None:
    route = Route(("1", "4", "5"), "callback")
    assert script_for("callback", route, 0.5, 9.0) == (
        "wait for prompt; wait 0.5; press 1; wait for prompt; wait 0.5; press 4; "
        "wait for prompt; wait 0.5; press 5; wait for prompt; wait 0.5; press 1"
    )
    queue = Route(("1", "3"), "handling")
    assert script_for("abandon", queue, 0, 4.25).endswith("press 3; wait 4.2; hang up")
    assert script_for("queue", queue, 0, 1).endswith("press 3")
    assert parse_mix("queue=3,callback=1") == {
        "self_service": 0.0,
        "queue": 0.75,
        "abandon": 0.0,
        "callback": 0.25,
    }
    for bad in ("queue", "dance=1", "queue=-1", "queue=0", "queue=x"):
        with pytest.raises(BenchError):
            parse_mix(bad)


def test_metric_and_slope_helpers() -> None:
    text = (
        "# TYPE hotline_agents gauge\n"
        'hotline_agents{state="available"} 3\nhotline_agents{state="away"} 2\n'
        'h_bucket{le="0.01"} 4\nh_bucket{le="+Inf"} 5\n'
    )
    m = parse_metrics(text)
    assert m["hotline_agents"] == 5 and m["h_bucket:0.01"] == 4 and m["h_bucket:+Inf"] == 5
    assert slope_per_hour([(0, 100.0), (1800, 101.0), (3600, 102.0)]) == pytest.approx(2.0)
    assert slope_per_hour([(0, 1.0)]) is None


async def test_bench_load_small(db_url: str, prompts_dir: Path, built_prompts: object) -> None:
    site = make_settings(db_url, prompts_dir, "http://127.0.0.1:1")
    r = await run_load(site, replace(SMALL, db_url=db_url))
    report = json.dumps({k: v for k, v in r.items() if k != "rss_series_mb"}, indent=1)
    assert r["ok"] is True, report
    assert r["calls_placed"] == r["offered"] > 0, report
    assert r["records_lost"] == 0 and r["records_duplicated"] == 0, report
    assert r["records_complete"] == r["offered"], report
    # Every caller's record shows what they set out to do.
    assert r["calls_as_scripted"] == r["offered"], report
    assert r["calls_forced_off"] == 0 and r["calls_turned_away"] == 0, report
    assert sum(r["behaviours"].values()) == r["offered"]
    counted = sum(
        r[k]
        for k in (
            "answered",
            "abandoned",
            "abandoned_before_queue",
            "self_served",
            "callbacks",
            "refused",
        )
    )
    assert counted == r["offered"], report
    if r["answered"]:
        assert r["service_level"] is not None and 0 <= r["service_level"] <= 1
    # Every figure was measured.
    assert r["event_to_command_count"] > 0 and r["event_to_command_p99_ms"] is not None
    assert r["controller_handling_p99_ms_at_most"] is not None, report
    assert r["ari_requests_per_second"] > 0
    assert r["controller_cpu_percent"] is not None and r["controller_cpu_percent"] > 0
    assert r["db_writes_per_second"] is not None and r["db_writes_per_second"] > 0
    assert r["records_written"] >= r["offered"]
    assert len(r["rss_series_mb"]) >= 3 and r["rss_peak_mb"] >= r["rss_start_mb"] > 10
    assert 1 <= r["peak_concurrent_calls"] <= r["offered"]
    assert r["controller_exit_status"] == 0
    assert r["database"] == db_url.split(":", 1)[0]


def test_bench_load_cli(tmp_path: Path, prompts_dir: Path, built_prompts: object) -> None:
    env = {
        **os.environ,
        "HOTLINE_PATHS_DATA_DIR": str(tmp_path / "var"),
        "HOTLINE_PATHS_PROMPTS_DIR": str(prompts_dir),
    }
    args = ["bench", "load", "--rate", "2", "--duration", "3", "--agents", "4"]
    args += ["--handle-time-mean", "1", "--wrap-up", "0", "--think", "0.3", "--answer-after"]
    args += ["0.2", "--mix", "queue=1", "--json", "--sim-process", "--seed", "3"]
    done = subprocess.run(
        [sys.executable, "-m", "hotline.cli", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    r = json.loads(done.stdout)
    assert r["simulator"] == "separate process"
    assert r["behaviours"] == {"queue": r["offered"]}
    assert r["answered"] == r["records_complete"] == r["offered"] > 0
    assert r["records_lost"] == r["records_duplicated"] == 0
    assert r["command"].startswith("hotline bench load --rate 2 --duration 3 --agents 4")
    assert "--mix self_service=0,queue=1,abandon=0,callback=0" in r["command"]


def test_bench_load_refuses_a_bad_mix(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "hotline.cli", "bench", "load", "--mix", "dance=1"],
        env={**os.environ, "HOTLINE_PATHS_DATA_DIR": str(tmp_path / "var")},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--mix" in done.stderr


def test_default_mix_is_the_issues() -> None:
    assert DEFAULT_MIX == {"self_service": 0.3, "queue": 0.5, "abandon": 0.1, "callback": 0.1}
