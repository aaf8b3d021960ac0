"""Live updates: the change watcher sees writes from anywhere (another connection, as the
controller would make them), and an event stream served by the real WSGI server reaches a
client chunk by chunk, not when the response ends."""

from __future__ import annotations

import http.client
import time
from datetime import UTC, datetime

from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from agents import phone_store, seat_store
from agents.phone_store import PhoneSeen
from tests.integration.webapp.conftest import make_agent
from webapp import close_app
from webapp.db import resources
from webapp.live import ChangeWatcher, event_stream, watcher
from webapp.server import WebServer


def test_the_watcher_counts_a_change_made_by_another_writer(
    app: Flask, sessions: sessionmaker[Session]
) -> None:
    agent_id = make_agent(sessions, "8001")
    w = ChangeWatcher(resources(app).sessions, interval=0.05)
    w.start()
    try:
        first = w.wait_for_change(0, timeout=5)  # the first poll takes its fingerprint
        assert w.wait_for_change(first, timeout=0.3) == first  # nothing happened
        with sessions() as s:
            seat_store.set_state(
                s, agent_id=agent_id, to_state="available", by="system", now=datetime.now(UTC)
            )
        assert w.wait_for_change(first, timeout=5) != first
    finally:
        w.stop()


def test_the_watcher_counts_a_phone_going_offline_busy_back_and_its_node_stopping(
    app: Flask, sessions: sessionmaker[Session]
) -> None:
    """The pages show each agent's phone (``agent_phones``): every change a controller
    writes there, or a node's rows going with it, must wake the live pages."""
    agent_id = make_agent(sessions, "8001")
    w = ChangeWatcher(resources(app).sessions, interval=0.05)
    w.start()
    now = datetime.now(UTC)
    try:
        seen = w.wait_for_change(0, timeout=5)
        steps = [
            ("n1", PhoneSeen(agent_id, "PJSIP/8001", False, reason="not registered (offline)")),
            ("n1", PhoneSeen(agent_id, "PJSIP/8001", False, reason="Could not create dialog")),
            ("n1", PhoneSeen(agent_id, "PJSIP/8001", True, channels=1)),
            ("n1", PhoneSeen(agent_id, "PJSIP/8001", True)),
            ("n2", PhoneSeen(agent_id, "PJSIP/8001", False, reason="not registered (offline)")),
        ]
        for node, seen_phone in steps:
            # The same instant each time: the change itself must show, not the clock.
            with sessions() as s:
                phone_store.record(s, node, [seen_phone], now)
            changed = w.wait_for_change(seen, timeout=5)
            assert changed != seen, f"no change counted for {node}: {seen_phone}"
            seen = changed
        with sessions() as s:
            phone_store.forget_node(s, "n2")
        assert w.wait_for_change(seen, timeout=5) != seen
    finally:
        w.stop()


def test_an_event_stream_arrives_event_by_event_over_the_real_server(
    app: Flask, sessions: sessionmaker[Session]
) -> None:
    agent_id = make_agent(sessions, "8001")

    def state() -> list[tuple[str, object]]:
        with sessions() as s:
            return [("seat", seat_store.get_seat(s, agent_id).state)]

    app.add_url_rule("/live/test", "live_test", lambda: event_stream(state, max_seconds=20))
    server = WebServer(app, "127.0.0.1", 0, threads=4)
    server.start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("GET", "/live/test")
        response = conn.getresponse()
        assert response.status == 200
        assert response.getheader("Content-Type", "").startswith("text/event-stream")

        def next_event() -> str:
            lines = []
            while True:
                line = response.fp.readline().decode()
                if line.startswith("event:") or line.startswith("data:"):
                    lines.append(line.strip())
                elif line == "\r\n" or line == "\n":
                    if lines:
                        return " ".join(lines)
                elif not line:
                    raise AssertionError("stream ended")

        assert next_event() == 'event: seat data: "offline"'
        started = time.monotonic()
        with sessions() as s:
            seat_store.set_state(
                s, agent_id=agent_id, to_state="available", by="system", now=datetime.now(UTC)
            )
        assert next_event() == 'event: seat data: "available"'
        # The watcher polls every 0.25 s: the change arrives well within a second.
        assert time.monotonic() - started < 1.0
        conn.close()
    finally:
        with app.app_context():
            watcher().stop()
        server.stop()


def test_closing_the_app_stops_its_watcher_so_no_poll_outlives_the_engine(
    app: Flask, sessions: sessionmaker[Session]
) -> None:
    # A poll still running after a test's schema is dropped deadlocked PostgreSQL's
    # DROP SCHEMA in CI; close_app must leave no live-watcher thread behind.
    make_agent(sessions, "8001")
    with app.app_context():
        w = watcher()
    first = w.wait_for_change(-1, timeout=5)  # starts the polling thread
    assert first >= 0 and w.running
    close_app(app)
    assert not w.running
    assert w.stopped
