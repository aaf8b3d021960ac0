"""The events WebSocket, supervised.

``EventStream.run`` keeps one WebSocket to ``/ari/events?app=<app>`` open for as long
as it runs. The socket counts as lost when it closes, when a message cannot be read,
or when ``GET /asterisk/ping`` fails (a half-open TCP connection never closes by
itself). Then it reconnects after a capped, jittered exponential backoff; the backoff
starts again from the bottom only once a connection has proved stable.

Asterisk keeps no events for a disconnected app, so after every (re)connect
``on_connected`` runs (the controller's reconcile) in its own task, cancelled if the
connection is lost again meanwhile. Events are handed to ``on_event`` synchronously,
in arrival order; that callback must only queue them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Awaitable, Callable

import aiohttp

from ivr.ari import errors
from ivr.ari.client import AriClient, AriConfig
from ivr.ari.events import ApplicationReplaced, Event, MalformedEvent, parse_event
from kernel.backoff import Backoff

log = logging.getLogger(__name__)


class EventStream:
    def __init__(
        self,
        config: AriConfig,
        client: AriClient,
        on_event: Callable[[Event], None],
        on_connected: Callable[[], Awaitable[None]] | None = None,
        on_disconnected: Callable[[str], None] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.client = client
        self.on_event = on_event
        self.on_connected = on_connected
        self.on_disconnected = on_disconnected
        self.backoff = Backoff(
            config.backoff_initial,
            config.backoff_max,
            config.backoff_factor,
            config.backoff_jitter,
            rng or random.Random(),
        )
        self.connected = False
        self.connects = 0
        self.disconnects = 0
        self.events = 0
        self.malformed = 0
        self.last_disconnect_reason = ""
        # Whether the last attempt's going down was counted already (a session that was up).
        self._counted = False
        self._stop = asyncio.Event()
        self._up = asyncio.Event()
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._close_reason = ""

    async def wait_connected(self) -> None:
        """Return once the events socket is open (at once if it is)."""
        await self._up.wait()

    def stop(self) -> None:
        self._stop.set()
        if self._ws is not None and not self._ws.closed:
            self._close_reason = "stopping"
            asyncio.get_running_loop().create_task(self._ws.close())

    async def run(self) -> None:
        while not self._stop.is_set():
            reason, replaced = await self._connect_once()
            if self._stop.is_set():
                break
            if not self._counted:
                # A connect that failed (a session that was up was counted as it went down).
                self.disconnects += 1
                self.last_disconnect_reason = reason
            if self.on_disconnected is not None:
                self.on_disconnected(reason)
            # Replaced: another controller owns the app now; don't fight it at full speed.
            delay = self.config.backoff_max if replaced else self.backoff.next_delay()
            log.warning("ARI events: %s; reconnecting in %.2fs", reason, delay)
            # asyncio.timeout: wait_for (3.11) can swallow a cancel arriving as it ends.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._stop.wait()

    async def _connect_once(self) -> tuple[str, bool]:
        self._counted = False
        params = {"app": self.config.app, "subscribeAll": "false"}
        try:
            ws = await self.client.control_session.ws_connect(
                self.config.events_url,
                params=params,
                timeout=aiohttp.ClientWSTimeout(ws_close=1.0),
                autoping=True,
            )
        except aiohttp.WSServerHandshakeError as exc:
            return f"connect refused: HTTP {exc.status} {exc.message}", False
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            return f"cannot connect to {self.config.url}: {type(exc).__name__} {exc}", False
        loop = asyncio.get_running_loop()
        connected_at = loop.time()
        self._ws = ws
        self._close_reason = ""
        self.connected = True
        self._up.set()
        self.connects += 1
        log.info("ARI events connected to %s (app %s)", self.config.url, self.config.app)
        pinger = loop.create_task(self._ping_until_failure(ws), name="ari-ping")
        reconcile = (
            loop.create_task(self._after_connect(), name="ari-reconcile")
            if self.on_connected is not None
            else None
        )
        replaced = False
        try:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    if self._deliver(msg.data):
                        replaced = True
                        self._close_reason = "application replaced by another connection"
                        break
                elif msg.type == aiohttp.WSMsgType.ERROR:
                    self._close_reason = f"socket error: {ws.exception()}"
                    break
        finally:
            self._ws = None
            pinger.cancel()
            if reconcile is not None:
                reconcile.cancel()
            try:
                await ws.close()
            finally:
                reason = self._close_reason or f"socket closed (code {ws.close_code})"
                self._went_down(reason)
        # Only a connection that stayed up a while resets the backoff: a server that
        # accepts and drops at once must not be hammered at the initial delay.
        if loop.time() - connected_at >= max(self.config.ping_interval, 1.0):
            self.backoff.reset()
        return reason, replaced

    def _went_down(self, reason: str) -> None:
        # The reason and the count first, then the flag: whoever sees the stream down
        # (health, metrics) also sees why.
        if not self._stop.is_set():
            self.disconnects += 1
            self.last_disconnect_reason = reason
        self._counted = True
        self.connected = False
        self._up.clear()

    def _deliver(self, text: str) -> bool:
        """Parse and hand on one message; True when it says we were replaced."""
        try:
            event = parse_event(json.loads(text))
        except (ValueError, RecursionError, MalformedEvent) as exc:
            # RecursionError: JSON nested deeper than the parser's stack.
            self.malformed += 1
            log.warning("skipping malformed ARI event: %s", exc)
            return False
        self.events += 1
        if isinstance(event, ApplicationReplaced):
            return True
        try:
            self.on_event(event)
        except Exception:
            log.exception("event callback failed for %s", event.type)
        return False

    async def _after_connect(self) -> None:
        assert self.on_connected is not None
        try:
            await self.on_connected()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("reconcile after connect failed")

    async def _ping_until_failure(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        while not ws.closed:
            await asyncio.sleep(self.config.ping_interval)
            try:
                await self.client.asterisk.ping(timeout=self.config.ping_timeout, control=True)
            except errors.AriError as exc:
                self._close_reason = f"ping failed: {exc}"
                await ws.close()
                return
