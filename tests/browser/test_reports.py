"""The reports page in a real browser: a lead opens it, sees the day's figures, switches
to the month, and downloads a section as CSV."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, expect

from kernel.clock import utcnow
from tests.browser.conftest import BrowserSite
from tests.browser.helpers import login
from ticketdb.models import Call, Ticket

# The site runs on the shipped calendar's zone.
TZ = ZoneInfo("Asia/Shanghai")


def seed(site: BrowserSite) -> str:
    """Two callers in the complaints queue (one answered after 12 s, one gave up) and the
    complaint filed from the first; the local day they happened on."""
    at = utcnow() - timedelta(minutes=5)
    with site.sessions() as s:
        answered = Call(
            node="elsewhere",
            channel_id="report-1",
            caller_number="+8613800000009",
            started_at=at,
            answered_at=at,
            ended_at=at + timedelta(seconds=102),
            end_reason="completed",
            queue="complaints",
            queue_entered_at=at,
            wait_seconds=12.0,
            agent="8001",
            agent_answered_at=at + timedelta(seconds=12),
        )
        s.add(answered)
        s.add(
            Call(
                node="elsewhere",
                channel_id="report-2",
                caller_number="+8613800000008",
                started_at=at,
                answered_at=at,
                ended_at=at + timedelta(seconds=40),
                end_reason="abandoned",
                queue="complaints",
                queue_entered_at=at,
                wait_seconds=40.0,
            )
        )
        s.flush()
        s.add(
            Ticket(
                kind="complaint",
                severity="urgent",
                created_by="8001",
                created_at=at + timedelta(seconds=60),
                updated_at=at + timedelta(seconds=60),
                call_id=answered.id,
            )
        )
        s.commit()
    return at.astimezone(TZ).date().isoformat()


def cell(table: str, key: str, column: str) -> str:
    return f'#table-{table} tr[data-key="{key}"] td[data-col="{column}"]'


def test_a_lead_reads_the_report_and_downloads_a_csv(
    page: Page, browser_site: BrowserSite, tmp_path: Path
) -> None:
    site = browser_site
    day = seed(site)
    login(page, site, "lead")
    page.click('nav a[data-nav="reports"]')
    expect(page.locator("h1")).to_have_text("Reports")
    page.goto(f"{site.url}/reports?period=day&day={day}")
    expect(page.locator("#report-range")).to_contain_text(f"{day} (Asia/Shanghai)")
    expect(page.locator(cell("queues", "complaints", "offered"))).to_have_text("2")
    expect(page.locator(cell("queues", "complaints", "answered"))).to_have_text("1")
    expect(page.locator(cell("queues", "complaints", "abandon_rate"))).to_have_text("50.0 %")
    expect(page.locator(cell("queues", "complaints", "service_level"))).to_have_text("100.0 %")
    expect(page.locator(cell("queues", "complaints", "asa_seconds"))).to_have_text("12.0 s")
    expect(page.locator(cell("kinds", "complaint", "urgent"))).to_have_text("1")
    expect(page.locator(cell("agents", "8001", "talk_seconds"))).to_have_text("0:01:30")

    with page.expect_download() as info:
        page.click("#csv-queues")
    download = info.value
    assert download.suggested_filename == f"hotline-queues-day-{day}.csv"
    saved = tmp_path / "queues.csv"
    download.save_as(saved)
    rows = list(csv.reader(io.StringIO(saved.read_text(encoding="utf-8-sig"))))
    assert rows[0][:4] == ["queue", "offered", "answered", "abandoned"]
    assert ["complaints", "2", "1", "1", "0.5", "0", "15", "1", "1", "12"] in rows

    # The whole month holds the same calls.
    page.select_option("#period", "month")
    page.click("#show")
    expect(page.locator("#report-range")).to_contain_text(" to ")
    expect(page.locator(cell("queues", "complaints", "offered"))).to_have_text("2")
