"""The scheduler lease and the job-run log (ticketdb.leases) on both back ends."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from ticketdb.leases import (
    acquire,
    claim_run,
    current_lease,
    finish_run,
    last_runs,
    release,
    runs_of,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LEASE = 30.0


def test_acquire_a_free_lease(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        assert current_lease(s, "scheduler") is None
        lease = acquire(s, "scheduler", "a", T0, LEASE)
        assert (lease.holder, lease.acquired_at, lease.expires_at) == (
            "a",
            T0,
            T0 + timedelta(seconds=LEASE),
        )
        assert current_lease(s, "scheduler") == lease


def test_renew_moves_the_expiry_and_keeps_the_time_taken(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as s:
        acquire(s, "scheduler", "a", T0, LEASE)
        later = T0 + timedelta(seconds=10)
        lease = acquire(s, "scheduler", "a", later, LEASE)
        assert lease.holder == "a"
        assert lease.acquired_at == T0
        assert lease.expires_at == later + timedelta(seconds=LEASE)
        # A holder may renew even after its lease lapsed, if nobody took it meanwhile.
        late = later + timedelta(seconds=LEASE + 5)
        assert acquire(s, "scheduler", "a", late, LEASE).holder == "a"


def test_another_holder_is_refused_before_expiry(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        acquire(s, "scheduler", "a", T0, LEASE)
        just_before = T0 + timedelta(seconds=LEASE) - timedelta(microseconds=1)
        lease = acquire(s, "scheduler", "b", just_before, LEASE)
        # b is told who holds it and until when, and nothing changed.
        assert (lease.holder, lease.expires_at) == ("a", T0 + timedelta(seconds=LEASE))
        assert current_lease(s, "scheduler") == lease


def test_another_holder_steals_after_expiry(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        acquire(s, "scheduler", "a", T0, LEASE)
        expired = T0 + timedelta(seconds=LEASE)
        lease = acquire(s, "scheduler", "b", expired, LEASE)
        assert (lease.holder, lease.acquired_at) == ("b", expired)
        # The old holder's renewal is now refused.
        assert acquire(s, "scheduler", "a", expired + timedelta(seconds=1), LEASE).holder == "b"


def test_leases_by_name_are_independent(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        acquire(s, "scheduler", "a", T0, LEASE)
        assert acquire(s, "other", "b", T0, LEASE).holder == "b"


def test_release_frees_the_lease_at_once(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        acquire(s, "scheduler", "a", T0, LEASE)
        assert release(s, "scheduler", "b", T0) is False  # not b's to give
        assert release(s, "scheduler", "a", T0 + timedelta(seconds=1)) is True
        assert acquire(s, "scheduler", "b", T0 + timedelta(seconds=2), LEASE).holder == "b"


def test_racing_for_a_free_lease_one_wins(sessions: sessionmaker[Session]) -> None:
    barrier = threading.Barrier(6)
    holders: list[str] = []

    def contend(name: str) -> None:
        with sessions() as s:
            barrier.wait()
            holders.append(acquire(s, "scheduler", name, T0, LEASE).holder)

    threads = [threading.Thread(target=contend, args=(f"n{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Every contender was told the same single winner.
    assert len(holders) == 6 and len(set(holders)) == 1


def test_an_occurrence_is_claimed_once(sessions: sessionmaker[Session]) -> None:
    due = T0.replace(minute=30)
    with sessions() as s:
        first = claim_run(s, job="dispatch", scheduled_at=due, node="n1", now=T0)
        assert first is not None
        assert claim_run(s, job="dispatch", scheduled_at=due, node="n2", now=T0) is None
        # Another occurrence, or another job at the same time, is a new run.
        assert claim_run(s, job="dispatch", scheduled_at=due + timedelta(days=1), node="n2", now=T0)
        assert claim_run(s, job="retention", scheduled_at=due, node="n2", now=T0)
        [run] = [r for r in runs_of(s, "dispatch") if r.id == first]
        assert (run.node, run.status, run.finished_at) == ("n1", "running", None)


def test_finish_and_last_runs(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        for minute in (1, 2):
            run_id = claim_run(
                s, job="sla_sweep", scheduled_at=T0.replace(minute=minute), node="n1", now=T0
            )
            assert run_id is not None
            finish_run(s, run_id, status="ok", result=f"sweep {minute}", now=T0)
        failed = claim_run(s, job="retention", scheduled_at=T0, node="n2", now=T0)
        assert failed is not None
        finish_run(s, failed, status="failed", result="OSError: disk", now=T0)
        with pytest.raises(ValueError, match="ok or failed"):
            finish_run(s, failed, status="done", result="", now=T0)
        last = last_runs(s)
    assert {job: (r.status, r.result) for job, r in last.items()} == {
        "sla_sweep": ("ok", "sweep 2"),
        "retention": ("failed", "OSError: disk"),
    }
