"""Fixtures shared by every test package.

Databases: ``db_url`` runs a test once on a SQLite file (WAL) and once on PostgreSQL, each
in the state the Alembic migrations leave a database in, built once for this test process
(one per xdist worker): SQLite gets a copy of the migrated file, PostgreSQL the process's
migrated database emptied again (``PostgresDatabases.migrated``). Either costs
milliseconds, where migrating costs a tenth of a second and dropping a schema another;
the tests that are about migrations take ``blank_db_url`` (nothing in it) and run them
for real.

PostgreSQL is taken from ``HOTLINE_TEST_PG_URL`` (default: 127.0.0.1:5432, database
``test``, trust auth). Test databases are named ``hl_<epoch>_…`` and dropped at the end of
the session; ones left by a killed run are dropped by the next run once they are a few
hours old. Where PostgreSQL is absent the PostgreSQL variant is skipped with the reason
printed (``-ra``).
"""

from __future__ import annotations

import os
import shutil
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from ticketdb.migrate import upgrade

PG_URL = os.environ.get("HOTLINE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
# Test databases of runs that ended without cleaning up are dropped after this long; a
# whole run takes minutes, so anything this old belongs to no live run.
_STALE_AFTER_S = 3 * 3600


def worker_id() -> str:
    """``gw0``, ``gw1`` … under pytest-xdist, ``main`` otherwise."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def worker_index() -> int:
    wid = worker_id()
    return int(wid[2:]) if wid.startswith("gw") else 0


class PostgresDatabases:
    """This process's test databases on the server at ``PG_URL``.

    Migrated databases are not made anew for each test: the process keeps one, built by
    the migrations, and before each test brings it back to exactly that state (every
    row deleted, every sequence restarted, nobody else connected). That costs about ten
    milliseconds; creating a database per test copies the whole catalogue through the
    write-ahead log and, with several workers, kept the server busier than the tests.
    """

    def __init__(self, url: str) -> None:
        self.base = sa.make_url(url)
        self.admin = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
        self.reused: str | None = None
        self._tables: list[str] = []  # children before parents: the order to empty them
        self._sequences: list[str] = []
        self._head: list[str] = []  # alembic_version as the migrations left it
        self._created: list[str] = []

    def url_of(self, name: str) -> str:
        return self.base.set(database=name).render_as_string(hide_password=False)

    def create(self) -> str:
        """A new empty database; dropped at the end of the session at the latest."""
        name = f"hl_{int(time.time())}_{uuid.uuid4().hex[:10]}"
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
            # Durability is not under test: not waiting for the disk on every commit
            # keeps a busy machine's fsyncs out of the tests' timing.
            conn.exec_driver_sql(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
        self._created.append(name)
        return name

    def drop(self, name: str) -> None:
        with self.admin.connect() as conn:
            # FORCE: a leaked pool or a subprocess still connected must not leave it behind.
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self._created:
            self._created.remove(name)
        if name == self.reused:
            self.reused = None

    def migrated(self) -> str:
        """This process's migrated database, emptied back to the state the migrations
        leave it in; its name."""
        if self.reused is None:
            self.drop_stale()
            name = self.create()
            upgrade(self.url_of(name))
            self._learn(name)
            self.reused = name
            return name
        name = self.reused
        engine = sa.create_engine(self.url_of(name), poolclass=sa.NullPool)
        try:
            with engine.begin() as conn:
                # Whatever the last test left connected (a pool not disposed, a process
                # not stopped) must not write into the next test's database.
                conn.execute(
                    sa.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = :db AND pid <> pg_backend_pid()"
                    ),
                    {"db": name},
                )
                # What a test added (APScheduler's job table, a schema of its own) goes;
                # the migrations' tables are emptied.
                for schema in conn.exec_driver_sql(
                    "SELECT nspname FROM pg_namespace WHERE nspname <> 'public'"
                    " AND nspname <> 'information_schema' AND left(nspname, 3) <> 'pg_'"
                ).scalars():
                    conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
                for table in conn.exec_driver_sql(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                ).scalars():
                    if table not in self._tables and table != "alembic_version":
                        conn.exec_driver_sql(f'DROP TABLE "{table}" CASCADE')
                for table in self._tables:
                    conn.exec_driver_sql(f'DELETE FROM "{table}"')
                for sequence in self._sequences:
                    conn.exec_driver_sql(f'ALTER SEQUENCE "{sequence}" RESTART')
                head = list(
                    conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars()
                )
        finally:
            engine.dispose()
        if head != self._head:
            # A test moved the schema (it should have taken blank_pg_url): start again.
            self.drop(name)
            return self.migrated()
        return name

    def _learn(self, name: str) -> None:
        engine = sa.create_engine(self.url_of(name), poolclass=sa.NullPool)
        try:
            meta = sa.MetaData()
            meta.reflect(engine)
            self._tables = [
                t.name for t in reversed(meta.sorted_tables) if t.name != "alembic_version"
            ]
            with engine.connect() as conn:
                self._sequences = list(
                    conn.exec_driver_sql(
                        "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'"
                    ).scalars()
                )
                self._head = list(
                    conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars()
                )
        finally:
            engine.dispose()

    def drop_stale(self) -> None:
        with self.admin.connect() as conn:
            names = conn.execute(
                sa.text("SELECT datname FROM pg_database WHERE datname LIKE :pattern"),
                {"pattern": "hl\\_%"},
            ).scalars()
            stale = [n for n in names if _age_s(n) > _STALE_AFTER_S]
        for name in stale:
            self.drop(name)

    def close(self) -> None:
        for name in list(self._created):
            self.drop(name)
        self.admin.dispose()


def _age_s(name: str) -> float:
    try:
        return time.time() - int(name.split("_")[1])
    except (IndexError, ValueError):
        return 0.0


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


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresDatabases]:
    reason = _pg_unavailable_reason()
    if reason:
        pytest.skip(reason)
    databases = PostgresDatabases(PG_URL)
    yield databases
    databases.close()


@pytest.fixture
def pg_url(postgres: PostgresDatabases) -> str:
    """A PostgreSQL database for this test alone, migrated to head and empty."""
    return postgres.url_of(postgres.migrated())


@pytest.fixture
def blank_pg_url(postgres: PostgresDatabases) -> Iterator[str]:
    """An empty PostgreSQL database of this test's own (for the migrations' own tests)."""
    name = postgres.create()
    yield postgres.url_of(name)
    postgres.drop(name)


@pytest.fixture
def blank_pg_schema_url(blank_pg_url: str) -> str:
    """An empty schema, named in the URL's ``search_path`` (how a site shares a database)."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(blank_pg_url, poolclass=sa.NullPool)
    with engine.begin() as conn:
        conn.exec_driver_sql(f'create schema "{schema}"')
    engine.dispose()
    sep = "&" if "?" in blank_pg_url else "?"
    return f"{blank_pg_url}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This process's migrated SQLite file; tests get copies of it."""
    path = tmp_path_factory.mktemp("sqlite-template") / "hotline.sqlite3"
    # upgrade() disposes its engine: the WAL is checkpointed into the file, which is then
    # complete on its own (and stays in WAL mode, which is kept in the file's header).
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """A SQLite file of this test's own, migrated to head."""
    path = tmp_path / "hotline.sqlite3"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Run the test on both database back ends, each a migrated database of its own."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return str(request.getfixturevalue(name))


@pytest.fixture(params=["sqlite", "postgresql"])
def blank_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Both back ends, with nothing in the database (for tests of the migrations)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'blank.sqlite3'}"
    return str(request.getfixturevalue("blank_pg_url"))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on, for a server a test starts later.

    Taken from a range of this worker's own below the kernel's ephemeral ports, so neither
    the other workers nor the kernel hand out the same port between this check and the
    server's bind.
    """
    base = 20000 + worker_index() * 1000 + (os.getpid() % 10) * 100
    for _ in range(1000):
        _next_port[0] = (_next_port[0] + 1) % 100
        port = base + _next_port[0]
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port in this worker's range")


_next_port = [0]


_LAYER_ORDER = {"browser": 0, "integration": 1, "unit": 2}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser and integration tests first, the many quick unit tests last: run in
    parallel, the long tests start at once and the short ones fill the gaps at the end."""

    def layer(item: pytest.Item) -> int:
        parts = Path(str(item.path)).parts
        for name, rank in _LAYER_ORDER.items():
            if name in parts:
                return rank
        return len(_LAYER_ORDER)

    items.sort(key=layer)  # stable: the order within a layer is kept
