"""``python -m bench [--calls N] [--rate R] [--pg URL]``: run the benchmarks, write
``bench/results/calls.json`` and the README's benchmark table."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import statistics
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import calls

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
README = ROOT / "README.md"
START, END = "<!-- bench:calls:start -->", "<!-- bench:calls:end -->"


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


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pg", help="also run against this PostgreSQL URL")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    results = []
    for db in [None, args.pg] if args.pg else [None]:
        runs = [asyncio.run(calls.run(args.calls, args.rate, db)) for _ in range(args.runs)]
        for r in runs:
            print(json.dumps(r))
        results.append(_median_run(runs))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "calls.json").write_text(json.dumps(results, indent=2) + "\n")
    table = _table(results)
    text = README.read_text()
    if START in text and END in text:
        text = re.sub(
            re.escape(START) + ".*?" + re.escape(END),
            f"{START}\n{table}\n{END}",
            text,
            flags=re.S,
        )
        README.write_text(text)
    print(table)


if __name__ == "__main__":
    main()
