"""``python -m bench [--calls N] [--rate R] [--pg URL] [--only calls|ivr|acd|load|soak|faults]``:
run the benchmarks, write ``bench/results/<name>.json`` (raw, out of git) and the README's
benchmark tables
(a table goes between its ``<!-- bench:<name>:start/end -->`` markers when the README has
them). Load, soak and faults take minutes to tens of minutes: they run only when named.

The IVR benchmark runs as ``hotline bench ivr … --json --sim-process``, one process per
run: the simulator in a process of its own, so CPU and peak RSS are the controller's, and
a fresh process each time, so one run's peak RSS is not another's. The queue engine's
benchmark (``hotline bench acd``) runs in this process: its figures are times, not
memory."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import calls

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
README = ROOT / "README.md"
START, END = "<!-- bench:calls:start -->", "<!-- bench:calls:end -->"
IVR_START, IVR_END = "<!-- bench:ivr:start -->", "<!-- bench:ivr:end -->"
ACD_START, ACD_END = "<!-- bench:acd:start -->", "<!-- bench:acd:end -->"
# (agents, callers waiting): the scenario.
ACD_SCENARIO = (100, 1000)


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures of the median run by p99, plus the spread across runs."""
    ordered = sorted(runs, key=lambda r: r["event_to_command_p99_ms"] or 0)
    result = dict(ordered[len(ordered) // 2])
    result["runs"] = len(runs)
    result["p99_ms_all_runs"] = [r["event_to_command_p99_ms"] for r in runs]
    result["cpu_ms_per_call_median"] = statistics.median(
        r["controller_cpu_ms_per_call"] for r in runs
    )
    return result


def _table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| scenario | db | records (complete / lost / dup) | event→command p50 / p99 | "
        "controller CPU per call |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['scenario']} | {r['database']} | {r['records_complete']} / "
            f"{r['records_lost']} / {r['records_duplicated']} | "
            f"{r['event_to_command_p50_ms']} ms / {r['event_to_command_p99_ms']} ms | "
            f"{r['cpu_ms_per_call_median']} ms (median of {r['runs']} runs) |"
        )
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    lines.append(f"\n_Measured {stamp} with `make bench` on {results[0]['cpus']} CPUs._")
    return "\n".join(lines)


def _replace_block(start: str, end: str, table: str) -> None:
    text = README.read_text()
    if start in text and end in text:
        text = re.sub(
            re.escape(start) + ".*?" + re.escape(end),
            lambda _: f"{start}\n{table}\n{end}",
            text,
            flags=re.S,
        )
        README.write_text(text)


def _ivr_run(calls: int, concurrency: int, think: float = 0.0) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "hotline.cli", "bench", "ivr", "--calls", str(calls)]
    cmd += ["--concurrency", str(concurrency), "--json", "--sim-process", "--think", str(think)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    try:
        # Exit status 1 with figures: it ran, but the invariant did not hold — report it.
        result: dict[str, Any] = json.loads(done.stdout)
    except ValueError:
        raise SystemExit(
            f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-3000:]}"
        ) from None
    return result


