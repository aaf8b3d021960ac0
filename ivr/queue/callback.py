"""A queue callback's turn: ring the reserved agent first, then dial the customer.

When a caller who chose a queue callback reaches the head of the queue, the distributor
claims an agent (as for a live call) and starts one of these flows. Pure like
``CallFlow``: inputs in, commands out; it has no caller channel of its own — its key
names the attempt (``cb<entry>-<n>``) and its legs hang off that key.

    agent ringing ──answers──▶ customer ringing ──answers──▶ connected ──either hangs up──▶ done
         │ rings out                │ no answer / busy                         (answered)
         ▼                          ▼
    agent_unavailable          not reached: agent to wrap-up; retried in another time slot

Each attempt is recorded on the callback request; the customer's call gets its own call
record, linked to the request (and through it to the original call). An agent's click on
a worklist item runs the same flow for that agent (decision 0013). The customer's leg
shows ``caller_id``, and is never started from ``quiet_from`` on: an agent answering
after quiet hours began is released and the callback waits (``quiet_hours``, not an
attempt).

With ``job.record`` the conversation is recorded like an inbound queue call's: the bridge
from the moment the customer joins the agent (``StartRecording``) until it is destroyed
(``SaveRecording``; a recording Asterisk ends early is saved then, and the rest recorded
as the next part). The file is named after the attempt's key, so the stored recording
links to the callback's own call record. ``record`` is the queue's ``record`` setting —
the caller's queue for a queue callback, the queue named ``worklist`` in the queues file
for a worklist dial (off when there is none); the distributor decides it. Recording
trouble never changes the call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ivr.call import commands as cmd
from ivr.call import inputs as inp
from ivr.queue.service import MAX_RECORDING_PARTS

T_AGENT_RING = "callback.agent_ring"
T_CUSTOMER_RING = "callback.customer_ring"
MISSED_CAUSES = frozenset({17, 18, 19, 21})
BUSY_CAUSES = frozenset({17})


@dataclass(frozen=True)
class CallbackJob:
    entry_id: int
    callback_id: int
    attempt: int
    number: str
    language: str
    queue: str
    agent_id: int
    staff_number: str
    agent_endpoint: str
    customer_endpoint: str
    ring_timeout: int
    customer_ring_timeout: int
    wrap_up_seconds: int
    misses_before_away: int = 3
    # What the customer sees calling (settings.callbacks.caller_id); "" for the trunk's.
    caller_id: str = ""
    # Quiet hours begin here: a customer is never dialled from then on (decision 0013).
    quiet_from: datetime | None = None
    # Record the conversation (the queue's ``record``; see the module docstring).
    record: bool = False


@dataclass
class _State:
    phase: str = "new"
    end_reason: str | None = None


class CallbackFlow:
    def __init__(self, key: str, job: CallbackJob) -> None:
        self.key = key
        self.job = job
        self.state = _State()
        self.agent_leg = f"{key}~a1"
        self.customer_leg = f"{key}~c1"
        self.bridge = f"{key}~b"
        self._agent_answered = False
        self._customer_answered = False
        self._timers: dict[str, int] = {}
        self._seq = 0
        self._out: list[cmd.Command] = []
        self._started_at: datetime | None = None  # the call record's start (the file's date)
        self._recording: str | None = None  # the ARI name of the recording running now
        self._recording_part = 0

    @property
    def last_playback_id(self) -> str | None:
        return None  # it plays nothing

    def live_legs(self) -> dict[str, bool]:
        """The legs dialled so far and not reported ended, each with whether it answered."""
        phase = self.state.phase
        legs: dict[str, bool] = {}
        if phase in ("agent_ringing", "customer_ringing", "connected"):
            legs[self.agent_leg] = self._agent_answered
        if phase in ("customer_ringing", "connected"):
            legs[self.customer_leg] = self._customer_answered
        return legs

    def handle(self, event: inp.Input) -> list[cmd.Command]:
        self._out = []
        if self.state.phase == "ended":
            return []
        at = getattr(event, "at", None)
        if isinstance(event, inp.DialStart):
            self.state.phase = "agent_ringing"
            self._out.append(
                cmd.Originate(
                    self.agent_leg,
                    self.job.agent_endpoint,
                    timeout=self.job.ring_timeout + 10,
                    caller_id=f'"Callback" <{self.job.number}>',
                )
            )
            self._timer(T_AGENT_RING, self.job.ring_timeout)
        elif isinstance(event, inp.TimerFired):
            if self._timers.get(event.name) != event.token:
                return []
            del self._timers[event.name]
            if event.name == T_AGENT_RING and not self._agent_answered:
                self._out.append(cmd.HangupLeg(self.agent_leg))
            elif event.name == T_CUSTOMER_RING and not self._customer_answered:
                self._out.append(cmd.HangupLeg(self.customer_leg))
        elif isinstance(event, inp.LegAnswered):
            assert at is not None
            self._answered(event.leg_id, at)
        elif isinstance(event, inp.LegEnded):
            assert at is not None
            self._ended(event, at)
        elif isinstance(event, inp.ControlRequested):
            self._out.append(
                cmd.ControlDone(event.control_id, False, "not possible on a queue callback")
            )
        elif isinstance(event, inp.Left):
            self._out = self.close(event.at)
        elif isinstance(event, inp.RecordingEnded):
            self._recording_ended(event)
        elif isinstance(event, inp.CommandFailed) and event.command == "StartRecording":
            # The executor has written the failed recording down; the call goes on as is.
            self._recording = None
        elif isinstance(event, inp.CommandFailed) and event.command == "Originate":
            # Either phone can't be dialled: treat it as that leg ringing out.
            leg = self.customer_leg if self._agent_answered else self.agent_leg
            assert at is not None
            self._ended(inp.LegEnded(at, leg, 21), at)
        return self._out

    def _timer(self, name: str, seconds: float) -> None:
        self._seq += 1
        self._timers[name] = self._seq
        self._out.append(cmd.StartTimer(name, seconds, self._seq))

    def _cancel(self, name: str) -> None:
        if self._timers.pop(name, None) is not None:
            self._out.append(cmd.CancelTimer(name))

    def _answered(self, leg: str, at: datetime) -> None:
        job = self.job
        if leg == self.agent_leg and self.state.phase == "agent_ringing":
            self._cancel(T_AGENT_RING)
            if job.quiet_from is not None and at >= job.quiet_from:
                # The agent answered as quiet hours began: the customer is not dialled;
                # the seat is released unbooked and the callback waits (not an attempt).
                self._out.append(cmd.HangupLeg(self.agent_leg))
                self._out.append(cmd.SeatNoAnswer(job.agent_id, missed=False))
                self._out.append(
                    cmd.CallbackResult(job.entry_id, "quiet_hours", job.staff_number, None)
                )
                self._finish("quiet_hours", record=False, at=at)
                return
            self._agent_answered = True
            self._started_at = at
            self.state.phase = "customer_ringing"
            self._out.append(cmd.SeatAnswered(job.agent_id))
            self._out.append(cmd.Bridge(self.bridge, (self.agent_leg,)))
            self._out.append(
                cmd.RecordStart(
                    started_at=at,
                    caller_number=job.number,
                    caller_name="",
                    dialled="callback",
                    language=job.language,
                )
            )
            self._out.append(
                cmd.RecordUpdate(
                    {"queue": job.queue, "agent": job.staff_number, "callback_id": job.callback_id}
                )
            )
            self._out.append(
                cmd.Originate(
                    self.customer_leg,
                    job.customer_endpoint,
                    timeout=job.customer_ring_timeout + 10,
                    caller_id=job.caller_id,
                )
            )
            self._timer(T_CUSTOMER_RING, job.customer_ring_timeout)
        elif leg == self.customer_leg and self.state.phase == "customer_ringing":
            self._cancel(T_CUSTOMER_RING)
            self._customer_answered = True
            self.state.phase = "connected"
            self._out.append(cmd.Bridge(self.bridge, (self.customer_leg,)))
            self._start_recording()  # as soon as they talk
            self._out.append(cmd.RecordAnswer(at))
            self._out.append(cmd.RecordUpdate({"agent_answered_at": at, "wait_seconds": 0.0}))
            self._out.append(
                cmd.CallbackResult(job.entry_id, "answered", job.staff_number, self.customer_leg)
            )

    def _ended(self, event: inp.LegEnded, at: datetime) -> None:
        job = self.job
        phase = self.state.phase
        if phase == "agent_ringing" and event.leg_id == self.agent_leg:
            self._cancel(T_AGENT_RING)
            missed = event.cause in MISSED_CAUSES or event.cause is None
            self._out.append(
                cmd.SeatNoAnswer(
                    job.agent_id, missed=missed, misses_before_away=job.misses_before_away
                )
            )
            self._out.append(
                cmd.CallbackResult(job.entry_id, "agent_unavailable", job.staff_number, None)
            )
            self._finish("agent_unavailable", record=False, at=at)
        elif phase == "customer_ringing":
            self._cancel(T_CUSTOMER_RING)
            if event.leg_id == self.customer_leg:
                outcome = "busy" if event.cause in BUSY_CAUSES else "no_answer"
                self._out.append(cmd.HangupLeg(self.agent_leg))
            else:
                outcome = "agent_hangup"  # the agent gave up before the customer answered
                self._out.append(cmd.HangupLeg(self.customer_leg))
            self._out.append(cmd.SeatCallEnded(job.agent_id, job.wrap_up_seconds))
            self._out.append(cmd.CallbackResult(job.entry_id, outcome, job.staff_number, None))
            self._finish(outcome, record=True, at=at, cause=event.cause)
        elif phase == "connected":
            other = self.agent_leg if event.leg_id == self.customer_leg else self.customer_leg
            self._out.append(cmd.HangupLeg(other))
            self._out.append(cmd.SeatCallEnded(job.agent_id, job.wrap_up_seconds))
            side = "caller" if event.leg_id == self.customer_leg else "system"
            self._finish("answered", record=True, at=at, cause=event.cause, side=side)

    def _finish(
        self,
        reason: str,
        *,
        record: bool,
        at: datetime,
        cause: int | None = None,
        side: str = "system",
    ) -> None:
        for name in list(self._timers):
            self._cancel(name)
        self._out.append(cmd.DestroyBridge(self.bridge))
        self._save_recording(None)  # it ended with the bridge
        if record:
            self._out.append(
                cmd.RecordEnd(
                    ended_at=at,
                    hangup_cause=cause,
                    hangup_cause_text=None,
                    hangup_side=side,
                    end_reason=f"callback_{reason}",
                )
            )
        self.state.end_reason = f"callback_{reason}"
        self.state.phase = "ended"
        self._out.append(cmd.Finished())

    # -- recording the conversation -------------------------------------------------------

    def _start_recording(self) -> None:
        if not self.job.record or self._recording is not None or self._started_at is None:
            return
        if self._recording_part >= MAX_RECORDING_PARTS:
            return
        self._recording_part += 1
        suffix = f"-{self._recording_part}" if self._recording_part > 1 else ""
        self._recording = f"call-{self.key}{suffix}"
        self._out.append(
            cmd.StartRecording(self.bridge, self._recording, self._started_at, self._recording_part)
        )

    def _save_recording(self, error: str | None) -> None:
        if self._recording is None or self._started_at is None:
            return
        self._out.append(
            cmd.SaveRecording(self._recording, self._started_at, self._recording_part, error)
        )
        self._recording = None

    def _recording_ended(self, event: inp.RecordingEnded) -> None:
        if event.name != self._recording:
            return  # one already saved
        self._save_recording(None if event.ok else (event.cause or "recording failed"))
        if event.ok and self.state.phase == "connected":
            self._start_recording()  # Asterisk ended it mid-conversation: record the rest

    def close(self, at: datetime) -> list[cmd.Command]:
        """The controller is shutting the attempt down (e.g. a leg vanished unobserved)."""
        if self.state.phase == "ended":
            return []
        self._out = []
        self._out.append(cmd.HangupLeg(self.agent_leg))
        self._out.append(cmd.HangupLeg(self.customer_leg))
        if self._agent_answered:
            self._out.append(cmd.SeatCallEnded(self.job.agent_id, self.job.wrap_up_seconds))
        else:
            self._out.append(cmd.SeatNoAnswer(self.job.agent_id, missed=False))
        outcome = "answered" if self._customer_answered else "failed"
        self._out.append(
            cmd.CallbackResult(self.job.entry_id, outcome, self.job.staff_number, None)
        )
        self._finish(outcome, record=self._agent_answered, at=at)
        return self._out
