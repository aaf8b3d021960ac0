"""The web page inside a controller process: the Flask app on the cheroot WSGI server,
started and stopped with the node (``hotline run``, ``hotline demo``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from kernel.settings import Settings

log = logging.getLogger(__name__)


async def start_web(
    settings: Settings,
    *,
    port: int | None = None,
    config: Mapping[str, Any] | None = None,
    extensions: Mapping[str, Any] | None = None,
) -> Any:
    """Build the app (``config`` added to its Flask config, ``extensions`` to its
    extensions) and serve it on ``web.host:web.port`` (or ``port``); returns the running
    ``webapp.server.WebServer``. Raises SettingsError without a secret key, OSError when
    the port is taken."""
    from webapp import create_app
    from webapp.server import WebServer

    def build() -> Any:
        # The config goes in before the page areas register (the softphone: demo only).
        app = create_app(settings, test_config=config or {})
        app.extensions.update(extensions or {})
        server = WebServer(
            app,
            settings.web.host,
            settings.web.port if port is None else port,
            threads=settings.web.threads,
        )
        server.start()
        return server

    return await asyncio.to_thread(build)


async def stop_web(server: Any) -> None:
    await asyncio.to_thread(server.stop)
