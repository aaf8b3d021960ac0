"""The dispatch page and CSV, and the SLA feed, over HTTP: escaping, CSV content, audit
entries, and leads only."""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from kernel.calendar import load_calendars
from kernel.clock import utcnow
from kernel.settings import Settings
from tests.integration.webapp.conftest import SHIFTS, Client, make_agent
from ticketdb.audit import entries_for
from ticketdb.migrate import upgrade
from ticketdb.models import Ticket
from tickets.config import load_rules
from tickets.dispatch_store import run_dispatch
from tickets.sla_store import sweep
from webapp import close_app, create_app
from webapp.db import resources

SHANGHAI = ZoneInfo("Asia/Shanghai")
RULES = """\
sla:
  urgent_first_response_minutes: 10
  kinds:
    complaint: {first_response_minutes: 60, callback_days: 3}
dispatch:
  channels: [retail, home_delivery]
  sales_areas: [Chaoyang]
"""
CALENDAR = """\
timezone: Asia/Shanghai
calendars:
  default:
    weekly: {mon: ["09:30-17:00"], tue: ["09:30-17:00"], wed: ["09:30-17:00"],
             thu: ["09:30-17:00"], fri: ["09:30-17:00"]}
"""
DAY = date(2026, 10, 9)


@pytest.fixture
def app(db_url: str, tmp_path: Path) -> Iterator[Flask]:
    for name, text in (("shifts.yaml", SHIFTS), ("tickets.yaml", RULES),
                       ("calendar.yaml", CALENDAR)):  # fmt: skip
        (tmp_path / name).write_text(text, encoding="utf-8")
    settings = Settings.model_validate(
        {
            "database": {"url": db_url},
            "paths": {
                "shifts_file": str(tmp_path / "shifts.yaml"),
                "calendar_file": str(tmp_path / "calendar.yaml"),
                "tickets_file": str(tmp_path / "tickets.yaml"),
            },
            "web": {"secret_key": secrets.token_hex(32)},
        }
    )
    upgrade(db_url)
    app = create_app(settings)
    app.config["TESTING"] = True
    yield app
    close_app(app)


@pytest.fixture
def sessions(app: Flask) -> sessionmaker[Session]:
    return resources(app).sessions


def add(s: Session, created: datetime, kind: str = "order", **cols: Any) -> int:
    t = Ticket(kind=kind, created_by="8001", created_at=created, updated_at=created, **cols)
    s.add(t)
    s.commit()
    return t.id


def dispatched_orders(sessions: sessionmaker[Session], tmp_path: Path) -> tuple[int, int]:
    morning = datetime(2026, 10, 9, 8, 0, tzinfo=SHANGHAI)
    with sessions() as s:
        evil = add(s, morning, contact_name="<script>alert(1)</script>",
                   contact_phone="13800000001", address='"Quoted", & <b>bold</b>',
                   details={"channel": "retail", "area": "Chaoyang", "product": "=2+3",
                            "quantity": 1, "unit_price": "6.50"})  # fmt: skip
        home = add(s, morning + timedelta(minutes=5), contact_name="Wang Fang",
                   contact_phone="13800000002", address="2 Jianguo Rd",
                   details={"channel": "home_delivery", "area": "Chaoyang",
                            "product": "Milk", "quantity": 2, "unit_price": "12.00"})  # fmt: skip
        run_dispatch(s, load_rules(tmp_path / "tickets.yaml"), SHANGHAI, DAY, "09:30", morning)
    return evil, home


