"""``hotline retention [--dry-run] [--days N]`` on both back ends, through the parser as
``hotline/cli/main.py`` registers it, with real files under the calls directory."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hotline.cli.retention import add_retention_parser
from tests.integration.cli.cli_harness import run_cli
from ticketdb.models import Call, Recording, RetentionRun


@pytest.fixture
def site(clean_site: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOTLINE_PATHS_CALLS_DIR", str(clean_site / "calls"))
    monkeypatch.setenv("HOTLINE_RETENTION_DAYS", "365")
    return clean_site


def hotline(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    return run_cli(capsys, add_retention_parser, *argv)


@pytest.fixture
def calls(site_sessions: sessionmaker[Session], site: Path) -> dict[str, int]:
    """Calls 400 and 100 days old, each with a 2 kB recording."""
    now = datetime.now(UTC)
    ids = {}
    with site_sessions() as s:
        for name, age in (("old", 400), ("recent", 100)):
            at = now - timedelta(days=age)
            call = Call(node="n1", channel_id=name, started_at=at, ended_at=at)
            s.add(call)
            s.flush()
            path = f"{at:%Y/%m/%d}/{name}.wav"
            (site / "calls" / path).parent.mkdir(parents=True, exist_ok=True)
            (site / "calls" / path).write_bytes(b"\0" * 2000)
            s.add(Recording(call_id=call.id, name=name, path=path, started_at=at, status="stored"))
            ids[name] = call.id
        s.commit()
    return ids


def test_dry_run_prints_what_would_go(
    calls: dict[str, int],
    site_sessions: sessionmaker[Session],
    site: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = hotline(capsys, "retention", "--dry-run")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith("retention 365 day(s), cutoff ")
    assert lines[0].endswith("(dry run: nothing is changed)")
    assert lines[1] == f"recordings under {site / 'calls'}:"
    assert lines[2].endswith("/old.wav  2.0 kB  recording 1")
    assert lines[3] == "call ledgers:"
    assert lines[4].startswith(f"  call {calls['old']}  started ")
    assert lines[4].endswith(" UTC  n1/old")
    assert lines[5].startswith("would purge 1 recording(s) (2.0 kB) and 1 call ledger(s)")
    assert len(lines) == 6
    with site_sessions() as s:
        assert len(s.scalars(select(Call)).all()) == 2
        assert s.scalars(select(RetentionRun)).all() == []
    assert len(list((site / "calls").rglob("*.wav"))) == 2


def test_real_run_purges_and_prints_what_went(
    calls: dict[str, int],
    site_sessions: sessionmaker[Session],
    site: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = hotline(capsys, "retention")
    assert (code, err) == (0, "")
    with site_sessions() as s:
        [run] = s.scalars(select(RetentionRun)).all()
        assert (run.recordings, run.calls) == (1, 1)
        assert run.by.startswith("cli")
        assert list(s.scalars(select(Call.channel_id))) == ["recent"]
    assert out.splitlines()[0].endswith(f"(retention run {run.id})")
    assert out.splitlines()[-1].startswith("purged 1 recording(s) (2.0 kB) and 1 call ledger(s)")
    assert [p.name for p in (site / "calls").rglob("*.wav")] == ["recent.wav"]


def test_days_overrides_the_setting(
    calls: dict[str, int], site_sessions: sessionmaker[Session], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = hotline(capsys, "retention", "--dry-run", "--days", "30")
    assert code == 0
    assert out.startswith("retention 30 day(s), cutoff ")
    assert "would purge 2 recording(s) (4.0 kB) and 2 call ledger(s)" in out


def test_days_below_one_is_refused(
    site_sessions: sessionmaker[Session], capsys: pytest.CaptureFixture[str]
) -> None:
    assert hotline(capsys, "retention", "--days", "0") == (
        2,
        "",
        "hotline: error: --days must be at least 1\n",
    )
    with site_sessions() as s:
        assert s.scalars(select(RetentionRun)).all() == []
