"""The controller: routes ARI events to per-call sessions and reconciles after gaps.

The event reader calls ``on_event`` synchronously for every event; it only looks up
the channel id and queues the event on that channel's ordered dispatcher, so reading
never waits for call handling (Asterisk drops a WebSocket reader that lags).

After every (re)connect ``reconcile`` compares what Asterisk has (``GET /channels``)
with what we believe (live sessions, open records in the database):

* a session whose channel is still there is resynced (a playback that ended during
  the gap is reported as done; a leg — an agent's phone — that ended or answered during
  the gap is reported so; a lost hang-up is re-sent); an adopted call's legs are asked
  about the same way;
* a session whose channel is gone is finalised (``Left(unobserved=True)``);
* a channel in our app with no session (controller restart) is adopted: resumed from
  the state snapshot saved in its record, started afresh if it was never answered (its
  StasisStart was lost in the gap), or apologised to and hung up when its state was lost;
* an open record of this node with neither channel nor session is completed.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from ivr.ari import errors as ari_errors
from ivr.ari import events as ev
from ivr.ari.dispatch import OrderedDispatcher
from ivr.ari.models import Channel
from ivr.call import inputs as inp
from ivr.call.flow import CallFlow
from ivr.call.service import Prompts, Service
from ivr.runtime import callctx, translate
from ivr.runtime.executor import CommandExecutor, Writer
from ivr.runtime.session import CallSession
from kernel.clock import utcnow
from ticketdb import call_log

log = logging.getLogger(__name__)


RECONCILE_RETRY_DELAYS = (0.1, 0.3, 1.0, 3.0, 5.0)


def call_key(channel_id: str) -> str:
    """The call a channel belongs to: itself, or the call a leg (``<call>~…``) hangs off."""
    return channel_id.split("~", 1)[0]


@dataclass(frozen=True, slots=True)
class _Resync:
    """Internal dispatcher item: the stream came back and this channel survived."""


@dataclass(frozen=True, slots=True)
class _Adopt:
    channel: Channel
    record_state: dict[str, Any] | None


@dataclass(slots=True)
class ControllerStats:
    calls_started: int = 0
    calls_adopted: int = 0
    calls_finished: int = 0
    reconciles: int = 0
    records_completed_on_reconcile: int = 0
    events_routed: int = 0
    events_ignored: int = 0
    handler_errors: int = 0
    finish_reasons: dict[str, int] = field(default_factory=dict)


class Controller:
    def __init__(
        self,
        client: Any,
        writer: Writer,
        db: sessionmaker[Session],
        node: str,
        app: str,
        prompts: Prompts,
        service_factory: Callable[[], Service],
        default_language: str = "en",
        clock: Callable[[], datetime] = utcnow,
        executor: CommandExecutor | None = None,
        adopt_grace: float = 0.5,
        tier_lookup: Callable[[str], str] | None = None,
        services: dict[str, Callable[[], Service]] | None = None,
        observe_latency: Callable[[float], None] | None = None,
    ) -> None:
        self.services = services or {}
        # Seconds from an ARI event's arrival to the end of its handling (metrics).
        self.observe_latency = observe_latency
        self.tier_lookup = tier_lookup
        self.adopt_grace = adopt_grace
        self.client = client
        self.writer = writer
        self.db = db
        self.node = node
        self.app = app
        self.prompts = prompts
        self.service_factory = service_factory
        self.default_language = default_language
        self.clock = clock
        self.executor = executor or CommandExecutor(client, writer, node, clock)
        self.sessions: dict[str, CallSession] = {}
        self.dispatcher: OrderedDispatcher[str, object] = OrderedDispatcher(
            self._handle, self._handled
        )
        self.stats = ControllerStats()
        self._reconcile_lock = asyncio.Lock()
        self.on_call_finished: Callable[[CallSession], None] | None = None
        # Phones registering or going away (``agents.phones``); no call's business.
        self.on_endpoint: Callable[[ev.EndpointStateChange], None] | None = None

    # -- event routing (called by the event reader; must never block) ----------------

    def on_event(self, event: ev.Event) -> None:
        if isinstance(event, ev.EndpointStateChange):
            if self.on_endpoint is not None:
                self.on_endpoint(event)
            return
        # A bridge recording names the bridge, and a call's bridge is ``<call>~b``.
        key = event.channel_id or translate.bridge_of(event)
        if key is None:
            self.stats.events_ignored += 1
            return
        self.stats.events_routed += 1
        # A leg we originated for a call (agent, consult target) is named after the call
        # (``<call>~a1``): its events join the call's own ordered stream.
        self.dispatcher.submit(call_key(key), event)

    def _handled(self, key: str, item: object, seconds: float) -> None:
        if self.observe_latency is not None and isinstance(item, ev.Event):
            self.observe_latency(seconds)

    async def _handle(self, key: str, item: object) -> None:
        # Every log line written while handling this call names it (hotline.logsetup).
        callctx.call_id.set(key)
        try:
            await self._handle_item(key, item)
        except Exception:
            self.stats.handler_errors += 1
            log.exception("call %s: error while handling %s", key, type(item).__name__)
            session = self.sessions.get(key)
            if session is not None and not session.finished:
                # The catch-all: a bug in handling must not strand the caller in silence.
                await session.feed(
                    inp.CommandFailed(self.clock(), "Internal", "handler error", gone=False)
                )

    async def _handle_item(self, key: str, item: object) -> None:
        session = self.sessions.get(key)
        if isinstance(item, ev.RecordingEvent) and item.channel_id is None:
            ended = translate.recording_input(item)
            if session is not None and ended is not None:
                await session.feed(ended)
            return
        if isinstance(item, ev.Event) and item.channel_id != key:
            if session is not None:
                leg_input = translate.leg_input(item)
                if leg_input is not None:
                    await session.feed(leg_input)
            return
        if isinstance(item, ev.StasisStart):
            if session is not None:
                return  # a replayed StasisStart for a call we already run
            if item.args and item.args[0] == "leg":
                log.info("channel %s: a leg of a call that is gone; hanging it up", key)
                with contextlib.suppress(ari_errors.AriError):
                    await self.client.channels.hangup(key)
                return
            self.stats.calls_started += 1
            session = self._new_session(key)
            tier = await self._caller_tier(item.channel.caller.number)
            await session.feed(translate.caller_started(item, tier))
        elif isinstance(item, _Adopt):
            if session is not None:
                return
            self.stats.calls_adopted += 1
            session = self._new_session(key)
            adopted = self._adopted_input(item)
            if not adopted.answered:  # it will be started afresh: it needs its tier
                tier = await self._caller_tier(adopted.caller_number)
                adopted = dataclasses.replace(adopted, caller_tier=tier)
            await session.feed(adopted)
            # Legs (an agent talking to the caller) may have ended while no controller ran.
            await self._check_legs(session)
        elif session is None:
            return
        elif isinstance(item, _Resync):
            await self._resync(session)
        elif isinstance(item, inp.Input):
            await session.feed(item)  # timers, reconcile verdicts, the queue manager's news
        elif isinstance(item, ev.Event):
            translated = translate.to_input(item, self.clock())
            if translated is not None:
                await session.feed(translated)

    async def _caller_tier(self, number: str) -> str:
        """The caller's tier from the customers table; "general" if unknown or unreachable."""
        if self.tier_lookup is None or not number:
            return "general"
        try:
            return await asyncio.wait_for(asyncio.to_thread(self.tier_lookup, number), 1.0)
        except Exception as exc:  # a slow or absent database must not hold the caller
            log.warning("caller tier lookup for %s failed (%s); treating as general", number, exc)
            return "general"

    def _new_session(self, key: str) -> CallSession:
        flow = CallFlow(self.service_factory, self.prompts, self.default_language, self.services)
        session = CallSession(key, flow, self.executor, self._schedule, self._session_finished)
        self.sessions[key] = session
        return session

    def is_live(self, key: str) -> bool:
        session = self.sessions.get(key)
        return session is not None and not session.finished

    def is_own_leg(self, channel_id: str) -> bool:
        """A leg (``<call>~…``) of a call this controller runs now."""
        return "~" in channel_id and self.is_live(call_key(channel_id))

    def deliver(self, key: str, item: inp.Input) -> bool:
        """Hand an input from outside Asterisk (the queue manager) to a call, in order."""
        if not self.is_live(key):
            return False
        self.dispatcher.submit(key, item)
        return True

    def start_flow(self, key: str, flow: Any, first: inp.Input) -> None:
        """Run a flow that has no caller channel (a queue callback's attempt)."""
        session = CallSession(key, flow, self.executor, self._schedule, self._session_finished)
        self.sessions[key] = session
        self.dispatcher.submit(key, first)

    def _session_finished(self, session: CallSession) -> None:
        if self.sessions.get(session.channel_id) is session:
            del self.sessions[session.channel_id]
        self.stats.calls_finished += 1
        reason = session.flow.state.end_reason or "caller_hangup"
        self.stats.finish_reasons[reason] = self.stats.finish_reasons.get(reason, 0) + 1
        if self.on_call_finished is not None:
            self.on_call_finished(session)

    def _schedule(self, key: str, seconds: float, name: str, token: int) -> asyncio.TimerHandle:
        loop = asyncio.get_running_loop()
        return loop.call_later(seconds, self._fire_timer, key, name, token)

    def _fire_timer(self, key: str, name: str, token: int) -> None:
        self.dispatcher.submit(key, inp.TimerFired(self.clock(), name, token))

    def _adopted_input(self, item: _Adopt) -> inp.Adopted:
        ch = item.channel
        return inp.Adopted(
            at=self.clock(),
            channel_id=ch.id,
            caller_number=ch.caller.number,
            caller_name=ch.caller.name,
            dialled=ch.dialplan.exten if ch.dialplan else "",
            language=ch.language,
            created_at=ch.creationtime,
            answered=ch.state == "Up",
            snapshot=item.record_state,
        )

    async def _resync(self, session: CallSession) -> None:
        playback_id = session.flow.last_playback_id
        if playback_id is not None:
            try:
                await self.client.playbacks.get(playback_id)
            except ari_errors.AriNotFound:
                await session.feed(inp.PlaybackDone(self.clock(), playback_id, ok=False))
            except ari_errors.AriError as exc:
                log.warning(
                    "call %s: could not check playback after resync: %s", session.channel_id, exc
                )
        await self._check_legs(session)
        await session.feed(inp.Resynced(self.clock()))

    async def _check_legs(self, session: CallSession) -> None:
        """Ask Asterisk about each leg the call holds: one that ended or answered while
        its events were not coming is reported now (Asterisk does not replay them), or the
        caller waits in a silent bridge, or for a ring that is long over."""
        for leg, answered in dict(session.flow.live_legs()).items():
            if session.finished:
                return
            try:
                channel = await self.client.channels.get(leg)
            except ari_errors.AriNotFound:
                log.info("call %s: leg %s ended unobserved", session.channel_id, leg)
                await session.feed(inp.LegEnded(self.clock(), leg))
                continue
            except ari_errors.AriError as exc:
                log.warning("call %s: could not check leg %s: %s", session.channel_id, leg, exc)
                continue
            if not answered and channel.state == "Up":
                await session.feed(inp.LegAnswered(self.clock(), leg))

    # -- reconciliation ---------------------------------------------------------------

    def _is_ours(self, channel: Channel) -> bool:
        dp = channel.dialplan
        if dp is None or dp.app_name != "Stasis":
            return False
        return dp.app_data.split(",", 1)[0] == self.app

    async def reconcile(self) -> None:
        """Runs after every (re)connect; the stream cancels it if the socket drops again."""
        async with self._reconcile_lock:
            delays = iter(RECONCILE_RETRY_DELAYS)
            while True:
                if await self._reconcile():
                    return
                # Asterisk is reachable (the socket is up) but would not list its
                # channels (e.g. 503 while busy), or the database is down: keep trying,
                # more slowly each time.
                await asyncio.sleep(next(delays, RECONCILE_RETRY_DELAYS[-1]))

    async def _reconcile(self) -> bool:
        self.stats.reconciles += 1
        loop = asyncio.get_running_loop()
        listed_at = loop.time()
        try:
            channels = await self.client.channels.list()
        except ari_errors.AriError as exc:
            log.warning("reconcile: cannot list channels: %s", exc)
            return False
        ours = {ch.id: ch for ch in channels if self._is_ours(ch)}
        legs = {ch.id for ch in channels if "~" in ch.id}
        now = self.clock()
        for key, session in list(self.sessions.items()):
            if session.started_monotonic > listed_at:
                continue  # started after the listing: the listing can't speak for it
            if key in ours:
                self.dispatcher.submit(key, _Resync())
            elif not isinstance(session.flow, CallFlow):
                # A callback attempt has no channel of its own; it lives while its legs do
                # (and the resync asks about each of them).
                if any(call_key(leg) == key for leg in legs):
                    self.dispatcher.submit(key, _Resync())
                else:
                    self.dispatcher.submit(key, inp.Left(now, unobserved=True))
            else:
                self.dispatcher.submit(key, inp.Left(now, unobserved=True))
        unknown = [ch for key, ch in ours.items() if key not in self.sessions and "~" not in key]
        states, open_ids = await self._read_records([ch.id for ch in unknown])
        for ch in unknown:
            # A channel listed here may be a brand-new call whose StasisStart is still on
            # its way over the socket; give it a moment so it is never mistaken for one
            # that lost its state (an _Adopt after the session exists is ignored).
            loop.call_later(
                self.adopt_grace, self.dispatcher.submit, ch.id, _Adopt(ch, states.get(ch.id))
            )
        if open_ids is None:
            return False  # the database is down: try again (every step above is idempotent)
        for channel_id in open_ids:
            if channel_id in ours or channel_id in self.sessions:
                continue
            if any(call_key(leg) == channel_id for leg in legs):
                continue  # a callback attempt whose legs are still up
            self.stats.records_completed_on_reconcile += 1
            log.info("call %s: completing the record of a call that ended unobserved", channel_id)
            self.writer.submit(
                functools.partial(
                    call_log.end_call,
                    node=self.node,
                    channel_id=channel_id,
                    ended_at=now,
                    hangup_cause=None,
                    hangup_cause_text=None,
                    hangup_side="unknown",
                    end_reason="ended_unobserved",
                )
            )
        return True

    async def _read_records(
        self, channel_ids: list[str]
    ) -> tuple[dict[str, dict[str, Any] | None], list[str] | None]:
        """State snapshots for channels to adopt, and this node's open records.

        The database may be down just now: then adopted calls are treated as having
        lost their state (apology, hang-up) and open records wait for the next reconcile.
        """

        def read() -> tuple[dict[str, dict[str, Any] | None], list[str]]:
            with self.db() as s:
                states: dict[str, dict[str, Any] | None] = {}
                for cid in channel_ids:
                    rec = call_log.get_call(s, self.node, cid)
                    states[cid] = dict(rec.state) if rec is not None and rec.state else None
                open_ids = [rec.channel_id for rec in call_log.open_calls(s, self.node)]
                return states, open_ids

        try:
            return await asyncio.to_thread(read)
        except Exception as exc:
            log.warning("reconcile: database unavailable (%s); adopting without state", exc)
            return {}, None

    # -- shutdown -----------------------------------------------------------------------

    async def drain(self, timeout: float = 10.0) -> None:
        await self.dispatcher.drain(timeout)
        # Recordings being fetched from Asterisk: finish them while the client is open.
        await self.executor.drain(timeout)
