"""Queue-engine fixtures: controller nodes with the queue engine against the simulator,
agents whose phones are simulated endpoints, and a database to look into.

Callers reach the queue straight away (``ivr.queue.direct.DirectToQueue``), so each
test is about the queue; one test goes through a real menu.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.orm import Session

from agents import seat_store
from agents.queue_config import QueueCatalog, QueueConfig
from agents.shifts import ShiftConfig
from hotline.node import ControllerNode
from ivr.queue.direct import DirectToQueue
from simulator.server import AriSimulator
from tests.integration.conftest import PASSWORD, make_settings
from ticketdb.engine import make_sessionmaker
from ticketdb.models import Call, QueueEntry, SeatStateChange


def catalog(**queues: dict[str, Any]) -> QueueCatalog:
    """Queues with test-friendly timers; each keyword is a queue and its settings."""
    configs: dict[str, QueueConfig] = {}
    for name, settings in queues.items():
        merged: dict[str, Any] = {
            "skills": frozenset({"general"}),
            "ring_timeout": 2,
            "wrap_up_seconds": 1,
            "announce_interval": 0,
            "max_wait": 120,
            **settings,
        }
        merged["skills"] = frozenset(merged["skills"])
        configs[name] = QueueConfig(name, **merged)
    skills = frozenset().union(*(c.skills for c in configs.values()))
    return QueueCatalog({n: c.skills for n, c in configs.items()}, skills, configs)


@dataclass
class QueueNode:
    node: ControllerNode
    sim: AriSimulator

    def session(self) -> Session:
        return make_sessionmaker(self.node.engine)()

    def records(self) -> list[Call]:
        with self.session() as s:
            return list(s.scalars(select(Call).order_by(Call.id)))

    def record(self, channel_id: str) -> Call:
        (rec,) = [r for r in self.records() if r.channel_id == channel_id]
        return rec

    def complete(self, channel_id: str) -> bool:
        return any(r.is_complete for r in self.records() if r.channel_id == channel_id)

    def entries(self) -> list[QueueEntry]:
        with self.session() as s:
            return list(s.scalars(select(QueueEntry).order_by(QueueEntry.id)))

    def queued(self, channel_id: str) -> bool:
        """The call waits in the global queue (as this node's)."""
        name = self.node.settings.node.name
        return any(
            e.node == name and e.channel_id == channel_id and e.status == "waiting"
            for e in self.entries()
        )

    def seat_state(self, staff: str) -> str:
        with self.session() as s:
            agent = seat_store.agent_by_staff_number(s, staff)
            assert agent is not None
            return seat_store.get_seat(s, agent.id).state

    def history(self, staff: str) -> list[SeatStateChange]:
        with self.session() as s:
            agent = seat_store.agent_by_staff_number(s, staff)
            assert agent is not None
            return seat_store.history(s, agent.id)

    def add_agent(
        self,
        staff: str,
        *,
        skills: Mapping[str, int] | None = None,
        answer_after: float | None = 0.2,
        hangup_after: float | None = None,
        busy: bool = False,
        login: bool = True,
        role: str = "agent",
        team: str = "hotline",
    ) -> int:
        endpoint = f"PJSIP/{staff}"
        self.sim.set_phone(endpoint, answer_after, busy=busy, hangup_after=hangup_after)
        with self.session() as s:
            agent = seat_store.add_agent(
                s,
                staff_number=staff,
                name=f"Agent {staff}",
                endpoint=endpoint,
                role=role,
                team=team,
                skills=skills or {"general": 3},
            )
            if login:
                seat_store.set_state(
                    s, agent_id=agent.id, to_state="available", by=staff, now=datetime.now(UTC)
                )
            return agent.id

    def login(self, staff: str) -> None:
        with self.session() as s:
            agent = seat_store.agent_by_staff_number(s, staff)
            assert agent is not None
            seat_store.set_state(
                s, agent_id=agent.id, to_state="available", by=staff, now=datetime.now(UTC)
            )


QueueNodeFactory = Callable[..., Awaitable[QueueNode]]


@pytest_asyncio.fixture
async def sim_b(
    tmp_path: Path, prompts_dir: Path, built_prompts: Any
) -> AsyncIterator[AriSimulator]:
    """A second Asterisk, for a second controller node (several nodes, one database)."""
    simulator = AriSimulator(
        username="hotline",
        password=PASSWORD,
        sounds_dir=prompts_dir,
        recordings_dir=tmp_path / "sim-b-recordings",
    )
    await simulator.start(host="127.0.0.1", port=0)
    yield simulator
    await simulator.stop()


@pytest_asyncio.fixture
async def queue_node(
    db_url: str, prompts_dir: Path, built_prompts: Any, sim: AriSimulator
) -> AsyncIterator[QueueNodeFactory]:
    nodes: list[ControllerNode] = []

    async def start(
        queues: QueueCatalog | None = None,
        request: Mapping[str, object] | None = None,
        shifts: ShiftConfig | None = None,
        simulator: AriSimulator | None = None,
        name: str = "test-node",
        **acd: Any,
    ) -> QueueNode:
        simulator = simulator or sim
        settings = make_settings(db_url, prompts_dir, simulator.base_url)
        settings = settings.model_validate(
            {
                **settings.model_dump(),
                "node": {"name": name},
                "acd": {
                    "poll_interval": 0.1,
                    "heartbeat_interval": 0.2,
                    "callback_endpoint": "PJSIP/{number}@trunk",
                    **acd,
                },
            }
        )
        wanted = dict(request or {"queue": "sales"})
        node = ControllerNode(
            settings,
            built_prompts,
            service_factory=lambda: DirectToQueue(wanted),
            queues=queues or catalog(sales={}),
            shifts=shifts,
            caller_tiers=True,
        )
        await node.start()
        nodes.append(node)
        await node.wait_connected()
        return QueueNode(node, simulator)

    yield start
    for node in nodes:
        await node.stop()
