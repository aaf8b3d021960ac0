"""``hotline bench load``: a busy hour on one controller — Poisson arrivals of callers with
a mix of behaviours, agents with log-normal handle times — and what it costs.

The controller runs as in production: ``hotline run`` in a process of its own, with the
site's settings pointed at the ARI simulator, the run's database and a copy of the menus;
only three files are the benchmark's own, so the figures do not depend on the time of
day: a calendar open around the clock, no shift rules (every agent logged in may take
calls), and the site's queues with the benchmark's wrap-up time. The simulator and the
agents' phones run in this process, or in one of their own with ``--sim-process``.

Callers (the routes are found by reading the live menu, breadth first, as a general
caller while the desk is open):

* ``self_service`` — to the first information option (telecom: queries → ways to pay),
  listen to it for a few seconds, hang up;
* ``queue`` — to one of the menu's queues (chosen at random) and wait for an agent; the
  agent's phone hangs up after the handle time;
* ``abandon`` — to a queue, then hang up after a patience of 0.5–1.5 × ``--patience``
  (answered first, if an agent is quicker);
* ``callback`` — to the callback request, confirm the number with 1, let the IVR say
  goodbye.

Each caller listens ``--think`` seconds into every prompt before pressing its key.
Agents: ``--agents`` seats (``agents.seat_store``) with every skill the queues need, logged
in; their phones answer after ``--answer-after`` s and hang up after a handle time drawn
for every call from a log-normal distribution (mean ``--handle-time-mean``, sigma of the
log 0.5); then the queue's wrap-up (``--wrap-up``) before the next call.

After the arrivals stop, calls are given ``--drain`` seconds to end; callers still on the
line then hang up (``calls_forced_off``). Figures, over the busy period (first arrival to
the last call ended):

* offered / answered / abandoned / self-served / callbacks / refused, from the records
  (callers who hang up during "connecting you", before the queue takes them, are
  ``abandoned_before_queue``: not in the queue's figures, as on the wallboard);
  ``calls_as_scripted``: calls whose record shows what their caller set out to do;
* service level: answered within 15 s of entering the queue ÷ (answered + abandoned), the
  wallboard's definition (``reporting.wallboard``);
* event → command latency: timed by the simulator, as Asterisk would see it, from an
  event to the controller's next request on that channel (the method of ``bench ivr``).
  The headline is a caller's digit → the next request: a digit always asks for one at
  once. StasisStart and PlaybackFinished are timed too and reported apart — after some
  of them the controller rightly waits (see ``latency``). Also the controller's own
  histogram (event in → its commands issued), from its /metrics;
* ARI requests per second (the simulator's count); the controller's CPU (% of one core,
  ``/proc/<pid>/stat``: every thread of the process) and RSS each second;
* DB writes per second: call-record operations the controller's record writer committed
  (``hotline_records_written_total`` on its /metrics: call starts and ends, menu steps,
  queue legs … every write of the call records, which is what the invariant is about).
  The queue engine's own transactions (seat states, queue entries) are not in it; they
  follow the calls, so the figure is a floor of the database's work, not all of it;
* peak concurrent calls: the most call records open at one instant;
* the invariant: every call placed has exactly one complete record (``records_lost``,
  ``records_duplicated``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import secrets
import shutil
import sys
import tempfile
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from bench.harness import (
    BenchError,
    ControllerProcess,
    Phones,
    Sampler,
    World,
    counter_delta,
    free_port,
    fresh_database,
    general_caller_when_open,
    histogram_quantile,
    settings_toml,
)
from kernel.settings import Settings

log = logging.getLogger(__name__)

BEHAVIOURS = ("self_service", "queue", "abandon", "callback")
DEFAULT_MIX = {"self_service": 0.3, "queue": 0.5, "abandon": 0.1, "callback": 0.1}
# What a caller's record may show when the call went as its caller meant it to.
AS_SCRIPTED = {
    "self_service": frozenset({"self_served"}),
    "queue": frozenset({"answered"}),
    "abandon": frozenset({"abandoned", "abandoned_before_queue", "answered"}),
    "callback": frozenset({"callback"}),
}
DIALLED = "6000"
NODE = "bench"
SERVICE_LEVEL_SECONDS = 15.0
# A self-service caller listens this long to the information, then hangs up.
LISTEN_SECONDS = 3.0
# Records still settling after the last call ended: given up when none completed for this long.
SETTLE_STALL_SECONDS = 20.0
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# End reasons of a caller the queue could not take (``ivr.queue.service.REFUSAL_REASONS``).
QUEUE_REFUSALS = frozenset({"queue_full", "queue_timeout", "no_agents"})
# What the simulator's dialplan plays a caller when no Stasis app is connected.
FALLBACK_PROMPT = "custom/fallback_busy"


# -- routes through the menu ------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    keys: tuple[str, ...]
    target: str  # a queue's name, "info" or "callback"


@dataclass(frozen=True)
class MenuRoutes:
    self_service: Route | None
    queues: tuple[Route, ...]
    callback: Route | None

    def for_behaviour(self, behaviour: str) -> tuple[Route, ...]:
        if behaviour in ("queue", "abandon"):
            return self.queues
        route = self.self_service if behaviour == "self_service" else self.callback
        return () if route is None else (route,)


def menu_routes(menu: Any) -> MenuRoutes:
    """The shortest key routes (breadth first, keys in order) of a general caller while
    the desk is open to: the first information option, every queue, the callback request."""
    spec = menu.spec
    queues: dict[str, Route] = {}
    info: Route | None = None
    callback: Route | None = None
    seen: set[str] = set()
    frontier: deque[tuple[str, tuple[str, ...]]] = deque([(spec.start, ())])
    while frontier:
        node_id, keys = frontier.popleft()
        if node_id in seen:
            continue
        seen.add(node_id)
        node = spec.nodes[node_id]
        if node.type == "branch":
            chosen = next(
                (r.then for r in node.rules if general_caller_when_open(r.if_)), node.else_
            )
            options: list[tuple[str | None, Any]] = [(None, chosen)]
        else:
            options = sorted(node.options.items())
        for key, option in options:
            path = keys if key is None else (*keys, key)
            action = option
            while action is not None and action.language is not None:
                action = action.then  # "1": {language: zh, then: {menu: main}}
            if action is None:
                continue
            if action.menu is not None:
                frontier.append((action.menu, path))
            elif action.queue is not None:
                queues.setdefault(action.queue, Route(path, action.queue))
            elif action.info is not None and info is None:
                info = Route(path, "info")
            elif action.callback_request and callback is None:
                callback = Route(path, "callback")
    return MenuRoutes(info, tuple(queues.values()), callback)


def script_for(behaviour: str, route: Route, think: float, patience: float) -> str:
    """The simulator's caller script (``simulator.callers``) for one caller."""
    wait = f"wait {think:g}; " if think > 0 else ""
    steps = [f"wait for prompt; {wait}press {k}" for k in route.keys]
    if behaviour == "self_service":
        steps.append(f"wait for prompt; wait {LISTEN_SECONDS:g}; hang up")
    elif behaviour == "abandon":
        steps.append(f"wait {patience:.1f}; hang up")
    elif behaviour == "callback":
        steps.append(f"wait for prompt; {wait}press 1")  # "press 1 to confirm the number"
    # queue: on the line until the agent hangs up
    return "; ".join(steps)


