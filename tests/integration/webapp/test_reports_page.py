"""The reports page and its CSV files, on a site whose calendar is in Asia/Shanghai, over
the records of ``tests/integration/reporting/test_reports.py`` (its docstring lists them): the
figures for a local day, week and month, the CSV headers and cells (formulas defused,
numbers masked by role), the audit of every view and export, and who may see them."""

from __future__ import annotations

import csv
import dataclasses
import io
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from agents.accounts import set_password
from tests.integration.reporting.test_reports import MEMBER_PHONE, NOW, VIP_NAME, VIP_PHONE, seed
from tests.integration.webapp.conftest import PASSWORD, Client, settings_for
from ticketdb.audit import entries_for
from ticketdb.migrate import upgrade
from ticketdb.models import Agent
from webapp import close_app, create_app
from webapp.report_csv import csv_text, safe_cell
from webapp.reports import KEY, SECTIONS, ReportsResources

CALENDAR = """\
timezone: Asia/Shanghai
calendars:
  default:
    weekly:
      mon: ["09:00-18:00"]
"""
QUEUES = """\
skills: [general]
queues:
  sales: {skills: [general]}
  service: {skills: [general], service_level_seconds: 20}
  billing: {skills: [general]}
"""
DAY = "period=day&day=2026-03-02"


@pytest.fixture
def app(db_url: str, tmp_path: Path) -> Iterator[Flask]:
    upgrade(db_url)
    (tmp_path / "calendar.yaml").write_text(CALENDAR, encoding="utf-8")
    (tmp_path / "queues.yaml").write_text(QUEUES, encoding="utf-8")
    settings = settings_for(db_url, tmp_path, secrets.token_hex(32))
    paths = settings.paths.model_copy(
        update={
            "calendar_file": tmp_path / "calendar.yaml",
            "queues_file": tmp_path / "queues.yaml",
        }
    )
    app = create_app(settings.model_copy(update={"paths": paths}))
    app.config["TESTING"] = True
    at(app, NOW)
    yield app
    close_app(app)


def at(app: Flask, now: datetime) -> None:
    res: ReportsResources = app.extensions[KEY]
    app.extensions[KEY] = dataclasses.replace(res, clock=lambda: now)


@pytest.fixture
def site(app: Flask, sessions: sessionmaker[Session]) -> Flask:
    seed(sessions)
    with sessions() as s:
        for staff in ("8001", "9001", "9901"):
            set_password(s, staff, PASSWORD)
    return app


