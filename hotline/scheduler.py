"""Timed jobs: APScheduler in exactly one process of the cluster (decision 0015).

Every node may run a ``LeaderScheduler``; a background thread takes or renews the
database lease (``ticketdb.leases``) every third of ``scheduler.lease_seconds``. While
this process holds it, an APScheduler ``BackgroundScheduler`` runs, its job store in the
database (``apscheduler_jobs``, created by APScheduler), so a node taking over continues
the schedule where the last holder left it, a missed occurrence included (run once,
late). A holder that loses the lease, or cannot renew it before it lapses, stops its
scheduler.

The store keeps *when* each job is due; *what* a job does always comes from the registry
of the process running it (``hotline.jobs``): the stored function is a placeholder, and
the executor here runs the registry's function through ``JobRunner``, which first claims
the occurrence in ``job_runs`` and skips it when another node already did. A job that
fails is recorded as failed with its error; the scheduler carries on.

``python -m hotline.scheduler`` runs the scheduler alone (no call control), e.g. on a
host that takes no calls.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import importlib
import logging
import os
import secrets
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.executors.base import BaseExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Column, Engine, Float, MetaData, Table, Unicode, inspect, select
from sqlalchemy.orm import Session, sessionmaker

from kernel.clock import utcnow
from kernel.settings import Settings
from ticketdb.engine import make_sessionmaker
from ticketdb.leases import acquire, claim_run, finish_run, release

log = logging.getLogger(__name__)

LEASE_NAME = "scheduler"
# APScheduler's table (its default name); ticketdb/migrations/env.py leaves it alone.
JOB_TABLE = "apscheduler_jobs"
# The stored job's function, by reference so any process can load the stored job.
PLACEHOLDER = "hotline.scheduler:stored_job"
RESULT_LIMIT = 2000
# Job threads per process: the jobs are short database sweeps.
WORKERS = 4


@dataclass(frozen=True)
class JobContext:
    """What a job function gets: settings, database sessions, and the run's times."""

    settings: Settings
    sessions: sessionmaker[Session]
    # When this run started, and the occurrence it is (``now`` for a run by hand).
    now: datetime
    scheduled_at: datetime


JobFunc = Callable[[JobContext], str]


@dataclass(frozen=True)
class When:
    """An APScheduler trigger and the words for it. The words are also how a stored job
    is known to be current: when a setting changes them, the stored job is replaced."""

    trigger: Any
    text: str

    def next_from(self, now: datetime) -> datetime | None:
        """The first run time at or after ``now`` (UTC); None: never again."""
        fire: datetime | None = self.trigger.get_next_fire_time(None, now)
        return None if fire is None else fire.astimezone(UTC)


def daily(at: str, tz: ZoneInfo) -> When:
    """Every day at local ``"HH:MM"`` in ``tz``."""
    clock = time.fromisoformat(at)
    return When(
        CronTrigger(hour=clock.hour, minute=clock.minute, timezone=tz),
        f"daily at {clock:%H:%M} ({tz.key})",
    )


def every(seconds: float) -> When:
    text = f"every {seconds / 60:g} min" if seconds >= 60 else f"every {seconds:g} s"
    return When(IntervalTrigger(seconds=seconds, timezone=UTC), text)


@dataclass(frozen=True)
class JobSpec:
    name: str
    when: When
    func: JobFunc
    description: str = ""

    @property
    def label(self) -> str:
        return f"{self.name} ({self.when.text})"


@dataclass(frozen=True)
class RunOutcome:
    run_id: int
    job: str
    scheduled_at: datetime
    status: str
    result: str
    started_at: datetime
    finished_at: datetime


def stored_job() -> None:
    """The stored jobs' function. Never called: ``_RunExecutor`` runs the registry's."""
    raise RuntimeError("scheduled jobs run through hotline.scheduler.JobRunner only")


