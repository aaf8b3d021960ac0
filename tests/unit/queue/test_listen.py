"""A lead listening in (``ivr.queue.listen``), driven through a queue call input by
input: what each step asks for, and that no failure of the listening ever touches the
caller, the agent's leg or the call's bridge."""

from __future__ import annotations

import json

from ivr.call import commands as cmd
from ivr.call import inputs as inp
from ivr.queue.listen import LISTEN_RING_SECONDS, T_LISTEN_RING
from tests.unit.queue.test_queue_service import (
    BRIDGE,
    CHANNEL,
    LEG1,
    QueueCall,
    adopt,
    effects,
    of,
    one,
    started_timers,
)

LEAD = f"{CHANNEL}~l2"  # the agent's leg was ~a1
SNOOP = f"{CHANNEL}~s2"
LISTEN_BRIDGE = f"{CHANNEL}~lb2"

# What would disturb the conversation: anything on the caller's channel, the agent's leg
# or the call's bridge.
CALL_TOUCHING = (
    cmd.Hangup,
    cmd.Play,
    cmd.StartMoh,
    cmd.StopMoh,
    cmd.Bridge,
    cmd.Unbridge,
    cmd.SeatCallEnded,
    cmd.SeatNoAnswer,
)


def listen(call: QueueCall, control_id: int = 40) -> list[cmd.Command]:
    return call.send(
        inp.ControlRequested(
            call.now(),
            control_id,
            "listen",
            {"endpoint": "PJSIP/9001", "lead": "9001"},
            requested_by="9001",
        )
    )


def untouched(out: list[cmd.Command]) -> None:
    assert not [c for c in out if isinstance(c, CALL_TOUCHING)], out
    assert cmd.HangupLeg(LEG1) not in out and cmd.DestroyBridge(BRIDGE) not in out


def listening(call: QueueCall) -> None:
    call.connected()
    listen(call)
    call.leg_answered(LEAD)
    call.leg_answered(SNOOP)
    call.send(inp.ListenerBridged(call.now(), LISTEN_BRIDGE))


def test_the_lead_is_rung_then_snooped_in_then_bridged() -> None:
    call = QueueCall()
    call.connected()
    out = listen(call)
    assert effects(out) == [
        cmd.DialListener(LEAD, "PJSIP/9001", LISTEN_RING_SECONDS + 10, '"Listen 8001" <8001>')
    ]
    assert started_timers(out) == {T_LISTEN_RING: LISTEN_RING_SECONDS}
    out = call.leg_answered(LEAD)
    assert effects(out) == [cmd.Snoop(SNOOP, spy="both")]
    assert cmd.CancelTimer(T_LISTEN_RING) in out
    out = call.leg_answered(SNOOP)  # the snoop's StasisStart
    assert effects(out) == [cmd.BridgeListener(LISTEN_BRIDGE, (SNOOP, LEAD))]
    out = call.send(inp.ListenerBridged(call.now(), LISTEN_BRIDGE))
    assert effects(out) == [cmd.ControlDone(40, True, "9001 is listening")]
    assert call.queue.s.mode == "connected" and call.queue.s.leg == LEG1


def test_the_lead_hanging_up_lets_go_of_the_snoop_only() -> None:
    call = QueueCall()
    listening(call)
    out = call.leg_ended(LEAD)
    untouched(out)
    assert effects(out) == [cmd.HangupLeg(SNOOP), cmd.DestroyBridge(LISTEN_BRIDGE)]
    assert call.queue.s.listen is None
    assert [e["event"] for e in call.queue.s.legs][-1] == "listen_ended"


def test_the_caller_hanging_up_ends_the_listening_too() -> None:
    call = QueueCall()
    listening(call)
    out = call.caller_hangs_up()
    assert cmd.HangupLeg(LEAD) in out and cmd.HangupLeg(SNOOP) in out
    assert cmd.DestroyBridge(LISTEN_BRIDGE) in out
    assert not of(out, cmd.ControlDone)  # already answered "done"
    record = call.left()
    assert record.end_reason == "answered"


def test_a_lead_who_does_not_answer_in_time() -> None:
    call = QueueCall()
    call.connected()
    listen(call)
    out = call.fire(T_LISTEN_RING, dt=LISTEN_RING_SECONDS)
    untouched(out)
    assert effects(out) == [
        cmd.ControlDone(
            40, False, f"failed: the lead's phone did not answer in {LISTEN_RING_SECONDS} s"
        ),
        cmd.HangupLeg(LEAD),
    ]
    # The leg's end arrives afterwards: nothing more to do.
    assert effects(call.leg_ended(LEAD, cause=16)) == []


def test_a_busy_lead_or_a_phone_that_cannot_be_rung() -> None:
    call = QueueCall()
    call.connected()
    listen(call)
    out = call.leg_ended(LEAD, cause=17)
    untouched(out)
    assert effects(out) == [cmd.ControlDone(40, False, "failed: the lead's phone is busy")]
    listen(call, control_id=41)
    out = call.send(inp.CommandFailed(call.now(), "DialListener", "400 bad endpoint", gone=False))
    untouched(out)
    done = one(out, cmd.ControlDone)
    assert (done.ok, done.result) == (
        False,
        "failed: cannot ring the lead's phone (400 bad endpoint)",
    )
    assert call.queue.s.mode == "connected" and call.flow.state.phase == "in_service"


def test_a_refused_snoop_or_bridge_hangs_up_the_lead_and_nothing_else() -> None:
    for failed in ("Snoop", "BridgeListener"):
        call = QueueCall()
        call.connected()
        listen(call)
        call.leg_answered(LEAD)
        if failed == "BridgeListener":
            call.leg_answered(SNOOP)
        out = call.send(inp.CommandFailed(call.now(), failed, "refused", gone=False))
        untouched(out)
        done = one(out, cmd.ControlDone)
        assert not done.ok and done.result.startswith("failed: ")
        assert cmd.HangupLeg(LEAD) in out and cmd.HangupLeg(SNOOP) in out
        assert call.flow.state.phase == "in_service" and call.queue.s.listen is None


def test_listening_is_refused_without_an_agent_or_twice() -> None:
    call = QueueCall()
    call.ringing()  # the agent's phone rings: nobody to listen to yet
    out = listen(call)
    assert effects(out) == [
        cmd.ControlDone(40, False, "failed: no agent is on the call (offering)")
    ]
    call.leg_answered()
    listen(call, control_id=41)
    out = listen(call, control_id=42)
    assert effects(out) == [cmd.ControlDone(42, False, "failed: 9001 is already listening")]


def test_a_restarted_controller_lets_the_old_listening_go() -> None:
    call = QueueCall()
    listening(call)
    saved = json.loads(json.dumps(call.flow.snapshot()))  # what the record stores
    assert saved["service_state"]["listen"]["phase"] == "listening"
    out = adopt(call, saved, t=30)
    assert cmd.HangupLeg(LEAD) in out and cmd.HangupLeg(SNOOP) in out
    assert cmd.DestroyBridge(LISTEN_BRIDGE) in out
    untouched(out)
    assert call.queue.s.listen is None and call.queue.s.mode == "connected"
