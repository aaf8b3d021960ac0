"""Recording a queue call: when the queue machine asks for a bridge recording, when it
asks for it to be saved, and that recording trouble never reaches the caller."""

from __future__ import annotations

import json
from dataclasses import asdict, replace

from agents.queue_config import QueueConfig
from ivr.call import commands as cmd
from ivr.call import inputs as inp
from ivr.queue.service import MAX_RECORDING_PARTS, QueueMode, QueueService, QueueState
from tests.unit.queue.test_queue_service import (
    BILLING,
    BRIDGE,
    CHANNEL,
    LEG1,
    OPERATOR,
    QueueCall,
    at,
    effects,
    of,
    one,
)

RECORDED = replace(OPERATOR, record=True)
RECORDED_BILLING = replace(BILLING, record=True)
NAME = f"call-{CHANNEL}"
LEG2 = f"{CHANNEL}~a2"
START = cmd.StartRecording(BRIDGE, NAME, at(0), 1)  # the call started at t=0


def recorded_call(*configs: QueueConfig) -> QueueCall:
    return QueueCall(configs=configs or (RECORDED, BILLING))


def test_a_queue_that_does_not_record_never_asks_for_a_recording() -> None:
    call = QueueCall()  # operator: record is off (the default)
    call.connected()
    out = call.leg_ended(cause=16)
    call.caller_hangs_up()
    closing = call.send(inp.Left(call.now(), 16))
    assert of(out + closing, cmd.StartRecording) == []
    assert of(out + closing, cmd.SaveRecording) == []
    assert QueueConfig("any").record is False


def test_answer_in_a_recording_queue_records_the_bridge_once_the_two_are_in_it() -> None:
    call = recorded_call()
    call.ringing()
    out = call.leg_answered()  # t=4
    assert effects(out) == [
        cmd.Bridge(BRIDGE, (CHANNEL, LEG1)),  # the bridge has both before the recorder joins
        cmd.StopMoh(),
        START,
        cmd.SeatAnswered(5),
        cmd.QueueMark("connected"),
    ]
    assert call.queue.s.recording == NAME
    assert [e["event"] for e in call.queue.s.legs[-2:]] == ["answered", "recording"]


def test_agent_hangup_destroys_the_bridge_then_saves_the_recording() -> None:
    call = recorded_call()
    call.connected()
    out = effects(call.leg_ended(cause=16))
    destroy = out.index(cmd.DestroyBridge(BRIDGE))
    assert out[destroy + 1] == cmd.SaveRecording(NAME, at(0), 1, None)
    # The recording ending with the bridge (RecordingFinished) is not saved twice.
    late = call.send(inp.RecordingEnded(call.now(), NAME))
    goodbye = one(out, cmd.Play)
    closing = call.send(inp.Left(call.now(), 16))
    assert of(late + call.done(goodbye) + closing, cmd.SaveRecording) == []


def test_caller_hangup_saves_the_recording_on_the_way_out() -> None:
    call = recorded_call()
    call.connected()
    out = call.caller_hangs_up()
    assert of(out, cmd.SaveRecording) == [cmd.SaveRecording(NAME, at(0), 1, None)]
    closing = call.send(inp.Left(call.now(), 16))
    assert of(closing, cmd.SaveRecording) == []
    assert one(closing, cmd.RecordEnd).end_reason == "answered"


def test_a_recording_that_cannot_start_leaves_the_call_as_it_is() -> None:
    call = recorded_call()
    call.connected()
    out = call.send(inp.CommandFailed(call.now(), "StartRecording", "409 exists", gone=False))
    # No apology, no hang-up, nothing for the caller: the conversation goes on.
    assert effects(out) == []
    assert call.flow.state.phase == "in_service" and call.queue.s.mode == "connected"
    assert call.queue.s.legs[-1]["event"] == "recording_failed"
    # Nothing to save at the end (the executor wrote the failure down).
    out = call.leg_ended(cause=16)
    assert of(out, cmd.SaveRecording) == []


