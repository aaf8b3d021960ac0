"""Alembic environment for the hotline database.

``ticketdb.migrate`` passes an open connection in ``config.attributes["connection"]``
(so the URL, with its options such as a PostgreSQL ``search_path``, is used exactly as
given). Run from the ``alembic`` command line instead, it connects to the
``sqlalchemy.url`` main option.
"""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import Connection, create_engine

import ticketdb.models  # noqa: F401  (registers the tables on Base.metadata)
from ticketdb.base import Base

# Other packages' model modules must be imported above too, or autogenerate would
# propose dropping their tables.
target_metadata = Base.metadata

# Tables other software creates and owns: APScheduler's job store (hotline.scheduler).
FOREIGN_TABLES = frozenset({"apscheduler_jobs"})


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Keep autogenerate from proposing to drop (or change) the foreign tables."""
    table = obj if type_ == "table" else getattr(obj, "table", None)
    return table is None or table.name not in FOREIGN_TABLES


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite can't ALTER most things; batch mode recreates tables instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        run_migrations(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection given and no sqlalchemy.url configured")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            run_migrations(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported; use ticketdb.migrate")
run_migrations_online()
