"""What the benchmarks share: the controller as a real ``hotline run`` process, the
simulated world it talks to, what is read of a process from ``/proc``, and the run's
database.

* ``ControllerProcess`` — ``hotline --config <file> run`` in a child process, configured
  only by the settings file written for the run (``HOTLINE_*`` variables of ours are not
  passed on, so the file says everything). It can be SIGKILLed and started again.
  Its ``/metrics`` (``ops`` port) is scraped for the counters it keeps.
* ``World`` — the ARI simulator and the agents' phones: in this process, or (``--sim-process``)
  in a child of its own. Either way it is driven over the simulator's HTTP API
  (``/_sim/...``), so the two cases run the same code. Agents' phones answer after
  ``answer_after`` and hang up after a log-normal handle time drawn afresh for every call.
* ``Sampler`` — CPU, resident memory and open file descriptors of a process, each second.
* ``fresh_database`` — a fresh SQLite file, or a fresh schema in the PostgreSQL given.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import math
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from kernel.settings import Settings

# A controller that needs longer than this to connect (migrations, prompt building are
# done before it starts) is reported as failing to start.
START_TIMEOUT = 60.0


class BenchError(Exception):
    """The benchmark cannot run as asked (a bad option, a process that will not start)."""


# -- processes ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_ping(http: Any, url: str, timeout: float = 20.0) -> None:
    """Until the ARI server at ``url`` answers its ping."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(aiohttp.ClientError):
            async with http.get(f"{url}/ari/asterisk/ping") as r:
                if r.status == 200:
                    return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the simulator at {url} did not come up")
        await asyncio.sleep(0.05)


