"""``hotline bench ivr``: scripted callers navigating three levels of a menu, against the
ARI simulator, with a fixed number of calls in flight.

Each caller barges in: it presses its key as soon as a prompt starts — "wait for prompt;
press 1; wait for prompt; press 2; wait for prompt; press K; wait for prompt; hang up" —
choosing its language, consultation, then one of three queues (K = 2, 3, 4 in turn on
the telecom menu). ``concurrency`` calls are kept in flight until ``calls`` have been
placed. The controller runs as in production (``ControllerNode`` with the live menu, the
calendar, and the caller-tier lookup in the database); only the menu's clock is fixed, at
an instant when the menu's calendar says "open" (``OPEN_AT``, or the next opening after
it), so the route — and the figures — do not depend on the time of day.

Measured:

* DTMF → next ARI request: timed by the simulator, as Asterisk would see it, from each
  digit event to the controller's next request for that channel (with barge-in: the
  request that stops the prompt); all other reactions (StasisStart, PlaybackFinished) too;
* process CPU seconds per call and peak RSS of the process running the controller. By
  default the simulator runs in the same process (the issue's "in-process simulator"),
  so both figures include it (and the callers' driver); with ``sim_process=True`` it runs
  as a separate ``hotline simulate`` process, the driver in a third, and the figures are
  the controller's own (event loop, record writer thread, tier-lookup threads);
* the invariant, from the database: every call placed has exactly one complete record
  (``records_lost`` / ``records_duplicated``), and its record names the queue the caller
  chose (``calls_navigated``);
* the concurrency reached: the most channels in Stasis at once (simulator side).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import cProfile
import io
import json
import logging
import os
import pstats
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import aiohttp

from bench.harness import (
    BenchError as BenchError,  # re-exported: callers of this module catch it from here
)
from bench.harness import (
    free_port,
    fresh_database,
    general_caller_when_open,
    proc_cpu_seconds,
    wait_ping,
)
from kernel.settings import Settings

log = logging.getLogger(__name__)

# A Monday morning in the shipped calendar's zone: staffed, so "entry" sends a general
# caller to the language menu. If a site calendar is closed then, the next opening is used.
OPEN_AT = datetime.fromisoformat("2026-11-23T10:00:00+08:00")
# Keys of the route: language (1 = zh), main (2 = consultation), then one of these.
ROUTE_PREFIX = ("1", "2")
LAST_KEYS = ("2", "3", "4")
DIALLED = "6000"
# Give up on a run when no call has ended for this long (a stuck controller).
STALL_SECONDS = 60.0


@dataclass(frozen=True)
class Route:
    keys: tuple[str, ...]
    queue: str
    # Seconds a caller listens to each prompt before pressing (0: barge in at once, a
    # stress of events; a few seconds: callers as they are, and longer calls).
    think: float = 0.0

    @property
    def script(self) -> str:
        wait = f"wait {self.think:g}; " if self.think > 0 else ""
        steps = [f"wait for prompt; {wait}press {k}" for k in self.keys]
        return "; ".join([*steps, "wait for prompt; hang up"])


def routes_for(menu: Any) -> list[Route]:
    """The scenario's routes through ``menu`` (an ``ivr.menus.model.Menu``): start → the
    branch a general caller takes when open → keys 1, 2, then 2/3/4 each ending in a queue."""
    spec = menu.spec
    routes = []
    for last in LAST_KEYS:
        keys = (*ROUTE_PREFIX, last)
        routes.append(Route(keys, _walk(spec, keys)))
    return routes


def _walk(spec: Any, keys: tuple[str, ...]) -> str:
    where = f"menu {spec.menu!r}"
    node_id: str = spec.start
    pending = list(keys)
    for _ in range(100):  # guards against a branch loop
        node = spec.nodes[node_id]
        if node.type == "branch":
            action = next(
                (r.then for r in node.rules if general_caller_when_open(r.if_)), node.else_
            )
        elif pending:
            key = pending.pop(0)
            action = node.options.get(key)
            if action is None:
                raise BenchError(f"{where}: node {node_id!r} has no option {key!r}")
        else:
            raise BenchError(f"{where}: keys {''.join(keys)} end at node {node_id!r}, not a queue")
        while action is not None and action.language is not None:
            action = action.then  # "1": {language: zh, then: {menu: main}}
        if action is not None and action.menu is not None:
            node_id = action.menu
        elif action is not None and action.queue is not None and not pending:
            return str(action.queue)
        else:
            raise BenchError(
                f"{where}: keys {''.join(keys)} do not lead through menus to a queue at "
                f"node {node_id!r} (the benchmark needs: language 1, main 2, then 2/3/4 → queue)"
            )
    raise BenchError(f"{where}: branch loop from {spec.start!r}")


def open_instant(calendars: Any, menu: Any) -> datetime:
    """``OPEN_AT`` when the menu's calendar is open then, else its next opening."""
    if calendars is None:
        return OPEN_AT  # no calendar file: the menu treats every instant as open
    calendar = calendars.get(menu.spec.calendar)
    if calendar.is_open(OPEN_AT):
        return OPEN_AT
    at = calendar.next_open(OPEN_AT)
    if at is None:
        raise BenchError(f"calendar {menu.spec.calendar!r} never opens after {OPEN_AT}")
    return at  # type: ignore[no-any-return]


