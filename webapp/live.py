"""Live pages: Server-Sent Events fed by one watcher thread per web process.

The controller and the web app share only the database, so the watcher polls a cheap
fingerprint of what live pages show (seat states, agents' phones, the queue, calls,
tickets, alerts, callbacks) every ``interval`` seconds and bumps ``version`` when it
changes. Each open stream waits on that (no database work per stream while nothing
happens), then sends its page an event; pages fetch what they show from the JSON API,
so an event carries no data the page's own permissions would not give it.

Why polling rather than PostgreSQL LISTEN/NOTIFY: it works the same on SQLite (the
embedded default), survives any writer (controller, CLI, scheduler) without each one
having to notify, and a few small queries a second are nothing next to the call traffic.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

from flask import Flask, Response, current_app, stream_with_context
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ticketdb.models import (
    AgentPhone,
    Call,
    CallbackRequest,
    LeadAlert,
    QueueEntry,
    SeatState,
    Ticket,
)

log = logging.getLogger(__name__)
_KEY = "hotline.live"
# A comment line this often keeps proxies from closing an idle stream and lets the
# server notice a closed browser tab.
KEEPALIVE_SECONDS = 15.0


def fingerprint(s: Session) -> tuple[Any, ...]:
    """What changes whenever anything a live page shows changes."""
    seats = tuple(
        s.execute(select(SeatState.agent_id, SeatState.version).order_by(SeatState.agent_id)).all()
    )
    # Every node's view of every phone, as shown (reachable, why not, busy): a row
    # written, changed or dropped (a node stopping) changes the pages' phone status.
    phones = tuple(
        s.execute(
            select(
                AgentPhone.agent_id,
                AgentPhone.node,
                AgentPhone.reachable,
                AgentPhone.channels > 0,
                AgentPhone.reason,
            ).order_by(AgentPhone.agent_id, AgentPhone.node)
        ).all()
    )
    queue = s.execute(select(func.count(), func.max(QueueEntry.updated_at))).one()
    calls = s.execute(select(func.max(Call.id), func.max(Call.updated_at))).one()
    tickets = s.execute(select(func.max(Ticket.id), func.max(Ticket.updated_at))).one()
    alerts = s.execute(select(func.max(LeadAlert.id), func.count(LeadAlert.cleared_at))).one()
    callbacks = s.execute(
        select(
            func.max(CallbackRequest.id),
            func.count(CallbackRequest.completed_at),
            func.max(CallbackRequest.last_attempt_at),
        )
    ).one()
    return (
        seats,
        phones,
        tuple(queue),
        tuple(calls),
        tuple(tickets),
        tuple(alerts),
        tuple(callbacks),
    )


class ChangeWatcher:
    """Polls ``fingerprint`` in a daemon thread; ``wait_for_change`` blocks callers until
    ``version`` moves past the one they saw."""

    def __init__(self, sessions: sessionmaker[Session], interval: float = 0.25) -> None:
        self._sessions = sessions
        self._interval = interval
        self._cond = threading.Condition()
        self._version = 0
        self._last: tuple[Any, ...] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def version(self) -> int:
        with self._cond:
            return self._version

    def start(self) -> None:
        with self._cond:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="live-watcher", daemon=True)
            self._thread.start()

    @property
    def running(self) -> bool:
        """Whether the polling thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def stop(self, join_timeout: float = 5.0) -> None:
        """Stop polling and wake every waiting stream; waits for an in-flight poll so
        no query runs after the app's engine is disposed."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(join_timeout)

    def poke(self) -> None:
        """Count a change now (the web app's own writes need not wait for the poll)."""
        with self._cond:
            self._version += 1
            self._cond.notify_all()

    def wait_for_change(self, seen: int, timeout: float) -> int:
        """The version, once it differs from ``seen`` or after ``timeout`` seconds."""
        self.start()
        with self._cond:
            self._cond.wait_for(
                lambda: self._version != seen or self._stop.is_set(), timeout=timeout
            )
            return self._version

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                with self._sessions() as s:
                    current = fingerprint(s)
            except Exception:  # a DB hiccup: pages keep their last view, we retry
                log.warning("live watcher: database poll failed", exc_info=True)
                continue
            if current != self._last:
                self._last = current
                self.poke()


def init_app(app: Flask, sessions: sessionmaker[Session], interval: float = 0.25) -> ChangeWatcher:
    watcher = ChangeWatcher(sessions, interval)
    app.extensions[_KEY] = watcher
    return watcher


def stop_watcher(app: Flask) -> None:
    """Stop ``app``'s watcher, if it has one (ends its open event streams too)."""
    found = app.extensions.get(_KEY)
    if isinstance(found, ChangeWatcher):
        found.stop()


def watcher() -> ChangeWatcher:
    found: ChangeWatcher = current_app.extensions[_KEY]
    return found


def sse_event(name: str, data: Any) -> str:
    """One Server-Sent Event (``data`` as JSON on one line)."""
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'), default=str)}\n\n"


def event_stream(
    render: Callable[[], list[tuple[str, Any]]], *, max_seconds: float | None = None
) -> Response:
    """A text/event-stream response: ``render()`` (run in the request's context, with a
    fresh view of the database) gives the events to send; it runs at once and then after
    every change. Events equal to the last ones sent are not sent again.

    ``max_seconds`` ends the stream (the browser's EventSource reconnects by itself),
    so a worker thread is never held forever by a forgotten tab.
    """
    w = watcher()

    def generate() -> Iterator[str]:
        import time

        from webapp.db import close_session

        started = time.monotonic()
        seen = -1
        last_sent: dict[str, str] = {}
        yield "retry: 1000\n\n"
        # A stopped watcher (the server shutting down) ends every stream at once.
        while (max_seconds is None or time.monotonic() - started < max_seconds) and not w.stopped:
            version = w.version
            if version != seen:
                seen = version
                close_session()  # a fresh transaction sees the latest rows
                for name, data in render():
                    text = sse_event(name, data)
                    if last_sent.get(name) != text:
                        last_sent[name] = text
                        yield text
            if w.wait_for_change(seen, KEEPALIVE_SECONDS) == seen:
                yield ": keep-alive\n\n"

    response = Response(stream_with_context(generate()), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"
    return response
