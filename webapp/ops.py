"""The web app's operations endpoints: ``/healthz`` and ``/metrics`` (no login: probes and
Prometheus call them; neither shows customer data, only counts).

``/healthz`` checks the database (``SELECT 1`` within ``ops.db_timeout``) and, when a
controller node runs in the same process (``hotline run``, ``hotline demo``:
``app.extensions["hotline.node"]``), that node's ARI socket and scheduler as well;
``/healthz?live=1`` only says the process answers. ``/metrics`` has the web app's own
request counts and latencies, the shared state in the database (queues, agents, the
outbox), the process figures and, with an in-process node, the node's figures too.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request

from kernel.settings import Settings
from monitoring import health
from monitoring.metrics import CONTENT_TYPE, Counter, Family, Histogram, Registry
from monitoring.node_metrics import database_collector, process_collector
from webapp import db

bp = Blueprint("ops", __name__)

KEY = "hotline.ops"
NODE_KEY = "hotline.node"

REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class WebMetrics:
    def __init__(self, app: Flask) -> None:
        self.registry = Registry()
        self.requests: Counter = self.registry.counter(
            "hotline_web_requests_total",
            "HTTP requests answered by the web app, by method and status",
            ("method", "status"),
        )
        self.latency: Histogram = self.registry.histogram(
            "hotline_web_request_seconds",
            "Seconds to produce a response (a live stream counts until its first byte)",
            REQUEST_BUCKETS,
        )

        def queue_names() -> Any:
            catalog = db.resources(app).queues
            return catalog.queues.keys() if catalog is not None else ()

        self.registry.add_collector(database_collector(db.resources(app).sessions, queue_names))
        self.registry.add_collector(process_collector())
        self.registry.add_collector(lambda: _node_families(app))


def _node_families(app: Flask) -> list[Family]:
    node = app.extensions.get(NODE_KEY)
    if node is None:
        return []
    return [node.metrics.event_latency.collect(), *node.metrics.collect_runtime()]


def register(app: Flask, settings: Settings) -> None:
    app.extensions[KEY] = WebMetrics(app)
    app.before_request(_start_timer)
    app.after_request(_count)
    app.register_blueprint(bp)


def _metrics() -> WebMetrics:
    found: WebMetrics = current_app.extensions[KEY]
    return found


def _start_timer() -> None:
    g.ops_started = time.perf_counter()


def _count(response: Response) -> Response:
    started = g.get("ops_started")
    m = _metrics()
    m.requests.inc(method=request.method, status=str(response.status_code))
    if started is not None:
        m.latency.observe(time.perf_counter() - started)
    return response


@bp.get("/healthz")
def healthz() -> Any:
    if request.args.get("live") not in (None, "", "0"):
        return jsonify({"status": "ok", "checks": {"process": health.liveness()}})
    settings: Settings = current_app.extensions["hotline.settings"]
    checks = {
        "process": health.liveness(),
        "database": health.check_database(db.resources().engine, settings.ops.db_timeout),
    }
    node = current_app.extensions.get(NODE_KEY)
    if node is not None:
        checks["ari"] = health.check_ari(node)
        scheduler = health.check_scheduler(node)
        if scheduler is not None:
            checks["scheduler"] = scheduler
    status, body = health.report(checks)
    return jsonify(body), status


@bp.get("/metrics")
def metrics() -> Response:
    return Response(_metrics().registry.render(), content_type=CONTENT_TYPE)
