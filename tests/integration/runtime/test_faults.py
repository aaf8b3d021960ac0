"""Faults mid-call: the WebSocket drops, ARI answers 503s. Every call still ends with
exactly one complete record and no caller is left in silence."""

from __future__ import annotations

import asyncio

from hotline.node import ControllerNode
from ivr.ari.stream import EventStream
from simulator.server import AriSimulator
from tests.integration.conftest import NodeFactory, wait_for
from tests.integration.runtime.test_call_lifecycle import record_count, records


def stream_of(node: ControllerNode) -> EventStream:
    assert node.stream is not None
    return node.stream


async def test_socket_dropped_mid_call_reconnects_and_the_call_completes(
    sim: AriSimulator, start_node: NodeFactory
) -> None:
    node = await start_node()
    stream = stream_of(node)
    call = await sim.place_call("6000", "+8613800000001", script="wait for prompt")
    await wait_for(lambda: bool(call.heard), what="greeting starts")
    loop_time = asyncio.get_running_loop().time
    dropped_at = loop_time()
    assert sim.drop_websockets() == 1
    await wait_for(lambda: stream.connects == 2, timeout=30, what="reconnect")
    assert loop_time() - dropped_at < 2.0
    await call.ended(20)
    # The greeting played to its end (or the caller was told goodbye), then the system hung up.
    assert call.hangup_by == "system"
    assert call.heard[0].completed
    await wait_for(lambda: record_count(node) == 1 and records(node)[0].is_complete, what="record")
    (rec,) = records(node)
    assert rec.hangup_side == "system"
    assert rec.end_reason == "completed"


async def test_caller_hangs_up_while_the_socket_is_down(
    sim: AriSimulator, start_node: NodeFactory
) -> None:
    node = await start_node()
    stream = stream_of(node)
    call = await sim.place_call("6000", "+8613800000002", script="wait for prompt")
    await wait_for(lambda: bool(call.heard), what="greeting starts")
    await wait_for(lambda: record_count(node) == 1, what="record started")
    # Cut the socket and hang up in the same instant: the hang-up events are lost.
    sim.drop_websockets()
    sim.engine.caller_hangup(call.channel)
    await wait_for(lambda: stream.connects == 2, timeout=30, what="reconnect")
    await wait_for(
        lambda: bool(records(node)) and records(node)[0].is_complete,
        timeout=30,
        what="record completed by reconcile",
    )
    (rec,) = records(node)
    assert rec.end_reason == "ended_unobserved"
    assert rec.ended_at is not None
    assert node.controller is not None and not node.controller.sessions


async def test_503_storm_calls_end_gracefully_and_the_controller_stays_up(
    sim: AriSimulator, start_node: NodeFactory
) -> None:
    node = await start_node()
    # Long enough to outlast the executor's retries: answering fails for the first call.
    sim.fail_next(12)
    first = await sim.place_call("6000", "+8613800000003", script="wait for prompt")
    await first.ended(30)
    # Never silence: either it was greeted/apologised to, or hung up by us — not left ringing.
    assert first.hangup_by == "system"
    assert sim.fail_remaining == 0
    # The controller is still up and serves the next call normally.
    stream = stream_of(node)
    await wait_for(lambda: stream.connected, timeout=30, what="stream connected after storm")
    second = await sim.place_call("6000", "+8613800000004", script="wait for prompt")
    await second.ended(20)
    assert [h.media for h in second.heard] == ["sound:custom/greeting"]
    await wait_for(
        lambda: record_count(node) == 2 and all(r.is_complete for r in records(node)),
        what="two complete records",
    )
    by_channel = {r.channel_id: r for r in records(node)}
    assert by_channel[first.channel_id].end_reason in ("error", "completed")
    assert by_channel[second.channel_id].end_reason == "completed"


async def test_503_storm_when_hanging_up_retries_until_the_call_is_down(
    sim: AriSimulator, start_node: NodeFactory
) -> None:
    node = await start_node()
    call = await sim.place_call("6000", "+8613800000005", script="wait for prompt")
    await wait_for(lambda: bool(call.heard), what="greeting starts")
    # Every hang-up request fails for a while: the executor's quick retries are used
    # up, then the flow retries with backoff until Asterisk takes it.
    sim.fail_next(6, match="DELETE /ari/channels/")
    await call.ended(30)
    assert call.hangup_by == "system"
    assert sim.fail_remaining == 0
    await wait_for(lambda: record_count(node) == 1 and records(node)[0].is_complete, what="record")
    (rec,) = records(node)
    assert (rec.hangup_side, rec.end_reason) == ("system", "completed")


async def test_reconcile_is_retried_when_asterisk_will_not_list_channels(
    sim: AriSimulator, start_node: NodeFactory
) -> None:
    node = await start_node()
    stream = stream_of(node)
    call = await sim.place_call("6000", "+8613800000006", script="wait for prompt")
    await wait_for(lambda: bool(call.heard), what="greeting starts")
    await wait_for(lambda: record_count(node) == 1, what="record started")
    # The hang-up is lost in the socket gap, and the first listings after the
    # reconnect fail: only a retried reconcile can notice that the call is over.
    sim.fail_next(2, match="GET /ari/channels")
    sim.drop_websockets()
    sim.engine.caller_hangup(call.channel)
    await wait_for(lambda: stream.connects == 2, timeout=30, what="reconnect")
    await wait_for(
        lambda: bool(records(node)) and records(node)[0].is_complete,
        timeout=30,
        what="record completed by a retry",
    )
    assert sim.fail_remaining == 0
    assert records(node)[0].end_reason == "ended_unobserved"


async def test_a_call_whose_stasis_start_was_lost_in_a_gap_is_served_from_the_start(
    sim: AriSimulator, start_node: NodeFactory
) -> None:
    node = await start_node()
    stream = stream_of(node)
    # The call's StasisStart is still waiting to go out when the socket breaks, so it is
    # lost with it (Asterisk does not replay events): after the reconnect the controller
    # only finds an unanswered channel in its application that it knows nothing about.
    sim.delay_events(30)
    call = await sim.place_call("6000", "+8613800000005", script="wait for prompt")
    await wait_for(lambda: call.channel.app_name == "Stasis", what="call in Stasis")
    assert sim.drop_websockets() == 1
    sim.delay_events(0)
    await wait_for(lambda: stream.connects == 2, timeout=30, what="reconnect")
    await call.ended(20)
    # Served like any call: answered, the greeting heard to its end, no apology.
    assert call.heard[0].media == "sound:custom/greeting"
    assert call.heard[0].completed
    assert "sound:custom/apology_technical" not in [h.media for h in call.heard]
    await wait_for(lambda: record_count(node) == 1 and records(node)[0].is_complete, what="record")
    (rec,) = records(node)
    assert rec.answered_at is not None
    assert (rec.hangup_side, rec.end_reason) == ("system", "completed")
