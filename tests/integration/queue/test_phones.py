"""Agents' phones on a real(istic) Asterisk: the queue engine rings only phones that are
registered and free (app_queue's device state and ringinuse=no), a phone Asterisk refuses
is marked unreachable with the reason and the next agent is tried at once, and a caller
nobody can take hears the queue's "nobody available" path instead of waiting for nothing.
"""

from __future__ import annotations

import logging

import pytest

from agents import engine as acd_module
from agents import phone_store, seat_store
from agents.phone_store import PhoneStatus
from simulator.callers import ScriptedCall
from simulator.server import AriSimulator
from tests.integration.conftest import wait_for
from tests.integration.queue.conftest import QueueNode, QueueNodeFactory, catalog

# Quick looks at the phones, so a test need not wait the production 5 s.
FAST_PHONES = {"phone_refresh": 0.3}


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    return sqlite_url


def rang(sim: AriSimulator, endpoint: str) -> bool:
    """Whether any leg was ever originated to ``endpoint``."""
    return any(ch.endpoint == endpoint for ch in sim.engine.channels_seen)


def phone_of(qn: QueueNode, staff: str) -> phone_store.PhoneView | None:
    with qn.session() as s:
        agent = seat_store.agent_by_staff_number(s, staff)
        assert agent is not None
        return phone_store.statuses(s).get(agent.id)


def status_of(qn: QueueNode, staff: str) -> PhoneStatus | None:
    view = phone_of(qn, staff)
    return None if view is None else view.status


def heard(call: ScriptedCall) -> list[str]:
    return [h.media for h in call.heard]


async def test_an_unregistered_phone_is_never_rung_and_shows_offline_until_it_registers(
    sim: AriSimulator, queue_node: QueueNodeFactory
) -> None:
    qn = await queue_node(**FAST_PHONES)
    qn.add_agent("8001", answer_after=0.2, hangup_after=0.5)
    sim.register_phone("PJSIP/8001", registered=False)
    qn.add_agent("8002", answer_after=0.2, hangup_after=0.5)
    await wait_for(lambda: status_of(qn, "8001") is PhoneStatus.OFFLINE, what="8001 offline")
    # 8001 is the longest available, but their phone is not registered: 8002 answers.
    call = await sim.place_call("6000", "+8613800000001", script="wait for answer")
    await wait_for(lambda: qn.complete(call.channel_id), what="complete record")
    assert qn.record(call.channel_id).agent == "8002"
    assert not rang(sim, "PJSIP/8001")
    view = phone_of(qn, "8001")
    assert view is not None and view.reason == "not registered (offline)"
    assert qn.seat_state("8001") == "available"  # the seat is as the agent left it
    # The phone registers: the event says so at once, and 8001 takes the next call.
    sim.register_phone("PJSIP/8001", registered=True)
    await wait_for(lambda: status_of(qn, "8001") is PhoneStatus.READY, what="8001 online")
    second = await sim.place_call("6000", "+8613800000002", script="wait for answer")
    await wait_for(lambda: qn.complete(second.channel_id), what="second record")
    assert qn.record(second.channel_id).agent == "8001"


async def test_a_phone_asterisk_refuses_is_marked_unreachable_and_the_next_agent_answers(
    sim: AriSimulator, queue_node: QueueNodeFactory
) -> None:
    """Asterisk answers 500 to the originate (a phone that looked registered: it went
    away and the event was lost): the phone is marked with Asterisk's reason, the seat is
    freed without counting a miss, and the caller is offered to the next agent straight
    away, not left looping or in silence."""
    qn = await queue_node(phone_refresh=60)
    first = qn.add_agent("8001", answer_after=0.2, hangup_after=0.5)
    qn.add_agent("8002", answer_after=0.2, hangup_after=0.5)
    node = qn.node
    assert node.phones is not None and node.controller is not None
    await node.phones.on_connected()  # it knows both phones, both registered
    node.controller.on_endpoint = None  # the next endpoint event is lost
    sim.register_phone("PJSIP/8001", registered=False)
    call = await sim.place_call("6000", "+8613800000003", script="wait for answer")
    await wait_for(lambda: qn.complete(call.channel_id), what="complete record")
    rec = qn.record(call.channel_id)
    assert rec.agent == "8002"
    assert [(leg["event"], leg.get("agent")) for leg in rec.legs][:5] == [
        ("queue", None),
        ("offer", "8001"),
        ("phone_refused", "8001"),
        ("offer_withdrawn", "8001"),
        ("offer", "8002"),
    ]
    assert rec.wait_seconds is not None and rec.wait_seconds < 5
    view = phone_of(qn, "8001")
    assert view is not None and view.status is PhoneStatus.OFFLINE
    assert view.reason  # Asterisk's own words
    with qn.session() as s:
        agent = seat_store.agent_by_staff_number(s, "8001")
        assert agent is not None and agent.id == first
        assert agent.missed_in_row == 0  # not the agent's miss
    assert qn.seat_state("8001") == "available"
    assert node.phones.refusals == 1