def test_the_printable_page_escapes_everything(
    app: Flask, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    make_agent(sessions, "9001", role="lead")
    _, home = dispatched_orders(sessions, tmp_path)
    answer = Client(app, "9001").get("/dispatch/2026-10-09")
    assert answer.status_code == 200
    assert answer.mimetype == "text/html"
    assert answer.headers["Cache-Control"] == "no-store"
    page = answer.get_data(as_text=True)
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&#34;Quoted&#34;, &amp; &lt;b&gt;bold&lt;/b&gt;" in page
    assert "retail — 1 order(s)" in page and "home_delivery — 1 order(s)" in page
    assert "@media print" in page
    assert f'<td class="num">{home}</td>' in page
    assert "Orders taken before 09:30 (Asia/Shanghai)" in page
    assert 'href="/dispatch/2026-10-09.csv"' in page
    with sessions() as s:
        (entry,) = entries_for(s, "report", "dispatch:2026-10-09")
        assert (entry.actor, entry.role, entry.action) == ("9001", "lead", "view")

    empty = Client(app, "9001").get("/dispatch/2026-10-10").get_data(as_text=True)
    assert empty.count("No orders.") == 2


def test_the_csv_download(app: Flask, sessions: sessionmaker[Session], tmp_path: Path) -> None:
    make_agent(sessions, "9002", role="admin")
    evil, home = dispatched_orders(sessions, tmp_path)
    answer = Client(app, "9002").get("/dispatch/2026-10-09.csv")
    assert answer.status_code == 200
    assert answer.mimetype == "text/csv"
    assert answer.headers["Content-Disposition"] == (
        'attachment; filename="dispatch-2026-10-09.csv"'
    )
    text = answer.get_data(as_text=True)
    assert text.startswith("\ufeff")
    header, *body = list(csv.reader(io.StringIO(text[1:])))
    assert header[:2] == ["channel", "ticket"]
    assert body == [
        ["retail", str(evil), "<script>alert(1)</script>", "13800000001",
         '"Quoted", & <b>bold</b>', "Chaoyang", "'=2+3", "1", "6.50", "2026-10-09 08:00"],
        ["home_delivery", str(home), "Wang Fang", "13800000002", "2 Jianguo Rd", "Chaoyang",
         "Milk", "2", "12.00", "2026-10-09 08:05"],
    ]  # fmt: skip
    with sessions() as s:
        (entry,) = entries_for(s, "report", "dispatch:2026-10-09")
        assert (entry.actor, entry.action) == ("9002", "export")


def test_leads_only(app: Flask, sessions: sessionmaker[Session]) -> None:
    make_agent(sessions, "8001")
    make_agent(sessions, "9001", role="lead")
    agent = Client(app, "8001")
    for path in ("/dispatch/2026-10-09", "/dispatch/2026-10-09.csv", "/api/sla"):
        assert agent.get(path).status_code == 403, path
        assert app.test_client().get(path).status_code == 401, path
    with sessions() as s:
        assert entries_for(s, "report", "dispatch:2026-10-09") == []
    lead = Client(app, "9001")
    answer = lead.get("/dispatch/2026-13-01")
    assert answer.status_code == 400
    assert answer.get_json() == {
        "error": "not a day '2026-13-01': use YYYY-MM-DD",
        "error_id": "bad_request",
    }
    assert lead.get("/dispatch/2026-13-01.csv").status_code == 400
    assert lead.get("/api/sla?state=late").status_code == 400


def test_sla_feed_urgent_first(app: Flask, sessions: sessionmaker[Session], tmp_path: Path) -> None:
    make_agent(sessions, "9001", role="lead")
    now = utcnow()
    with sessions() as s:
        old = add(s, now - timedelta(days=5), "complaint", contact_name="Li Lei")
        urgent = add(s, now - timedelta(minutes=30), "complaint", severity="urgent")
        calendar = load_calendars(tmp_path / "calendar.yaml").get("default")
        sweep(s, load_rules(tmp_path / "tickets.yaml"), calendar, now, 0.8)
    answer = Client(app, "9001").get("/api/sla")
    assert answer.status_code == 200
    found = answer.get_json()["breaches"]
    assert [(b["ticket_id"], b["target"]) for b in found] == [
        (urgent, "first_response"),
        (old, "first_response"),
        (old, "callback"),
    ]
    assert found[1]["contact_name"] == "Li Lei" and found[1]["state"] == "breached"
    assert found[1]["overdue_seconds"] >= (5 * 24 - 1) * 3600 - 5
    assert datetime.fromisoformat(found[0]["due_at"]).tzinfo is not None
    near = Client(app, "9001").get("/api/sla?state=near").get_json()["breaches"]
    assert near == []
    assert datetime.fromisoformat(answer.get_json()["now"]) <= datetime.now(UTC)
