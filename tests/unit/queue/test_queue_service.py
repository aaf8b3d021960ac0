"""The queue's per-call state machine, driven through a CallFlow input by input with a
fixed clock: which commands each step asks for."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest

from agents.queue_config import QueueConfig
from ivr.call import commands as cmd
from ivr.call import inputs as inp
from ivr.call.flow import CallFlow
from ivr.call.service import ServiceContext
from ivr.queue.direct import DirectToQueue
from ivr.queue.service import (
    CHOICE_SECONDS,
    T_ANNOUNCE,
    T_CHOICE,
    T_CONSULT_RING,
    T_MAX_WAIT,
    T_RING,
    QueueService,
    QueueSettings,
)

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
CHANNEL = "chan-1"
NUMBER = "+8613800000001"
LEG1 = f"{CHANNEL}~a1"
BRIDGE = f"{CHANNEL}~b"
ENTRY = 7

OPERATOR = QueueConfig(
    "operator",
    ring_timeout=15,
    max_wait=120,
    wrap_up_seconds=20,
    music_on_hold="calm",
    announce_interval=30,
    misses_before_away=2,
)
OVERFLOW = QueueConfig("overflow", max_wait=300, music_on_hold="calm")
BILLING = QueueConfig("billing", wrap_up_seconds=45)

C = TypeVar("C")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


class Prompts:
    def media(self, key: str, language: str) -> tuple[str, ...]:
        return (f"sound:custom/{key}",)


def sound(*keys: str) -> tuple[str, ...]:
    return tuple(f"sound:custom/{key}" for key in keys)


class SelfService:
    """The menu a refused caller can go back to: it only records being entered."""

    name = "menu"

    def __init__(self) -> None:
        self.entered: list[dict[str, object]] = []

    def begin(self, ctx: ServiceContext) -> None:
        self.entered.append({})

    def enter(self, ctx: ServiceContext, request: Mapping[str, object]) -> None:
        self.entered.append(dict(request))

    def handle(self, ctx: ServiceContext, event: inp.Input) -> None:
        pass

    def resume(self, ctx: ServiceContext) -> None:
        pass

    def snapshot(self) -> Mapping[str, object]:
        return {}

    def restore(self, data: Mapping[str, object]) -> None:
        pass

    def record_fields(self) -> Mapping[str, object]:
        return {}


class QueueCall:
    """A caller on a line that goes straight to a queue, with its own clock (``t``)."""

    def __init__(
        self,
        configs: tuple[QueueConfig, ...] = (OPERATOR, OVERFLOW, BILLING),
        request: Mapping[str, object] | None = None,
        number: str = NUMBER,
        tier: str = "member",
    ) -> None:
        self.configs = {c.name: c for c in configs}
        self.request = dict(request) if request is not None else {"queue": "operator"}
        self.menu = SelfService()
        self.queues: list[QueueService] = []
        self.flow = self.new_flow()
        self.number = number
        self.tier = tier
        self.t = 0.0

    def new_flow(self) -> CallFlow:
        def queue() -> QueueService:
            service = QueueService(self.configs.get, QueueSettings())
            self.queues.append(service)
            return service

        return CallFlow(
            lambda: DirectToQueue(self.request),
            Prompts(),
            services={"queue": queue, "menu": lambda: self.menu},
        )

    @property
    def queue(self) -> QueueService:
        return self.queues[-1]

    def now(self, dt: float = 1.0) -> datetime:
        self.t += dt
        return at(self.t)

    def send(self, event: inp.Input) -> list[cmd.Command]:
        return self.flow.handle(event)

    # -- steps ------------------------------------------------------------------------------

    def start(self) -> list[cmd.Command]:
        """Started at t=0, answered at t=1 (the arrival); returns the answer's commands."""
        self.send(
            inp.Started(
                at(0), CHANNEL, self.number, "Zhang San", "6000", "en", at(0), caller_tier=self.tier
            )
        )
        return self.send(inp.Answered(self.now()))

    def enqueued(self, position: int | None = None, wait: float | None = None) -> list[cmd.Command]:
        return self.send(inp.Enqueued(self.now(), ENTRY, position, wait))

    def offered(self, agent_id: int = 5, staff: str = "8001", dt: float = 1.0) -> list[cmd.Command]:
        return self.send(
            inp.AgentOffered(self.now(dt), agent_id, staff, f"Agent {staff}", f"PJSIP/{staff}", 15)
        )

    def leg_answered(self, leg: str = LEG1, dt: float = 1.0) -> list[cmd.Command]:
        return self.send(inp.LegAnswered(self.now(dt), leg))

    def leg_ended(self, leg: str = LEG1, cause: int | None = 16) -> list[cmd.Command]:
        return self.send(inp.LegEnded(self.now(), leg, cause))

    def digit(self, digit: str) -> list[cmd.Command]:
        return self.send(inp.Digit(self.now(), digit))

    def done(self, play: cmd.Play) -> list[cmd.Command]:
        return self.send(inp.PlaybackDone(self.now(), play.playback_id))

    def fire(self, name: str, dt: float = 1.0) -> list[cmd.Command]:
        token = self.flow.state.timers.get(name)
        assert token is not None, f"timer {name} is not running: {self.flow.state.timers}"
        return self.send(inp.TimerFired(self.now(dt), name, token))

    def control(self, control_id: int, action: str, **args: str) -> list[cmd.Command]:
        return self.send(
            inp.ControlRequested(self.now(), control_id, action, dict(args), requested_by="8001")
        )

    def caller_hangs_up(self) -> list[cmd.Command]:
        return self.send(inp.HangupRequested(self.now(), 16, soft=False))

    def left(self) -> cmd.RecordEnd:
        return one(self.send(inp.Left(self.now())), cmd.RecordEnd)

    # -- the usual ways in ------------------------------------------------------------------

    def waiting(self) -> None:
        """Answered at t=1, enqueued at t=2: music on, nothing announced yet."""
        self.start()
        self.enqueued()

    def ringing(self) -> None:
        self.waiting()
        self.offered()  # t=3

    def connected(self) -> None:
        self.ringing()
        self.leg_answered()  # t=4


