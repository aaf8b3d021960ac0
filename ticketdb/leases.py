"""Timed work done exactly once across nodes: the scheduler lease and the job-run log.

The lease is one ``scheduler_leases`` row per lock name. Whoever holds an unexpired row
runs the scheduler; the holder renews by pushing ``expires_at`` forward, and a holder
that falls silent simply lets it lapse, so a crashed node needs no cleanup. Taking and
renewing are ONE conditional upsert, so of two nodes racing for a free lease exactly one
wins. Expiry is judged by the callers' clocks, which must be kept in step (NTP).

Even so, two nodes can briefly both believe they hold it (a paused process resuming, a
skewed clock). The job-run log is the second fence: a run starts by inserting its
``(job, scheduled_at)`` row with ``ON CONFLICT DO NOTHING``, and only the node whose
insert landed runs that occurrence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, literal, select, update
from sqlalchemy.orm import Session

from ticketdb.base import UTCDateTime
from ticketdb.models import JobRun, SchedulerLease
from ticketdb.sql import insert, transaction

RUN_STATUSES = ("running", "ok", "failed")


@dataclass(frozen=True)
class Lease:
    name: str
    holder: str
    acquired_at: datetime
    expires_at: datetime


def acquire(s: Session, name: str, holder: str, now: datetime, seconds: float) -> Lease:
    """Take the lease if it is free or has expired, or renew it if ``holder`` has it;
    commits. Returns the lease as it now stands: ``holder``'s, or the other holder's."""
    expires = now + timedelta(seconds=seconds)
    stmt = insert(s, SchedulerLease).values(
        name=name, holder=holder, acquired_at=now, expires_at=expires
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["name"],
        set_={
            "holder": holder,
            # A renewal keeps the time the lease was taken.
            "acquired_at": case(
                (SchedulerLease.holder == holder, SchedulerLease.acquired_at),
                else_=literal(now, UTCDateTime()),
            ),
            "expires_at": expires,
        },
        where=(SchedulerLease.holder == holder) | (SchedulerLease.expires_at <= now),
    ).returning(SchedulerLease.acquired_at)
    with transaction(s):
        taken = s.execute(stmt).first()
    if taken is not None:
        return Lease(name, holder, taken[0], expires)
    lease = current_lease(s, name)
    if lease is None:  # the row is never deleted; only a hand-edited database gets here
        raise RuntimeError(f"scheduler lease {name!r} vanished while being taken")
    return lease


def release(s: Session, name: str, holder: str, now: datetime) -> bool:
    """Give the lease up at once (a clean shutdown), so another node need not wait for
    it to expire; commits. False when ``holder`` did not hold it."""
    with transaction(s):
        done = s.execute(
            update(SchedulerLease)
            .where(
                SchedulerLease.name == name,
                SchedulerLease.holder == holder,
                SchedulerLease.expires_at > now,
            )
            .values(expires_at=now)
            .returning(SchedulerLease.name)
        ).first()
    return done is not None


def current_lease(s: Session, name: str) -> Lease | None:
    """The lease row as stored (expired or not), or None when nobody ever took it."""
    row = s.get(SchedulerLease, name, populate_existing=True)
    if row is None:
        return None
    return Lease(row.name, row.holder, row.acquired_at, row.expires_at)


def claim_run(
    s: Session, *, job: str, scheduled_at: datetime, node: str, now: datetime
) -> int | None:
    """Record that ``node`` starts the occurrence of ``job`` due at ``scheduled_at``;
    commits. Returns the run's id, or None when a run of that occurrence already exists
    (some node claimed it first: the caller must not run it)."""
    stmt = (
        insert(s, JobRun)
        .values(
            job=job,
            node=node[:64],
            scheduled_at=scheduled_at,
            started_at=now,
            status="running",
        )
        .on_conflict_do_nothing(index_elements=["job", "scheduled_at"])
        .returning(JobRun.id)
    )
    with transaction(s):
        run_id = s.execute(stmt).scalar()
    return run_id


def finish_run(s: Session, run_id: int, *, status: str, result: str, now: datetime) -> None:
    """Record how a claimed run ended; commits. ValueError for an unknown status."""
    if status not in RUN_STATUSES[1:]:
        raise ValueError(f"status must be ok or failed (got {status!r})")
    with transaction(s):
        s.execute(
            update(JobRun)
            .where(JobRun.id == run_id)
            .values(status=status, result=result, finished_at=now)
        )


def last_runs(s: Session) -> dict[str, JobRun]:
    """Each job's latest run (the last one claimed), by job name."""
    latest = select(func.max(JobRun.id)).group_by(JobRun.job)
    return {r.job: r for r in s.scalars(select(JobRun).where(JobRun.id.in_(latest)))}


def runs_of(s: Session, job: str, limit: int = 20) -> list[JobRun]:
    """A job's runs, newest first."""
    stmt = select(JobRun).where(JobRun.job == job).order_by(JobRun.id.desc()).limit(limit)
    return list(s.scalars(stmt))
