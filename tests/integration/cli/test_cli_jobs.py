"""``hotline jobs`` and ``hotline jobs run NAME`` on both back ends, through the parser as
``hotline/cli/main.py`` registers it (same settings loader and session opener as
``hotline agents``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Column, Float, LargeBinary, MetaData, Table, Unicode, select
from sqlalchemy.orm import Session, sessionmaker

from hotline.cli.jobs import add_jobs_parser
from hotline.scheduler import JOB_TABLE, LEASE_NAME
from tests.integration.cli.cli_harness import run_cli, write_site_file
from ticketdb.engine import make_engine
from ticketdb.leases import acquire, claim_run, finish_run
from ticketdb.models import Call, JobRun

CALENDAR = """\
timezone: Asia/Shanghai
calendars:
  default:
    weekly:
      mon: ["09:30-11:30"]
"""
JOBS = ("dispatch", "sla_sweep", "callbacks", "notifications", "retention", "staffing")


@pytest.fixture
def site(clean_site: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    write_site_file(clean_site, monkeypatch, "calendar", CALENDAR)
    monkeypatch.setenv("HOTLINE_NODE_NAME", "cli-node")
    monkeypatch.setenv("HOTLINE_PATHS_TICKETS_FILE", str(clean_site / "tickets.yaml"))
    monkeypatch.setenv("HOTLINE_PATHS_SHIFTS_FILE", str(clean_site / "shifts.yaml"))
    monkeypatch.setenv("HOTLINE_PATHS_CALLS_DIR", str(clean_site / "calls"))
    return clean_site


def hotline(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    return run_cli(capsys, add_jobs_parser, *argv)


def line_of(out: str, job: str) -> str:
    [line] = [x for x in out.splitlines() if x.startswith(f"{job} ")]
    return line


def test_lists_every_job_never_run_with_its_next_run(
    site_sessions: sessionmaker[Session], capsys: pytest.CaptureFixture[str]
) -> None:
    before = datetime.now(UTC)
    code, out, err = hotline(capsys, "jobs")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "scheduler: no node has run it on this database yet"
    assert [x.split()[0] for x in lines[2:]] == list(JOBS)
    dispatch = line_of(out, "dispatch")
    assert "daily at 09:30 (Asia/Shanghai)" in dispatch and " never " in dispatch
    # No job store yet: the next run comes from the trigger, 09:30 Shanghai = 01:30 UTC.
    next_run = datetime.strptime(dispatch[-19:], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    assert (next_run.hour, next_run.minute) == (1, 30)
    assert before <= next_run <= before + timedelta(days=1)


def test_shows_last_runs_the_lease_and_the_stored_next_runs(
    site_sessions: sessionmaker[Session], db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC)
    due = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)
    with site_sessions() as s:
        acquire(s, LEASE_NAME, "n2:4242:cafe", now, 60)
        run_id = claim_run(s, job="dispatch", scheduled_at=due, node="n2", now=due)
        assert run_id is not None
        finish_run(s, run_id, status="ok", result="2026-03-02: dispatched retail 3", now=due)
        failed = claim_run(s, job="sla_sweep", scheduled_at=due, node="n2", now=due)
        assert failed is not None
        finish_run(s, failed, status="failed", result="TicketRulesError: bad", now=due)
    # What APScheduler's job store holds (only id and next run time are read).
    jobs_t = Table(
        JOB_TABLE,
        MetaData(),
        Column("id", Unicode(191), primary_key=True),
        Column("next_run_time", Float(25), index=True),
        Column("job_state", LargeBinary, nullable=False),
    )
    engine = make_engine(db_url)
    try:
        jobs_t.create(engine)
        stored = datetime(2030, 1, 1, 1, 30, tzinfo=UTC)
        with engine.begin() as conn:
            conn.execute(
                jobs_t.insert(),
                [
                    {"id": "dispatch", "next_run_time": stored.timestamp(), "job_state": b""},
                    {"id": "retention", "next_run_time": due.timestamp(), "job_state": b""},
                ],
            )
    finally:
        engine.dispose()

    code, out, _ = hotline(capsys, "jobs")
    assert code == 0
    assert out.splitlines()[0].startswith("scheduler: running on n2:4242:cafe (lease until ")
    dispatch = line_of(out, "dispatch")
    assert "2026-03-02 01:30:00 n2" in dispatch and " ok " in dispatch
    assert dispatch.endswith("2030-01-01 01:30:00")
    assert "→ 2026-03-02: dispatched retail 3" in out
    sla = line_of(out, "sla_sweep")
    assert " failed " in sla
    assert "→ TicketRulesError: bad" in out
    assert line_of(out, "retention").endswith("2026-03-02 01:30:00 (overdue)")


def test_run_one_job_now_is_recorded(
    site_sessions: sessionmaker[Session], capsys: pytest.CaptureFixture[str]
) -> None:
    with site_sessions() as s:
        at = datetime.now(UTC) - timedelta(days=400)
        s.add(Call(node="n1", channel_id="old", started_at=at, ended_at=at))
        s.commit()
    code, out, err = hotline(capsys, "jobs", "run", "retention")
    assert (code, err) == (0, "")
    assert out.startswith("retention: ok in ")
    assert "1 call ledger(s)" in out
    with site_sessions() as s:
        [run] = s.scalars(select(JobRun)).all()
        assert (run.job, run.node, run.status) == ("retention", "cli-node", "ok")
        assert s.scalars(select(Call)).all() == []
    code, out, _ = hotline(capsys, "jobs")
    assert " ok " in line_of(out, "retention")


def test_a_failed_run_exits_1_and_shows_in_the_list(
    site_sessions: sessionmaker[Session], site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (site / "tickets.yaml").write_text("sla: [not, a, mapping]\n")
    code, out, _ = hotline(capsys, "jobs", "run", "sla_sweep")
    assert code == 1
    assert out.startswith("sla_sweep: failed in ")
    assert "TicketRulesError" in out
    code, out, _ = hotline(capsys, "jobs")
    assert " failed " in line_of(out, "sla_sweep")


def test_an_unknown_job_is_refused(
    site_sessions: sessionmaker[Session], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = hotline(capsys, "jobs", "run", "nope")
    assert (code, out) == (2, "")
    assert err == f"hotline: error: no job named 'nope' (jobs: {', '.join(JOBS)})\n"
    with site_sessions() as s:
        assert s.scalars(select(JobRun)).all() == []
