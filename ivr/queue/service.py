"""A caller waiting for a person: the queue's per-call state machine.

The menu hands the call over (``ctx.hand_over("queue", request)``); from then on this
service owns it until it ends. Pure like the rest of call control: inputs in, commands
out. The distributor (``agents.engine``) decides which agent gets which call across
every node and claims the agent in the database; this service only reacts:

    entering ──Enqueued──▶ waiting (music on hold; position / wait announcements;
       │                      │  callback offered after a while or on key 1)
       │                      ├──AgentOffered──▶ offering (agent's phone rings, caller hears MOH)
       │                      │                     │ rings out / busy ──▶ waiting (next agent)
       │                      │                     ▼ answers
       │                      │                  connected ◀──▶ held (MOH) ──▶ consulting
       │                      │                     │ agent hangs up ──▶ goodbye
       │                      ├──key 1, confirmed──▶ callback booked, goodbye (place kept)
       │                      └──max wait──▶ overflow queue, or the refusal options
       └──QueueRefused (full, nobody on shift)──▶ refused: 1 callback, 2 self-service, goodbye

Whatever way the call ends, ``close`` releases what it holds: the agent's ringing phone
(not counted as a miss), the agent's seat (to wrap-up), the bridge and the queue place;
a caller who hangs up before an agent answered is recorded as ``abandoned`` with the
wait time.

In a queue with ``record`` on, the bridge is recorded from the moment an agent answers
(``StartRecording``) until it is destroyed or Asterisk ends the recording (the bridge
emptied, e.g. a transfer back to a queue); each ending asks for ``SaveRecording``. A
later agent of the same call starts the next part. Recording trouble never changes what
the caller hears.

While an agent has the call, a lead may listen in (``ivr.queue.listen``): legs and a
bridge of its own, which never change the conversation.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from agents.queue_config import QueueConfig
from ivr.call import commands as cmd
from ivr.call import inputs as inp
from ivr.call.service import ServiceContext
from ivr.queue.listen import ListenIn

T_ANNOUNCE = "queue.announce"
T_CALLBACK_OFFER = "queue.callback_offer"
T_MAX_WAIT = "queue.max_wait"
T_RING = "queue.ring"
T_CHOICE = "queue.choice"
T_CONSULT_RING = "queue.consult_ring"

CHOICE_SECONDS = 8.0
# Causes of an unanswered leg that are the agent's doing (rang out, busy, refused).
MISSED_CAUSES = frozenset({17, 18, 19, 21})
# Parts of one call's recording; a bound so a recording that keeps ending cannot loop.
MAX_RECORDING_PARTS = 10


class QueueMode(StrEnum):
    """Where a queued call is (the diagram above); a string in the saved snapshot."""

    IDLE = "idle"
    ENTERING = "entering"
    WAITING = "waiting"
    ANNOUNCING = "announcing"
    CB_CONFIRM = "cb_confirm"  # the callback offer asks the caller to confirm
    BOOKING = "booking"
    BOOKED = "booked"
    REFUSED = "refused"  # nobody can take the call: the caller is told and chooses
    OFFERING = "offering"
    CONNECTED = "connected"
    HELD = "held"
    CONSULTING = "consulting"
    TRANSFER_CLAIM = "transfer_claim"
    CONSULT_CLAIM = "consult_claim"
    TRANSFERRED = "transferred"
    LEAVING = "leaving"
    LEFT = "left"
    CLOSED = "closed"


WAITING_MODES = (QueueMode.WAITING, QueueMode.ANNOUNCING, QueueMode.CB_CONFIRM)
# Ends of a call we did not hang up: the caller left (a hang-up we saw, or one lost in a gap
# in events, found when the channel turned out gone). Before an agent answered: abandoned.
CALLER_LEFT = frozenset({"caller_hangup", "channel_gone", "ended_unobserved"})
# The record's end reason for a caller the queue could not take.
REFUSAL_REASONS = {"full": "queue_full", "timeout": "queue_timeout", "no_agents": "no_agents"}
HARMLESS_FAILURES = frozenset(
    {
        "StopMoh",
        "StartMoh",
        "HangupLeg",
        "DestroyBridge",
        "CreateBridge",
        "Unbridge",
        "SeatAnswered",
        "SeatNoAnswer",
        "SeatCallEnded",
        "QueueMark",
        "QueueLeave",
        "ControlDone",
    }
)


@dataclass
class QueueState:
    mode: QueueMode = QueueMode.IDLE
    queue: str = ""
    skill: str | None = None
    priority: int = 0
    injury: bool = False
    tier: str = "general"
    arrived_at: str = ""  # ISO instants: the snapshot must stay JSON-able
    entered_at: str = ""
    entry_id: int | None = None
    position: int | None = None
    wait_estimate: float | None = None
    playback: str | None = None
    moh: bool = False
    after_playback: str = ""  # what a finished playback leads to
    agent: dict[str, Any] | None = None  # id, staff, name, endpoint
    leg: str | None = None
    leg_answered: bool = False
    ring_timed_out: bool = False
    leg_seq: int = 0
    bridge: str | None = None
    consult: dict[str, Any] | None = None  # leg, kind, target, agent, answered, timed_out
    control: int | None = None  # the control request being carried out
    # The mode to go back to when a transfer's claim fails.
    before_claim: QueueMode = QueueMode.CONNECTED
    wait_seconds: float | None = None
    answered_at: str | None = None
    callback_id: int | None = None
    refused: str | None = None
    abandoned: bool = False
    booked_on_hangup: bool = False
    offer_callback_next: bool = False
    closed: bool = False
    transfer_context: str = "hotline-transfer"
    legs: list[dict[str, Any]] = field(default_factory=list)
    recording: str | None = None  # the ARI name of the bridge recording running now
    recording_part: int = 0
    listen: dict[str, Any] | None = None  # a lead listening in (ivr.queue.listen)


@dataclass(frozen=True)
class QueueSettings:
    """What the service needs besides the queue configs."""

    external_endpoint: str = "PJSIP/{number}@trunk"
    self_service: str | None = "menu"  # the service key 2 returns to; None: not offered
    internal_callers: str = r"^[0-9]{3,5}$"  # caller IDs of the organisation's extensions


class QueueService:
    name = "queue"

    def __init__(
        self,
        configs: Callable[[str], QueueConfig | None],
        settings: QueueSettings | None = None,
    ) -> None:
        self.configs = configs
        self.settings = settings or QueueSettings()
        self.s = QueueState()
        self.listening = ListenIn(self._log)

    # -- Service protocol ---------------------------------------------------------------

    def begin(self, ctx: ServiceContext) -> None:
        self.enter(ctx, {})

    def enter(self, ctx: ServiceContext, request: Mapping[str, object]) -> None:
        s = self.s
        queue = request.get("queue")
        s.queue = queue if isinstance(queue, str) else "operator"
        skill = request.get("skill")
        s.skill = skill if isinstance(skill, str) else None
        priority = request.get("priority")
        s.priority = priority if isinstance(priority, int) else 0
        s.injury = request.get("injury") is True
        context = request.get("transfer_context")
        if isinstance(context, str):
            s.transfer_context = context
        s.tier = ctx.caller_tier
        s.arrived_at = s.arrived_at or ctx.now.isoformat()
        s.closed = False
        self._enqueue(ctx, s.queue)

    def handle(self, ctx: ServiceContext, event: inp.Input) -> None:
        s = self.s
        if isinstance(event, inp.Enqueued):
            self._on_enqueued(ctx, event)
        elif isinstance(event, inp.QueueRefused):
            if s.mode in WAITING_MODES:
                # Told while waiting: nobody can take the call now (the agents went off
                # shift, their phones offline). Not while an agent rings: that one may.
                if s.playback is not None:
                    ctx.stop_playback(s.playback)
                    s.playback = None
                self._refuse(ctx, event.reason)
            elif s.mode == QueueMode.ENTERING:
                self._refuse(ctx, event.reason)
        elif isinstance(event, inp.NodeRejoined):
            self._on_rejoined(ctx)
        elif isinstance(event, inp.QueueStatus):
            first = s.position is None
            s.position, s.wait_estimate = event.position, event.wait_estimate
            cfg = self._config()
            if (
                first
                and s.mode == QueueMode.WAITING
                and cfg is not None
                and cfg.announce_interval > 0
            ):
                ctx.cancel_timer(T_ANNOUNCE)
                self._announce(ctx)  # where they are, as soon as it is known
        elif isinstance(event, inp.AgentOffered):
            self._on_offered(ctx, event)
        elif isinstance(event, inp.OfferFailed):
            self._control_done(ctx, False, f"cannot transfer: {event.reason}")
            if s.mode in (QueueMode.TRANSFER_CLAIM, QueueMode.CONSULT_CLAIM):
                s.mode = s.before_claim
        elif isinstance(event, inp.LegAnswered):
            if self.listening.owns(s, event.leg_id):
                self.listening.leg_answered(ctx, s, event.leg_id)
            else:
                self._on_leg_answered(ctx, event.leg_id)
        elif isinstance(event, inp.LegEnded):
            if self.listening.owns(s, event.leg_id):
                self.listening.leg_ended(ctx, s, event)
            else:
                self._on_leg_ended(ctx, event)
        elif isinstance(event, inp.ListenerBridged):
            self.listening.bridged(ctx, s, event)
        elif isinstance(event, inp.CallbackBooked):
            s.callback_id = event.callback_id
            self._log(ctx, "callback_booked", callback_id=event.callback_id)
            s.mode = QueueMode.BOOKED
            ctx.end_call("queue_callback", self._prompt(ctx, "callback_done"))
        elif isinstance(event, inp.ControlRequested) and event.action == "listen":
            self._listen(ctx, event)
        elif isinstance(event, inp.ControlRequested):
            self._on_control(ctx, event)
        elif isinstance(event, inp.Digit):
            self._on_digit(ctx, event.digit)
        elif isinstance(event, inp.PlaybackDone):
            if event.playback_id == s.playback:
                s.playback = None
                self._after_playback(ctx)
        elif isinstance(event, inp.TimerFired):
            if not self.listening.timer(ctx, s, event.name):
                self._on_timer(ctx, event)
        elif isinstance(event, inp.RecordingEnded):
            self._on_recording_ended(ctx, event)

    def resume(self, ctx: ServiceContext) -> None:
        """After a controller restart: a call still waiting takes its place again (the
        entry keeps its arrival); a bridged call just carries on."""
        s = self.s
        s.playback = None
        # The lead's leg and the snoop were legs of the old controller: let them go.
        self.listening.stop(ctx, s, "the controller restarted")
        if s.mode in (QueueMode.CONNECTED, QueueMode.HELD, QueueMode.CONSULTING):
            self._log(ctx, "resumed")
            return
        if s.leg is not None and not s.leg_answered:
            self._drop_offer(ctx, missed=False)
        s.moh = False
        self._log(ctx, "resumed")
        self._enqueue(ctx, s.queue)

    def snapshot(self) -> Mapping[str, object]:
        return asdict(self.s)

    def restore(self, data: Mapping[str, object]) -> None:
        fields = {k: v for k, v in data.items() if k in QueueState.__dataclass_fields__}
        try:
            for key in ("mode", "before_claim"):
                if key in fields:
                    fields[key] = QueueMode(str(fields[key]))
            self.s = QueueState(**fields)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            self.s = QueueState()

    def record_fields(self) -> Mapping[str, object]:
        s = self.s
        fields: dict[str, object] = {
            "queue": s.queue,
            "legs": list(s.legs),
            "customer_tier": s.tier,
        }
        if s.entered_at:
            fields["queue_entered_at"] = datetime.fromisoformat(s.entered_at)
        if s.wait_seconds is not None:
            fields["wait_seconds"] = s.wait_seconds
        if s.answered_at is not None:
            fields["agent_answered_at"] = datetime.fromisoformat(s.answered_at)
        if s.agent is not None and s.answered_at is not None:
            fields["agent"] = s.agent["staff"]
        if s.callback_id is not None:
            fields["callback_id"] = s.callback_id
        return fields

    def live_legs(self) -> dict[str, bool]:
        """The agent's (and a consulted party's) leg, each with whether it answered."""
        s = self.s
        legs: dict[str, bool] = {}
        if s.leg is not None:
            legs[s.leg] = s.leg_answered
        if s.consult is not None:
            legs[str(s.consult["leg"])] = bool(s.consult.get("answered"))
        return legs

    def final_reason(self, reason: str) -> str | None:
        """The record's end reason when the queue explains it better than the lifecycle."""
        if self.s.abandoned:
            return "abandoned"
        if self.s.booked_on_hangup:
            return "queue_callback"
        if reason in CALLER_LEFT and self.s.answered_at is not None:
            return "answered"
        if reason in CALLER_LEFT and self.s.refused is not None and self.s.callback_id is None:
            return REFUSAL_REASONS.get(self.s.refused, "no_agents")
        return None

    def close(self, ctx: ServiceContext, reason: str) -> None:
        s = self.s
        if s.closed:
            return
        s.closed = True
        for name in (T_ANNOUNCE, T_CALLBACK_OFFER, T_MAX_WAIT, T_RING, T_CHOICE, T_CONSULT_RING):
            ctx.cancel_timer(name)
        self.listening.stop(ctx, s, "the call ended")
        waiting = s.mode in (*WAITING_MODES, QueueMode.ENTERING, QueueMode.OFFERING)
        if s.consult is not None:
            self._drop_consult(ctx, missed=False)
        if s.leg is not None:
            if s.leg_answered:
                self._agent_call_ended(ctx)
            else:
                self._drop_offer(ctx, missed=False)
        self._destroy_bridge(ctx)
        if s.mode not in (QueueMode.BOOKED, QueueMode.BOOKING) and s.entry_id is not None:
            ctx.emit(cmd.QueueLeave())
        if s.mode == QueueMode.BOOKING:
            s.booked_on_hangup = True  # the callback stands: they hung up after confirming
        if waiting and reason in CALLER_LEFT and s.answered_at is None:
            s.abandoned = True
            s.wait_seconds = self._waited(ctx)
            self._log(ctx, "abandoned", waited=round(s.wait_seconds, 1))
        s.mode = QueueMode.CLOSED

    def command_failed(self, ctx: ServiceContext, event: inp.CommandFailed) -> bool:
        s = self.s
        if self.listening.command_failed(ctx, s, event):
            return True  # listening in failed; the conversation goes on as it was
        if event.command == "StartRecording":
            # The executor has written the failed recording down; the call goes on as is.
            self._log(ctx, "recording_failed", name=s.recording, reason=event.reason)
            s.recording = None
            return True
        if event.command == "Originate":
            # Asterisk would not ring the agent's (or consult target's) phone: not the
            # agent's miss — the phone is marked unreachable (agents.phones) and the
            # next agent is tried at once.
            if s.consult is not None and not s.consult.get("answered"):
                self._consult_failed(ctx, missed=False)
                return True
            if s.leg is not None and not s.leg_answered:
                if s.agent is not None:
                    self._log(ctx, "phone_refused", agent=s.agent["staff"], reason=event.reason)
                # Hung up all the same: after a lost answer the leg may exist after all.
                self._drop_offer(ctx, missed=False)
                self._back_to_waiting(ctx)
                return True
        if event.command == "Bridge" and s.mode == QueueMode.CONNECTED and s.leg is not None:
            # The agent's phone hung up between answering and being bridged: for the
            # caller that is as if nobody answered yet — back in line, same place.
            self._log(ctx, "bridge_failed", agent=s.agent["staff"] if s.agent else None)
            self._agent_call_ended(ctx)
            s.answered_at = None
            s.wait_seconds = None
            s.mode = QueueMode.OFFERING  # so that _back_to_waiting accepts it
            self._back_to_waiting(ctx)
            ctx.save()
            return True
        # A leg or bridge already gone, or seat/queue bookkeeping the database refused
        # (the claims audit repairs seats): nothing the caller needs to hear about.
        return event.command in HARMLESS_FAILURES

    # -- entering the queue ---------------------------------------------------------------

    def _config(self) -> QueueConfig | None:
        return self.configs(self.s.queue)

    def _enqueue(self, ctx: ServiceContext, queue: str) -> None:
        s = self.s
        s.queue = queue
        s.mode = QueueMode.ENTERING
        s.entered_at = ctx.now.isoformat()
        self._log(ctx, "queue", queue=queue, skill=s.skill, priority=s.priority or None)
        ctx.emit(self._enqueue_command(ctx))

    def _enqueue_command(self, ctx: ServiceContext) -> cmd.Enqueue:
        s = self.s
        return cmd.Enqueue(
            queue=s.queue,
            tier=s.tier,
            arrived_at=datetime.fromisoformat(s.arrived_at),
            caller_number=ctx.caller_number,
            language=ctx.language,
            priority=s.priority,
            skill=s.skill,
            injury=s.injury,
            external=re.fullmatch(self.settings.internal_callers, ctx.caller_number) is None,
        )

    def _on_rejoined(self, ctx: ServiceContext) -> None:
        """Our node was buried while it stalled, which took waiting callers out of the
        queue: this one takes its place again (same arrival), hearing what it heard.
        Offered and connected calls kept their places and their agents' claims."""
        s = self.s
        if s.mode not in WAITING_MODES or s.entry_id is None:
            return
        self._log(ctx, "requeued")
        ctx.emit(self._enqueue_command(ctx))

    def _on_enqueued(self, ctx: ServiceContext, event: inp.Enqueued) -> None:
        s = self.s
        if s.mode != QueueMode.ENTERING:
            if s.mode in WAITING_MODES and s.entry_id is not None:
                s.entry_id = event.entry_id  # back in line after a rejoin
            return
        s.entry_id = event.entry_id
        s.position, s.wait_estimate = event.position, event.wait_estimate
        s.mode = QueueMode.WAITING
        ctx.save()  # a restarted controller puts the caller back in line from here
        cfg = self._config()
        if cfg is None:
            self._refuse(ctx, "unknown_queue")
            return
        remaining_wait = cfg.max_wait - self._waited(ctx)
        ctx.start_timer(T_MAX_WAIT, max(1.0, remaining_wait))
        if cfg.callback_after is not None and ctx.caller_number:
            ctx.start_timer(T_CALLBACK_OFFER, max(1.0, cfg.callback_after - self._waited(ctx)))
        if cfg.announce_interval > 0 and s.position is not None:
            self._announce(ctx)  # say where they are at once, then every interval
        else:
            self._moh_on(ctx)
            if cfg.announce_interval > 0:
                ctx.start_timer(T_ANNOUNCE, cfg.announce_interval)

    def _waited(self, ctx: ServiceContext) -> float:
        if not self.s.entered_at:
            return 0.0
        return max(0.0, (ctx.now - datetime.fromisoformat(self.s.entered_at)).total_seconds())

    # -- waiting: music, announcements, the callback offer --------------------------------

    def _moh_on(self, ctx: ServiceContext) -> None:
        if not self.s.moh:
            cfg = self._config()
            ctx.emit(cmd.StartMoh(cfg.music_on_hold if cfg else "default"))
            self.s.moh = True

    def _moh_off(self, ctx: ServiceContext) -> None:
        if self.s.moh:
            ctx.emit(cmd.StopMoh())
            self.s.moh = False

    def _say(self, ctx: ServiceContext, media: tuple[str, ...], mode: QueueMode, then: str) -> None:
        """Play ``media`` over the music (which pauses), then go on with ``then``."""
        s = self.s
        if not media:
            s.after_playback = then
            self._after_playback(ctx)
            return
        self._moh_off(ctx)
        if s.playback is not None:
            ctx.stop_playback(s.playback)
        s.mode = mode
        s.after_playback = then
        s.playback = ctx.play(media)

    def _announce(self, ctx: ServiceContext, offer_callback: bool = False) -> None:
        s = self.s
        media: list[str] = []
        if s.position is not None:
            media += self._prompt(ctx, "queue_position") + self._number(ctx, s.position)
        if s.wait_estimate is not None:
            minutes = max(1, round(s.wait_estimate / 60))
            media += (
                self._prompt(ctx, "queue_wait")
                + self._number(ctx, minutes)
                + self._prompt(ctx, "queue_minutes")
            )
        if offer_callback or s.offer_callback_next:
            s.offer_callback_next = False
            media += self._prompt(ctx, "queue_callback_offer")
        self._say(ctx, tuple(media), QueueMode.ANNOUNCING, "waiting")

    def _after_playback(self, ctx: ServiceContext) -> None:
        s = self.s
        then, s.after_playback = s.after_playback, ""
        if then == "waiting":
            if s.mode == QueueMode.ANNOUNCING:
                s.mode = QueueMode.WAITING
            self._moh_on(ctx)
            cfg = self._config()
            if cfg is not None and cfg.announce_interval > 0 and s.mode == QueueMode.WAITING:
                ctx.start_timer(T_ANNOUNCE, cfg.announce_interval)
        elif then == "choice":
            ctx.start_timer(T_CHOICE, CHOICE_SECONDS)
        elif then == "offering":
            self._moh_on(ctx)

    def _on_digit(self, ctx: ServiceContext, digit: str) -> None:
        s = self.s
        if (
            s.mode in (QueueMode.WAITING, QueueMode.ANNOUNCING)
            and digit == "1"
            and ctx.caller_number
        ):
            ctx.cancel_timer(T_ANNOUNCE)
            media = (
                self._prompt(ctx, "callback_number")
                + self._digits(ctx, ctx.caller_number)
                + self._prompt(ctx, "queue_callback_confirm")
            )
            self._say(ctx, media, QueueMode.CB_CONFIRM, "choice")
        elif s.mode == QueueMode.CB_CONFIRM:
            ctx.cancel_timer(T_CHOICE)
            if digit == "1":
                if s.playback is not None:
                    ctx.stop_playback(s.playback)
                    s.playback = None
                s.mode = QueueMode.BOOKING
                self._book(ctx)
            else:
                self._keep_waiting(ctx)
        elif s.mode == QueueMode.REFUSED:
            ctx.cancel_timer(T_CHOICE)
            if digit == "1" and ctx.caller_number:
                if s.playback is not None:
                    ctx.stop_playback(s.playback)
                    s.playback = None
                s.mode = QueueMode.BOOKING
                self._book(ctx)
            elif digit == "2" and self.settings.self_service:
                if s.playback is not None:
                    ctx.stop_playback(s.playback)
                    s.playback = None
                self._log(ctx, "self_service")
                s.mode = QueueMode.LEFT
                ctx.hand_over(self.settings.self_service, {"reason": "queue_" + (s.refused or "")})
            else:
                self._goodbye(ctx)

    def _book(self, ctx: ServiceContext) -> None:
        s = self.s
        ctx.emit(
            cmd.BookCallback(
                ctx.caller_number,
                ctx.language,
                queue=s.queue,
                tier=s.tier,
                arrived_at=datetime.fromisoformat(s.arrived_at),
                priority=s.priority,
                skill=s.skill,
                injury=s.injury,
            )
        )

    def _keep_waiting(self, ctx: ServiceContext) -> None:
        s = self.s
        if s.playback is not None:
            ctx.stop_playback(s.playback)
            s.playback = None
        s.mode = QueueMode.WAITING
        self._after_playback_to(ctx, "waiting")

    def _after_playback_to(self, ctx: ServiceContext, then: str) -> None:
        self.s.after_playback = then
        self._after_playback(ctx)

    # -- refusals and leaving --------------------------------------------------------------

    def _refuse(self, ctx: ServiceContext, reason: str) -> None:
        """Full queue, nobody on shift, or waited too long: say so, offer the ways on."""
        s = self.s
        if s.entry_id is not None and (reason == "timeout" or s.mode in WAITING_MODES):
            ctx.emit(cmd.QueueLeave())
            s.entry_id = None
        s.refused = reason
        self._log(ctx, "refused", reason=reason)
        ctx.cancel_timer(T_ANNOUNCE)
        ctx.cancel_timer(T_MAX_WAIT)
        ctx.cancel_timer(T_CALLBACK_OFFER)
        key = {"full": "queue_full", "timeout": "queue_timeout"}.get(reason, "queue_no_agents")
        media = self._prompt(ctx, key)
        if ctx.caller_number or self.settings.self_service:
            media += self._prompt(ctx, "queue_refused_options")
        self._say(ctx, media, QueueMode.REFUSED, "choice")

    def _goodbye(self, ctx: ServiceContext) -> None:
        s = self.s
        s.mode = QueueMode.LEAVING
        reason = REFUSAL_REASONS.get(s.refused or "", "no_agents")
        key = "agents_unavailable" if s.refused == "no_agents" else "goodbye"
        ctx.end_call(reason, self._prompt(ctx, key))

    def _on_timer(self, ctx: ServiceContext, event: inp.TimerFired) -> None:
        s = self.s
        cfg = self._config()
        if event.name == T_ANNOUNCE:
            if s.mode == QueueMode.WAITING:
                self._announce(ctx)
            elif s.mode == QueueMode.OFFERING and cfg is not None and cfg.announce_interval > 0:
                ctx.start_timer(T_ANNOUNCE, cfg.announce_interval)
        elif event.name == T_CALLBACK_OFFER:
            if s.mode == QueueMode.WAITING:
                ctx.cancel_timer(T_ANNOUNCE)
                self._announce(ctx, offer_callback=True)
            elif s.mode in (QueueMode.ANNOUNCING, QueueMode.OFFERING):
                s.offer_callback_next = True  # said with the next announcement
        elif event.name == T_MAX_WAIT:
            if s.mode in WAITING_MODES and cfg is not None:
                if s.playback is not None:
                    ctx.stop_playback(s.playback)
                    s.playback = None
                if cfg.overflow and self.configs(cfg.overflow) is not None:
                    self._log(ctx, "overflow", to=cfg.overflow)
                    self._enqueue(ctx, cfg.overflow)  # same entry, same arrival: place kept
                else:
                    self._refuse(ctx, "timeout")
        elif event.name == T_CHOICE:
            if s.mode == QueueMode.CB_CONFIRM:
                self._keep_waiting(ctx)
            elif s.mode == QueueMode.REFUSED:
                self._goodbye(ctx)
        elif event.name == T_RING:
            if s.mode == QueueMode.OFFERING and s.leg is not None and not s.leg_answered:
                s.ring_timed_out = True
                ctx.emit(cmd.HangupLeg(s.leg))  # LegEnded follows and moves on
        elif event.name == T_CONSULT_RING:
            c = s.consult
            if c is not None and not c.get("answered"):
                c["timed_out"] = True
                ctx.emit(cmd.HangupLeg(c["leg"]))

    # -- offering the call to an agent ----------------------------------------------------

    def _on_offered(self, ctx: ServiceContext, event: inp.AgentOffered) -> None:
        s = self.s
        agent = {
            "id": event.agent_id,
            "staff": event.staff_number,
            "name": event.agent_name,
            "endpoint": event.endpoint,
            "ring_timeout": event.ring_timeout,
        }
        if s.mode == QueueMode.TRANSFER_CLAIM:
            # A blind transfer to this agent: the first agent's part is over.
            self._agent_call_ended(ctx)
            self._unbridge_caller(ctx)
            self._control_done(ctx, True, f"transferred to {event.staff_number}")
            s.mode = QueueMode.WAITING
        elif s.mode == QueueMode.CONSULT_CLAIM:
            self._start_consult(ctx, "agent", event.staff_number, event.endpoint, agent)
            return
        if s.mode not in WAITING_MODES or s.leg is not None:
            # Too late (the caller is leaving, or another offer is ringing): give it back.
            ctx.emit(cmd.SeatNoAnswer(event.agent_id, missed=False))
            return
        if s.playback is not None:
            ctx.stop_playback(s.playback)
            s.playback = None
        ctx.cancel_timer(T_CHOICE)
        s.mode = QueueMode.OFFERING
        s.agent = agent
        s.leg_seq += 1
        s.leg = f"{ctx.channel_id}~a{s.leg_seq}"
        s.leg_answered = False
        s.ring_timed_out = False
        self._moh_on(ctx)
        if s.bridge is None:
            s.bridge = f"{ctx.channel_id}~b"
            ctx.emit(cmd.CreateBridge(s.bridge))
        self._log(ctx, "offer", agent=event.staff_number)
        ctx.emit(
            cmd.Originate(
                s.leg,
                event.endpoint,
                # Asterisk's own limit is a backstop; our timer decides the ring time.
                timeout=event.ring_timeout + 10,
                caller_id=self._caller_id(ctx),
            )
        )
        ctx.start_timer(T_RING, event.ring_timeout)

    def _caller_id(self, ctx: ServiceContext) -> str:
        name = ctx.caller_name.replace('"', "")
        return f'"{name}" <{ctx.caller_number}>' if name else ctx.caller_number

    def _on_leg_answered(self, ctx: ServiceContext, leg_id: str) -> None:
        s = self.s
        if s.consult is not None and leg_id == s.consult["leg"]:
            self._consult_answered(ctx)
            return
        if leg_id != s.leg or s.mode != QueueMode.OFFERING or s.agent is None:
            return
        ctx.cancel_timer(T_RING)
        ctx.cancel_timer(T_ANNOUNCE)
        ctx.cancel_timer(T_CALLBACK_OFFER)
        ctx.cancel_timer(T_MAX_WAIT)
        s.leg_answered = True
        s.mode = QueueMode.CONNECTED
        if s.answered_at is None:
            # The record's wait and answer are the first answer's (the service level);
            # later agents after a transfer are in the legs.
            s.wait_seconds = self._waited(ctx)
            s.answered_at = ctx.now.isoformat()
        s.bridge = s.bridge or f"{ctx.channel_id}~b"
        ctx.emit(cmd.Bridge(s.bridge, (ctx.channel_id, s.leg)))  # first: they talk at once
        self._moh_off(ctx)
        recording = self._start_recording(ctx)  # as soon as they talk
        ctx.emit(cmd.SeatAnswered(s.agent["id"]))
        ctx.emit(cmd.QueueMark("connected"))
        self._log(ctx, "answered", agent=s.agent["staff"], waited=round(self._waited(ctx), 1))
        if recording:
            self._log(ctx, "recording", name=s.recording)
        ctx.save()

    def _on_leg_ended(self, ctx: ServiceContext, event: inp.LegEnded) -> None:
        s = self.s
        if s.consult is not None and event.leg_id == s.consult["leg"]:
            if s.consult.get("answered"):
                self._consult_hung_up(ctx)
            else:
                missed = bool(s.consult.get("timed_out")) or event.cause in MISSED_CAUSES
                self._consult_failed(ctx, missed=missed)
            return
        if event.leg_id != s.leg:
            return  # a leg we already let go of
        if not s.leg_answered:
            missed = s.ring_timed_out or event.cause in MISSED_CAUSES
            self._drop_offer(ctx, missed=missed, hang_up=False)
            self._back_to_waiting(ctx)
            return
        # The agent (or the external party of a completed transfer) hung up.
        self._log(ctx, "agent_hangup")
        self._agent_call_ended(ctx, hang_up=False)
        self._destroy_bridge(ctx)
        if s.entry_id is not None:
            ctx.emit(cmd.QueueLeave())
            s.entry_id = None
        s.mode = QueueMode.LEAVING
        ctx.end_call("completed", self._prompt(ctx, "goodbye"))

    def _destroy_bridge(self, ctx: ServiceContext) -> None:
        """Destroy the call's bridge; its recording ends with it and is saved."""
        s = self.s
        if s.bridge is None:
            return
        ctx.emit(cmd.DestroyBridge(s.bridge))
        s.bridge = None
        self._save_recording(ctx, None)

    # -- recording the conversation -------------------------------------------------------

    def _start_recording(self, ctx: ServiceContext) -> bool:
        """Record the bridge (just joined by caller and agent) if the queue says so; True
        when a recording was asked for (the caller logs it)."""
        s = self.s
        cfg = self._config()
        if cfg is None or not cfg.record or s.recording is not None or s.bridge is None:
            return False
        if s.recording_part >= MAX_RECORDING_PARTS:
            return False
        s.recording_part += 1
        suffix = f"-{s.recording_part}" if s.recording_part > 1 else ""
        s.recording = f"call-{ctx.channel_id}{suffix}"
        ctx.emit(cmd.StartRecording(s.bridge, s.recording, ctx.call_started_at, s.recording_part))
        return True

    def _save_recording(self, ctx: ServiceContext, error: str | None) -> None:
        s = self.s
        if s.recording is None:
            return
        ctx.emit(cmd.SaveRecording(s.recording, ctx.call_started_at, s.recording_part, error))
        s.recording = None

    def _on_recording_ended(self, ctx: ServiceContext, event: inp.RecordingEnded) -> None:
        s = self.s
        if event.name != s.recording:
            return  # one we already saved (the bridge was destroyed)
        self._save_recording(ctx, None if event.ok else (event.cause or "recording failed"))
        if event.ok and s.mode == QueueMode.CONNECTED:
            # Asterisk ended it while a conversation goes on (the bridge was empty for a
            # moment just as the next agent joined): record the rest as the next part.
            if self._start_recording(ctx):
                self._log(ctx, "recording", name=s.recording)
        ctx.save()

    def _drop_offer(self, ctx: ServiceContext, *, missed: bool, hang_up: bool = True) -> None:
        s = self.s
        ctx.cancel_timer(T_RING)
        if hang_up and s.leg is not None:
            ctx.emit(cmd.HangupLeg(s.leg))
        if s.agent is not None:
            cfg = self._config()
            ctx.emit(
                cmd.SeatNoAnswer(
                    s.agent["id"],
                    missed=missed,
                    misses_before_away=cfg.misses_before_away if cfg else 3,
                )
            )
            self._log(ctx, "no_answer" if missed else "offer_withdrawn", agent=s.agent["staff"])
        s.leg, s.agent, s.leg_answered = None, None, False

    def _back_to_waiting(self, ctx: ServiceContext) -> None:
        s = self.s
        if s.mode not in (QueueMode.OFFERING, *WAITING_MODES):
            return
        s.mode = QueueMode.WAITING
        ctx.emit(cmd.QueueMark("waiting"))
        self._moh_on(ctx)
        cfg = self._config()
        if cfg is not None and cfg.announce_interval > 0:
            ctx.start_timer(T_ANNOUNCE, cfg.announce_interval)
        if cfg is not None:
            # The limit may have passed while the agent rang: it applies now.
            ctx.start_timer(T_MAX_WAIT, max(1.0, cfg.max_wait - self._waited(ctx)))

    def _agent_call_ended(self, ctx: ServiceContext, hang_up: bool = True) -> None:
        """The current agent's part of the call is over: their seat goes to wrap-up."""
        s = self.s
        if hang_up and s.leg is not None:
            ctx.emit(cmd.HangupLeg(s.leg))
        if s.agent is not None:
            cfg = self._config()
            ctx.emit(cmd.SeatCallEnded(s.agent["id"], cfg.wrap_up_seconds if cfg else 30))
        s.leg, s.agent, s.leg_answered = None, None, False

    def _unbridge_caller(self, ctx: ServiceContext) -> None:
        if self.s.bridge is not None:
            ctx.emit(cmd.Unbridge(self.s.bridge, (ctx.channel_id,)))
        self._moh_on(ctx)

    # -- agent controls: hold, transfers, consultation ------------------------------------

    def _control_done(self, ctx: ServiceContext, ok: bool, result: str) -> None:
        if self.s.control is not None:
            ctx.emit(cmd.ControlDone(self.s.control, ok, result))
            self.s.control = None

    def _on_control(self, ctx: ServiceContext, event: inp.ControlRequested) -> None:
        s = self.s
        s.control = event.control_id
        action, args = event.action, event.args
        refuse = f"{action} is not possible while the call is {s.mode}"
        if action == "hold":
            if s.mode != QueueMode.CONNECTED:
                self._control_done(ctx, False, refuse)
                return
            self._unbridge_caller(ctx)
            s.mode = QueueMode.HELD
            self._log(ctx, "hold", by=event.requested_by)
            self._control_done(ctx, True, "on hold")
        elif action == "unhold":
            if s.mode != QueueMode.HELD or s.leg is None:
                self._control_done(ctx, False, refuse)
                return
            self._moh_off(ctx)
            assert s.bridge is not None
            ctx.emit(cmd.Bridge(s.bridge, (ctx.channel_id,)))
            s.mode = QueueMode.CONNECTED
            self._log(ctx, "unhold", by=event.requested_by)
            self._control_done(ctx, True, "resumed")
        elif action == "transfer":
            if s.mode not in (QueueMode.CONNECTED, QueueMode.HELD):
                self._control_done(ctx, False, refuse)
                return
            self._transfer(ctx, args.get("to", ""), args.get("target", ""), event.requested_by)
        elif action == "consult":
            if s.mode not in (QueueMode.CONNECTED, QueueMode.HELD):
                self._control_done(ctx, False, refuse)
                return
            to, target = args.get("to", ""), args.get("target", "")
            self._log(ctx, "consult", to=to, target=target, by=event.requested_by)
            if to == "agent":
                s.before_claim, s.mode = s.mode, QueueMode.CONSULT_CLAIM
                ctx.emit(cmd.ClaimAgent(target, self._ring_timeout()))
            elif to == "number":
                endpoint = self.settings.external_endpoint.format(number=target)
                self._start_consult(ctx, "number", target, endpoint, None)
            else:
                self._control_done(ctx, False, f"cannot consult {to!r}")
        elif action == "consult_complete":
            if s.mode != QueueMode.CONSULTING or s.consult is None or not s.consult.get("answered"):
                self._control_done(ctx, False, refuse)
                return
            self._complete_consult(ctx)
        elif action == "consult_cancel":
            if s.consult is None:
                self._control_done(ctx, False, refuse)
                return
            self._drop_consult(ctx, missed=False)
            self._rejoin(ctx)
            self._log(ctx, "consult_cancelled")
            self._control_done(ctx, True, "consultation cancelled")
        else:
            self._control_done(ctx, False, f"unknown action {action!r}")

    def _listen(self, ctx: ServiceContext, event: inp.ControlRequested) -> None:
        """A lead asks to listen in (``ivr.queue.listen``); only while an agent has the
        call. Its answer comes from the listening, so ``s.control`` stays untouched."""
        s = self.s
        if (
            s.mode not in (QueueMode.CONNECTED, QueueMode.HELD, QueueMode.CONSULTING)
            or s.agent is None
        ):
            ctx.emit(
                cmd.ControlDone(
                    event.control_id, False, f"failed: no agent is on the call ({s.mode})"
                )
            )
            return
        self.listening.start(ctx, s, event, s.agent["staff"])

    def _ring_timeout(self) -> int:
        cfg = self._config()
        return cfg.ring_timeout if cfg else 15

    def _transfer(self, ctx: ServiceContext, to: str, target: str, by: str) -> None:
        s = self.s
        self._log(ctx, "transfer", to=to, target=target, by=by)
        if to == "queue":
            if self.configs(target) is None:
                self._control_done(ctx, False, f"no queue named {target!r}")
                return
            self._agent_call_ended(ctx)
            self._unbridge_caller(ctx)
            self._control_done(ctx, True, f"transferred to queue {target}")
            self._enqueue(ctx, target)  # priority and first arrival travel with the call
        elif to == "agent":
            s.before_claim, s.mode = s.mode, QueueMode.TRANSFER_CLAIM
            ctx.emit(cmd.ClaimAgent(target, self._ring_timeout()))
        elif to == "number":
            self._agent_call_ended(ctx)
            self._destroy_bridge(ctx)
            if s.entry_id is not None:
                ctx.emit(cmd.QueueLeave())
                s.entry_id = None
            self._moh_off(ctx)
            self._control_done(ctx, True, f"transferred to {target}")
            s.mode = QueueMode.TRANSFERRED
            ctx.transfer(s.transfer_context, target)
        else:
            self._control_done(ctx, False, f"cannot transfer to {to!r}")

    def _start_consult(
        self,
        ctx: ServiceContext,
        kind: str,
        target: str,
        endpoint: str,
        agent: dict[str, Any] | None,
    ) -> None:
        s = self.s
        if s.mode != QueueMode.HELD:
            self._unbridge_caller(ctx)
        s.leg_seq += 1
        leg = f"{ctx.channel_id}~c{s.leg_seq}"
        s.consult = {"leg": leg, "kind": kind, "target": target, "agent": agent}
        s.mode = QueueMode.CONSULTING
        ctx.emit(cmd.Originate(leg, endpoint, timeout=self._ring_timeout() + 10))
        ctx.start_timer(T_CONSULT_RING, self._ring_timeout())
        self._control_done(ctx, True, f"calling {target}")

    def _consult_answered(self, ctx: ServiceContext) -> None:
        s = self.s
        c = s.consult
        assert c is not None
        ctx.cancel_timer(T_CONSULT_RING)
        c["answered"] = True
        if c["agent"] is not None:
            ctx.emit(cmd.SeatAnswered(c["agent"]["id"]))
        assert s.bridge is not None
        ctx.emit(cmd.Bridge(s.bridge, (c["leg"],)))  # agent and target talk; caller on hold
        self._log(ctx, "consult_answered", target=c["target"])

    def _consult_failed(self, ctx: ServiceContext, missed: bool) -> None:
        s = self.s
        target = s.consult["target"] if s.consult else ""
        self._drop_consult(ctx, missed=missed, hang_up=False)
        self._log(ctx, "consult_unanswered", target=target)
        s.mode = QueueMode.HELD  # the agent takes the caller back off hold (unhold)

    def _consult_hung_up(self, ctx: ServiceContext) -> None:
        s = self.s
        self._drop_consult(ctx, missed=False, hang_up=False)
        self._log(ctx, "consult_ended")
        s.mode = QueueMode.HELD

    def _drop_consult(self, ctx: ServiceContext, *, missed: bool, hang_up: bool = True) -> None:
        s = self.s
        c = s.consult
        if c is None:
            return
        ctx.cancel_timer(T_CONSULT_RING)
        if hang_up:
            ctx.emit(cmd.HangupLeg(c["leg"]))
        agent = c.get("agent")
        if agent is not None:
            if c.get("answered"):
                cfg = self._config()
                ctx.emit(cmd.SeatCallEnded(agent["id"], cfg.wrap_up_seconds if cfg else 30))
            else:
                cfg = self._config()
                ctx.emit(
                    cmd.SeatNoAnswer(
                        agent["id"],
                        missed=missed,
                        misses_before_away=cfg.misses_before_away if cfg else 3,
                    )
                )
        s.consult = None

    def _rejoin(self, ctx: ServiceContext) -> None:
        """Back from hold to the (first) agent."""
        s = self.s
        if s.leg is None or s.bridge is None:
            return
        self._moh_off(ctx)
        ctx.emit(cmd.Bridge(s.bridge, (ctx.channel_id,)))
        s.mode = QueueMode.CONNECTED

    def _complete_consult(self, ctx: ServiceContext) -> None:
        """Attended transfer: the caller joins the consulted party, the first agent leaves."""
        s = self.s
        c = s.consult
        assert c is not None and s.bridge is not None
        self._agent_call_ended(ctx)
        s.leg = c["leg"]
        s.leg_answered = True
        s.agent = c["agent"]
        s.consult = None
        self._moh_off(ctx)
        ctx.emit(cmd.Bridge(s.bridge, (ctx.channel_id,)))
        s.mode = QueueMode.CONNECTED
        self._log(ctx, "transfer_completed", target=c["target"])
        self._control_done(ctx, True, f"transferred to {c['target']}")
        ctx.save()

    # -- helpers ------------------------------------------------------------------------------

    def _log(self, ctx: ServiceContext, event: str, **extra: object) -> None:
        entry: dict[str, Any] = {"t": ctx.now.isoformat(timespec="milliseconds"), "event": event}
        entry.update({k: v for k, v in extra.items() if v is not None})
        self.s.legs.append(entry)

    def _prompt(self, ctx: ServiceContext, key: str) -> tuple[str, ...]:
        try:
            return ctx.prompts.media(key, ctx.language)
        except KeyError:
            return ()

    def _digits(self, ctx: ServiceContext, value: str) -> tuple[str, ...]:
        names = {"*": "star", "#": "hash", "+": ""}
        media: list[str] = []
        for ch in value:
            name = names.get(ch, ch)
            if name:
                media.extend(self._prompt(ctx, f"digit_{name}"))
        return tuple(media)

    def _number(self, ctx: ServiceContext, n: int) -> tuple[str, ...]:
        return self._digits(ctx, str(n))