def test_asterisk_failing_the_recording_saves_it_as_failed_with_the_cause() -> None:
    call = recorded_call()
    call.connected()
    out = call.send(inp.RecordingEnded(call.now(), NAME, ok=False, cause="disk full"))
    assert of(out, cmd.SaveRecording) == [cmd.SaveRecording(NAME, at(0), 1, "disk full")]
    assert of(out, cmd.StartRecording) == []  # a failing recorder is not retried
    assert of(call.leg_ended(cause=16), cmd.SaveRecording) == []


def test_a_recording_event_of_another_name_is_ignored() -> None:
    call = recorded_call()
    call.connected()
    assert call.send(inp.RecordingEnded(call.now(), "call-someone-else")) == []
    assert call.queue.s.recording == NAME


def test_transfer_back_to_a_queue_saves_part_one_and_the_next_agent_starts_part_two() -> None:
    call = recorded_call(RECORDED, RECORDED_BILLING)
    call.connected()
    call.control(1, "transfer", to="queue", target="billing")
    # Caller out, agent gone: the bridge is empty and Asterisk ends the recording.
    out = call.send(inp.RecordingEnded(call.now(), NAME))
    assert of(out, cmd.SaveRecording) == [cmd.SaveRecording(NAME, at(0), 1, None)]
    assert of(out, cmd.StartRecording) == []  # nobody to record while the caller waits
    call.enqueued()
    call.offered(agent_id=6, staff="8002")
    out = call.leg_answered(LEG2)
    assert of(out, cmd.StartRecording) == [cmd.StartRecording(BRIDGE, f"{NAME}-2", at(0), 2)]
    out = call.leg_ended(LEG2, cause=16)
    assert of(out, cmd.SaveRecording) == [cmd.SaveRecording(f"{NAME}-2", at(0), 2, None)]


def test_a_transfer_to_a_queue_that_does_not_record_records_no_second_part() -> None:
    call = recorded_call(RECORDED, BILLING)
    call.connected()
    call.control(1, "transfer", to="queue", target="billing")
    call.send(inp.RecordingEnded(call.now(), NAME))
    call.enqueued()
    call.offered(agent_id=6, staff="8002")
    assert of(call.leg_answered(LEG2), cmd.StartRecording) == []


def test_a_recording_ended_while_still_talking_goes_on_as_the_next_part() -> None:
    # E.g. the transfer's new agent joined just as Asterisk ended the first part.
    call = recorded_call()
    call.connected()
    out = call.send(inp.RecordingEnded(call.now(), NAME))
    assert of(out, cmd.SaveRecording) == [cmd.SaveRecording(NAME, at(0), 1, None)]
    assert of(out, cmd.StartRecording) == [cmd.StartRecording(BRIDGE, f"{NAME}-2", at(0), 2)]
    # Bounded: a recording that keeps ending does not loop for ever.
    for _ in range(3 * MAX_RECORDING_PARTS):
        name = call.queue.s.recording
        if name is None:
            break
        call.send(inp.RecordingEnded(call.now(), name))
    assert call.queue.s.recording_part == MAX_RECORDING_PARTS
    assert call.queue.s.recording is None


def test_the_recording_survives_a_snapshot_round_trip() -> None:
    call = recorded_call()
    call.connected()
    saved = json.loads(json.dumps(call.queue.snapshot()))
    again = QueueService(call.configs.get)
    again.restore(saved)
    assert asdict(again.s) == asdict(call.queue.s)
    assert again.s.recording == NAME


def test_a_restored_snapshot_has_typed_modes_and_an_unknown_mode_starts_afresh() -> None:
    call = recorded_call()
    call.connected()
    saved = json.loads(json.dumps(call.queue.snapshot()))
    assert saved["mode"] == "connected"  # a plain string in the stored record
    again = QueueService(call.configs.get)
    again.restore(saved)
    assert again.s.mode is QueueMode.CONNECTED
    assert again.s.before_claim is QueueMode.CONNECTED
    again.restore({**saved, "mode": "no_such_mode"})
    assert again.s == QueueState()
