"""Recording rows: started, stored, failed; replays converge; the call links to its first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ticketdb import call_log
from ticketdb import recordings as rows
from ticketdb.models import Call, Recording

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
NODE, CHANNEL = "n1", "1762077600.7"


def start_call(s: Session) -> int:
    call_log.start_call(
        s,
        node=NODE,
        channel_id=CHANNEL,
        started_at=T0,
        caller_number="+8613800000001",
        caller_name="",
        dialled_number="6000",
        language="en",
        state=None,
    )
    found = call_log.get_call(s, NODE, CHANNEL)
    assert found is not None
    return found.id


def stored(s: Session, name: str, path: str, at: datetime = T0) -> None:
    rows.recording_stored(
        s,
        node=NODE,
        channel_id=CHANNEL,
        name=name,
        started_at=at,
        finished_at=at + timedelta(seconds=90),
        path=path,
        size_bytes=1_440_044,
        duration_seconds=90.0,
    )


def all_rows(s: Session) -> list[Recording]:
    return list(s.scalars(select(Recording).order_by(Recording.id)))


def test_started_then_stored_links_the_call(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        call_id = start_call(s)
        rows.recording_started(s, node=NODE, channel_id=CHANNEL, name="call-a", started_at=T0)
        (row,) = all_rows(s)
        assert (row.status, row.call_id, row.path) == ("recording", call_id, None)
        stored(s, "call-a", "2026/11/02/a.wav")
        stored(s, "call-a", "2026/11/02/a.wav")  # a replay changes nothing
        s.expire_all()
        (row,) = all_rows(s)
        assert (row.status, row.size_bytes, row.duration_seconds) == ("stored", 1_440_044, 90.0)
        assert row.finished_at == T0 + timedelta(seconds=90)
        assert s.get(Call, call_id).recording_path == "2026/11/02/a.wav"  # type: ignore[union-attr]
        assert [r.id for r in rows.recordings_of_call(s, call_id)] == [row.id]
        assert rows.get_recording(s, row.id) is not None


def test_a_later_part_does_not_replace_the_calls_link(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        call_id = start_call(s)
        stored(s, "call-a", "2026/11/02/a.wav")
        stored(s, "call-a-2", "2026/11/02/a-2.wav", at=T0 + timedelta(minutes=3))
        s.expire_all()
        assert s.get(Call, call_id).recording_path == "2026/11/02/a.wav"  # type: ignore[union-attr]
        parts = rows.recordings_of_call(s, call_id)
        assert [r.name for r in parts] == ["call-a", "call-a-2"]


def test_failed_keeps_the_error_and_never_undoes_a_stored_one(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as s:
        start_call(s)
        rows.recording_failed(
            s,
            node=NODE,
            channel_id=CHANNEL,
            name="call-a",
            started_at=T0,
            finished_at=T0,
            error="cannot write x: No space left on device (ENOSPC)",
        )
        (row,) = all_rows(s)
        assert row.status == "failed" and row.error is not None and "ENOSPC" in row.error
        stored(s, "call-b", "2026/11/02/b.wav")
        rows.recording_failed(
            s,
            node=NODE,
            channel_id=CHANNEL,
            name="call-b",
            started_at=T0,
            finished_at=T0,
            error="late",
        )
        s.expire_all()
        assert [(r.name, r.status) for r in all_rows(s)] == [
            ("call-a", "failed"),
            ("call-b", "stored"),
        ]


def test_a_recording_of_a_call_not_yet_written_is_linked_later(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as s:
        rows.recording_started(s, node=NODE, channel_id=CHANNEL, name="call-a", started_at=T0)
        assert all_rows(s)[0].call_id is None
        call_id = start_call(s)
        stored(s, "call-a", "2026/11/02/a.wav")
        s.expire_all()
        assert all_rows(s)[0].call_id == call_id
