"""The whole hotline in one process: the ARI simulator, a controller node running the live
menus and queues, and the web page on the production WSGI server.

``hotline demo`` runs one for a newcomer; the browser tests run one per test. The node and
the web app talk to the simulator exactly as they would to Asterisk (over HTTP and the
events WebSocket); only the demo-only softphone page reaches into the simulator, through
the line this wiring hands the web app (``app.extensions["hotline.softphone"]``).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

from hotline.node import ControllerNode, IvrParts, prepare_ivr
from hotline.softphone_line import SoftphoneLine
from kernel.settings import Settings
from simulator.server import AriSimulator

log = logging.getLogger(__name__)


@dataclass
class SiteOptions:
    """How the site differs from ``hotline run``: ``calendars``/``shifts`` replace the
    configured ones when given (the demo's --hours), ``web_port`` overrides web.port
    (0: any free port), ``demo`` registers the demo-only pages."""

    calendars: Any = None
    use_configured_calendars: bool = True
    shifts: Any = None
    use_configured_shifts: bool = True
    web: bool = True
    web_port: int | None = None
    demo: bool = False
    web_config: dict[str, Any] = field(default_factory=dict)


class HotlineSite:
    def __init__(self, settings: Settings, options: SiteOptions | None = None) -> None:
        self.options = options or SiteOptions()
        self.settings = settings
        self.parts: IvrParts | None = None
        self.sim: AriSimulator | None = None
        self.node: ControllerNode | None = None
        self.web: Any = None  # webapp.server.WebServer

    @property
    def url(self) -> str:
        return str(self.web.url) if self.web is not None else ""

    async def start(self) -> None:
        """Build prompts, start the simulator (a fresh random ARI password each time: no
        secret is stored), the node, and the web page."""
        settings, opts = self.settings, self.options
        settings.paths.data_dir.mkdir(parents=True, exist_ok=True)
        password = secrets.token_urlsafe(16)
        self.parts = parts = await asyncio.to_thread(prepare_ivr, settings)
        self.sim = sim = AriSimulator(
            username=settings.ari.username,
            password=password,
            sounds_dir=settings.paths.prompts_dir,
            recordings_dir=settings.paths.data_dir / "simulator-recordings",
        )
        await sim.start(host="127.0.0.1", port=0)
        ari = settings.ari.model_copy(update={"url": sim.base_url, "password": password})
        self.settings = settings = settings.model_copy(update={"ari": ari})
        self.node = node = ControllerNode(
            settings,
            parts.prompts,
            menus=parts.menus,
            calendars=parts.calendars if opts.use_configured_calendars else opts.calendars,
            caller_tiers=True,
            queues=parts.queues,
            shifts=parts.shifts if opts.use_configured_shifts else opts.shifts,
        )
        await node.start()
        await node.wait_connected()
        if opts.web:
            from hotline.web import start_web

            self.web = await start_web(
                settings,
                port=opts.web_port,
                config={"HOTLINE_DEMO": opts.demo, **opts.web_config},
                extensions={
                    "hotline.softphone": SoftphoneLine(
                        sim, asyncio.get_running_loop(), settings.ari.app
                    ),
                    "hotline.node": node,
                },
            )

    async def stop(self) -> None:
        if self.web is not None:
            from hotline.web import stop_web

            await stop_web(self.web)
            self.web = None
        if self.node is not None:
            await self.node.stop()
            self.node = None
        if self.sim is not None:
            await self.sim.stop()
            self.sim = None