# -- the simulator and the callers' driver ------------------------------------------------


class _Callers(Protocol):
    """Where calls are placed: the simulator's Python API, or its ``/_sim`` HTTP API."""

    async def place(self, number: str, script: str) -> str: ...
    async def live(self) -> int: ...


class _InProcessCallers:
    def __init__(self, sim: Any) -> None:
        self.sim = sim

    async def place(self, number: str, script: str) -> str:
        call = await self.sim.place_call(DIALLED, number, script=script)
        return str(call.channel_id)

    async def live(self) -> int:
        return len(self.sim.engine.channels)


class _HttpCallers:
    def __init__(self, base_url: str, http: Any) -> None:
        self.base_url = base_url
        self.http = http

    async def place(self, number: str, script: str) -> str:
        body = {"to": DIALLED, "from": number, "script": script}
        async with self.http.post(f"{self.base_url}/_sim/calls", json=body) as r:
            r.raise_for_status()
            return str((await r.json())["channel_id"])

    async def live(self) -> int:
        async with self.http.get(f"{self.base_url}/_sim/state") as r:
            r.raise_for_status()
            return int((await r.json())["channels"])


class _Sim(Protocol):
    base_url: str

    async def drive(
        self, routes: list[Route], calls: int, concurrency: int
    ) -> tuple[dict[str, str], float]: ...
    def cpu_seconds(self) -> float | None: ...
    async def stop(self) -> None: ...


class _InProcessSim:
    """The simulator and the callers' driver share this process and event loop."""

    def __init__(self, sim: Any) -> None:
        self.sim = sim
        self.base_url: str = sim.base_url

    async def drive(
        self, routes: list[Route], calls: int, concurrency: int
    ) -> tuple[dict[str, str], float]:
        return await _drive(_InProcessCallers(self.sim), routes, calls, concurrency, poll=0.01)

    def cpu_seconds(self) -> float | None:
        return None  # it is this process: counted in the controller's figure

    async def stop(self) -> None:
        await self.sim.stop()