def proc_cpu_seconds(pid: int) -> float | None:
    """User + system CPU of a process (all its threads), from /proc; None without it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_rss_mb(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    m = re.search(r"^VmRSS:\s+(\d+)\s+kB", status, re.M)
    return round(int(m.group(1)) / 1024, 2) if m else None


def proc_open_fds(pid: int, not_to_port: int | None = None) -> int | None:
    """Open file descriptors of process ``pid``; with ``not_to_port``, not counting its TCP
    connections to that port (a pool of keep-alive connections to Asterisk holds more after
    a busier spell, up to ``ari.max_connections``, until they idle out: not a leak)."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return None
    if not_to_port is None:
        return len(fds)
    pooled = _socket_inodes_to(pid, not_to_port)
    count = 0
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:[") and target[8:-1] in pooled:
            continue
        count += 1
    return count


def _socket_inodes_to(pid: int, port: int) -> set[str]:
    """Inodes of ``pid``'s TCP sockets whose remote port is ``port`` (/proc/net/tcp*)."""
    inodes: set[str] = set()
    for table in ("tcp", "tcp6"):
        try:
            with open(f"/proc/{pid}/net/{table}", encoding="ascii") as f:
                next(f, None)  # the header
                for line in f:
                    fields = line.split()
                    remote_port = int(fields[2].rsplit(":", 1)[1], 16)
                    if remote_port == port:
                        inodes.add(fields[9])
        except (OSError, ValueError, IndexError):
            continue
    return inodes


def percentiles(values: Sequence[float]) -> dict[str, float | int | None]:
    """count, p50 / p99 / max of seconds, in ms (nearest rank, as the simulator's)."""
    ordered = sorted(values)

    def ms(p: float) -> float | None:
        if not ordered:
            return None
        return round(1000 * ordered[min(len(ordered) - 1, int(p * len(ordered)))], 3)

    return {"count": len(ordered), "p50_ms": ms(0.5), "p99_ms": ms(0.99), "max_ms": ms(1.0)}


def slope_per_hour(points: Sequence[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, value) points, in value per hour."""
    if len(points) < 2:
        return None
    n = len(points)
    mean_t = math.fsum(t for t, _ in points) / n
    mean_v = math.fsum(v for _, v in points) / n
    var = math.fsum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return None
    cov = math.fsum((t - mean_t) * (v - mean_v) for t, v in points)
    return 3600 * cov / var


# -- databases -------------------------------------------------------------------------------


@contextlib.contextmanager
def fresh_database(db_url: str | None, work: Path, prefix: str = "bench") -> Iterator[str]:
    """The run's database: a fresh SQLite file in ``work``, or a fresh schema in the
    PostgreSQL given (its own search path replacing any in the URL; dropped afterwards),
    or the SQLite file given."""
    if db_url is None:
        yield f"sqlite:///{work / 'bench.sqlite3'}"
        return
    if not db_url.startswith("postgresql"):
        yield db_url
        return
    import sqlalchemy as sa

    schema = f"{prefix}_{secrets.token_hex(4)}"
    # No pooled connection to outlive a server restart during the run.
    admin = sa.create_engine(db_url, poolclass=sa.pool.NullPool)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = sa.make_url(db_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


# -- menus -------------------------------------------------------------------------------------


def general_caller_when_open(cond: Any) -> bool:
    """A menu branch condition (``ivr.menus.schema.Condition``) that a caller of the
    general tier meets while the desk is open, whatever their language."""
    return (
        cond.hours in (None, "open")
        and (cond.tier is None or "general" in cond.tier)
        and cond.language is None
    )


# -- settings files ----------------------------------------------------------------------------


def settings_toml(settings: Settings) -> str:
    """``settings`` as a TOML settings file (every section is flat: scalars and lists).
    JSON's string, number and array syntax is TOML's too; None (no value) is left out."""
    lines: list[str] = []
    for section, values in settings.model_dump(mode="json").items():
        lines.append(f"[{section}]")
        for key, value in values.items():
            if value is not None:
                lines.append(f"{key} = {json.dumps(value, ensure_ascii=False)}")
        lines.append("")
    return "\n".join(lines)


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text format → sample name → its value, summed over label sets; a
    histogram's buckets also as ``<name>_bucket:<le>`` (cumulative counts)."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name_part, _, value = line.rpartition(" ")
        name = name_part.split("{", 1)[0]
        try:
            number = float(value)
        except ValueError:
            continue
        out[name] = out.get(name, 0.0) + number
        le = re.search(r'le="([^"]+)"', name_part)
        if name.endswith("_bucket") and le:
            key = f"{name}:{le.group(1)}"
            out[key] = out.get(key, 0.0) + number
    return out


def histogram_quantile(
    before: Mapping[str, float] | None, after: Mapping[str, float], name: str, q: float
) -> float | None:
    """The upper bound (ms) of the bucket holding quantile ``q`` of the observations of
    histogram ``name`` made between two scrapes; None without any (inf: above the last)."""
    prefix = f"{name}_bucket:"
    bounds: list[tuple[float, float]] = []
    for key, count in after.items():
        if key.startswith(prefix):
            le = key[len(prefix) :]
            earlier = (before or {}).get(key, 0.0)
            bounds.append((math.inf if le == "+Inf" else float(le), count - earlier))
    bounds.sort()
    if not bounds or bounds[-1][1] <= 0:
        return None
    rank = q * bounds[-1][1]
    for bound, cumulative in bounds:
        if cumulative >= rank:
            return bound if math.isinf(bound) else round(1000 * bound, 3)
    return None


# -- the controller: `hotline run` -----------------------------------------------------------


class ControllerProcess:
    """``hotline --config <config> run`` in a child process; stdout and stderr to ``log``."""

    def __init__(self, config: Path, log: Path, ops_url: str) -> None:
        self.config = config
        self.log = log
        self.ops_url = ops_url
        self.proc: asyncio.subprocess.Process | None = None
        self.starts = 0
        # CPU seconds of processes killed earlier in the run (a restart starts at 0).
        self.cpu_of_earlier = 0.0

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.returncode is None else None

    def cpu_seconds(self) -> float | None:
        pid = self.pid
        now = proc_cpu_seconds(pid) if pid is not None else None
        return None if now is None else self.cpu_of_earlier + now

    async def start(self) -> None:
        # Our own HOTLINE_* settings must not override the run's file.
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
        with self.log.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                *[sys.executable, "-m", "hotline.cli", "--config", str(self.config), "run"],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                # Its own session: a Ctrl-C at the terminal reaches us; we stop it in order.
                start_new_session=True,
            )
        self.starts += 1

    async def wait_ready(
        self, http: aiohttp.ClientSession, timeout: float = START_TIMEOUT
    ) -> float:
        """Until its /healthz says ready (ARI events socket up, database reachable);
        the seconds that took."""
        started = time.monotonic()
        deadline = started + timeout
        last = "no answer"
        while True:
            if self.proc is None or self.proc.returncode is not None:
                raise BenchError(f"the controller exited at start:\n{self.log_tail()}")
            try:
                async with http.get(
                    f"{self.ops_url}/healthz", timeout=aiohttp.ClientTimeout(total=5)
                ) as r:
                    if r.status == 200:
                        return time.monotonic() - started
                    last = f"{r.status} {await r.text()}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                last = f"{type(exc).__name__}: {exc}"
            if time.monotonic() > deadline:
                raise BenchError(
                    f"the controller was not ready after {timeout:g} s ({self.ops_url}/healthz: "
                    f"{last[:500]}):\n{self.log_tail()}"
                )
            await asyncio.sleep(0.1)

    async def metrics(self, http: aiohttp.ClientSession) -> dict[str, float] | None:
        """Its /metrics, or None when it does not answer."""
        try:
            async with http.get(
                f"{self.ops_url}/metrics", timeout=aiohttp.ClientTimeout(total=10)
            ) as r:
                if r.status != 200:
                    return None
                return parse_metrics(await r.text())
        except (aiohttp.ClientError, TimeoutError):
            return None

    async def kill(self) -> None:
        """SIGKILL: no cleanup, no goodbye, its queued record writes are gone."""
        if self.proc is None or self.proc.returncode is not None:
            return
        before = proc_cpu_seconds(self.proc.pid)
        self.proc.kill()
        await self.proc.wait()
        self.cpu_of_earlier += before or 0.0

    async def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM (it drains and flushes its records), SIGKILL after ``timeout``; its
        exit status."""
        if self.proc is None:
            return None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), timeout)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        return self.proc.returncode

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_text()[-chars:]


