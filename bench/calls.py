"""Call-path benchmark: a controller node against the ARI simulator in its own process.

Calls arrive at a fixed rate; each caller waits for the greeting, listens a moment and
hangs up. Measured:

* event-to-command latency, as Asterisk sees it (the simulator times each event the
  controller must act on — StasisStart, PlaybackFinished — to the controller's next
  request on that channel): p50 / p99;
* the controller's own CPU per call (this process; the simulator runs in another);
* the invariant: every call has exactly one complete record.
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import func, select

from hotline.node import ControllerNode
from ivr.prompts.build import system_prompts
from kernel.settings import Settings
from ticketdb.engine import make_sessionmaker
from ticketdb.models import Call

SCRIPT = "wait for prompt; wait 1; hang up"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _wait_ping(session: aiohttp.ClientSession, url: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            async with session.get(f"{url}/ari/asterisk/ping") as r:
                if r.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("simulator did not come up")
        await asyncio.sleep(0.1)


def _fresh_pg_schema(url: str) -> tuple[str, str]:
    """A new schema per run, so each run counts only its own records."""
    import sqlalchemy as sa

    schema = f"bench_{secrets.token_hex(4)}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}", schema


def _drop_pg_schema(url: str, schema: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


async def run(calls: int, rate: float, db_url: str | None = None) -> dict[str, Any]:
    if db_url is not None and db_url.startswith("postgresql"):
        scoped, schema = _fresh_pg_schema(db_url)
        try:
            return await _run(calls, rate, scoped)
        finally:
            _drop_pg_schema(db_url, schema)
    return await _run(calls, rate, db_url)


async def _run(calls: int, rate: float, db_url: str | None = None) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="hotline-bench-"))
    password = secrets.token_urlsafe(12)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings.model_validate(
        {
            "node": {"name": "bench"},
            "ari": {"url": base, "password": password, "max_connections": 64},
            "database": {"url": db_url or f"sqlite:///{work / 'bench.sqlite3'}"},
        }
    )
    prompts = system_prompts(settings)
    sim = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hotline.cli",
        "simulate",
        "--port",
        str(port),
        "--password",
        password,
        "--sounds-dir",
        str(settings.paths.prompts_dir),
        "--recordings-dir",
        str(work / "rec"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    token = base64.b64encode(f"hotline:{password}".encode()).decode()
    node = ControllerNode(settings, prompts)
    try:
        async with aiohttp.ClientSession(headers={"Authorization": f"Basic {token}"}) as http:
            await _wait_ping(http, base)
            await node.start()
            await node.wait_connected()
            cpu0, wall0 = time.process_time(), time.perf_counter()
            interval = 1.0 / rate
            start = time.perf_counter()
            for i in range(calls):
                # Paced by the schedule, not by sleeps: late requests catch up.
                delay = start + i * interval - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                async with http.post(
                    f"{base}/_sim/calls",
                    json={"to": "6000", "from": f"+86138{i:08d}", "script": SCRIPT},
                ) as r:
                    r.raise_for_status()
            deadline = time.monotonic() + 120
            while True:
                async with http.get(f"{base}/_sim/stats") as r:
                    stats = await r.json()
                if stats["calls_ended"] >= calls or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
            assert node.writer is not None
            await node.writer.drain(60)
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            with make_sessionmaker(node.engine)() as s:
                records = int(s.scalar(select(func.count()).select_from(Call)) or 0)
                complete = int(
                    s.scalar(
                        select(func.count()).select_from(Call).where(Call.ended_at.is_not(None))
                    )
                    or 0
                )
                distinct = int(s.scalar(select(func.count(func.distinct(Call.channel_id)))) or 0)
    finally:
        await node.stop()
        sim.terminate()
        await asyncio.wait_for(sim.wait(), 10)
    return {
        "scenario": f"{calls} calls at {rate:g}/s, greeting then caller hangs up after ~1 s",
        "database": settings.database.url.split(":", 1)[0],
        "calls_placed": calls,
        "calls_ended": stats["calls_ended"],
        "records": records,
        "records_complete": complete,
        "records_duplicated": records - distinct,
        "records_lost": calls - distinct,
        "event_to_command_p50_ms": stats["reaction_p50_ms"],
        "event_to_command_p99_ms": stats["reaction_p99_ms"],
        "event_to_command_max_ms": stats["reaction_max_ms"],
        "controller_cpu_ms_per_call": round(1000 * cpu / calls, 3),
        "controller_cpu_percent": round(100 * cpu / wall, 1),
        "wall_seconds": round(wall, 2),
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
    }
