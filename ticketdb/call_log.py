"""Idempotent call-record operations.

Every write may be replayed — after a reconnect, a re-adopted call, or a writer retry
whose commit outcome was unknown — so each one is written to converge:

* the row for ``(node, channel_id)`` is created with ``INSERT … ON CONFLICT DO NOTHING``,
  so concurrent or repeated writers never duplicate it nor fail on the unique key;
* when the row already exists it is locked (``FOR UPDATE`` on PostgreSQL; on SQLite the
  insert attempt already took the database write lock) and only completed: start fills
  empty fields, answer sets ``answered_at`` once, update changes only open calls, and the
  first end wins.

An operation arriving for a row that does not exist (its start was lost) creates the row
with what it knows, so nothing is lost. Each write commits its own transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, String, Table, func, select, update
from sqlalchemy.orm import Session

from kernel.clock import utcnow
from ticketdb.models import Call
from ticketdb.sql import insert, transaction

# What update_call (and end_call's extra fields) may set.
UPDATABLE_FIELDS = frozenset(
    {
        "state",
        "menu_path",
        "queue",
        "wait_seconds",
        "agent",
        "recording_path",
        "customer_tier",
        "language",
        "data",
        "legs",
        "queue_entered_at",
        "agent_answered_at",
        "callback_id",
    }
)

# Over-long text (a caller name from a SIP header, say) would make PostgreSQL refuse the
# whole record; a truncated name is better than a lost call.
_MAX_LENGTHS: dict[str, int] = {
    col.key: col.type.length
    for col in Call.__table__.columns
    if isinstance(col.type, String) and col.type.length
}


_CALLS = cast(Table, Call.__table__)


def _fit(values: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(values)
    for key, value in out.items():
        limit = _MAX_LENGTHS.get(key)
        if limit is not None and isinstance(value, str) and len(value) > limit:
            out[key] = value[:limit]
    return out


def _check_fields(fields: Mapping[str, Any]) -> None:
    unknown = set(fields) - UPDATABLE_FIELDS
    if unknown:
        raise TypeError(f"unknown call record field(s): {', '.join(sorted(unknown))}")


def _insert_if_absent(s: Session, values: Mapping[str, Any]) -> bool:
    """Insert a row unless (node, channel_id) exists; True when this call inserted it."""
    stmt = (
        insert(s, Call)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["node", "channel_id"])
    )
    return s.execute(stmt.returning(Call.id)).scalar_one_or_none() is not None


def _locked_row(s: Session, node: str, channel_id: str) -> Call:
    stmt = (
        select(Call)
        .where(Call.node == node, Call.channel_id == channel_id)
        .with_for_update()
        # The session may hold an older copy of this row; the locked one is the truth.
        .execution_options(populate_existing=True)
    )
    return s.scalars(stmt).one()


def start_call(
    s: Session,
    *,
    node: str,
    channel_id: str,
    started_at: datetime,
    caller_number: str,
    caller_name: str,
    dialled_number: str,
    language: str,
    state: dict[str, Any] | None,
) -> None:
    """Create the record; on a replay only fill in what the existing row lacks."""
    values = _fit(
        {
            "node": node,
            "channel_id": channel_id,
            "started_at": started_at,
            "caller_number": caller_number,
            "caller_name": caller_name,
            "dialled_number": dialled_number,
            "language": language,
            "state": state,
        }
    )
    with transaction(s):
        if _insert_if_absent(s, values):
            return
        row = _locked_row(s, node, channel_id)
        # A row made by a later operation carries a substitute start time.
        if started_at < row.started_at:
            row.started_at = started_at
        for key in ("caller_number", "caller_name", "dialled_number", "language"):
            if not getattr(row, key) and values[key]:
                setattr(row, key, values[key])
        if row.state is None and state is not None:
            row.state = state


def answer_call(s: Session, *, node: str, channel_id: str, answered_at: datetime) -> None:
    """Set ``answered_at`` unless already set (the first answer is the real one)."""
    values = _fit(
        {
            "node": node,
            "channel_id": channel_id,
            "started_at": answered_at,
            "answered_at": answered_at,
        }
    )
    with transaction(s):
        if _insert_if_absent(s, values):
            return
        row = _locked_row(s, node, channel_id)
        if row.answered_at is None:
            row.answered_at = answered_at
            if answered_at < row.started_at:
                row.started_at = answered_at


def update_call(s: Session, *, node: str, channel_id: str, **fields: Any) -> None:
    """Change mutable fields of an open record; an ended record is final and left alone.

    Only ``UPDATABLE_FIELDS`` are accepted (anything else raises TypeError). A missing
    row is created with ``started_at`` = now, the best estimate available.
    """
    _check_fields(fields)
    if not fields:
        return
    values = _fit({"node": node, "channel_id": channel_id, "started_at": utcnow(), **fields})
    changes = {key: values[key] for key in fields}
    with transaction(s):
        # The common case, one statement: the record exists and is still open. (This
        # runs after every menu step, so it is the hottest write of all.) An ended
        # record is final: a replayed, older update must not overwrite the end.
        # On the table, not the ORM class: the ORM's bulk-update bookkeeping cost more
        # than the statement (measured: docs/performance.md, 2026-11-26).
        updated = s.execute(
            update(_CALLS)
            .where(
                _CALLS.c.node == node,
                _CALLS.c.channel_id == channel_id,
                _CALLS.c.ended_at.is_(None),
            )
            .values(**changes, updated_at=utcnow())
        )
        if cast(CursorResult[Any], updated).rowcount:
            return
        _insert_if_absent(s, values)  # missing: create it (or it exists and has ended)


def end_call(
    s: Session,
    *,
    node: str,
    channel_id: str,
    ended_at: datetime,
    hangup_cause: int | None,
    hangup_cause_text: str | None,
    hangup_side: str,
    end_reason: str,
    **fields: Any,
) -> None:
    """Complete the record; the first end wins and later ones change nothing.

    ``fields`` are last updates (``UPDATABLE_FIELDS``) written together with the end.
    A missing row is created complete, with ``started_at`` = ``ended_at``.
    """
    _check_fields(fields)
    end = {
        "ended_at": ended_at,
        "hangup_cause": hangup_cause,
        "hangup_cause_text": hangup_cause_text,
        "hangup_side": hangup_side,
        "end_reason": end_reason,
        **fields,
    }
    values = _fit({"node": node, "channel_id": channel_id, "started_at": ended_at, **end})
    with transaction(s):
        if _insert_if_absent(s, values):
            return
        row = _locked_row(s, node, channel_id)
        if row.ended_at is not None:
            return
        for key in end:
            setattr(row, key, values[key])
        # A substitute start (row made by a delayed update) must not lie after the end.
        if ended_at < row.started_at:
            row.started_at = ended_at


def get_call(s: Session, node: str, channel_id: str) -> Call | None:
    stmt = select(Call).where(Call.node == node, Call.channel_id == channel_id)
    return s.scalars(stmt).one_or_none()


def open_calls(s: Session, node: str) -> list[Call]:
    """This node's records without an end, oldest first."""
    stmt = (
        select(Call)
        .where(Call.node == node, Call.ended_at.is_(None))
        .order_by(Call.started_at, Call.id)
    )
    return list(s.scalars(stmt))


def recent_calls(s: Session, limit: int = 20) -> list[Call]:
    """The ``limit`` most recently started calls, newest first."""
    stmt = select(Call).order_by(Call.started_at.desc(), Call.id.desc()).limit(limit)
    return list(s.scalars(stmt))


def count_calls(s: Session) -> int:
    return s.scalar(select(func.count()).select_from(Call)) or 0
