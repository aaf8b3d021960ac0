"""A controller node: settings → database, record writer, ARI client, event stream, controller.

``ControllerNode`` is what ``hotline run`` runs and what the demo and the integration
tests start in-process; nothing in it knows whether the ARI server is Asterisk or the
simulator.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from agents.engine import QueueManager
from agents.phones import PhoneMonitor
from agents.queue_config import QueueCatalog
from agents.shifts import ShiftConfig
from callbacks.plan import CallbackRules
from hotline.recordings import RecordingStore
from hotline.scheduler import LeaderScheduler
from ivr.ari.client import AriClient, AriConfig
from ivr.ari.stream import EventStream
from ivr.call.greeting import GreetingService
from ivr.call.inputs import DialStart
from ivr.call.service import Prompts, Service
from ivr.menus.registry import MenuRegistry
from ivr.queue.callback import CallbackFlow
from ivr.queue.service import QueueService, QueueSettings
from ivr.runtime.controller import Controller, call_key
from ivr.runtime.executor import CommandExecutor
from kernel.clock import utcnow
from kernel.settings import Settings
from monitoring.metrics import family
from monitoring.node_metrics import NodeMetrics
from monitoring.ops_server import OpsServer, start_ops
from ticketdb.engine import make_engine, make_sessionmaker
from ticketdb.migrate import upgrade
from ticketdb.writer import RecordWriter

log = logging.getLogger(__name__)


def ari_config(settings: Settings) -> AriConfig:
    # The settings section and the client config have the same fields by design.
    return AriConfig(**settings.ari.model_dump())


class ControllerNode:
    def __init__(
        self,
        settings: Settings,
        prompts: Prompts,
        service_factory: Callable[[], Service] | None = None,
        clock: Callable[[], datetime] = utcnow,
        menus: MenuRegistry | None = None,
        calendars: Any = None,
        caller_tiers: bool = False,
        menu_clock: Callable[[], datetime] | None = None,
        queues: QueueCatalog | None = None,
        shifts: ShiftConfig | None = None,
    ) -> None:
        self.menu_clock = menu_clock
        # With a queue catalog the node runs the queue engine: menu queue actions enqueue.
        self.queues = queues
        self.shifts = shifts
        self.acd: QueueManager | None = None
        self._acd_task: asyncio.Task[None] | None = None
        self.phones: PhoneMonitor | None = None
        self._phones_task: asyncio.Task[None] | None = None
        self.settings = settings
        self.prompts = prompts
        self.menus = menus
        self.calendars = calendars
        self.caller_tiers = caller_tiers
        if service_factory is None:
            service_factory = self._menu_service if menus is not None else GreetingService
        self.service_factory = service_factory
        self.clock = clock
        self._watch_task: asyncio.Task[None] | None = None
        self.engine: Any = None
        self.writer: RecordWriter | None = None
        self.client: AriClient | None = None
        self.controller: Controller | None = None
        self.stream: EventStream | None = None
        self._stream_task: asyncio.Task[None] | None = None
        # Timed jobs (hotline.jobs): run here only while this node holds the lease.
        self.scheduler: LeaderScheduler | None = None
        # /metrics and /healthz (ops.port): what monitoring sees of this node.
        self.metrics = NodeMetrics(self)
        self.ops: OpsServer | None = None

    def _menu_service(self) -> Service:
        from ivr.menus.engine import MenuService

        assert self.menus is not None
        # Each call keeps the Menu object it started with, whatever reloads happen.
        menu = self.menus.current
        calendar = self.calendars.get(menu.spec.calendar) if self.calendars else None
        return MenuService(menu, calendar, clock=self.menu_clock)

    def _tier_lookup(self) -> Callable[[str], str]:
        from ticketdb.customers import tier_for

        sessions = make_sessionmaker(self.engine)

        def lookup(phone: str) -> str:
            with sessions() as session:
                return tier_for(session, phone)

        return lookup

    def _callback_rules(self) -> CallbackRules:
        """Callbacks' quiet hours, in the calendar file's time zone (UTC without one)."""
        from callbacks.worklist import rules_for

        # The demo's stand-in calendars have no zone of their own.
        tz = getattr(self.calendars, "timezone", None) or UTC
        return rules_for(self.settings.callbacks, tz)

    async def _watch_menus(self) -> None:
        assert self.menus is not None
        while True:
            await asyncio.sleep(self.settings.ivr.reload_interval)
            try:
                await asyncio.to_thread(self.menus.reload_if_changed)
            except Exception:
                log.exception("menu reload failed; the last good menu stays live")

    async def start(self) -> None:
        s = self.settings
        if s.database.auto_upgrade:
            await asyncio.to_thread(upgrade, s.database.url)
        self.engine = make_engine(s.database.url)
        self.writer = RecordWriter(self.engine)
        self.writer.start()
        if s.scheduler.enabled:
            from hotline.jobs import registry

            self.scheduler = LeaderScheduler(registry(s), s, self.engine)
            self.scheduler.start()
        self.client = AriClient(ari_config(s))
        await self.client.open()
        services: dict[str, Callable[[], Service]] = {}
        if self.queues is not None:
            self.acd = QueueManager(
                make_sessionmaker(self.engine),
                s.node.name,
                self.queues,
                self.shifts,
                s.acd,
                self.clock,
                rules=self._callback_rules(),
            )
            acd = self.acd
            queue_settings = QueueSettings(
                external_endpoint=s.acd.callback_endpoint,
                internal_callers=s.acd.internal_callers,
                self_service="menu" if self.menus is not None else None,
            )
            services["queue"] = lambda: QueueService(acd.config, queue_settings)
            if self.shifts is not None:
                from agents.lead_watch import LeadWatch

                acd.lead_watch = LeadWatch(
                    make_sessionmaker(self.engine), self.shifts, s.node.name, self.clock
                )
        if self.acd is not None:
            # Phones first: the executor reports refused ones to it.
            self.phones = PhoneMonitor(
                self.client,
                make_sessionmaker(self.engine),
                s.node.name,
                s.ari.app,
                self.clock,
                is_own_leg=lambda channel_id: (
                    self.controller is not None and self.controller.is_own_leg(channel_id)
                ),
                refresh=s.acd.phone_refresh,
                refused_hold=s.acd.phone_refused_hold,
            )
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
            tier_lookup=self._tier_lookup() if self.caller_tiers else None,
            services=services,
            observe_latency=self.metrics.event_latency.observe,
            executor=CommandExecutor(
                self.client,
                self.writer,
                s.node.name,
                self.clock,
                app=s.ari.app,
                queues=self.acd,
                phones=self.phones,
                recordings=RecordingStore(
                    self.client, self.writer, s.paths.calls_dir, s.node.name, self.clock
                ),
            ),
        )
        if self.acd is not None:
            controller = self.controller
            self.acd.deliver = controller.deliver
            self.acd.is_live = controller.is_live
            self.acd.can_dial = lambda: self.stream is not None and self.stream.connected
            self.acd.live_calls = lambda: [k for k in controller.sessions if controller.is_live(k)]
            self.acd.legs_up = self._legs_up
            if self.phones is not None:
                self.acd.unreachable = self.phones.unreachable
                controller.on_endpoint = self.phones.on_event
                self._phones_task = asyncio.create_task(self.phones.run(), name="phones")
            self.acd.start_callback = lambda key, job: controller.start_flow(
                key, CallbackFlow(key, job), DialStart(self.clock())
            )
            self._acd_task = asyncio.create_task(self.acd.run(), name="acd")
        self.stream = EventStream(
            ari_config(s),
            self.client,
            on_event=self.controller.on_event,
            on_connected=self._on_connected,
        )
        self._stream_task = asyncio.create_task(self.stream.run(), name="ari-event-stream")
        if self.menus is not None:
            self._watch_task = asyncio.create_task(self._watch_menus(), name="menu-reload")
        # Tasks alive on this loop: what `hotline bench soak` compares for leaks.
        loop = asyncio.get_running_loop()
        self.metrics.registry.add_collector(
            lambda: [
                family(
                    "hotline_asyncio_tasks",
                    "gauge",
                    "Asyncio tasks alive",
                    len(asyncio.all_tasks(loop)),
                )
            ]
        )
        self.ops = await start_ops(self)

    async def _on_connected(self) -> None:
        """After every (re)connect: reconcile the calls, look at the agents' phones."""
        assert self.controller is not None
        if self.phones is None:
            await self.controller.reconcile()
            return
        await asyncio.gather(self.controller.reconcile(), self._look_at_phones())

    async def _look_at_phones(self) -> None:
        assert self.phones is not None
        try:
            await self.phones.on_connected()
        except Exception:
            log.exception("phones: could not look at the agents' phones; the refresh will")

    async def _legs_up(self) -> set[str] | None:
        """The calls with a leg (``<call>~…``) up on our Asterisk now; None if it can't say."""
        assert self.client is not None
        try:
            channels = await self.client.channels.list()
        except Exception as exc:
            log.warning("cannot list channels to check a claim: %s", exc)
            return None
        return {call_key(ch.id) for ch in channels if "~" in ch.id}

    async def wait_connected(self, timeout: float = 10.0) -> None:
        assert self.stream is not None
        await asyncio.wait_for(self.stream.wait_connected(), timeout)

    async def stop(self, drain_timeout: float = 10.0) -> None:
        """Stop reading events, finish queued call work, flush records, close connections."""
        if self.ops is not None:
            await self.ops.stop()
            self.ops = None
        if self.scheduler is not None:
            # A job in progress finishes; the lease is given up for another node.
            await asyncio.to_thread(self.scheduler.stop, drain_timeout)
        if self._watch_task is not None:
            self._watch_task.cancel()
        if self._acd_task is not None:
            self._acd_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._acd_task
        if self.acd is not None:
            self.acd.close()
        if self._phones_task is not None:
            self._phones_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._phones_task
        if self.phones is not None:
            await self.phones.forget()
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


