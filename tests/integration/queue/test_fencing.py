"""Fencing: a controller frozen (SIGSTOP) for twice ``node_dead_after`` while its agents
talk, then resumed. Its peer takes it for dead and buries it, but must not ring the agents
its calls hold (its Asterisk still carries them); the frozen node, once resumed, finds it
was buried, rejoins as a new generation and finishes its calls. No agent's phone ever
carries two answered calls, and every call ends with one complete record.
"""

from __future__ import annotations

import asyncio
import itertools
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select

from simulator.server import AriSimulator
from tests.integration.child import ChildController, settings_env
from tests.integration.conftest import wait_for
from tests.integration.queue.conftest import QueueNodeFactory, catalog
from tests.integration.queue.test_multi_node import agent_legs
from ticketdb.engine import make_engine, make_sessionmaker
from ticketdb.models import Call, ControllerNode

REPO = Path(__file__).resolve().parents[3]
DEAD_AFTER = 2.0
TALK_ON_A = 15.0  # the frozen node's agents are still talking when it resumes
QUEUES = {"sales": {"ring_timeout": 5, "wrap_up_seconds": 0, "announce_interval": 0}}
MENU = """
menu: fence
languages: [zh, en]
default_language: zh
start: entry
defaults: {operator_queue: sales}
nodes:
  entry:
    type: branch
    rules: []
    else: {queue: sales}
"""
AGENTS = ("8001", "8002", "8003")


@pytest.fixture
def db_url(pg_url: str) -> str:
    return pg_url


@pytest.fixture
def node_a(
    sim: AriSimulator, db_url: str, prompts_dir: Path, built_prompts: Any, tmp_path: Path
) -> Iterator[ChildController]:
    """Node A: ``hotline run`` in a process of its own, so that it can be frozen."""
    menus = tmp_path / "menus"
    menus.mkdir()
    (menus / "fence.yaml").write_text(MENU, encoding="utf-8")
    queues = tmp_path / "queues.yaml"
    queues.write_text(
        yaml.safe_dump({"skills": ["general"], "queues": {
            name: {"skills": ["general"], **settings} for name, settings in QUEUES.items()
        }}),
        encoding="utf-8",
    )  # fmt: skip
    child = ChildController(
        sim,
        db_url,
        prompts_dir,
        tmp_path / "node-a.log",
        "node-a",
        **settings_env(
            {
                "ops.port": 0,
                "scheduler.enabled": "false",
                "paths.menus_dir": menus,
                "paths.queues_file": queues,
                "paths.shifts_file": tmp_path / "no-shifts.yaml",
                "ivr.menu": "fence",
                "acd.poll_interval": 0.1,
                "acd.heartbeat_interval": 0.2,
                "acd.node_dead_after": DEAD_AFTER,
            }
        ),
    )
    yield child
    child.stop()
    print(child.tail())


def count(db_url: str, query: Any) -> int:
    engine = make_engine(db_url)
    try:
        with make_sessionmaker(engine)() as s:
            return int(s.scalar(query) or 0)
    finally:
        engine.dispose()


async def test_a_frozen_node_keeps_its_agents_and_rejoins_when_it_thaws(
    sim: AriSimulator,
    sim_b: AriSimulator,
    queue_node: QueueNodeFactory,
    node_a: ChildController,
    db_url: str,
) -> None:
    b = await queue_node(
        catalog(**QUEUES), simulator=sim_b, name="node-b", node_dead_after=DEAD_AFTER
    )
    for staff in AGENTS:
        # One phone per agent, reachable from both Asterisks: long talks on node A's.
        b.add_agent(staff, answer_after=0.1, hangup_after=1.0)
        sim.set_phone(f"PJSIP/{staff}", answer_after=0.1, hangup_after=TALK_ON_A)
    node_a.start()
    await wait_for(lambda: "hotline" in sim.connected_apps, timeout=60, what="node A up")
    on_a = [await sim.place_call("6000", f"+861390000000{n}") for n in range(3)]
    await wait_for(
        lambda: all(b.seat_state(s) == "on_call" for s in AGENTS),
        timeout=30,
        what="every agent talking on node A",
    )
    generation = select(ControllerNode.generation).where(ControllerNode.name == "node-a")
    first = count(db_url, generation)

    node_a.signal(signal.SIGSTOP)
    acd_b = b.node.acd
    assert acd_b is not None
    on_b = [await sim_b.place_call("6000", f"+861390000001{n}") for n in range(3)]
    await wait_for(lambda: acd_b.stats.nodes_buried >= 1, timeout=30, what="node B buries node A")
    # Frozen for twice node_dead_after (buried after one); B's callers wait: nobody free.
    await asyncio.sleep(DEAD_AFTER)
    assert all(b.seat_state(s) == "on_call" for s in AGENTS)
    assert not any("~a" in ch.id for ch in sim_b.engine.channels_seen)  # nobody rung on B
    node_a.signal(signal.SIGCONT)

    # A finds it was buried, rejoins as a new generation, and its calls go on to the end.
    await wait_for(lambda: count(db_url, generation) > first, timeout=30, what="A rejoined")
    calls = [*on_a, *on_b]
    await wait_for(
        lambda: all(c.channel.hungup for c in calls), timeout=120, what="every caller served"
    )
    finished = select(func.count()).select_from(Call).where(Call.ended_at.is_not(None))
    await wait_for(lambda: count(db_url, finished) == 6, timeout=60, what="six complete records")
    served = select(func.count()).select_from(Call).where(Call.agent.is_not(None))
    assert count(db_url, served) == 6  # every caller reached an agent
    for endpoint, intervals in agent_legs(sim, sim_b).items():
        intervals.sort()
        for (_, end), (start, _) in itertools.pairwise(intervals):
            assert start >= end, f"{endpoint} had two calls at once"
