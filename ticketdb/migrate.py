"""Schema migrations without an ``alembic.ini``: usable from any cwd and from a wheel."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError

from ticketdb.engine import make_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Upgrades from threads of one process take turns; other processes are serialised by
# the database (see _serialise) and retried when SQLite refuses at once.
_LOCAL_UPGRADES = threading.Lock()
_LOCKED_RETRIES = 8


def make_config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at the packaged migrations; ``env.py`` uses ``connection``."""
    cfg = Config()
    # Config options go through configparser interpolation, hence the escaping.
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _serialise(conn: Connection) -> None:
    """Make concurrent upgrades of one database run one after the other.

    The second process then finds the schema at head and does nothing, instead of
    failing on "table already exists". Held until the surrounding transaction ends.
    """
    if conn.dialect.name == "sqlite":
        # Takes the write lock now (waiting up to busy_timeout); Python's sqlite3 would
        # otherwise run the DDL outside any transaction.
        # A migration may wait its turn far longer than a record write would.
        conn.exec_driver_sql("PRAGMA busy_timeout = 60000")
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    elif conn.dialect.name == "postgresql":
        # Per schema, so databases shared between schemas (tests) don't contend.
        conn.exec_driver_sql(
            "SELECT pg_advisory_xact_lock(hashtext('ticketdb.migrate:' || current_schema()))"
        )


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision``; a no-op when it is already there.

    The whole upgrade is one transaction (both back ends have transactional DDL), so a
    failure leaves the previous schema intact.
    """
    with _LOCAL_UPGRADES:
        for attempt in range(_LOCKED_RETRIES + 1):
            engine = make_engine(url)
            try:
                with engine.begin() as conn:
                    _serialise(conn)
                    command.upgrade(make_config(conn), revision)
                return
            except OperationalError as exc:
                # SQLite answers "database is locked" at once, without waiting, in a few
                # cases (e.g. while another process creates the file and switches it to
                # WAL); the whole upgrade is one transaction, so trying again is safe.
                if "locked" not in str(exc) or attempt == _LOCKED_RETRIES:
                    raise
                time.sleep(min(2.0, 0.05 * 2**attempt))
            finally:
                engine.dispose()


def current(url: str) -> str | None:
    """The revision the database at ``url`` is at, or None when it was never migrated."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
