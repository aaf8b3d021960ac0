"""ARI over raw sockets for simulator tests: every exchange and every event is kept.

``Wire`` speaks plain aiohttp (not our client) so the tests see exactly what the
simulator put on the wire: status codes, bodies, content types, arrival times.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from simulator.server import AriSimulator
from tests.integration.conftest import PASSWORD, wait_for


@dataclass(frozen=True, slots=True)
class Exchange:
    method: str
    path: str  # without the query string
    status: int
    body: Any  # decoded JSON, or None for an empty body
    raw: bytes
    content_type: str
    sent_at: float
    at: float  # when the response arrived (loop time)


@dataclass(frozen=True, slots=True)
class Received:
    at: float  # arrival, loop time
    data: dict[str, Any]

    @property
    def type(self) -> str:
        return str(self.data.get("type", ""))

    def __getitem__(self, key: str) -> Any:
        return self.data[key]


def subject_id(event: Mapping[str, Any]) -> str | None:
    """The channel (or bridge) an event is about: channel, Dial peer, or target_uri."""
    for key in ("channel", "peer"):
        obj = event.get(key)
        if isinstance(obj, dict):
            return str(obj.get("id"))
    for key in ("playback", "recording"):
        obj = event.get(key)
        if isinstance(obj, dict):
            return str(obj.get("target_uri", "")).partition(":")[2]
    bridge = event.get("bridge")
    if isinstance(bridge, dict):
        return str(bridge.get("id"))
    return None


@dataclass
class Wire:
    sim: AriSimulator
    username: str = "hotline"
    password: str = PASSWORD
    exchanges: list[Exchange] = field(default_factory=list)
    events: list[Received] = field(default_factory=list)
    ws_closed: asyncio.Event = field(default_factory=asyncio.Event)
    _session: aiohttp.ClientSession | None = None
    _ws: aiohttp.ClientWebSocketResponse | None = None
    _reader: asyncio.Task[None] | None = None

    @property
    def loop_time(self) -> float:
        return asyncio.get_running_loop().time()

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            self._session = aiohttp.ClientSession(headers={"Authorization": f"Basic {token}"})
        return self._session

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._session is not None:
            await self._session.close()

    # -- events -------------------------------------------------------------------------

    async def connect_events(self, app: str = "hotline") -> None:
        """Open the events WebSocket and wait until the simulator has the app registered."""
        url = self.sim.base_url.replace("http", "ws", 1) + "/ari/events"
        self.ws_closed.clear()
        self._ws = await self.session.ws_connect(url, params={"app": app}, heartbeat=None)
        self._reader = asyncio.create_task(self._read(self._ws))
        await wait_for(lambda: app in self.sim.connected_apps, 3.0, f"app {app} registered")

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        loop = asyncio.get_running_loop()
        try:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    self.events.append(Received(loop.time(), json.loads(msg.data)))
        finally:
            self.ws_closed.set()

    def of(self, etype: str, about: str | None = None) -> list[Received]:
        return [
            ev
            for ev in self.events
            if ev.type == etype and (about is None or subject_id(ev.data) == about)
        ]

    def about(self, ident: str) -> list[Received]:
        return [ev for ev in self.events if subject_id(ev.data) == ident]

    async def event(
        self,
        etype: str,
        about: str | None = None,
        where: Callable[[Received], bool] = lambda ev: True,
        timeout: float = 5.0,
    ) -> Received:
        """The first event of ``etype`` (about a channel/bridge) matching ``where``."""

        def found() -> Received | None:
            return next((ev for ev in self.of(etype, about) if where(ev)), None)

        await wait_for(lambda: found() is not None, timeout, f"{etype} about {about}")
        result = found()
        assert result is not None
        return result

    # -- REST ------------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, str | int] | None = None,
        json_body: Any = None,
    ) -> Exchange:
        sent = self.loop_time
        kwargs: dict[str, Any] = {"params": {k: str(v) for k, v in (params or {}).items()}}
        if json_body is not None:
            kwargs["json"] = json_body
        async with self.session.request(method, self.sim.base_url + path, **kwargs) as resp:
            raw = await resp.read()
            ctype = resp.headers.get("Content-Type", "")
            body = json.loads(raw) if raw and "json" in ctype else None
            ex = Exchange(method, path, resp.status, body, raw, ctype, sent, self.loop_time)
        self.exchanges.append(ex)
        return ex

    async def ari(
        self,
        method: str,
        path: str,
        params: Mapping[str, str | int] | None = None,
        json_body: Any = None,
        expect: int | None = None,
    ) -> Exchange:
        """``/ari`` + path; with ``expect`` the status must be that one."""
        ex = await self.request(method, "/ari" + path, params, json_body)
        if expect is not None:
            assert ex.status == expect, f"{method} {path}: {ex.status} {ex.body!r}"
        return ex

    async def control(self, method: str, path: str, json_body: Any = None) -> Exchange:
        """The simulator's own ``/_sim`` control API."""
        return await self.request(method, "/_sim" + path, json_body=json_body)