def of(out: list[cmd.Command], kind: type[C]) -> list[C]:
    return [c for c in out if isinstance(c, kind)]


def one(out: list[cmd.Command], kind: type[C]) -> C:
    found = of(out, kind)
    assert len(found) == 1, (kind.__name__, out)
    return found[0]


def effects(out: list[cmd.Command]) -> list[cmd.Command]:
    """What reaches the caller, the agents and the queue: no timers or record saves."""
    bookkeeping = (cmd.StartTimer, cmd.CancelTimer, cmd.RecordUpdate)
    return [c for c in out if not isinstance(c, bookkeeping)]


def started_timers(out: list[cmd.Command]) -> dict[str, float]:
    return {c.name: c.seconds for c in of(out, cmd.StartTimer)}


# --- entering the queue ---------------------------------------------------------------------


def test_enqueue_carries_tier_priority_skill_and_arrival() -> None:
    call = QueueCall(
        request={"queue": "billing", "skill": "mobile", "priority": 2, "injury": True}, tier="vip"
    )
    out = call.start()
    assert one(out, cmd.Enqueue) == cmd.Enqueue(
        queue="billing",
        tier="vip",
        arrived_at=at(1),
        caller_number=NUMBER,
        language="en",
        priority=2,
        skill="mobile",
        injury=True,
    )
    assert call.flow.service is call.queue


def test_enqueued_starts_music_and_the_max_wait_timer() -> None:
    call = QueueCall()
    call.start()
    out = call.enqueued()  # t=2, one second after arriving
    assert effects(out) == [cmd.StartMoh("calm")]
    timers = started_timers(out)
    assert timers[T_MAX_WAIT] == pytest.approx(OPERATOR.max_wait - 1)
    assert timers[T_ANNOUNCE] == OPERATOR.announce_interval
    # No callback offer timer: this queue offers none (callback_after is None).
    assert set(timers) == {T_MAX_WAIT, T_ANNOUNCE}


def test_first_status_announces_position_and_wait_then_music_returns() -> None:
    call = QueueCall()
    call.waiting()
    out = call.send(inp.QueueStatus(call.now(), position=12, wait_estimate=240.0))
    assert of(out, cmd.CancelTimer) == [cmd.CancelTimer(T_ANNOUNCE)]
    stop, play = effects(out)
    assert stop == cmd.StopMoh()
    assert isinstance(play, cmd.Play)
    assert play.media == sound(
        "queue_position", "digit_1", "digit_2", "queue_wait", "digit_4", "queue_minutes"
    )
    out = call.done(play)
    assert effects(out) == [cmd.StartMoh("calm")]
    assert started_timers(out) == {T_ANNOUNCE: OPERATOR.announce_interval}
    # Later updates are only remembered: the next announcement says them.
    out = call.send(inp.QueueStatus(call.now(), position=3, wait_estimate=60.0))
    assert out == []
    play = one(call.fire(T_ANNOUNCE, dt=30), cmd.Play)
    assert play.media == sound(
        "queue_position", "digit_3", "queue_wait", "digit_1", "queue_minutes"
    )


