"""The scheduler on both back ends: a run is claimed once, a failing job is recorded and
the scheduler carries on, the lease decides who runs, the job store keeps the schedule
across a change of holder."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from hotline.scheduler import (
    JobContext,
    JobRunner,
    JobSpec,
    LeaderScheduler,
    daily,
    every,
    stored_next_runs,
)
from kernel.settings import Settings
from ticketdb.engine import make_engine, make_sessionmaker
from ticketdb.leases import current_lease
from ticketdb.migrate import upgrade
from ticketdb.models import JobRun

T0 = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)


def settings(node: str = "n1", lease_seconds: float = 3) -> Settings:
    return Settings.model_validate(
        {"node": {"name": node}, "scheduler": {"lease_seconds": lease_seconds}}
    )


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    upgrade(db_url)
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(engine)


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def runs(sessions: sessionmaker[Session], job: str | None = None) -> list[JobRun]:
    with sessions() as s:
        stmt = select(JobRun).order_by(JobRun.id)
        if job is not None:
            stmt = stmt.where(JobRun.job == job)
        return list(s.scalars(stmt))


class Counter:
    def __init__(self) -> None:
        self.contexts: list[JobContext] = []

    def __call__(self, ctx: JobContext) -> str:
        self.contexts.append(ctx)
        return f"tick {len(self.contexts)}"


def boom(ctx: JobContext) -> str:
    raise OSError("disk full")


def test_an_occurrence_runs_once_whoever_asks(sessions: sessionmaker[Session]) -> None:
    counter = Counter()
    jobs = [JobSpec("tick", every(60), counter)]
    first = JobRunner(jobs, settings("n1"), sessions, "n1", clock=lambda: T0)
    second = JobRunner(jobs, settings("n2"), sessions, "n2", clock=lambda: T0)
    outcome = first.run("tick", T0)
    assert outcome is not None
    assert (outcome.status, outcome.result) == ("ok", "tick 1")
    assert second.run("tick", T0) is None
    assert len(counter.contexts) == 1
    ctx = counter.contexts[0]
    assert (ctx.now, ctx.scheduled_at, ctx.settings.node.name) == (T0, T0, "n1")
    [row] = runs(sessions)
    assert (row.job, row.node, row.status, row.result) == ("tick", "n1", "ok", "tick 1")
    assert (row.scheduled_at, row.started_at, row.finished_at) == (T0, T0, T0)
    with pytest.raises(KeyError):
        first.run("nope", T0)


def test_a_failing_job_is_recorded_not_raised(sessions: sessionmaker[Session]) -> None:
    runner = JobRunner([JobSpec("boom", every(60), boom)], settings(), sessions, "n1")
    outcome = runner.run("boom", T0)
    assert outcome is not None and outcome.status == "failed"
    [row] = runs(sessions)
    assert (row.status, row.result) == ("failed", "OSError: disk full")
    assert row.finished_at is not None


def test_the_holder_runs_jobs_and_a_failing_one_does_not_stop_it(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    counter = Counter()
    jobs = [JobSpec("tick", every(0.2), counter), JobSpec("boom", every(0.2), boom)]
    leader = LeaderScheduler(jobs, settings(), engine)
    leader.start()
    try:
        wait_for(
            lambda: (
                len([r for r in runs(sessions, "boom") if r.status == "failed"]) >= 3
                and len([r for r in runs(sessions, "tick") if r.status == "ok"]) >= 3
            ),
            10,
            "three runs of each job",
        )
        assert leader.running
    finally:
        leader.stop()
    assert not leader.running
    with sessions() as s:
        lease = current_lease(s, "scheduler")
    assert lease is not None and lease.holder == leader.holder
    assert lease.expires_at <= datetime.now(UTC)  # given up, not left to lapse
    ticks = runs(sessions, "tick")
    assert [r.scheduled_at for r in ticks] == sorted({r.scheduled_at for r in ticks})
    times = [r.scheduled_at for r in ticks]
    # Each run is an occurrence on the trigger's 0.2 s grid, none repeated (a late one
    # may have been coalesced away).
    steps = [(b - a) / timedelta(seconds=0.2) for a, b in itertools.pairwise(times)]
    assert all(step >= 0.999 and abs(step - round(step)) < 1e-3 for step in steps), steps
    assert {r.node for r in runs(sessions)} == {"n1"}
    assert all(r.result == "OSError: disk full" for r in runs(sessions, "boom"))


def test_only_the_holder_runs_and_a_clean_stop_hands_over_at_once(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    counters = {"n1": Counter(), "n2": Counter()}
    # Renewed every 5 s: after the stop, the lease would lapse 10-15 s later; the
    # other node takes it at its next look (within 5 s) only because it was released.
    leaders = {
        node: LeaderScheduler(
            [JobSpec("tick", every(0.2), counters[node])], settings(node, 15), engine
        )
        for node in ("n1", "n2")
    }
    for leader in leaders.values():
        leader.start()
    try:
        wait_for(lambda: any(x.running for x in leaders.values()), 10, "a holder")
        [first] = [n for n, x in leaders.items() if x.running]
        other = "n2" if first == "n1" else "n1"
        wait_for(lambda: len(counters[first].contexts) >= 3, 10, "three runs")
        assert not leaders[other].running and counters[other].contexts == []
        leaders[first].stop()
        handed_over = time.monotonic()
        wait_for(lambda: leaders[other].running, 8, "the other node to take over")
        assert time.monotonic() - handed_over < 8
        wait_for(lambda: len(counters[other].contexts) >= 2, 10, "runs on the new holder")
    finally:
        for leader in leaders.values():
            leader.stop()
    ticks = runs(sessions, "tick")
    assert len(ticks) == len(counters["n1"].contexts) + len(counters["n2"].contexts)
    assert len({r.scheduled_at for r in ticks}) == len(ticks)


def test_the_store_keeps_the_schedule_until_a_setting_changes_it(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    assert stored_next_runs(engine) == {}  # no scheduler ran here yet: no table

    def hold(jobs: list[JobSpec]) -> None:
        leader = LeaderScheduler(jobs, settings(), engine)
        leader.start()
        try:
            wait_for(lambda: leader.running, 10, "the lease")
        finally:
            leader.stop()

    noop = Counter()
    hold([JobSpec("hourly", every(3600), noop), JobSpec("gone", every(3600), noop)])
    first = stored_next_runs(engine)
    assert set(first) == {"hourly", "gone"}
    # A new holder (a later start) keeps the stored next run; a job no longer in the
    # registry is dropped from the store.
    hold([JobSpec("hourly", every(3600), noop)])
    assert stored_next_runs(engine) == {"hourly": first["hourly"]}
    # A changed schedule replaces the stored job.
    hold([JobSpec("hourly", every(1800), noop)])
    moved = stored_next_runs(engine)["hourly"]
    assert moved is not None and first["hourly"] is not None and moved < first["hourly"]
    assert noop.contexts == []


def test_daily_runs_at_local_time_and_every_describes_itself() -> None:
    from zoneinfo import ZoneInfo

    when = daily("09:30", ZoneInfo("Asia/Shanghai"))
    assert when.text == "daily at 09:30 (Asia/Shanghai)"
    # 09:30 in Shanghai is 01:30 UTC.
    assert when.next_from(T0 - timedelta(minutes=1)) == T0
    assert when.next_from(T0) == T0
    assert when.next_from(T0 + timedelta(seconds=1)) == T0 + timedelta(days=1)
    assert every(30).text == "every 30 s"
    assert every(300).text == "every 5 min"
    half_minute = every(30)
    start = datetime.now(UTC)
    nxt = half_minute.next_from(start)
    assert nxt is not None and timedelta(0) < nxt - start <= timedelta(seconds=30)
