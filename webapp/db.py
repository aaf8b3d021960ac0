"""The app's database and shift rules: one engine per app, one session per request.

The session is opened on first use in a request and closed when the request ends,
whatever happened; ``ticketdb`` functions commit or roll back themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app, g
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from agents.queue_config import QueueCatalog
from agents.shifts import ShiftConfig
from ticketdb.engine import make_engine, make_sessionmaker

_KEY = "hotline"


@dataclass(frozen=True)
class Resources:
    engine: Engine
    sessions: sessionmaker[Session]
    shifts: ShiftConfig | None  # None: no shifts file, no staffing rules
    queues: QueueCatalog | None = None  # None: no queues file, no queue statistics


def init_app(
    app: Flask,
    database_url: str,
    shifts: ShiftConfig | None,
    queues: QueueCatalog | None = None,
) -> Resources:
    engine = make_engine(database_url)
    resources = Resources(engine, make_sessionmaker(engine), shifts, queues)
    app.extensions[_KEY] = resources
    app.teardown_appcontext(_close_session)
    return resources


def resources(app: Flask | None = None) -> Resources:
    found: Resources = (app or current_app).extensions[_KEY]
    return found


def db() -> Session:
    """This request's session."""
    if "db" not in g:
        g.db = resources().sessions()
    session: Session = g.db
    return session


def shift_config() -> ShiftConfig | None:
    return resources().shifts


def queue_catalog() -> QueueCatalog | None:
    return resources().queues


def close_session() -> None:
    """End this request's session (a long-lived stream starts a fresh one next use)."""
    session: Session | None = g.pop("db", None)
    if session is not None:
        session.close()
    g.pop("agent", None)


def _close_session(exc: BaseException | None) -> None:
    close_session()
