"""Agents' controls on a call in progress (from the web page, through ``call_controls``):
hold and resume, blind transfers to a queue, an agent or a number, attended transfers."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kernel.clock import utcnow
from simulator.callers import ScriptedCall
from simulator.server import AriSimulator
from tests.integration.conftest import wait_for
from tests.integration.queue.conftest import QueueNode, QueueNodeFactory, catalog
from ticketdb.models import CallControl, QueueEntry

QUEUES = catalog(sales={}, support={"skills": {"support"}})


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    return sqlite_url


async def done(qn: QueueNode, call: ScriptedCall, action: str, **args: str) -> CallControl:
    """Ask for ``action`` on the call as agent 8001's page would; wait for the answer."""
    with qn.session() as s:
        row = CallControl(
            node="test-node",
            channel_id=call.channel_id,
            action=action,
            args=args,
            requested_by="8001",
            requested_at=utcnow(),
            status="pending",
        )
        s.add(row)
        s.commit()
        control_id = row.id
    answered: list[CallControl] = []

    def check() -> bool:
        with qn.session() as s:
            found = s.get(CallControl, control_id)
            if found is not None and found.status in ("done", "failed"):
                answered.append(found)
        return bool(answered)

    await wait_for(check, what=f"{action} answered")
    return answered[0]


def bridge_of(sim: AriSimulator, channel_id: str) -> list[str]:
    ch = sim.engine.channels.get(channel_id)
    if ch is None or ch.bridge_id is None:
        return []
    return list(sim.engine.bridges[ch.bridge_id].channels)


def agent_leg(sim: AriSimulator, endpoint: str) -> str | None:
    for ch in sim.engine.channels.values():
        if ch.endpoint == endpoint and "~" in ch.id:
            return ch.id
    return None


async def connected(qn: QueueNode, sim: AriSimulator, call: ScriptedCall, staff: str) -> str:
    await wait_for(lambda: qn.seat_state(staff) == "on_call", what=f"{staff} on the call")
    leg = agent_leg(sim, f"PJSIP/{staff}")
    assert leg is not None
    await wait_for(
        lambda: sorted(bridge_of(sim, call.channel_id)) == sorted([call.channel_id, leg]),
        what=f"caller bridged with {staff}",
    )
    return leg


async def test_hold_and_resume(sim: AriSimulator, queue_node: QueueNodeFactory) -> None:
    qn = await queue_node(QUEUES)
    qn.add_agent("8001", answer_after=0.2)
    call = await sim.place_call("6000", "+8613800000021")
    leg = await connected(qn, sim, call, "8001")
    reply = await done(qn, call, "hold")
    assert (reply.status, reply.result) == ("done", "on hold")
    assert call.channel.bridge_id is None  # out of the bridge, hearing the music
    assert call.channel.heard[-1].media.startswith("moh:")
    assert bridge_of(sim, leg) == [leg]
    reply = await done(qn, call, "unhold")
    assert reply.status == "done"
    await wait_for(lambda: call.channel.bridge_id is not None, what="back in the bridge")
    assert sorted(bridge_of(sim, call.channel_id)) == sorted([call.channel_id, leg])
    # Resuming what is not on hold is refused with the reason.
    reply = await done(qn, call, "unhold")
    assert reply.status == "failed" and "connected" in (reply.result or "")
    sim.engine.caller_hangup(call.channel)
    await wait_for(lambda: qn.complete(call.channel_id), what="record")
    rec = qn.record(call.channel_id)
    assert [leg["event"] for leg in rec.legs if leg["event"] in ("hold", "unhold")] == [
        "hold",
        "unhold",
    ]
    assert rec.end_reason == "answered"
    await wait_for(lambda: qn.seat_state("8001") in ("wrap_up", "available"), what="freed")


async def test_blind_transfer_to_another_queue_keeps_the_first_arrival(
    sim: AriSimulator, queue_node: QueueNodeFactory
) -> None:
    qn = await queue_node(QUEUES)
    qn.add_agent("8001", answer_after=0.2)
    qn.add_agent("8002", skills={"support": 2}, answer_after=0.2)
    call = await sim.place_call("6000", "+8613800000022")
    await connected(qn, sim, call, "8001")
    with qn.session() as s:
        (first,) = s.scalars(select(QueueEntry)).all()
        arrived = first.arrived_at
    reply = await done(qn, call, "transfer", to="queue", target="support")
    assert reply.status == "done"
    await connected(qn, sim, call, "8002")
    with qn.session() as s:
        (entry,) = s.scalars(select(QueueEntry)).all()
    assert (entry.queue, entry.arrived_at, entry.id) == ("support", arrived, first.id)
    assert entry.entered_at > arrived
    await wait_for(lambda: qn.seat_state("8001") in ("wrap_up", "available"), what="8001 freed")
    sim.engine.caller_hangup(call.channel)
    await wait_for(lambda: qn.complete(call.channel_id), what="record")
    rec = qn.record(call.channel_id)
    assert (rec.queue, rec.agent) == ("support", "8002")
    assert [
        (e["event"], e.get("agent") or e.get("to"))
        for e in rec.legs
        if e["event"]
        in (
            "answered",
            "transfer",
        )
    ] == [("answered", "8001"), ("transfer", "queue"), ("answered", "8002")]


