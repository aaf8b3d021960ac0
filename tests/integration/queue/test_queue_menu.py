"""From the menu into the queue: a menu's ``queue`` action really enqueues the caller,
with the action's skill, priority and injury flag, and an injury goes first."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from agents.queue_config import load_queues
from hotline.node import ControllerNode
from ivr.menus.live import make_registry
from ivr.prompts.library import PromptLibrary
from kernel.calendar import load_calendars
from simulator.server import AriSimulator
from tests.integration.conftest import make_settings, wait_for
from tests.integration.queue.conftest import QueueNode
from tests.integration.queue.test_queue_calls import away, back

REPO = Path(__file__).parents[3]
MONDAY_10 = datetime.fromisoformat("2026-11-23T10:00:00+08:00")  # the desk is open


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    return sqlite_url


@pytest_asyncio.fixture
async def dairy(
    db_url: str, prompts_dir: Path, built_prompts: Any, sim: AriSimulator
) -> AsyncIterator[QueueNode]:
    settings = make_settings(db_url, prompts_dir, sim.base_url)
    settings = settings.model_validate(
        {
            **settings.model_dump(),
            "paths": {
                **settings.paths.model_dump(),
                "menus_dir": str(REPO / "menus"),
                "queues_file": str(REPO / "config" / "queues.yaml"),
                "calendar_file": str(REPO / "config" / "calendar.yaml"),
            },
            "ivr": {**settings.ivr.model_dump(), "menu": "dairy"},
            "acd": {"poll_interval": 0.1},
        }
    )
    registry = make_registry(settings, PromptLibrary.from_settings(settings))
    registry.load()
    node = ControllerNode(
        settings,
        built_prompts,
        menus=registry,
        calendars=load_calendars(settings.paths.calendar_file),
        caller_tiers=True,
        menu_clock=lambda: MONDAY_10,
        queues=load_queues(settings.paths.queues_file),
    )
    await node.start()
    await node.wait_connected()
    yield QueueNode(node, sim)
    await node.stop()


async def test_menu_complaints_reach_an_agent_and_an_injury_goes_first(
    sim: AriSimulator, dairy: QueueNode
) -> None:
    qn = dairy
    qn.add_agent("8001", skills={"complaints": 2, "quality": 3}, answer_after=0.1, hangup_after=0.3)
    away(qn, "8001")
    # English (2), complaint (2), then product quality (1) or someone was hurt (3).
    route = "wait for prompt; press 2; wait for prompt; press 2; wait for prompt; press {}"
    product = await sim.place_call("6000", "+8613800000071", script=route.format(1))
    await wait_for(lambda: len(qn.entries()) == 1, timeout=30, what="first caller queued")
    hurt = await sim.place_call("6000", "+8613800000072", script=route.format(3))
    await wait_for(lambda: len(qn.entries()) == 2, timeout=30, what="second caller queued")
    entries = {e.channel_id: e for e in qn.entries()}
    assert entries[hurt.channel_id].injury and not entries[product.channel_id].injury
    assert {e.queue for e in entries.values()} == {"quality"}
    back(qn, "8001")
    await wait_for(lambda: qn.complete(hurt.channel_id), timeout=20, what="injury served")
    # The quality queue's wrap-up is a minute; the agent ends it early.
    await wait_for(lambda: qn.seat_state("8001") == "wrap_up", what="wrap-up")
    back(qn, "8001")
    await wait_for(lambda: qn.complete(product.channel_id), timeout=20, what="served")
    first, second = (qn.record(c.channel_id) for c in (hurt, product))
    assert first.agent_answered_at is not None and second.agent_answered_at is not None
    assert first.agent_answered_at < second.agent_answered_at
    # One record per call, with the menu's path and the queue's legs together.
    assert any(e["event"] == "exit" for e in first.menu_path)
    assert [e["event"] for e in first.legs][:3] == ["queue", "offer", "answered"]
    assert first.agent == "8001" and first.queue == "quality"
