"""The frame every page shares, in a real browser: log in and out, the language switch,
the login form's refusals and throttling, the role-based menu."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import BrowserSite
from tests.browser.helpers import login


def test_login_logout_and_the_language_follows_the_user(
    page: Page, browser_site: BrowserSite
) -> None:
    site = browser_site
    page.goto(f"{site.url}/")
    expect(page).to_have_url(f"{site.url}/login")
    login(page, site, "lead")
    page.select_option("#language-select", "zh")
    expect(page.locator("#logout")).to_have_text("退出")
    page.click("#logout")
    expect(page.locator("#login-form")).to_be_visible()
    # The choice was stored on the user, not the browser: a fresh login is in Chinese.
    page.context.clear_cookies()
    login(page, site, "lead")
    expect(page.locator("#logout")).to_have_text("退出")


def test_a_wrong_password_is_refused_and_repeated_failures_are_throttled(
    page: Page, browser_site: BrowserSite
) -> None:
    site = browser_site
    staff, password = site.users["agent"]
    for _ in range(5):
        page.goto(f"{site.url}/login")
        page.fill("#staff_number", staff)
        page.fill("#password", "not-the-password")
        page.click("#login-submit")
        expect(page.locator("#login-error")).to_contain_text("wrong password")
    # Locked now, even with the right password.
    page.fill("#staff_number", staff)
    page.fill("#password", password)
    page.click("#login-submit")
    expect(page.locator("#login-error")).to_contain_text("Too many failed attempts")