def _ivr_median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median run by DTMF p99, with every run's p99 and the median CPU per call."""
    ordered = sorted(runs, key=lambda r: r["dtmf_to_request_p99_ms"] or 0)
    result = dict(ordered[len(ordered) // 2])
    result["runs"] = len(runs)
    result["dtmf_p99_ms_all_runs"] = [r["dtmf_to_request_p99_ms"] for r in runs]
    result["cpu_ms_per_call_median"] = round(
        1000 * statistics.median(r["controller_cpu_seconds_per_call"] for r in runs), 2
    )
    result["load_averages_before"] = [r["load_average_1m_before"] for r in runs]
    result["runs_invariant_held"] = sum(
        r["records_lost"] == 0 and r["records_duplicated"] == 0 for r in runs
    )
    return result


def _ivr_table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| command | calls/s | in Stasis at most | DTMF→request p50 / p99 / max "
        "(unanswered digits) | controller CPU per call | peak RSS | "
        "records (complete / lost / dup) | calls through all 3 levels |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| `{r['command']}` | {r['calls_per_second']} | {r['concurrency_reached']} | "
            f"{r['dtmf_to_request_p50_ms']} / {r['dtmf_to_request_p99_ms']} / "
            f"{r['dtmf_to_request_max_ms']} ms ({r['dtmf_unanswered_at_hangup']}) | "
            f"{r['cpu_ms_per_call_median']} ms | {r['peak_rss_mb']} MB | "
            f"{r['records_complete']} / {r['records_lost']} / {r['records_duplicated']} | "
            f"{r['calls_navigated']} / {r['calls_placed']} |"
        )
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    p99s = "; ".join(f"{r['concurrency']}: {r['dtmf_p99_ms_all_runs']}" for r in results)
    loads = [x for r in results for x in r["load_averages_before"]]
    held = "; ".join(
        f"{r['concurrency']}: {r['runs_invariant_held']} of {r['runs']}" for r in results
    )
    lines.append(
        f"\n_Measured {stamp} with `make bench` on {results[0]['cpus']} CPUs, "
        f"{results[0]['database']}, the median of {results[0]['runs']} runs by DTMF p99 "
        f"(every run's p99 in ms by calls in flight — {p99s}); load average before the "
        f"runs {min(loads)}–{max(loads)}. Runs in which every call had exactly one complete "
        f"record — {held}. Digits still unanswered when the caller hung up count with their "
        "wait so far, so with any of them p99 is a lower bound._"
    )
    return "\n".join(lines)


# (calls in flight, seconds each caller listens before a key): a barge-in stress at two
# sizes, and 500 callers who listen a little as real callers do.
IVR_SCENARIOS = [(100, 0.0), (500, 0.0), (500, 3.0)]


def _bench_ivr(scenarios: list[tuple[int, float]], runs: int) -> None:
    results = []
    for c, think in scenarios:
        ivr_runs = []
        for _ in range(runs):
            r = _ivr_run(3 * c, c, think)
            print(json.dumps({k: v for k, v in r.items() if k != "reactions_by_cause"}))
            ivr_runs.append(r)
        median = _ivr_median(ivr_runs)
        # Tables and notes name a scenario by its size and listening time.
        median["concurrency"] = f"{c}" + (f" (think {think:g} s)" if think else "")
        results.append(median)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ivr.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    table = _ivr_table(results)
    _replace_block(IVR_START, IVR_END, table)
    print(table)


def _bench_acd(runs: int) -> None:
    from bench.acd import format_table, run_acd_bench
    from kernel.settings import load_settings

    agents, callers = ACD_SCENARIO
    settings = load_settings(None)
    results = []
    for _ in range(runs):
        r = asyncio.run(run_acd_bench(agents, callers, settings=settings))
        print(json.dumps(r.as_json()))
        results.append(r)
    # The median run by available→originate p99, with every run's p99 and rate.
    median = sorted(results, key=lambda r: r.latency.p99_ms or 0)[len(results) // 2]
    summary = {
        **median.as_json(),
        "runs": len(results),
        "latency_p99_ms_all_runs": [r.latency.p99_ms for r in results],
        "decisions_per_second_all_runs": [r.decisions_per_second for r in results],
        "runs_ok": sum(r.ok for r in results),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "acd.json").write_text(json.dumps([summary], indent=2, ensure_ascii=False) + "\n")
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    table = format_table([median]) + (
        f"\n\n_Measured {stamp} with `make bench` on {median.cpus} CPUs, {median.database}, "
        f"the median of {len(results)} runs by p99 (every run's p99 in ms: "
        f"{summary['latency_p99_ms_all_runs']}; decisions per second: "
        f"{summary['decisions_per_second_all_runs']}); every invariant held in "
        f"{summary['runs_ok']} of {len(results)} runs. The queue took "
        f"{median.fill_seconds} s to fill; the engine's poll interval was "
        f"{median.poll_interval:g} s._"
    )
    _replace_block(ACD_START, ACD_END, table)
    print(table)


# `hotline bench load` runs: a steady hour-like load with the behaviour mix, and a
# busier one with shorter calls. Each leaves the controller in its own process.
LOAD_SCENARIOS = [
    ["--rate", "2", "--duration", "120", "--agents", "100", "--handle-time-mean", "60"],
    ["--rate", "10", "--duration", "120", "--agents", "150", "--handle-time-mean", "10"],
    # The capacity runs: ~800 and ~1,000 calls in progress at once (issue #7).
    ["--rate", "10", "--duration", "240", "--agents", "400", "--handle-time-mean", "150"],
    ["--rate", "13", "--duration", "240", "--agents", "500", "--handle-time-mean", "150"],
]
LOAD_START, LOAD_END = "<!-- bench:load:start -->", "<!-- bench:load:end -->"
SOAK_START, SOAK_END = "<!-- bench:soak:start -->", "<!-- bench:soak:end -->"
FAULTS_START, FAULTS_END = "<!-- bench:faults:start -->", "<!-- bench:faults:end -->"


def _cli_json(args: list[str], timeout: float | None) -> Any:
    """``hotline <args> --json`` in a process of its own; its figures (exit status 1 with
    figures: it ran, and the figures say what failed)."""
    cmd = [sys.executable, "-m", "hotline.cli", *args, "--json"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    try:
        return json.loads(done.stdout)
    except ValueError:
        raise SystemExit(
            f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-3000:]}"
        ) from None


def _write(name: str, results: Any) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")


def _bench_load(pg: str | None) -> None:
    results = []
    for args in LOAD_SCENARIOS:
        for db in [None, pg] if pg else [None]:
            extra = ["--db", db] if db else []
            r = _cli_json(["bench", "load", *args, *extra, "--sim-process"], timeout=1800)
            print(json.dumps({k: v for k, v in r.items() if k != "rss_series_mb"}))
            results.append(r)
    _write("load", results)
    lines = [
        "| command | db | offered / answered / abandoned / self-served / callbacks | service "
        "level | digit→command p50 / p99 | ARI req/s | controller CPU | RSS peak | DB writes/s "
        "| peak calls | records (complete / lost / dup) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        sl = "-" if r["service_level"] is None else f"{100 * r['service_level']:.1f} %"
        lines.append(
            f"| `{r['command']}` | {r['database']} | {r['offered']} / {r['answered']} / "
            f"{r['abandoned']} / {r['self_served']} / {r['callbacks']} | {sl} | "
            f"{r['event_to_command_p50_ms']} / {r['event_to_command_p99_ms']} ms | "
            f"{r['ari_requests_per_second']} | {r['controller_cpu_percent']} % | "
            f"{r['rss_peak_mb']} MB | {r['db_writes_per_second']} | "
            f"{r['peak_concurrent_calls']} | {r['records_complete']} / {r['records_lost']} / "
            f"{r['records_duplicated']} |"
        )
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    lines.append(
        f"\n_Measured {stamp} with `python -m bench --only load` on {results[0]['cpus']} CPUs._"
    )
    table = "\n".join(lines)
    _replace_block(LOAD_START, LOAD_END, table)
    print(table)


def _bench_soak(minutes: float) -> None:
    r = _cli_json(["bench", "soak", "--minutes", f"{minutes:g}", "--sim-process"], timeout=None)
    _write("soak", [r])
    b, a = r["idle_before"], r["idle_after"]
    table = "\n".join(
        [
            "| command | verdict | RSS slope | tasks idle before / after | fds idle before / "
            "after | records (complete / lost / dup) |",
            "|---|---|---|---|---|---|",
            f"| `{r['command']}` | {r['verdict']} | {r['rss_slope_mb_per_hour']} MB/h | "
            f"{b['asyncio_tasks']} / {a['asyncio_tasks']} | {b['open_fds']} / {a['open_fds']} | "
            f"{r['records_complete']} / {r['records_lost']} / {r['records_duplicated']} |",
        ]
    )
    _replace_block(SOAK_START, SOAK_END, table)
    print(table)


def _bench_faults() -> None:
    results = _cli_json(["bench", "faults", "--sim-process"], timeout=None)
    _write("faults", results)
    lines = ["| scenario | verdict | calls | records lost / dup | note |", "|---|---|---|---|---|"]
    for r in results:
        if "reason" in r:
            lines.append(f"| {r['title']} | {r['verdict']} | - | - | {r['reason']} |")
            continue
        note = "; ".join(r["failures"]) or (
            f"{r['calls_after_fault_as_scripted']} of {r['calls_after_fault']} calls after "
            "the fault as scripted"
            if r.get("recovered_from_seconds") is not None
            else ""
        )
        lines.append(
            f"| {r['title']} (`--scenario {r['scenario']}`) | {r['verdict']} | {r['offered']} | "
            f"{r['records_lost']} / {r['records_duplicated']} | {note} |"
        )
    table = "\n".join(lines)
    _replace_block(FAULTS_START, FAULTS_END, table)
    print(table)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pg", help="also run against this PostgreSQL URL")
    parser.add_argument(
        "--only",
        choices=["calls", "ivr", "acd", "load", "soak", "faults"],
        help="run one benchmark only (load, soak and faults run only when named)",
    )
    parser.add_argument("--soak-minutes", type=float, default=10.0, help="for --only soak")
    parser.add_argument(
        "--ivr-concurrency",
        type=int,
        nargs="+",
        help="calls in flight for barge-in IVR runs instead of the default scenarios",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.only == "load":
        _bench_load(args.pg)
        return
    if args.only == "soak":
        _bench_soak(args.soak_minutes)
        return
    if args.only == "faults":
        _bench_faults()
        return
    if args.only in (None, "ivr"):
        scenarios = (
            [(c, 0.0) for c in args.ivr_concurrency] if args.ivr_concurrency else IVR_SCENARIOS
        )
        _bench_ivr(scenarios, args.runs)
    if args.only in (None, "acd"):
        _bench_acd(args.runs)
    if args.only not in (None, "calls"):
        return
    results = []
    for db in [None, args.pg] if args.pg else [None]:
        runs = [asyncio.run(calls.run(args.calls, args.rate, db)) for _ in range(args.runs)]
        for r in runs:
            print(json.dumps(r))
        results.append(_median_run(runs))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "calls.json").write_text(json.dumps(results, indent=2) + "\n")
    table = _table(results)
    _replace_block(START, END, table)
    print(table)


if __name__ == "__main__":
    main()
