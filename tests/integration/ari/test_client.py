"""The REST client over real sockets: typed error mapping, pooling, the events stream."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiohttp import web

from ivr.ari import errors as e
from ivr.ari.client import AriClient, AriConfig
from ivr.ari.events import Event, StasisStart
from ivr.ari.stream import EventStream
from simulator.server import AriSimulator
from tests.integration.conftest import PASSWORD, wait_for


def config(url: str, password: str = PASSWORD, **over: float) -> AriConfig:
    return AriConfig(url=url, username="hotline", password=password, app="hotline", **over)  # type: ignore[arg-type]


@pytest_asyncio.fixture
async def status_server() -> AsyncIterator[str]:
    """An HTTP server answering /ari/status/<code> with that status and an ARI error body."""

    async def handler(request: web.Request) -> web.Response:
        code = int(request.match_info["code"])
        if code == 299:
            return web.Response(text="not json", status=200)
        if code == 599:
            await asyncio.sleep(1)
        return web.json_response({"message": f"status {code}"}, status=code)

    app = web.Application()
    app.router.add_route("*", "/ari/status/{code}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, e.AriBadRequest),
        (401, e.AriAuthError),
        (404, e.AriNotFound),
        (409, e.AriConflict),
        (412, e.AriPreconditionFailed),
        (422, e.AriUnprocessable),
        (500, e.AriServerError),
        (502, e.AriServerError),
        (503, e.AriUnavailable),
    ],
)
async def test_rest_errors_map_to_typed_exceptions(
    status_server: str, status: int, error: type[e.AriError]
) -> None:
    client = AriClient(config(status_server))
    await client.open()
    try:
        with pytest.raises(error) as info:
            await client.request("POST", f"/status/{status}")
        assert info.value.status == status
        assert f"status {status}" in str(info.value)
        assert "/status/" in str(info.value)  # names the request
    finally:
        await client.close()


async def test_connection_failures_and_timeouts_are_transient_errors(status_server: str) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free_port = s.getsockname()[1]
    refused = AriClient(config(f"http://127.0.0.1:{free_port}"))
    await refused.open()
    with pytest.raises(e.AriConnectionError):
        await refused.asterisk.ping()
    await refused.close()
    slow = AriClient(config(status_server, request_timeout=0.2))
    await slow.open()
    with pytest.raises(e.AriConnectionError):
        await slow.request("GET", "/status/599")
    with pytest.raises(e.AriServerError):
        await slow.request("GET", "/status/299")  # 200 with a body that is not JSON
    await slow.close()


async def test_simulator_answers_with_ari_status_codes(sim: AriSimulator) -> None:
    client = AriClient(config(sim.base_url))
    await client.open()
    try:
        with pytest.raises(e.AriNotFound):
            await client.channels.answer("no-such-channel")
        with pytest.raises(e.AriNotFound):
            await client.playbacks.stop("no-such-playback")
        with pytest.raises(e.AriBadRequest):
            await client.channels.originate("PJSIP/8001")  # neither app nor extension
        bad = AriClient(config(sim.base_url, password="wrong"))
        await bad.open()
        with pytest.raises(e.AriAuthError):
            await bad.channels.list()
        await bad.close()
        sim.fail_next(2)
        with pytest.raises(e.AriUnavailable):
            await client.asterisk.ping()
        with pytest.raises(e.AriUnavailable):
            await client.channels.list()
        assert (await client.asterisk.ping())["ping"] == "pong"
    finally:
        await client.close()


async def test_requests_share_pooled_keepalive_connections(sim: AriSimulator) -> None:
    client = AriClient(config(sim.base_url, max_connections=4))
    await client.open()
    try:
        await asyncio.gather(*(client.asterisk.ping() for _ in range(200)))
        connector = client.session.connector
        assert connector is not None
        # 200 requests, at most 4 sockets ever opened and all kept alive for reuse.
        assert sum(len(v) for v in connector._conns.values()) <= 4  # type: ignore[attr-defined]
    finally:
        await client.close()


async def test_stream_delivers_events_in_order_and_reconnects(sim: AriSimulator) -> None:
    cfg = config(sim.base_url, backoff_initial=0.05, backoff_max=0.5, ping_interval=0.3)
    client = AriClient(cfg)
    await client.open()
    seen: list[Event] = []
    connects: list[float] = []

    async def on_connected() -> None:
        connects.append(asyncio.get_running_loop().time())

    stream = EventStream(cfg, client, seen.append, on_connected)
    task = asyncio.create_task(stream.run())
    try:
        await wait_for(lambda: stream.connected, what="first connect")
        call = await sim.place_call("6000", "+8613800000009", script="press 1234#")
        await wait_for(
            lambda: sum(ev.type == "ChannelDtmfReceived" for ev in seen) == 5, what="five digits"
        )
        assert isinstance(seen[0], StasisStart)
        digits = [getattr(ev, "digit", "") for ev in seen if ev.type == "ChannelDtmfReceived"]
        assert digits == list("1234#")
        dropped_at = asyncio.get_running_loop().time()
        assert sim.drop_websockets() == 1
        await wait_for(lambda: len(connects) == 2, timeout=30, what="reconnect")
        assert connects[1] - dropped_at < 2.0
        assert stream.disconnects == 1
        # A ping failure counts as a disconnect too (a half-open socket never closes).
        sim.fail_next(1)
        await wait_for(lambda: len(connects) == 3, timeout=30, what="reconnect after ping failure")
        assert "ping failed" in stream.last_disconnect_reason
        sim.engine.caller_hangup(call.channel)
    finally:
        stream.stop()
        await task
        await client.close()


async def test_a_second_connection_replaces_the_first(sim: AriSimulator) -> None:
    cfg = config(sim.base_url, backoff_initial=0.05, backoff_max=30.0, ping_interval=5)
    c1, c2 = AriClient(cfg), AriClient(cfg)
    await c1.open()
    await c2.open()
    s1 = EventStream(cfg, c1, lambda ev: None)
    s2 = EventStream(cfg, c2, lambda ev: None)
    t1 = asyncio.create_task(s1.run())
    try:
        await wait_for(lambda: s1.connected, what="first stream")
        t2 = asyncio.create_task(s2.run())
        await wait_for(lambda: s2.connected and not s1.connected, what="replacement")
        assert "replaced" in s1.last_disconnect_reason
    finally:
        s1.stop()
        s2.stop()
        await asyncio.gather(t1, t2)
        await c1.close()
        await c2.close()
