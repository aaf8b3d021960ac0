"""Call recordings' rows: started, stored or failed; and the call they belong to.

Written through the record writer, so every operation may be replayed and converges: the
row is keyed by its ARI recording name (unique), created when missing, and a stored
recording is final (a late or replayed failure does not undo it). The call is found by
``(node, channel_id)``; the writer applies operations in order, so the call's start was
written before its recording's.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ticketdb.models import Call, Recording
from ticketdb.sql import insert, transaction

# Longer texts are cut to fit the column (the error is Text, no limit).
_NAME_MAX = 128
_PATH_MAX = 512


def _call_id(s: Session, node: str, channel_id: str) -> int | None:
    stmt = select(Call.id).where(Call.node == node, Call.channel_id == channel_id)
    return s.scalars(stmt).one_or_none()


def _row(s: Session, *, node: str, channel_id: str, name: str, started_at: datetime) -> Recording:
    """The recording's row, created (status ``recording``) if missing, locked for update."""
    name = name[:_NAME_MAX]
    s.execute(
        insert(s, Recording)
        .values(
            name=name,
            call_id=_call_id(s, node, channel_id),
            started_at=started_at,
            status="recording",
        )
        .on_conflict_do_nothing(index_elements=["name"])
    )
    stmt = (
        select(Recording)
        .where(Recording.name == name)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    row = s.scalars(stmt).one()
    if row.call_id is None:
        row.call_id = _call_id(s, node, channel_id)
    return row


def recording_started(
    s: Session, *, node: str, channel_id: str, name: str, started_at: datetime
) -> None:
    """Asterisk is recording ``name`` for the call ``(node, channel_id)``; commits."""
    with transaction(s):
        _row(s, node=node, channel_id=channel_id, name=name, started_at=started_at)


def recording_stored(
    s: Session,
    *,
    node: str,
    channel_id: str,
    name: str,
    started_at: datetime,
    finished_at: datetime,
    path: str,
    size_bytes: int,
    duration_seconds: float,
) -> None:
    """The file is at ``path`` (relative to the calls directory); the call links to it
    unless it already links to an earlier part. Commits."""
    with transaction(s):
        row = _row(s, node=node, channel_id=channel_id, name=name, started_at=started_at)
        row.path = path[:_PATH_MAX]
        row.size_bytes = size_bytes
        row.duration_seconds = duration_seconds
        row.finished_at = finished_at
        row.status = "stored"
        row.error = None
        if row.call_id is not None:
            s.execute(
                update(Call)
                .where(Call.id == row.call_id, Call.recording_path.is_(None))
                .values(recording_path=row.path)
                .execution_options(synchronize_session=False)
            )


def recording_failed(
    s: Session,
    *,
    node: str,
    channel_id: str,
    name: str,
    started_at: datetime,
    finished_at: datetime,
    error: str,
) -> None:
    """The recording could not be made or kept; ``error`` says why. Commits. A stored
    recording stays stored."""
    with transaction(s):
        row = _row(s, node=node, channel_id=channel_id, name=name, started_at=started_at)
        if row.status == "stored":
            return
        row.status = "failed"
        row.error = error
        row.finished_at = finished_at


def get_recording(s: Session, recording_id: int) -> Recording | None:
    return s.get(Recording, recording_id)


def recordings_of_call(s: Session, call_id: int) -> list[Recording]:
    """A call's recordings, in the order they were made."""
    stmt = (
        select(Recording)
        .where(Recording.call_id == call_id)
        .order_by(Recording.started_at, Recording.id)
    )
    return list(s.scalars(stmt))
