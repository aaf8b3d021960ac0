"""What a hotline process reports to Prometheus: the controller's own figures, the shared
state in the database, and the process itself.

* ``NodeMetrics`` — one per ``ControllerNode``: the event-handling latency histogram
  (observed by the controller's dispatcher for every ARI event: arrival → handling done,
  i.e. the commands issued) and collectors that read the counters the node's parts keep
  where things happen (calls started in the controller, records applied by the record
  writer, reconnects in the event stream …).
* ``database_collector`` — queue lengths, agents by state, the notification outbox and
  open call records, as the database has them (all nodes together). Read at scrape time.
* ``process_collector`` — resident memory, open file descriptors, CPU seconds (Linux
  ``/proc``), the figures a soak test watches for leaks.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from agents.queue_store import QUEUED
from monitoring.metrics import Collector, Family, Histogram, LabelValues, Registry, family
from ticketdb.models import SEAT_STATES, Call, Notification, QueueEntry, SeatState

if TYPE_CHECKING:
    import sqlalchemy as sa

    from agents.queue_config import QueueCatalog
    from ivr.ari.stream import EventStream
    from ivr.runtime.controller import Controller
    from ticketdb.writer import RecordWriter


class MeteredNode(Protocol):
    """What the metrics read of a controller node (``hotline.node.ControllerNode``; a
    protocol, so the node can own its metrics without an import circle)."""

    @property
    def engine(self) -> sa.Engine | None: ...
    @property
    def queues(self) -> QueueCatalog | None: ...
    @property
    def controller(self) -> Controller | None: ...
    @property
    def stream(self) -> EventStream | None: ...
    @property
    def writer(self) -> RecordWriter | None: ...


# Seconds; 0.02 is the capacity target (p99 event-to-command under 20 ms).
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def event_latency_histogram() -> Histogram:
    return Histogram(
        "hotline_event_handling_seconds",
        "Seconds from an ARI event's arrival to the end of its handling (commands issued)",
        LATENCY_BUCKETS,
    )


class NodeMetrics:
    """The metrics of one controller node; ``registry`` is what /metrics renders."""

    def __init__(self, node: MeteredNode) -> None:
        self.node = node
        self._sessionmaker: sessionmaker[Session] | None = None
        self.event_latency = event_latency_histogram()
        self.registry = Registry()
        self.registry.register(self.event_latency)
        self.registry.add_collector(self.collect_runtime)
        self.registry.add_collector(database_collector(self._sessions, lambda: self._queue_names()))
        self.registry.add_collector(process_collector())

    def _sessions(self) -> Session:
        if self._sessionmaker is None:
            if self.node.engine is None:
                raise RuntimeError("the node has no database engine yet")
            self._sessionmaker = sessionmaker(self.node.engine)
        return self._sessionmaker()

    def _queue_names(self) -> Iterable[str]:
        queues = self.node.queues
        return queues.queues.keys() if queues is not None else ()

    def collect_runtime(self) -> Iterable[Family]:
        """The node's in-memory counters (no I/O: cheap and always available)."""
        # Scrapes run in a worker thread while the event loop changes these dicts; a
        # dict that changed size mid-iteration is simply read again.
        for _ in range(5):
            try:
                return self._runtime()
            except RuntimeError:
                continue
        return self._runtime()

    def _runtime(self) -> list[Family]:
        node = self.node
        controller, stream, writer = node.controller, node.stream, node.writer
        out: list[Family] = []
        if controller is not None:
            stats = controller.stats
            live = sum(1 for s in list(controller.sessions.values()) if not s.finished)
            out += [
                family("hotline_calls_in_progress", "gauge", "Calls this node handles now", live),
                family(
                    "hotline_calls_started_total",
                    "counter",
                    "Calls this node took on (StasisStart)",
                    stats.calls_started,
                ),
                family(
                    "hotline_calls_adopted_total",
                    "counter",
                    "Calls taken over after a restart",
                    stats.calls_adopted,
                ),
                family(
                    "hotline_calls_finished_total",
                    "counter",
                    "Calls this node finished, by end reason",
                    {(reason,): n for reason, n in dict(stats.finish_reasons).items()},
                    ("reason",),
                ),
                family(
                    "hotline_handler_errors_total",
                    "counter",
                    "Errors while handling a call's event (each sent the caller to the apology)",
                    stats.handler_errors,
                ),
                family(
                    "hotline_reconciles_total",
                    "counter",
                    "Reconciliations with Asterisk after (re)connects",
                    stats.reconciles,
                ),
                family(
                    "hotline_dispatch_backlog",
                    "gauge",
                    "Events and inputs queued for handling",
                    controller.dispatcher.backlog,
                ),
            ]
        if stream is not None:
            out += [
                family(
                    "hotline_ari_connected",
                    "gauge",
                    "1 while the ARI events socket is up",
                    1 if stream.connected else 0,
                ),
                family(
                    "hotline_ari_reconnects_total",
                    "counter",
                    "Times the ARI events socket was connected again after a loss",
                    max(stream.connects - 1, 0),
                ),
                family(
                    "hotline_ari_events_total",
                    "counter",
                    "ARI events received",
                    stream.events,
                ),
                family(
                    "hotline_ari_malformed_events_total",
                    "counter",
                    "ARI messages that were not well-formed events (logged and skipped)",
                    stream.malformed,
                ),
            ]
        if writer is not None:
            out += [
                family(
                    "hotline_records_written_total",
                    "counter",
                    "Call-record operations committed by the record writer",
                    writer.applied,
                ),
                family(
                    "hotline_record_write_retries_total",
                    "counter",
                    "Record writes retried while the database was unavailable",
                    writer.retries,
                ),
                family(
                    "hotline_record_writes_dropped_total",
                    "counter",
                    "Record writes that failed for good (logged)",
                    writer.dropped,
                ),
                family(
                    "hotline_record_writer_backlog",
                    "gauge",
                    "Call-record operations waiting for the database",
                    writer.backlog,
                ),
            ]
        return out


