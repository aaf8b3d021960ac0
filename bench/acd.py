"""``hotline bench acd``: the queue engine's distribution with a long queue.

One controller node runs the queue engine (``agents.engine``) against the in-process
ARI simulator; every caller goes straight into one queue (``DirectToQueue``). The agents
log in, then go away (so the queue is staffed and callers are accepted) while ``callers``
callers are placed; once all of them wait in the queue (``queue_entries`` in the
database), every agent comes back at once — the first wave of decisions is made with the
whole queue waiting. Each agent's phone answers after ``ANSWER_AFTER`` s and hangs up
after ``talk_seconds``; with no wrap-up the agent is offered the next caller at once,
until every caller has been served and has a complete record.

Measured:

* decisions per second: offers made (``QueueManager.stats.offers``) over the time from the
  first offer to the last (the ``ringing`` rows' instants); with the pass times (median,
  p99, max) of the passes made while agents were logged in. With ``talk_seconds`` this is
  bounded by the agents' work too; ``first_wave_seconds`` is the engine alone: from the
  agents' return until every agent's phone was ringing;
* availability → originate: for every offer, from the seat becoming ``available`` (the
  ``seat_state_changes`` row before its ``ringing`` row: the agent's return, or the end
  of the previous call) to the simulator creating the agent's leg (``~a`` channels,
  matched to agents by endpoint and order in time). Split into offers after a return
  (picked up by the engine's poll, ``acd.poll_interval``: another process changed the
  seat) and after a call (the engine is woken at once);
* invariants: every call placed has a complete record naming an agent; no double
  assignment — no seat rung while already ringing or on a call (its history in commit
  order), no two legs to one endpoint alive at once (the simulator's channels as they
  were created and ended).

Offers beyond one per caller are second offers: the agent's phone hung up (after
``talk_seconds``) before the controller had bridged it, and the caller went back in line.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.harness import BenchError, fresh_database
from kernel.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from agents.queue_config import QueueCatalog
    from simulator.model import SimChannel

log = logging.getLogger(__name__)

NODE = "bench"
QUEUE = "bench"
DIALLED = "6000"
ANSWER_AFTER = 0.05
# Give up when no call completed (or, before the agents log in, no caller entered the
# queue) for this long: a stuck engine must not hang the benchmark.
STALL_SECONDS = 60.0
POLL = 0.1
# Seat states that hold no call: a ringing seat must have passed through one of them.
FREE_STATES = frozenset({"offline", "available", "wrap_up", "away", "on_leave"})


@dataclass(frozen=True)
class Latency:
    """Availability → originate, in ms (nearest rank, as the simulator's figures)."""

    count: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None

    @classmethod
    def of(cls, seconds: Iterable[float]) -> Latency:
        values = sorted(seconds)
        if not values:
            return cls()

        def ms(p: float) -> float:
            return round(1000 * values[min(len(values) - 1, int(p * len(values)))], 1)

        return cls(len(values), ms(0.5), ms(0.95), ms(0.99), round(1000 * values[-1], 1))

    def text(self) -> str:
        if not self.count:
            return "-"
        return f"{self.p50_ms:g} / {self.p95_ms:g} / {self.p99_ms:g} / {self.max_ms:g} ms"


@dataclass
class AcdBenchResult:
    agents: int
    callers: int
    talk_seconds: float
    database: str
    poll_interval: float
    command: str
    # Filling the queue: callers waiting when the agents came back, and the seconds from
    # the first call placed until then (every caller waiting, the engine done with them).
    waiting_at_start: int = 0
    fill_seconds: float = 0.0
    # Distribution, from the agents' return to the last complete record.
    offers: int = 0
    lost_claims: int = 0
    engine_errors: int = 0
    passes: int = 0
    pass_p50_ms: float | None = None
    pass_p99_ms: float | None = None
    pass_max_ms: float | None = None
    decisions_per_second: float | None = None
    offers_span_seconds: float | None = None
    first_wave_seconds: float | None = None
    return_seconds: float = 0.0  # setting every seat back to available (the bench's writes)
    latency: Latency = field(default_factory=Latency)
    latency_after_return: Latency = field(default_factory=Latency)
    latency_after_call: Latency = field(default_factory=Latency)
    # How late the event loop woke a 10 ms sleep while agents worked: a late loop is late
    # with every ARI event (and a bridge requested after the agent hung up fails).
    loop_lag: Latency = field(default_factory=Latency)
    # Seat history rows whose instant is earlier than the row before them (same seat).
    history_out_of_order: int = 0
    # Invariants.
    calls_placed: int = 0
    records_complete: int = 0
    records_with_agent: int = 0
    records_duplicated: int = 0
    end_reasons: dict[str, int] = field(default_factory=dict)
    agent_legs: int = 0
    offers_without_leg: int = 0
    legs_without_offer: int = 0
    double_rings: int = 0  # a seat rung while ringing or on a call
    overlapping_legs: int = 0  # two legs to one endpoint alive at once
    stalled: bool = False
    wall_seconds: float = 0.0
    load_average_1m_before: float = 0.0
    cpus: int | None = None
    python: str = field(default_factory=lambda: sys.version.split()[0])

    @property
    def ok(self) -> bool:
        """Every call served once with a complete record, no agent given two calls."""
        return (
            not self.stalled
            and self.calls_placed == self.waiting_at_start == self.callers
            and self.records_complete == self.calls_placed
            and self.records_with_agent == self.calls_placed
            and self.records_duplicated == 0
            and self.double_rings == 0
            and self.overlapping_legs == 0
            and self.offers_without_leg == 0
            and self.legs_without_offer == 0
        )

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data

    def format_report(self) -> str:
        rows = [
            ("command", self.command),
            ("database", self.database),
            (
                "queue filled",
                f"{self.waiting_at_start} callers waiting after {self.fill_seconds:g} s",
            ),
            (
                "offers / passes",
                f"{self.offers} offers in {self.passes} passes ({self.lost_claims} claims "
                f"lost, {self.engine_errors} engine errors)",
            ),
            ("decisions per second", f"{self.decisions_per_second} (first to last offer)"),
            (
                "first wave",
                f"every one of {self.agents} agents rung {self.first_wave_seconds} s after "
                f"their return ({self.return_seconds:g} s to set them back)",
            ),
            (
                "pass time p50 / p99 / max",
                f"{self.pass_p50_ms} / {self.pass_p99_ms} / {self.pass_max_ms} ms",
            ),
            (
                "available → originate p50 / p95 / p99 / max",
                f"{self.latency.text()} ({self.latency.count} offers)",
            ),
            (
                "  after the agent's return",
                f"{self.latency_after_return.text()} ({self.latency_after_return.count}; "
                f"picked up by the {self.poll_interval:g} s poll)",
            ),
            (
                "  after a call",
                f"{self.latency_after_call.text()} ({self.latency_after_call.count})",
            ),
            ("event loop lag p50 / p95 / p99 / max", self.loop_lag.text()),
            (
                "records complete / naming an agent / dup",
                f"{self.records_complete} / {self.records_with_agent} / "
                f"{self.records_duplicated} of {self.calls_placed} placed",
            ),
            (
                "double assignments",
                f"{self.double_rings} seats rung while busy, {self.overlapping_legs} "
                "overlapping legs to one phone",
            ),
            (
                "offers ↔ agent legs",
                f"{self.agent_legs} legs; {self.offers_without_leg} offers without a leg, "
                f"{self.legs_without_offer} legs without an offer",
            ),
            ("end reasons", ", ".join(f"{k}: {v}" for k, v in self.end_reasons.items())),
            ("wall time", f"{self.wall_seconds:g} s" + (" (STALLED)" if self.stalled else "")),
        ]
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def format_table(results: Sequence[AcdBenchResult]) -> str:
    """The README's table: one row per result."""
    lines = [
        "| command | db | callers waiting | offers | decisions/s | first wave (all agents "
        "rung) | pass p50 / p99 | available→originate p50 / p95 / p99 / max | after a call "
        "p99 | event-loop lag p99 | records (complete / with agent) | double assignments |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| `{r.command}` | {r.database} | {r.waiting_at_start} | {r.offers} | "
            f"{r.decisions_per_second} | {r.first_wave_seconds} s | "
            f"{r.pass_p50_ms} / {r.pass_p99_ms} ms | {r.latency.text()} | "
            f"{r.latency_after_call.p99_ms} ms | {r.loop_lag.p99_ms} ms | "
            f"{r.records_complete} / {r.records_with_agent} of {r.calls_placed} | "
            f"{r.double_rings + r.overlapping_legs} |"
        )
    return "\n".join(lines)


# -- the scenario ----------------------------------------------------------------------------


def bench_catalog(callers: int) -> QueueCatalog:
    """One queue, room for every caller, no announcements, no wrap-up, nobody timed out."""
    from agents.queue_config import QueueCatalog, QueueConfig

    skills = frozenset({"general"})
    config = QueueConfig(
        QUEUE,
        skills,
        ring_timeout=15,
        max_wait=3600,
        max_length=max(callers, 1),
        wrap_up_seconds=0,
        announce_interval=0,
    )
    return QueueCatalog({QUEUE: skills}, skills, {QUEUE: config})


class _ChannelLog(dict[str, "SimChannel"]):
    """The simulator's channel table, keeping every channel ever put in it (the engine
    drops a channel when it ends) with its creation on the loop's clock — the clock of
    ``SimChannel.ended_at`` — so legs' lifetimes can be compared exactly."""

    def __init__(self, clock: Callable[[], float]) -> None:
        super().__init__()
        self.clock = clock
        self.added: list[tuple[SimChannel, float]] = []

    def __setitem__(self, key: str, value: SimChannel) -> None:
        self.added.append((value, self.clock()))
        super().__setitem__(key, value)


@dataclass(frozen=True)
class _Leg:
    endpoint: str
    created: datetime  # wall clock, as seat history instants
    started: float  # loop clock
    ended: float | None  # loop clock; None: still up


@dataclass(frozen=True)
class _Record:
    channel_id: str
    agent: str | None
    complete: bool
    end_reason: str | None


@dataclass(frozen=True)
class _Change:
    id: int
    agent_id: int
    to_state: str
    at: datetime
    by: str


def _staff(i: int) -> str:
    return f"{90000 + i}"


def _add_agents(sessions: sessionmaker[Session], agents: int) -> dict[int, str]:
    """Agents logged in but away (a meeting): the queue is staffed, nobody is offered
    calls. Returns agent id → endpoint."""
    from agents import seat_store

    endpoints: dict[int, str] = {}
    with sessions() as s:
        for i in range(agents):
            staff = _staff(i)
            agent = seat_store.add_agent(
                s,
                staff_number=staff,
                name=f"Agent {staff}",
                endpoint=f"PJSIP/{staff}",
                team="bench",
                skills={"general": 3},
            )
            now = datetime.now(UTC)
            seat_store.set_state(s, agent_id=agent.id, to_state="available", by=staff, now=now)
            seat_store.set_state(
                s, agent_id=agent.id, to_state="away", reason="meeting", by=staff, now=now
            )
            endpoints[agent.id] = agent.endpoint
    return endpoints


def _back_from_away(sessions: sessionmaker[Session], agent_ids: Iterable[int]) -> None:
    from agents import seat_store
    from ticketdb.models import Agent

    with sessions() as s:
        for agent_id in agent_ids:
            agent = s.get(Agent, agent_id)
            assert agent is not None
            seat_store.set_state(
                s,
                agent_id=agent_id,
                to_state="available",
                by=agent.staff_number,
                now=datetime.now(UTC),
            )


def _count_waiting(sessions: sessionmaker[Session]) -> int:
    from sqlalchemy import func, select

    from ticketdb.models import QueueEntry

    with sessions() as s:
        return int(s.scalar(select(func.count()).select_from(QueueEntry)) or 0)


def _count_complete(sessions: sessionmaker[Session]) -> int:
    from sqlalchemy import func, select

    from ticketdb.models import Call

    with sessions() as s:
        query = (
            select(func.count())
            .select_from(Call)
            .where(Call.ended_at.is_not(None), Call.end_reason.is_not(None))
        )
        return int(s.scalar(query) or 0)


async def _wait_for_count(
    read: Callable[[], int], target: int, on_poll: Callable[[], None] | None = None
) -> tuple[int, bool]:
    """Poll ``read`` (in a thread) until it reaches ``target``; gives up when it has not
    grown for ``STALL_SECONDS``. Returns the last count and whether it stalled."""
    last, progress_at = -1, time.monotonic()
    while True:
        count = await asyncio.to_thread(read)
        if on_poll is not None:
            on_poll()
        if count >= target:
            return count, False
        if count != last:
            last, progress_at = count, time.monotonic()
        elif time.monotonic() - progress_at > STALL_SECONDS:
            log.warning("stuck at %d of %d for %.0f s: giving up", count, target, STALL_SECONDS)
            return count, True
        await asyncio.sleep(POLL)


class _LoopLag:
    """Oversleep of a 10 ms sleep, repeated while it runs."""

    TICK = 0.01

    def __init__(self) -> None:
        self.lags: list[float] = []

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(self.TICK)
            self.lags.append(max(0.0, loop.time() - start - self.TICK))


class _PassTimes:
    """Pass times of the passes made since ``start``: the manager keeps only its last
    thousand, so they are collected as they come."""

    def __init__(self, stats: Any) -> None:
        self.stats = stats
        self.seen = stats.passes
        self.times: list[float] = []

    def collect(self) -> None:
        new = self.stats.passes - self.seen
        if new > 0:
            self.times.extend(self.stats.pass_seconds[-new:])
            self.seen = self.stats.passes


# -- analysis ----------------------------------------------------------------------------------


def _analyse(
    result: AcdBenchResult,
    changes: list[_Change],
    endpoints: dict[int, str],
    legs: list[_Leg],
    returned_at: datetime,
) -> None:
    """Offers ↔ legs, latencies, double assignments, from seat history and the legs."""
    by_agent: dict[int, list[_Change]] = {}
    for c in sorted(changes, key=lambda c: c.id):  # commit order: per seat, its true order
        by_agent.setdefault(c.agent_id, []).append(c)
    legs_to: dict[str, list[_Leg]] = {}
    for leg in sorted(legs, key=lambda leg: leg.started):
        legs_to.setdefault(leg.endpoint, []).append(leg)

    after_return: list[float] = []
    after_call: list[float] = []
    rung_at: list[datetime] = []
    first_rings: list[datetime] = []
    matched = 0
    for agent_id, rows in by_agent.items():
        busy = False
        rings: list[_Change] = []
        freed: list[_Change] = []
        for prev, row in zip([None, *rows], rows, strict=False):
            if prev is not None and row.at < prev.at:
                result.history_out_of_order += 1
            if row.to_state == "ringing":
                if busy:
                    result.double_rings += 1
                busy = True
                assert prev is not None  # a seat starts offline: ringing is never first
                rings.append(row)
                freed.append(prev)
            elif row.to_state in FREE_STATES:
                busy = False
        mine = legs_to.get(endpoints[agent_id], [])
        matched += min(len(rings), len(mine))
        result.offers_without_leg += max(0, len(rings) - len(mine))
        result.legs_without_offer += max(0, len(mine) - len(rings))
        rung_at.extend(r.at for r in rings)
        for before, leg in zip(freed, mine, strict=False):
            wait = (leg.created - before.at).total_seconds()
            # The agent's own return (by their staff number) or the system ending a call.
            (after_call if before.by == "system" else after_return).append(wait)
        if mine:
            first_rings.append(mine[0].created)
    known = {endpoints[a] for a in by_agent}
    result.legs_without_offer += sum(len(v) for k, v in legs_to.items() if k not in known)
    result.latency = Latency.of(after_return + after_call)
    result.latency_after_return = Latency.of(after_return)
    result.latency_after_call = Latency.of(after_call)
    result.agent_legs = len(legs)

    for mine in legs_to.values():
        up_until = float("-inf")  # the latest end of the legs before (inf: still up)
        for leg in mine:
            if leg.started < up_until:
                result.overlapping_legs += 1
            up_until = max(up_until, float("inf") if leg.ended is None else leg.ended)

    if len(rung_at) >= 2:
        span = (max(rung_at) - min(rung_at)).total_seconds()
        result.offers_span_seconds = round(span, 3)
        result.decisions_per_second = round(len(rung_at) / span, 1) if span > 0 else None
    if len(first_rings) == len(endpoints):
        result.first_wave_seconds = round((max(first_rings) - returned_at).total_seconds(), 3)


def _pass_figures(result: AcdBenchResult, times: list[float]) -> None:
    result.passes = len(times)
    if times:
        ordered = sorted(times)

        def ms(p: float) -> float:
            return round(1000 * ordered[min(len(ordered) - 1, int(p * len(ordered)))], 1)

        result.pass_p50_ms, result.pass_p99_ms = ms(0.5), ms(0.99)
        result.pass_max_ms = round(1000 * ordered[-1], 1)


def _read_back(
    sessions: sessionmaker[Session], placed: list[str]
) -> tuple[list[_Change], list[_Record]]:
    """The seat history, and the records of the calls placed."""
    from sqlalchemy import select

    from ticketdb.models import Call, SeatStateChange

    with sessions() as s:
        changes = [
            _Change(r.id, r.agent_id, r.to_state, r.at, r.by)
            for r in s.scalars(select(SeatStateChange).order_by(SeatStateChange.id))
        ]
        records: list[_Record] = []
        for i in range(0, len(placed), 500):
            chunk = placed[i : i + 500]
            for rec in s.scalars(select(Call).where(Call.channel_id.in_(chunk))):
                records.append(_Record(rec.channel_id, rec.agent, rec.is_complete, rec.end_reason))
        return changes, records


# -- the run -----------------------------------------------------------------------------------


def _node_settings(site: Settings, ari_url: str, password: str, db_url: str) -> Settings:
    data = site.model_dump()
    data["node"] = {**data["node"], "name": NODE}
    data["ari"] = {
        **data["ari"],
        "url": ari_url,
        "username": "hotline",
        "password": password,
        "app": "hotline",
    }
    data["database"] = {"url": db_url, "auto_upgrade": True}
    return Settings.model_validate(data)


def command_line(agents: int, callers: int, talk_seconds: float, db_url: str | None) -> str:
    parts = ["hotline bench acd", f"--agents {agents}", f"--callers {callers}"]
    if talk_seconds != 0.5:
        parts.append(f"--talk {talk_seconds:g}")
    if db_url is not None:
        parts.append("--db postgresql://…" if db_url.startswith("postgresql") else "--db …")
    return " ".join(parts)


async def run_acd_bench(
    agents: int = 100,
    callers: int = 1000,
    db_url: str | None = None,
    talk_seconds: float = 0.5,
    *,
    settings: Settings | None = None,
) -> AcdBenchResult:
    """Run the scenario once. ``settings``: the site's (prompts, ``acd`` timers, ARI
    client limits; default: ``load_settings()``); the node gets its own name, database
    and the simulator. ``db_url`` None: a fresh SQLite file; PostgreSQL: a fresh schema,
    dropped afterwards."""
    if agents < 1 or callers < 1:
        raise BenchError("--agents and --callers must be at least 1")
    if talk_seconds <= 0:
        raise BenchError("--talk must be more than 0 s")
    if settings is None:
        from kernel.settings import load_settings

        settings = load_settings(None)
    work = Path(tempfile.mkdtemp(prefix="hotline-bench-acd-"))
    try:
        with fresh_database(db_url, work, "bench_acd") as url:
            result = await _run(settings, agents, callers, talk_seconds, url, work)
        result.command = command_line(agents, callers, talk_seconds, db_url)
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


async def _run(
    site: Settings, agents: int, callers: int, talk_seconds: float, db_url: str, work: Path
) -> AcdBenchResult:
    from hotline.node import ControllerNode
    from ivr.prompts.build import system_prompts
    from ivr.queue.direct import DirectToQueue
    from simulator.server import AriSimulator
    from ticketdb.engine import make_sessionmaker

    password = secrets.token_urlsafe(12)
    # Prompts are built (or found in the cache) before anything is measured.
    prompts = await asyncio.to_thread(system_prompts, site)
    sim = AriSimulator("hotline", password, site.paths.prompts_dir.resolve(), work / "sim-rec")
    channels = _ChannelLog(asyncio.get_running_loop().time)
    sim.engine.channels = channels
    await sim.start("127.0.0.1", 0)
    settings = _node_settings(site, sim.base_url, password, db_url)
    request = {"queue": QUEUE}
    node = ControllerNode(
        settings,
        prompts,
        service_factory=lambda: DirectToQueue(request),
        queues=bench_catalog(callers),
    )
    result = AcdBenchResult(
        agents=agents,
        callers=callers,
        talk_seconds=talk_seconds,
        database=db_url.split(":", 1)[0],
        poll_interval=settings.acd.poll_interval,
        command="",
        load_average_1m_before=round(os.getloadavg()[0], 2),
        cpus=os.cpu_count(),
    )
    try:
        await node.start()
        await node.wait_connected()
        acd = node.acd
        assert acd is not None
        sessions = make_sessionmaker(node.engine)
        endpoints = await asyncio.to_thread(_add_agents, sessions, agents)
        for endpoint in endpoints.values():
            sim.set_phone(endpoint, ANSWER_AFTER, hangup_after=talk_seconds)

        fill0 = time.perf_counter()
        placed: list[str] = []
        for i in range(callers):
            call = await sim.place_call(DIALLED, f"+86139{i:08d}", script="")
            placed.append(call.channel_id)
        result.calls_placed = len(placed)
        waiting, _ = await _wait_for_count(lambda: _count_waiting(sessions), callers)
        result.waiting_at_start = waiting
        # Enqueue work still queued for the worker threads would be counted in the first
        # passes' times: start once a pass begun after the last entry has finished.
        settled = acd.stats.passes + 2
        await _wait_for_count(lambda: acd.stats.passes, settled)
        result.fill_seconds = round(time.perf_counter() - fill0, 2)

        passes = _PassTimes(acd.stats)
        offers0, lost0, errors0 = acd.stats.offers, acd.stats.lost_claims, acd.stats.errors
        returned_at = datetime.now(UTC)
        wall0 = time.perf_counter()
        await asyncio.to_thread(_back_from_away, sessions, endpoints)
        result.return_seconds = round(time.perf_counter() - wall0, 3)
        lag = _LoopLag()
        lag_task = asyncio.create_task(lag.run())
        try:
            _, stalled = await _wait_for_count(
                lambda: _count_complete(sessions), len(placed), passes.collect
            )
        finally:
            lag_task.cancel()
        result.loop_lag = Latency.of(lag.lags)
        result.stalled = stalled
        result.wall_seconds = round(time.perf_counter() - wall0, 2)
        result.offers = acd.stats.offers - offers0
        result.lost_claims = acd.stats.lost_claims - lost0
        result.engine_errors = acd.stats.errors - errors0
        _pass_figures(result, passes.times)
        changes, records = await asyncio.to_thread(_read_back, sessions, placed)
    finally:
        await node.stop()
        await sim.stop()

    legs = [
        _Leg(ch.endpoint, ch.created, started, ch.ended_at)
        for ch, started in channels.added
        if "~a" in ch.id and ch.created is not None
    ]
    _analyse(result, changes, endpoints, legs, returned_at)
    result.records_complete = len({r.channel_id for r in records if r.complete})
    result.records_with_agent = len({r.channel_id for r in records if r.complete and r.agent})
    result.records_duplicated = len(records) - len({r.channel_id for r in records})
    result.end_reasons = dict(Counter(r.end_reason or "-" for r in records).most_common())
    return result


# -- the command -------------------------------------------------------------------------------


def main(
    settings: Settings,
    agents: int,
    callers: int,
    *,
    talk_seconds: float,
    db_url: str | None,
    as_json: bool,
    verbose: bool = False,
) -> int:
    """The CLI: 0 when every invariant held, 1 when not, 2 when it cannot run as asked."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        result = asyncio.run(
            run_acd_bench(agents, callers, db_url, talk_seconds, settings=settings)
        )
    except BenchError as exc:
        print(f"hotline: error: {exc}", file=sys.stderr)
        return 2
    if as_json:
        print(json.dumps(result.as_json(), ensure_ascii=False, indent=2))
    else:
        print(result.format_report())
    return 0 if result.ok else 1