def test_a_position_known_at_enqueue_is_said_at_once() -> None:
    call = QueueCall()
    call.start()
    out = call.enqueued(position=2, wait=None)
    assert [type(c) for c in effects(out)] == [cmd.Play]
    assert one(out, cmd.Play).media == sound("queue_position", "digit_2")


# --- offering the call to an agent ----------------------------------------------------------


def test_agent_offered_dials_the_agent_and_starts_the_ring_timer() -> None:
    call = QueueCall()
    call.waiting()
    out = call.offered()
    # The bridge is made while the agent rings, so answering costs one request.
    assert effects(out) == [
        cmd.CreateBridge(BRIDGE),
        cmd.Originate(LEG1, "PJSIP/8001", timeout=25, caller_id=f'"Zhang San" <{NUMBER}>'),
    ]
    assert started_timers(out) == {T_RING: 15}


def test_agent_answering_bridges_and_marks_connected() -> None:
    call = QueueCall()
    call.ringing()
    out = call.leg_answered(dt=5)  # t=8: waited 7 s since entering the queue at t=1
    assert effects(out) == [
        cmd.Bridge(BRIDGE, (CHANNEL, LEG1)),  # first: the two talk at once
        cmd.StopMoh(),
        cmd.SeatAnswered(5),
        cmd.QueueMark("connected"),
    ]
    assert {c.name for c in of(out, cmd.CancelTimer)} == {T_RING, T_ANNOUNCE, T_MAX_WAIT}
    fields = call.queue.record_fields()
    assert fields["wait_seconds"] == pytest.approx(7.0)
    assert fields["agent_answered_at"] == at(8)
    assert fields["agent"] == "8001"


def test_ring_timeout_hangs_up_the_leg_and_counts_a_miss() -> None:
    call = QueueCall()
    call.ringing()
    out = call.fire(T_RING, dt=15)
    assert effects(out) == [cmd.HangupLeg(LEG1)]
    out = call.leg_ended(cause=16)  # the hang-up we asked for
    assert effects(out) == [
        cmd.SeatNoAnswer(5, missed=True, misses_before_away=OPERATOR.misses_before_away),
        cmd.QueueMark("waiting"),
    ]
    # Announcements go on, and the max-wait limit counts from the first arrival.
    timers = started_timers(out)
    assert timers[T_ANNOUNCE] == OPERATOR.announce_interval
    assert set(timers) == {T_ANNOUNCE, T_MAX_WAIT}
    assert timers[T_MAX_WAIT] < OPERATOR.max_wait
    # Back in line: the next agent gets a fresh leg.
    out = call.offered(agent_id=6, staff="8002")
    assert one(out, cmd.Originate).leg_id == f"{CHANNEL}~a2"


@pytest.mark.parametrize(
    ("cause", "missed"),
    [(16, False), (None, False), (17, True), (18, True), (19, True), (21, True)],
)
def test_an_unanswered_leg_counts_as_missed_by_its_cause(cause: int | None, missed: bool) -> None:
    # Busy, no response, no answer and rejected are the agent's doing; a normal clearing
    # before the ring timer ran out is not.
    call = QueueCall()
    call.ringing()
    out = call.leg_ended(cause=cause)
    assert effects(out) == [
        cmd.SeatNoAnswer(5, missed=missed, misses_before_away=OPERATOR.misses_before_away),
        cmd.QueueMark("waiting"),
    ]


