"""Integration fixtures: a real ARI simulator on 127.0.0.1 and controller nodes talking to it.

Prompts are built once per test session with the real TTS engine (espeak-ng), exactly as
``hotline run`` builds them, into a temporary prompts directory that the simulator
serves as its sounds directory.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from hotline.node import ControllerNode
from ivr.prompts.build import system_prompts
from kernel.settings import Settings
from simulator.server import AriSimulator
from ticketdb.engine import make_engine, make_sessionmaker

PASSWORD = secrets.token_urlsafe(12)


@pytest.fixture(scope="session")
def prompts_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("prompts")


def make_settings(db_url: str, prompts_dir: Path, ari_url: str, **ari: Any) -> Settings:
    return Settings.model_validate(
        {
            "node": {"name": "test-node"},
            "ari": {
                "url": ari_url,
                "password": PASSWORD,
                # Fast supervision for tests: reconnects within a second or two.
                "backoff_initial": 0.05,
                "backoff_max": 0.5,
                "ping_interval": 0.5,
                "ping_timeout": 0.5,
                **ari,
            },
            "database": {"url": db_url},
            # Recorded calls go next to the prompts, never into the checkout's recordings/.
            "paths": {
                "prompts_dir": str(prompts_dir),
                "calls_dir": str(prompts_dir.parent / "calls"),
            },
            # Tests run at any hour: no quiet hours for callbacks unless a test sets them.
            "callbacks": {"quiet_hours": []},
            # Timed jobs (dispatch, SLA sweeps …) would race a test's own setup; the
            # scheduler has its own tests.
            "scheduler": {"enabled": False},
            # No /healthz-/metrics listener on the shared port 9090 (tests run side by
            # side); tests of that endpoint start their own on a free port.
            "ops": {"port": 0},
        }
    )


@pytest.fixture(scope="session")
def built_prompts(prompts_dir: Path) -> Any:
    settings = make_settings("sqlite://", prompts_dir, "http://127.0.0.1:1")
    return system_prompts(settings)


@pytest_asyncio.fixture
async def sim(tmp_path: Path, prompts_dir: Path, built_prompts: Any) -> AsyncIterator[AriSimulator]:
    simulator = AriSimulator(
        username="hotline",
        password=PASSWORD,
        sounds_dir=prompts_dir,
        recordings_dir=tmp_path / "sim-recordings",
    )
    await simulator.start(host="127.0.0.1", port=0)
    yield simulator
    await simulator.stop()


NodeFactory = Callable[..., Awaitable[ControllerNode]]


@pytest_asyncio.fixture
async def start_node(
    db_url: str, prompts_dir: Path, built_prompts: Any, sim: AriSimulator
) -> AsyncIterator[NodeFactory]:
    nodes: list[ControllerNode] = []

    async def start(**ari: Any) -> ControllerNode:
        node = ControllerNode(
            make_settings(db_url, prompts_dir, sim.base_url, **ari), built_prompts
        )
        await node.start()
        nodes.append(node)
        await node.wait_connected()
        return node

    yield start
    for node in nodes:
        await node.stop()


async def wait_for(predicate: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
    """Poll a condition until it holds; fail with ``what`` when the deadline passes.

    The default deadline is generous on purpose: a condition that holds returns at once,
    and a busy machine (CI's may be) must not turn a slow pass into a failure."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        await asyncio.sleep(0.02)


@pytest.fixture
def cpu_hog() -> Iterator[int]:
    """Busy processes pinned to every core for the test's duration (a machine loaded by
    something else, as CI's may be); the number of cores hogged."""
    import os
    import subprocess
    import sys

    cores = sorted(os.sched_getaffinity(0))
    spin = "import os, sys; os.sched_setaffinity(0, {int(sys.argv[1])})\nwhile True: pass"
    procs = [subprocess.Popen([sys.executable, "-c", spin, str(core)]) for core in cores]
    try:
        yield len(cores)
    finally:
        for proc in procs:
            proc.kill()
        for proc in procs:
            proc.wait(10)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on this test's migrated database (``db_url``: SQLite and PostgreSQL)."""
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(engine)
