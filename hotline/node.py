"""A controller node: settings → database, record writer, ARI client, event stream, controller.

``ControllerNode`` is what ``hotline run`` runs and what the demo and the integration
tests start in-process; nothing in it knows whether the ARI server is Asterisk or the
simulator.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from datetime import datetime
from typing import Any

from hotline.settings import Settings
from ivr.ari import AriClient, AriConfig, EventStream
from ivr.call.greeting import GreetingService
from ivr.call.service import Prompts, Service
from ivr.runtime.controller import Controller, utc_now
from ticketdb.engine import make_engine, make_sessionmaker
from ticketdb.migrate import upgrade
from ticketdb.writer import RecordWriter

log = logging.getLogger(__name__)


def ari_config(settings: Settings) -> AriConfig:
    a = settings.ari
    return AriConfig(
        url=a.url,
        username=a.username,
        password=a.password,
        app=a.app,
        request_timeout=a.request_timeout,
        max_connections=a.max_connections,
        backoff_initial=a.backoff_initial,
        backoff_max=a.backoff_max,
        backoff_factor=a.backoff_factor,
        backoff_jitter=a.backoff_jitter,
        ping_interval=a.ping_interval,
        ping_timeout=a.ping_timeout,
    )


class ControllerNode:
    def __init__(
        self,
        settings: Settings,
        prompts: Prompts,
        service_factory: Callable[[], Service] = GreetingService,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.settings = settings
        self.prompts = prompts
        self.service_factory = service_factory
        self.clock = clock
        self.engine: Any = None
        self.writer: RecordWriter | None = None
        self.client: AriClient | None = None
        self.controller: Controller | None = None
        self.stream: EventStream | None = None
        self._stream_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        s = self.settings
        if s.database.auto_upgrade:
            await asyncio.to_thread(upgrade, s.database.url)
        self.engine = make_engine(s.database.url)
        self.writer = RecordWriter(self.engine)
        self.writer.start()
        self.client = AriClient(ari_config(s))
        await self.client.open()
        self.controller = Controller(
            client=self.client,
            writer=self.writer,
            db=make_sessionmaker(self.engine),
            node=s.node.name,
            app=s.ari.app,
            prompts=self.prompts,
            service_factory=self.service_factory,
            default_language=s.ivr.default_language,
            clock=self.clock,
        )
        self.stream = EventStream(
            ari_config(s),
            self.client,
            on_event=self.controller.on_event,
            on_connected=self.controller.reconcile,
        )
        self._stream_task = asyncio.create_task(self.stream.run(), name="ari-event-stream")

    async def wait_connected(self, timeout: float = 10.0) -> None:
        assert self.stream is not None
        await asyncio.wait_for(self.stream.wait_connected(), timeout)

    async def stop(self, drain_timeout: float = 10.0) -> None:
        """Stop reading events, finish queued call work, flush records, close connections."""
        if self.stream is not None:
            self.stream.stop()
        if self._stream_task is not None:
            try:
                await asyncio.wait_for(self._stream_task, drain_timeout)
            except (TimeoutError, asyncio.CancelledError):
                self._stream_task.cancel()
        if self.controller is not None:
            try:
                await self.controller.drain(drain_timeout)
            except TimeoutError:
                log.warning("stopping with call work still queued")
        if self.client is not None:
            await self.client.close()
        if self.writer is not None:
            await self.writer.drain(drain_timeout)
            self.writer.close()
        if self.engine is not None:
            self.engine.dispose()


async def run_until_signalled(settings: Settings) -> int:
    from hotline.prompts_setup import system_prompts

    prompts = await asyncio.to_thread(system_prompts, settings)
    node = ControllerNode(settings, prompts)
    await node.start()
    log.info(
        "controller %s running against %s (app %s)",
        settings.node.name,
        settings.ari.url,
        settings.ari.app,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down")
    await node.stop()
    return 0