class Tables(HTMLParser):
    """The page's report tables: table id → rows, each {column: text}, keyed by the
    row's ``data-key``."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tables: dict[str, dict[str, dict[str, str]]] = {}
        self._table: str | None = None
        self._row: dict[str, str] | None = None
        self._col: str | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table" and a.get("id"):
            self._table = str(a["id"]).removeprefix("table-")
            self.tables[self._table] = {}
        elif tag == "tr" and self._table is not None and "data-key" in a:
            self._row = self.tables[self._table].setdefault(str(a["data-key"]), {})
        elif tag == "td" and self._row is not None:
            self._col = a.get("data-col")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._table = None
        elif tag == "tr":
            self._row = None
        elif tag == "td":
            self._col = None

    def handle_data(self, data: str) -> None:
        if self._row is not None and self._col is not None:
            self._row[self._col] = self._row.get(self._col, "") + data.strip()


def rows_of(body: bytes) -> list[list[str]]:
    text = body.decode("utf-8")
    assert text.startswith("\ufeff")  # Excel needs the BOM to read UTF-8
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))


def test_the_lead_sees_the_days_figures_in_the_sites_time_zone(site: Flask) -> None:
    lead = Client(site, "9001")
    page = lead.get(f"/reports?{DAY}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "2026-03-02 (Asia/Shanghai)" in html
    t = Tables(html).tables
    assert t["kinds"]["complaint"] == {
        "kind": "Complaint",
        "created": "1",
        "urgent": "1",
        "resolved": "1",
        "closed": "0",
    }
    assert t["kinds"]["total"]["created"] == "3"
    assert t["origins"]["inbound"]["calls"] == "8"
    assert t["origins"]["manual"]["tickets"] == "1"
    assert t["queues"]["sales"] == {
        "queue": "sales",
        "offered": "4",
        "answered": "2",
        "abandoned": "1",
        "abandon_rate": "25.0 %",
        "callback_kept": "1",
        "service_level_seconds": "15",
        "answered_in_time": "1",
        "service_level": "50.0 %",
        "asa_seconds": "15.0 s",
    }
    assert t["queues"]["service"]["service_level_seconds"] == "20"
    assert t["queues"]["billing"]["service_level"] == "–"
    assert t["agents"]["8001"]["talk_seconds"] == "0:09:20"
    assert t["agents"]["8001"]["tickets"] == "2"
    assert "9901" not in t["agents"]
    assert t["satisfaction"]["total"]["satisfied_share"] == "50.0 %"
    assert t["callbacks"]["total"]["due"] == "4"
    assert t["callbacks"]["survey"]["overdue"] == "1"
    # Coverage: the VIP who called is owed a callback; the member got theirs.
    assert t["coverage"][VIP_NAME]["status"] == "Owed"
    assert t["coverage"][VIP_NAME]["phone"] == VIP_PHONE
    assert t["coverage"]["Li Wei"]["status"] == "Done"
    assert "Member customers who called: 2; still owed a callback: 1." in html
    # The formula-looking name is text on the page (escaped), never markup.
    assert "=HYPERLINK(&#34;http://evil.example&#34;" in html


def test_week_and_month_follow_the_local_calendar(site: Flask) -> None:
    lead = Client(site, "9001")
    week = Tables(lead.get("/reports?period=week&day=2026-03-04").get_data(as_text=True))
    assert week.tables["queues"]["sales"]["offered"] == "5"  # with c6 at 00:30 on 3/3
    assert week.tables["kinds"]["total"]["created"] == "4"
    month_page = lead.get("/reports?period=month&day=2026-03-15").get_data(as_text=True)
    assert "2026-03-01 to 2026-03-31 (Asia/Shanghai)" in month_page
    month = Tables(month_page)
    assert month.tables["kinds"]["fault"]["created"] == "1"  # 23:59 local on the 31st
    assert month.tables["queues"]["service"]["offered"] == "2"


def test_the_default_is_today_in_the_sites_zone(site: Flask) -> None:
    # 17:00 UTC on 2 March is 01:00 on 3 March in Shanghai.
    at(site, datetime(2026, 3, 2, 17, 0, tzinfo=UTC))
    html = Client(site, "9001").get("/reports").get_data(as_text=True)
    assert 'value="2026-03-03"' in html
    t = Tables(html).tables
    assert t["kinds"]["complaint"]["created"] == "1"  # t4, 00:35 on 3 March
    assert t["origins"]["inbound"]["calls"] == "1"  # c6


def test_each_section_downloads_as_csv(site: Flask) -> None:
    lead = Client(site, "9001")
    headers = {}
    for section in SECTIONS:
        answer = lead.get(f"/reports/{section.name}.csv?{DAY}")
        assert answer.status_code == 200, section.name
        assert answer.mimetype == "text/csv"
        assert answer.headers["Content-Disposition"] == (
            f'attachment; filename="hotline-{section.name}-day-2026-03-02.csv"'
        )
        headers[section.name] = rows_of(answer.data)[0]
    assert headers["kinds"] == ["kind", "created", "urgent", "resolved", "closed"]
    assert headers["queues"][:4] == ["queue", "offered", "answered", "abandoned"]
    assert headers["coverage"] == [
        "name", "phone", "tier", "calls", "done", "open", "unreachable", "missing", "status",
    ]  # fmt: skip

    kinds = rows_of(lead.get(f"/reports/kinds.csv?{DAY}").data)
    assert kinds[1:] == [
        ["order", "1", "0", "0", "1"],
        ["complaint", "1", "1", "1", "0"],
        ["inquiry", "1", "0", "0", "0"],
        ["fault", "0", "0", "0", "0"],
        ["other", "0", "0", "0", "0"],
        ["total", "3", "1", "1", "1"],
    ]
    queues = rows_of(lead.get(f"/reports/queues.csv?{DAY}").data)
    assert queues[1] == ["sales", "4", "2", "1", "0.25", "1", "15", "1", "0.5", "15"]
    assert queues[3] == ["billing", "0", "0", "0", "", "0", "15", "0", "", ""]
    agents = rows_of(lead.get("/reports/agents.csv?period=week&day=2026-03-08").data)
    assert agents[2] == ["8002", "Agent 8002", "2", "0", "210", "105", "1", "2"]
    callbacks = rows_of(lead.get(f"/reports/callbacks.csv?{DAY}").data)
    assert callbacks[1] == ["complaint", "3", "2", "0.6667", "2", "1", "0", "0", "1"]


def test_csv_cells_cannot_run_as_formulas(site: Flask) -> None:
    coverage = rows_of(Client(site, "9001").get(f"/reports/coverage.csv?{DAY}").data)
    assert coverage[1:] == [
        ["'" + VIP_NAME, "'" + VIP_PHONE, "vip", "1", "0", "0", "0", "1", "owed"],
        ["Li Wei", "'" + MEMBER_PHONE, "member", "1", "1", "0", "0", "0", "done"],
    ]


def test_numbers_are_masked_for_a_role_that_does_not_see_them(site: Flask) -> None:
    site.config["HOTLINE_FULL_NUMBER_ROLES"] = ("admin",)
    coverage = rows_of(Client(site, "9001").get(f"/reports/coverage.csv?{DAY}").data)
    assert coverage[1][1] == "'+86138****0002"
    html = Client(site, "9001").get(f"/reports?{DAY}").get_data(as_text=True)
    assert Tables(html).tables["coverage"]["Li Wei"]["phone"] == "+86138****0001"


def test_views_and_exports_are_audited(site: Flask, sessions: sessionmaker[Session]) -> None:
    lead = Client(site, "9001")
    assert lead.get(f"/reports?{DAY}").status_code == 200
    assert lead.get("/reports/coverage.csv?period=week&day=2026-03-04").status_code == 200
    with sessions() as s:
        views = entries_for(s, "report", "reports")
        exports = entries_for(s, "report", "coverage")
    assert [(e.actor, e.role, e.action, e.detail) for e in views] == [
        ("9001", "lead", "view", "day 2026-03-02..2026-03-02")
    ]
    assert [(e.actor, e.action, e.detail) for e in exports] == [
        ("9001", "export", "week 2026-03-02..2026-03-08 (2 rows)")
    ]


def test_only_leads_and_admins_see_reports(site: Flask, sessions: sessionmaker[Session]) -> None:
    anonymous = site.test_client()
    for path in ("/reports", "/reports/kinds.csv"):
        answer = anonymous.get(path)
        assert answer.status_code == 302
        assert answer.headers["Location"].startswith("/login?next=/reports")
    agent = Client(site, "8001")
    assert agent.http.get("/reports", headers={"Accept": "text/html"}).status_code == 403
    assert agent.get(f"/reports/coverage.csv?{DAY}").status_code == 403
    assert Client(site, "9901").get(f"/reports/agents.csv?{DAY}").status_code == 200
    with sessions() as s:
        # The refused agent left no export behind.
        assert entries_for(s, "report", "coverage") == []


def test_bad_requests(site: Flask) -> None:
    lead = Client(site, "9001")
    bad = lead.http.get("/reports?period=year", headers={"Accept": "text/html"})
    assert bad.status_code == 400
    assert "Choose a period" in bad.get_data(as_text=True)
    assert lead.get("/reports?day=2026-02-30").status_code == 400
    assert lead.get("/reports/kinds.csv?day=tomorrow").status_code == 400
    assert lead.get(f"/reports/customers.csv?{DAY}").status_code == 404


def test_the_page_in_chinese(site: Flask, sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        s.execute(update(Agent).where(Agent.staff_number == "9001").values(ui_language="zh"))
        s.commit()
    html = Client(site, "9001").get(f"/reports?{DAY}").get_data(as_text=True)
    assert "按类型统计工单" in html
    assert Tables(html).tables["kinds"]["complaint"]["kind"] == "投诉"


def test_safe_cells() -> None:
    assert [safe_cell(v) for v in ("=1+1", "+86", "-2", "@x", "\tx", "ok", "")] == [
        "'=1+1",
        "'+86",
        "'-2",
        "'@x",
        "'\tx",
        "ok",
        "",
    ]
    assert [safe_cell(v) for v in (-3, 0.5, 2 / 3, 1.0, None)] == ["-3", "0.5", "0.6667", "1", ""]
    assert csv_text(["a", "b"], [["x,y", None]]) == '\ufeffa,b\r\n"x,y",\r\n'