# -- the world: the simulator and the agents' phones ------------------------------------------


@dataclass(frozen=True)
class Phones:
    """Agents' phones: answer after ``answer_after`` s; hang up after a handle time drawn,
    for every call, from a log-normal distribution with this mean and shape (sigma of
    the log)."""

    endpoints: tuple[str, ...]
    answer_after: float = 1.0
    handle_mean: float = 60.0
    handle_sigma: float = 0.5
    seed: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "endpoints": list(self.endpoints),
            "answer_after": self.answer_after,
            "handle_mean": self.handle_mean,
            "handle_sigma": self.handle_sigma,
            "seed": self.seed,
        }


def install_phones(sim: Any, phones: Phones) -> None:
    """Make the simulator's phone table draw a fresh handle time each time one of the
    agents' phones is rung (the engine looks a phone up once per leg)."""
    from simulator.model import PhoneBehaviour

    rng = random.Random(phones.seed)
    mu = math.log(phones.handle_mean) - phones.handle_sigma**2 / 2  # so the mean is as given
    agents = frozenset(phones.endpoints)

    class AgentPhones(dict[str, PhoneBehaviour]):
        def get(self, key: str, default: Any = None) -> Any:
            if key in agents:
                handle = rng.lognormvariate(mu, phones.handle_sigma)
                return PhoneBehaviour(phones.answer_after, False, handle)
            return super().get(key, default)

    table = AgentPhones()
    table.update(sim.engine.phones)
    sim.engine.phones = table


