"""The queue manager: one per node, the I/O edge of automatic call distribution.

It carries out the queue's commands for the calls of its node (enqueue, seat changes,
queue callbacks) and runs the distribution loop. Each pass, every node alike:

1. beats its heartbeat and buries nodes that stopped beating (``agents.nodes``);
2. ends wrap-ups whose time is over;
3. reads the global queue (calls waiting on live nodes, callbacks due) and the free
   agents — logged in, available, unclaimed, on shift (``agents.shifts``) — and runs the
   pure ``agents.distribution.assign``: every node computes the same global order;
4. for the assignments of its own calls, claims each agent atomically
   (``agents.offers.ring``): of two nodes that disagree, one wins and the other's call
   waits for the next pass — one agent never gets two calls;
5. tells its waiting callers their place and estimated wait; hands web-page requests
   (hold, transfer …) to the calls; releases claims whose call it no longer runs.

Database work runs in worker threads; the loop wakes on a timer and whenever a call
enters, leaves or frees an agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from agents import nodes, offers, phone_store
from agents import queue_store as entries
from agents.distribution import (
    Assignment,
    Candidate,
    RoundRobinState,
    WaitingCall,
    assign,
    estimated_wait,
    order_calls,
)
from agents.queue_config import QueueCatalog, QueueConfig
from agents.seat_store import seat_summaries
from agents.shifts import DUTY_STATES, ShiftConfig, team_on_shift
from callbacks.plan import CallbackRules
from ivr.call import commands as cmd
from ivr.call import inputs as inp
from ivr.queue.callback import CallbackJob
from kernel.settings import AcdSettings
from ticketdb.models import Agent, Call, CallControl, SeatState, SeatStateChange

log = logging.getLogger(__name__)

DB_RETRY_DELAYS = (0.05, 0.2, 0.5)
# A ring-no-answer keeps that agent off that call for a while: the next agent is tried.
EXCLUDE_SECONDS = 60.0
# A claim whose call this node does not run is released only after this long, so an
# offer on its way to a call (or a call being re-adopted after a restart) is not hit.
ORPHAN_CLAIM_SECONDS = 10.0
RECENT_HANDLES = 20
STAFFED_CACHE_SECONDS = 1.0
HANDLES_CACHE_SECONDS = 5.0
# An agent as counted for "is this queue staffed": agent id, seat state, skills, team.
_Counted = tuple[int, str, Mapping[str, int], str]
# Database work of the queue has threads of its own, so a burst of callers entering the
# queue cannot starve the other blocking work (caller-tier lookups) or the reverse.
DB_THREADS = 8


def _call_id(entry: entries.Queued) -> str:
    return f"{entry.node}/{entry.channel_id}"


class LeadWatchLike(Protocol):
    def tick(self) -> object: ...


@dataclass
class ManagerStats:
    passes: int = 0
    offers: int = 0
    lost_claims: int = 0
    callbacks_started: int = 0
    nodes_buried: int = 0
    orphans_released: int = 0
    errors: int = 0
    passes_not_dialling: int = 0  # passes that offered nothing: our Asterisk was away
    rejoins: int = 0  # times this node found it had been buried while it stalled
    orphans_kept: int = 0  # orphan claims not released: the agent's leg was still up
    refused_unstaffed: int = 0  # waiting callers told nobody can take their call now
    pass_seconds: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class _Orphan:
    """A claim of this node whose call it no longer runs, as read."""

    agent_id: int
    state: str
    claim_channel: str
    seat: SeatState


@dataclass
class _PassResult:
    deliveries: list[tuple[str, inp.Input]] = field(default_factory=list)
    callbacks: list[tuple[str, CallbackJob]] = field(default_factory=list)
    orphans: list[_Orphan] = field(default_factory=list)
    rejoined: bool = False


class QueueManager:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        node: str,
        catalog: QueueCatalog,
        shifts: ShiftConfig | None,
        settings: AcdSettings,
        clock: Callable[[], datetime],
        rules: CallbackRules | None = None,
    ) -> None:
        self.sessions = sessions
        self.node = node
        self.catalog = catalog
        self.shifts = shifts
        self.settings = settings
        self.clock = clock
        # Callbacks' quiet hours and caller ID (decision 0013); None: no quiet hours.
        self.rules = rules
        # Set by the controller: hand an input to a call (False: no such call), whether
        # this node runs a call now, and start a queue callback's flow.
        self.deliver: Callable[[str, inp.Input], bool] = lambda key, item: False
        self.is_live: Callable[[str], bool] = lambda key: False
        self.start_callback: Callable[[str, CallbackJob], None] = lambda key, job: None
        # Whether our Asterisk can take an originate for our app now: while the events
        # socket is down it refuses them ("not registered"), and each refusal would count
        # as a missed call against an agent whose phone never rang.
        self.can_dial: Callable[[], bool] = lambda: True
        # Agents whose phone our Asterisk cannot ring now (agents.phones).
        self.unreachable: Callable[[], frozenset[int]] = frozenset
        # The calls whose legs are up on our Asterisk now (``<call>`` of ``<call>~…``),
        # asked before a claim is released; None when Asterisk cannot be asked.
        self.legs_up: Callable[[], Awaitable[set[str] | None]] | None = None
        # The calls this node runs now, and how to tell them the node rejoined.
        self.live_calls: Callable[[], list[str]] = list
        # This node's generation (agents.nodes.join), set by its first pass.
        self.generation: int | None = None
        self._kept_orphans: set[tuple[int, str]] = set()
        self._refused_waiting: set[str] = set()
        # The lead's alerts and handover notes (agents.lead_watch): ticked by one node
        # only, the live node with the smallest name, so alerts are raised once.
        self.lead_watch: LeadWatchLike | None = None
        self.is_leader = False
        self._last_watch = 0.0
        self.rr = RoundRobinState()
        self.excluded: dict[str, dict[int, float]] = {}
        self.stats = ManagerStats()
        self._statuses: dict[str, tuple[int, float | None]] = {}
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._staffed_cache: dict[tuple[str, str | None], tuple[float, bool]] = {}
        self._counted_cache: tuple[float, list[_Counted]] | None = None
        # One thread re-reads the counted agents; the others count from the last read.
        self._counted_lock = threading.Lock()
        self._handles_cache: dict[str, tuple[float, list[float]]] = {}
        self._pool = ThreadPoolExecutor(DB_THREADS, thread_name_prefix=f"acd-{node}")
        self._last_heartbeat = 0.0
        self._started = time.monotonic()

    def config(self, queue: str) -> QueueConfig | None:
        try:
            return self.catalog.config(queue)
        except KeyError:
            return None

    def wake(self) -> None:
        self._wake.set()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def _in_thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    # -- carrying out the queue's commands ------------------------------------------------

    async def execute(self, channel_id: str, command: cmd.QueueCommand) -> inp.Input | None:
        """Carry out one queue command for the call ``channel_id``; database work is
        retried briefly, then reported as ``CommandFailed``."""
        for attempt in range(len(DB_RETRY_DELAYS) + 1):
            try:
                result: inp.Input | None = await self._in_thread(self._execute, channel_id, command)
            except Exception as exc:
                if attempt == len(DB_RETRY_DELAYS):
                    self.stats.errors += 1
                    log.warning("call %s: %s failed: %s", channel_id, type(command).__name__, exc)
                    return inp.CommandFailed(
                        self.clock(), type(command).__name__, str(exc), gone=False
                    )
                await asyncio.sleep(DB_RETRY_DELAYS[attempt])
            else:
                if isinstance(
                    command,
                    cmd.Enqueue
                    | cmd.QueueMark
                    | cmd.QueueLeave
                    | cmd.SeatNoAnswer
                    | cmd.SeatCallEnded
                    | cmd.CallbackResult
                    | cmd.BookCallback,
                ):
                    self.wake()  # a call or an agent became free for distribution
                return result
        raise AssertionError("unreachable")

    def _execute(self, channel_id: str, command: cmd.QueueCommand) -> inp.Input | None:
        now = self.clock()
        node = self.node
        with self.sessions() as s:
            if isinstance(command, cmd.Enqueue):
                return self._enqueue(s, channel_id, command, now)
            if isinstance(command, cmd.QueueMark):
                entries.mark(s, node=node, channel_id=channel_id, status=command.status, now=now)
            elif isinstance(command, cmd.QueueLeave):
                entries.leave(s, node=node, channel_id=channel_id)
                self.excluded.pop(f"{node}/{channel_id}", None)
                self._statuses.pop(channel_id, None)
                self._refused_waiting.discard(channel_id)
            elif isinstance(command, cmd.BookCallback):
                callback_id = entries.book_callback(
                    s,
                    node=node,
                    channel_id=channel_id,
                    number=command.number,
                    language=command.language,
                    now=now,
                    queue=command.queue,
                    tier=command.tier,
                    arrived_at=command.arrived_at,
                    priority=command.priority,
                    skill=command.skill,
                    injury=command.injury,
                )
                return inp.CallbackBooked(now, callback_id)
            elif isinstance(command, cmd.SeatAnswered):
                offers.answered(
                    s, agent_id=command.agent_id, node=node, now=now, channel_id=channel_id
                )
            elif isinstance(command, cmd.SeatNoAnswer):
                if command.missed:
                    until = time.monotonic() + EXCLUDE_SECONDS
                    self.excluded.setdefault(f"{node}/{channel_id}", {})[command.agent_id] = until
                went_away = offers.no_answer(
                    s,
                    agent_id=command.agent_id,
                    node=node,
                    now=now,
                    missed=command.missed,
                    misses_before_away=command.misses_before_away,
                    channel_id=channel_id,
                )
                if went_away:
                    self._missed_calls_alert(s, command.agent_id, command.misses_before_away, now)
            elif isinstance(command, cmd.SeatCallEnded):
                offers.call_ended(
                    s,
                    agent_id=command.agent_id,
                    node=node,
                    now=now,
                    wrap_up_seconds=command.wrap_up_seconds,
                    channel_id=channel_id,
                )
            elif isinstance(command, cmd.ClaimAgent):
                rung = offers.ring_by_staff_number(
                    s,
                    staff_number=command.staff_number,
                    node=node,
                    channel_id=channel_id,
                    now=now,
                    generation=self.generation,
                )
                if isinstance(rung, str):
                    return inp.OfferFailed(now, rung)
                return inp.AgentOffered(
                    now,
                    rung.agent_id,
                    rung.staff_number,
                    rung.name,
                    rung.endpoint,
                    command.ring_timeout,
                )
            elif isinstance(command, cmd.ControlDone):
                s.execute(
                    update(CallControl)
                    .where(CallControl.id == command.control_id)
                    .values(
                        status="done" if command.ok else "failed",
                        result=command.result,
                        done_at=now,
                    )
                )
                s.commit()
            elif isinstance(command, cmd.CallbackResult):
                entries.record_callback_attempt(
                    s,
                    entry_id=command.entry_id,
                    outcome=command.outcome,
                    agent=command.agent,
                    channel=command.channel,
                    now=now,
                    retry_after=timedelta(minutes=self.settings.callback_retry_minutes),
                    max_attempts=self.settings.callback_max_attempts,
                    rules=self.rules,
                )
        return None

    def _enqueue(
        self, s: Session, channel_id: str, command: cmd.Enqueue, now: datetime
    ) -> inp.Input:
        cfg = self.config(command.queue)
        if cfg is None:
            return inp.QueueRefused(now, "unknown_queue")
        if not self._staffed(s, cfg, command.skill, now):
            return inp.QueueRefused(now, "no_agents")
        result = entries.enqueue(
            s,
            node=self.node,
            channel_id=channel_id,
            queue=command.queue,
            tier=command.tier,
            arrived_at=command.arrived_at,
            now=now,
            caller_number=command.caller_number,
            language=command.language,
            priority=command.priority,
            skill=command.skill,
            injury=command.injury,
            external=command.external,
            max_length=cfg.max_length,
        )
        if result.refused is not None:
            return inp.QueueRefused(now, result.refused)
        # The place in line comes with the next pass (QueueStatus): working it out here
        # would read the whole queue once per caller.
        return inp.Enqueued(now, result.entry_id)

    def _staffed(self, s: Session, cfg: QueueConfig, skill: str | None, now: datetime) -> bool:
        """Someone logged in and on shift has the skills: worth waiting for (cached for a
        second: a burst of callers must not read the roster once each)."""
        key = (cfg.name, skill)
        cached = self._staffed_cache.get(key)
        mono = time.monotonic()
        if cached is not None and mono - cached[0] < STAFFED_CACHE_SECONDS:
            return cached[1]
        staffed = self._read_staffed(s, cfg, skill, now)
        self._staffed_cache[key] = (mono, staffed)
        return staffed

    def _read_staffed(self, s: Session, cfg: QueueConfig, skill: str | None, now: datetime) -> bool:
        needed = set(cfg.skills) | ({skill} if skill else set())
        return self._staff_with(s, needed, DUTY_STATES | {"away"}, now) > 0

    def _staff_with(
        self, s: Session, skills: Iterable[str], states: Iterable[str], now: datetime
    ) -> int:
        """Active agents in one of ``states``, with every skill, on shift (with shift rules).

        Counts only (is a queue staffed, how many agents for the wait estimate), so the
        roster behind it may be a second old; offers and claims never use it.
        """
        skills, states = set(skills), set(states)
        working: dict[str, bool] = {}
        count = 0
        # A phone our Asterisk cannot ring takes no call: that agent is not staff here.
        unreachable = self.unreachable()
        for agent_id, state, agent_skills, team in self._counted_agents(s):
            if state not in states or not all(agent_skills.get(k, 0) >= 1 for k in skills):
                continue
            if agent_id in unreachable:
                continue
            if team not in working:
                working[team] = self._on_shift(team, now)
            count += working[team]
        return count

    def _on_shift(self, team: str, now: datetime) -> bool:
        return self.shifts is None or team_on_shift(self.shifts, team, now)

    def _counted_agents(self, s: Session) -> list[_Counted]:
        """Every active agent's (state, skills, team), read at most once a second, by
        one thread at a time.

        Profiled under load (1,000 calls, 500 agents): reading the whole roster once per
        enqueue and once per queue per pass held the GIL for a third of the process's
        time and delayed the event loop. A cache alone was not enough: when it expired,
        every queue thread re-read it at once; now one re-reads and the others count
        from the previous read.
        """
        cached = self._counted_cache
        if cached is not None and time.monotonic() - cached[0] < STAFFED_CACHE_SECONDS:
            return cached[1]
        # Without any read yet there is nothing to count from: wait for the reader.
        if not self._counted_lock.acquire(blocking=cached is None):
            assert cached is not None
            return cached[1]
        try:
            cached = self._counted_cache
            if cached is not None and time.monotonic() - cached[0] < STAFFED_CACHE_SECONDS:
                return cached[1]
            agents: list[_Counted] = [
                (seat.agent_id, seat.state, seat.skills, seat.team) for seat in seat_summaries(s)
            ]
            self._counted_cache = (time.monotonic(), agents)
            return agents
        finally:
            self._counted_lock.release()

    def _missed_calls_alert(self, s: Session, agent_id: int, misses: int, now: datetime) -> None:
        from agents import lead_store

        agent = s.get(Agent, agent_id)
        name = agent.name if agent is not None else str(agent_id)
        lead_store.raise_alert(
            s,
            kind="missed_calls",
            severity="warning",
            message=f"{name} did not answer {misses} offered calls in a row and was set away",
            agent_id=agent_id,
            node=self.node,
            now=now,
        )

    # -- the distribution loop --------------------------------------------------------------

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        while True:
            started = time.monotonic()
            try:
                result = await self._in_thread(self._pass)
            except Exception:
                self.stats.errors += 1
                log.exception("distribution pass failed; trying again")
                result = _PassResult()
            self.stats.passes += 1
            self.stats.pass_seconds.append(time.monotonic() - started)
            del self.stats.pass_seconds[:-1000]
            undelivered: list[tuple[str, int]] = []
            for key, item in result.deliveries:
                if not self.deliver(key, item) and isinstance(item, inp.AgentOffered):
                    undelivered.append((key, item.agent_id))
            for key, job in result.callbacks:
                self.stats.callbacks_started += 1
                self.start_callback(key, job)
            if undelivered:
                # The caller left while the agent was being claimed: give the agent back.
                for key, agent_id in undelivered:
                    await self._in_thread(self._release, key, agent_id)
            if result.orphans:
                await self._release_orphans(result.orphans)
            self._wake.clear()
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
            # cancel that arrives as the wait ends, and a cancelled manager then runs on
            # (a node's stop would hang on it).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.poll_interval):
                    await self._wake.wait()

    def _send_now(self, out: _PassResult, key: str, offer: inp.AgentOffered) -> None:
        """Hand an offer to its call from the pass's worker thread, straight away."""
        loop = self._loop
        if loop is None:
            out.deliveries.append((key, offer))
            return

        def hand_over() -> None:
            if not self.deliver(key, offer):
                # The caller left while the agent was being claimed: give the agent back.
                self._pool.submit(self._release, key, offer.agent_id)

        loop.call_soon_threadsafe(hand_over)

    def _release(self, key: str, agent_id: int) -> None:
        with self.sessions() as s:
            offers.no_answer(
                s,
                agent_id=agent_id,
                node=self.node,
                now=self.clock(),
                missed=False,
                misses_before_away=1,
                channel_id=key,
            )

    def _live(self, s: Session, now: datetime) -> set[str]:
        return nodes.live_nodes(s, now, self.settings.node_dead_after) | {self.node}

    def _pass(self) -> _PassResult:
        now = self.clock()
        out = _PassResult()
        with self.sessions() as s:
            mono = time.monotonic()
            if mono - self._last_heartbeat >= self.settings.heartbeat_interval:
                self._last_heartbeat = mono
                if not self._beat(s, out, now):
                    # Fenced: it offers nothing this pass; what it believed is rechecked.
                    return out
                for dead in nodes.dead_nodes(s, now, self.settings.node_dead_after):
                    if dead != self.node:
                        self._bury(s, dead, now)
                out.orphans = self._orphans(s, now)
                self.is_leader = min(self._live(s, now)) == self.node
            offers.expire_wrap_ups(s, now)
            self._controls(s, out, now)
            self._distribute(s, out, now)
        if self.lead_watch is not None and self.is_leader and mono - self._last_watch >= 1.0:
            self._last_watch = mono
            try:
                self.lead_watch.tick()
            except Exception:
                log.exception("lead watch tick failed; the next pass tries again")
        return out

    def _beat(self, s: Session, out: _PassResult, now: datetime) -> bool:
        """The heartbeat, as this node's generation; False when it finds it was buried
        (it stalled longer than ``node_dead_after``): it then rejoins as a new generation,
        its calls' claims become the new generation's and its calls take their places in
        the queue again (the burial took the waiting ones out)."""
        if self.generation is None:
            self.generation = nodes.join(s, self.node, now)
            return True
        if nodes.heartbeat(s, self.node, self.generation, now):
            return True
        old = self.generation
        self.generation = nodes.join(s, self.node, now)
        calls = self.live_calls()
        offers.restamp(s, self.node, calls, self.generation)
        log.error(
            "this node was taken for dead (no heartbeat for over %.0f s) and buried by "
            "another: rejoined as generation %d (was %d); %d call(s) re-enter the queue",
            self.settings.node_dead_after,
            self.generation,
            old,
            len(calls),
        )
        self._statuses.clear()
        self._refused_waiting.clear()
        self.stats.rejoins += 1  # last: the count says the rejoin is done (tests wait on it)
        out.rejoined = True
        for key in calls:
            out.deliveries.append((key, inp.NodeRejoined(now)))
        return False

    def _bury(self, s: Session, dead: str, now: datetime) -> None:
        held = nodes.held_by(s, dead)
        released = nodes.bury(s, dead, now)
        log.warning(
            "node %s is gone: released %d agent claim(s) without a call; %d seat(s) with a "
            "call on its Asterisk stay held until it comes back or a lead frees them",
            dead,
            released,
            len(held),
        )
        if held:
            from agents import lead_store

            lead_store.raise_alert(
                s,
                kind="node_down",
                severity="critical",
                message=f"controller {dead} stopped: {len(held)} agent(s) held by its calls "
                "until it comes back or a lead ends their call",
                agent_id=None,
                node=self.node,
                now=now,
            )
        self.stats.nodes_buried += 1  # last: the count says the burial is done

    def _orphans(self, s: Session, now: datetime) -> list[_Orphan]:
        """Claims of this node whose call it does not run: released once Asterisk says the
        call has no leg up (``_release_orphans``). A seat in wrap-up is no orphan: its
        call is over, and the wrap-up ends by itself."""
        if time.monotonic() - self._started < ORPHAN_CLAIM_SECONDS:
            return []  # just (re)started: calls are still being adopted
        limit = now - timedelta(seconds=ORPHAN_CLAIM_SECONDS)
        out = []
        for seat in offers.claims_of(s, self.node):
            channel = seat.claim_channel or ""
            if seat.state == "wrap_up" or self.is_live(channel):
                continue
            if seat.claimed_at is not None and seat.claimed_at > limit:
                continue
            out.append(_Orphan(seat.agent_id, seat.state, channel, seat))
        return out

    async def _release_orphans(self, orphans: list[_Orphan]) -> None:
        """Release claims whose call is gone — after asking Asterisk: an agent whose leg
        is still up (its call ended here while the phone still talks, or a call this node
        adopts late) keeps the claim, so no node rings a phone in a call."""
        up: set[str] | None = set()
        if self.legs_up is not None:
            up = await self.legs_up()
        if up is None:
            return  # Asterisk cannot be asked now: the next pass tries again
        for orphan in orphans:
            key = (orphan.agent_id, orphan.claim_channel)
            if orphan.claim_channel in up:
                self.stats.orphans_kept += 1
                if key not in self._kept_orphans:
                    self._kept_orphans.add(key)
                    log.warning(
                        "agent %s: call %s is gone here but its leg is still up on Asterisk; "
                        "the claim is kept",
                        orphan.agent_id,
                        orphan.claim_channel,
                    )
                continue
            self._kept_orphans.discard(key)
            self.stats.orphans_released += 1
            log.info("releasing agent %s: call %s is gone", orphan.agent_id, orphan.claim_channel)
            await self._in_thread(self._release_orphan, orphan)

    def _release_orphan(self, orphan: _Orphan) -> None:
        with self.sessions() as s:
            offers.release_orphan(s, orphan.seat, self.node, self.clock())

    def _controls(self, s: Session, out: _PassResult, now: datetime) -> None:
        pending = s.scalars(
            select(CallControl)
            .where(CallControl.node == self.node, CallControl.status == "pending")
            .order_by(CallControl.id)
        ).all()
        for control in pending:
            if self.is_live(control.channel_id):
                control.status = "taken"
                args = {str(k): str(v) for k, v in (control.args or {}).items()}
                out.deliveries.append(
                    (
                        control.channel_id,
                        inp.ControlRequested(
                            now, control.id, control.action, args, control.requested_by
                        ),
                    )
                )
            else:
                control.status, control.result, control.done_at = "failed", "no such call", now
        if pending:
            s.commit()

    def _waiting_call(self, e: entries.Queued) -> WaitingCall:
        tier = e.tier if e.tier in ("general", "member", "vip") else "general"
        return WaitingCall(
            call_id=_call_id(e),
            queue=e.queue,
            tier=tier,  # type: ignore[arg-type]
            injury=e.injury,
            external=e.external,
            arrived_at=e.arrived_at,
            skill=e.skill,
            priority=e.priority,
            position_hint=e.id,
        )

    def _candidates(self, s: Session, now: datetime) -> list[Candidate]:
        working: dict[str, bool] = {}
        rows = []
        unreachable = self.unreachable()
        for seat in seat_summaries(s, free_only=True):
            if seat.agent_id in unreachable:
                continue  # our Asterisk cannot ring that phone (not registered, refused)
            if seat.team not in working:
                working[seat.team] = self._on_shift(seat.team, now)
            if working[seat.team]:
                rows.append(seat)
        if rows:
            # A phone carrying a call the queue did not give it (app_queue's ringinuse=no).
            busy = phone_store.busy(s, [r.agent_id for r in rows])
            rows = [r for r in rows if r.agent_id not in busy]
        if not rows:
            return []
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        staff = [r.staff_number for r in rows]
        counts: dict[str, int] = {}
        for agent, n in s.execute(
            select(Call.agent, func.count())
            .where(Call.agent.in_(staff), Call.started_at >= midnight)
            .group_by(Call.agent)
        ):
            if agent is not None:
                counts[agent] = n
        # Round robin rotates by the latest offer, read from the seats' history: its row
        # ids are one global sequence, so every node rotates the same way (decision 0009).
        ids = [r.agent_id for r in rows]
        last_offer = dict(
            s.execute(
                select(SeatStateChange.agent_id, func.max(SeatStateChange.id))
                .where(SeatStateChange.agent_id.in_(ids), SeatStateChange.to_state == "ringing")
                .group_by(SeatStateChange.agent_id)
            ).all()
        )
        return [
            Candidate(
                agent_id=r.agent_id,
                skills=r.skills,
                available_since=r.since,
                calls_today=counts.get(r.staff_number, 0),
                last_offered_seq=last_offer.get(r.agent_id) or 0,
            )
            for r in rows
        ]

    def _excluded(self) -> dict[str, set[int]]:
        mono = time.monotonic()
        out: dict[str, set[int]] = {}
        for call_id, agents in list(self.excluded.items()):
            keep = {a: until for a, until in agents.items() if until > mono}
            if keep:
                self.excluded[call_id] = keep
                out[call_id] = set(keep)
            else:
                del self.excluded[call_id]
        return out

    def _distribute(self, s: Session, out: _PassResult, now: datetime) -> None:
        if not self.can_dial():
            # Offers wait for the reconnect; other nodes go on offering their own calls.
            self.stats.passes_not_dialling += 1
            return
        live = self._live(s, now)
        waiting = entries.queued(s, live_nodes=live, now=now)
        if self.rules is not None and self.rules.is_quiet(now):
            # Quiet hours: no customer is dialled; callbacks wait for their end.
            waiting = [e for e in waiting if e.status != "callback"]
        pinned = [e for e in waiting if entries.is_pinned(e)]
        if pinned:
            # Dials an agent asked for go first, to that agent only (decision 0013).
            waiting = [e for e in waiting if not entries.is_pinned(e)]
            for entry in pinned:
                if entry.node != self.node and entry.node in live:
                    continue  # its own node serves it
                job = self._take_callback(s, entry, entry.agent_id, now)
                if job is not None:
                    out.callbacks.append(job)
        if not waiting:
            return
        by_id = {_call_id(e): e for e in waiting}
        calls = [self._waiting_call(e) for e in waiting]
        candidates = self._candidates(s, now)
        assignments: list[Assignment] = []
        if candidates:
            configs = {name: self.catalog.config(name) for name in self.catalog.queues}
            assignments = assign(configs, calls, candidates, now, self.rr, self._excluded())
        offered: set[str] = set()
        for a in assignments:
            entry = by_id[a.call.call_id]
            if entry.status == "callback":
                if entry.node != self.node and entry.node in live:
                    continue  # its own node serves it
                job = self._take_callback(s, entry, a.agent.agent_id, now)
                if job is not None:
                    out.callbacks.append(job)
                continue
            if entry.node != self.node:
                continue  # another node offers its own calls
            if not self.is_live(entry.channel_id):
                continue
            # A fresh instant per offer: the seat's history must not go back in time.
            rung = offers.ring(
                s,
                agent_id=a.agent.agent_id,
                node=self.node,
                channel_id=entry.channel_id,
                now=self.clock(),
                entry_id=entry.id,
                generation=self.generation,
            )
            if rung is None:
                self.stats.lost_claims += 1
                continue
            self.stats.offers += 1
            offered.add(entry.channel_id)
            cfg = self.catalog.config(entry.queue)
            offer = inp.AgentOffered(
                now, rung.agent_id, rung.staff_number, rung.name, rung.endpoint, cfg.ring_timeout
            )
            # Rung now, not when the whole pass is done: each offer goes out at once.
            self._send_now(out, entry.channel_id, offer)
        self._tell_positions(s, out, calls, by_id, offered, now)

    def _take_callback(
        self, s: Session, entry: entries.Queued, agent_id: int | None, now: datetime
    ) -> tuple[str, CallbackJob] | None:
        from ticketdb.models import CallbackRequest

        if entry.callback_id is None:
            return None
        request = s.get(CallbackRequest, entry.callback_id)
        if request is None:
            return None
        if agent_id is None:
            # A worklist dial whose node died mid-dial lost its pin: its agent is the owner.
            agent_id = request.assigned_to
            if agent_id is None:
                return None
        quiet_from = None
        if self.rules is not None:
            if self.rules.is_quiet(self.clock()):
                return None  # checked again at the moment of dialling
            quiet_from = self.rules.quiet_from(self.clock())
        key = f"cb{entry.id}-{request.attempts + 1}-{int(now.timestamp())}"
        rung = offers.ring(
            s,
            agent_id=agent_id,
            node=self.node,
            channel_id=key,
            now=self.clock(),
            generation=self.generation,
        )
        if rung is None:
            if not entries.is_pinned(entry):  # a pinned dial just waits for its agent
                self.stats.lost_claims += 1
            return None
        if not entries.start_callback(
            s, entry_id=entry.id, agent_id=agent_id, node=self.node, now=now
        ):
            offers.no_answer(
                s,
                agent_id=agent_id,
                node=self.node,
                now=now,
                missed=False,
                misses_before_away=1,
                channel_id=key,
            )
            return None
        # A worklist dial is in no queue of the catalog (unless the queues file names one
        # "worklist"): the shipped queue timings apply, and it is not recorded.
        cfg = self.config(entry.queue) or QueueConfig(entry.queue)
        job = CallbackJob(
            entry_id=entry.id,
            callback_id=request.id,
            attempt=request.attempts + 1,
            number=request.number,
            language=request.language,
            queue=entry.queue,
            agent_id=rung.agent_id,
            staff_number=rung.staff_number,
            agent_endpoint=rung.endpoint,
            customer_endpoint=self.settings.callback_endpoint.format(number=request.number),
            ring_timeout=cfg.ring_timeout,
            customer_ring_timeout=self.settings.callback_ring_timeout,
            wrap_up_seconds=cfg.wrap_up_seconds,
            misses_before_away=cfg.misses_before_away,
            caller_id=self.rules.caller_id if self.rules is not None else "",
            quiet_from=quiet_from,
            record=cfg.record,
        )
        return key, job

    def _recent_handles(self, s: Session, cfg: QueueConfig) -> list[float]:
        """The queue's latest handle times for the wait estimate, read at most every few
        seconds (a pass tells positions in every queue; an estimate changes slowly)."""
        mono = time.monotonic()
        cached = self._handles_cache.get(cfg.name)
        if cached is not None and mono - cached[0] < HANDLES_CACHE_SECONDS:
            return cached[1]
        handles = self._read_recent_handles(s, cfg)
        self._handles_cache[cfg.name] = (mono, handles)
        return handles

    def _read_recent_handles(self, s: Session, cfg: QueueConfig) -> list[float]:
        rows = s.execute(
            select(Call.agent_answered_at, Call.ended_at)
            .where(
                Call.queue == cfg.name,
                Call.agent_answered_at.is_not(None),
                Call.ended_at.is_not(None),
            )
            .order_by(Call.ended_at.desc())
            .limit(RECENT_HANDLES)
        ).all()
        return [
            (ended - answered).total_seconds() + cfg.wrap_up_seconds
            for answered, ended in rows
            if answered is not None and ended is not None
        ]

    def _agents_on_queue(self, s: Session, cfg: QueueConfig, now: datetime) -> int:
        return self._staff_with(s, cfg.skills, DUTY_STATES, now)

    def _tell_positions(
        self,
        s: Session,
        out: _PassResult,
        calls: list[WaitingCall],
        by_id: dict[str, entries.Queued],
        offered: set[str],
        now: datetime,
    ) -> None:
        mine = {c.call_id for c in calls if by_id[c.call_id].node == self.node}
        if not mine:
            return
        # One sort per queue, not one per caller: a thousand callers waiting is normal.
        by_queue: dict[str, list[WaitingCall]] = {}
        for call in calls:
            by_queue.setdefault(call.queue, []).append(call)
        for queue, members in by_queue.items():
            cfg = self.config(queue)
            if cfg is None or not any(c.call_id in mine for c in members):
                continue
            handles: list[float] | None = None
            agents = 0
            for position, call in enumerate(order_calls(members, cfg.external_first), start=1):
                entry = by_id[call.call_id]
                if call.call_id not in mine or entry.channel_id in offered:
                    continue
                if entry.status != "waiting":
                    continue
                if not self._staffed(s, cfg, entry.skill, now):
                    # Nobody logged in on shift with a phone we can ring: the caller hears
                    # the queue's "nobody available" path now, not music until max_wait.
                    if entry.channel_id not in self._refused_waiting:
                        self._refused_waiting.add(entry.channel_id)
                        self.stats.refused_unstaffed += 1
                        out.deliveries.append(
                            (entry.channel_id, inp.QueueRefused(now, "no_agents"))
                        )
                    continue
                if handles is None:
                    handles = self._recent_handles(s, cfg)
                    agents = self._agents_on_queue(s, cfg, now)
                wait = estimated_wait(position, handles, agents)
                self._tell(out, entry.channel_id, position, wait, now)

    def _tell(
        self, out: _PassResult, channel_id: str, position: int, wait: float | None, now: datetime
    ) -> None:
        status = (position, None if wait is None else float(round(wait)))
        if self._statuses.get(channel_id) != status:
            self._statuses[channel_id] = status
            out.deliveries.append((channel_id, inp.QueueStatus(now, position, wait)))
