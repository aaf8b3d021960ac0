"""Retention on both back ends, with real files: a dry run lists and changes nothing; a
real run deletes old recordings' files, stray old WAV files and ended call ledgers,
keeps new ones and open calls, clears the links to deleted calls and logs the run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hotline.retention import RetentionReport, purge
from ticketdb.models import Call, CallbackRequest, Recording, RetentionRun, Ticket
from ticketdb.retention import retention_runs

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
DAYS = 365
OLD = NOW - timedelta(days=400)  # 2025-04-27
NEW = NOW - timedelta(days=10)


@dataclass
class Site:
    calls_dir: Path
    ids: dict[str, int]
    outside: Path

    def file(self, relative: str) -> Path:
        return self.calls_dir / relative


def _call(s: Session, channel: str, at: datetime, ended: bool = True) -> Call:
    call = Call(node="n1", channel_id=channel, started_at=at, ended_at=at if ended else None)
    s.add(call)
    s.flush()
    return call


def _recording(
    s: Session, calls_dir: Path, name: str, at: datetime, call: Call | None, size: int | None
) -> Recording:
    """A stored recording whose file holds ``size`` bytes (None: a failed one, no file)."""
    path = None
    if size is not None:
        path = f"{at:%Y/%m/%d}/{name}.wav"
        (calls_dir / path).parent.mkdir(parents=True, exist_ok=True)
        (calls_dir / path).write_bytes(b"\0" * size)
    rec = Recording(
        call_id=call.id if call else None,
        name=name,
        path=path,
        size_bytes=size,
        started_at=at,
        status="stored" if size is not None else "failed",
    )
    s.add(rec)
    s.flush()
    return rec


@pytest.fixture
def site(sessions: sessionmaker[Session], tmp_path: Path) -> Site:
    calls_dir = tmp_path / "calls"
    calls_dir.mkdir()
    ids: dict[str, int] = {}
    with sessions() as s:
        old = _call(s, "old", OLD)
        open_old = _call(s, "open-old", OLD, ended=False)
        new = _call(s, "new", NEW)
        ids |= {"call_old": old.id, "call_open_old": open_old.id, "call_new": new.id}
        ids["rec_old"] = _recording(s, calls_dir, "old", OLD, old, 1000).id
        ids["rec_open_old"] = _recording(s, calls_dir, "open-old", OLD, open_old, 300).id
        ids["rec_new"] = _recording(s, calls_dir, "new", NEW, new, 200).id
        ids["rec_failed_old"] = _recording(s, calls_dir, "failed", OLD, None, None).id
        ticket = Ticket(
            kind="inquiry",
            call_id=old.id,
            created_by="8001",
            created_at=OLD,
            updated_at=OLD,
        )
        s.add(ticket)
        callback = CallbackRequest(
            node="", channel_id="call:old", number="13800000001", requested_at=OLD,
            source="member", call_id=old.id,
        )  # fmt: skip
        s.add(callback)
        s.flush()
        ids |= {"ticket": ticket.id, "callback": callback.id}
        s.commit()
    # Files no row names: one in an old day directory, one in a recent one.
    for day in (OLD, NEW):
        stray = calls_dir / f"{day:%Y/%m/%d}" / "stray.wav"
        stray.parent.mkdir(parents=True, exist_ok=True)
        stray.write_bytes(b"\0" * 50)
    outside = tmp_path / "outside.wav"
    outside.write_bytes(b"keep me")
    return Site(calls_dir, ids, outside)


def _state(sessions: sessionmaker[Session]) -> tuple[object, ...]:
    with sessions() as s:
        return (
            sorted(s.scalars(select(Call.channel_id))),
            sorted((r.name, r.status, r.call_id) for r in s.scalars(select(Recording))),
            s.scalar(select(Ticket.call_id)),
            s.scalar(select(CallbackRequest.call_id)),
            s.scalars(select(RetentionRun)).all(),
        )


def _files(calls_dir: Path) -> set[str]:
    return {p.relative_to(calls_dir).as_posix() for p in calls_dir.rglob("*.wav")}


OLD_DIR = f"{OLD:%Y/%m/%d}"
NEW_DIR = f"{NEW:%Y/%m/%d}"


def test_dry_run_lists_what_would_go_and_changes_nothing(
    sessions: sessionmaker[Session], site: Site
) -> None:
    before, files = _state(sessions), _files(site.calls_dir)
    report = purge(sessions, site.calls_dir, DAYS, NOW, dry_run=True, by="test")
    assert report.dry_run and report.run_id is None
    assert report.cutoff == NOW - timedelta(days=DAYS)
    assert [(f.path, f.size_bytes, f.recording_id) for f in report.recordings] == [
        (f"{OLD_DIR}/old.wav", 1000, site.ids["rec_old"]),
        ("", 0, site.ids["rec_failed_old"]),
    ]
    assert [(f.path, f.size_bytes, f.recording_id) for f in report.orphans] == [
        (f"{OLD_DIR}/stray.wav", 50, None)
    ]
    assert [c.id for c in report.calls] == [site.ids["call_old"]]
    assert report.bytes_freed == 1050 and report.errors == []
    assert report.summary().startswith("would purge 3 recording(s) (1.1 kB) and 1 call ledger(s)")
    assert _state(sessions) == before
    assert _files(site.calls_dir) == files


def test_real_run_purges_old_keeps_new_and_open_and_logs(
    sessions: sessionmaker[Session], site: Site
) -> None:
    report = purge(sessions, site.calls_dir, DAYS, NOW, dry_run=False, by="test")
    assert report.errors == [] and report.run_id is not None
    assert _files(site.calls_dir) == {
        f"{OLD_DIR}/open-old.wav",  # an open call's recording stays
        f"{NEW_DIR}/new.wav",
        f"{NEW_DIR}/stray.wav",  # a recent day: not past retention
    }
    with sessions() as s:
        assert sorted(s.scalars(select(Call.channel_id))) == ["new", "open-old"]
        recs = {r.id: r for r in s.scalars(select(Recording))}
        old = recs[site.ids["rec_old"]]
        # The row stays as the log of what existed, its call link cleared.
        assert (old.status, old.path, old.call_id) == ("purged", f"{OLD_DIR}/old.wav", None)
        assert recs[site.ids["rec_failed_old"]].status == "purged"
        assert recs[site.ids["rec_open_old"]].status == "stored"
        assert recs[site.ids["rec_new"]].status == "stored"
        ticket = s.get(Ticket, site.ids["ticket"])
        assert ticket is not None and ticket.call_id is None
        callback = s.get(CallbackRequest, site.ids["callback"])
        assert callback is not None and callback.call_id is None
        [run] = retention_runs(s)
    assert run.id == report.run_id
    assert (run.at, run.cutoff, run.by) == (NOW, report.cutoff, "test")
    assert (run.recordings, run.recording_bytes, run.calls) == (3, 1050, 1)
    assert run.detail == {
        "recordings": [f"{OLD_DIR}/old.wav", ""],
        "orphans": [f"{OLD_DIR}/stray.wav"],
        "calls": [site.ids["call_old"]],
        "bytes": 1050,
        "errors": [],
    }
    assert report.summary().startswith("purged 3 recording(s)")

    # Nothing is left to purge: a second run deletes nothing and logs that.
    again = purge(sessions, site.calls_dir, DAYS, NOW, dry_run=False, by="test")
    assert (again.recording_count, len(again.calls), again.bytes_freed) == (0, 0, 0)
    with sessions() as s:
        assert [r.calls for r in retention_runs(s)] == [0, 1]


def test_emptied_old_day_directories_are_removed(
    sessions: sessionmaker[Session], site: Site
) -> None:
    # Only the open call's recording is left in the old day: that directory stays.
    purge(sessions, site.calls_dir, DAYS, NOW, dry_run=False, by="test")
    assert (site.calls_dir / OLD_DIR).is_dir()
    with sessions() as s:
        call = s.scalars(select(Call).where(Call.channel_id == "open-old")).one()
        call.ended_at = OLD
        s.commit()
    purge(sessions, site.calls_dir, DAYS, NOW, dry_run=False, by="test")
    # Day, month and year directories emptied by the purge are gone.
    assert not (site.calls_dir / f"{OLD:%Y}").exists()
    assert (site.calls_dir / NEW_DIR).is_dir()


def test_a_path_outside_the_calls_directory_is_never_deleted(
    sessions: sessionmaker[Session], site: Site
) -> None:
    with sessions() as s:
        s.add(Recording(name="evil", path="../outside.wav", started_at=OLD, status="stored"))
        s.commit()
    report: RetentionReport = purge(sessions, site.calls_dir, DAYS, NOW, dry_run=False, by="t")
    assert site.outside.read_bytes() == b"keep me"
    assert report.errors == ["../outside.wav: outside the calls directory; not deleted"]
    with sessions() as s:
        evil = s.scalars(select(Recording).where(Recording.name == "evil")).one()
        assert evil.status == "stored"  # not purged: it is tried (and reported) again
        [run] = retention_runs(s)
        assert run.detail["errors"] == report.errors


def test_days_must_be_positive(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 1 day"):
        purge(sessions, tmp_path, 0, NOW, dry_run=True, by="test")