def parse_mix(text: str) -> dict[str, float]:
    """``self_service=0.3,queue=0.5,…`` → shares summing to 1 (unnamed behaviours: 0)."""
    mix: dict[str, float] = {}
    for part in text.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep or name not in BEHAVIOURS:
            raise BenchError(
                f"--mix {text!r}: each part must be NAME=SHARE, NAME one of {', '.join(BEHAVIOURS)}"
            )
        try:
            share = float(value)
        except ValueError:
            raise BenchError(f"--mix: {name}={value!r} is not a number") from None
        if share < 0:
            raise BenchError(f"--mix: {name} must not be negative")
        mix[name] = share
    total = sum(mix.values())
    if total <= 0:
        raise BenchError("--mix: the shares add up to 0")
    return {b: mix.get(b, 0.0) / total for b in BEHAVIOURS}


# -- the run's configuration --------------------------------------------------------------------


@dataclass(frozen=True)
class LoadConfig:
    rate: float  # calls per second (Poisson)
    duration: float  # seconds of arrivals
    agents: int
    mix: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_MIX))
    handle_time_mean: float = 60.0
    handle_time_sigma: float = 0.5
    answer_after: float = 1.0
    wrap_up: float = 5.0
    think: float = 1.0
    patience: float = 10.0
    drain: float = 120.0
    db_url: str | None = None
    sim_process: bool = False
    seed: int | None = None
    # Only these queues for queue and abandon callers (None: every queue of the menu).
    queues: tuple[str, ...] | None = None

    def check(self) -> None:
        if self.rate <= 0 or self.duration <= 0:
            raise BenchError("--rate and --duration must be more than 0")
        if self.agents < 0:
            raise BenchError("--agents must not be negative")
        if self.handle_time_mean <= 0 or self.wrap_up < 0 or self.think < 0:
            raise BenchError("--handle-time-mean must be more than 0; --wrap-up, --think ≥ 0")
        if self.patience <= 0 or self.drain < 0:
            raise BenchError("--patience must be more than 0 and --drain at least 0")

    def command(self, name: str = "load") -> str:
        parts = [f"hotline bench {name}", f"--rate {self.rate:g}"]
        parts += [f"--duration {self.duration:g}", f"--agents {self.agents}"]
        if dict(self.mix) != DEFAULT_MIX:
            parts.append("--mix " + ",".join(f"{b}={self.mix[b]:.2g}" for b in BEHAVIOURS))
        parts.append(f"--handle-time-mean {self.handle_time_mean:g}")
        if self.wrap_up != LoadConfig.wrap_up:
            parts.append(f"--wrap-up {self.wrap_up:g}")
        if self.think != LoadConfig.think:
            parts.append(f"--think {self.think:g}")
        if self.db_url is not None:
            parts.append(
                "--db postgresql://…" if self.db_url.startswith("postgresql") else "--db …"
            )
        if self.sim_process:
            parts.append("--sim-process")
        return " ".join(parts)


