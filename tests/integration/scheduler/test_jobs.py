"""The job registry: every job with its schedule from the settings (daily ones on the
calendar file's local time), and the retention and staffing jobs run through the
runner on both back ends."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from hotline.jobs import registry
from hotline.scheduler import JobRunner, JobSpec
from kernel.settings import Settings
from ticketdb.engine import make_engine, make_sessionmaker
from ticketdb.migrate import upgrade
from ticketdb.models import Call, LeadAlert, RetentionRun

# Monday 2 March 2026, 00:00 UTC = 08:00 in Shanghai.
MIDNIGHT_UTC = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)

CALENDAR = """\
timezone: Asia/Shanghai
calendars:
  default:
    weekly:
      mon: ["09:30-11:30", "13:00-17:00"]
"""

SHIFTS = """\
timezone: UTC
teams:
  day: {}
shifts:
  day:
    teams: [day]
    days: mon-sun
    periods:
      - {at: "00:00-24:00", kind: on_post}
rules:
  min_normal_on_duty_open: 2
  min_normal_on_duty_outside: 2
  lead_absence_needs_acting_lead: false
"""


def make_settings(
    tmp_path: Path, db_url: str = "sqlite://", **sections: dict[str, object]
) -> Settings:
    calendar = tmp_path / "calendar.yaml"
    if not calendar.exists():
        calendar.write_text(CALENDAR)
    paths = {
        "calendar_file": str(calendar),
        "shifts_file": str(tmp_path / "shifts.yaml"),
        "tickets_file": str(tmp_path / "tickets.yaml"),
        "calls_dir": str(tmp_path / "calls"),
    }
    return Settings.model_validate(
        {"node": {"name": "n1"}, "database": {"url": db_url}, "paths": paths, **sections}
    )


def by_name(jobs: list[JobSpec]) -> dict[str, JobSpec]:
    return {j.name: j for j in jobs}


def test_every_job_is_registered_with_its_schedule(tmp_path: Path) -> None:
    jobs = by_name(registry(make_settings(tmp_path)))
    assert list(jobs) == [
        "dispatch",
        "sla_sweep",
        "callbacks",
        "notifications",
        "retention",
        "staffing",
    ]
    assert {name: j.when.text for name, j in jobs.items()} == {
        "dispatch": "daily at 09:30 (Asia/Shanghai)",
        "sla_sweep": "every 1 min",
        "callbacks": "every 5 min",
        "notifications": "every 30 s",
        "retention": "daily at 03:00 (Asia/Shanghai)",
        "staffing": "every 1 min",
    }
    intervals = {
        name: j.when.trigger.interval
        for name, j in jobs.items()
        if hasattr(j.when.trigger, "interval")
    }
    assert intervals == {
        "sla_sweep": timedelta(seconds=60),
        "callbacks": timedelta(minutes=5),
        "notifications": timedelta(seconds=30),
        "staffing": timedelta(minutes=1),
    }


def test_dispatch_runs_at_0930_local_time(tmp_path: Path) -> None:
    dispatch = by_name(registry(make_settings(tmp_path)))["dispatch"]
    # 09:30 in Shanghai (UTC+8) is 01:30 UTC, the same day.
    assert dispatch.when.next_from(MIDNIGHT_UTC) == datetime(2026, 3, 2, 1, 30, tzinfo=UTC)
    assert dispatch.when.next_from(datetime(2026, 3, 2, 1, 31, tzinfo=UTC)) == datetime(
        2026, 3, 3, 1, 30, tzinfo=UTC
    )


def test_daily_times_follow_the_settings(tmp_path: Path) -> None:
    jobs = by_name(
        registry(
            make_settings(
                tmp_path,
                tickets={"dispatch_time": "09:45", "sla_sweep_seconds": 120},
                retention={"run_at": "02:15"},
            )
        )
    )
    assert jobs["dispatch"].when.next_from(MIDNIGHT_UTC) == datetime(2026, 3, 2, 1, 45, tzinfo=UTC)
    # 02:15 local on 3 March is 18:15 UTC on 2 March.
    assert jobs["retention"].when.next_from(MIDNIGHT_UTC) == datetime(
        2026, 3, 2, 18, 15, tzinfo=UTC
    )
    assert jobs["sla_sweep"].when.text == "every 2 min"


def test_without_a_calendar_file_daily_jobs_run_on_utc(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    settings.paths.calendar_file.unlink()
    dispatch = by_name(registry(settings))["dispatch"]
    assert dispatch.when.text == "daily at 09:30 (UTC)"
    assert dispatch.when.next_from(MIDNIGHT_UTC) == datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    upgrade(db_url)
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(engine)


def runner(settings: Settings, sessions: sessionmaker[Session], now: datetime) -> JobRunner:
    return JobRunner(registry(settings), settings, sessions, "n1", clock=lambda: now)


def test_the_retention_job_purges_and_logs(
    tmp_path: Path, db_url: str, sessions: sessionmaker[Session]
) -> None:
    settings = make_settings(tmp_path, db_url, retention={"days": 30})
    with sessions() as s:
        for channel, age in (("old", 31), ("new", 29)):
            started = MIDNIGHT_UTC - timedelta(days=age)
            s.add(Call(node="n1", channel_id=channel, started_at=started, ended_at=started))
        s.commit()
    outcome = runner(settings, sessions, MIDNIGHT_UTC).run("retention", MIDNIGHT_UTC)
    assert outcome is not None and outcome.status == "ok", outcome
    with sessions() as s:
        [run] = s.scalars(select(RetentionRun)).all()
        assert run.by == "scheduler" and run.calls == 1
        assert list(s.scalars(select(Call.channel_id))) == ["new"]
    assert outcome.result.startswith(f"run {run.id}: purged 0 recording(s)")
    assert "1 call ledger(s)" in outcome.result


def test_the_staffing_job_raises_the_rosters_alerts(
    tmp_path: Path, db_url: str, sessions: sessionmaker[Session]
) -> None:
    settings = make_settings(tmp_path, db_url)
    first = runner(settings, sessions, MIDNIGHT_UTC).run("staffing", MIDNIGHT_UTC)
    assert first is not None
    assert (first.status, first.result) == (
        "ok",
        f"no shifts file at {tmp_path / 'shifts.yaml'}: nothing to check",
    )

    (tmp_path / "shifts.yaml").write_text(SHIFTS)
    later = MIDNIGHT_UTC + timedelta(minutes=1)
    second = runner(settings, sessions, later).run("staffing", later)
    assert second is not None and second.status == "ok", second
    with sessions() as s:
        [alert] = s.scalars(select(LeadAlert)).all()
    assert (alert.kind, alert.cleared_at, alert.node) == ("understaffed", None, "n1")
    assert second.result == "1 staffing alert(s) open: 1 raised, 0 cleared"
    # The next run (a fresh watch) finds the alert stored and raises nothing new.
    again = MIDNIGHT_UTC + timedelta(minutes=2)
    third = runner(settings, sessions, again).run("staffing", again)
    assert third is not None and third.result == "1 staffing alert(s) open: 0 raised, 0 cleared"
    with sessions() as s:
        assert len(s.scalars(select(LeadAlert)).all()) == 1


def test_a_broken_rules_file_fails_the_run_with_its_error(
    tmp_path: Path, db_url: str, sessions: sessionmaker[Session]
) -> None:
    (tmp_path / "tickets.yaml").write_text("sla: [not, a, mapping]\n")
    settings = make_settings(tmp_path, db_url)
    outcome = runner(settings, sessions, MIDNIGHT_UTC).run("sla_sweep", MIDNIGHT_UTC)
    assert outcome is not None and outcome.status == "failed"
    assert outcome.result.startswith("TicketRulesError: ")
    assert "tickets.yaml" in outcome.result
