"""Agents' phones in a real browser against the whole running site: agent 8001's phone
unregisters from the (simulated) Asterisk; the controller sees the endpoint go offline,
and without a reload the lead's wallboard marks 8001's row "phone offline" (Asterisk's
reason as its title, and the rules' alert) while 8001's desk warns that calls cannot
reach them. The phone registers again: both clear by themselves. Logged out (no alert,
no seat change to wake the pages), the phone going offline still shows on both."""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.browser.conftest import BrowserSite
from tests.browser.helpers import login

# The controller notices an endpoint's state change at once, or at its next look at the
# phones (every few seconds); the pages follow within a second or two of the write.
WAIT_MS = 20_000


def _open(page: Page, site: BrowserSite, role: str, path: str) -> None:
    login(page, site, role)
    page.goto(f"{site.url}{path}")
    expect(page.locator("body")).to_have_attribute("data-live", "open", timeout=15_000)
    # A marker that a reload would wipe: the page must change in place.
    page.evaluate("window.__noReload = true")


def _not_reloaded(page: Page) -> None:
    assert page.evaluate("window.__noReload === true"), "the page was reloaded"


def test_a_phone_going_offline_shows_on_the_wallboard_and_the_desk_without_a_reload(
    page: Page, browser_site: BrowserSite, new_page: Callable[[], Page]
) -> None:
    site = browser_site
    site.set_state("agent", "available")
    _open(page, site, "lead", "/wallboard")
    expect(page.locator("body")).to_have_attribute("data-wallboard", "ready", timeout=15_000)
    row = page.locator("#agents tr[data-staff-number='8001']")
    expect(row).to_have_attribute("data-state", "available", timeout=15_000)
    expect(row).to_have_attribute("data-phone", "ready", timeout=WAIT_MS)
    expect(row.locator(".phone")).to_have_count(0)

    desk = new_page()
    _open(desk, site, "agent", "/agent")
    warning = desk.locator("#phone-warning")
    expect(desk.locator("#seat-state")).to_have_attribute("data-state", "available")
    expect(warning).to_be_hidden()

    site.call(site.sim.register_phone, "PJSIP/8001", False)

    badge = row.locator(".state .phone[data-phone='offline']")
    expect(badge).to_have_text("phone offline", timeout=WAIT_MS)
    expect(badge).to_have_attribute("title", re.compile(r"not registered|offline"))
    expect(row.locator(".state")).to_contain_text("Available")  # the seat is unchanged
    expect(page.locator("#alerts li[data-kind='phone_offline']")).to_contain_text(
        "Phone offline:", timeout=WAIT_MS
    )
    expect(warning).to_be_visible(timeout=WAIT_MS)
    expect(warning).to_have_text(
        re.compile(r"^Your phone is offline: .+ — calls cannot reach you$"), timeout=WAIT_MS
    )
    # Agent 8002's phone is still registered: nothing against them.
    expect(page.locator("#agents tr[data-staff-number='8002'] .phone")).to_have_count(0)

    site.call(site.sim.register_phone, "PJSIP/8001", True)

    expect(row.locator(".phone")).to_have_count(0, timeout=WAIT_MS)
    expect(row).to_have_attribute("data-phone", "ready")
    expect(page.locator("#alerts li[data-kind='phone_offline']")).to_have_count(0, timeout=WAIT_MS)
    expect(warning).to_be_hidden(timeout=WAIT_MS)

    # Logged out, the phone going offline raises no alert and changes no seat: only the
    # phone's own row can wake the pages now (the live watcher's fingerprint).
    site.set_state("agent", "offline")
    expect(row).to_have_attribute("data-state", "offline", timeout=WAIT_MS)
    expect(desk.locator("#seat-state")).to_have_attribute("data-state", "offline", timeout=WAIT_MS)
    site.call(site.sim.register_phone, "PJSIP/8001", False)
    expect(badge).to_have_text("phone offline", timeout=WAIT_MS)
    expect(warning).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#alerts li[data-kind='phone_offline']")).to_have_count(0)
    _not_reloaded(page)
    _not_reloaded(desk)