class JobRunner:
    """Runs one occurrence of a job at most once across all nodes, and records it."""

    def __init__(
        self,
        jobs: Iterable[JobSpec],
        settings: Settings,
        sessions: sessionmaker[Session],
        node: str,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.jobs: Mapping[str, JobSpec] = {j.name: j for j in jobs}
        self.settings = settings
        self.sessions = sessions
        self.node = node
        self._clock = clock

    def run(self, name: str, scheduled_at: datetime) -> RunOutcome | None:
        """Claim and run the occurrence of ``name`` due at ``scheduled_at``. None when a
        run of it already exists (it ran, or is running, elsewhere). The job's own
        failure is recorded and returned, never raised; KeyError for an unknown job."""
        spec = self.jobs[name]
        started = self._clock()
        with self.sessions() as s:
            run_id = claim_run(s, job=name, scheduled_at=scheduled_at, node=self.node, now=started)
        if run_id is None:
            log.info("job %s due at %s already ran on another node: skipped", name, scheduled_at)
            return None
        context = JobContext(self.settings, self.sessions, started, scheduled_at)
        try:
            result, status = spec.func(context), "ok"
        except Exception as exc:
            log.exception("job %s (due at %s) failed", name, scheduled_at)
            result, status = f"{type(exc).__name__}: {exc}", "failed"
        finished = self._clock()
        result = " ".join(result.split())[:RESULT_LIMIT]
        with self.sessions() as s:
            finish_run(s, run_id, status=status, result=result, now=finished)
        # Failures were logged above with their traceback; a sweep every 30 s that went
        # fine is not worth a line at INFO.
        log.debug("job %s (due at %s): %s, %s", name, scheduled_at, status, result)
        return RunOutcome(run_id, name, scheduled_at, status, result, started, finished)


class _RunExecutor(BaseExecutor):  # type: ignore[misc]  # APScheduler 3 is untyped
    """An APScheduler executor that runs each due occurrence through ``JobRunner``, with
    its scheduled time (which APScheduler's own executors do not pass on)."""

    def __init__(self, runner: JobRunner) -> None:
        super().__init__()
        self._runner = runner
        self._pool = concurrent.futures.ThreadPoolExecutor(WORKERS, thread_name_prefix="job")

    def _do_submit_job(self, job: Any, run_times: Sequence[datetime]) -> None:
        job_id: str = job.id
        future = self._pool.submit(self._run, job_id, list(run_times))
        future.add_done_callback(lambda f: self._done(job_id, f))

    def _run(self, job_id: str, run_times: list[datetime]) -> None:
        for run_time in run_times:
            if job_id not in self._runner.jobs:
                log.warning("stored job %s is not in this node's registry: not run", job_id)
                return
            self._runner.run(job_id, run_time.astimezone(UTC))

    def _done(self, job_id: str, future: concurrent.futures.Future[None]) -> None:
        exc = future.exception()
        if exc is None:
            self._run_job_success(job_id, [])
        else:  # the run log itself failed (database unreachable): this occurrence is lost
            self._run_job_error(job_id, exc, exc.__traceback__)

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait)


