"""The queue engine end to end: callers, agents' phones and the database, over real sockets."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from agents import lead_store, seat_store
from kernel.clock import utcnow
from simulator.callers import ScriptedCall
from simulator.server import AriSimulator
from tests.integration.conftest import wait_for
from tests.integration.queue.conftest import QueueNode, QueueNodeFactory, catalog
from ticketdb.models import CallbackRequest


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    return sqlite_url


def events(legs: list[dict[str, object]]) -> list[object]:
    return [leg["event"] for leg in legs]


async def test_caller_is_bridged_with_an_available_agent_then_wrap_up(
    sim: AriSimulator, queue_node: QueueNodeFactory
) -> None:
    qn = await queue_node()
    qn.add_agent("8001", answer_after=0.3, hangup_after=1.0)
    call = await sim.place_call("6000", "+8613800000001", script="wait for answer")
    await wait_for(lambda: qn.complete(call.channel_id), what="complete record")
    rec = qn.record(call.channel_id)
    assert rec.queue == "sales"
    assert rec.agent == "8001"
    assert rec.end_reason == "completed"
    assert rec.wait_seconds is not None and rec.wait_seconds < 2
    assert events(rec.legs)[:4] == ["queue", "offer", "answered", "agent_hangup"]
    # The agent's seat: rung, talked, wrapped up, free again after the queue's wrap-up.
    await wait_for(lambda: qn.seat_state("8001") == "available", what="wrap-up over")
    path = [(h.from_state, h.to_state) for h in qn.history("8001")]
    assert path[-4:] == [
        ("available", "ringing"),
        ("ringing", "on_call"),
        ("on_call", "wrap_up"),
        ("wrap_up", "available"),
    ]
    assert qn.entries() == []
    assert any(h.media.startswith("moh:") for h in call.heard)


def press(sim: AriSimulator, call: ScriptedCall, digit: str) -> None:
    sim.engine.caller_dtmf(call.channel, digit)


def heard(call: ScriptedCall) -> list[str]:
    return [h.media for h in call.heard]


def playing(call: ScriptedCall, media: str) -> bool:
    cur = call.channel.current
    return cur is not None and media in heard(call)


async def test_ring_no_answer_tries_the_next_agent_and_sets_a_silent_agent_away(
    sim: AriSimulator, queue_node: QueueNodeFactory
) -> None:
    qn = await queue_node(catalog(sales={"ring_timeout": 1, "misses_before_away": 1}))
    qn.add_agent("8001", answer_after=None)  # logged in first: longest idle, rung first
    qn.add_agent("8002", answer_after=0.2, hangup_after=0.5)
    call = await sim.place_call("6000", "+8613800000002")
    await wait_for(lambda: qn.complete(call.channel_id), what="complete record")
    rec = qn.record(call.channel_id)
    assert rec.agent == "8002"
    assert [(e["event"], e.get("agent")) for e in rec.legs][:4] == [
        ("queue", None),
        ("offer", "8001"),
        ("no_answer", "8001"),
        ("offer", "8002"),
    ]
    # One miss was the limit: 8001 went straight from ringing to away, with an alert.
    assert qn.seat_state("8001") == "away"
    last = qn.history("8001")[-1]
    assert (last.from_state, last.to_state, last.reason) == ("ringing", "away", "missed_calls")
    with qn.session() as s:
        alerts = lead_store.open_alerts(s)
    assert [(a.kind, a.agent_id) for a in alerts] == [("missed_calls", last.agent_id)]


async def test_caller_who_hangs_up_while_waiting_is_recorded_as_abandoned(
    sim: AriSimulator, queue_node: QueueNodeFactory
) -> None:
    qn = await queue_node()
    qn.add_agent("8001", login=False)
    with qn.session() as s:  # logged in but away: worth waiting for, not offered calls
        agent = seat_store.agent_by_staff_number(s, "8001")
        assert agent is not None
        seat_store.set_state(s, agent_id=agent.id, to_state="available", by="8001", now=utcnow())
        seat_store.set_state(
            s, agent_id=agent.id, to_state="away", reason="meeting", by="8001", now=utcnow()
        )
    call = await sim.place_call("6000", "+8613800000003", script="wait 1.5; hang up")
    await wait_for(lambda: qn.complete(call.channel_id), what="complete record")
    rec = qn.record(call.channel_id)
    assert rec.end_reason == "abandoned"
    assert rec.hangup_side == "caller"
    assert rec.wait_seconds is not None and 1.0 < rec.wait_seconds < 3.0
    assert events(rec.legs)[-1] == "abandoned"
    assert qn.entries() == []


async def test_nobody_on_shift_is_said_and_the_caller_books_a_callback(
    sim: AriSimulator, queue_node: QueueNodeFactory
) -> None:
    qn = await queue_node()
    call = await sim.place_call("6000", "+8613800000004")
    await wait_for(lambda: "sound:custom/queue_refused_options" in heard(call), what="the options")
    press(sim, call, "1")
    await wait_for(lambda: qn.complete(call.channel_id), what="complete record")
    rec = qn.record(call.channel_id)
    assert "sound:custom/queue_no_agents" in heard(call)
    assert heard(call)[-1] == "sound:custom/callback_done"
    assert rec.end_reason == "queue_callback"
    with qn.session() as s:
        (request,) = s.scalars(select(CallbackRequest)).all()
    assert (request.number, request.source, request.queue) == ("+8613800000004", "queue", "sales")
    assert rec.callback_id == request.id


async def test_a_full_queue_says_so(sim: AriSimulator, queue_node: QueueNodeFactory) -> None:
    qn = await queue_node(catalog(sales={"max_length": 1}))
    qn.add_agent("8001", answer_after=None, login=False)
    with qn.session() as s:
        agent = seat_store.agent_by_staff_number(s, "8001")
        assert agent is not None
        seat_store.set_state(s, agent_id=agent.id, to_state="available", by="8001", now=utcnow())
        seat_store.set_state(
            s, agent_id=agent.id, to_state="away", reason="break", by="8001", now=utcnow()
        )
    first = await sim.place_call("6000", "+8613800000005")
    await wait_for(lambda: len(qn.entries()) == 1, what="first caller queued")
    second = await sim.place_call("6000", "+8613800000006", script="wait 6; hang up")
    await wait_for(lambda: "sound:custom/queue_full" in heard(second), what="queue full")
    await wait_for(lambda: qn.complete(second.channel_id), what="second record")
    assert qn.record(second.channel_id).end_reason == "queue_full"
    assert [e.channel_id for e in qn.entries()] == [first.channel_id]
    sim.engine.caller_hangup(first.channel)
    await wait_for(lambda: qn.complete(first.channel_id), what="first record")


async def test_position_and_wait_are_announced(
    sim: AriSimulator, queue_node: QueueNodeFactory
) -> None:
    qn = await queue_node(catalog(sales={"announce_interval": 2}))
    qn.add_agent("8001", login=False)
    with qn.session() as s:
        agent = seat_store.agent_by_staff_number(s, "8001")
        assert agent is not None
        seat_store.set_state(s, agent_id=agent.id, to_state="available", by="8001", now=utcnow())
        seat_store.set_state(
            s, agent_id=agent.id, to_state="away", reason="break", by="8001", now=utcnow()
        )
    first = await sim.place_call("6000", "+8613800000007")
    await wait_for(lambda: len(qn.entries()) == 1, what="first queued")
    second = await sim.place_call("6000", "+8613800000008")
    # Said at once on entering: "you are caller number two", then again every interval.
    await wait_for(
        lambda: heard(second).count("sound:custom/queue_position") >= 2,
        what="two announcements",
    )
    said = heard(second)
    i = said.index("sound:custom/queue_position")
    assert said[i + 1] == "sound:custom/digit_2"
    assert said[i + 2].startswith("moh:")  # back to the music after each announcement
    for call in (first, second):
        sim.engine.caller_hangup(call.channel)
        await wait_for(lambda c=call: qn.complete(c.channel_id), what="record")


def away(qn: QueueNode, staff: str, reason: str = "break") -> None:
    with qn.session() as s:
        agent = seat_store.agent_by_staff_number(s, staff)
        assert agent is not None
        seat = seat_store.get_seat(s, agent.id)
        if seat.state == "offline":
            seat_store.set_state(s, agent_id=agent.id, to_state="available", by=staff, now=utcnow())
        seat_store.set_state(
            s, agent_id=agent.id, to_state="away", reason=reason, by=staff, now=utcnow()
        )


def back(qn: QueueNode, staff: str) -> None:
    with qn.session() as s:
        agent = seat_store.agent_by_staff_number(s, staff)
        assert agent is not None
        seat_store.set_state(s, agent_id=agent.id, to_state="available", by=staff, now=utcnow())


def callback_request(qn: QueueNode) -> CallbackRequest:
    with qn.session() as s:
        (request,) = s.scalars(select(CallbackRequest)).all()
        return request


async def test_queue_callback_keeps_the_place_then_rings_the_agent_then_the_customer(
    sim: AriSimulator, queue_node: QueueNodeFactory
) -> None:
    qn = await queue_node()
    qn.add_agent("8001", answer_after=0.2, login=False)
    away(qn, "8001")
    number = "+8613800000011"
    customer = f"PJSIP/{number}@trunk"
    sim.set_phone(customer, answer_after=0.3, hangup_after=1.0)
    call = await sim.place_call("6000", number)
    await wait_for(lambda: len(qn.entries()) == 1, what="queued")
    press(sim, call, "1")  # "call me back"
    await wait_for(
        # The number is read back digit by digit first.
        lambda: "sound:custom/queue_callback_confirm" in heard(call),
        timeout=30,
        what="the confirmation",
    )
    press(sim, call, "1")
    await wait_for(lambda: qn.complete(call.channel_id), what="original record")
    original = qn.record(call.channel_id)
    assert original.end_reason == "queue_callback"
    (entry,) = qn.entries()
    assert entry.status == "callback" and entry.channel_id == call.channel_id
    # The agent comes back: rung first, then the customer, then the two are bridged.
    back(qn, "8001")
    await wait_for(lambda: callback_request(qn).status == "done", timeout=15, what="callback done")
    request = callback_request(qn)
    assert (request.attempts, request.outcome, request.queue) == (1, "answered", "sales")
    assert request.id == original.callback_id
    assert [h["outcome"] for h in request.history] == ["answered"]
    await wait_for(lambda: qn.entries() == [], what="entry removed")
    outbound = [r for r in qn.records() if r.callback_id == request.id and r is not None]
    outbound = [r for r in outbound if r.channel_id != call.channel_id]
    await wait_for(
        lambda: any(r.is_complete for r in qn.records() if r.channel_id.startswith("cb")),
        what="the callback's own record",
    )
    (rec,) = [r for r in qn.records() if r.channel_id.startswith("cb")]
    assert (rec.caller_number, rec.agent, rec.callback_id) == (number, "8001", request.id)
    assert rec.end_reason == "callback_answered"
    # The agent's phone rang before the customer's.
    legs = sorted((c for c in sim.engine.channels_seen if "~" in c.id), key=lambda c: c.created)
    assert [c.endpoint for c in legs[:2]] == ["PJSIP/8001", customer]


async def test_queue_callback_to_an_unreachable_customer_is_retried_then_closed(
    sim: AriSimulator, queue_node: QueueNodeFactory
) -> None:
    qn = await queue_node(callback_max_attempts=2, callback_retry_minutes=0.0001)
    qn.add_agent("8001", answer_after=0.2, login=False)
    away(qn, "8001")
    number = "+8613800000012"
    sim.set_phone(f"PJSIP/{number}@trunk", busy=True)
    call = await sim.place_call("6000", number)
    await wait_for(lambda: len(qn.entries()) == 1, what="queued")
    press(sim, call, "1")
    await wait_for(
        # The number is read back digit by digit first.
        lambda: "sound:custom/queue_callback_confirm" in heard(call),
        timeout=30,
        what="the confirmation",
    )
    press(sim, call, "1")
    await wait_for(lambda: qn.complete(call.channel_id), what="original record")
    back(qn, "8001")
    await wait_for(lambda: callback_request(qn).status == "unreached", timeout=20, what="given up")
    request = callback_request(qn)
    assert request.attempts == 2
    assert [h["outcome"] for h in request.history] == ["busy", "busy"]
    assert qn.entries() == []
    # The agent was freed after each attempt (wrap-up, then available).
    await wait_for(lambda: qn.seat_state("8001") == "available", what="agent free")


async def test_a_waiting_caller_keeps_the_place_across_a_controller_restart(
    sim: AriSimulator, queue_node: QueueNodeFactory
) -> None:
    first = await queue_node()
    first.add_agent("8001", answer_after=0.2, hangup_after=0.5, login=False)
    away(first, "8001")
    call = await sim.place_call("6000", "+8613800000095")
    await wait_for(lambda: len(first.entries()) == 1, what="queued")
    (before,) = first.entries()
    await wait_for(
        lambda: first.record(call.channel_id).state["service"] == "queue",  # type: ignore[index]
        what="the queue's state saved",
    )
    await first.node.stop()  # the controller goes; the caller stays on the line
    second = await queue_node()  # same node name: it adopts the call from its snapshot
    await wait_for(
        lambda: (
            second.node.controller is not None
            and call.channel_id in second.node.controller.sessions
        ),
        what="adopted",
    )
    # The same place in line: the resumed call re-entered the same row, same arrival.
    await wait_for(lambda: [e.status for e in second.entries()] == ["waiting"], what="back")
    (after,) = second.entries()
    assert (after.id, after.arrived_at) == (before.id, before.arrived_at)
    back(second, "8001")
    await wait_for(lambda: second.complete(call.channel_id), timeout=15, what="served")
    rec = second.record(call.channel_id)
    assert rec.agent == "8001"
    assert "resumed" in [e["event"] for e in rec.legs]
    assert len([r for r in second.records() if r.channel_id == call.channel_id]) == 1


async def test_no_agent_is_rung_while_our_events_socket_is_down(
    sim: AriSimulator, queue_node: QueueNodeFactory
) -> None:
    # While the socket is down Asterisk has no app to put an agent's leg in and refuses
    # every originate: offering then would only count missed calls against agents whose
    # phones never rang, and a blip would send the whole floor away.
    qn = await queue_node(catalog(sales={"misses_before_away": 2}))
    qn.add_agent("8001", answer_after=0.1, hangup_after=0.3)
    with qn.session() as s:
        agent = seat_store.agent_by_staff_number(s, "8001")
        assert agent is not None
        seat_store.set_state(
            s, agent_id=agent.id, to_state="away", by="8001", reason="break", now=utcnow()
        )
    calls = [await sim.place_call("6000", f"+861380000007{n}") for n in range(3)]
    await wait_for(lambda: len(qn.entries()) == 3, what="three callers waiting")
    stream, acd = qn.node.stream, qn.node.acd
    assert stream is not None and acd is not None
    sim.refuse_events()  # it cannot come back yet
    sim.drop_websockets()
    await wait_for(lambda: not stream.connected, what="socket down")
    qn.login("8001")  # back from the break, while the socket is down
    passes = acd.stats.passes
    await wait_for(lambda: acd.stats.passes >= passes + 10, what="ten distribution passes")
    assert qn.seat_state("8001") == "available"
    assert [h.to_state for h in qn.history("8001")][-1] == "available"  # never rung
    assert acd.stats.passes_not_dialling >= 10
    sim.refuse_events(False)
    await wait_for(lambda: stream.connected, what="socket back")
    for call in calls:
        await wait_for(lambda c=call: qn.complete(c.channel_id), timeout=20, what="served")  # type: ignore[misc]
        assert qn.record(call.channel_id).agent == "8001"
    states = [h.to_state for h in qn.history("8001")]
    assert "away" not in states[states.index("available", 2) :]  # no missed calls at all
