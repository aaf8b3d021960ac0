"""/healthz and /metrics of a controller node (its own aiohttp endpoint, real sockets) and
of the web app; the call id on every log line of a call. On both databases."""

from __future__ import annotations

import asyncio
import io
import json
import re
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from flask import Flask

from agents import queue_store as global_queue
from agents.seat_store import add_agent, set_state
from hotline.logsetup import make_handler
from hotline.node import ControllerNode
from monitoring import health
from monitoring.ops_server import OpsServer
from simulator.server import AriSimulator
from tests.integration.conftest import NodeFactory, make_settings, wait_for
from tests.integration.runtime.test_call_lifecycle import records
from tests.integration.webapp.conftest import app  # noqa: F401  (a fixture)
from tests.unit.monitoring.test_metrics import parse
from ticketdb.engine import make_sessionmaker
from ticketdb.models import Notification

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def get(url: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as http, http.get(url) as answer:
        return answer.status, answer.headers.get("Content-Type", ""), await answer.text()


async def healthz(ops: OpsServer, query: str = "") -> tuple[int, dict[str, Any]]:
    status, ctype, body = await get(f"{ops.url}/healthz{query}")
    assert ctype.startswith("application/json")
    return status, json.loads(body)


async def scrape(ops: OpsServer) -> Samples:
    status, ctype, body = await get(f"{ops.url}/metrics")
    assert status == 200
    assert ctype == "text/plain; version=0.0.4; charset=utf-8"
    return parse(body)


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(labels.items()))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def ops_of() -> Any:
    servers: list[OpsServer] = []

    async def start(node: ControllerNode) -> OpsServer:
        server = OpsServer(node, "127.0.0.1", 0)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()


async def test_node_health_and_metrics_follow_a_call_and_a_lost_socket(
    sim: AriSimulator, start_node: NodeFactory, ops_of: Any
) -> None:
    node = await start_node()
    assert node.ops is None  # ops.port = 0 in the test settings: no listener of its own
    ops = await ops_of(node)
    assert node.stream is not None and node.controller is not None and node.writer is not None
    stream, controller, writer = node.stream, node.controller, node.writer

    status, body = await healthz(ops)
    assert status == 200, body
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"process", "ari", "database"}  # no scheduler here
    assert body["checks"]["ari"]["ok"] and body["checks"]["database"]["ok"]
    status, body = await healthz(ops, "?live=1")
    assert (status, set(body["checks"])) == (200, {"process"})

    before = await scrape(ops)
    assert value(before, "hotline_calls_in_progress") == 0
    assert value(before, "hotline_event_handling_seconds_count") == 0

    call = await sim.place_call("6000", "+8613800000031", script="wait for prompt")
    await wait_for(lambda: bool(call.heard), what="greeting starts")
    # The record is written by the writer thread, maybe a moment after the greeting starts.
    await wait_for(lambda: bool(records(node)), what="record written")
    during = await scrape(ops)
    assert value(during, "hotline_calls_in_progress") == 1
    assert value(during, "hotline_open_call_records") == 1
    await call.ended(20)
    await wait_for(lambda: bool(records(node)) and records(node)[0].is_complete, what="record")
    await controller.drain(5)
    await writer.drain(5)

    after = await scrape(ops)
    assert value(after, "hotline_calls_in_progress") == 0
    assert value(after, "hotline_open_call_records") == 0
    assert value(after, "hotline_calls_started_total") == 1
    assert value(after, "hotline_calls_finished_total", reason="completed") == 1
    # Start, answer, updates, end: every committed operation counted, as the writer did.
    assert value(after, "hotline_records_written_total") == writer.applied >= 3
    assert value(after, "hotline_record_writer_backlog") == 0
    # One latency observation per ARI event handled, none for timers or internal inputs.
    handled = value(after, "hotline_event_handling_seconds_count")
    assert handled == controller.stats.events_routed > 0
    buckets = [
        v
        for (name, _), v in sorted(after.items())
        if name == "hotline_event_handling_seconds_bucket"
    ]
    assert value(after, "hotline_event_handling_seconds_bucket", le="+Inf") == handled
    assert value(after, "hotline_event_handling_seconds_bucket", le="5") <= handled
    assert all(v <= handled for v in buckets)
    assert 0 < value(after, "hotline_event_handling_seconds_sum") < handled * 5
    assert value(after, "hotline_ari_events_total") == stream.events
    assert value(after, "process_resident_memory_bytes") > 10_000_000
    assert value(after, "process_open_fds") > 3

    # The socket drops and comes back: one reconnect.
    assert value(after, "hotline_ari_reconnects_total") == 0
    sim.drop_websockets()
    # Both ends: the client counts the connection when the handshake answer arrives, the
    # simulator holds it a moment later; a drop in between would cut nothing.
    await wait_for(lambda: stream.connects == 2 and sim.event_sockets == 1, what="reconnect")
    assert value(await scrape(ops), "hotline_ari_reconnects_total") == 1

    # Asterisk refuses the events socket for a while: not ready, but alive.
    # (fail_next never applied to the events socket: the test only passed while the
    # reconnect was slower than the next check.)
    sim.refuse_events(True)
    sim.drop_websockets()
    await wait_for(lambda: not stream.connected, what="socket down")
    status, body = await healthz(ops)
    assert status == 503
    assert body["status"] == "degraded"
    assert body["checks"]["ari"]["ok"] is False and body["checks"]["database"]["ok"]
    assert (await healthz(ops, "?live=1"))[0] == 200
    assert value(await scrape(ops), "hotline_ari_connected") == 0
    sim.refuse_events(False)
    await wait_for(lambda: stream.connected, timeout=15, what="socket back")
    assert (await healthz(ops))[0] == 200


