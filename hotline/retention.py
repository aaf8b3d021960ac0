"""The retention purge (domain.md §7): recordings and call ledgers older than the
retention period go; ``purge(dry_run=True)`` says what would go and changes nothing.

What goes:
- recordings with a row started before the cutoff: the file under the calls directory is
  deleted and the row marked ``purged`` (its path kept for the log);
- WAV files in ``YYYY/MM/DD`` day directories wholly before the cutoff (the call's UTC
  start date, ``hotline.recordings``) that no row names, e.g. left by a crash;
- ended call ledgers started before the cutoff (``ticketdb.retention``).

Files are deleted first, then the database is changed in one transaction: if that fails,
the next run finds the same rows and finishes the job (a missing file is no error). A
file that cannot be deleted keeps its row unpurged, so it is tried again. Every real
purge writes a ``RetentionRun`` row and a log line.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from ticketdb.retention import (
    ExpiredCall,
    expired_calls,
    expired_recordings,
    record_purge,
    recorded_paths,
)

log = logging.getLogger(__name__)

_DAY_PARTS = (re.compile(r"^\d{4}$"), re.compile(r"^\d{2}$"), re.compile(r"^\d{2}$"))


@dataclass(frozen=True)
class PurgedFile:
    # Relative to the calls directory ("" for a row that never had a file).
    path: str
    size_bytes: int
    # The recording's row; None for a file no row named.
    recording_id: int | None = None


@dataclass
class RetentionReport:
    cutoff: datetime
    dry_run: bool
    recordings: list[PurgedFile] = field(default_factory=list)
    orphans: list[PurgedFile] = field(default_factory=list)
    calls: list[ExpiredCall] = field(default_factory=list)
    # Files that could not be deleted (tried again next time).
    errors: list[str] = field(default_factory=list)
    # The RetentionRun row of a real purge.
    run_id: int | None = None

    @property
    def recording_count(self) -> int:
        return len(self.recordings) + len(self.orphans)

    @property
    def bytes_freed(self) -> int:
        return sum(f.size_bytes for f in (*self.recordings, *self.orphans))

    def summary(self) -> str:
        verb = "would purge" if self.dry_run else "purged"
        text = (
            f"{verb} {self.recording_count} recording(s) ({human_bytes(self.bytes_freed)}) and "
            f"{len(self.calls)} call ledger(s) started before {self.cutoff:%Y-%m-%d %H:%M} UTC"
        )
        if self.errors:
            text += f"; {len(self.errors)} file(s) could not be deleted"
        return text


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def _inside(calls_dir: Path, relative: str) -> Path | None:
    """``calls_dir / relative``, or None when that would lead outside ``calls_dir``."""
    root = calls_dir.resolve()
    target = (root / relative).resolve()
    return target if target.is_relative_to(root) and target != root else None


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _old_day_dirs(calls_dir: Path, cutoff: datetime) -> list[Path]:
    """``YYYY/MM/DD`` directories whose whole (UTC) day is before ``cutoff``."""
    last = cutoff.astimezone(UTC).date()
    found = []
    for day_dir in sorted(calls_dir.glob("*/*/*")):
        parts = day_dir.relative_to(calls_dir).parts
        if not day_dir.is_dir() or not all(
            p.match(x) for p, x in zip(_DAY_PARTS, parts, strict=True)
        ):
            continue
        try:
            day = date(int(parts[0]), int(parts[1]), int(parts[2]))
        except ValueError:
            continue
        if day < last:
            found.append(day_dir)
    return found


def _unrecorded_files(s: Session, calls_dir: Path, cutoff: datetime) -> list[PurgedFile]:
    candidates = {
        wav.relative_to(calls_dir).as_posix(): wav
        for day_dir in _old_day_dirs(calls_dir, cutoff)
        for wav in day_dir.glob("*.wav")
        if wav.is_file()
    }
    known = recorded_paths(s, candidates)
    return [
        PurgedFile(rel, _size(path)) for rel, path in sorted(candidates.items()) if rel not in known
    ]


def _delete(path: Path | None, report: RetentionReport, shown: str) -> bool:
    if path is None:
        report.errors.append(f"{shown}: outside the calls directory; not deleted")
        return False
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        report.errors.append(f"{shown}: {exc.strerror or exc}")
        return False
    return True


def _prune_empty_dirs(calls_dir: Path, day_dirs: list[Path]) -> None:
    """Remove day directories the purge emptied, and their month and year if empty."""
    for day_dir in day_dirs:
        for d in (day_dir, day_dir.parent, day_dir.parent.parent):
            try:
                d.rmdir()
            except OSError:
                break  # not empty (or gone): leave it and its parents


def purge(
    sessions: sessionmaker[Session],
    calls_dir: Path,
    days: int,
    now: datetime,
    dry_run: bool,
    by: str,
) -> RetentionReport:
    """Purge what is older than ``days`` before ``now`` (see the module docstring), or
    with ``dry_run`` only list it. ValueError for ``days`` < 1."""
    if days < 1:
        raise ValueError(f"the retention period must be at least 1 day (got {days})")
    cutoff = now - timedelta(days=days)
    report = RetentionReport(cutoff=cutoff, dry_run=dry_run)
    with sessions() as s:
        recordings = expired_recordings(s, cutoff)
        report.calls = expired_calls(s, cutoff)
        orphans = _unrecorded_files(s, calls_dir, cutoff) if calls_dir.is_dir() else []
    purged_ids: list[int] = []
    for rec in recordings:
        path = _inside(calls_dir, rec.path) if rec.path else None
        size = _size(path) if path is not None else 0
        if not dry_run and rec.path and not _delete(path, report, rec.path):
            continue
        purged_ids.append(rec.id)
        report.recordings.append(PurgedFile(rec.path or "", size, rec.id))
    for orphan in orphans:
        if dry_run or _delete(_inside(calls_dir, orphan.path), report, orphan.path):
            report.orphans.append(orphan)
    if dry_run:
        return report
    if calls_dir.is_dir():
        _prune_empty_dirs(calls_dir, _old_day_dirs(calls_dir, cutoff))
    with sessions() as s:
        run = record_purge(
            s,
            at=now,
            cutoff=cutoff,
            by=by,
            recording_ids=purged_ids,
            call_ids=[c.id for c in report.calls],
            recordings=report.recording_count,
            bytes_freed=report.bytes_freed,
            detail={
                "recordings": [f.path for f in report.recordings],
                "orphans": [f.path for f in report.orphans],
                "bytes": report.bytes_freed,
                "errors": report.errors,
            },
        )
    deleted = set(run.detail["calls"])
    report.calls = [c for c in report.calls if c.id in deleted]
    report.run_id = run.id
    log.info("retention run %d by %s: %s", run.id, by, report.summary())
    for error in report.errors:
        log.warning("retention: %s", error)
    return report
