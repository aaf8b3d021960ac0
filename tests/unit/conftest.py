"""Unit tests are pure and fast: no database, no process, no network.

An autouse guard makes that a rule rather than a habit: a unit test that opens a
database connection, starts a process or connects or binds a socket fails at once and
says where it belongs (``tests/integration/``). Asyncio's own self-pipe (a socketpair)
and files under ``tmp_path`` are fine.
"""

from __future__ import annotations

import socket
import sqlite3
import subprocess
from typing import Any, NoReturn

import psycopg
import pytest


def _refuse(what: str) -> Any:
    def refuse(*_args: Any, **_kwargs: Any) -> NoReturn:
        raise AssertionError(
            f"a unit test {what}; unit tests are pure and fast, so this test belongs in "
            "tests/integration/"
        )

    return refuse


@pytest.fixture(autouse=True)
def _pure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite3, "connect", _refuse("opened a SQLite database"))
    monkeypatch.setattr(sqlite3.dbapi2, "connect", _refuse("opened a SQLite database"))
    monkeypatch.setattr(psycopg, "connect", _refuse("connected to PostgreSQL"))
    monkeypatch.setattr(psycopg.Connection, "connect", _refuse("connected to PostgreSQL"))
    monkeypatch.setattr(subprocess.Popen, "__init__", _refuse("started a process"))
    monkeypatch.setattr(socket.socket, "connect", _refuse("connected a socket"))
    monkeypatch.setattr(socket.socket, "connect_ex", _refuse("connected a socket"))
    monkeypatch.setattr(socket.socket, "bind", _refuse("bound a socket"))