def test_agent_hangup_while_connected_wraps_up_and_says_goodbye() -> None:
    call = QueueCall()
    call.ringing()
    answered = call.leg_answered()  # t=4
    # The agent goes on the record when they answer (the end's fields add to it).
    assert one(answered, cmd.RecordUpdate).fields["agent"] == "8001"
    out = call.leg_ended(cause=16)
    stop = effects(out)
    assert stop[:3] == [
        cmd.SeatCallEnded(5, OPERATOR.wrap_up_seconds),
        cmd.DestroyBridge(BRIDGE),
        cmd.QueueLeave(),
    ]
    goodbye = stop[3]
    assert isinstance(goodbye, cmd.Play) and goodbye.media == sound("goodbye")
    assert len(stop) == 4
    assert effects(call.done(goodbye)) == [cmd.Hangup("normal")]
    closing = call.send(inp.Left(call.now(), 16))
    end = one(closing, cmd.RecordEnd)
    # Nothing is released twice on the way out.
    assert effects(closing) == [end, cmd.Finished()]
    assert (end.end_reason, end.hangup_side) == ("completed", "system")
    assert end.fields["agent_answered_at"] == at(4)
    assert end.fields["wait_seconds"] == pytest.approx(3.0)
    assert end.fields["queue"] == "operator"


def test_caller_hangup_while_waiting_is_abandoned_with_its_wait() -> None:
    call = QueueCall()
    call.waiting()
    out = call.send(inp.HangupRequested(call.now(9), 16, soft=False))  # t=11
    assert effects(out) == [cmd.QueueLeave()]
    end = call.left()
    assert (end.end_reason, end.hangup_side) == ("abandoned", "caller")
    assert end.fields["wait_seconds"] == pytest.approx(10.0)  # entered at t=1


def test_caller_hangup_while_the_agent_rings_withdraws_the_offer_uncounted() -> None:
    call = QueueCall()
    call.ringing()
    out = call.caller_hangs_up()
    assert effects(out) == [
        cmd.HangupLeg(LEG1),
        cmd.SeatNoAnswer(5, missed=False, misses_before_away=OPERATOR.misses_before_away),
        cmd.DestroyBridge(BRIDGE),
        cmd.QueueLeave(),
    ]
    assert call.left().end_reason == "abandoned"


def test_an_offer_that_comes_too_late_is_given_back() -> None:
    call = QueueCall()
    call.ringing()
    out = call.offered(agent_id=6, staff="8002")  # a second offer while the first rings
    assert effects(out) == [cmd.SeatNoAnswer(6, missed=False)]


# --- the callback offer ------------------------------------------------------------------------


def test_key_1_confirms_the_number_books_a_callback_and_says_goodbye() -> None:
    call = QueueCall(request={"queue": "operator", "priority": 1})
    call.waiting()
    out = call.digit("1")
    stop, confirm = effects(out)
    assert stop == cmd.StopMoh()
    assert isinstance(confirm, cmd.Play)
    assert confirm.media == sound(
        "callback_number",
        *(f"digit_{d}" for d in NUMBER.removeprefix("+")),
        "queue_callback_confirm",
    )
    out = call.done(confirm)
    assert started_timers(out) == {T_CHOICE: CHOICE_SECONDS}
    out = call.digit("1")
    assert effects(out) == [
        cmd.BookCallback(
            NUMBER,
            "en",
            queue="operator",
            tier="member",
            arrived_at=at(1),
            priority=1,
        )
    ]
    out = call.send(inp.CallbackBooked(call.now(), 42))
    goodbye = one(out, cmd.Play)
    assert goodbye.media == sound("callback_done")
    assert effects(call.done(goodbye)) == [cmd.Hangup("normal")]
    closing = call.send(inp.Left(call.now()))
    # The place became the callback: leaving must not delete it.
    assert of(closing, cmd.QueueLeave) == []
    end = one(closing, cmd.RecordEnd)
    assert end.end_reason == "queue_callback"
    assert end.fields["callback_id"] == 42


def test_key_2_at_the_confirmation_goes_back_to_waiting() -> None:
    call = QueueCall()
    call.waiting()
    confirm = one(call.digit("1"), cmd.Play)
    out = call.digit("2")  # before the confirmation has finished
    assert effects(out) == [cmd.StopPlayback(confirm.playback_id), cmd.StartMoh("calm")]
    assert started_timers(out) == {T_ANNOUNCE: OPERATOR.announce_interval}
    assert of(out, cmd.BookCallback) == []
    # Still in line: an agent can be offered.
    assert one(call.offered(), cmd.Originate).leg_id == LEG1


