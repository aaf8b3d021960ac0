"""Alembic migrations: create the schema, repeatably, matching the models."""

from __future__ import annotations

import fnmatch
import threading
import tomllib
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from ticketdb.base import Base
from ticketdb.engine import make_engine
from ticketdb.migrate import MIGRATIONS_DIR, current, make_config, upgrade
from ticketdb.models import (
    Agent,
    AgentPhone,
    AgentSkill,
    AuditEntry,
    Call,
    CallbackRequest,
    CallControl,
    ControllerNode,
    Customer,
    HandoverNote,
    JobRun,
    LeadAlert,
    Notification,
    NotificationAttempt,
    QueueEntry,
    Recording,
    RetentionRun,
    SchedulerLease,
    SeatState,
    SeatStateChange,
    Ticket,
    TicketEvent,
    TicketSla,
)

REPO = Path(__file__).resolve().parents[3]
HEAD = "0007"


def test_upgrade_creates_schema_and_is_idempotent(
    blank_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing may depend on an alembic.ini or on the working directory.
    monkeypatch.chdir(tmp_path)
    assert current(blank_db_url) is None
    upgrade(blank_db_url)
    assert current(blank_db_url) == HEAD
    upgrade(blank_db_url)
    upgrade(blank_db_url)
    assert current(blank_db_url) == HEAD
    engine = make_engine(blank_db_url)
    try:
        tables = set(sa.inspect(engine).get_table_names())
        with engine.connect() as conn:
            versions = conn.execute(sa.text("select version_num from alembic_version")).all()
    finally:
        engine.dispose()
    assert {
        "calls",
        "customers",
        "callback_requests",
        "agents",
        "agent_skills",
        "seat_states",
        "seat_state_changes",
        "queue_entries",
        "controller_nodes",
        "lead_alerts",
        "handover_notes",
        "call_controls",
        "tickets",
        "ticket_events",
        "notifications",
        "notification_attempts",
        "ticket_slas",
        "recordings",
        "audit_log",
        "retention_runs",
        "job_runs",
        "scheduler_leases",
        "agent_phones",
        "alembic_version",
    } <= tables
    assert versions == [(HEAD,)]


def test_upgrade_creates_the_sqlite_directory(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'not' / 'yet' / 'there.sqlite3'}"
    upgrade(url)
    assert current(url) == HEAD


def test_migration_matches_the_models(blank_db_url: str) -> None:
    upgrade(blank_db_url)
    ours = {
        m.__tablename__
        for m in (
            Call,
            Customer,
            CallbackRequest,
            Agent,
            AgentSkill,
            AgentPhone,
            SeatState,
            SeatStateChange,
            QueueEntry,
            ControllerNode,
            LeadAlert,
            HandoverNote,
            CallControl,
            AuditEntry,
            JobRun,
            Notification,
            NotificationAttempt,
            Recording,
            RetentionRun,
            SchedulerLease,
            Ticket,
            TicketEvent,
            TicketSla,
        )
    }

    def include_object(obj: Any, name: Any, type_: str, reflected: bool, compare_to: Any) -> bool:
        table = obj if type_ == "table" else getattr(obj, "table", None)
        return table is None or table.name in ours

    engine = make_engine(blank_db_url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(
                conn, opts={"compare_type": True, "include_object": include_object}
            )
            diffs = compare_metadata(ctx, Base.metadata)
    finally:
        engine.dispose()
    assert diffs == []


def test_0002_upgrades_existing_calls_and_downgrades(blank_db_url: str) -> None:
    upgrade(blank_db_url, "0001")
    engine = make_engine(blank_db_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "insert into calls (node, channel_id, caller_number, caller_name,"
                    " dialled_number, language, started_at, menu_path, updated_at)"
                    " values ('n', 'c1', '', '', '', '', :t, '[]', :t)"
                ),
                {"t": "2026-01-01 10:00:00+00:00"},
            )
        upgrade(blank_db_url, "0002")
        assert current(blank_db_url) == "0002"
        with engine.connect() as conn:
            data = conn.execute(sa.select(Call.data).where(Call.channel_id == "c1")).scalar_one()
        assert data == {}

        # Downgrade is the way back from a bad release: it must run on both back ends.
        with engine.begin() as conn:
            command.downgrade(make_config(conn), "0001")
        assert current(blank_db_url) == "0001"
        inspector = sa.inspect(engine)
        assert "customers" not in inspector.get_table_names()
        assert "data" not in {c["name"] for c in inspector.get_columns("calls")}
        upgrade(blank_db_url, "0002")
        assert current(blank_db_url) == "0002"
    finally:
        engine.dispose()


def test_0003_downgrades_and_upgrades_again(blank_db_url: str) -> None:
    upgrade(blank_db_url)
    engine = make_engine(blank_db_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "insert into agents (staff_number, name, role, team, languages, endpoint,"
                    " active, created_at) values ('8001', 'A', 'agent', '', '[]', 'PJSIP/8001',"
                    " true, :t)"
                ),
                {"t": "2026-01-01 10:00:00+00:00"},
            )
        with engine.begin() as conn:
            command.downgrade(make_config(conn), "0002")
        assert current(blank_db_url) == "0002"
        tables = set(sa.inspect(engine).get_table_names())
        assert not tables & {"agents", "agent_skills", "seat_states", "seat_state_changes"}
        upgrade(blank_db_url)
        assert current(blank_db_url) == HEAD
    finally:
        engine.dispose()


def test_concurrent_upgrades_of_a_fresh_database(blank_db_url: str) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def run() -> None:
        barrier.wait()
        try:
            upgrade(blank_db_url)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert current(blank_db_url) == HEAD


def test_postgres_version_table_lands_in_the_url_schema(blank_pg_schema_url: str) -> None:
    upgrade(blank_pg_schema_url)
    engine = make_engine(blank_pg_schema_url)
    try:
        with engine.connect() as conn:
            schema = conn.execute(sa.text("select current_schema()")).scalar_one()
            # Every schema but other tests' own (t_…, concurrent or left by a killed run):
            # the tables must be in ours and nowhere else, public included.
            where = conn.execute(
                sa.text(
                    "select table_name, table_schema from information_schema.tables"
                    " where table_name in ('alembic_version', 'calls')"
                    " and (table_schema = :ours or table_schema not like 't\\_%')"
                ),
                {"ours": schema},
            ).all()
    finally:
        engine.dispose()
    assert schema.startswith("t_")
    assert sorted(where) == [("alembic_version", schema), ("calls", schema)]


def test_package_data_ships_every_migration_file() -> None:
    """An installed wheel must carry env.py, the template and every revision."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["ticketdb"]
    package = MIGRATIONS_DIR.parent
    files = [
        p.relative_to(package).as_posix()
        for p in MIGRATIONS_DIR.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    ]
    assert {"migrations/env.py", "migrations/script.py.mako"} <= set(files)
    assert any(f.startswith("migrations/versions/") for f in files)
    unshipped = [f for f in files if not any(fnmatch.fnmatch(f, pat) for pat in patterns)]
    assert unshipped == []


def test_concurrent_upgrades_from_separate_processes(blank_db_url: str) -> None:
    # Threads of one process take turns on a lock; processes (two controller nodes
    # starting at once) are serialised by the database itself, with retries on SQLite.
    import subprocess
    import sys

    code = "import sys; from ticketdb.migrate import upgrade; upgrade(sys.argv[1])"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, blank_db_url], stderr=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-2000:]
    assert current(blank_db_url) == HEAD
