"""Liveness and readiness of a hotline process, as JSON for ``/healthz``.

Liveness: the process answers at all. Readiness: it can do its work — the ARI events
socket is up (a controller that hears no events serves no calls), the database answers
``SELECT 1`` quickly, and the scheduler's lease thread runs (when the scheduler is on;
holding the lease is not required: another node may hold it).

``report`` turns the checks into ``(HTTP status, body)``: 200 and ``"ok"`` when every
check passes, else 503 and ``"degraded"`` (load balancers and Kubernetes probes read
the status; people read ``checks``).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy as sa

if TYPE_CHECKING:
    from datetime import datetime

    from ivr.ari.stream import EventStream
    from kernel.settings import Settings

Check = dict[str, Any]


class Scheduler(Protocol):
    """What the check reads of the node's scheduler (``hotline.scheduler.LeaderScheduler``)."""

    @property
    def alive(self) -> bool: ...
    @property
    def running(self) -> bool: ...
    @property
    def lease_held_until(self) -> datetime | None: ...


class CheckedNode(Protocol):
    """What the checks read of a controller node (``hotline.node.ControllerNode``; a
    protocol, so the node can serve its own checks without an import circle)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def stream(self) -> EventStream | None: ...
    @property
    def scheduler(self) -> Scheduler | None: ...
    @property
    def engine(self) -> sa.Engine | None: ...


_STARTED = time.monotonic()


def liveness() -> Check:
    return {"ok": True, "pid": os.getpid(), "uptime_seconds": round(time.monotonic() - _STARTED, 1)}


def check_database(engine: sa.Engine | None, timeout: float) -> Check:
    """``SELECT 1`` within ``timeout`` seconds.

    Run in a daemon thread and waited for at most ``timeout``: a database that hangs
    (a half-open connection, a full pool) must not hang the probe as well.
    """
    if engine is None:
        return {"ok": False, "error": "not started"}
    result: dict[str, Any] = {}

    def probe() -> None:
        started = time.perf_counter()
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            result["ok"] = True
        except Exception as exc:  # any failure means "not reachable" to a probe
            result["ok"] = False
            result["error"] = (
                f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            )
        result["seconds"] = round(time.perf_counter() - started, 4)

    thread = threading.Thread(target=probe, name="healthz-db", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive() or "ok" not in result:
        return {"ok": False, "error": f"no answer within {timeout:g}s"}
    return dict(result)


def check_ari(node: CheckedNode) -> Check:
    stream = node.stream
    if stream is None:
        return {"ok": False, "error": "not started"}
    out: Check = {
        "ok": bool(stream.connected),
        "connects": stream.connects,
        "disconnects": stream.disconnects,
    }
    if stream.last_disconnect_reason:
        out["last_disconnect"] = stream.last_disconnect_reason
    return out


def check_scheduler(node: CheckedNode) -> Check | None:
    """None when this node runs no scheduler (``scheduler.enabled = false``)."""
    if not node.settings.scheduler.enabled:
        return None
    scheduler = node.scheduler
    if scheduler is None:
        return {"ok": False, "error": "not started"}
    held = scheduler.lease_held_until
    return {
        "ok": scheduler.alive,
        "holds_lease": scheduler.running,
        "lease_held_until": held.isoformat() if held is not None else None,
    }


def node_checks(node: CheckedNode, db_timeout: float) -> dict[str, Check]:
    """A controller node's readiness checks (blocking: call from a thread)."""
    checks: dict[str, Check] = {
        "process": liveness(),
        "ari": check_ari(node),
        "database": check_database(node.engine, db_timeout),
    }
    scheduler = check_scheduler(node)
    if scheduler is not None:
        checks["scheduler"] = scheduler
    return checks


def report(checks: Mapping[str, Check]) -> tuple[int, dict[str, Any]]:
    ok = all(bool(c.get("ok")) for c in checks.values())
    return (200 if ok else 503), {"status": "ok" if ok else "degraded", "checks": dict(checks)}