# Settings changes a caller of ``LoadRun`` may make to the controller's settings (as the
# dict about to be validated) before it starts, given the run's work directory.
Overrides = Callable[[dict[str, Any], Path], None]


@dataclass
class Arrival:
    channel_id: str
    behaviour: str
    target: str
    placed_at: float  # seconds since the run's first arrival window started


@dataclass(frozen=True)
class Snapshot:
    """What the counters said at one instant (to take rates between two)."""

    at: float  # monotonic
    cpu_seconds: float | None
    sim: dict[str, Any]
    metrics: dict[str, float] | None


def _open_calendar(site: Settings, path: Path) -> None:
    """Every calendar of the site's file (or "default"), open all day every day."""
    source = site.paths.calendar_file
    data = yaml.safe_load(source.read_text()) if source.exists() else None
    data = data if isinstance(data, dict) else {}
    names = list((data.get("calendars") or {"default": None}).keys())
    week = {day: ["00:00-24:00"] for day in WEEKDAYS}
    out = {
        "timezone": data.get("timezone", "UTC"),
        "calendars": {name: {"weekly": week} for name in names},
    }
    path.write_text(yaml.safe_dump(out, sort_keys=False))


def _bench_queues(site: Settings, path: Path, wrap_up: float) -> None:
    """The site's queues with the run's wrap-up time for every queue."""
    data = yaml.safe_load(site.paths.queues_file.read_text()) or {}
    data.setdefault("defaults", {})["wrap_up_seconds"] = round(wrap_up)
    for queue in (data.get("queues") or {}).values():
        if isinstance(queue, dict):
            queue.pop("wrap_up_seconds", None)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def controller_settings(
    site: Settings,
    work: Path,
    db_url: str,
    password: str,
    ari_url: str,
    ops_port: int,
    overrides: Overrides | None = None,
) -> Settings:
    """The site's settings for the run's controller: the simulator, the run's database and
    files (absolute paths: the child's working directory is ours, but say it anyway)."""
    data = site.model_dump(mode="json")
    data["node"] = {**data["node"], "name": NODE, "log_format": "json"}
    data["ari"] = {
        **data["ari"],
        "url": ari_url,
        "username": "hotline",
        "password": password,
        "app": "hotline",
    }
    data["database"] = {"url": db_url, "auto_upgrade": True}
    paths = {k: str(Path(v).resolve()) for k, v in data["paths"].items()}
    paths.update(
        menus_dir=str(work / "menus"),
        calendar_file=str(work / "calendar.yaml"),
        queues_file=str(work / "queues.yaml"),
        shifts_file=str(work / "no-shifts.yaml"),  # absent: no shift rules
        calls_dir=str(work / "calls"),
    )
    data["paths"] = paths
    data["web"] = {**data["web"], "enabled": False}
    data["scheduler"] = {**data["scheduler"], "enabled": False}
    data["ops"] = {**data.get("ops", {}), "host": "127.0.0.1", "port": ops_port}
    if overrides is not None:
        overrides(data, work)
    return Settings.model_validate(data)


def _seed_agents(db_url: str, agents: int, skills: Iterable[str]) -> list[str]:
    """``agents`` seats with every skill, logged in and available; their endpoints."""
    from datetime import UTC

    from agents import seat_store
    from ticketdb.engine import make_engine, make_sessionmaker
    from ticketdb.migrate import upgrade

    upgrade(db_url)
    engine = make_engine(db_url)
    endpoints = []
    try:
        with make_sessionmaker(engine)() as s:
            levels = {skill: 3 for skill in sorted(skills)}
            for i in range(agents):
                staff = f"{70001 + i}"
                agent = seat_store.add_agent(
                    s,
                    staff_number=staff,
                    name=f"Bench agent {staff}",
                    endpoint=f"PJSIP/{staff}",
                    team="bench",
                    skills=levels,
                )
                seat_store.set_state(
                    s, agent_id=agent.id, to_state="available", by=staff, now=datetime.now(UTC)
                )
                endpoints.append(agent.endpoint)
    finally:
        engine.dispose()
    return endpoints


