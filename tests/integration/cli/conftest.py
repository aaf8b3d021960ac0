"""A site for the in-process CLI tests: a migrated database (SQLite file and PostgreSQL
schema, via ``db_url``) and a working directory without hotline.toml, so only the defaults
and the environment apply."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from ticketdb.engine import make_engine, make_sessionmaker
from ticketdb.migrate import upgrade


@pytest.fixture
def clean_site(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``tmp_path`` as the working directory, no HOTLINE_* variable but the database URL, and
    the database migrated."""
    for var in [v for v in os.environ if v.startswith("HOTLINE_")]:
        monkeypatch.delenv(var)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOTLINE_DATABASE_URL", db_url)
    upgrade(db_url)
    return tmp_path


@pytest.fixture
def site(clean_site: Path) -> Path:
    """The site ``site_sessions`` runs on; a test module overrides it to add its own files and
    variables."""
    return clean_site


@pytest.fixture
def site_sessions(site: Path, db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(db_url)
    yield make_sessionmaker(engine)
    engine.dispose()
