"""A web app per test over a migrated database (SQLite file and PostgreSQL schema), with
shift rules that apply around the clock, and helpers to log in as an agent."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from agents.accounts import set_password
from agents.seat_store import add_agent
from kernel.settings import Settings
from ticketdb.migrate import upgrade
from webapp import close_app, create_app
from webapp.db import resources

PASSWORD = "correct horse battery"

# One shift all week, all day, on post: the rules apply whenever the test runs. No
# minimum on duty, so only max_away_at_once decides who may go away.
SHIFTS = """\
timezone: UTC
teams:
  hotline: {}
shifts:
  always:
    teams: [hotline]
    days: mon-sun
    periods:
      - {at: "00:00-24:00", kind: on_post}
rules:
  min_normal_on_duty_open: 0
  min_normal_on_duty_outside: 0
  max_away_at_once: 1
"""


def settings_for(db_url: str, tmp_path: Path, secret_key: str = "") -> Settings:
    shifts = tmp_path / "shifts.yaml"
    shifts.write_text(SHIFTS, encoding="utf-8")
    return Settings.model_validate(
        {
            "database": {"url": db_url},
            "paths": {
                "shifts_file": str(shifts),
                "calendar_file": str(tmp_path / "no-calendar.yaml"),
            },
            "web": {"secret_key": secret_key},
        }
    )


@pytest.fixture
def app(db_url: str, tmp_path: Path) -> Iterator[Flask]:
    upgrade(db_url)
    app = create_app(settings_for(db_url, tmp_path, secrets.token_hex(32)))
    app.config["TESTING"] = True
    yield app
    close_app(app)


@pytest.fixture
def sessions(app: Flask) -> sessionmaker[Session]:
    return resources(app).sessions


def make_agent(
    sessions: sessionmaker[Session],
    staff_number: str,
    role: str = "agent",
    *,
    password: str | None = PASSWORD,
    **extra: Any,
) -> int:
    with sessions() as s:
        agent = add_agent(
            s,
            staff_number=staff_number,
            name=f"Agent {staff_number}",
            endpoint=f"PJSIP/{staff_number}",
            role=role,
            team="hotline",
            **extra,
        )
        if password is not None:
            set_password(s, staff_number, password)
        return agent.id


class Client:
    """A logged-in test client that sends its CSRF token with every change."""

    def __init__(self, app: Flask, staff_number: str, password: str = PASSWORD) -> None:
        self.http: FlaskClient = app.test_client()
        answer = self.http.post(
            "/api/login", json={"staff_number": staff_number, "password": password}
        )
        assert answer.status_code == 200, answer.get_json()
        self.csrf: str = answer.get_json()["csrf_token"]

    def get(self, path: str) -> Any:
        return self.http.get(path)

    def post(self, path: str, body: Any = None) -> Any:
        return self.http.post(path, json=body, headers={"X-CSRF-Token": self.csrf})