class LeaderScheduler:
    """Runs ``jobs`` on APScheduler while this process holds the scheduler lease."""

    def __init__(
        self,
        jobs: Iterable[JobSpec],
        settings: Settings,
        engine: Engine,
        *,
        lease_name: str = LEASE_NAME,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.node = settings.node.name
        # Unique per process: a restarted node waits for its old lease like anyone else.
        self.holder = f"{self.node}:{os.getpid()}:{secrets.token_hex(4)}"
        self.lease_name = lease_name
        self._lease_seconds = settings.scheduler.lease_seconds
        self._renew_every = self._lease_seconds / 3
        self._engine = engine
        self._sessions = make_sessionmaker(engine)
        self._clock = clock
        self.runner = JobRunner(jobs, settings, self._sessions, self.node, clock)
        self._scheduler: Any = None
        self._held_until: datetime | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """Whether this process runs the jobs now (it holds the lease)."""
        return self._scheduler is not None

    @property
    def alive(self) -> bool:
        """Whether the lease thread is up (holding the lease or waiting for it)."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def lease_held_until(self) -> datetime | None:
        return self._held_until

    def start(self) -> None:
        """Start competing for the lease in a background thread."""
        if self._thread is not None:
            raise RuntimeError("the scheduler was started already")
        self._thread = threading.Thread(target=self._loop, name="scheduler-lease", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Stop the scheduler (a job in progress finishes) and give the lease up."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        try:
            while not self._stopping.is_set():
                self._stopping.wait(self._tick())
        finally:
            self._stop_scheduler(wait=True)
            if self._held_until is not None:
                try:
                    with self._sessions() as s:
                        release(s, self.lease_name, self.holder, self._clock())
                except Exception:
                    log.warning("could not release the scheduler lease; it lapses by itself")

    def _tick(self) -> float:
        """Take or renew the lease and start or stop the scheduler to match; returns the
        seconds until the next look."""
        now = self._clock()
        try:
            with self._sessions() as s:
                lease = acquire(s, self.lease_name, self.holder, now, self._lease_seconds)
        except Exception:
            log.warning("cannot renew the scheduler lease", exc_info=True)
            if self._held_until is not None and now >= self._held_until:
                log.warning("the scheduler lease has lapsed: stopping the scheduler")
                self._held_until = None
                self._stop_scheduler(wait=False)
            return self._renew_every
        if lease.holder == self.holder:
            self._held_until = lease.expires_at
            if self._scheduler is None:
                self._start_scheduler()
            return self._renew_every
        if self._scheduler is not None:
            log.warning("the scheduler lease went to %s: stopping the scheduler", lease.holder)
            self._stop_scheduler(wait=False)
        self._held_until = None
        # Look again just after the holder's lease would lapse (not later than usual).
        lapses_in = (lease.expires_at - now).total_seconds()
        return min(self._renew_every, max(lapses_in, 0.0) + 0.05)

    def _start_scheduler(self) -> None:
        scheduler = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=self._engine, tablename=JOB_TABLE)},
            executors={"default": _RunExecutor(self.runner)},
            # A late run beats none: an occurrence missed while no node held the lease
            # runs once when the next holder starts (coalesce), however late.
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=UTC,
        )
        try:
            scheduler.start(paused=True)
            self._sync_jobs(scheduler)
            scheduler.resume()
        except Exception:
            log.exception("could not start the scheduler; trying again at the next renewal")
            try:
                scheduler.shutdown(wait=False)
            except Exception:
                log.debug("shutting down a scheduler that did not start", exc_info=True)
            return
        self._scheduler = scheduler
        log.info(
            "%s holds the scheduler lease: running %s",
            self.holder,
            ", ".join(spec.label for spec in self.runner.jobs.values()),
        )

    def _sync_jobs(self, scheduler: Any) -> None:
        """Make the stored jobs match the registry, keeping each unchanged job's next run
        time (a missed one included)."""
        for job in scheduler.get_jobs():
            if job.id not in self.runner.jobs:
                log.info("removing stored job %s: not in the registry", job.id)
                job.remove()
        for spec in self.runner.jobs.values():
            stored = scheduler.get_job(spec.name)
            if stored is not None and stored.name == spec.label:
                continue
            scheduler.add_job(
                PLACEHOLDER,
                trigger=spec.when.trigger,
                id=spec.name,
                name=spec.label,
                replace_existing=True,
            )

    def _stop_scheduler(self, wait: bool) -> None:
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is None:
            return
        try:
            scheduler.shutdown(wait=wait)
        except Exception:
            log.exception("stopping the scheduler failed")
        log.info("%s stopped its scheduler", self.holder)


def stored_next_runs(engine: Engine) -> dict[str, datetime | None]:
    """Next run times as the job store has them (None: paused), by job name; empty when
    no scheduler has run on this database yet. Reads the table, never unpickles."""
    if not inspect(engine).has_table(JOB_TABLE):
        return {}
    table = Table(JOB_TABLE, MetaData(), Column("id", Unicode(191)), Column("next_run_time", Float))
    with engine.connect() as conn:
        rows = conn.execute(select(table.c.id, table.c.next_run_time)).all()
    return {job_id: None if at is None else datetime.fromtimestamp(at, UTC) for job_id, at in rows}


def _load_registry(ref: str) -> Callable[[Settings], list[JobSpec]]:
    module, _, name = ref.partition(":")
    if not module or not name:
        raise ValueError(f"--jobs must be MODULE:FUNCTION (got {ref!r})")
    factory: Callable[[Settings], list[JobSpec]] = getattr(importlib.import_module(module), name)
    return factory


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m hotline.scheduler``: compete for the lease and run the jobs until
    SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(
        prog="python -m hotline.scheduler",
        description="Compete for the scheduler lease and run the timed jobs while holding "
        "it, until SIGTERM or SIGINT. No call control.",
    )
    parser.add_argument("--config", help="settings file (default: $HOTLINE_CONFIG or config/…)")
    parser.add_argument(
        "--jobs",
        default="hotline.jobs:registry",
        metavar="MODULE:FUNCTION",
        help="the job registry: a function of the settings (default: hotline.jobs:registry)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    from kernel.calendar import CalendarError
    from kernel.settings import SettingsError, load_settings
    from ticketdb.engine import make_engine
    from ticketdb.migrate import upgrade

    try:
        settings = load_settings(Path(args.config) if args.config else None)
        jobs = _load_registry(args.jobs)(settings)
    except (SettingsError, CalendarError, ValueError, ImportError, AttributeError) as exc:
        print(f"hotline: error: {exc}", file=sys.stderr)
        return 2
    if settings.database.auto_upgrade:
        upgrade(settings.database.url)
    engine = make_engine(settings.database.url)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: stop.set())
    leader = LeaderScheduler(jobs, settings, engine)
    leader.start()
    log.info("scheduler process %s competing for the lease", leader.holder)
    while not stop.wait(1.0):
        pass
    leader.stop()
    engine.dispose()
    return 0


if __name__ == "__main__":
    # Run the imported module's main, not this __main__ copy's, so the classes the
    # registry builds are the ones the scheduler checks against.
    from hotline.scheduler import main as _main

    sys.exit(_main())
