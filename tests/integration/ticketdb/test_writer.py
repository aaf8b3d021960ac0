"""RecordWriter: ordered, off-loop application of record operations, through outages."""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from ticketdb import call_log
from ticketdb.engine import make_engine, make_sessionmaker
from ticketdb.migrate import upgrade
from ticketdb.models import Call
from ticketdb.writer import RecordWriter

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
NODE = "node-a"


@pytest.fixture
def writer(engine: Engine) -> Iterator[RecordWriter]:
    w = RecordWriter(engine, retry_initial=0.005, retry_max=0.02)
    w.start()
    yield w
    w.close(timeout=2.0)


def start_op(channel_id: str, seconds: float = 0) -> Callable[[Session], None]:
    return functools.partial(
        call_log.start_call,
        node=NODE,
        channel_id=channel_id,
        started_at=T0 + timedelta(seconds=seconds),
        caller_number="+100",
        caller_name="",
        dialled_number="6000",
        language="en",
        state=None,
    )


def end_op(channel_id: str, reason: str = "caller_hangup") -> Callable[[Session], None]:
    return functools.partial(
        call_log.end_call,
        node=NODE,
        channel_id=channel_id,
        ended_at=T0 + timedelta(seconds=60),
        hangup_cause=16,
        hangup_cause_text="Normal Clearing",
        hangup_side="caller",
        end_reason=reason,
    )


def db_down() -> OperationalError:
    return OperationalError("INSERT INTO calls ...", {}, Exception("connection refused"))


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.001)


async def test_applies_in_submission_order_and_drains(
    writer: RecordWriter, sessions: sessionmaker[Session]
) -> None:
    seen: list[int] = []
    for i in range(50):

        def op(s: Session, i: int = i) -> None:
            seen.append(i)
            start_op(f"c{i}", i)(s)
            if i % 2:
                end_op(f"c{i}")(s)

        writer.submit(op)
    await writer.drain(10)
    assert seen == list(range(50))
    assert (writer.applied, writer.retries, writer.dropped, writer.backlog) == (50, 0, 0, 0)
    with sessions() as s:
        assert call_log.count_calls(s) == 50
        assert len(call_log.open_calls(s, NODE)) == 25


async def test_each_op_gets_a_fresh_session(writer: RecordWriter) -> None:
    got: list[Session] = []
    writer.submit(got.append)
    writer.submit(got.append)
    await writer.drain(5)
    assert len(got) == 2 and got[0] is not got[1]


async def test_drain_with_nothing_pending_returns_at_once(engine: Engine) -> None:
    w = RecordWriter(engine)  # not even started
    await w.drain(0.01)


async def test_drain_times_out_then_completes(writer: RecordWriter) -> None:
    release = threading.Event()
    writer.submit(lambda s: release.wait(10))
    writer.submit(start_op("after"))
    with pytest.raises(TimeoutError):
        await writer.drain(0.05)
    assert writer.backlog == 2
    release.set()
    await writer.drain(5)
    assert writer.backlog == 0 and writer.applied == 2


async def test_drain_does_not_block_the_event_loop(writer: RecordWriter) -> None:
    release = threading.Event()
    writer.submit(lambda s: release.wait(10))
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while not release.is_set():
            ticks += 1
            if ticks == 5:
                release.set()  # only reachable if the loop runs while drain waits
            await asyncio.sleep(0)

    await asyncio.gather(writer.drain(5), ticker())
    assert ticks >= 5 and writer.backlog == 0


async def test_retries_through_an_outage_in_order(
    writer: RecordWriter, sessions: sessionmaker[Session]
) -> None:
    events: list[str] = []
    attempts: list[float] = []

    def flaky(s: Session) -> None:
        attempts.append(time.monotonic())
        if len(attempts) <= 3:
            events.append("fail")
            raise db_down()
        start_op("c1")(s)
        events.append("start")

    def after(s: Session) -> None:
        end_op("c1")(s)
        events.append("end")

    writer.submit(flaky)
    writer.submit(after)
    await writer.drain(10)
    # The failing op held back the one behind it: nothing lost, nothing reordered.
    assert events == ["fail", "fail", "fail", "start", "end"]
    assert (writer.applied, writer.retries, writer.dropped) == (2, 3, 0)
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert all(g >= expected * 0.9 for g, expected in zip(gaps, (0.005, 0.01, 0.02), strict=True))
    with sessions() as s:
        rec = call_log.get_call(s, NODE, "c1")
        assert rec is not None and rec.is_complete