def test_callback_is_offered_after_callback_after_seconds() -> None:
    cfg = QueueConfig("operator", announce_interval=30, callback_after=20, music_on_hold="calm")
    call = QueueCall(configs=(cfg,))
    call.start()
    out = call.enqueued()  # t=2, one second in line
    assert started_timers(out)["queue.callback_offer"] == pytest.approx(19)
    out = call.fire("queue.callback_offer", dt=19)
    assert of(out, cmd.CancelTimer) == [cmd.CancelTimer(T_ANNOUNCE)]
    assert one(out, cmd.Play).media == sound("queue_callback_offer")


def test_no_callback_offer_or_key_1_without_a_caller_number() -> None:
    cfg = QueueConfig("operator", announce_interval=30, callback_after=20)
    call = QueueCall(configs=(cfg,), number="")
    call.start()
    assert "queue.callback_offer" not in started_timers(call.enqueued())
    assert effects(call.digit("1")) == []


# --- refusals ----------------------------------------------------------------------------------


def test_refused_for_no_agents_offers_options_and_key_2_returns_to_the_menu() -> None:
    call = QueueCall()
    call.start()
    out = call.send(inp.QueueRefused(call.now(), "no_agents"))
    options = one(out, cmd.Play)
    assert options.media == sound("queue_no_agents", "queue_refused_options")
    assert of(out, cmd.StartMoh) == [] and of(out, cmd.QueueLeave) == []
    out = call.done(options)
    assert started_timers(out) == {T_CHOICE: CHOICE_SECONDS}
    call.digit("2")
    assert call.menu.entered == [{"reason": "queue_no_agents"}]
    assert call.flow.service is call.menu
    end = call.send(inp.HangupRequested(call.now(), 16, soft=False))
    assert of(end, cmd.QueueLeave) == []  # it never had a place
    assert call.left().end_reason == "caller_hangup"


def test_refused_caller_who_hangs_up_is_recorded_as_refused() -> None:
    call = QueueCall()
    call.start()
    call.send(inp.QueueRefused(call.now(), "full"))
    call.caller_hangs_up()
    assert call.left().end_reason == "queue_full"


def test_max_wait_with_overflow_moves_to_the_overflow_queue_keeping_arrival() -> None:
    call = QueueCall(configs=(QueueConfig("operator", max_wait=60, overflow="overflow"), OVERFLOW))
    call.waiting()
    out = call.fire(T_MAX_WAIT, dt=59)
    enqueue = one(out, cmd.Enqueue)
    assert (enqueue.queue, enqueue.arrived_at, enqueue.tier) == ("overflow", at(1), "member")
    assert of(out, cmd.QueueLeave) == []
    out = call.enqueued()
    assert started_timers(out)[T_MAX_WAIT] == pytest.approx(OVERFLOW.max_wait - 1)
    assert call.queue.record_fields()["queue"] == "overflow"


def test_max_wait_without_overflow_refuses_with_timeout() -> None:
    call = QueueCall()
    call.waiting()
    out = call.fire(T_MAX_WAIT, dt=119)
    assert effects(out)[:2] == [cmd.QueueLeave(), cmd.StopMoh()]
    options = one(out, cmd.Play)
    assert options.media == sound("queue_timeout", "queue_refused_options")
    call.done(options)
    out = call.fire(T_CHOICE, dt=CHOICE_SECONDS)  # no choice made
    assert one(out, cmd.Play).media == sound("goodbye")
    assert call.flow.state.end_reason == "queue_timeout"


# --- agent controls ----------------------------------------------------------------------------


def test_hold_and_unhold() -> None:
    call = QueueCall()
    call.connected()
    assert effects(call.control(1, "hold")) == [
        cmd.Unbridge(BRIDGE, (CHANNEL,)),
        cmd.StartMoh("calm"),
        cmd.ControlDone(1, True, "on hold"),
    ]
    assert effects(call.control(2, "unhold")) == [
        cmd.StopMoh(),
        cmd.Bridge(BRIDGE, (CHANNEL,)),
        cmd.ControlDone(2, True, "resumed"),
    ]


def test_hold_is_refused_while_not_connected() -> None:
    call = QueueCall()
    call.waiting()
    (done,) = effects(call.control(1, "hold"))
    assert isinstance(done, cmd.ControlDone)
    assert (done.control_id, done.ok) == (1, False)
    assert "waiting" in done.result