# -- the run ---------------------------------------------------------------------------------


class LoadRun:
    """One run: database, world, controller; callers offered in windows; the figures.

    ``async with LoadRun(site, config) as run:`` then ``offer`` (arrivals), ``drain``
    (until the callers are gone), ``settle`` (until their records are complete),
    ``stop_controller`` and ``records``; ``run_load``, ``soak`` and ``faults`` put their
    own steps in between."""

    def __init__(
        self,
        site: Settings,
        config: LoadConfig,
        overrides: Overrides | None = None,
    ) -> None:
        config.check()
        self.site = site
        self.config = config
        self.overrides = overrides
        self.rng = random.Random(config.seed)
        self.work = Path(tempfile.mkdtemp(prefix="hotline-bench-load-"))
        self._stack = contextlib.ExitStack()
        self.db_url = ""
        self.password = secrets.token_urlsafe(12)
        self.arrivals: dict[str, Arrival] = {}
        self.place_errors = 0
        self.forced_off = 0
        self.away: set[str] = set()
        self.routes = MenuRoutes(None, (), None)
        self.settings: Settings | None = None
        self.world: World | None = None
        self.controller: ControllerProcess | None = None
        self.sampler: Sampler | None = None
        self._t0 = time.monotonic()
        self._seq = 0
        self.tag = f"{random.Random().randrange(10**4):04d}"

    async def __aenter__(self) -> LoadRun:
        try:
            await self._setup()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _setup(self) -> None:
        from hotline.node import prepare_ivr

        c, site = self.config, self.site
        self.db_url = self._stack.enter_context(fresh_database(c.db_url, self.work, "bench_load"))
        shutil.copytree(site.paths.menus_dir, self.work / "menus")
        _open_calendar(site, self.work / "calendar.yaml")
        _bench_queues(site, self.work / "queues.yaml", c.wrap_up)
        ops_port = free_port()
        # The controller's settings with a placeholder simulator address: prompts and menu
        # are built (and checked) here, before anything is measured.
        draft = controller_settings(
            site, self.work, self.db_url, self.password, "http://127.0.0.1:1", ops_port
        )
        parts = await asyncio.to_thread(prepare_ivr, draft)
        self.routes = menu_routes(parts.menus.current)
        if c.queues is not None:
            kept = tuple(r for r in self.routes.queues if r.target in c.queues)
            self.routes = replace(self.routes, queues=kept)
        for behaviour, share in c.mix.items():
            if share > 0 and not self.routes.for_behaviour(behaviour):
                raise BenchError(
                    f"menu {parts.menus.current.name!r} has no route for {behaviour} callers"
                )
        assert parts.queues is not None
        skills = set(parts.queues.skills)
        endpoints = await asyncio.to_thread(_seed_agents, self.db_url, c.agents, skills)
        phones = Phones(
            tuple(endpoints), c.answer_after, c.handle_time_mean, c.handle_time_sigma, c.seed
        )
        self.world = await World.start(
            self.password,
            draft.paths.prompts_dir,
            self.work / "sim-recordings",
            phones,
            in_process=not c.sim_process,
        )
        self.settings = controller_settings(
            site,
            self.work,
            self.db_url,
            self.password,
            self.world.base_url,
            ops_port,
            self.overrides,
        )
        config_file = self.work / "hotline.toml"
        config_file.write_text(settings_toml(self.settings))
        self.controller = ControllerProcess(
            config_file, self.work / "controller.log", f"http://127.0.0.1:{ops_port}"
        )
        await self.controller.start()
        await self.controller.wait_ready(self.world.http)
        self.sampler = Sampler(self.controller)
        self.sampler.start()

    async def close(self) -> None:
        try:
            if self.sampler is not None:
                await self.sampler.stop()
            if self.controller is not None:
                await self.controller.stop()
            if self.world is not None:
                await self.world.stop()
            self._stack.close()  # drops the run's PostgreSQL schema
        finally:
            shutil.rmtree(self.work, ignore_errors=True)

    # -- steps ------------------------------------------------------------------------------

    def now(self) -> float:
        """Seconds since the run was set up (the arrivals' and faults' clock)."""
        return time.monotonic() - self._t0

    async def snapshot(self) -> Snapshot:
        assert self.world is not None and self.controller is not None
        return Snapshot(
            time.monotonic(),
            self.controller.cpu_seconds(),
            await self.world.stats(),
            await self.controller.metrics(self.world.http),
        )

    async def offer(self, duration: float | None = None, rate: float | None = None) -> None:
        """Poisson arrivals at ``rate`` for ``duration`` s (default: the config's)."""
        duration = self.config.duration if duration is None else duration
        rate = self.config.rate if rate is None else rate
        start = time.monotonic()
        tasks: list[asyncio.Task[None]] = []
        t = self.rng.expovariate(rate)
        while t < duration:
            delay = start + t - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self._place()))
            t += self.rng.expovariate(rate)
        for result in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(result, Exception):
                self.place_errors += 1
                log.warning("placing a call failed: %s", result)
        left = start + duration - time.monotonic()
        if left > 0:
            await asyncio.sleep(left)

    async def _place(self) -> None:
        assert self.world is not None
        c = self.config
        behaviour = self.rng.choices(BEHAVIOURS, [c.mix.get(b, 0.0) for b in BEHAVIOURS])[0]
        route = self.rng.choice(self.routes.for_behaviour(behaviour))
        patience = c.patience * self.rng.uniform(0.5, 1.5)
        self._seq += 1
        number = f"+86139{self.tag}{self._seq:04d}"
        at = self.now()
        script = script_for(behaviour, route, c.think, patience)
        channel = await self.world.place(DIALLED, number, script)
        self.arrivals[channel] = Arrival(channel, behaviour, route.target, round(at, 3))

    async def live(self) -> int:
        """Callers on the line now."""
        assert self.world is not None
        stats = await self.world.stats()
        return int(stats["calls_placed"]) - int(stats["calls_ended"])

    async def drain(self, timeout: float | None = None) -> int:
        """Until every caller has hung up or been hung up on; after ``timeout`` s (default
        ``--drain``) the callers still on the line hang up. Returns how many did."""
        assert self.world is not None
        timeout = self.config.drain if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while await self.live() > 0:
            if time.monotonic() > deadline:
                left = await self.world.live_calls()
                for channel in left:
                    await self.world.hang_up(channel)
                self.forced_off += len(left)
                end = time.monotonic() + 30
                while await self.live() > 0 and time.monotonic() < end:  # noqa: ASYNC110
                    await asyncio.sleep(0.2)
                return len(left)
            await asyncio.sleep(0.2)
        return 0

    async def settle(self) -> bool:
        """Until every call placed has a complete record; False when they stopped coming
        for ``SETTLE_STALL_SECONDS`` (the figures then say how many are missing)."""
        self.away = await self.turned_away()
        best, progress = -1, time.monotonic()
        while True:
            done = await asyncio.to_thread(_count_complete, self.db_url, list(self.arrivals))
            if done >= len(self.arrivals) - len(self.away):
                return True
            if done > best:
                best, progress = done, time.monotonic()
            elif time.monotonic() - progress > SETTLE_STALL_SECONDS:
                return False
            await asyncio.sleep(0.5)

    async def stop_controller(self) -> int | None:
        """SIGTERM: it drains its work and flushes its records; its exit status."""
        assert self.controller is not None
        if self.sampler is not None:
            await self.sampler.stop()
        return await self.controller.stop()

    # -- figures ------------------------------------------------------------------------------

    async def turned_away(self) -> set[str]:
        """Calls that never reached the controller: no app was connected when they came
        in, so the dialplan played its apology and hung up (Asterisk does the same). No
        record can be expected of them; they are counted on their own."""
        assert self.world is not None
        calls = await self.world.calls()
        return {
            c["channel_id"]
            for c in calls
            if c["channel_id"] in self.arrivals
            and any(FALLBACK_PROMPT in h["media"] for h in c["heard"])
        }

    def records(self) -> dict[str, Any]:
        """The records of the calls placed: the invariant and what happened to each (the
        calls turned away as of the last ``settle``)."""
        return _analyse_records(self.db_url, self.arrivals, self.away)

    def controller_log(self) -> dict[str, Any]:
        """Warnings and errors the controller logged, by logger (with one example)."""
        assert self.controller is not None
        counts: Counter[str] = Counter()
        example: dict[str, str] = {}
        for line in self.controller.log_text().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if not isinstance(entry, dict) or entry.get("level") not in ("WARNING", "ERROR"):
                continue
            key = f"{entry['level']} {entry.get('logger', '?')}"
            counts[key] += 1
            example.setdefault(key, str(entry.get("msg", ""))[:160])
        return {k: {"count": n, "example": example[k]} for k, n in counts.most_common(12)}