@dataclass
class IvrParts:
    """Everything a node needs to run the hotline's menus, built (and checked) up front."""

    prompts: Prompts
    menus: MenuRegistry
    calendars: Any
    queues: QueueCatalog | None = None
    shifts: ShiftConfig | None = None


def prepare_ivr(settings: Settings) -> IvrParts:
    """Build prompts, load and check the live menu and the calendar.

    Raises ``MenuInvalid``, ``CalendarError``, ``QueueConfigError``, ``ShiftsInvalid`` or
    ``PromptBuildError``
    with messages that name the file and line; the CLI turns them into exit status 2.
    """
    from agents.shift_file import load_shifts
    from ivr.menus.live import make_registry, queue_catalog
    from ivr.prompts.build import system_prompts
    from ivr.prompts.library import PromptLibrary
    from kernel.calendar import load_calendars

    prompts = system_prompts(settings)
    calendars = (
        load_calendars(settings.paths.calendar_file)
        if settings.paths.calendar_file.exists()
        else None
    )
    menus = make_registry(settings, PromptLibrary.from_settings(settings))
    menus.load()
    queues = queue_catalog(settings)
    shifts = (
        load_shifts(settings.paths.shifts_file, calendars)
        if settings.paths.shifts_file.exists()
        else None
    )
    return IvrParts(prompts, menus, calendars, queues, shifts)


async def run_until_signalled(settings: Settings) -> int:
    parts = await asyncio.to_thread(prepare_ivr, settings)
    node = ControllerNode(
        settings,
        parts.prompts,
        menus=parts.menus,
        calendars=parts.calendars,
        caller_tiers=True,
        queues=parts.queues,
        shifts=parts.shifts,
    )
    await node.start()
    web = None
    if settings.web.enabled:
        from hotline.web import start_web

        web = await start_web(settings)
    # Everything loaded so far lives as long as the process: move it out of the
    # collector's reach, so a full collection under load scans the calls' objects only
    # (measured: docs/performance.md, 2026-11-26).
    gc.collect()
    gc.freeze()
    log.info(
        "controller %s running against %s (app %s), menu %s version %s",
        settings.node.name,
        settings.ari.url,
        settings.ari.app,
        parts.menus.current.name,
        parts.menus.current.version,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down")
    if web is not None:
        from hotline.web import stop_web

        await stop_web(web)
    await node.stop()
    return 0
