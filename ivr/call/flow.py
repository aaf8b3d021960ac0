"""The lifecycle of one call: answer → service → hang up → exactly one complete record.

``CallFlow.handle(input)`` returns the commands to carry out; it does no I/O and reads
no clock (every input carries its instant), so every path — including the error paths
that must never leave a caller in silence — is unit-testable.

Phases::

    new ──Started──▶ answering ──Answered──▶ in_service ──service ends──▶ hanging_up
                        │                        │                          │
                        └──failure──▶ apologising (apology prompt) ─────────┘
    any ──Left──▶ ended (RecordEnd, Finished)

Error policy: a command that fails for good (after the executor's retries) while the
channel still exists sends the caller to the apology prompt and then hangs up; a failed
hang-up is retried with capped backoff until the channel goes; a channel that Asterisk
reports gone (404/409) is finalised after a short grace period for its StasisEnd.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from ivr.call import commands as cmd
from ivr.call.inputs import (
    Adopted,
    Answered,
    CommandFailed,
    HangupRequested,
    Input,
    Left,
    PlaybackDone,
    Resynced,
    Started,
    TimerFired,
)
from ivr.call.service import Prompts, Service, hook

NORMAL_CLEARING = 16
CAUSE_TEXT = {16: "Normal Clearing", 17: "User busy", 19: "No answer", 21: "Call Rejected"}

# Timer names owned by the lifecycle; services use their own names.
T_HANGUP_RETRY = "lifecycle.hangup_retry"
T_GONE_GRACE = "lifecycle.gone_grace"
T_APOLOGY_GUARD = "lifecycle.apology_guard"
T_GOODBYE_GUARD = "lifecycle.goodbye_guard"

GONE_GRACE_SECONDS = 2.0
# A prompt that never reports its end must not hold a caller forever.
PROMPT_GUARD_SECONDS = 30.0
HANGUP_RETRY_INITIAL = 0.5
HANGUP_RETRY_MAX = 5.0


@dataclass(slots=True)
class CallState:
    channel_id: str = ""
    phase: str = "new"
    language: str = "en"
    caller_number: str = ""
    caller_name: str = ""
    dialled: str = ""
    created_at: datetime | None = None
    answered: bool = False
    we_hung_up: bool = False
    caller_hangup_cause: int | None = None
    # The caller's side hung up (a hard hang-up request we did not cause): from here on
    # nothing is played or decided any more, we only wait for the channel to leave.
    caller_gone: bool = False
    caller_tier: str = "general"
    # The call was handed back to the dialplan (transfer): its leaving is not a hang-up.
    transferred: bool = False
    end_reason: str | None = None
    playback_seq: int = 0
    # Distinguishes this controller's playback ids from those of an earlier life of the
    # call (before a restart): Asterisk refuses a playback id that is still in use.
    playback_prefix: str = ""
    timer_seq: int = 0
    timers: dict[str, int] = field(default_factory=dict)
    # The lifecycle's own prompt (apology or goodbye) being waited for.
    lifecycle_playback: str | None = None
    hangup_attempts: int = 0


class CallFlow:
    """One call's state machine. Construct, feed ``Started`` (or ``Adopted``), then inputs."""

    def __init__(
        self,
        service_factory: Callable[[], Service],
        prompts: Prompts,
        default_language: str = "en",
        services: Mapping[str, Callable[[], Service]] | None = None,
    ) -> None:
        self.state = CallState(language=default_language)
        self.service = service_factory()
        # Services a call can be handed over to (the menu → the queue and back), by name;
        # the ones this call has used are kept, so their record fields stay on the record.
        self._factories: dict[str, Callable[[], Service]] = {self.service.name: service_factory}
        self._factories.update(services or {})
        self._used: dict[str, Service] = {self.service.name: self.service}
        self.prompts = prompts
        self._out: list[cmd.Command] = []
        self._now: datetime | None = None

    # -- ServiceContext ---------------------------------------------------------------

    @property
    def now(self) -> datetime:
        assert self._now is not None, "inputs carry their instant"
        return self._now

    @property
    def language(self) -> str:
        return self.state.language

    @property
    def caller_number(self) -> str:
        return self.state.caller_number

    @property
    def caller_tier(self) -> str:
        return self.state.caller_tier

    @property
    def channel_id(self) -> str:
        return self.state.channel_id

    @property
    def caller_name(self) -> str:
        return self.state.caller_name

    @property
    def call_started_at(self) -> datetime:
        return self.state.created_at or self.now

    def hand_over(self, name: str, request: Mapping[str, object]) -> bool:
        """Continue the call in another service (``request`` tells it why and where);
        False when this call has no such service."""
        if self.state.phase != "in_service" or name not in self._factories:
            return False
        service = self._used.get(name)
        if service is None:
            service = self._factories[name]()
            self._used[name] = service
        self.service = service
        enter = hook(service, "enter")
        if enter is not None:
            enter(self, request)
        else:
            service.begin(self)
        self._save_state()
        return True

    def save(self) -> None:
        """Persist the service's progress (menu path, collected data) to the record."""
        self._save_state()

    def transfer(self, context: str, extension: str) -> None:
        if self.state.phase != "in_service":
            return
        self.state.transferred = True
        self.state.end_reason = "transferred"
        self._save_state()
        self._out.append(cmd.ContinueInDialplan(context, extension))

    @property
    def last_playback_id(self) -> str | None:
        """The newest playback this call started (the one a resync asks Asterisk about)."""
        if self.state.playback_seq == 0:
            return None
        return f"{self.state.channel_id}{self.state.playback_prefix}-p{self.state.playback_seq}"

    def live_legs(self) -> Mapping[str, bool]:
        """The legs the service holds (an agent's phone), each with whether it answered."""
        legs = hook(self.service, "live_legs")
        if self.state.phase != "in_service" or legs is None:
            return {}
        return dict(legs())

    def play(self, media: tuple[str, ...]) -> str:
        self.state.playback_seq += 1
        playback_id = (
            f"{self.state.channel_id}{self.state.playback_prefix}-p{self.state.playback_seq}"
        )
        self._out.append(cmd.Play(playback_id, media, self.state.language))
        return playback_id

    def stop_playback(self, playback_id: str) -> None:
        self._out.append(cmd.StopPlayback(playback_id))

    def start_timer(self, name: str, seconds: float) -> None:
        self.state.timer_seq += 1
        self.state.timers[name] = self.state.timer_seq
        self._out.append(cmd.StartTimer(name, seconds, self.state.timer_seq))

    def cancel_timer(self, name: str) -> None:
        if self.state.timers.pop(name, None) is not None:
            self._out.append(cmd.CancelTimer(name))

    def timer_is_current(self, name: str, token: int) -> bool:
        return self.state.timers.get(name) == token

    def set_language(self, language: str) -> None:
        if language != self.state.language:
            self.state.language = language
            self._out.append(cmd.SetLanguage(language))

    def emit(self, command: cmd.Command) -> None:
        self._out.append(command)

    def end_call(self, reason: str, goodbye: tuple[str, ...] = ()) -> None:
        if self.state.phase != "in_service":
            return
        self.state.end_reason = reason
        self._save_state()
        if goodbye:
            self.state.phase = "saying_goodbye"
            self.state.lifecycle_playback = self.play(goodbye)
            self.start_timer(T_GOODBYE_GUARD, PROMPT_GUARD_SECONDS)
        else:
            self._hang_up()

    # -- entry point ------------------------------------------------------------------

    def handle(self, event: Input) -> list[cmd.Command]:
        self._now = event.at
        self._out = []
        if self.state.phase == "ended":
            return []
        if isinstance(event, Started):
            self._on_started(event)
        elif isinstance(event, Adopted):
            self._on_adopted(event)
        elif isinstance(event, Left):
            if event.unobserved and not self.state.we_hung_up:
                self.state.end_reason = "ended_unobserved"
            self._finish(event.at, event.cause, event.cause_text)
        elif isinstance(event, HangupRequested):
            if not event.soft and not self.state.we_hung_up:
                self._on_caller_hangup(event)
        elif self.state.caller_gone and not isinstance(event, TimerFired):
            pass  # late playback/DTMF events of a channel that is going away
        elif isinstance(event, TimerFired):
            self._on_timer(event)
        elif isinstance(event, CommandFailed):
            self._on_failure(event)
        elif isinstance(event, Answered):
            self._on_answered(event)
        elif isinstance(event, Resynced):
            self._on_resynced(event)
        elif isinstance(event, PlaybackDone) and event.playback_id == self.state.lifecycle_playback:
            self.state.lifecycle_playback = None
            self._hang_up()
        elif self.state.phase == "in_service":
            self.service.handle(self, event)  # digits, playbacks, the queue's inputs
        return self._out

    # -- lifecycle steps --------------------------------------------------------------

    def _take_channel(self, event: Started | Adopted) -> None:
        s = self.state
        s.channel_id = event.channel_id
        s.caller_number = event.caller_number
        s.caller_name = event.caller_name
        s.dialled = event.dialled
        s.created_at = event.created_at
        s.caller_tier = event.caller_tier
        if event.language:
            s.language = event.language

    def _record_start(self) -> None:
        s = self.state
        assert s.created_at is not None
        self._out.append(
            cmd.RecordStart(
                started_at=s.created_at,
                caller_number=s.caller_number,
                caller_name=s.caller_name,
                dialled=s.dialled,
                language=s.language,
                state=self.snapshot(),
            )
        )

    def _on_started(self, event: Started) -> None:
        self._take_channel(event)
        self.state.phase = "answering"
        self._record_start()
        self._out.append(cmd.Answer())

    def _on_answered(self, event: Answered) -> None:
        if self.state.phase != "answering":
            return
        self.state.answered = True
        self.state.phase = "in_service"
        self._out.append(cmd.RecordAnswer(event.at))
        self.service.begin(self)
        self._save_state()

    def _on_adopted(self, event: Adopted) -> None:
        self._take_channel(event)
        self.state.playback_prefix = f"-a{int(event.at.timestamp() * 1000)}"
        self.state.answered = event.answered
        self._record_start()
        snap = event.snapshot
        resumable = (
            snap is not None
            and snap.get("service") in self._factories
            and snap.get("phase") == "in_service"
            and event.answered
        )
        if resumable:
            assert snap is not None
            self.restore(snap)
            self.state.phase = "in_service"
            self.service.resume(self)
            self._save_state()
        elif snap is not None and snap.get("phase") in ("saying_goodbye", "hanging_up"):
            # It was on its way out anyway: finish the job.
            reason = snap.get("end_reason")
            self.state.end_reason = reason if isinstance(reason, str) else "completed"
            self._hang_up()
        elif not event.answered:
            # Never answered, so never served: its StasisStart was lost in a gap in the
            # events, or a restart came before the answer. Nothing to resume; start it now
            # rather than drop a caller who has heard nothing yet.
            self.state.phase = "answering"
            self._out.append(cmd.Answer())
        else:
            self._apologise("state_lost")

    def _apologise(self, reason: str) -> None:
        """Every unrecoverable error ends here: an apology if we can still speak, then hang up."""
        s = self.state
        if s.phase in ("apologising", "hanging_up", "ended"):
            return
        s.end_reason = s.end_reason if s.phase == "saying_goodbye" else reason
        if not s.answered:
            # We can't speak on an unanswered channel; answering may be what failed.
            self._hang_up()
            return
        s.phase = "apologising"
        self.state.lifecycle_playback = self.play(
            self.prompts.media("apology_technical", s.language)
        )
        self.start_timer(T_APOLOGY_GUARD, PROMPT_GUARD_SECONDS)
        self._save_state()

    def _on_caller_hangup(self, event: HangupRequested) -> None:
        s = self.state
        s.caller_gone = True
        s.caller_hangup_cause = event.cause if event.cause is not None else NORMAL_CLEARING
        for name in list(s.timers):
            self.cancel_timer(name)
        # Legs the service has up (an agent's phone ringing) must stop at once.
        self._close_service("caller_hangup")
        # StasisEnd follows at once; should it be lost, don't hold the call open.
        self.start_timer(T_GONE_GRACE, GONE_GRACE_SECONDS)

    def _hang_up(self) -> None:
        s = self.state
        if s.caller_gone:
            return
        for name in list(s.timers):
            if name != T_GONE_GRACE:
                self.cancel_timer(name)
        s.phase = "hanging_up"
        s.we_hung_up = True
        s.lifecycle_playback = None
        s.hangup_attempts += 1
        self._out.append(cmd.Hangup("normal"))

    def _on_timer(self, event: TimerFired) -> None:
        if not self.timer_is_current(event.name, event.token):
            return  # replaced or cancelled while the firing was queued
        del self.state.timers[event.name]
        if event.name == T_HANGUP_RETRY:
            if self.state.phase == "hanging_up":
                self._hang_up()
        elif event.name == T_GONE_GRACE:
            if not self.state.caller_gone:
                # "Gone" was inferred from a 404/409; should the channel in fact still be
                # there, a last hang-up makes sure nobody is left on a silent line.
                self._out.append(cmd.Hangup("normal"))
            self._finish(event.at, None, None)
        elif event.name in (T_APOLOGY_GUARD, T_GOODBYE_GUARD):
            if self.state.phase in ("apologising", "saying_goodbye"):
                self._hang_up()
        elif self.state.phase == "in_service":
            self.service.handle(self, event)

    def _on_failure(self, event: CommandFailed) -> None:
        s = self.state
        if event.gone:
            # Asterisk no longer has the channel in our app; its StasisEnd may be lost
            # (e.g. during a socket gap), so don't wait for it for long.
            if T_GONE_GRACE not in s.timers:
                self.start_timer(T_GONE_GRACE, GONE_GRACE_SECONDS)
            return
        handler = hook(self.service, "command_failed")
        if s.phase == "in_service" and handler is not None and handler(self, event):
            return  # the service has a way on (e.g. an agent's phone that can't be dialled)
        if event.command == "Hangup":
            delay = min(HANGUP_RETRY_MAX, HANGUP_RETRY_INITIAL * 2 ** (s.hangup_attempts - 1))
            self.start_timer(T_HANGUP_RETRY, delay)
        elif event.command == "Answer":
            self._apologise("error")
        elif s.phase in ("apologising", "saying_goodbye"):
            self._hang_up()  # the last prompt itself failed: don't try to speak again
        else:
            # Any other failed command (a prompt, a transfer, whatever services add):
            # the caller must not be left on a silent line.
            s.transferred = False
            self._apologise("error")

    def _on_resynced(self, event: Resynced) -> None:
        # Playbacks that ended during the gap arrive as PlaybackDone before this input
        # (the session asks Asterisk); what is left is a hang-up that may have been lost.
        if self.state.phase == "hanging_up":
            self._hang_up()

    def _finish(self, at: datetime, cause: int | None, cause_text: str | None) -> None:
        s = self.state
        if s.transferred and not s.we_hung_up:
            side, reason = "system", "transferred"
        elif s.we_hung_up:
            side = "system"
            cause = cause if cause is not None else NORMAL_CLEARING
            reason = s.end_reason or "completed"
        elif s.caller_hangup_cause is not None or cause is not None:
            side = "caller"
            cause = s.caller_hangup_cause if s.caller_hangup_cause is not None else cause
            reason = "caller_hangup"
        else:
            side = "unknown"
            reason = s.end_reason or "channel_gone"
        if cause_text is None and cause is not None:
            cause_text = CAUSE_TEXT.get(cause, f"cause {cause}")
        for name in list(s.timers):
            self.cancel_timer(name)
        self._close_service(reason)
        explain = hook(self.service, "final_reason")
        better = explain(reason) if explain is not None else None
        if isinstance(better, str):
            reason = better
        s.phase = "ended"
        self._out.append(
            cmd.RecordEnd(
                ended_at=at,
                hangup_cause=cause,
                hangup_cause_text=cause_text,
                hangup_side=side,
                end_reason=reason,
                fields={**self._record_fields(), "state": self.snapshot()},
            )
        )
        self._out.append(cmd.Finished())

    def _close_service(self, reason: str) -> None:
        """Let every service this call used release what it holds (legs, seats, queue)."""
        for service in self._used.values():
            close = hook(service, "close")
            if close is not None:
                close(self, reason)

    def _record_fields(self) -> dict[str, object]:
        fields: dict[str, object] = {}
        for service in self._used.values():
            if service is not self.service:
                fields.update(service.record_fields())
        fields.update(self.service.record_fields())
        return fields

    # -- persistence --------------------------------------------------------------------

    def _save_state(self) -> None:
        self._out.append(
            cmd.RecordUpdate(
                {
                    **self._record_fields(),
                    "language": self.state.language,
                    "state": self.snapshot(),
                }
            )
        )

    def snapshot(self) -> dict[str, object]:
        s = self.state
        return {
            "phase": s.phase,
            "language": s.language,
            "answered": s.answered,
            "end_reason": s.end_reason,
            "playback_seq": s.playback_seq,
            "service": self.service.name,
            "service_state": dict(self.service.snapshot()),
            "earlier": {
                name: dict(svc.snapshot())
                for name, svc in self._used.items()
                if svc is not self.service
            },
        }

    def restore(self, data: Mapping[str, object]) -> None:
        s = self.state
        language = data.get("language")
        if isinstance(language, str):
            s.language = language
        seq = data.get("playback_seq")
        if isinstance(seq, int):
            # Fresh ids after a restart must not collide with the old playbacks'.
            s.playback_seq = seq + 1000
        earlier = data.get("earlier")
        if isinstance(earlier, dict):
            for name, state in earlier.items():
                if name in self._factories and isinstance(state, dict):
                    service = self._used.get(name) or self._factories[name]()
                    service.restore(state)
                    self._used[name] = service
        current = data.get("service")
        if isinstance(current, str) and current in self._factories:
            self.service = self._used.get(current) or self._factories[current]()
            self._used[current] = self.service
        service_state = data.get("service_state")
        if isinstance(service_state, dict):
            self.service.restore(service_state)
