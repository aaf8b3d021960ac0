"""Fixtures shared by every test package.

Databases: ``db_url`` runs a test once on a SQLite file (WAL) and once on PostgreSQL.
PostgreSQL is taken from ``HOTLINE_TEST_PG_URL`` (default: 127.0.0.1:5432, database
``test``, trust auth); each test gets its own schema, dropped afterwards, so tests never
see each other's rows. Where PostgreSQL is absent the PostgreSQL variant is skipped with
the reason printed (``-ra``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

PG_URL = os.environ.get("HOTLINE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

_pg_state: dict[str, str | None] = {}


def _pg_unavailable_reason() -> str | None:
    """Checked once per session: why PostgreSQL can't be used, or None when it can."""
    if "reason" not in _pg_state:
        try:
            engine = sa.create_engine(PG_URL, connect_args={"connect_timeout": 3})
            with engine.connect() as conn:
                conn.execute(sa.text("select 1"))
            engine.dispose()
            _pg_state["reason"] = None
        except Exception as exc:  # any failure means "absent" for the test run
            _pg_state["reason"] = f"PostgreSQL not reachable at {PG_URL}: {exc.__class__.__name__}"
    return _pg_state["reason"]


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema owned by this test."""
    reason = _pg_unavailable_reason()
    if reason:
        pytest.skip(reason)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'create schema "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(sa.text(f'drop schema "{schema}" cascade'))
    admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'hotline.sqlite3'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Run the test on both database back ends."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hotline.sqlite3'}"
    return str(request.getfixturevalue("pg_url"))
