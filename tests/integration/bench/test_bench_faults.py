"""``hotline bench faults``: the cheap scenarios run for real, short (a dropped events
socket, ARI answering 503, a garbage menu); the expensive ones (PostgreSQL restart,
SIGKILL) are run by the bench command. Each must keep one complete record per call and
recover; the verdict's own rules are checked to fail what they should."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bench.faults import (
    Ari503,
    GarbageMenu,
    WsDrop,
    _failures,
    run_faults,
    run_scenario,
)
from bench.harness import BenchError
from tests.integration.bench.test_bench_load import SMALL
from tests.integration.conftest import make_settings

FAST = replace(SMALL, rate=3.0)


def _site(prompts_dir: Path) -> Any:
    return make_settings("sqlite://", prompts_dir, "http://127.0.0.1:1")


def _show(r: dict[str, Any]) -> str:
    return json.dumps(r, indent=1, ensure_ascii=False)


def _held(r: dict[str, Any]) -> None:
    assert r["verdict"] == "pass", _show(r)
    assert r["failures"] == [], _show(r)
    assert r["records_lost"] == r["records_duplicated"] == 0, _show(r)
    assert r["offered"] > 0 and r["records_settled"], _show(r)


async def test_websocket_dropped_every_few_seconds(
    prompts_dir: Path, built_prompts: object
) -> None:
    r = await run_scenario(_site(prompts_dir), replace(FAST, duration=8.0), WsDrop(interval=3.0))
    _held(r)
    assert r["fault"]["drops"] == 2, _show(r)
    assert r["fault"]["reconnects"] >= 2, _show(r)
    # Every call that reached the controller has its record; those that came in during
    # a reconnect heard the dialplan's apology and are counted apart.
    assert r["records_complete"] + r["calls_turned_away"] == r["offered"], _show(r)


async def test_ari_answering_503(prompts_dir: Path, built_prompts: object) -> None:
    r = await run_scenario(_site(prompts_dir), replace(FAST, duration=12.0), Ari503(seconds=2.0))
    _held(r)
    assert r["fault"]["requests_refused"] > 0, _show(r)
    assert r["calls_after_fault"] > 0, _show(r)
    assert r["calls_after_fault_as_scripted"] == r["calls_after_fault"], _show(r)
    # Failed pings make the controller reconnect: calls in that gap are turned away.
    assert r["records_complete"] + r["calls_turned_away"] == r["offered"], _show(r)


async def test_garbage_menu_is_rejected_and_calls_go_on(
    prompts_dir: Path, built_prompts: object
) -> None:
    r = await run_scenario(_site(prompts_dir), replace(FAST, duration=10.0), GarbageMenu())
    _held(r)
    assert r["fault"]["rejections_logged"] == 1, _show(r)
    assert "menu edit rejected" in r["fault"]["rejection"][0], _show(r)
    # Calls before, during and after the swap all went as scripted on the last good menu.
    assert r["calls_as_scripted"] == r["offered"], _show(r)
    assert 0 < r["calls_after_fault"] == r["calls_after_fault_as_scripted"], _show(r)


def _result(**changes: Any) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "records_lost": 0,
        "records_duplicated": 0,
        "records_settled": True,
        "recovered_from_seconds": 5.0,
        "calls_after_fault": 4,
        "calls_after_fault_as_scripted": 4,
    }
    return {**figures, **changes}


def test_the_verdict_fails_lost_records_and_no_recovery() -> None:
    assert _failures(_result()) == []
    assert _failures(_result(records_duplicated=1)) == ["records lost 0, duplicated 1"]
    assert _failures(_result(calls_after_fault_as_scripted=3)) == [
        "only 3 of 4 calls placed after the fault went as scripted"
    ]
    assert _failures(_result(calls_after_fault=0, calls_after_fault_as_scripted=0)) == [
        "no call was placed after the fault: the load was too short to tell"
    ]
    assert _failures(_result(records_settled=False)) == [
        "records stopped completing before every call had one"
    ]
    # A fault that lasts the whole run has no "after".
    assert _failures(_result(recovered_from_seconds=None, calls_after_fault=0)) == []


async def test_unknown_scenarios_are_refused(prompts_dir: Path) -> None:
    with pytest.raises(BenchError, match="unknown scenario nap"):
        await run_faults(_site(prompts_dir), FAST, ["ws_drop", "nap"])
