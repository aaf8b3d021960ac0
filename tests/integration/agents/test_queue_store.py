"""The global queue table on both back ends: places kept across transfers, the length
limit, what the distributor may assign, and queue callbacks with their attempts."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from agents import queue_store as entries
from ticketdb.call_log import get_call, start_call
from ticketdb.models import CallbackRequest, QueueEntry

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
NODE = "node-a"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def enqueue(s: Session, channel_id: str, **overrides: Any) -> entries.EnqueueResult:
    args: dict[str, Any] = {
        "node": NODE,
        "channel_id": channel_id,
        "queue": "operator",
        "tier": "general",
        "arrived_at": T0,
        "now": T0,
        "caller_number": "+8613800000001",
        "language": "zh",
    }
    args.update(overrides)
    return entries.enqueue(s, **args)


def entry(s: Session, channel_id: str, node: str = NODE) -> QueueEntry | None:
    return s.scalars(
        select(QueueEntry)
        .where(QueueEntry.node == node, QueueEntry.channel_id == channel_id)
        .execution_options(populate_existing=True)
    ).one_or_none()


def request_of(s: Session, callback_id: int) -> CallbackRequest:
    row = s.get(CallbackRequest, callback_id, populate_existing=True)
    assert row is not None
    return row


# --- enqueue, mark, leave ---------------------------------------------------------------------


def test_enqueue_stores_the_entry_waiting(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        result = enqueue(
            s, "c1", tier="vip", priority=2, skill="mobile", injury=True, external=False
        )
    assert result.refused is None
    with sessions() as s:
        row = entry(s, "c1")
        assert row is not None
        assert row.id == result.entry_id
        assert (row.queue, row.tier, row.priority, row.skill, row.injury, row.external) == (
            "operator",
            "vip",
            2,
            "mobile",
            True,
            False,
        )
        assert (row.status, row.arrived_at, row.entered_at) == ("waiting", T0, T0)
        assert (row.caller_number, row.language) == ("+8613800000001", "zh")


def test_a_transfer_to_another_queue_keeps_arrival_and_sequence(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as s:
        first = enqueue(s, "c1").entry_id
        enqueue(s, "c2", arrived_at=at(5), now=at(5))
        entries.mark(s, node=NODE, channel_id="c1", status="connected", now=at(20), agent_id=3)
        moved = enqueue(s, "c1", queue="billing", arrived_at=at(60), now=at(60)).entry_id
    assert moved == first
    with sessions() as s:
        row = entry(s, "c1")
        assert row is not None
        assert (row.queue, row.status, row.agent_id) == ("billing", "waiting", None)
        assert (row.arrived_at, row.entered_at) == (T0, at(60))
        # Still ahead of the caller who arrived after it.
        queued = entries.queued(s, live_nodes={NODE}, now=at(60))
        assert [e.channel_id for e in queued] == ["c1", "c2"]


def test_keep_place_leaves_an_existing_entry_as_it_is(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        first = enqueue(s, "c1").entry_id
        entries.mark(s, node=NODE, channel_id="c1", status="offered", now=at(3), agent_id=4)
        again = enqueue(s, "c1", queue="billing", now=at(9), keep_place=True)
    assert again == entries.EnqueueResult(first)
    with sessions() as s:
        row = entry(s, "c1")
        assert row is not None
        assert (row.queue, row.status, row.agent_id, row.entered_at) == (
            "operator",
            "offered",
            4,
            T0,
        )


def test_max_length_refuses_a_new_caller_but_not_one_already_in_line(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as s:
        enqueue(s, "c1", max_length=2)
        enqueue(s, "c2", max_length=2)
        enqueue(s, "other", queue="billing", max_length=2)  # another queue doesn't count
        refused = enqueue(s, "c3", max_length=2)
        # A call already in the queue (a replay) is not refused by its own row.
        replay = enqueue(s, "c2", max_length=2)
    assert refused == entries.EnqueueResult(0, refused="full")
    assert replay.refused is None
    with sessions() as s:
        assert entry(s, "c3") is None
        entries.mark(s, node=NODE, channel_id="c1", status="connected", now=at(1), agent_id=1)
        # A connected call no longer waits: there is room again.
        assert enqueue(s, "c3", max_length=2).refused is None


def test_mark_and_leave(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        enqueue(s, "c1")
        assert entries.mark(s, node=NODE, channel_id="c1", status="offered", now=at(2), agent_id=9)
        row = entry(s, "c1")
        assert row is not None and (row.status, row.agent_id, row.updated_at) == (
            "offered",
            9,
            at(2),
        )
        assert not entries.mark(s, node=NODE, channel_id="nope", status="waiting", now=at(2))
        entries.leave(s, node=NODE, channel_id="c1")
        entries.leave(s, node=NODE, channel_id="c1")  # a replay is harmless
        assert entry(s, "c1") is None


def test_queued_lists_waiting_calls_on_live_nodes_and_due_callbacks(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as s:
        enqueue(s, "waiting")
        enqueue(s, "offered")
        entries.mark(s, node=NODE, channel_id="offered", status="offered", now=T0, agent_id=1)
        enqueue(s, "dead-node", node="node-z")
        enqueue(s, "cb-due", node="node-z")  # booked by a node that has gone since
        entries.book_callback(
            s,
            node="node-z",
            channel_id="cb-due",
            number="+8613800000002",
            language="zh",
            now=at(1),
            queue="operator",
        )
        enqueue(s, "cb-later")
        cb = entries.book_callback(
            s,
            node=NODE,
            channel_id="cb-later",
            number="+8613800000003",
            language="zh",
            now=at(1),
            queue="operator",
        )
        later = entry(s, "cb-later")
        assert later is not None
        later.not_before = at(600)
        s.commit()
        assert request_of(s, cb).status == "open"

        names = [e.channel_id for e in entries.queued(s, live_nodes={NODE}, now=at(10))]
        assert names == ["waiting", "cb-due"]
        names = [e.channel_id for e in entries.queued(s, live_nodes={NODE}, now=at(600))]
        assert names == ["waiting", "cb-due", "cb-later"]


# --- queue callbacks ---------------------------------------------------------------------------


def test_book_callback_turns_the_place_into_a_callback(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        start_call(
            s,
            node=NODE,
            channel_id="c1",
            started_at=T0,
            caller_number="+8613800000001",
            caller_name="",
            dialled_number="6000",
            language="zh",
            state=None,
        )
        place = enqueue(s, "c1", arrived_at=T0, now=at(1)).entry_id
        callback_id = entries.book_callback(
            s,
            node=NODE,
            channel_id="c1",
            number="+86 138 0000 0001",
            language="zh",
            now=at(30),
            queue="operator",
            arrived_at=at(1),
        )
        # A replay (the command retried) books nothing new.
        again = entries.book_callback(
            s,
            node=NODE,
            channel_id="c1",
            number="+8613800000001",
            language="zh",
            now=at(31),
            queue="operator",
        )
    assert again == callback_id
    with sessions() as s:
        row = entry(s, "c1")
        assert row is not None
        assert (row.id, row.status, row.callback_id, row.arrived_at) == (
            place,
            "callback",
            callback_id,
            T0,
        )
        request = request_of(s, callback_id)
        assert (request.source, request.number, request.queue, request.status) == (
            "queue",
            "+8613800000001",
            "operator",
            "open",
        )
        call = get_call(s, NODE, "c1")
        assert call is not None and call.callback_id == callback_id
        assert len(s.scalars(select(CallbackRequest)).all()) == 1


def test_a_refused_caller_gets_a_new_place_as_a_callback(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        enqueue(s, "earlier")
        callback_id = entries.book_callback(
            s,
            node=NODE,
            channel_id="c9",
            number="+8613800000009",
            language="en",
            now=at(40),
            queue="billing",
            tier="vip",
            arrived_at=at(20),
            priority=1,
        )
        row = entry(s, "c9")
        assert row is not None
        assert (row.queue, row.tier, row.priority, row.status, row.arrived_at) == (
            "billing",
            "vip",
            1,
            "callback",
            at(20),
        )
        assert row.callback_id == callback_id
        assert request_of(s, callback_id).queue == "billing"


def booked(s: Session, channel_id: str = "c1") -> int:
    """A waiting call turned into a queue callback; returns its entry id."""
    place = enqueue(s, channel_id).entry_id
    entries.book_callback(
        s,
        node=NODE,
        channel_id=channel_id,
        number="+8613800000001",
        language="zh",
        now=at(1),
        queue="operator",
    )
    return place


def run_together(n: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` in n threads released at once; results (or exceptions) by index."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_start_callback_has_exactly_one_winner(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        place = booked(s)

    def work(i: int) -> bool:
        with sessions() as s:
            return entries.start_callback(
                s, entry_id=place, agent_id=i + 1, node=f"n{i}", now=at(5)
            )

    results = run_together(6, work)
    assert results.count(True) == 1, results
    assert results.count(False) == 5, results
    winner = results.index(True)
    with sessions() as s:
        row = entry(s, "c1")
        assert row is not None
        assert (row.status, row.agent_id, row.dialing_node) == ("dialing", winner + 1, f"n{winner}")
        # No longer due: nobody else dials it.
        assert entries.queued(s, live_nodes={NODE}, now=at(6)) == []
        assert not entries.start_callback(s, entry_id=place, agent_id=9, node="n9", now=at(6))


def attempt(s: Session, place: int, outcome: str, t: float) -> entries.CallbackOutcome:
    return entries.record_callback_attempt(
        s,
        entry_id=place,
        outcome=outcome,
        agent="8001",
        channel=f"cb{place}-{t}",
        now=at(t),
        retry_after=timedelta(minutes=30),
        max_attempts=2,
    )


def test_an_answered_callback_completes_the_request(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        place = booked(s)
        found = s.get(QueueEntry, place)
        assert found is not None
        callback_id = found.callback_id
        assert callback_id is not None
        entries.start_callback(s, entry_id=place, agent_id=1, node=NODE, now=at(5))
        assert attempt(s, place, "answered", 20) == entries.CallbackOutcome(True, 1)
    with sessions() as s:
        assert entry(s, "c1") is None
        request = request_of(s, callback_id)
        assert (request.status, request.outcome, request.attempts) == ("done", "answered", 1)
        assert (request.completed_at, request.last_attempt_at) == (at(20), at(20))
        assert [h["outcome"] for h in request.history] == ["answered"]


def test_agent_unavailable_does_not_count_as_an_attempt(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        place = booked(s)
        entries.start_callback(s, entry_id=place, agent_id=1, node=NODE, now=at(5))
        assert attempt(s, place, "agent_unavailable", 20) == entries.CallbackOutcome(False, 0)
        row = entry(s, "c1")
        assert row is not None and row.callback_id is not None
        assert (row.status, row.agent_id, row.dialing_node, row.not_before) == (
            "callback",
            None,
            None,
            None,
        )
        request = request_of(s, row.callback_id)
        assert (request.attempts, request.outcome, request.status) == (0, None, "open")
        assert [h["outcome"] for h in request.history] == ["agent_unavailable"]
        # Due again at once, for the next free agent.
        assert [e.id for e in entries.queued(s, live_nodes=set(), now=at(21))] == [place]


def test_busy_waits_for_another_slot_then_out_of_attempts_is_unreached(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as s:
        place = booked(s)
        entries.start_callback(s, entry_id=place, agent_id=1, node=NODE, now=at(5))
        assert attempt(s, place, "busy", 20) == entries.CallbackOutcome(False, 1)
        row = entry(s, "c1")
        assert row is not None and row.callback_id is not None
        callback_id = row.callback_id
        assert (row.status, row.not_before) == ("callback", at(20 + 1800))
        request = request_of(s, callback_id)
        assert (request.attempts, request.outcome, request.status) == (1, "busy", "open")
        # Not before its time slot.
        assert entries.queued(s, live_nodes=set(), now=at(1000)) == []
        assert [e.id for e in entries.queued(s, live_nodes=set(), now=at(1820))] == [place]

        assert entries.start_callback(s, entry_id=place, agent_id=2, node=NODE, now=at(1820))
        assert attempt(s, place, "no_answer", 1850) == entries.CallbackOutcome(True, 2)
    with sessions() as s:
        assert entry(s, "c1") is None
        request = request_of(s, callback_id)
        assert (request.status, request.outcome, request.attempts) == ("unreached", "no_answer", 2)
        assert request.completed_at == at(1850)
        assert [h["outcome"] for h in request.history] == ["busy", "no_answer"]


def test_an_attempt_on_a_vanished_entry_is_finished(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        assert attempt(s, 12345, "busy", 1) == entries.CallbackOutcome(True, 0)
