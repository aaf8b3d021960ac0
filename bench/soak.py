"""``hotline bench soak``: steady load for M minutes; does the controller leak?

The load of ``hotline bench load`` (same callers, agents and controller process), in
three phases:

1. warm-up (``--warm-up`` s, default 10 % of the soak, 5–60 s) and drain: pools,
   caches and the allocator's arenas fill up; then the controller idles and the
   baseline is read;
2. ``--minutes`` of steady Poisson arrivals, sampling the controller's RSS each second;
3. drain again, idle again, and the same figures are read.

Verdict (every threshold is in the result):

* RSS slope: least squares over the steady phase's samples, MB per hour, at most
  ``--max-rss-slope``. Short soaks are noisy (a few minutes of a Python process still
  settling); a slope that means something takes half an hour or more;
* asyncio tasks (the controller's ``hotline_asyncio_tasks`` gauge on /metrics) and open
  file descriptors (``/proc/<pid>/fd``, not counting its keep-alive connections to
  Asterisk: that pool holds more after a busier spell, until they idle out), idle after
  the soak vs idle before it, each the median of three readings: at most
  ``MAX_TASK_GROWTH`` / ``MAX_FD_GROWTH`` more;
* the invariant: every call has exactly one complete record.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from bench.harness import BenchError, proc_open_fds, proc_rss_mb, slope_per_hour
from bench.load import (
    LoadConfig,
    LoadRun,
    latency,
    rates,
    rss_figures,
    setup_logging,
)
from kernel.settings import Settings

MAX_TASK_GROWTH = 2
MAX_FD_GROWTH = 4
IDLE_TIMEOUT = 30.0


def warm_up_seconds(duration: float, warm_up: float | None) -> float:
    return warm_up if warm_up is not None else min(60.0, max(5.0, 0.1 * duration))


async def idle_reading(run: LoadRun) -> dict[str, float | None]:
    """Once no call is in progress and no record waits to be written: tasks, open fds and
    RSS of the controller, each the median of three readings half a second apart."""
    assert run.controller is not None and run.world is not None
    deadline = time.monotonic() + IDLE_TIMEOUT
    while time.monotonic() < deadline:
        m = await run.controller.metrics(run.world.http)
        if (
            m is not None
            and not m.get("hotline_calls_in_progress")
            and not m.get("hotline_record_writer_backlog")
        ):
            break
        await asyncio.sleep(0.5)
    readings: list[tuple[float | None, float | None, float | None]] = []
    for _ in range(3):
        m = await run.controller.metrics(run.world.http)
        pid = run.controller.pid
        tasks = m.get("hotline_asyncio_tasks") if m is not None else None
        port = urlsplit(run.world.base_url).port
        fds = proc_open_fds(pid, not_to_port=port) if pid is not None else None
        rss = proc_rss_mb(pid) if pid is not None else None
        readings.append((tasks, None if fds is None else float(fds), rss))
        await asyncio.sleep(0.5)

    def median(i: int) -> float | None:
        values = [r[i] for r in readings if r[i] is not None]
        return statistics.median(values) if values else None  # type: ignore[type-var]

    return {"asyncio_tasks": median(0), "open_fds": median(1), "rss_mb": median(2)}


async def run_soak(
    site: Settings, config: LoadConfig, warm_up: float | None = None, max_rss_slope: float = 20.0
) -> dict[str, Any]:
    warm = warm_up_seconds(config.duration, warm_up)
    async with LoadRun(site, config) as run:
        assert run.sampler is not None
        await run.offer(warm)
        await run.drain()
        await run.settle()
        start = await idle_reading(run)
        before = await run.snapshot()
        steady_from = run.sampler.samples[-1].t if run.sampler.samples else 0.0
        await run.offer()
        steady_to = run.sampler.samples[-1].t if run.sampler.samples else 0.0
        forced = await run.drain()
        after = await run.snapshot()
        settled = await run.settle()
        end = await idle_reading(run)
        status = await run.stop_controller()
        records = await asyncio.to_thread(run.records)
        records.pop("_outcomes")
        steady = [(t, v) for t, v in run.sampler.series() if steady_from <= t <= steady_to]
        slope = slope_per_hour(steady)
        rss = rss_figures(run.sampler)
        result: dict[str, Any] = {
            "command": config.command("soak").replace(
                f"--duration {config.duration:g}", f"--minutes {config.duration / 60:g}"
            ),
            "minutes": round(config.duration / 60, 2),
            "warm_up_seconds": warm,
            "database": run.db_url.split(":", 1)[0],
            "calls_placed": len(run.arrivals),
            "place_errors": run.place_errors,
            **records,
            "calls_forced_off": forced,
            "records_settled": settled,
            **latency(after.sim, before, after),
            **rates(before, after),
            **rss,
            "rss_slope_mb_per_hour": None if slope is None else round(slope, 2),
            "rss_steady_samples": len(steady),
            "idle_before": start,
            "idle_after": end,
            "asyncio_tasks_growth": _growth(start, end, "asyncio_tasks"),
            "open_fds_growth": _growth(start, end, "open_fds"),
            "thresholds": {
                "max_rss_slope_mb_per_hour": max_rss_slope,
                "max_task_growth": MAX_TASK_GROWTH,
                "max_fd_growth": MAX_FD_GROWTH,
            },
            "controller_exit_status": status,
            "controller_log": run.controller_log(),
            "load_average_1m_before": round(os.getloadavg()[0], 2),
            "cpus": os.cpu_count(),
        }
        result["failures"] = failures(result)
        result["verdict"] = "pass" if not result["failures"] else "fail"
        return result


def _growth(
    start: Mapping[str, float | None], end: Mapping[str, float | None], key: str
) -> float | None:
    a, b = start.get(key), end.get(key)
    return None if a is None or b is None else b - a


def failures(r: Mapping[str, Any]) -> list[str]:
    """What fails the verdict; a figure that could not be read fails it too."""
    out = []
    limits = r["thresholds"]
    slope = r["rss_slope_mb_per_hour"]
    if slope is None:
        out.append("no RSS slope (fewer than two samples)")
    elif slope > limits["max_rss_slope_mb_per_hour"]:
        out.append(f"RSS grows {slope:g} MB/hour (limit {limits['max_rss_slope_mb_per_hour']:g})")
    for key, limit, what in (
        ("asyncio_tasks_growth", limits["max_task_growth"], "asyncio tasks"),
        ("open_fds_growth", limits["max_fd_growth"], "open fds"),
    ):
        growth = r[key]
        if growth is None:
            out.append(f"{what}: not readable")
        elif growth > limit:
            out.append(f"{what}: {growth:+g} idle after vs before (limit +{limit})")
    if r["records_lost"] or r["records_duplicated"]:
        out.append(f"records lost {r['records_lost']}, duplicated {r['records_duplicated']}")
    if r["place_errors"]:
        out.append(f"{r['place_errors']} calls could not be placed")
    return out


def format_report(r: Mapping[str, Any]) -> str:
    b, a = r["idle_before"], r["idle_after"]
    rows = [
        ("command", r["command"]),
        ("verdict", r["verdict"].upper() + "".join(f"\n  - {f}" for f in r["failures"])),
        ("steady load", f"{r['minutes']:g} min after a {r['warm_up_seconds']:g} s warm-up"),
        ("calls placed / as scripted", f"{r['calls_placed']} / {r['calls_as_scripted']}"),
        (
            "RSS slope",
            f"{r['rss_slope_mb_per_hour']} MB/hour over {r['rss_steady_samples']} samples "
            f"(start {r['rss_start_mb']}, peak {r['rss_peak_mb']}, end {r['rss_end_mb']} MB)",
        ),
        ("asyncio tasks idle before / after", f"{b['asyncio_tasks']} / {a['asyncio_tasks']}"),
        ("open fds idle before / after", f"{b['open_fds']} / {a['open_fds']}"),
        ("RSS idle before / after", f"{b['rss_mb']} / {a['rss_mb']} MB"),
        (
            "event → command p50 / p99",
            f"{r['event_to_command_p50_ms']} / {r['event_to_command_p99_ms']} ms",
        ),
        ("controller CPU", f"{r['controller_cpu_percent']}% of one core"),
        (
            "records complete / lost / duplicated",
            f"{r['records_complete']} / {r['records_lost']} / {r['records_duplicated']}",
        ),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def main(
    site: Settings,
    config: LoadConfig,
    *,
    warm_up: float | None,
    max_rss_slope: float,
    as_json: bool,
    verbose: bool = False,
) -> int:
    """The CLI: 0 on a pass, 1 on a fail, 2 when it cannot run as asked."""
    setup_logging(verbose)
    try:
        result = asyncio.run(run_soak(site, config, warm_up, max_rss_slope))
    except BenchError as exc:
        print(f"hotline: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, ensure_ascii=False, indent=2) if as_json else format_report(result))
    return 0 if result["verdict"] == "pass" else 1