def database_collector(
    sessions: Callable[[], Session], queue_names: Callable[[], Iterable[str]] | None = None
) -> Collector:
    """Gauges of the shared state; every configured queue is listed, empty ones as 0."""

    def collect() -> Iterable[Family]:
        with sessions() as s:
            queued = dict(
                s.execute(
                    select(QueueEntry.queue, func.count())
                    .where(QueueEntry.status.in_(QUEUED))
                    .group_by(QueueEntry.queue)
                ).all()
            )
            seats = dict(
                s.execute(select(SeatState.state, func.count()).group_by(SeatState.state)).all()
            )
            outbox = dict(
                s.execute(
                    select(Notification.channel, func.count())
                    .where(Notification.status == "pending")
                    .group_by(Notification.channel)
                ).all()
            )
            open_calls = s.scalar(
                select(func.count()).select_from(Call).where(Call.ended_at.is_(None))
            )
        names = set(queue_names()) if queue_names is not None else set()
        lengths: dict[LabelValues, float] = {
            (q,): float(queued.get(q, 0)) for q in names | set(queued)
        }
        agents: dict[LabelValues, float] = {
            (st,): float(seats.get(st, 0)) for st in (*SEAT_STATES, *seats)
        }
        pending: dict[LabelValues, float] = {
            (ch,): float(outbox.get(ch, 0)) for ch in ("email", "inapp", *outbox)
        }
        return [
            family(
                "hotline_queue_length",
                "gauge",
                "Calls and callbacks in each queue (waiting, offered, dialling)",
                lengths,
                ("queue",),
            ),
            family("hotline_agents", "gauge", "Agents by seat state", agents, ("state",)),
            family(
                "hotline_outbox_pending",
                "gauge",
                "Notifications not yet delivered (e-mail) or not yet read (in-app)",
                pending,
                ("channel",),
            ),
            family(
                "hotline_open_call_records",
                "gauge",
                "Call records not yet completed (all nodes)",
                float(open_calls or 0),
            ),
        ]

    return collect


def process_collector() -> Collector:
    page = resource.getpagesize()

    def collect() -> Iterable[Family]:
        out: list[Family] = []
        statm = Path("/proc/self/statm")
        if statm.exists():
            rss_pages = int(statm.read_text().split()[1])
            out.append(
                family(
                    "process_resident_memory_bytes",
                    "gauge",
                    "Resident memory size in bytes",
                    rss_pages * page,
                )
            )
        fd_dir = Path("/proc/self/fd")
        if fd_dir.exists():
            out.append(
                family(
                    "process_open_fds",
                    "gauge",
                    "Open file descriptors",
                    len(os.listdir(fd_dir)),
                )
            )
        times = os.times()
        out.append(
            family(
                "process_cpu_seconds_total",
                "counter",
                "User and system CPU time spent, in seconds",
                times.user + times.system,
            )
        )
        return out

    return collect