def _auth(password: str) -> dict[str, str]:
    token = base64.b64encode(f"hotline:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@dataclass
class World:
    """The simulator (and the phones in it), driven over its HTTP API."""

    base_url: str
    http: aiohttp.ClientSession
    sim: Any = None  # the AriSimulator when it runs in this process
    proc: asyncio.subprocess.Process | None = None
    placed: dict[str, float] = field(default_factory=dict)  # channel id → monotonic time

    @classmethod
    async def start(
        cls, password: str, sounds: Path, recordings: Path, phones: Phones, in_process: bool
    ) -> World:
        http = aiohttp.ClientSession(
            headers=_auth(password), connector=aiohttp.TCPConnector(limit=64)
        )
        try:
            if in_process:
                from simulator.server import AriSimulator

                sim = AriSimulator("hotline", password, sounds, recordings)
                install_phones(sim, phones)
                await sim.start("127.0.0.1", 0)
                return cls(sim.base_url, http, sim=sim)
            port = free_port()
            job = {
                "port": port,
                "password": password,
                "sounds": str(sounds),
                "recordings": str(recordings),
                "phones": phones.as_json(),
            }
            proc = await asyncio.create_subprocess_exec(
                *[
                    sys.executable,
                    "-c",
                    "from bench.harness import world_main as m; m()",
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            assert proc.stdin is not None
            proc.stdin.write(json.dumps(job).encode() + b"\n")
            await proc.stdin.drain()
            world = cls(f"http://127.0.0.1:{port}", http, proc=proc)
            try:
                await wait_ping(http, world.base_url)
            except BaseException:
                await world.stop()
                raise
            return world
        except BaseException:
            await http.close()
            raise

    async def _json(self, method: str, path: str, body: Any = None) -> Any:
        async with self.http.request(method, f"{self.base_url}{path}", json=body) as r:
            r.raise_for_status()
            return None if r.status == 204 else await r.json()

    async def place(self, to: str, number: str, script: str) -> str:
        call = await self._json("POST", "/_sim/calls", {"to": to, "from": number, "script": script})
        channel = str(call["channel_id"])
        self.placed[channel] = time.monotonic()
        return channel

    async def state(self) -> dict[str, Any]:
        return dict(await self._json("GET", "/_sim/state"))

    async def stats(self) -> dict[str, Any]:
        return dict(await self._json("GET", "/_sim/stats"))

    async def calls(self) -> list[dict[str, Any]]:
        """Every caller placed, with what they heard (``ScriptedCall.as_dict``)."""
        return list(await self._json("GET", "/_sim/calls"))

    async def live_calls(self) -> list[str]:
        """Channel ids of the callers still on the line."""
        return [c["channel_id"] for c in await self.calls() if c["state"] != "ended"]

    async def hang_up(self, channel_id: str) -> None:
        with contextlib.suppress(aiohttp.ClientResponseError):  # ended meanwhile
            await self._json("POST", f"/_sim/calls/{channel_id}/hangup")

    async def drop_websockets(self) -> int:
        return int((await self._json("POST", "/_sim/faults/drop-websockets"))["dropped"])

    async def fail_next(self, count: int, status: int = 503) -> None:
        await self._json("POST", "/_sim/faults/fail-next", {"count": count, "status": status})

    def cpu_seconds(self) -> float | None:
        """The simulator process's CPU (None in this process: it is ours)."""
        return proc_cpu_seconds(self.proc.pid) if self.proc is not None else None

    async def stop(self) -> None:
        if self.sim is not None:
            await self.sim.stop()
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        await self.http.close()


def world_main() -> None:
    """The world's own process: a job (JSON line) on stdin; serves until terminated."""
    from simulator.server import AriSimulator

    job = json.loads(sys.stdin.readline())
    p = job["phones"]
    phones = Phones(
        tuple(p["endpoints"]), p["answer_after"], p["handle_mean"], p["handle_sigma"], p["seed"]
    )

    async def serve() -> None:
        sim = AriSimulator("hotline", job["password"], Path(job["sounds"]), Path(job["recordings"]))
        install_phones(sim, phones)
        await sim.start("127.0.0.1", int(job["port"]))
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        try:
            await stop.wait()
        finally:
            await sim.stop()

    asyncio.run(serve())


# -- sampling ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    t: float  # seconds since the sampler started
    cpu_seconds: float | None
    rss_mb: float | None
    open_fds: int | None


class Sampler:
    """CPU, RSS and open fds of the controller each ``interval`` s, following it across a
    restart (``ControllerProcess.pid``)."""

    def __init__(self, controller: ControllerProcess, interval: float = 1.0) -> None:
        self.controller = controller
        self.interval = interval
        self.samples: list[Sample] = []
        self._task: asyncio.Task[None] | None = None
        self._t0 = time.monotonic()

    def sample(self) -> Sample:
        pid = self.controller.pid
        s = Sample(
            round(time.monotonic() - self._t0, 2),
            self.controller.cpu_seconds(),
            proc_rss_mb(pid) if pid is not None else None,
            proc_open_fds(pid) if pid is not None else None,
        )
        self.samples.append(s)
        return s

    async def _run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        self._t0 = time.monotonic()
        self._task = asyncio.create_task(self._run(), name="bench-sampler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def series(self) -> list[tuple[float, float]]:
        """(seconds, RSS MB) of every sample that has one."""
        return [(s.t, s.rss_mb) for s in self.samples if s.rss_mb is not None]


def counter_delta(
    before: Mapping[str, float] | None, after: Mapping[str, float] | None, name: str
) -> float | None:
    if before is None or after is None or name not in after:
        return None
    return after[name] - before.get(name, 0.0)