def _count_complete(db_url: str, channels: list[str]) -> int:
    from sqlalchemy import func, select

    from ticketdb.engine import make_engine, make_sessionmaker
    from ticketdb.models import Call

    engine = make_engine(db_url)
    try:
        total = 0
        with make_sessionmaker(engine)() as s:
            for i in range(0, len(channels), 500):
                query = (
                    select(func.count(func.distinct(Call.channel_id)))
                    .where(Call.channel_id.in_(channels[i : i + 500]))
                    .where(Call.ended_at.is_not(None), Call.end_reason.is_not(None))
                )
                total += int(s.scalar(query) or 0)
        return total
    finally:
        engine.dispose()


def _outcome(row: Any, callbacks: set[str]) -> str:
    if row.ended_at is None or row.end_reason is None:
        return "incomplete"
    if row.agent_answered_at is not None:
        return "answered"
    if row.end_reason == "callback_request" or row.channel_id in callbacks:
        return "callback"
    if row.queue is not None:
        if row.end_reason == "abandoned":
            return "abandoned"
        if row.queue_entered_at is None and row.end_reason == "caller_hangup":
            # The menu chose the queue; the caller hung up during "connecting you".
            return "abandoned_before_queue"
        if row.end_reason in QUEUE_REFUSALS:
            return f"refused:{row.end_reason}"
        return f"queue:{row.end_reason}"
    if row.end_reason == "caller_hangup":
        return "self_served"
    return f"ended:{row.end_reason}"


