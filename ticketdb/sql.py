"""Small SQL helpers shared by the record modules: one transaction per operation, and
the dialect's own INSERT (SQLite and PostgreSQL both offer ON CONFLICT)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session


@contextmanager
def transaction(s: Session) -> Iterator[None]:
    """Commit on success; roll back on failure so the session stays usable."""
    try:
        yield
        s.commit()
    except BaseException:
        s.rollback()
        raise


def insert(s: Session, model: Any) -> Any:
    """``INSERT`` for the session's database, with ``on_conflict_do_*`` available."""
    dialect = s.get_bind().dialect.name
    if dialect == "postgresql":
        return pg_insert(model)
    if dialect == "sqlite":
        return sqlite_insert(model)
    raise NotImplementedError(f"hotline's records need SQLite or PostgreSQL, not {dialect}")
