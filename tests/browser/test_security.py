"""In a real browser: text a caller or agent typed is shown as text, never run, and an
agent who opens a lead's page gets the 'not allowed' page."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from kernel.clock import utcnow
from tests.browser.conftest import BrowserSite
from tests.browser.helpers import login
from tickets.store import create_ticket

XSS = '<img src=x onerror="alert(1)"><script>alert(2)</script>'


def test_ticket_text_with_markup_is_shown_as_text_and_never_runs(
    page: Page, browser_site: BrowserSite
) -> None:
    site = browser_site
    with site.sessions() as s:
        ticket = create_ticket(
            s,
            kind="complaint",
            details={
                "category": "product_quality",
                "subject": XSS,
                "reason": XSS,
                "symptom": XSS,
                "injury": True,
            },
            created_by="8001",
            now=utcnow(),
            contact_phone="13812345678",
            contact_name=XSS,
            summary=XSS,
        )
        s.commit()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    login(page, site, "agent")
    page.goto(f"{site.url}/agent")
    mine = page.locator(f"#ticket-rows tr[data-id='{ticket.id}']")
    expect(mine).to_contain_text("<script>alert(2)</script>")
    page.context.clear_cookies()
    login(page, site, "lead")
    page.goto(f"{site.url}/wallboard")
    item = page.locator(f"#urgent-complaints [data-ticket-id='{ticket.id}']")
    expect(item).to_contain_text("<script>alert(2)</script>")
    assert page.locator("#urgent-complaints img").count() == 0
    assert dialogs == []


def test_an_agent_opening_a_lead_page_is_told_it_is_not_allowed(
    page: Page, browser_site: BrowserSite
) -> None:
    site = browser_site
    login(page, site, "agent")
    for path in ("/wallboard", "/reports", "/admin"):
        answer = page.goto(f"{site.url}{path}")
        assert answer is not None and answer.status == 403, path
        expect(page.locator("h1")).to_have_text("Not allowed")
    # The menu offers an agent only what an agent may open.
    expect(page.locator("nav a[data-nav='wallboard']")).to_have_count(0)
    expect(page.locator("nav a[data-nav='admin']")).to_have_count(0)