def _analyse_records(
    db_url: str, arrivals: Mapping[str, Arrival], turned_away: set[str]
) -> dict[str, Any]:
    from sqlalchemy import select

    from ticketdb.engine import make_engine, make_sessionmaker
    from ticketdb.models import Call, CallbackRequest

    channels = list(arrivals)
    rows: list[Any] = []
    callbacks: set[str] = set()
    engine = make_engine(db_url)
    try:
        with make_sessionmaker(engine)() as s:
            for i in range(0, len(channels), 500):
                chunk = channels[i : i + 500]
                rows += s.execute(
                    select(
                        Call.channel_id,
                        Call.started_at,
                        Call.ended_at,
                        Call.end_reason,
                        Call.queue,
                        Call.queue_entered_at,
                        Call.agent_answered_at,
                        Call.wait_seconds,
                    ).where(Call.channel_id.in_(chunk))
                ).all()
                callbacks |= set(
                    s.scalars(
                        select(CallbackRequest.channel_id).where(
                            CallbackRequest.channel_id.in_(chunk)
                        )
                    )
                )
    finally:
        engine.dispose()
    by_channel: dict[str, Any] = {}
    for row in rows:
        by_channel.setdefault(row.channel_id, row)
    outcomes = {ch: _outcome(row, callbacks) for ch, row in by_channel.items()}
    outcomes |= {ch: "turned_away" for ch in turned_away if ch not in outcomes}
    counts = Counter(outcomes.get(ch, "no_record") for ch in channels)
    complete = sum(1 for ch, o in outcomes.items() if o not in ("incomplete", "turned_away"))
    expected = len(channels) - len(turned_away - set(by_channel))
    as_scripted = {ch for ch, a in arrivals.items() if outcomes.get(ch) in AS_SCRIPTED[a.behaviour]}
    # Service level and ASA as the wallboard counts them.
    waits = []
    for row in by_channel.values():
        if row.agent_answered_at is None:
            continue
        if row.wait_seconds is not None:
            waits.append(max(0.0, float(row.wait_seconds)))
        elif row.queue_entered_at is not None:
            waits.append(max(0.0, (row.agent_answered_at - row.queue_entered_at).total_seconds()))
    answered, abandoned = counts["answered"], counts["abandoned"]
    on_time = sum(1 for w in waits if w <= SERVICE_LEVEL_SECONDS)
    # The most records open at one instant: ends before starts at the same instant.
    edges = sorted(
        [(r.started_at, 1) for r in by_channel.values()]
        + [(r.ended_at, -1) for r in by_channel.values() if r.ended_at is not None]
    )
    live = peak = 0
    for _, step in edges:
        live += step
        peak = max(peak, live)
    return {
        "offered": len(channels),
        "answered": answered,
        "abandoned": abandoned,
        "abandoned_before_queue": counts["abandoned_before_queue"],
        "self_served": counts["self_served"],
        "callbacks": counts["callback"],
        "refused": sum(n for o, n in counts.items() if o.startswith("refused:")),
        "outcomes": dict(counts.most_common()),
        "calls_as_scripted": len(as_scripted),
        # behaviour → what the record shows instead, for the calls that went otherwise
        "not_as_scripted": dict(
            Counter(
                f"{a.behaviour} → {outcomes.get(ch, 'no_record')}"
                for ch, a in arrivals.items()
                if ch not in as_scripted
            )
        ),
        "service_level": round(on_time / (answered + abandoned), 3)
        if answered + abandoned
        else None,
        "asa_seconds": round(sum(waits) / len(waits), 2) if waits else None,
        "peak_concurrent_calls": peak,
        "records": len(rows),
        "records_complete": complete,
        "calls_turned_away": counts["turned_away"],
        "records_lost": expected - complete,
        "records_duplicated": len(rows) - len(by_channel),
        "_outcomes": outcomes,
    }


