"""Helpers for browser tests: log in through the real form, wait on conditions."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from playwright.sync_api import Page, expect

if TYPE_CHECKING:
    from tests.browser.conftest import BrowserSite


def login(page: Page, site: BrowserSite, role: str) -> None:
    """Log in as ``role`` ("agent", "agent2", "lead", "admin") through the login form."""
    staff_number, password = site.users[role]
    page.goto(f"{site.url}/login")
    page.fill("#staff_number", staff_number)
    page.fill("#password", password)
    page.click("#login-submit")
    expect(page.locator(".me")).to_contain_text(staff_number, timeout=10_000)


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    """Poll ``predicate`` until it holds; fail naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(0.05)


def screenshot_path(name: str, tmp_path: Path) -> Path:
    """Where a test saves its screenshot: ``docs/screenshots/<name>`` when
    ``HOTLINE_SCREENSHOTS=1`` (``make screenshots`` refreshes the README's pictures),
    else the test's temporary directory, so a test run never changes the checkout."""
    if os.environ.get("HOTLINE_SCREENSHOTS") == "1":
        target = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        return target
    return tmp_path / name
