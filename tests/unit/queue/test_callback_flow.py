"""A queue callback's attempt: the reserved agent first, then the customer, input by input
with a fixed clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from ivr.call import commands as cmd
from ivr.call import inputs as inp
from ivr.queue.callback import T_AGENT_RING, T_CUSTOMER_RING, CallbackFlow, CallbackJob

T0 = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)
KEY = "cb11-1"
AGENT_LEG = f"{KEY}~a1"
CUSTOMER_LEG = f"{KEY}~c1"
BRIDGE = f"{KEY}~b"
JOB = CallbackJob(
    entry_id=11,
    callback_id=4,
    attempt=1,
    number="+8613800000001",
    language="zh",
    queue="operator",
    agent_id=5,
    staff_number="8001",
    agent_endpoint="PJSIP/8001",
    customer_endpoint="PJSIP/+8613800000001@trunk",
    ring_timeout=15,
    customer_ring_timeout=30,
    wrap_up_seconds=20,
    misses_before_away=2,
)

C = TypeVar("C")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def of(out: list[cmd.Command], kind: type[C]) -> list[C]:
    return [c for c in out if isinstance(c, kind)]


def one(out: list[cmd.Command], kind: type[C]) -> C:
    found = of(out, kind)
    assert len(found) == 1, (kind.__name__, out)
    return found[0]


def effects(out: list[cmd.Command]) -> list[cmd.Command]:
    return [c for c in out if not isinstance(c, cmd.StartTimer | cmd.CancelTimer)]


def started(out: list[cmd.Command]) -> dict[str, float]:
    return {c.name: c.seconds for c in of(out, cmd.StartTimer)}


def dialling() -> tuple[CallbackFlow, list[cmd.Command]]:
    flow = CallbackFlow(KEY, JOB)
    return flow, flow.handle(inp.DialStart(at(0)))


def agent_answered() -> tuple[CallbackFlow, list[cmd.Command]]:
    flow, _ = dialling()
    return flow, flow.handle(inp.LegAnswered(at(4), AGENT_LEG))


def connected() -> CallbackFlow:
    flow, _ = agent_answered()
    flow.handle(inp.LegAnswered(at(12), CUSTOMER_LEG))
    return flow


def test_dial_start_rings_the_agent_first() -> None:
    flow, out = dialling()
    assert effects(out) == [
        cmd.Originate(AGENT_LEG, "PJSIP/8001", timeout=25, caller_id='"Callback" <+8613800000001>')
    ]
    assert started(out) == {T_AGENT_RING: 15}
    assert flow.state.phase == "agent_ringing"


def test_agent_answering_opens_the_record_and_dials_the_customer() -> None:
    _, out = agent_answered()
    assert of(out, cmd.CancelTimer) == [cmd.CancelTimer(T_AGENT_RING)]
    assert effects(out) == [
        cmd.SeatAnswered(5),
        cmd.Bridge(BRIDGE, (AGENT_LEG,)),
        cmd.RecordStart(
            started_at=at(4),
            caller_number="+8613800000001",
            caller_name="",
            dialled="callback",
            language="zh",
        ),
        cmd.RecordUpdate({"queue": "operator", "agent": "8001", "callback_id": 4}),
        cmd.Originate(CUSTOMER_LEG, "PJSIP/+8613800000001@trunk", timeout=40),
    ]
    assert started(out) == {T_CUSTOMER_RING: 30}


def test_customer_answering_joins_them_and_records_the_answer() -> None:
    flow, _ = agent_answered()
    out = flow.handle(inp.LegAnswered(at(12), CUSTOMER_LEG))
    assert of(out, cmd.CancelTimer) == [cmd.CancelTimer(T_CUSTOMER_RING)]
    assert effects(out) == [
        cmd.Bridge(BRIDGE, (CUSTOMER_LEG,)),
        cmd.RecordAnswer(at(12)),
        cmd.RecordUpdate({"agent_answered_at": at(12), "wait_seconds": 0.0}),
        cmd.CallbackResult(11, "answered", "8001", CUSTOMER_LEG),
    ]
    assert flow.state.phase == "connected"


def test_busy_customer_ends_the_attempt_and_wraps_the_agent_up() -> None:
    flow, _ = agent_answered()
    out = flow.handle(inp.LegEnded(at(6), CUSTOMER_LEG, 17))
    assert effects(out) == [
        cmd.HangupLeg(AGENT_LEG),
        cmd.SeatCallEnded(5, 20),
        cmd.CallbackResult(11, "busy", "8001", None),
        cmd.DestroyBridge(BRIDGE),
        cmd.RecordEnd(
            ended_at=at(6),
            hangup_cause=17,
            hangup_cause_text=None,
            hangup_side="system",
            end_reason="callback_busy",
        ),
        cmd.Finished(),
    ]
    assert flow.state.end_reason == "callback_busy"
    assert flow.handle(inp.Left(at(7))) == []  # over: nothing more happens


def test_customer_not_answering_is_hung_up_at_the_ring_timeout() -> None:
    flow, out = agent_answered()
    (ring,) = of(out, cmd.StartTimer)
    assert effects(flow.handle(inp.TimerFired(at(34), ring.name, ring.token))) == [
        cmd.HangupLeg(CUSTOMER_LEG)
    ]
    out = flow.handle(inp.LegEnded(at(34.1), CUSTOMER_LEG, 16))
    assert one(out, cmd.CallbackResult).outcome == "no_answer"
    assert one(out, cmd.RecordEnd).end_reason == "callback_no_answer"


def test_agent_ringing_out_is_a_miss_and_no_record() -> None:
    flow, out = dialling()
    (ring,) = of(out, cmd.StartTimer)
    assert effects(flow.handle(inp.TimerFired(at(15), ring.name, ring.token))) == [
        cmd.HangupLeg(AGENT_LEG)
    ]
    out = flow.handle(inp.LegEnded(at(15.1), AGENT_LEG, 19))
    assert effects(out) == [
        cmd.SeatNoAnswer(5, missed=True, misses_before_away=2),
        cmd.CallbackResult(11, "agent_unavailable", "8001", None),
        cmd.DestroyBridge(BRIDGE),
        cmd.Finished(),
    ]
    assert of(out, cmd.RecordEnd) == [] and of(out, cmd.RecordStart) == []
    assert flow.state.end_reason == "callback_agent_unavailable"


def test_a_stale_ring_timer_does_nothing() -> None:
    flow, _ = agent_answered()  # the agent's ring timer (token 1) was cancelled
    assert flow.handle(inp.TimerFired(at(15), T_AGENT_RING, 1)) == []


def test_customer_hanging_up_when_connected_ends_the_call_answered() -> None:
    flow = connected()
    out = flow.handle(inp.LegEnded(at(200), CUSTOMER_LEG, 16))
    assert effects(out) == [
        cmd.HangupLeg(AGENT_LEG),
        cmd.SeatCallEnded(5, 20),
        cmd.DestroyBridge(BRIDGE),
        cmd.RecordEnd(
            ended_at=at(200),
            hangup_cause=16,
            hangup_cause_text=None,
            hangup_side="caller",
            end_reason="callback_answered",
        ),
        cmd.Finished(),
    ]


def test_agent_hanging_up_when_connected_is_the_systems_side() -> None:
    flow = connected()
    out = flow.handle(inp.LegEnded(at(200), AGENT_LEG, 16))
    assert cmd.HangupLeg(CUSTOMER_LEG) in out
    end = one(out, cmd.RecordEnd)
    assert (end.hangup_side, end.end_reason) == ("system", "callback_answered")


def test_controls_are_refused_on_a_callback() -> None:
    flow = connected()
    out = flow.handle(inp.ControlRequested(at(30), 9, "hold"))
    assert out == [cmd.ControlDone(9, False, "not possible on a queue callback")]


def test_left_closes_the_attempt() -> None:
    flow, _ = agent_answered()
    out = flow.handle(inp.Left(at(8)))
    assert effects(out) == [
        cmd.HangupLeg(AGENT_LEG),
        cmd.HangupLeg(CUSTOMER_LEG),
        cmd.SeatCallEnded(5, 20),
        cmd.CallbackResult(11, "failed", "8001", None),
        cmd.DestroyBridge(BRIDGE),
        cmd.RecordEnd(
            ended_at=at(8),
            hangup_cause=None,
            hangup_cause_text=None,
            hangup_side="system",
            end_reason="callback_failed",
        ),
        cmd.Finished(),
    ]
    assert of(out, cmd.CancelTimer) == [cmd.CancelTimer(T_CUSTOMER_RING)]
    assert flow.handle(inp.Left(at(9))) == []


def test_left_before_the_agent_answered_gives_the_agent_back_unmissed() -> None:
    flow, _ = dialling()
    out = flow.handle(inp.Left(at(3)))
    assert cmd.SeatNoAnswer(5, missed=False) in out
    assert of(out, cmd.RecordEnd) == []


def test_customer_phone_that_cannot_be_dialled_ends_the_attempt_failed_over() -> None:
    flow, _ = agent_answered()
    out = flow.handle(inp.CommandFailed(at(5), "Originate", "500", gone=False))
    assert cmd.HangupLeg(AGENT_LEG) in out
    assert one(out, cmd.CallbackResult).outcome == "no_answer"
    assert cmd.Finished() in out


def test_the_customer_sees_the_configured_caller_id() -> None:
    flow = CallbackFlow(KEY, replace(JOB, caller_id="4008001234"))
    flow.handle(inp.DialStart(at(0)))
    out = flow.handle(inp.LegAnswered(at(4), AGENT_LEG))
    originate = one(out, cmd.Originate)
    assert (originate.leg_id, originate.caller_id) == (CUSTOMER_LEG, "4008001234")


def test_an_agent_answering_once_quiet_hours_began_does_not_dial_the_customer() -> None:
    flow = CallbackFlow(KEY, replace(JOB, quiet_from=at(3)))
    flow.handle(inp.DialStart(at(0)))
    out = flow.handle(inp.LegAnswered(at(4), AGENT_LEG))
    assert not of(out, cmd.Originate)
    assert one(out, cmd.SeatNoAnswer) == cmd.SeatNoAnswer(5, missed=False)
    assert one(out, cmd.CallbackResult).outcome == "quiet_hours"
    assert not of(out, cmd.RecordStart)
    assert flow.state.end_reason == "callback_quiet_hours"
    # Answered before quiet hours: dialled as usual.
    flow = CallbackFlow(KEY, replace(JOB, quiet_from=at(5)))
    flow.handle(inp.DialStart(at(0)))
    assert one(flow.handle(inp.LegAnswered(at(4), AGENT_LEG)), cmd.Originate).leg_id == CUSTOMER_LEG


# -- recording the conversation (a queue with ``record`` on) ------------------------------

RECORDED = replace(JOB, record=True)
RECORDING = f"call-{KEY}"


def recorded_connected() -> tuple[CallbackFlow, list[cmd.Command]]:
    flow = CallbackFlow(KEY, RECORDED)
    flow.handle(inp.DialStart(at(0)))
    out = flow.handle(inp.LegAnswered(at(4), AGENT_LEG))
    assert not of(out, cmd.StartRecording)  # the agent alone is not a conversation
    return flow, flow.handle(inp.LegAnswered(at(12), CUSTOMER_LEG))


def test_a_recorded_callback_records_from_the_customer_joining_until_the_bridge_goes() -> None:
    flow, out = recorded_connected()
    bridge = out.index(cmd.Bridge(BRIDGE, (CUSTOMER_LEG,)))
    # Right after the customer joins; dated like the callback's own record (agent answer).
    assert out[bridge + 1] == cmd.StartRecording(BRIDGE, RECORDING, at(4), 1)
    out = flow.handle(inp.LegEnded(at(200), CUSTOMER_LEG, 16))
    destroy = out.index(cmd.DestroyBridge(BRIDGE))
    assert out[destroy + 1] == cmd.SaveRecording(RECORDING, at(4), 1, None)
    assert out[-1] == cmd.Finished()
    assert flow.handle(inp.RecordingEnded(at(200.1), RECORDING)) == []  # saved already


def test_a_callback_of_a_queue_that_does_not_record_records_nothing() -> None:
    flow = connected()
    out = flow.handle(inp.LegEnded(at(200), CUSTOMER_LEG, 16))
    assert not of(out, cmd.StartRecording) and not of(out, cmd.SaveRecording)


def test_a_customer_never_reached_is_not_recorded() -> None:
    flow = CallbackFlow(KEY, RECORDED)
    flow.handle(inp.DialStart(at(0)))
    first = flow.handle(inp.LegAnswered(at(4), AGENT_LEG))
    out = first + flow.handle(inp.LegEnded(at(6), CUSTOMER_LEG, 17))
    assert not of(out, cmd.StartRecording) and not of(out, cmd.SaveRecording)


def test_a_recording_that_cannot_start_leaves_the_call_alone() -> None:
    flow, _ = recorded_connected()
    failed = inp.CommandFailed(at(12.1), "StartRecording", "409 conflict", gone=False)
    assert flow.handle(failed) == []
    assert flow.state.phase == "connected"
    out = flow.handle(inp.LegEnded(at(200), CUSTOMER_LEG, 16))
    assert not of(out, cmd.SaveRecording)  # nothing to save; the executor noted the failure
    assert one(out, cmd.RecordEnd).end_reason == "callback_answered"


def test_a_recording_asterisk_ends_mid_call_is_saved_and_the_rest_recorded() -> None:
    flow, _ = recorded_connected()
    out = flow.handle(inp.RecordingEnded(at(50), RECORDING))
    assert out == [
        cmd.SaveRecording(RECORDING, at(4), 1, None),
        cmd.StartRecording(BRIDGE, f"{RECORDING}-2", at(4), 2),
    ]
    out = flow.handle(inp.RecordingEnded(at(60), f"{RECORDING}-2", ok=False, cause="disk"))
    assert out == [cmd.SaveRecording(f"{RECORDING}-2", at(4), 2, "disk")]  # no retry
    out = flow.handle(inp.LegEnded(at(200), AGENT_LEG, 16))
    assert not of(out, cmd.SaveRecording)


def test_closing_a_recorded_callback_saves_its_recording() -> None:
    flow, _ = recorded_connected()
    out = flow.handle(inp.Left(at(30)))
    assert one(out, cmd.SaveRecording) == cmd.SaveRecording(RECORDING, at(4), 1, None)
    assert out.index(cmd.DestroyBridge(BRIDGE)) < out.index(one(out, cmd.SaveRecording))
