"""Retention (domain.md §7): which recordings and call ledgers are past the retention
period, and the purge's database side, done in one transaction and logged as a
``RetentionRun``.

A recording's row outlives its file: it is marked ``purged`` and keeps its path, so the
log still says what existed. A call ledger is deleted; the tickets, recordings and
callback requests that pointed at it keep their own rows, with the link cleared. An open
call (no ``ended_at``) is never purged, nor the recordings of one.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, delete, or_, select, update
from sqlalchemy.orm import Session

from ticketdb.models import Call, CallbackRequest, Recording, RetentionRun, Ticket
from ticketdb.sql import transaction

# Ids per IN (...) list: well under SQLite's bound-parameter limit.
CHUNK = 500

T = TypeVar("T")


@dataclass(frozen=True)
class ExpiredRecording:
    id: int
    call_id: int | None
    # Relative to the calls directory; None when no file was ever stored.
    path: str | None
    started_at: datetime


@dataclass(frozen=True)
class ExpiredCall:
    id: int
    node: str
    channel_id: str
    started_at: datetime


def _chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


def _purgeable_call(cutoff: datetime) -> ColumnElement[bool]:
    return (Call.started_at < cutoff) & Call.ended_at.is_not(None)


def expired_recordings(s: Session, cutoff: datetime) -> list[ExpiredRecording]:
    """Recordings started before ``cutoff`` and not purged yet, oldest first, except
    those of a call still open."""
    open_calls = select(Call.id).where(Call.ended_at.is_(None))
    stmt = (
        select(Recording.id, Recording.call_id, Recording.path, Recording.started_at)
        .where(
            Recording.started_at < cutoff,
            Recording.status != "purged",
            or_(Recording.call_id.is_(None), Recording.call_id.not_in(open_calls)),
        )
        .order_by(Recording.started_at, Recording.id)
    )
    return [ExpiredRecording(*row) for row in s.execute(stmt)]


def expired_calls(s: Session, cutoff: datetime) -> list[ExpiredCall]:
    """Ended calls started before ``cutoff``, oldest first."""
    stmt = (
        select(Call.id, Call.node, Call.channel_id, Call.started_at)
        .where(_purgeable_call(cutoff))
        .order_by(Call.started_at, Call.id)
    )
    return [ExpiredCall(*row) for row in s.execute(stmt)]


def recorded_paths(s: Session, paths: Collection[str]) -> set[str]:
    """Which of ``paths`` (relative to the calls directory) a recording row names."""
    found: set[str] = set()
    for chunk in _chunks(sorted(paths)):
        found.update(s.scalars(select(Recording.path).where(Recording.path.in_(chunk))))
    return found


def record_purge(
    s: Session,
    *,
    at: datetime,
    cutoff: datetime,
    by: str,
    recording_ids: Sequence[int],
    call_ids: Sequence[int],
    recordings: int,
    bytes_freed: int,
    detail: dict[str, Any],
) -> RetentionRun:
    """After the files are gone: mark the recordings purged, delete the call ledgers
    (clearing the links to them first) and write the log row; one transaction, commits.

    A call is deleted only if it still qualifies (ended, started before ``cutoff``).
    ``detail["calls"]`` is set to the ids actually deleted.
    """
    with transaction(s):
        for chunk in _chunks(recording_ids):
            s.execute(
                update(Recording)
                .where(Recording.id.in_(chunk))
                .values(status="purged")
                .execution_options(synchronize_session=False)
            )
        deleted: list[int] = []
        for chunk in _chunks(call_ids):
            going = select(Call.id).where(Call.id.in_(chunk), _purgeable_call(cutoff))
            for model in (Ticket, Recording, CallbackRequest):
                s.execute(
                    update(model)
                    .where(model.call_id.in_(going))
                    .values(call_id=None)
                    .execution_options(synchronize_session=False)
                )
            deleted += s.scalars(
                delete(Call)
                .where(Call.id.in_(chunk), _purgeable_call(cutoff))
                .returning(Call.id)
                .execution_options(synchronize_session=False)
            )
        run = RetentionRun(
            at=at,
            cutoff=cutoff,
            by=by[:32],
            recordings=recordings,
            recording_bytes=bytes_freed,
            calls=len(deleted),
            detail={**detail, "calls": sorted(deleted)},
        )
        s.add(run)
    return run


def retention_runs(s: Session, limit: int = 10) -> list[RetentionRun]:
    """The latest purges, newest first."""
    stmt = select(RetentionRun).order_by(RetentionRun.id.desc()).limit(limit)
    return list(s.scalars(stmt))