async def test_backoff_is_capped(engine: Engine) -> None:
    w = RecordWriter(engine, retry_initial=0.005, retry_max=0.02)
    attempts: list[float] = []

    def flaky(s: Session) -> None:
        attempts.append(time.monotonic())
        if len(attempts) <= 8:
            raise db_down()

    w.start()
    try:
        w.submit(flaky)
        await w.drain(10)
    finally:
        w.close()
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert len(gaps) == 8
    assert min(gaps[3:]) >= 0.018  # doubled up to the cap …
    # … and no further: uncapped, the last waits alone would take 0.32 s + 0.64 s.
    assert sum(gaps) < 0.9


async def test_retries_a_real_postgres_connection_loss(pg_url: str) -> None:
    upgrade(pg_url)
    engine = make_engine(pg_url)
    admin = sa.create_engine(pg_url)
    calls = 0

    def killed_midway(s: Session) -> None:
        nonlocal calls
        calls += 1
        start_op("c1")(s)
        if calls == 1:
            pid = s.connection().exec_driver_sql("select pg_backend_pid()").scalar_one()
            with admin.begin() as conn:
                conn.execute(sa.text("select pg_terminate_backend(:pid)"), {"pid": pid})
            s.execute(sa.text("select 1"))  # the server is gone from under this session

    w = RecordWriter(engine, retry_initial=0.01, retry_max=0.05)
    w.start()
    try:
        w.submit(killed_midway)
        w.submit(end_op("c1"))
        await w.drain(10)
    finally:
        w.close()
        admin.dispose()
    assert calls == 2
    assert (w.applied, w.retries, w.dropped) == (2, 1, 0)
    try:
        with make_sessionmaker(engine)() as s:
            rec = call_log.get_call(s, NODE, "c1")
            assert rec is not None and rec.is_complete
            assert call_log.count_calls(s) == 1
    finally:
        engine.dispose()


async def test_programming_errors_are_logged_dropped_and_skipped(
    writer: RecordWriter, sessions: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    def buggy(s: Session) -> None:
        raise TypeError("bad op")

    def violates_not_null(s: Session) -> None:
        # IntegrityError is a DBAPIError too, but no retry could ever fix it.
        s.add(Call(node="n", channel_id=None, started_at=T0))
        s.flush()

    with caplog.at_level(logging.ERROR, logger="ticketdb.writer"):
        writer.submit(buggy)
        writer.submit(functools.partial(call_log.update_call, node=NODE, channel_id="x", bad=1))
        writer.submit(violates_not_null)
        writer.submit(start_op("c1"))
        await writer.drain(10)
    assert (writer.applied, writer.retries, writer.dropped) == (1, 0, 3)
    dropped = [r for r in caplog.records if "dropped" in r.getMessage()]
    assert len(dropped) == 3 and all(r.exc_info for r in dropped)
    with sessions() as s:
        assert call_log.count_calls(s) == 1


async def test_submit_from_many_threads_keeps_each_threads_order(writer: RecordWriter) -> None:
    seen: list[tuple[int, int]] = []

    def submitter(t: int) -> None:
        for i in range(100):

            def op(s: Session, t: int = t, i: int = i) -> None:
                seen.append((t, i))

            writer.submit(op)

    threads = [threading.Thread(target=submitter, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    await writer.drain(10)
    assert len(seen) == 400
    for t in range(4):
        assert [i for tt, i in seen if tt == t] == list(range(100))


def test_close_applies_what_is_queued(engine: Engine, sessions: sessionmaker[Session]) -> None:
    w = RecordWriter(engine)
    for i in range(20):
        w.submit(start_op(f"c{i}"))  # queued before the thread even runs
    w.start()
    w.close(timeout=10)
    assert (w.applied, w.backlog) == (20, 0)
    with pytest.raises(RuntimeError):
        w.submit(start_op("late"))
    with sessions() as s:
        assert call_log.count_calls(s) == 20


def test_close_is_bounded_while_the_database_is_down(engine: Engine) -> None:
    w = RecordWriter(engine, retry_initial=0.01, retry_max=0.05)

    def never(s: Session) -> Any:
        raise db_down()

    w.start()
    w.submit(never)
    w.submit(start_op("c1"))
    wait_until(lambda: w.retries >= 2)
    began = time.monotonic()
    w.close(timeout=0.2)
    assert time.monotonic() - began < 2.0
    assert w._thread is not None and not w._thread.is_alive()
    assert (w.applied, w.backlog) == (0, 2)
