"""``hotline bench ivr`` as an operator runs it: a real process, a real simulator.

Timing figures are not checked (they depend on the machine); what must hold whatever
the machine is checked: every call placed completed, took the route it was scripted to
take, and has exactly one complete record.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.ivr import BenchError, routes_for
from ivr.menus.loader import load_menu

REPO = Path(__file__).parents[3]

KEYS = {
    "calls_placed",
    "calls_completed",
    "calls_navigated",
    "concurrency_reached",
    "calls_per_second",
    "dtmf_reactions",
    "dtmf_digits_pressed",
    "dtmf_unanswered_at_hangup",
    "dtmf_to_request_p50_ms",
    "dtmf_to_request_p99_ms",
    "dtmf_to_request_max_ms",
    "controller_cpu_seconds_per_call",
    "cpu_includes_simulator",
    "peak_rss_mb",
    "records_complete",
    "records_lost",
    "records_duplicated",
    "menu_clock",
    "command",
}


@pytest.mark.parametrize("sim_process", [False, True], ids=["in-process", "sim-process"])
def test_bench_ivr_smoke(
    sim_process: bool, tmp_path: Path, prompts_dir: Path, built_prompts: object
) -> None:
    env = {
        **os.environ,
        "HOTLINE_PATHS_DATA_DIR": str(tmp_path / "var"),
        "HOTLINE_PATHS_PROMPTS_DIR": str(prompts_dir),
    }
    args = ["bench", "ivr", "--calls", "6", "--concurrency", "3", "--json"]
    done = subprocess.run(
        [sys.executable, "-m", "hotline.cli", *args, *(["--sim-process"] if sim_process else [])],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert not KEYS - set(result), f"missing: {KEYS - set(result)}"
    assert result["records_lost"] == 0
    assert result["records_duplicated"] == 0
    assert result["calls_placed"] == result["calls_completed"] == 6
    assert result["records_complete"] == 6
    # Every caller got through three levels to the queue it chose.
    assert result["calls_navigated"] == 6
    assert result["hangup_by"] == {"caller": 6}
    assert 1 <= result["concurrency_reached"] <= 3
    assert result["dtmf_reactions"] > 0 and result["dtmf_to_request_p99_ms"] is not None
    assert set(result["reactions_by_cause"]) == {"stasis", "playback", "dtmf"}
    assert result["cpu_includes_simulator"] is (not sim_process)
    assert result["menu_clock"].startswith("2026-11-23T10:00")


def test_routes_through_the_telecom_menu() -> None:
    menu = load_menu(REPO / "menus" / "telecom.yaml", None, None)
    routes = routes_for(menu)
    assert [(r.keys, r.queue) for r in routes] == [
        (("1", "2", "2"), "mobile"),
        (("1", "2", "3"), "broadband"),
        (("1", "2", "4"), "fixed_line"),
    ]
    assert routes[0].script == (
        "wait for prompt; press 1; wait for prompt; press 2; wait for prompt; press 2; "
        "wait for prompt; hang up"
    )


def test_a_menu_without_the_route_is_refused() -> None:
    # dairy: main 2 is the complaint menu, whose options are not queues under 2/3/4.
    with pytest.raises(BenchError, match="dairy"):
        routes_for(load_menu(REPO / "menus" / "dairy.yaml", None, None))
