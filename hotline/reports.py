"""Read-side views of the call records for the command line."""

from __future__ import annotations

from typing import Any

from ticketdb import call_log
from ticketdb.engine import make_engine, make_sessionmaker
from ticketdb.migrate import upgrade


def call_as_dict(rec: Any) -> dict[str, Any]:
    def iso(value: Any) -> str | None:
        return value.isoformat() if value is not None else None

    duration = (
        (rec.ended_at - rec.started_at).total_seconds()
        if rec.ended_at is not None and rec.started_at is not None
        else None
    )
    return {
        "id": rec.id,
        "node": rec.node,
        "channel_id": rec.channel_id,
        "caller_number": rec.caller_number,
        "caller_name": rec.caller_name,
        "dialled_number": rec.dialled_number,
        "language": rec.language,
        "started_at": iso(rec.started_at),
        "answered_at": iso(rec.answered_at),
        "ended_at": iso(rec.ended_at),
        "duration_seconds": duration,
        "hangup_cause": rec.hangup_cause,
        "hangup_cause_text": rec.hangup_cause_text,
        "hangup_side": rec.hangup_side,
        "end_reason": rec.end_reason,
        "customer_tier": rec.customer_tier,
        "menu_path": rec.menu_path,
        "data": rec.data,
        "queue": rec.queue,
        "wait_seconds": rec.wait_seconds,
        "agent": rec.agent,
        "recording_path": rec.recording_path,
        "complete": rec.is_complete,
    }


def recent_calls_as_dicts(url: str, limit: int) -> list[dict[str, Any]]:
    upgrade(url)  # a fresh install answers "no calls" instead of "no such table"
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            return [call_as_dict(rec) for rec in call_log.recent_calls(session, limit=limit)]
    finally:
        engine.dispose()
