"""What a queue call (and a queue callback's attempt) tells a resync after a gap in events:
the legs to ask Asterisk about; and how a caller whose hang-up was never seen is recorded."""

from __future__ import annotations

import pytest

from ivr.call import commands as cmd
from ivr.call import inputs as inp
from ivr.queue.callback import CallbackFlow
from tests.unit.queue.test_callback_flow import AGENT_LEG, CUSTOMER_LEG, JOB, KEY
from tests.unit.queue.test_callback_flow import at as cb_at
from tests.unit.queue.test_queue_service import LEG1, QueueCall, effects, one, sound


def test_live_legs_follow_the_offer_from_ringing_to_answered_to_gone() -> None:
    call = QueueCall()
    call.waiting()
    assert call.flow.live_legs() == {}
    call.offered()
    assert call.flow.live_legs() == {LEG1: False}
    call.leg_answered()
    assert call.flow.live_legs() == {LEG1: True}
    call.leg_ended()
    assert call.flow.live_legs() == {}  # saying goodbye: nothing held any more


def test_a_consulted_party_is_a_live_leg_too() -> None:
    call = QueueCall()
    call.connected()
    call.control(1, "consult", to="number", target="+8613900000000")
    assert call.flow.live_legs() == {LEG1: True, f"{LEG1[:-3]}~c2": False}


def test_agent_leg_found_gone_after_a_gap_ends_the_call_with_goodbye() -> None:
    # What the resync feeds when the agent hung up during the gap: an unobserved end.
    call = QueueCall()
    call.connected()
    out = call.send(inp.LegEnded(call.now(), LEG1))
    played = [c for c in effects(out) if isinstance(c, cmd.Play)]
    assert [p.media for p in played] == [sound("goodbye")]
    assert cmd.SeatCallEnded(5, 20) in out


@pytest.mark.parametrize("left", ["unobserved", "gone"])
def test_a_waiting_caller_whose_hang_up_was_not_seen_is_abandoned(left: str) -> None:
    call = QueueCall()
    call.waiting()
    if left == "unobserved":  # the reconcile found the channel gone after a socket gap
        out = call.send(inp.Left(call.now(9), unobserved=True))
    else:  # a command found it gone (404) and its StasisEnd never came
        call.send(inp.CommandFailed(call.now(9), "Play", "Channel not found", gone=True))
        out = call.fire("lifecycle.gone_grace", dt=2)
    end = one(out, cmd.RecordEnd)
    assert end.end_reason == "abandoned"
    assert end.hangup_side == "unknown"
    assert end.fields["wait_seconds"] == pytest.approx(10.0 if left == "unobserved" else 12.0)
    assert cmd.QueueLeave() in out


def test_an_answered_caller_whose_hang_up_was_not_seen_is_answered_not_abandoned() -> None:
    call = QueueCall()
    call.connected()
    end = one(call.send(inp.Left(call.now(), unobserved=True)), cmd.RecordEnd)
    assert end.end_reason == "answered"


def test_callback_attempt_live_legs() -> None:
    flow = CallbackFlow(KEY, JOB)
    assert flow.live_legs() == {}
    flow.handle(inp.DialStart(cb_at(0)))
    assert flow.live_legs() == {AGENT_LEG: False}
    flow.handle(inp.LegAnswered(cb_at(2), AGENT_LEG))
    assert flow.live_legs() == {AGENT_LEG: True, CUSTOMER_LEG: False}
    flow.handle(inp.LegAnswered(cb_at(5), CUSTOMER_LEG))
    assert flow.live_legs() == {AGENT_LEG: True, CUSTOMER_LEG: True}
    # The customer's end, found by a resync: the agent's leg is hung up, the attempt done.
    out = flow.handle(inp.LegEnded(cb_at(60), CUSTOMER_LEG))
    assert cmd.HangupLeg(AGENT_LEG) in out
    assert flow.live_legs() == {}
