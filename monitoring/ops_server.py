"""The controller's own operations endpoint: ``/healthz`` and ``/metrics`` over HTTP.

Served by aiohttp on the node's event loop at ``ops.host:ops.port`` (9090; 0: none), so
it answers whether or not the web page runs in the process. The checks and the database
gauges block (SQL), so they run in a worker thread; the loop keeps serving calls.

* ``GET /healthz`` — readiness (``monitoring.health``): 200 ``{"status": "ok", …}`` or 503
  ``{"status": "degraded", …}``; ``/healthz?live=1`` — liveness only (always 200 while
  the process can answer).
* ``GET /metrics`` — Prometheus text format 0.0.4 (``monitoring.node_metrics``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Protocol

from aiohttp import web

from monitoring import health
from monitoring.metrics import CONTENT_TYPE

if TYPE_CHECKING:
    from monitoring.node_metrics import NodeMetrics


class ServedNode(health.CheckedNode, Protocol):
    """What the endpoint reads of a controller node: its checks and its metrics."""

    @property
    def metrics(self) -> NodeMetrics: ...


log = logging.getLogger(__name__)


class OpsServer:
    """``/healthz`` and ``/metrics`` of ``node`` on ``host:port`` (0: any free port)."""

    def __init__(self, node: ServedNode, host: str, port: int) -> None:
        self.node = node
        self.host = host
        self._port = port
        self._runner: web.AppRunner | None = None

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        shown = "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host
        return f"http://{shown}:{self._port}"

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        return app

    async def start(self) -> None:
        """Bind and serve; OSError when the port is taken."""
        runner = web.AppRunner(self.make_app(), handle_signals=False, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self._port = int(sockets[0].getsockname()[1])
        log.info("health and metrics on %s/healthz and %s/metrics", self.url, self.url)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _healthz(self, request: web.Request) -> web.Response:
        if request.query.get("live") not in (None, "", "0"):
            return web.json_response({"status": "ok", "checks": {"process": health.liveness()}})
        timeout = self.node.settings.ops.db_timeout
        checks = await asyncio.to_thread(health.node_checks, self.node, timeout)
        status, body = health.report(checks)
        return web.json_response(body, status=status)

    async def _metrics(self, request: web.Request) -> web.Response:
        text = await asyncio.to_thread(self.node.metrics.registry.render)
        return web.Response(body=text.encode(), headers={"Content-Type": CONTENT_TYPE})


async def start_ops(node: ServedNode) -> OpsServer | None:
    """The node's endpoint as configured; None when ``ops.port`` is 0 or the port is taken
    (monitoring must never keep the hotline from answering calls: logged as an error)."""
    ops = node.settings.ops
    if ops.port == 0:
        return None
    server = OpsServer(node, ops.host, ops.port)
    try:
        await server.start()
    except OSError as exc:
        log.error("no /healthz and /metrics: cannot listen on %s:%s (%s)", ops.host, ops.port, exc)
        return None
    return server