async def test_a_database_that_does_not_answer_makes_the_node_not_ready(
    sim: AriSimulator, start_node: NodeFactory, ops_of: Any
) -> None:
    node = await start_node()
    ops = await ops_of(node)

    def hang() -> Any:
        time.sleep(3)
        raise ConnectionError("no route to the database")

    real, node.engine = node.engine, sa.create_engine("sqlite://", creator=hang)
    try:
        started = time.monotonic()
        status, body = await healthz(ops)
        # The probe gives up after ops.db_timeout (1 s), whatever the database does.
        assert time.monotonic() - started < 2.5
        assert status == 503 and body["status"] == "degraded"
        assert body["checks"]["database"] == {"ok": False, "error": "no answer within 1s"}
        assert body["checks"]["ari"]["ok"]
    finally:
        node.engine = real
    assert (await healthz(ops))[0] == 200


def test_an_unreachable_database_fails_the_check_quickly() -> None:
    engine = sa.create_engine(
        "postgresql+psycopg://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 1}
    )
    check = health.check_database(engine, timeout=3)
    assert check["ok"] is False and "OperationalError" in check["error"]
    status, body = health.report({"process": health.liveness(), "database": check})
    assert (status, body["status"]) == (503, "degraded")


async def test_queue_agent_and_outbox_gauges_come_from_the_database(
    sim: AriSimulator, start_node: NodeFactory, ops_of: Any
) -> None:
    node = await start_node()
    ops = await ops_of(node)
    now = datetime.now(UTC)
    with make_sessionmaker(node.engine)() as s:
        ids = [
            add_agent(
                s, staff_number=n, name=f"Agent {n}", endpoint=f"PJSIP/{n}", team="hotline"
            ).id
            for n in ("8101", "8102", "8103")
        ]
        for agent_id, staff in zip(ids[:2], ("8101", "8102"), strict=True):
            set_state(s, agent_id=agent_id, to_state="available", by=staff, now=now)
        set_state(s, agent_id=ids[1], to_state="away", by="8102", reason="break", now=now)
        for i, q in enumerate(("sales", "sales", "complaints")):
            global_queue.enqueue(
                s, node="n1", channel_id=f"c{i}", queue=q, tier="general", arrived_at=now, now=now
            )
        for channel, status in (("email", "pending"), ("email", "sent"), ("inapp", "pending")):
            s.add(
                Notification(
                    rule="r",
                    channel=channel,
                    recipient=f"x-{channel}-{status}",
                    subject="s",
                    body="b",
                    created_at=now,
                    status=status,
                )
            )
        s.commit()
    samples = await scrape(ops)
    assert value(samples, "hotline_queue_length", queue="sales") == 2
    assert value(samples, "hotline_queue_length", queue="complaints") == 1
    assert value(samples, "hotline_agents", state="available") == 1
    assert value(samples, "hotline_agents", state="away") == 1
    assert value(samples, "hotline_agents", state="offline") == 1
    assert value(samples, "hotline_agents", state="on_call") == 0
    assert value(samples, "hotline_outbox_pending", channel="email") == 1
    assert value(samples, "hotline_outbox_pending", channel="inapp") == 1


async def test_ops_port_from_settings_with_the_scheduler_checked(
    db_url: str, prompts_dir: Path, built_prompts: Any, sim: AriSimulator
) -> None:
    base = make_settings(db_url, prompts_dir, sim.base_url)
    port = free_port()
    settings = base.model_copy(
        update={
            "ops": base.ops.model_copy(update={"port": port}),
            "scheduler": base.scheduler.model_copy(update={"enabled": True}),
        }
    )
    node = ControllerNode(settings, built_prompts)
    await node.start()
    try:
        await node.wait_connected()
        assert node.ops is not None and node.ops.port == port
        ops = node.ops

        async def holds_lease() -> bool:
            status, body = await healthz(ops)
            return status == 200 and bool(body["checks"]["scheduler"]["holds_lease"])

        deadline = asyncio.get_running_loop().time() + 10
        while not await holds_lease():
            assert asyncio.get_running_loop().time() < deadline, "scheduler never took the lease"
            await asyncio.sleep(0.1)
        assert node.scheduler is not None
        await asyncio.to_thread(node.scheduler.stop, 5)
        status, body = await healthz(ops)
        assert status == 503 and body["checks"]["scheduler"]["ok"] is False
    finally:
        await node.stop()
    with pytest.raises(aiohttp.ClientConnectionError):
        await get(f"http://127.0.0.1:{port}/healthz")


