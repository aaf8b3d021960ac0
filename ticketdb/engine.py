"""Engines and sessions configured for how the hotline uses each database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_PRAGMAS = (
    # First, so the journal-mode switch below already waits for a busy database.
    "PRAGMA busy_timeout=5000",
    # Readers (web app, reports) never block the record writer, and vice versa.
    "PRAGMA journal_mode=WAL",
    # Durable across application crashes; only an OS crash can lose the last commits.
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
)


def _set_sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for ``url``: SQLite file (parent directory created) or memory, or PostgreSQL."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed)
        event.listen(engine, "connect", _set_sqlite_pragmas)
        return engine
    connect_args: dict[str, Any] = {}
    if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
        # An unreachable server must fail fast so the writer's retry loop stays responsive.
        connect_args["connect_timeout"] = 5
    return create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    # Records are read after commit (reports, reconcile); don't reload them row by row.
    return sessionmaker(engine, expire_on_commit=False)
