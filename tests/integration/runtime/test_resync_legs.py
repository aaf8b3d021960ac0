"""An agent's leg that changes while events are not coming (a WebSocket gap, a controller
restart). Asterisk does not replay the events missed; the controller must ask about the
legs a call holds, or the caller sits in a silent bridge (the agent gone) or in a ring
that never ends (the agent's phone refused), until they give up.
"""

from __future__ import annotations

from agents import seat_store
from kernel.clock import utcnow
from simulator.callers import ScriptedCall
from simulator.model import SimChannel
from simulator.server import AriSimulator
from tests.integration.conftest import wait_for
from tests.integration.queue.conftest import (  # noqa: F401  (the fixture)
    QueueNode,
    QueueNodeFactory,
    catalog,
    queue_node,
)


def leg_events(qn: QueueNode, call: ScriptedCall) -> list[object]:
    recs = [r for r in qn.records() if r.channel_id == call.channel_id]
    return [e["event"] for e in recs[0].legs] if recs else []


def agent_leg(sim: AriSimulator, call: ScriptedCall, n: int = 1) -> SimChannel | None:
    return sim.engine.channels.get(f"{call.channel_id}~a{n}")


def saved_mode(qn: QueueNode, call: ScriptedCall) -> object:
    """The queue's mode in the call record's state snapshot (None before it has one)."""
    recs = [r for r in qn.records() if r.channel_id == call.channel_id]
    state = recs[0].state if recs else None
    if not isinstance(state, dict) or state.get("service") != "queue":
        return None
    service = state.get("service_state")
    return service.get("mode") if isinstance(service, dict) else None


def connects(qn: QueueNode) -> int:
    assert qn.node.stream is not None
    return qn.node.stream.connects


async def test_agent_hangs_up_while_the_socket_is_down_the_caller_is_not_left_in_silence(
    sim: AriSimulator,
    queue_node: QueueNodeFactory,  # noqa: F811
) -> None:
    qn = await queue_node()
    qn.add_agent("8001", answer_after=0.2, hangup_after=None)
    call = await sim.place_call("6000", "+8613800000021")
    await wait_for(lambda: "answered" in leg_events(qn, call), what="the agent answered")
    await wait_for(lambda: call.channel.bridge_id is not None, what="caller bridged")
    leg = agent_leg(sim, call)
    assert leg is not None
    # The agent hangs up in the same instant the socket drops: the leg's StasisEnd and
    # ChannelDestroyed are lost, and the caller is alone in the bridge.
    sim.drop_websockets()
    sim.engine.hangup(leg, 16, by="far_end")
    await wait_for(lambda: connects(qn) == 2, timeout=30, what="reconnect")
    # The resync finds the leg gone: goodbye, and we hang up (not the caller, much later).
    await call.ended(10)
    assert call.hangup_by == "system"
    assert call.heard[-1].media == "sound:custom/goodbye"
    await wait_for(lambda: qn.complete(call.channel_id), what="complete record")
    rec = qn.record(call.channel_id)
    assert (rec.end_reason, rec.agent, rec.hangup_side) == ("completed", "8001", "system")
    assert rec.agent_answered_at is not None
    assert "agent_hangup" in [e["event"] for e in rec.legs]
    await wait_for(lambda: qn.seat_state("8001") == "available", what="wrap-up over")


async def test_agent_phone_refuses_while_the_socket_is_down_the_call_goes_to_the_next_agent(
    sim: AriSimulator,
    queue_node: QueueNodeFactory,  # noqa: F811
) -> None:
    qn = await queue_node(catalog(sales={"ring_timeout": 2}))
    qn.add_agent("8001", answer_after=None)  # rung first; rings until refused below
    call = await sim.place_call("6000", "+8613800000022")
    await wait_for(lambda: agent_leg(sim, call) is not None, what="8001 ringing")
    leg = agent_leg(sim, call)
    assert leg is not None
    sim.set_phone("PJSIP/8001", 0.2, hangup_after=1.0)  # answers from now on
    # 8001 refuses the ringing call during the gap: its ChannelDestroyed is lost. Without
    # a resync the call waits for that leg's end forever (hanging up a leg that is gone
    # reports nothing), though 8001 is free again.
    sim.drop_websockets()
    sim.engine.hangup(leg, 21, by="far_end")
    await wait_for(lambda: connects(qn) == 2, timeout=30, what="reconnect")
    await wait_for(lambda: qn.complete(call.channel_id), timeout=15, what="served")
    rec = qn.record(call.channel_id)
    assert (rec.end_reason, rec.agent) == ("completed", "8001")
    assert [e["event"] for e in rec.legs][:4] == ["queue", "offer", "offer_withdrawn", "offer"]


async def test_agent_hangs_up_while_no_controller_runs_the_adopted_caller_is_told_goodbye(
    sim: AriSimulator,
    queue_node: QueueNodeFactory,  # noqa: F811
) -> None:
    first = await queue_node()
    first.add_agent("8001", answer_after=0.2, hangup_after=None)
    call = await sim.place_call("6000", "+8613800000023")
    await wait_for(lambda: saved_mode(first, call) == "connected", what="connected state saved")
    await first.node.stop()  # the controller goes; caller and agent stay on the line
    leg = agent_leg(sim, call)
    assert leg is not None
    sim.engine.hangup(leg, 16, by="far_end")  # nobody is listening to its events
    second = await queue_node()  # the same node: it adopts the call from its snapshot
    await call.ended(10)
    assert call.hangup_by == "system"
    assert call.heard[-1].media == "sound:custom/goodbye"
    await wait_for(lambda: second.complete(call.channel_id), what="complete record")
    rec = second.record(call.channel_id)
    assert (rec.end_reason, rec.agent) == ("completed", "8001")
    assert [r.channel_id for r in second.records()].count(call.channel_id) == 1


async def test_caller_who_hangs_up_in_the_queue_while_the_socket_is_down_abandoned(
    sim: AriSimulator,
    queue_node: QueueNodeFactory,  # noqa: F811
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
    call = await sim.place_call("6000", "+8613800000024")
    await wait_for(lambda: [e.status for e in qn.entries()] == ["waiting"], what="in line")
    await wait_for(lambda: "queue" in leg_events(qn, call), what="queue saved")
    sim.drop_websockets()
    sim.engine.caller_hangup(call.channel)  # its hang-up events are lost
    await wait_for(lambda: connects(qn) == 2, timeout=30, what="reconnect")
    await wait_for(lambda: qn.complete(call.channel_id), what="complete record")
    rec = qn.record(call.channel_id)
    # Nobody but the caller ended it before an agent answered: an abandoned call, counted
    # in the queue's abandonment rate (how exactly it ended was not seen).
    assert (rec.queue, rec.end_reason, rec.agent_answered_at) == ("sales", "abandoned", None)
    assert rec.wait_seconds is not None
    assert [e["event"] for e in rec.legs][-1] == "abandoned"
    await wait_for(lambda: qn.entries() == [], what="out of line")
