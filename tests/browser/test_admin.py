"""The admin pages in a real browser against the running site: the admin sees the live
menu drawn as a diagram, adds a user through the form, and that user logs in; leads
are turned away."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.browser.conftest import BrowserSite
from tests.browser.helpers import login


def test_admin_sees_the_menu_and_adds_a_user_who_can_log_in(
    page: Page, new_page: Callable[[], Page], browser_site: BrowserSite
) -> None:
    site = browser_site
    login(page, site, "admin")
    page.click('nav.nav a[data-nav="admin"]')
    expect(page.locator("#users")).to_contain_text("Admin Zhou")

    page.click('.admin-tabs a[data-tab="menus"]')
    diagram = page.locator("#menu-diagram svg.menu-diagram")
    expect(diagram).to_be_visible()
    expect(diagram.locator('g.box.menu[data-node="main"]')).to_be_visible()
    expect(diagram.locator('g.box.branch[data-node="entry"]')).to_be_visible()
    assert diagram.locator("g.edge").count() > 10

    page.click('.admin-tabs a[data-tab="users"]')
    page.fill("#new-staff-number", "8123")
    page.fill("#new-name", "Zhang <i>Wei</i>")
    page.select_option("#new-role", "agent")
    page.fill("#new-team", "hotline")
    page.fill("#new-password", "fresh password 42")
    page.click("#add-user-submit")
    expect(page.locator('[data-flash="ok"]')).to_contain_text("User 8123 (Zhang <i>Wei</i>)")
    row = page.locator('#users tr[data-staff-number="8123"]')
    expect(row).to_contain_text("Zhang <i>Wei</i>")  # shown as text, not markup
    expect(page.locator("#user-changes")).to_contain_text("added as agent, team hotline")

    newcomer = new_page()
    newcomer.goto(f"{site.url}/login")
    newcomer.fill("#staff_number", "8123")
    newcomer.fill("#password", "fresh password 42")
    newcomer.click("#login-submit")
    expect(newcomer.locator(".me")).to_contain_text("8123", timeout=10_000)
    expect(newcomer.locator('nav.nav a[data-nav="admin"]')).to_have_count(0)
    answer = newcomer.goto(f"{site.url}/admin")
    assert answer is not None and answer.status == 403


def test_the_queues_tab_shows_lengths_and_a_lead_is_refused(
    page: Page, new_page: Callable[[], Page], browser_site: BrowserSite
) -> None:
    site = browser_site
    login(page, site, "admin")
    page.goto(f"{site.url}/admin/queues")
    expect(page.locator('#queues tr[data-queue="operator"] [data-live="waiting"]')).to_have_text(
        "0"
    )
    expect(page.locator("body")).to_have_attribute("data-live", "open", timeout=10_000)

    lead = new_page()
    login(lead, site, "lead")
    answer = lead.goto(f"{site.url}/admin/menus")
    assert answer is not None and answer.status == 403
    expect(lead.locator("#error-text")).to_contain_text("Your role may not open this page")