def test_transfer_to_queue_keeps_the_first_arrival() -> None:
    call = QueueCall()
    call.connected()
    out = call.control(1, "transfer", to="queue", target="billing")
    assert effects(out) == [
        cmd.HangupLeg(LEG1),
        cmd.SeatCallEnded(5, OPERATOR.wrap_up_seconds),
        cmd.Unbridge(BRIDGE, (CHANNEL,)),
        cmd.StartMoh("calm"),
        cmd.ControlDone(1, True, "transferred to queue billing"),
        cmd.Enqueue(
            queue="billing", tier="member", arrived_at=at(1), caller_number=NUMBER, language="en"
        ),
    ]


def test_transfer_to_an_unknown_queue_is_refused() -> None:
    call = QueueCall()
    call.connected()
    (done,) = effects(call.control(1, "transfer", to="queue", target="nowhere"))
    assert isinstance(done, cmd.ControlDone) and not done.ok


def test_transfer_to_agent_claims_them_then_rings_them() -> None:
    call = QueueCall()
    call.connected()
    out = call.control(1, "transfer", to="agent", target="8002")
    assert effects(out) == [cmd.ClaimAgent("8002", OPERATOR.ring_timeout)]
    out = call.offered(agent_id=6, staff="8002")
    assert effects(out) == [
        cmd.HangupLeg(LEG1),
        cmd.SeatCallEnded(5, OPERATOR.wrap_up_seconds),
        cmd.Unbridge(BRIDGE, (CHANNEL,)),
        cmd.StartMoh("calm"),
        cmd.ControlDone(1, True, "transferred to 8002"),
        cmd.Originate(
            f"{CHANNEL}~a2", "PJSIP/8002", timeout=25, caller_id=f'"Zhang San" <{NUMBER}>'
        ),
    ]
    out = call.leg_answered(f"{CHANNEL}~a2")
    assert cmd.Bridge(BRIDGE, (CHANNEL, f"{CHANNEL}~a2")) in out
    assert cmd.SeatAnswered(6) in out


def test_transfer_to_agent_refused_leaves_the_call_as_it_was() -> None:
    call = QueueCall()
    call.connected()
    call.control(1, "transfer", to="agent", target="8002")
    out = call.send(inp.OfferFailed(call.now(), "agent 8002 is away"))
    assert effects(out) == [cmd.ControlDone(1, False, "cannot transfer: agent 8002 is away")]
    # Still connected to the first agent: holding works.
    assert cmd.ControlDone(2, True, "on hold") in call.control(2, "hold")


def test_transfer_to_number_continues_in_the_dialplan() -> None:
    call = QueueCall()
    call.connected()
    out = call.control(1, "transfer", to="number", target="+8613900000002")
    assert effects(out) == [
        cmd.HangupLeg(LEG1),
        cmd.SeatCallEnded(5, OPERATOR.wrap_up_seconds),
        cmd.DestroyBridge(BRIDGE),
        cmd.QueueLeave(),
        cmd.ControlDone(1, True, "transferred to +8613900000002"),
        cmd.ContinueInDialplan("hotline-transfer", "+8613900000002"),
    ]
    closing = call.send(inp.Left(call.now()))
    assert effects(closing)[-2:] == [one(closing, cmd.RecordEnd), cmd.Finished()]
    assert len(effects(closing)) == 2
    assert one(closing, cmd.RecordEnd).end_reason == "transferred"


def test_consult_an_agent_then_complete_the_transfer() -> None:
    call = QueueCall()
    call.connected()
    consult_leg = f"{CHANNEL}~c2"
    assert effects(call.control(1, "consult", to="agent", target="8002")) == [
        cmd.ClaimAgent("8002", OPERATOR.ring_timeout)
    ]
    out = call.offered(agent_id=6, staff="8002")
    assert effects(out) == [
        cmd.Unbridge(BRIDGE, (CHANNEL,)),
        cmd.StartMoh("calm"),
        cmd.Originate(consult_leg, "PJSIP/8002", timeout=25),
        cmd.ControlDone(1, True, "calling 8002"),
    ]
    assert started_timers(out) == {T_CONSULT_RING: OPERATOR.ring_timeout}
    out = call.leg_answered(consult_leg)
    assert effects(out) == [cmd.SeatAnswered(6), cmd.Bridge(BRIDGE, (consult_leg,))]
    out = call.control(2, "consult_complete")
    assert effects(out) == [
        cmd.HangupLeg(LEG1),
        cmd.SeatCallEnded(5, OPERATOR.wrap_up_seconds),
        cmd.StopMoh(),
        cmd.Bridge(BRIDGE, (CHANNEL,)),
        cmd.ControlDone(2, True, "transferred to 8002"),
    ]
    # The consulted agent now has the call: their hang-up ends it and wraps them up.
    out = call.leg_ended(consult_leg)
    assert effects(out)[:3] == [
        cmd.SeatCallEnded(6, OPERATOR.wrap_up_seconds),
        cmd.DestroyBridge(BRIDGE),
        cmd.QueueLeave(),
    ]