async def test_a_taken_ops_port_is_logged_and_the_node_runs_on(
    db_url: str,
    prompts_dir: Path,
    built_prompts: Any,
    sim: AriSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    base = make_settings(db_url, prompts_dir, sim.base_url)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ops = base.ops.model_copy(update={"port": port})
        node = ControllerNode(base.model_copy(update={"ops": ops}), built_prompts)
        await node.start()
        try:
            await node.wait_connected()
            assert node.ops is None
            assert f"cannot listen on 127.0.0.1:{port}" in caplog.text
            call = await sim.place_call("6000", "+8613800000032", script="wait for prompt")
            await call.ended(20)
            assert call.hangup_by == "system"
        finally:
            await node.stop()


# --- the web app --------------------------------------------------------------------


async def test_web_app_health_and_metrics_with_the_node_in_process(
    app: Flask,  # noqa: F811
    sim: AriSimulator,
    start_node: NodeFactory,
) -> None:
    http = app.test_client()
    answer = http.get("/healthz")
    assert answer.status_code == 200, answer.get_json()
    assert set(answer.get_json()["checks"]) == {"process", "database"}
    text = http.get("/metrics")
    assert text.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    samples = parse(text.get_data(as_text=True))
    # The /healthz request before this one was counted.
    assert value(samples, "hotline_web_requests_total", method="GET", status="200") == 1
    assert value(samples, "hotline_web_request_seconds_count") == 1
    assert value(samples, "hotline_agents", state="available") == 0
    assert ("hotline_calls_in_progress", ()) not in samples  # no node in this process
    assert http.get("/no-such-page").status_code == 404
    samples = parse(http.get("/metrics").get_data(as_text=True))
    assert value(samples, "hotline_web_requests_total", method="GET", status="404") == 1

    # `hotline run` / `hotline demo`: the node runs in the same process.
    node = await start_node()
    app.extensions["hotline.node"] = node
    answer = await asyncio.to_thread(http.get, "/healthz")
    assert answer.status_code == 200
    assert answer.get_json()["checks"]["ari"]["ok"] is True
    call = await sim.place_call("6000", "+8613800000033", script="wait for prompt")
    await call.ended(20)
    samples = parse((await asyncio.to_thread(http.get, "/metrics")).get_data(as_text=True))
    assert value(samples, "hotline_calls_started_total") == 1
    assert value(samples, "hotline_event_handling_seconds_count") > 0
    sim.refuse_events(True)
    sim.drop_websockets()
    assert node.stream is not None
    stream = node.stream
    await wait_for(lambda: not stream.connected, what="socket down")
    answer = await asyncio.to_thread(http.get, "/healthz")
    assert answer.status_code == 503
    assert answer.get_json()["checks"]["ari"]["ok"] is False
    sim.refuse_events(False)


# --- logs ---------------------------------------------------------------------------


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """Everything the process logs, as `hotline run --log-format json` writes it."""
    import logging

    out = io.StringIO()
    handler = make_handler("json", "test-node", out)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield out
    root.removeHandler(handler)
    root.setLevel(old_level)


async def test_every_log_line_of_a_call_names_the_call(
    sim: AriSimulator, start_node: NodeFactory, json_log: io.StringIO
) -> None:
    node = await start_node()
    # ARI refuses the first requests: both calls log their failed commands as they go.
    sim.fail_next(8, match="POST /ari/channels/")
    calls = [
        await sim.place_call("6000", f"+86138000000{n}", script="wait for prompt") for n in (41, 42)
    ]
    for call in calls:
        await call.ended(30)
    await wait_for(
        lambda: len(records(node)) == 2 and all(r.is_complete for r in records(node)),
        what="records",
    )
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    about_a_call = [
        line
        for line in lines
        if re.match(r"call \S+: ", str(line["msg"])) and "reconcile" not in line["msg"]
    ]
    assert len(about_a_call) >= 2, lines
    ids = {c.channel_id for c in calls}
    for line in about_a_call:
        named = str(line["msg"]).split()[1].rstrip(":")
        if named in ids:  # written while handling that call: it carries the call's id
            assert line["call_id"] == named, line
    assert {line.get("call_id") for line in about_a_call} <= ids
    assert all(line["node"] == "test-node" for line in lines)
