"""The simulated Asterisk: channels, bridges, playbacks, recordings and their events.

No HTTP here: ``server.py`` maps ARI requests onto these methods and ``SimError``s
onto status codes. A bridge recording is Asterisk's "lonely" Recorder channel: it ends
(RecordingFinished) when the bridge is destroyed or its last channel leaves, and stores
a real 8 kHz mono WAV as long as the time recorded. Everything takes real time on the
event loop: a prompt plays for its file's duration, DTMF comes one digit at a time, a
phone rings before it answers.

Event delivery follows Asterisk: an application gets the events of the channels and
bridges it is subscribed to (a channel in its Stasis app, one it originated, a bridge
it created); after ``StasisEnd`` the channel is no longer its business, so the final
``ChannelDestroyed`` does not reach it (observed on Asterisk 22, see ari-notes.md).
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ivr.ari.models import format_ari_time
from simulator import endpoints, snoop
from simulator.media import MediaLibrary, wav_duration, write_wav
from simulator.model import (
    CAUSE_TEXT,
    REASON_CAUSE,
    EventSink,
    Heard,
    PhoneBehaviour,
    Playable,
    SimBridge,
    SimChannel,
    SimError,
    SimPlayback,
    SimRecording,
)

log = logging.getLogger(__name__)


class SimEngine:
    def __init__(
        self,
        sounds_dir: Path,
        recordings_dir: Path,
        routes: dict[tuple[str, str], str] | None = None,
        asterisk_id: str = "ae:51:3c:00:00:01",
        fallback_prompt: str = "sound:custom/fallback_busy",
        moh_classes: Iterable[str] = ("default",),
    ) -> None:
        self.media = MediaLibrary(sounds_dir, recordings_dir)
        self.recordings_dir = recordings_dir
        # Our extensions.conf: hotline number → Stasis application.
        self.routes = routes or {("from-callers", "6000"): "hotline"}
        self.asterisk_id = asterisk_id
        self.fallback_prompt = fallback_prompt
        self.apps: dict[str, EventSink] = {}
        self.channels: dict[str, SimChannel] = {}
        # Every channel created, ended ones too (newest 10,000): what tests and benchmarks
        # inspect after the fact, e.g. which phones were rung in which order.
        self.channels_seen: deque[SimChannel] = deque(maxlen=10_000)
        self.bridges: dict[str, SimBridge] = {}
        self.playbacks: dict[str, SimPlayback] = {}
        self.live_recordings: dict[str, SimRecording] = {}
        self.phones: dict[str, PhoneBehaviour] = {}
        self.default_phone = PhoneBehaviour(answer_after=1.0)
        # Endpoints (see endpoints.py): whether each one's phone is registered (those
        # given a phone), the PJSIP endpoints that have carried a channel, and each app's
        # subscriptions to endpoints (``tech/resource``, or ``tech`` for all of them).
        self.registered: dict[str, bool] = {}
        self.pjsip_endpoints_seen: set[str] = set()
        self.endpoint_subscriptions: dict[str, set[str]] = {}
        # musiconhold.conf's classes (the shipped config/asterisk/musiconhold.conf has
        # [default]); none at all is Asterisk without that file.
        self.moh_classes = tuple(moh_classes)
        self.globals: dict[str, str] = {}
        self._seq = itertools.count(1)
        self._epoch = int(time.time())
        self.events_emitted = 0
        # Event-to-command latency as Asterisk sees it: from an event the controller must
        # act on (StasisStart, PlaybackFinished, a digit) to its next request on that channel.
        # ``reaction_causes`` runs parallel to ``reaction_times``: which kind of event it was
        # ("stasis" | "playback" | "dtmf"), so a benchmark can report DTMF reactions alone.
        # Each kind pending on a channel is timed from its first event: a digit pressed while
        # a PlaybackFinished still waits for its reaction is timed too (else exactly the slow
        # digits would go uncounted).
        self.reaction_times: list[float] = []
        self.reaction_causes: list[str] = []
        self._awaiting: dict[str, dict[str, float]] = {}
        # Events still awaiting their reaction when the channel hung up, by kind, with how
        # long they had waited (a lower bound of their reaction time): left out of the times
        # above, where they would be exactly the slowest.
        self.pending_at_hangup: dict[str, list[float]] = {}
        # Channels in a Stasis application now, and the most there ever were at once.
        self.stasis_channels = 0
        self.stasis_channels_max = 0
        self._after_playback: dict[str, Callable[[], None]] = {}
        # Originated channels ringing now: resolved when a person picks up (``pick_up``).
        self._pickups: dict[str, asyncio.Future[None]] = {}
        self._idle_waiters: dict[int, list[asyncio.Future[None]]] = {}

    # -- helpers -----------------------------------------------------------------------

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    def now(self) -> float:
        return self.loop.time()

    def new_id(self) -> str:
        return f"{self._epoch}.{next(self._seq)}"

    def channel(self, channel_id: str) -> SimChannel:
        ch = self.channels.get(channel_id)
        if ch is None:
            raise SimError(404, "Channel not found")
        return ch

    def stasis_channel(self, channel_id: str) -> SimChannel:
        ch = self.channel(channel_id)
        if ch.stasis_app is None:
            raise SimError(409, "Channel not in Stasis application")
        return ch

    def bridge(self, bridge_id: str) -> SimBridge:
        br = self.bridges.get(bridge_id)
        if br is None:
            raise SimError(404, "Bridge not found")
        return br

    def emit(self, etype: str, apps: Iterable[str], **fields: Any) -> None:
        stamp = format_ari_time(datetime.now(UTC))
        for app in sorted(set(apps)):
            sink = self.apps.get(app)
            if sink is None:
                continue  # Asterisk keeps nothing for an app that is not connected
            self.events_emitted += 1
            sink(
                {
                    "type": etype,
                    "timestamp": stamp,
                    "application": app,
                    "asterisk_id": self.asterisk_id,
                    **fields,
                }
            )

    def _channel_event(self, etype: str, ch: SimChannel, **fields: Any) -> None:
        self.emit(etype, ch.subscribed, channel=ch.to_json(), **fields)

    def _set_state(self, ch: SimChannel, state: str) -> None:
        if ch.state != state:
            ch.state = state
            self._channel_event("ChannelStateChange", ch)

    # -- applications ------------------------------------------------------------------

    def register_app(self, app: str, sink: EventSink) -> EventSink | None:
        """Connect ``app``'s event sink; returns the sink it replaced, if any."""
        old = self.apps.get(app)
        self.apps[app] = sink
        return old

    def unregister_app(self, app: str, sink: EventSink) -> None:
        if self.apps.get(app) == sink:  # bound methods: equal, never identical
            del self.apps[app]
            # The app's endpoint subscriptions go with it. Asterisk keeps a disconnected
            # app's subscriptions until it comes back, but the controller subscribes again
            # after every (re)connect, so forgetting them here is the simpler choice (a
            # replacing connection of the same app keeps them: the app stays registered).
            self.endpoint_subscriptions.pop(app, None)

    # -- calls into the hotline ----------------------------------------------------------

    def inbound_call(
        self, to: str, caller_number: str, caller_name: str = "", context: str = "from-callers"
    ) -> SimChannel:
        """A phone dials ``to``: a channel appears and runs the dialplan."""
        n = next(self._seq)
        ch = SimChannel(
            id=f"{self._epoch}.{n}",
            name=f"PJSIP/caller-{n:08x}",
            state="Ring",
            caller_name=caller_name,
            caller_number=caller_number,
            context=context,
            exten=to,
            created=datetime.now(UTC),
            endpoint="PJSIP/caller",
        )
        self.channels[ch.id] = ch
        self.channels_seen.append(ch)
        endpoints.carried(self, ch.endpoint)
        self.loop.call_soon(self._run_dialplan, ch)
        return ch

    def _run_dialplan(self, ch: SimChannel) -> None:
        if ch.hungup:
            return
        app = self.routes.get((ch.context, ch.exten))
        if app is None:
            ch.app_name, ch.app_data = "Hangup", ""
            self.hangup(ch, 1, by="system")
            return
        ch.priority = 1
        ch.app_name, ch.app_data = "Stasis", app
        if app not in self.apps:
            # Stasis() with no app connected sets STASISSTATUS=FAILED; the shipped
            # extensions.conf then plays an apology instead of dropping the caller.
            ch.variables["STASISSTATUS"] = "FAILED"
            ch.app_name, ch.app_data = "Playback", self.fallback_prompt.split(":", 1)[1]
            self._answer(ch)
            pb = SimPlayback(self.new_id(), [self.fallback_prompt], "channel", ch.id, ch.language)
            self._queue_playback(ch, pb, then=lambda: self.hangup(ch, 16, by="system"))
            return
        self.enter_stasis(ch, app, [])

    def enter_stasis(
        self, ch: SimChannel, app: str, args: list[str], awaits_reaction: bool = True
    ) -> None:
        ch.stasis_app = app
        self.stasis_channels += 1
        self.stasis_channels_max = max(self.stasis_channels_max, self.stasis_channels)
        ch.app_name, ch.app_data = "Stasis", ",".join([app, *args])
        ch.subscribed.add(app)
        self.emit("StasisStart", [app], args=list(args), channel=ch.to_json())
        if awaits_reaction:  # a snoop channel's start asks for no reaction on it
            self._awaiting[ch.id] = {"stasis": self.now()}

    # -- the caller's side ----------------------------------------------------------------

    def caller_dtmf(self, ch: SimChannel, digit: str, duration_ms: int = 100) -> None:
        if ch.hungup:
            return
        # DTMF does not stop an ARI playback (observed on Asterisk 22): barge-in is the app's job.
        self._channel_event("ChannelDtmfReceived", ch, digit=digit, duration_ms=duration_ms)
        self._awaiting.setdefault(ch.id, {}).setdefault("dtmf", self.now())

    def caller_hangup(self, ch: SimChannel) -> None:
        self.hangup(ch, 16, by="caller")

    # -- channel operations (ARI) -----------------------------------------------------------

    def _answer(self, ch: SimChannel) -> None:
        if ch.state != "Up":
            ch.answered_at = self.now()
            self._set_state(ch, "Up")

    def reacted(self, channel_id: str) -> None:
        pending = self._awaiting.pop(channel_id, None)
        if pending:
            now = self.now()
            for cause, since in pending.items():
                self.reaction_times.append(now - since)
                self.reaction_causes.append(cause)

    def answer(self, channel_id: str) -> None:
        self._answer(self.stasis_channel(channel_id))
        self.reacted(channel_id)

    def ring(self, channel_id: str, on: bool) -> None:
        ch = self.stasis_channel(channel_id)
        if ch.state != "Up":
            self._set_state(ch, "Ringing" if on else "Ring")

    def api_hangup(self, channel_id: str, reason: str | None, reason_code: str | None) -> None:
        ch = self.channel(channel_id)
        self.reacted(channel_id)
        if reason_code is not None:
            if not reason_code.isdigit():
                raise SimError(400, "Invalid reason_code")
            cause = int(reason_code)
        elif reason is None:
            cause = 16
        elif reason in REASON_CAUSE:
            cause = REASON_CAUSE[reason]
        else:
            raise SimError(400, "Invalid reason for hangup provided")
        # ARI's hangup is a soft hangup request (cause 32, soft); the channel is then
        # destroyed with the requested cause — both observed on Asterisk 22.
        self.hangup(ch, cause, by="system", request_cause=32, soft=True)

    def hangup(
        self,
        ch: SimChannel,
        cause: int,
        *,
        by: str,
        request_cause: int | None = None,
        soft: bool = False,
        request: bool = True,
    ) -> None:
        """End ``ch``; ``request=False`` for a channel that ends by itself with nobody
        asking (a snoop whose spied channel went): no ChannelHangupRequest."""
        if ch.hungup:
            return
        ch.hungup = True
        ch.hangup_cause = cause
        ch.hangup_by = by
        ch.ended_at = self.now()
        req: dict[str, Any] = {"cause": request_cause if request_cause is not None else cause}
        if soft:
            req["soft"] = True
        if request:
            self._channel_event("ChannelHangupRequest", ch, **req)
        # A playback cut short by the hang-up fails (Asterisk 22: state "failed").
        self._stop_all_media(ch, playback_state="failed")
        if ch.bridge_id is not None and ch.bridge_id in self.bridges:
            self._leave_bridge(self.bridges[ch.bridge_id], ch)
        if ch.stasis_app is not None:
            self._channel_event("StasisEnd", ch)
            ch.subscribed.discard(ch.stasis_app)
            ch.stasis_app = None
            self.stasis_channels -= 1
        ch.state = "Down"
        self._channel_event(
            "ChannelDestroyed", ch, cause=cause, cause_txt=CAUSE_TEXT.get(cause, "Unknown")
        )
        self.channels.pop(ch.id, None)
        for kind, since in self._awaiting.pop(ch.id, {}).items():
            self.pending_at_hangup.setdefault(kind, []).append(self.now() - since)
        ch.ended.set()
        if ch.snoops or ch.snoop_of is not None:
            snoop.after_hangup(self, ch)

    def continue_in_dialplan(
        self, channel_id: str, context: str | None, exten: str | None, priority: int | None
    ) -> None:
        ch = self.stasis_channel(channel_id)
        app = ch.stasis_app
        assert app is not None
        self._stop_all_media(ch)
        if ch.bridge_id is not None and ch.bridge_id in self.bridges:
            self._leave_bridge(self.bridges[ch.bridge_id], ch)
        self._channel_event("StasisEnd", ch)
        ch.subscribed.discard(app)
        ch.stasis_app = None
        self.stasis_channels -= 1
        ch.context = context or ch.context
        ch.exten = exten or ch.exten
        ch.priority = (priority or ch.priority + 1) if not (context or exten) else (priority or 1)
        if (ch.context, ch.exten) in self.routes and (context or exten):
            self.loop.call_soon(self._run_dialplan, ch)
        else:
            ch.app_name, ch.app_data = "", ""  # somewhere in the dialplan, out of our sight

    def set_var(self, channel_id: str, variable: str, value: str) -> None:
        ch = self.channel(channel_id)
        if not variable:
            raise SimError(400, "Variable name is required")
        if variable == "CHANNEL(language)":
            ch.language = value
        ch.variables[variable] = value

    def get_var(self, channel_id: str, variable: str) -> str:
        ch = self.channel(channel_id)
        if variable == "CHANNEL(language)":
            return ch.language
        if variable == "CALLERID(num)":
            return ch.caller_number
        if variable == "CALLERID(name)":
            return ch.caller_name
        if variable not in ch.variables:
            raise SimError(404, "Provided variable was not found")
        return ch.variables[variable]

    def send_dtmf(self, channel_id: str, dtmf: str) -> None:
        ch = self.stasis_channel(channel_id)
        if not dtmf or any(d not in "0123456789*#ABCDabcdwW" for d in dtmf):
            raise SimError(400, "DTMF is required")
        # Sent towards the phone: it reaches the far end, not our own event stream.
        ch.dtmf_received_by_phone.extend(d for d in dtmf if d not in "wW")

    def start_moh(self, target: Playable, moh_class: str | None) -> None:
        """Music on hold as res_musiconhold's ``local_ast_moh_start`` picks the class: the
        one asked for if configured (names compare case-insensitively), else ``default``.
        With neither configured nothing plays and no event follows, though ARI answers
        204 (observed on Asterisk 22.10.1 without musiconhold.conf, ari-notes.md)."""
        configured = {c.lower(): c for c in self.moh_classes}
        chosen = configured.get((moh_class or "default").lower(), configured.get("default"))
        if chosen is None:
            log.info("music on hold class %r not configured: nothing plays", moh_class)
            return
        target.moh = chosen
        for ch in self._listeners(target):
            ch.heard.append(Heard(f"moh:{target.moh}", None, self.now()))

    def stop_moh(self, target: Playable) -> None:
        if target.moh is None:
            return
        target.moh = None
        for ch in self._listeners(target):
            for item in ch.heard:
                if item.media.startswith("moh:") and item.ended_at is None:
                    item.ended_at = self.now()
                    item.completed = True

    # -- originate ---------------------------------------------------------------------------

    def originate(
        self,
        endpoint: str,
        *,
        app: str | None,
        app_args: str | None,
        extension: str | None,
        context: str | None,
        priority: int | None,
        caller_id: str | None,
        timeout: int,
        variables: dict[str, str],
        channel_id: str | None,
    ) -> SimChannel:
        if "/" not in endpoint:
            raise SimError(400, "Endpoint must be in the format Tech/resource")
        if not app and not extension:
            raise SimError(400, "Application or extension must be specified")
        if app and app not in self.apps:
            raise SimError(400, f"Application '{app}' is not registered")
        if channel_id is not None and channel_id in self.channels:
            raise SimError(409, "Channel with given unique ID already exists")
        endpoints.check_reachable(self, endpoint)
        n = next(self._seq)
        name, number = _parse_caller_id(caller_id or "")
        ch = SimChannel(
            id=channel_id or f"{self._epoch}.{n}",
            name=f"{endpoint}-{n:08x}",
            state="Down",
            caller_name=name,
            caller_number=number,
            connected_number=endpoint.split("/", 1)[1],
            context=context or "default",
            exten=extension or "s",
            priority=priority or 1,
            created=datetime.now(UTC),
            variables=dict(variables),
            endpoint=endpoint,
        )
        if app:
            ch.subscribed.add(app)
        self.channels[ch.id] = ch
        self.channels_seen.append(ch)
        endpoints.carried(self, endpoint)
        args = [a for a in (app_args or "").split(",") if a] if app_args else []
        self.loop.create_task(self._ring_phone(ch, app, args, timeout))
        return ch

    async def _ring_phone(
        self, ch: SimChannel, app: str | None, args: list[str], timeout: int
    ) -> None:
        phone = self.phones.get(ch.endpoint, self.default_phone)
        await asyncio.sleep(0)
        if ch.hungup:
            return
        self.emit(
            "Dial",
            ch.subscribed,
            peer=ch.to_json(),
            dialstring=ch.endpoint.split("/", 1)[1],
            dialstatus="",
        )
        if phone.busy:
            self.emit("Dial", ch.subscribed, peer=ch.to_json(), dialstatus="BUSY")
            self.hangup(ch, 17, by="far_end")
            return
        self._set_state(ch, "Ringing")
        wait = phone.answer_after
        no_timeout = timeout < 0  # channels.json: "-1 for no timeout"
        # It answers by itself after ``wait`` unless that is past the originate timeout;
        # a person may pick it up by hand meanwhile (``pick_up``).
        auto = wait is not None and (no_timeout or wait < timeout)
        picked_up = await self._ringing(ch, wait if auto else None if no_timeout else timeout)
        if ch.hungup:
            return
        if not (auto or picked_up):
            self.emit("Dial", ch.subscribed, peer=ch.to_json(), dialstatus="NOANSWER")
            self.hangup(ch, 19, by="timeout")
            return
        self.emit("Dial", ch.subscribed, peer=ch.to_json(), dialstatus="ANSWER")
        self._answer(ch)
        if app:
            self.enter_stasis(ch, app, args)
        else:
            self._run_dialplan(ch)
        if phone.hangup_after is not None:
            self.loop.call_later(
                phone.hangup_after, functools.partial(self.hangup, ch, 16, by="far_end")
            )

    async def _ringing(self, ch: SimChannel, limit: float | None) -> bool:
        """Ring for ``limit`` s (None: until hung up); True when picked up by hand first."""
        pickup: asyncio.Future[None] = self.loop.create_future()
        self._pickups[ch.id] = pickup
        ended = self.loop.create_task(ch.ended.wait())
        try:
            await asyncio.wait((pickup, ended), timeout=limit, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ended.cancel()
            self._pickups.pop(ch.id, None)
        return pickup.done()

    def pick_up(self, channel_id: str) -> None:
        """A person answers a ringing phone (the demo's softphone, for someone playing an
        agent whose phone is set never to answer by itself)."""
        pickup = self._pickups.get(channel_id)
        if pickup is None or pickup.done():
            raise SimError(409, "Phone is not ringing")
        pickup.set_result(None)

    # -- playbacks --------------------------------------------------------------------------

    def play(
        self,
        target_kind: str,
        target_id: str,
        media: list[str],
        lang: str | None,
        playback_id: str | None,
    ) -> SimPlayback:
        if not media or any(not m or ":" not in m for m in media):
            raise SimError(400, "Missing or invalid media URI")
        target: Playable
        if target_kind == "channel":
            ch = self.stasis_channel(target_id)
            self.reacted(target_id)
            target, language = ch, lang or ch.language
        else:
            target, language = self.bridge(target_id), lang or "en"
        if playback_id is not None and playback_id in self.playbacks:
            raise SimError(409, "Playback with given ID already exists")
        pb = SimPlayback(
            playback_id or self.new_id(), list(media), target_kind, target_id, language
        )
        self._queue_playback(target, pb)
        return pb

    def _queue_playback(
        self, target: Playable, pb: SimPlayback, then: Callable[[], None] | None = None
    ) -> None:
        self.playbacks[pb.id] = pb
        if then is not None:
            self._after_playback[pb.id] = then
        target.queue.append(pb)
        # Started only after the REST response is on its way, as in Asterisk.
        self.loop.call_soon(self._start_next, target)

    def _subscribers(self, pb: SimPlayback) -> set[str]:
        if pb.target_kind == "channel":
            ch = self.channels.get(pb.target_id)
            return set(ch.subscribed) if ch else set()
        br = self.bridges.get(pb.target_id)
        return set(br.subscribed) if br else set()

    def _target(self, pb: SimPlayback) -> Playable | None:
        if pb.target_kind == "channel":
            return self.channels.get(pb.target_id)
        return self.bridges.get(pb.target_id)

    def _listeners(self, target: Playable) -> list[SimChannel]:
        if isinstance(target, SimChannel):
            return [target]
        if isinstance(target, SimBridge):
            return [self.channels[c] for c in target.channels if c in self.channels]
        return []

    def _start_next(self, target: Playable) -> None:
        if target.current is not None or not target.queue:
            return
        pb = target.queue.popleft()
        target.current = pb
        pb.state = "playing"
        self.emit("PlaybackStarted", self._subscribers(pb), playback=pb.to_json())
        self._play_item(target, pb)

    def _play_item(self, target: Playable, pb: SimPlayback) -> None:
        item = self.media.resolve(pb.media[pb.index], pb.language)
        if item.path is None and item.duration == 0.0:
            log.info("playback %s: %s not found", pb.id, item.uri)
            self._finish(target, pb, "failed")
            return
        for ch in self._listeners(target):
            heard = Heard(item.uri, str(item.path) if item.path else None, self.now())
            ch.heard.append(heard)
            pb.heard.append(heard)
        if item.duration is not None:  # tones play until stopped
            pb.timer = self.loop.call_later(item.duration, self._item_done, target, pb)

    def _item_done(self, target: Playable, pb: SimPlayback) -> None:
        pb.timer = None
        for heard in pb.heard:
            if heard.ended_at is None:
                heard.ended_at, heard.completed = self.now(), True
        if pb.index + 1 < len(pb.media):
            pb.index += 1
            pb.state = "continuing"
            self.emit("PlaybackContinuing", self._subscribers(pb), playback=pb.to_json())
            pb.state = "playing"
            self._play_item(target, pb)
        else:
            self._finish(target, pb, "done")

    def _finish(self, target: Playable, pb: SimPlayback, state: str) -> None:
        if pb.timer is not None:
            pb.timer.cancel()
            pb.timer = None
        for heard in pb.heard:
            if heard.ended_at is None:
                heard.ended_at = self.now()
        pb.state = state
        self.playbacks.pop(pb.id, None)
        if target.current is pb:
            target.current = None
        self.emit("PlaybackFinished", self._subscribers(pb), playback=pb.to_json())
        if pb.target_kind == "channel" and pb.target_id in self.channels:
            self._awaiting.setdefault(pb.target_id, {}).setdefault("playback", self.now())
        then = self._after_playback.pop(pb.id, None)
        if then is not None:
            then()
        elif target.queue:
            self._start_next(target)
        if target.current is None and not target.queue:
            self._playback_idle(target)

    def stop_playback(self, playback_id: str) -> None:
        pb = self.playbacks.get(playback_id)
        if pb is None:
            raise SimError(404, "Playback not found")
        target = self._target(pb)
        if target is None:
            self.playbacks.pop(playback_id, None)
            return
        if pb.target_kind == "channel":
            self.reacted(pb.target_id)
        if target.current is pb:
            self._finish(target, pb, "done")
        else:
            target.queue.remove(pb)
            self.playbacks.pop(playback_id, None)

    def get_playback(self, playback_id: str) -> SimPlayback:
        pb = self.playbacks.get(playback_id)
        if pb is None:
            raise SimError(404, "Playback not found")
        return pb

    def _stop_all_media(self, target: Playable, playback_state: str = "done") -> None:
        for pb in list(target.queue):
            self.playbacks.pop(pb.id, None)
        target.queue.clear()
        if target.current is not None:
            self._after_playback.pop(target.current.id, None)
            self._finish(target, target.current, playback_state)
        if target.recording is not None:
            self._finish_recording(target.recording, "done", cause="hangup")
        self.stop_moh(target)

    def _playback_idle(self, target: Playable) -> None:
        for fut in self._idle_waiters.pop(id(target), []):
            if not fut.done():
                fut.set_result(None)

    async def wait_playback_idle(self, target: Playable) -> None:
        if target.current is None and not target.queue:
            return
        fut: asyncio.Future[None] = self.loop.create_future()
        self._idle_waiters.setdefault(id(target), []).append(fut)
        await fut

    # -- bridges ----------------------------------------------------------------------------

    def create_bridge(
        self, bridge_type: str, bridge_id: str | None, name: str, app: str | None
    ) -> SimBridge:
        types = [t for t in bridge_type.split(",") if t] or ["mixing"]
        kind = "holding" if "holding" in types else "mixing"
        if any(
            t
            not in (
                "mixing",
                "holding",
                "dtmf_events",
                "proxy_media",
                "video_sfu",
                "video_single",
                "sdp_label",
            )
            for t in types
        ):
            raise SimError(400, "Invalid bridge type")
        if bridge_id is not None and bridge_id in self.bridges:
            raise SimError(409, "Bridge with id already exists")
        br = SimBridge(
            id=bridge_id or self.new_id(),
            name=name,
            bridge_type=kind,
            created=datetime.now(UTC),
        )
        if app:
            br.subscribed.add(app)
        self.bridges[br.id] = br
        self.emit("BridgeCreated", br.subscribed, bridge=br.to_json())
        return br

    async def add_channels(self, bridge_id: str, channel_ids: list[str]) -> None:
        br = self.bridge(bridge_id)
        chans = []
        for cid in channel_ids:
            ch = self.channels.get(cid)
            if ch is None:
                raise SimError(400, "Channel not found")
            if ch.stasis_app is None:
                raise SimError(422, "Channel not in Stasis application")
            chans.append(ch)
        for ch in chans:
            # Asterisk waits for a running playback before moving the channel (ari-notes.md).
            await self.wait_playback_idle(ch)
            if ch.hungup or br.id not in self.bridges:
                continue
            if ch.bridge_id == br.id:
                continue
            if ch.bridge_id is not None and ch.bridge_id in self.bridges:
                self._leave_bridge(self.bridges[ch.bridge_id], ch)
            ch.bridge_id = br.id
            br.channels.append(ch.id)
            self.emit(
                "ChannelEnteredBridge",
                br.subscribed | ch.subscribed,
                bridge=br.to_json(),
                channel=ch.to_json(),
            )

    def remove_channels(self, bridge_id: str, channel_ids: list[str]) -> None:
        br = self.bridge(bridge_id)
        for cid in channel_ids:
            ch = self.channels.get(cid)
            if ch is None:
                raise SimError(400, "Channel not found")
            if ch.bridge_id != br.id:
                raise SimError(422, "Channel not in this bridge")
        for cid in channel_ids:
            self._leave_bridge(br, self.channels[cid])

    def _leave_bridge(self, br: SimBridge, ch: SimChannel) -> None:
        if ch.id in br.channels:
            br.channels.remove(ch.id)
        ch.bridge_id = None
        self.emit(
            "ChannelLeftBridge",
            br.subscribed | ch.subscribed,
            bridge=br.to_json(),
            channel=ch.to_json(),
        )
        if not br.channels and br.recording is not None:
            # Asterisk's Recorder channel joins "lonely": it leaves (and the recording
            # is done) once no other channel is left in the bridge.
            self._finish_recording(br.recording, "done")

    def destroy_bridge(self, bridge_id: str) -> None:
        br = self.bridge(bridge_id)
        for cid in list(br.channels):
            if cid in self.channels:
                self._leave_bridge(br, self.channels[cid])
        self._stop_all_media(br)
        del self.bridges[br.id]
        self.emit("BridgeDestroyed", br.subscribed, bridge=br.to_json())

    # -- recordings -------------------------------------------------------------------------

    def record(
        self,
        target_kind: str,
        target_id: str,
        name: str,
        fmt: str,
        max_duration: float | None,
        if_exists: str,
        max_silence: float | None = None,
        terminate_on: str = "none",
    ) -> SimRecording:
        """Start recording a channel or (the mixed audio of) a bridge, checked in the order
        Asterisk's resource_channels.c / resource_bridges.c check."""
        target: Playable = (
            self.stasis_channel(target_id) if target_kind == "channel" else self.bridge(target_id)
        )
        if fmt != "wav":
            raise SimError(422, "specified format is unknown on this system (wav only here)")
        if (max_duration or 0) < 0 or (max_silence or 0) < 0:
            raise SimError(400, "maxDurationSeconds and maxSilenceSeconds must be ≥ 0")
        if terminate_on not in ("none", "any", "*", "#"):
            raise SimError(400, "terminateOn invalid")
        if if_exists not in ("fail", "overwrite", "append"):
            raise SimError(400, "ifExists invalid")
        if not name or name.startswith("/") or ".." in name.split("/"):
            raise SimError(400, "Recording name invalid")
        if isinstance(target, SimChannel) and target.bridge_id in self.bridges:
            if len(self.bridges[target.bridge_id].channels) > 1:
                raise SimError(409, "Channel is currently bridged with other channels")
        if name in self.live_recordings:
            raise SimError(409, f"Recording '{name}' already exists and can not be overwritten")
        if target.recording is not None:
            # Asterisk could run a second Recorder; the simulator records one at a time.
            raise SimError(409, f"{target_kind} is already being recorded (simulator limit)")
        path = self.recordings_dir / f"{name}.{fmt}"
        if path.exists() and if_exists == "fail":
            raise SimError(409, f"Recording '{name}' already exists and can not be overwritten")
        rec = SimRecording(
            name,
            fmt,
            target_kind,
            target_id,
            path,
            self.now(),
            max_duration or None,
            max_silence=max_silence or None,
            append=if_exists == "append",
        )
        self.live_recordings[name] = rec
        target.recording = rec
        if max_duration:
            rec.timer = self.loop.call_later(max_duration, self._finish_recording, rec, "done")
        empty_bridge = isinstance(target, SimBridge) and not target.channels

        def started() -> None:
            self.emit("RecordingStarted", self._rec_subscribers(rec), recording=rec.to_json())
            if empty_bridge and target.recording is rec:
                self._finish_recording(rec, "done")  # the lonely Recorder leaves at once

        self.loop.call_soon(started)
        return rec

    def _rec_subscribers(self, rec: SimRecording) -> set[str]:
        if rec.target_kind == "channel":
            ch = self.channels.get(rec.target_id)
            return set(ch.subscribed) if ch else set()
        br = self.bridges.get(rec.target_id)
        return set(br.subscribed) if br else set()

    def _finish_recording(self, rec: SimRecording, state: str, cause: str = "") -> None:
        if rec.state not in ("recording", "paused"):
            return
        if rec.timer is not None:
            rec.timer.cancel()
        elapsed = self.now() - rec.started_at
        if state == "done":
            # The mixed audio is silence here; its length is the time recorded (plus,
            # with ifExists=append, what the file held before).
            before = wav_duration(rec.path) if rec.append and rec.path.is_file() else 0.0
            write_wav(rec.path, before + elapsed)
        rec.state, rec.duration = state, round(elapsed)
        target: Playable | None = (
            self.channels.get(rec.target_id)
            if rec.target_kind == "channel"
            else self.bridges.get(rec.target_id)
        )
        if target is not None and target.recording is rec:
            target.recording = None
        self.live_recordings.pop(rec.name, None)
        etype = "RecordingFinished" if state in ("done", "canceled") else "RecordingFailed"
        self.emit(etype, self._rec_subscribers(rec), recording=rec.to_json())

    def stop_recording(self, name: str, cancel: bool = False) -> None:
        rec = self.live_recordings.get(name)
        if rec is None:
            raise SimError(404, "Recording not found")
        self._finish_recording(rec, "canceled" if cancel else "done")

    def get_live_recording(self, name: str) -> SimRecording:
        rec = self.live_recordings.get(name)
        if rec is None:
            raise SimError(404, "Recording not found")
        return rec

    def stored_recordings(self) -> list[dict[str, str]]:
        if not self.recordings_dir.is_dir():
            return []
        return [
            {
                "name": str(p.relative_to(self.recordings_dir).with_suffix("")),
                "format": p.suffix[1:],
            }
            for p in sorted(self.recordings_dir.rglob("*.wav"))
        ]

    def stored_recording_path(self, name: str) -> Path:
        path = self.recordings_dir / f"{name}.wav"
        if ".." in name.split("/") or not path.is_file():
            raise SimError(404, "Recording not found")
        return path

    # -- lifecycle ----------------------------------------------------------------------------

    def shutdown(self) -> None:
        for ch in list(self.channels.values()):
            ch.ended.set()
        for pb in self.playbacks.values():
            if pb.timer is not None:
                pb.timer.cancel()


def _parse_caller_id(value: str) -> tuple[str, str]:
    """``"Name" <number>`` → (name, number)."""
    value = value.strip()
    if "<" in value and value.endswith(">"):
        name, _, number = value[:-1].partition("<")
        return name.strip().strip('"'), number.strip()
    return "", value
