"""Call-record operations: replays converge, the first end wins, nothing is lost."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from ticketdb import call_log
from ticketdb.models import Call

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
NODE = "node-a"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def start(s: Session, channel_id: str = "c1", **overrides: Any) -> None:
    args: dict[str, Any] = {
        "node": NODE,
        "channel_id": channel_id,
        "started_at": at(0),
        "caller_number": "+8613800000001",
        "caller_name": "Zhang San",
        "dialled_number": "6000",
        "language": "zh",
        "state": {"phase": "greeting"},
    }
    args.update(overrides)
    call_log.start_call(s, **args)


def end(s: Session, channel_id: str = "c1", **overrides: Any) -> None:
    args: dict[str, Any] = {
        "node": NODE,
        "channel_id": channel_id,
        "ended_at": at(60),
        "hangup_cause": 16,
        "hangup_cause_text": "Normal Clearing",
        "hangup_side": "caller",
        "end_reason": "caller_hangup",
    }
    args.update(overrides)
    call_log.end_call(s, **args)


def row(s: Session, channel_id: str = "c1") -> Call:
    rec = call_log.get_call(s, NODE, channel_id)
    assert rec is not None
    return rec


def snapshot(rec: Call) -> dict[str, Any]:
    """Every column but the bookkeeping ones."""
    skip = {"id", "updated_at"}
    return {c.key: getattr(rec, c.key) for c in Call.__table__.columns if c.key not in skip}


def lifecycle(s: Session) -> None:
    start(s)
    call_log.answer_call(s, node=NODE, channel_id="c1", answered_at=at(2))
    call_log.update_call(s, node=NODE, channel_id="c1", menu_path=["main"], state={"p": 1})
    call_log.update_call(s, node=NODE, channel_id="c1", menu_path=["main", "2"], queue="sales")
    end(s, wait_seconds=12.5, agent="agent-7")


def test_full_lifecycle_and_its_replay_give_one_identical_record(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as s:
        lifecycle(s)
        first = snapshot(row(s))
        lifecycle(s)  # everything replayed, e.g. after a controller restart
        assert call_log.count_calls(s) == 1
    with sessions() as s:
        rec = row(s)
        assert snapshot(rec) == first
    assert rec.is_complete
    assert (rec.started_at, rec.answered_at, rec.ended_at) == (at(0), at(2), at(60))
    assert rec.menu_path == ["main", "2"]
    assert rec.state == {"p": 1}
    assert (rec.queue, rec.wait_seconds, rec.agent) == ("sales", 12.5, "agent-7")
    assert (rec.hangup_cause, rec.hangup_side, rec.end_reason) == (16, "caller", "caller_hangup")


def test_start_replay_keeps_values_and_only_fills_missing(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        start(s, caller_name="", language="", state=None)
        start(s, caller_name="Li Si", language="en", caller_number="+000", state={"x": 1})
        rec = row(s)
        assert rec.caller_name == "Li Si"
        assert rec.language == "en"
        assert rec.caller_number == "+8613800000001"  # set already: a replay never overwrites
        assert rec.state == {"x": 1}
        start(s, caller_name="Wang Wu", state={"x": 2}, started_at=at(5))
        rec = row(s)
        assert (rec.caller_name, rec.state, rec.started_at) == ("Li Si", {"x": 1}, at(0))
        assert call_log.count_calls(s) == 1


def test_answer_first_one_wins(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        start(s)
        call_log.answer_call(s, node=NODE, channel_id="c1", answered_at=at(2))
        call_log.answer_call(s, node=NODE, channel_id="c1", answered_at=at(9))
        assert row(s).answered_at == at(2)


def test_answer_without_start_inserts_a_minimal_row(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        call_log.answer_call(s, node=NODE, channel_id="c1", answered_at=at(3))
        rec = row(s)
        assert (rec.started_at, rec.answered_at, rec.ended_at) == (at(3), at(3), None)
        # The lost start, replayed late, still contributes its true start and caller.
        start(s)
        rec = row(s)
        assert (rec.started_at, rec.answered_at) == (at(0), at(3))
        assert rec.caller_name == "Zhang San"
        assert call_log.count_calls(s) == 1


def test_update_sets_fields_and_rejects_unknown_ones(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        start(s)
        call_log.update_call(
            s,
            node=NODE,
            channel_id="c1",
            state={"phase": "menu"},
            menu_path=["main"],
            queue="support",
            wait_seconds=3.0,
            agent="a1",
            recording_path="/rec/c1.wav",
            customer_tier="gold",
            language="en",
        )
        rec = row(s)
        assert rec.state == {"phase": "menu"}
        assert (rec.queue, rec.customer_tier, rec.language) == ("support", "gold", "en")
        assert rec.recording_path == "/rec/c1.wav"
        with pytest.raises(TypeError, match="ended_at"):
            call_log.update_call(s, node=NODE, channel_id="c1", ended_at=at(9))
        with pytest.raises(TypeError, match="bogus"):
            call_log.update_call(s, node=NODE, channel_id="c2", bogus=1)
        assert call_log.get_call(s, NODE, "c2") is None
        assert not row(s).is_complete


def test_update_without_start_inserts_a_row_started_now(sessions: sessionmaker[Session]) -> None:
    before = datetime.now(UTC)
    with sessions() as s:
        call_log.update_call(s, node=NODE, channel_id="c1", menu_path=["main"])
        rec = row(s)
    after = datetime.now(UTC)
    assert before - timedelta(seconds=1) <= rec.started_at <= after + timedelta(seconds=1)
    assert rec.menu_path == ["main"]
    assert rec.ended_at is None


def test_update_after_end_changes_nothing(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        start(s)
        end(s, menu_path=["main", "9"])
        final = snapshot(row(s))
        call_log.update_call(s, node=NODE, channel_id="c1", menu_path=["main"], state={"old": 1})
        assert snapshot(row(s)) == final


def test_first_end_wins(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        start(s)
        end(s, ended_at=at(30), end_reason="caller_hangup", menu_path=["main"])
        end(
            s,
            ended_at=at(90),
            end_reason="ended_unobserved",
            hangup_side="unknown",
            hangup_cause=None,
            menu_path=["other"],
        )
        rec = row(s)
        assert (rec.ended_at, rec.end_reason, rec.hangup_side) == (
            at(30),
            "caller_hangup",
            "caller",
        )
        assert rec.hangup_cause == 16
        assert rec.menu_path == ["main"]
        with pytest.raises(TypeError):
            end(s, node_name="x")


def test_end_without_start_inserts_a_complete_row(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        end(s, end_reason="ended_unobserved", hangup_side="unknown", queue="sales")
        rec = row(s)
        assert rec.is_complete
        assert (rec.started_at, rec.ended_at, rec.queue) == (at(60), at(60), "sales")
        start(s)  # the late start fills the caller in without reopening the call
        rec = row(s)
        assert (rec.started_at, rec.ended_at, rec.caller_name) == (at(0), at(60), "Zhang San")
        assert rec.is_complete


def test_end_never_leaves_a_substitute_start_after_the_end(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as s:
        # A delayed update made the row with started_at = now, long after this call.
        call_log.update_call(s, node=NODE, channel_id="c1", menu_path=["main"])
        end(s)
        rec = row(s)
        assert rec.started_at == rec.ended_at == at(60)


def test_over_long_text_is_truncated_not_refused(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        start(s, caller_name="N" * 500)
        assert row(s).caller_name == "N" * 128


def test_queries(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        for i in range(5):
            start(s, channel_id=f"c{i}", started_at=at(i))
        end(s, channel_id="c1")
        end(s, channel_id="c3")
        call_log.start_call(
            s,
            node="node-b",
            channel_id="c9",
            started_at=at(100),
            caller_number="",
            caller_name="",
            dialled_number="",
            language="",
            state=None,
        )
        assert [c.channel_id for c in call_log.open_calls(s, NODE)] == ["c0", "c2", "c4"]
        assert [c.channel_id for c in call_log.open_calls(s, "node-b")] == ["c9"]
        assert [c.channel_id for c in call_log.recent_calls(s, limit=3)] == ["c9", "c4", "c3"]
        assert len(call_log.recent_calls(s)) == 6
        assert call_log.count_calls(s) == 6


def _race(sessions: sessionmaker[Session], ops: list[Callable[[Session], None]]) -> None:
    """Run ``ops`` at the same instant, one thread and session each; re-raise any error."""
    barrier = threading.Barrier(len(ops))
    errors: list[BaseException] = []

    def run(op: Callable[[Session], None]) -> None:
        with sessions() as s:
            barrier.wait()
            try:
                op(s)
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=run, args=(op,)) for op in ops]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_concurrent_starts_make_exactly_one_row(sessions: sessionmaker[Session]) -> None:
    for i in range(10):
        cid = f"race-{i}"
        _race(
            sessions,
            [
                functools.partial(start, channel_id=cid, caller_name="first"),
                functools.partial(start, channel_id=cid, caller_name="second"),
            ],
        )
    with sessions() as s:
        assert call_log.count_calls(s) == 10
        assert {row(s, f"race-{i}").caller_name for i in range(10)} <= {"first", "second"}


def test_concurrent_ends_leave_one_consistent_end(sessions: sessionmaker[Session]) -> None:
    for i in range(10):
        cid = f"race-{i}"
        _race(
            sessions,
            [
                functools.partial(end, channel_id=cid, ended_at=at(1), end_reason="a"),
                functools.partial(end, channel_id=cid, ended_at=at(2), end_reason="b"),
            ],
        )
    with sessions() as s:
        assert call_log.count_calls(s) == 10
        for i in range(10):
            rec = row(s, f"race-{i}")
            assert (rec.ended_at, rec.end_reason) in {(at(1), "a"), (at(2), "b")}