def rates(a: Snapshot, b: Snapshot, records_written_before: float = 0.0) -> dict[str, Any]:
    """Per-second figures between two snapshots."""
    wall = max(1e-9, b.at - a.at)
    cpu = None
    if a.cpu_seconds is not None and b.cpu_seconds is not None:
        cpu = round(100 * (b.cpu_seconds - a.cpu_seconds) / wall, 1)
    writes = counter_delta(a.metrics, b.metrics, "hotline_records_written_total")
    if writes is not None:
        writes += records_written_before
    requests = int(b.sim["requests"]) - int(a.sim["requests"])
    return {
        "busy_seconds": round(wall, 2),
        "controller_cpu_percent": cpu,
        "ari_requests_per_second": round(requests / wall, 1),
        "db_writes_per_second": round(writes / wall, 1) if writes is not None else None,
        "records_written": None if writes is None else int(writes),
    }


def latency(
    stats: Mapping[str, Any], a: Snapshot | None = None, b: Snapshot | None = None
) -> dict[str, Any]:
    """Event → command latency. The headline is the simulator's time from a caller's digit
    to the controller's next request on that channel: every digit asks for one at once
    (stop the prompt, play the next). The simulator times other events too, but after
    some of them the controller rightly waits — a queue announcement ends and the caller
    waits for an agent; an agent's leg is bridged by a request on the bridge — so the
    all-events figures measure the scenario as much as the controller. With ``a`` and
    ``b``, also the controller's own histogram (ARI event in → its commands issued)
    between the two scrapes, as bucket bounds."""
    by_cause = stats.get("reaction_by_cause", {})
    dtmf = by_cause.get("dtmf") or {}
    out: dict[str, Any] = {
        "event_to_command_p50_ms": dtmf.get("p50_ms"),
        "event_to_command_p99_ms": dtmf.get("p99_ms"),
        "event_to_command_max_ms": dtmf.get("max_ms"),
        "event_to_command_count": dtmf.get("count", 0),
        "all_events_p50_ms": stats.get("reaction_p50_ms"),
        "all_events_p99_ms": stats.get("reaction_p99_ms"),
        "reactions_by_cause": {
            cause: {k: v for k, v in figures.items() if k != "with_unanswered"}
            for cause, figures in by_cause.items()
        },
        "stasis_channels_max": stats.get("stasis_channels_max"),
    }
    if a is not None and b is not None and b.metrics is not None:
        name = "hotline_event_handling_seconds"
        out["controller_handling_p50_ms_at_most"] = histogram_quantile(
            a.metrics, b.metrics, name, 0.5
        )
        out["controller_handling_p99_ms_at_most"] = histogram_quantile(
            a.metrics, b.metrics, name, 0.99
        )
    return out


def rss_figures(sampler: Sampler) -> dict[str, Any]:
    series = sampler.series()
    values = [v for _, v in series]
    return {
        "rss_start_mb": values[0] if values else None,
        "rss_peak_mb": max(values) if values else None,
        "rss_end_mb": values[-1] if values else None,
        "rss_series_mb": [[round(t, 1), v] for t, v in series],
    }


async def run_load(site: Settings, config: LoadConfig) -> dict[str, Any]:
    """One load run from set-up to figures (see the module's docstring)."""
    async with LoadRun(site, config) as run:
        assert run.world is not None and run.sampler is not None
        before = await run.snapshot()
        await run.offer()
        forced = await run.drain()
        after = await run.snapshot()
        settled = await run.settle()
        status = await run.stop_controller()
        records = await asyncio.to_thread(run.records)
        records.pop("_outcomes")
        result: dict[str, Any] = {
            "command": config.command(),
            "scenario": _scenario(config),
            "database": run.db_url.split(":", 1)[0],
            "simulator": "separate process" if config.sim_process else "in the bench process",
            "routes": {
                "self_service": _keys(run.routes.self_service),
                "callback": _keys(run.routes.callback),
                "queues": {r.target: "".join(r.keys) for r in run.routes.queues},
            },
            "calls_placed": len(run.arrivals),
            "place_errors": run.place_errors,
            "behaviours": dict(Counter(a.behaviour for a in run.arrivals.values())),
            **records,
            "calls_forced_off": forced,
            "records_settled": settled,
            **latency(after.sim, before, after),
            **rates(before, after),
            **rss_figures(run.sampler),
            "controller_exit_status": status,
            "controller_log": run.controller_log(),
            "load_average_1m_before": round(os.getloadavg()[0], 2),
            "python": sys.version.split()[0],
            "cpus": os.cpu_count(),
        }
        result["ok"] = ok(result)
        return result