def test_consult_a_number_then_cancel() -> None:
    call = QueueCall()
    call.connected()
    consult_leg = f"{CHANNEL}~c2"
    out = call.control(1, "consult", to="number", target="+8613900000002")
    assert effects(out) == [
        cmd.Unbridge(BRIDGE, (CHANNEL,)),
        cmd.StartMoh("calm"),
        cmd.Originate(consult_leg, "PJSIP/+8613900000002@trunk", timeout=25),
        cmd.ControlDone(1, True, "calling +8613900000002"),
    ]
    out = call.control(2, "consult_cancel")
    assert effects(out) == [
        cmd.HangupLeg(consult_leg),
        cmd.StopMoh(),
        cmd.Bridge(BRIDGE, (CHANNEL,)),
        cmd.ControlDone(2, True, "consultation cancelled"),
    ]
    assert of(out, cmd.CancelTimer) == [cmd.CancelTimer(T_CONSULT_RING)]
    # Back with the first agent.
    assert cmd.ControlDone(3, True, "on hold") in call.control(3, "hold")


# --- failures ----------------------------------------------------------------------------------


def test_an_agent_phone_asterisk_refuses_is_no_miss_and_the_next_agent_is_tried() -> None:
    # The phone is not the agent's fault (not registered): the phone monitor keeps it
    # from being offered; counting misses would send a willing agent away.
    call = QueueCall()
    call.ringing()
    out = call.send(inp.CommandFailed(call.now(), "Originate", "500 no such endpoint", gone=False))
    assert effects(out) == [
        cmd.HangupLeg(LEG1),
        cmd.SeatNoAnswer(5, missed=False, misses_before_away=OPERATOR.misses_before_away),
        cmd.QueueMark("waiting"),
    ]
    assert of(out, cmd.Play) == []  # no apology: the caller simply waits on
    out = call.offered(agent_id=6, staff="8002")
    assert one(out, cmd.Originate) == cmd.Originate(
        f"{CHANNEL}~a2", "PJSIP/8002", timeout=25, caller_id=f'"Zhang San" <{NUMBER}>'
    )


def test_bridge_failure_when_connected_puts_the_caller_back_in_line() -> None:
    call = QueueCall()
    call.connected()  # answered at t=4, entered the queue at t=1
    out = call.send(inp.CommandFailed(call.now(), "Bridge", "404 channel gone", gone=False))
    assert effects(out) == [
        cmd.HangupLeg(LEG1),
        cmd.SeatCallEnded(5, OPERATOR.wrap_up_seconds),
        cmd.QueueMark("waiting"),
        cmd.StartMoh("calm"),
    ]
    timers = started_timers(out)
    assert timers[T_MAX_WAIT] == pytest.approx(OPERATOR.max_wait - 4)
    assert "agent_answered_at" not in call.queue.record_fields()
    assert one(call.offered(agent_id=6, staff="8002"), cmd.Originate).leg_id == f"{CHANNEL}~a2"
    # A caller who now hangs up still waited, unanswered.
    call.caller_hangs_up()
    assert call.left().end_reason == "abandoned"


# --- restarts ----------------------------------------------------------------------------------


def adopt(call: QueueCall, snapshot: dict[str, object], t: float) -> list[cmd.Command]:
    call.flow = call.new_flow()
    return call.send(
        inp.Adopted(
            at(t),
            CHANNEL,
            NUMBER,
            "Zhang San",
            "6000",
            "en",
            at(0),
            answered=True,
            snapshot=snapshot,
            caller_tier="member",
        )
    )


def test_snapshot_restore_round_trip() -> None:
    call = QueueCall()
    call.connected()
    saved = json.loads(json.dumps(call.queue.snapshot()))  # what the record stores
    again = QueueService(call.configs.get)
    again.restore(saved)
    assert asdict(again.s) == asdict(call.queue.s)
    assert again.record_fields() == call.queue.record_fields()