class _ProcessSim:
    """``hotline simulate`` in a process of its own, and the driver in a third process: a
    driver in the controller's event loop would place calls only as fast as the loaded
    controller let it, and its CPU would count as the controller's."""

    def __init__(self, proc: asyncio.subprocess.Process, base_url: str, password: str) -> None:
        self.proc = proc
        self.base_url = base_url
        self.password = password

    async def drive(
        self, routes: list[Route], calls: int, concurrency: int
    ) -> tuple[dict[str, str], float]:
        job = {
            "base_url": self.base_url,
            "password": self.password,
            "routes": [[list(r.keys), r.queue, r.think] for r in routes],
            "calls": calls,
            "concurrency": concurrency,
        }
        driver = await asyncio.create_subprocess_exec(
            *[sys.executable, "-c", "from bench.ivr import driver_main as m; m()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        try:
            out, _ = await driver.communicate(json.dumps(job).encode())
        finally:
            if driver.returncode is None:  # we were cancelled: no orphaned driver
                driver.kill()
                await driver.wait()
        if driver.returncode != 0:
            raise RuntimeError(f"the callers' driver failed (exit status {driver.returncode})")
        done = json.loads(out)
        return dict(done["placed"]), float(done["seconds"])

    def cpu_seconds(self) -> float | None:
        return proc_cpu_seconds(self.proc.pid)

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.terminate()
        try:
            await asyncio.wait_for(self.proc.wait(), 10)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


def driver_main() -> None:
    """The driver process: a job as JSON on stdin, channel id → queue and seconds on stdout."""
    job = json.load(sys.stdin)
    routes = [Route(tuple(keys), queue, think) for keys, queue, think in job["routes"]]
    token = base64.b64encode(f"hotline:{job['password']}".encode()).decode()

    async def drive() -> tuple[dict[str, str], float]:
        async with aiohttp.ClientSession(
            headers={"Authorization": f"Basic {token}"},
            connector=aiohttp.TCPConnector(limit=32),
        ) as http:
            callers = _HttpCallers(job["base_url"], http)
            return await _drive(callers, routes, job["calls"], job["concurrency"], poll=0.02)

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    placed, seconds = asyncio.run(drive())
    json.dump({"placed": placed, "seconds": seconds}, sys.stdout)


# -- databases -----------------------------------------------------------------------------


def _count_records(engine: Any, placed: dict[str, str]) -> dict[str, int]:
    """The invariant, for the calls this run placed (whatever else the database holds)."""
    from sqlalchemy import select

    from ticketdb.engine import make_sessionmaker
    from ticketdb.models import Call

    rows: list[tuple[str, datetime | None, str | None]] = []
    ids = list(placed)
    with make_sessionmaker(engine)() as s:
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            query = select(Call.channel_id, Call.ended_at, Call.queue).where(
                Call.channel_id.in_(chunk)
            )
            rows.extend((r[0], r[1], r[2]) for r in s.execute(query))
    complete = {cid for cid, ended, _ in rows if ended is not None}
    navigated = {cid for cid, ended, queue in rows if ended is not None and queue == placed[cid]}
    return {
        "records": len(rows),
        "records_complete": len(complete),
        "records_lost": len(placed) - len(complete),
        "records_duplicated": len(rows) - len({cid for cid, _, _ in rows}),
        "calls_navigated": len(navigated),
    }


# -- the run -------------------------------------------------------------------------------


class _WarningCounter(logging.Handler):
    """Counts warnings by message template: an overloaded controller says so in its log."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.counts[f"{record.name}: {record.msg}"] += 1


def bench_settings(settings: Settings, url: str, password: str, db_url: str, menu: str) -> Settings:
    """The site's settings (menus, prompts, calendar, queues, ARI pool size) pointed at the
    simulator and the run's database."""
    data = settings.model_dump()
    data["node"] = {"name": "bench"}
    data["ari"] = {
        **data["ari"],
        "url": url,
        "username": "hotline",
        "password": password,
        "app": "hotline",
    }
    data["database"] = {"url": db_url, "auto_upgrade": True}
    data["ivr"] = {**data["ivr"], "menu": menu}
    return Settings.model_validate(data)


async def _start_sim(settings: Settings, password: str, work: Path, sim_process: bool) -> _Sim:
    sounds = settings.paths.prompts_dir.resolve()
    if not sim_process:
        from simulator.server import AriSimulator

        sim = AriSimulator("hotline", password, sounds, work / "sim-recordings")
        await sim.start("127.0.0.1", 0)
        return _InProcessSim(sim)
    port = free_port()
    # Its own session: a Ctrl-C at the terminal reaches us, and we stop it in order.
    proc = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "hotline.cli", "simulate", "--port", str(port)],
        *["--password", password, "--sounds-dir", str(sounds)],
        *["--recordings-dir", str(work / "sim-recordings")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    token = base64.b64encode(f"hotline:{password}".encode()).decode()
    try:
        async with aiohttp.ClientSession(headers={"Authorization": f"Basic {token}"}) as http:
            await wait_ping(http, base)
    except BaseException:
        proc.kill()
        await proc.wait()
        raise
    return _ProcessSim(proc, base, password)


async def _drive(
    sim: _Callers, routes: list[Route], calls: int, concurrency: int, poll: float
) -> tuple[dict[str, str], float]:
    """Place ``calls`` calls keeping ``concurrency`` in flight; returns channel id → the
    queue its caller chose, and the seconds until the last call ended."""
    placed: dict[str, str] = {}
    start = time.perf_counter()
    next_call, ended_before, progress_at = 0, -1, time.monotonic()
    while True:
        live = await sim.live()
        ended = len(placed) - live
        if ended != ended_before:
            ended_before, progress_at = ended, time.monotonic()
        if next_call >= calls and live == 0:
            break
        if time.monotonic() - progress_at > STALL_SECONDS:
            log.warning(
                "no call ended for %.0f s: giving up with %d in flight", STALL_SECONDS, live
            )
            break
        batch = range(next_call, min(calls, next_call + max(0, concurrency - live)))
        if batch:
            chosen = [routes[i % len(routes)] for i in batch]
            ids = await asyncio.gather(
                *(sim.place(f"+86139{i:08d}", r.script) for i, r in zip(batch, chosen, strict=True))
            )
            placed.update((cid, r.queue) for cid, r in zip(ids, chosen, strict=True))
            next_call = batch.stop
            continue  # top up again at once: calls may have ended meanwhile
        await asyncio.sleep(poll)
    return placed, time.perf_counter() - start


async def _wait_until(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def run_ivr_bench(
    settings: Settings,
    calls: int,
    concurrency: int,
    *,
    menu: str | None = None,
    db_url: str | None = None,
    sim_process: bool = False,
    profile: Path | None = None,
    think: float = 0.0,
) -> dict[str, Any]:
    """Run the scenario once; returns the figures (see ``format_report``)."""
    if calls < 1 or concurrency < 1:
        raise BenchError("--calls and --concurrency must be at least 1")
    menu = menu or settings.ivr.menu
    work = Path(tempfile.mkdtemp(prefix="hotline-bench-ivr-"))
    counter = _WarningCounter()
    logging.getLogger().addHandler(counter)
    try:
        with fresh_database(db_url, work) as url:
            return await _run(
                settings, calls, concurrency, menu, url, sim_process, profile, work, counter, think
            )
    finally:
        logging.getLogger().removeHandler(counter)
        shutil.rmtree(work, ignore_errors=True)


async def _run(
    site: Settings,
    calls: int,
    concurrency: int,
    menu_name: str,
    db_url: str,
    sim_process: bool,
    profile: Path | None,
    work: Path,
    counter: _WarningCounter,
    think: float = 0.0,
) -> dict[str, Any]:
    from hotline.node import ControllerNode, prepare_ivr

    password = secrets.token_urlsafe(12)
    token = base64.b64encode(f"hotline:{password}".encode()).decode()
    # Prompts and menu are built before anything is measured (TTS on the first run).
    placeholder = bench_settings(site, "http://127.0.0.1:1", password, db_url, menu_name)
    parts = await asyncio.to_thread(prepare_ivr, placeholder)
    menu = parts.menus.current
    routes = [Route(r.keys, r.queue, think) for r in routes_for(menu)]
    opened = open_instant(parts.calendars, menu)
    async with aiohttp.ClientSession(headers={"Authorization": f"Basic {token}"}) as http:
        sim = await _start_sim(placeholder, password, work, sim_process)
        settings = bench_settings(site, sim.base_url, password, db_url, menu_name)
        node = ControllerNode(
            settings,
            parts.prompts,
            menus=parts.menus,
            calendars=parts.calendars,
            caller_tiers=True,
            menu_clock=lambda: opened,
        )
        profiler = cProfile.Profile() if profile is not None else None
        try:
            await node.start()
            await node.wait_connected()
            load_before = os.getloadavg()[0]
            sim_cpu0 = sim.cpu_seconds()
            cpu0, wall0 = time.process_time(), time.perf_counter()
            if profiler is not None:
                profiler.enable()
            placed, driven = await sim.drive(routes, calls, concurrency)
            controller, writer = node.controller, node.writer
            assert controller is not None and writer is not None
            # The last records are written after the simulator saw the calls end; how long
            # that takes shows a record writer falling behind.
            settle0 = time.perf_counter()
            await _wait_until(lambda: not controller.sessions, 30.0)
            with contextlib.suppress(TimeoutError):
                await controller.drain(30.0)
            with contextlib.suppress(TimeoutError):
                await writer.drain(120.0)
            settled = time.perf_counter() - settle0
            if profiler is not None:
                profiler.disable()
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            sim_cpu1 = sim.cpu_seconds()
            rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
            async with http.get(f"{sim.base_url}/_sim/stats") as r:
                stats = await r.json()
            records = await asyncio.to_thread(_count_records, node.engine, placed)
            finish_reasons = dict(controller.stats.finish_reasons)
            handler_errors = controller.stats.handler_errors
        finally:
            await node.stop()
            await sim.stop()
    if profiler is not None and profile is not None:
        profiler.dump_stats(str(profile))
    dtmf = stats.get("reaction_by_cause", {}).get("dtmf") or {}
    with_unanswered = dtmf.get("with_unanswered") or {}
    completed = int(stats["calls_ended"])
    sim_cpu = None if sim_cpu0 is None or sim_cpu1 is None else sim_cpu1 - sim_cpu0
    return {
        "scenario": (
            f"{calls} calls, {concurrency} in flight: language {routes[0].keys[0]}, main "
            f"{routes[0].keys[1]}, consult {'/'.join(r.keys[2] for r in routes)} → queue, "
            + (
                f"pressing each key {think:g} s into its prompt; "
                if think
                else "pressing each key as its prompt starts (barge-in); "
            )
            + "caller hangs up as 'connecting' starts"
        ),
        "command": _command(calls, concurrency, menu_name, db_url, sim_process, think),
        "menu": menu.name,
        "menu_clock": opened.isoformat(),
        "caller_tier_lookup": True,
        "database": settings.database.url.split(":", 1)[0],
        "simulator": "separate process" if sim_process else "in-process",
        "calls": calls,
        "concurrency": concurrency,
        "calls_placed": len(placed),
        "calls_completed": completed,
        "calls_navigated": records["calls_navigated"],
        "concurrency_reached": stats["stasis_channels_max"],
        "calls_per_second": round(completed / driven, 1) if driven > 0 else None,
        # A digit pressed while an earlier one still awaits its reaction shares that reaction
        # (timed from the earlier digit), so reactions are fewer than digits pressed.
        "dtmf_digits_pressed": len(routes[0].keys) * len(placed),
        "dtmf_reactions": dtmf.get("count", 0),
        # Digits the controller had not reacted to when the caller hung up (callers press on
        # without waiting for it): counted in the dtmf_to_request figures with their wait
        # until the hang-up, which makes those a lower bound when there are any.
        "dtmf_unanswered_at_hangup": dtmf.get("unanswered", 0),
        "dtmf_to_request_p50_ms": with_unanswered.get("p50_ms"),
        "dtmf_to_request_p99_ms": with_unanswered.get("p99_ms"),
        "dtmf_to_request_max_ms": with_unanswered.get("max_ms"),
        "dtmf_answered_p50_ms": dtmf.get("p50_ms"),
        "dtmf_answered_p99_ms": dtmf.get("p99_ms"),
        "event_to_request_p50_ms": stats["reaction_p50_ms"],
        "event_to_request_p99_ms": stats["reaction_p99_ms"],
        "event_to_request_max_ms": stats["reaction_max_ms"],
        "reactions_by_cause": stats.get("reaction_by_cause", {}),
        "controller_cpu_seconds": round(cpu, 3),
        "controller_cpu_seconds_per_call": round(cpu / max(1, len(placed)), 5),
        "controller_cpu_percent": round(100 * cpu / wall, 1) if wall > 0 else None,
        "cpu_includes_simulator": not sim_process,
        "simulator_cpu_percent": round(100 * sim_cpu / wall, 1) if sim_cpu is not None else None,
        "peak_rss_mb": round(rss_mb, 1),
        "records_complete": records["records_complete"],
        "records_lost": records["records_lost"],
        "records_duplicated": records["records_duplicated"],
        "records_settled_seconds": round(settled, 2),
        "record_writes_per_call": round(writer.applied / max(1, len(placed)), 1),
        "hangup_by": stats.get("hangup_by", {}),
        "finish_reasons": finish_reasons,
        "handler_errors": handler_errors,
        "warnings": dict(counter.counts.most_common(10)),
        "ari_max_connections": settings.ari.max_connections,
        "wall_seconds": round(wall, 2),
        "profile": str(profile) if profile is not None else None,
        # Other work on the machine skews every figure above: this says how busy it was.
        "load_average_1m_before": round(load_before, 2),
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
    }


def _command(
    calls: int, concurrency: int, menu: str, db_url: str, sim_process: bool, think: float = 0.0
) -> str:
    parts = ["hotline bench ivr", f"--calls {calls}", f"--concurrency {concurrency}"]
    if think:
        parts.append(f"--think {think:g}")
    if menu != "telecom":
        parts.append(f"--menu {menu}")
    if db_url.startswith("postgresql"):
        parts.append("--db postgresql://…")
    if sim_process:
        parts.append("--sim-process")
    return " ".join(parts)


def ok(result: dict[str, Any]) -> bool:
    """The invariant and the scenario held: every call completed, with one complete record."""
    return bool(
        result["records_lost"] == 0
        and result["records_duplicated"] == 0
        and result["calls_completed"] == result["calls_placed"]
    )


def format_report(result: dict[str, Any]) -> str:
    r = result

    def ms(key: str) -> str:
        return "-" if r[key] is None else f"{r[key]:g}"

    cpu_note = "includes the simulator" if r["cpu_includes_simulator"] else "controller only"
    rows = [
        ("scenario", r["scenario"]),
        ("menu / clock", f"{r['menu']} at {r['menu_clock']} (calendar open)"),
        ("simulator / database", f"{r['simulator']} / {r['database']}"),
        (
            "calls placed / completed / navigated",
            f"{r['calls_placed']} / {r['calls_completed']} / {r['calls_navigated']}",
        ),
        ("concurrency reached (in Stasis)", str(r["concurrency_reached"])),
        ("calls per second", str(r["calls_per_second"])),
        (
            "DTMF → next ARI request p50 / p99 / max",
            f"{ms('dtmf_to_request_p50_ms')} / {ms('dtmf_to_request_p99_ms')} / "
            f"{ms('dtmf_to_request_max_ms')} ms ({r['dtmf_reactions']} reactions to "
            f"{r['dtmf_digits_pressed']} digits, {r['dtmf_unanswered_at_hangup']} more digits "
            "unanswered at hang-up, counted with their wait)",
        ),
        (
            "any event → next request p50 / p99 / max",
            f"{ms('event_to_request_p50_ms')} / {ms('event_to_request_p99_ms')} / "
            f"{ms('event_to_request_max_ms')} ms",
        ),
        (
            "CPU per call",
            f"{1000 * r['controller_cpu_seconds_per_call']:.2f} ms "
            f"({r['controller_cpu_percent']}% of a core, {cpu_note})",
        ),
        ("peak RSS", f"{r['peak_rss_mb']} MB ({cpu_note})"),
        (
            "records complete / lost / duplicated",
            f"{r['records_complete']} / {r['records_lost']} / {r['records_duplicated']}",
        ),
        (
            "records written",
            f"{r['record_writes_per_call']} writes per call, the last "
            f"{r['records_settled_seconds']} s after the last call ended",
        ),
    ]
    if r["simulator_cpu_percent"] is not None:
        rows.append(("simulator process CPU", f"{r['simulator_cpu_percent']}% of a core"))
    if r["warnings"]:
        rows.append(("warnings logged", ", ".join(f"{n}× {w}" for w, n in r["warnings"].items())))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def profile_summary(path: Path, top: int = 25) -> str:
    out = io.StringIO()
    pstats.Stats(str(path), stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


def main(
    settings: Settings,
    calls: int,
    concurrency: int,
    *,
    menu: str | None,
    db_url: str | None,
    as_json: bool,
    sim_process: bool,
    profile: Path | None,
    verbose: bool = False,
    think: float = 0.0,
) -> int:
    """The CLI: 0 when every call completed with exactly one complete record, 1 when not,
    2 when the benchmark cannot run as asked."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        result = asyncio.run(
            run_ivr_bench(
                settings,
                calls,
                concurrency,
                menu=menu,
                db_url=db_url,
                sim_process=sim_process,
                profile=profile,
                think=think,
            )
        )
    except BenchError as exc:
        print(f"hotline: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, ensure_ascii=False, indent=2) if as_json else format_report(result))
    if profile is not None:
        print(profile_summary(profile), file=sys.stderr)
    return 0 if ok(result) else 1