async def test_nobody_with_a_reachable_phone_sends_the_caller_to_the_nobody_available_path(
    sim: AriSimulator, queue_node: QueueNodeFactory
) -> None:
    """The issue's case: agents available and on shift, phones not registered. The caller
    hears "nobody available" and the callback offer at once, not music until they give up."""
    qn = await queue_node(**FAST_PHONES)
    qn.add_agent("8001", answer_after=0.2)
    qn.add_agent("8004", answer_after=0.2)
    sim.register_phone("PJSIP/8001", registered=False)
    sim.register_phone("PJSIP/8004", registered=False)
    await wait_for(
        lambda: (
            status_of(qn, "8001") is PhoneStatus.OFFLINE
            and status_of(qn, "8004") is PhoneStatus.OFFLINE
        ),
        what="both phones offline",
    )
    call = await sim.place_call("6000", "+8613800000004")
    await wait_for(
        lambda: "sound:custom/queue_no_agents" in heard(call), timeout=30, what="told nobody"
    )
    assert not rang(sim, "PJSIP/8001") and not rang(sim, "PJSIP/8004")
    told = next(h for h in call.heard if h.media == "sound:custom/queue_no_agents")
    answered = call.channel.answered_at
    assert answered is not None and told.started_at - answered < 5


async def test_a_waiting_caller_is_told_as_soon_as_the_last_reachable_phone_goes(
    sim: AriSimulator, queue_node: QueueNodeFactory
) -> None:
    qn = await queue_node(**FAST_PHONES)
    qn.add_agent("8001", answer_after=0.2)
    qn.add_agent("8002", answer_after=0.2)
    # Both busy with callers who stay on the line.
    first = await sim.place_call("6000", "+8613800000005")
    second = await sim.place_call("6000", "+8613800000006")
    await wait_for(
        lambda: qn.seat_state("8001") == "on_call" and qn.seat_state("8002") == "on_call",
        what="both agents on a call",
    )
    waiting = await sim.place_call("6000", "+8613800000007")
    await wait_for(lambda: qn.queued(waiting.channel_id), what="third caller waiting")
    # Their phones drop off the network (a switch fails): nobody left to take the call.
    sim.register_phone("PJSIP/8001", registered=False)
    sim.register_phone("PJSIP/8002", registered=False)
    await wait_for(
        lambda: "sound:custom/queue_no_agents" in heard(waiting), timeout=30, what="told"
    )
    for call in (first, second, waiting):
        sim.engine.caller_hangup(call.channel)


async def test_a_phone_busy_with_a_call_the_queue_did_not_give_it_is_not_rung(
    sim: AriSimulator, queue_node: QueueNodeFactory
) -> None:
    qn = await queue_node(**FAST_PHONES)
    qn.add_agent("8001", answer_after=0.2, hangup_after=0.5)
    qn.add_agent("8002", answer_after=0.2, hangup_after=0.5)
    # A direct call rings 8001's desk phone, outside the queue (they let it ring).
    sim.set_phone("PJSIP/8001", answer_after=None)
    private = sim.engine.originate(
        "PJSIP/8001",
        app=None,
        app_args=None,
        extension="s",
        context="default",
        priority=1,
        caller_id="+8613700000000",
        timeout=-1,
        variables={},
        channel_id="private-call",
    )
    await wait_for(lambda: status_of(qn, "8001") is PhoneStatus.BUSY, what="8001 busy")
    call = await sim.place_call("6000", "+8613800000008", script="wait for answer")
    await wait_for(lambda: qn.complete(call.channel_id), what="complete record")
    assert qn.record(call.channel_id).agent == "8002"
    assert [ch.id for ch in sim.engine.channels_seen if ch.endpoint == "PJSIP/8001"] == [private.id]
    sim.engine.hangup(private, 16, by="far_end")
    await wait_for(lambda: status_of(qn, "8001") is PhoneStatus.READY, what="8001 free")


async def test_an_orphan_claim_whose_leg_is_still_up_on_asterisk_is_kept(
    sim: AriSimulator, queue_node: QueueNodeFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A claim whose call this node no longer runs is released only once Asterisk says no
    leg of that call is up: a phone still ringing (or talking) keeps its agent."""
    monkeypatch.setattr(acd_module, "ORPHAN_CLAIM_SECONDS", 0.5)
    qn = await queue_node()
    agent_id = qn.add_agent("8001", answer_after=None)  # rings until hung up
    acd = qn.node.acd
    assert acd is not None
    with qn.session() as s:
        from datetime import UTC, datetime

        from agents import offers

        assert offers.ring(
            s, agent_id=agent_id, node="test-node", channel_id="ghost", now=datetime.now(UTC)
        )
    leg = sim.engine.originate(
        "PJSIP/8001",
        app="hotline",
        app_args="leg,ghost",
        extension=None,
        context=None,
        priority=None,
        caller_id=None,
        timeout=-1,
        variables={},
        channel_id="ghost~a1",
    )
    await wait_for(lambda: acd.stats.orphans_kept >= 2, timeout=30, what="claim kept twice")
    assert qn.seat_state("8001") == "ringing"
    assert acd.stats.orphans_released == 0
    sim.engine.hangup(leg, 16, by="far_end")
    await wait_for(lambda: qn.seat_state("8001") == "available", timeout=30, what="released")
    assert acd.stats.orphans_released == 1


async def test_a_wrap_up_is_not_taken_for_an_orphan(
    sim: AriSimulator, queue_node: QueueNodeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """During a wrap-up the call is over by design: nothing to release, nothing to log
    (it was logged once a second, 28-30 lines a call)."""
    qn = await queue_node(catalog(sales={"wrap_up_seconds": 3}))
    qn.add_agent("8001", answer_after=0.2, hangup_after=0.3)
    caplog.set_level(logging.INFO, logger="agents.engine")
    call = await sim.place_call("6000", "+8613800000009", script="wait for answer")
    await wait_for(lambda: qn.seat_state("8001") == "wrap_up", what="wrap-up")
    await wait_for(lambda: qn.seat_state("8001") == "available", timeout=30, what="wrap-up over")
    assert qn.complete(call.channel_id)
    releases = [r for r in caplog.records if "releasing agent" in r.getMessage()]
    assert releases == []