def test_resume_while_waiting_enters_the_queue_again_with_the_same_arrival() -> None:
    call = QueueCall()
    call.waiting()
    snapshot = json.loads(json.dumps(call.flow.snapshot()))
    out = adopt(call, snapshot, t=30)
    assert effects(out)[0] == one(out, cmd.RecordStart)
    assert one(out, cmd.Enqueue) == cmd.Enqueue(
        queue="operator", tier="member", arrived_at=at(1), caller_number=NUMBER, language="en"
    )
    assert of(out, cmd.Play) == []  # no apology: the call carries on
    # Back in line: music again once the queue confirms the place.
    out = call.send(inp.Enqueued(at(31), ENTRY))
    assert cmd.StartMoh("calm") in out


def test_resume_while_an_agent_rang_withdraws_the_offer_uncounted() -> None:
    call = QueueCall()
    call.ringing()
    snapshot = json.loads(json.dumps(call.flow.snapshot()))
    out = adopt(call, snapshot, t=30)
    assert effects(out)[1:] == [
        cmd.HangupLeg(LEG1),
        cmd.SeatNoAnswer(5, missed=False, misses_before_away=OPERATOR.misses_before_away),
        cmd.Enqueue(
            queue="operator", tier="member", arrived_at=at(1), caller_number=NUMBER, language="en"
        ),
    ]


# --- found while writing these tests -----------------------------------------------------------


def test_hanging_up_right_after_confirming_the_callback_keeps_it() -> None:
    call = QueueCall()
    call.waiting()
    call.done(one(call.digit("1"), cmd.Play))
    assert of(call.digit("1"), cmd.BookCallback)  # confirmed
    out = call.caller_hangs_up()  # before CallbackBooked comes back
    assert of(out, cmd.QueueLeave) == []


def test_max_wait_reached_while_an_agent_rings_still_applies_afterwards() -> None:
    call = QueueCall()
    call.start()
    call.enqueued()
    call.offered(dt=105)  # t=107: ringing when max wait (t=121) comes
    call.fire(T_MAX_WAIT, dt=14)
    call.fire(T_RING, dt=1)
    call.leg_ended(cause=None)  # rang out: back to waiting, 121 s after arriving
    assert T_MAX_WAIT in call.flow.state.timers
    out = call.fire(T_MAX_WAIT)
    assert one(out, cmd.Play).media == sound("queue_timeout", "queue_refused_options")


def test_callback_offer_due_during_an_announcement_is_still_made() -> None:
    cfg = QueueConfig("operator", announce_interval=30, callback_after=35, max_wait=600)
    call = QueueCall(configs=(cfg,))
    call.start()
    first = one(call.enqueued(position=2), cmd.Play)  # t=2; the offer is due at t=36
    call.done(first)  # t=3
    announcement = one(call.fire(T_ANNOUNCE, dt=30), cmd.Play)  # t=33
    call.fire("queue.callback_offer", dt=3)  # t=36, the announcement still playing
    later = call.done(announcement)
    later += call.fire(T_ANNOUNCE, dt=30)
    offers = [
        c
        for c in later
        if isinstance(c, cmd.Play) and "sound:custom/queue_callback_offer" in c.media
    ]
    assert offers


def test_told_nobody_can_take_the_call_while_waiting_the_caller_leaves_the_line() -> None:
    # The queue engine's pass found nobody on shift with a phone it can ring.
    call = QueueCall()
    call.waiting()
    out = call.send(inp.QueueRefused(call.now(), "no_agents"))
    assert cmd.QueueLeave() in effects(out)
    played = [m for p in of(out, cmd.Play) for m in p.media]
    assert sound("queue_no_agents")[0] in played


def test_a_refusal_that_comes_while_an_agent_rings_is_ignored() -> None:
    call = QueueCall()
    call.ringing()
    out = call.send(inp.QueueRefused(call.now(), "no_agents"))
    assert effects(out) == []


def test_after_the_node_rejoined_a_waiting_caller_takes_its_place_again() -> None:
    call = QueueCall()
    call.waiting()
    out = call.send(inp.NodeRejoined(call.now()))
    (enqueue,) = of(out, cmd.Enqueue)
    assert enqueue.arrived_at == at(1)  # the same arrival (the answer): the place is kept
    # An agent ringing or talking keeps the call's entry and claim: nothing to do.
    ringing = QueueCall()
    ringing.ringing()
    assert effects(ringing.send(inp.NodeRejoined(ringing.now()))) == []
