"""Two scheduler processes on one database (SQLite file, PostgreSQL schema): only the
lease holder runs the jobs, every occurrence runs exactly once, and when the holder is
SIGKILLed the other process takes over within the lease time."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from hotline.scheduler import LEASE_NAME
from tests.integration.scheduler.jobs import TICKS_FILE
from ticketdb.engine import make_engine, make_sessionmaker
from ticketdb.leases import Lease, current_lease
from ticketdb.migrate import upgrade
from ticketdb.models import JobRun

REPO = Path(__file__).resolve().parents[3]
LEASE_SECONDS = 3.0  # the smallest the settings allow: renewed every second


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


class SchedulerProcess:
    """``python -m hotline.scheduler`` with the test registry, configured by HOTLINE_*."""

    def __init__(self, node: str, db_url: str, tmp_path: Path) -> None:
        config = tmp_path / "hotline.toml"
        config.write_text("")  # defaults + the environment below, nothing from the repo
        self.node = node
        self.log = tmp_path / f"{node}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
        self.env = {
            **env,
            "HOTLINE_CONFIG": str(config),
            "HOTLINE_NODE_NAME": node,
            "HOTLINE_DATABASE_URL": db_url,
            "HOTLINE_DATABASE_AUTO_UPGRADE": "false",
            "HOTLINE_SCHEDULER_LEASE_SECONDS": str(LEASE_SECONDS),
            "HOTLINE_PATHS_DATA_DIR": str(tmp_path),
        }
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "hotline.scheduler",
                    "--jobs",
                    "tests.integration.scheduler.jobs:registry",
                ],
                cwd=REPO,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode


@pytest.fixture
def processes(db_url: str, tmp_path: Path) -> Iterator[dict[str, SchedulerProcess]]:
    upgrade(db_url)
    procs = {node: SchedulerProcess(node, db_url, tmp_path) for node in ("s1", "s2")}
    yield procs
    for p in procs.values():
        p.stop()
        print(f"--- {p.node} ---\n" + p.log.read_text(errors="replace")[-3000:])


def test_two_processes_run_each_occurrence_once_and_take_over_after_a_kill(
    processes: dict[str, SchedulerProcess], db_url: str, tmp_path: Path
) -> None:
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)

    def lease() -> Lease | None:
        with sessions() as s:
            return current_lease(s, LEASE_NAME)

    def runs() -> list[JobRun]:
        with sessions() as s:
            return list(s.scalars(select(JobRun).order_by(JobRun.scheduled_at)))

    try:
        wait_for(lambda: len(runs()) >= 5, 30, "five runs")
        held = lease()
        assert held is not None
        holder = held.holder.split(":")[0]
        other = "s2" if holder == "s1" else "s1"
        # Only the lease holder has run the job so far.
        assert {r.node for r in runs()} == {holder}

        processes[holder].proc.kill()  # SIGKILL: no release, the lease has to lapse
        killed = time.monotonic()
        killed_at = datetime.now(UTC)
        processes[holder].proc.wait(10)

        def taken_over() -> bool:
            now = lease()
            return now is not None and now.holder.startswith(f"{other}:")

        wait_for(taken_over, LEASE_SECONDS + 5, "the other process to take the lease")
        # Within the lease time (plus the moment the poll and the database take).
        assert time.monotonic() - killed <= LEASE_SECONDS + 1.0
        wait_for(
            lambda: len([r for r in runs() if r.node == other and r.status == "ok"]) >= 3,
            15,
            "three runs on the new holder",
        )
        assert processes[other].stop() == 0  # a clean stop on SIGTERM
    finally:
        engine.dispose()

    rows = runs()
    by_holder = [r for r in rows if r.node == holder]
    by_other = [r for r in rows if r.node == other]
    assert len(by_holder) >= 5 and len(by_other) >= 3
    assert all(r.started_at >= killed_at for r in by_other)
    # Each occurrence ran exactly once: one run row (the unique key) and, the side
    # effect, one line in the ticks file, written by the node of that row.
    lines = (tmp_path / TICKS_FILE).read_text().splitlines()
    ran = [tuple(line.split()) for line in lines]
    assert len({at for at, _ in ran}) == len(ran)
    recorded = {(r.scheduled_at.isoformat(), r.node) for r in rows}
    assert set(ran) <= recorded
    # Every finished run left its line; only the killed holder's last run may have been
    # cut short (claimed, never finished).
    assert {(r.scheduled_at.isoformat(), r.node) for r in rows if r.status == "ok"} <= set(ran)
    unfinished = [r for r in rows if r.status != "ok"]
    assert all(r.node == holder and r.status == "running" for r in unfinished)
    assert len(unfinished) <= 1