def _keys(route: Route | None) -> str | None:
    return None if route is None else "".join(route.keys)


def _scenario(c: LoadConfig) -> str:
    mix = ", ".join(f"{b} {100 * c.mix[b]:.0f}%" for b in BEHAVIOURS if c.mix.get(b))
    return (
        f"Poisson arrivals at {c.rate:g}/s for {c.duration:g} s ({mix}); {c.agents} agents, "
        f"handle time log-normal mean {c.handle_time_mean:g} s, wrap-up {c.wrap_up:g} s; "
        f"callers listen {c.think:g} s into each prompt"
    )


def ok(result: Mapping[str, Any]) -> bool:
    """The invariant: every call placed has exactly one complete record."""
    return bool(
        result["records_lost"] == 0
        and result["records_duplicated"] == 0
        and result["place_errors"] == 0
        and result["calls_placed"] > 0
    )


def _fmt(value: Any, unit: str = "") -> str:
    return (
        "-"
        if value is None
        else f"{value:g}{unit}"
        if isinstance(value, float)
        else f"{value}{unit}"
    )


def format_report(r: Mapping[str, Any]) -> str:
    sl = r["service_level"]
    rows = [
        ("command", r["command"]),
        ("scenario", r["scenario"]),
        ("simulator / database", f"{r['simulator']} / {r['database']}"),
        (
            "offered / answered / abandoned",
            f"{r['offered']} / {r['answered']} / {r['abandoned']} (+ "
            f"{r['abandoned_before_queue']} while being connected to the queue)",
        ),
        (
            "self-served / callbacks / refused",
            f"{r['self_served']} / {r['callbacks']} / {r['refused']}",
        ),
        (
            "calls as scripted",
            f"{r['calls_as_scripted']} of {r['offered']} ({r['calls_forced_off']} callers "
            f"still on the line at the end of the drain were hung up; "
            f"{r['calls_turned_away']} turned away: no controller connected)",
        ),
        (
            "service level (15 s) / ASA",
            f"{'-' if sl is None else f'{100 * sl:.1f}%'} / {_fmt(r['asa_seconds'], ' s')}",
        ),
        (
            "event → command p50 / p99 / max",
            f"{_fmt(r['event_to_command_p50_ms'])} / {_fmt(r['event_to_command_p99_ms'])} / "
            f"{_fmt(r['event_to_command_max_ms'])} ms ({r['event_to_command_count']} digits "
            "→ next request, timed by the simulator)",
        ),
        (
            "controller event handling p50 / p99",
            f"≤ {_fmt(r.get('controller_handling_p50_ms_at_most'))} / "
            f"≤ {_fmt(r.get('controller_handling_p99_ms_at_most'))} ms (its /metrics histogram)",
        ),
        ("ARI requests per second", _fmt(r["ari_requests_per_second"])),
        ("controller CPU", f"{_fmt(r['controller_cpu_percent'])}% of one core"),
        (
            "controller RSS start / peak / end",
            f"{_fmt(r['rss_start_mb'])} / {_fmt(r['rss_peak_mb'])} / {_fmt(r['rss_end_mb'])} MB",
        ),
        (
            "DB writes per second",
            f"{_fmt(r['db_writes_per_second'])} (record-writer operations committed)",
        ),
        ("peak concurrent calls", str(r["peak_concurrent_calls"])),
        (
            "records complete / lost / duplicated",
            f"{r['records_complete']} / {r['records_lost']} / {r['records_duplicated']}",
        ),
        ("busy period", f"{r['busy_seconds']} s"),
    ]
    if r["controller_log"]:
        logged = ", ".join(f"{v['count']}× {k}" for k, v in r["controller_log"].items())
        rows.append(("controller logged", logged))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def main(site: Settings, config: LoadConfig, *, as_json: bool, verbose: bool = False) -> int:
    """The CLI: 0 when every call has exactly one complete record, 1 when not, 2 when
    the benchmark cannot run as asked."""
    setup_logging(verbose)
    try:
        result = asyncio.run(run_load(site, config))
    except BenchError as exc:
        print(f"hotline: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, ensure_ascii=False, indent=2) if as_json else format_report(result))
    return 0 if result["ok"] else 1