async def test_blind_transfer_to_an_agent_and_to_a_busy_one(
    sim: AriSimulator, queue_node: QueueNodeFactory
) -> None:
    qn = await queue_node(QUEUES)
    qn.add_agent("8001", answer_after=0.2)
    qn.add_agent("8003", answer_after=0.2, login=False)  # offline: the transfer is refused
    call = await sim.place_call("6000", "+8613800000023")
    await connected(qn, sim, call, "8001")
    reply = await done(qn, call, "transfer", to="agent", target="8003")
    assert reply.status == "failed" and "offline" in (reply.result or "")
    qn.login("8003")
    reply = await done(qn, call, "transfer", to="agent", target="8003")
    assert reply.status == "done"
    await connected(qn, sim, call, "8003")
    sim.engine.caller_hangup(call.channel)
    await wait_for(lambda: qn.complete(call.channel_id), what="record")
    assert qn.record(call.channel_id).agent == "8003"


async def test_blind_transfer_to_a_number_hands_the_caller_to_the_dialplan(
    sim: AriSimulator, queue_node: QueueNodeFactory
) -> None:
    qn = await queue_node(QUEUES)
    qn.add_agent("8001", answer_after=0.2)
    call = await sim.place_call("6000", "+8613800000024")
    await connected(qn, sim, call, "8001")
    reply = await done(qn, call, "transfer", to="number", target="+861012345678")
    assert reply.status == "done"
    await wait_for(lambda: qn.complete(call.channel_id), what="record")
    rec = qn.record(call.channel_id)
    assert rec.end_reason == "transferred"
    assert (call.channel.context, call.channel.exten) == ("hotline-transfer", "+861012345678")
    await wait_for(lambda: qn.seat_state("8001") in ("wrap_up", "available"), what="8001 freed")


async def test_attended_transfer_consult_then_complete(
    sim: AriSimulator, queue_node: QueueNodeFactory
) -> None:
    qn = await queue_node(QUEUES)
    qn.add_agent("8001", answer_after=0.2)
    qn.add_agent("8002", answer_after=0.2, login=False)
    call = await sim.place_call("6000", "+8613800000025")
    first = await connected(qn, sim, call, "8001")
    qn.login("8002")
    reply = await done(qn, call, "consult", to="agent", target="8002")
    assert reply.status == "done"
    # The two agents talk; the caller waits on hold.
    await wait_for(lambda: qn.seat_state("8002") == "on_call", what="8002 answered")
    second = agent_leg(sim, "PJSIP/8002")
    assert second is not None
    await wait_for(
        lambda: sorted(bridge_of(sim, first)) == sorted([first, second]), what="consultation"
    )
    assert call.channel.bridge_id is None
    reply = await done(qn, call, "consult_complete")
    assert reply.status == "done"
    await wait_for(
        lambda: sorted(bridge_of(sim, call.channel_id)) == sorted([call.channel_id, second]),
        what="caller with 8002",
    )
    await wait_for(lambda: qn.seat_state("8001") in ("wrap_up", "available"), what="8001 freed")
    sim.engine.caller_hangup(call.channel)
    await wait_for(lambda: qn.complete(call.channel_id), what="record")
    rec = qn.record(call.channel_id)
    assert "transfer_completed" in [e["event"] for e in rec.legs]


async def test_attended_transfer_to_a_number_cancelled(
    sim: AriSimulator, queue_node: QueueNodeFactory
) -> None:
    qn = await queue_node(QUEUES)
    qn.add_agent("8001", answer_after=0.2)
    sim.set_phone("PJSIP/+861099@trunk", answer_after=0.2)
    call = await sim.place_call("6000", "+8613800000026")
    first = await connected(qn, sim, call, "8001")
    reply = await done(qn, call, "consult", to="number", target="+861099")
    assert reply.status == "done"
    outside = None

    def consulting() -> bool:
        nonlocal outside
        outside = agent_leg(sim, "PJSIP/+861099@trunk")
        return outside is not None and outside in bridge_of(sim, first)

    await wait_for(consulting, what="consulting the number")
    reply = await done(qn, call, "consult_cancel")
    assert reply.status == "done"
    await wait_for(
        lambda: sorted(bridge_of(sim, call.channel_id)) == sorted([call.channel_id, first]),
        what="caller back with 8001",
    )
    assert outside not in sim.engine.channels
    sim.engine.caller_hangup(call.channel)
    await wait_for(lambda: qn.complete(call.channel_id), what="record")
    assert "consult_cancelled" in [e["event"] for e in qn.record(call.channel_id).legs]
