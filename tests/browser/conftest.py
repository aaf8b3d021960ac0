"""Browser tests: Debian's Chromium (headless, driven by Playwright for Python) against a
whole running site — the ARI simulator, a controller node with the shipped menus and
queues, and the web app on the real cheroot server — run on its own event loop in a
background thread, so the test (Playwright's sync API) drives the browser meanwhile.

The site has its own users: agents 8001 and 8002, lead 9001 and admin 9901, each with a
random password (``site.users``), all seats offline at the start, and around-the-clock
shift rules where one seat may be away at a time. Agents' phones answer after a second
and stay on the line until the caller hangs up.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import threading
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from playwright.sync_api import Browser, Page, Playwright, sync_playwright
from sqlalchemy.orm import Session, sessionmaker

from agents import seat_store
from agents.accounts import set_password
from hotline.site import HotlineSite, SiteOptions
from kernel.clock import utcnow
from kernel.settings import Settings
from ticketdb.engine import make_engine, make_sessionmaker
from ticketdb.migrate import upgrade

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("HOTLINE_TEST_CHROMIUM", "/usr/bin/chromium")

SHIFTS = """\
timezone: Asia/Shanghai
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

SKILLS = {
    "general": 5, "complaints": 5, "quality": 5, "service": 5, "billing": 4, "orders": 4,
    "product": 4, "mobile": 3, "broadband": 3, "fixed_line": 3, "data": 3, "vip": 4,
    "english": 3,
}  # fmt: skip
USERS = {
    "agent": ("8001", "Li Ming", "agent"),
    "agent2": ("8002", "Wang Hua", "agent"),
    "lead": ("9001", "Chen Jing", "lead"),
    "admin": ("9901", "Admin Zhou", "admin"),
}


class BrowserSite:
    """A running ``HotlineSite`` on a loop of its own thread."""

    def __init__(self, settings: Settings) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.site = HotlineSite(
            settings,
            SiteOptions(
                use_configured_calendars=False,  # the desk is open whenever tests run
                web_port=0,
                demo=True,
            ),
        )
        self.users: dict[str, tuple[str, str]] = {}
        self.engine = make_engine(settings.database.url)
        self.sessions: sessionmaker[Session] = make_sessionmaker(self.engine)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
        """Run ``coro`` on the site's loop; its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run the plain function ``fn(*args)`` on the site's loop (the simulator and the
        node are not thread-safe); its result."""
        done: Future[T] = Future()

        def invoke() -> None:
            try:
                done.set_result(fn(*args))
            except BaseException as exc:
                done.set_exception(exc)

        self.loop.call_soon_threadsafe(invoke)
        return done.result(30)

    @property
    def url(self) -> str:
        return self.site.url

    @property
    def sim(self) -> Any:
        return self.site.sim

    @property
    def node(self) -> Any:
        return self.site.node

    def set_state(self, role: str, state: str, reason: str | None = None) -> None:
        """Put a user's seat in ``state`` directly (test setup, not under test)."""
        with self.sessions() as s:
            agent = seat_store.agent_by_staff_number(s, self.users[role][0])
            assert agent is not None
            seat_store.set_state(
                s, agent_id=agent.id, to_state=state, by="system", now=utcnow(), reason=reason
            )

    def start(self) -> None:
        upgrade(self.site.settings.database.url)
        with self.sessions() as s:
            for role, (staff, name, kind) in USERS.items():
                seat_store.add_agent(
                    s,
                    staff_number=staff,
                    name=name,
                    endpoint=f"PJSIP/{staff}",
                    role=kind,
                    team="hotline",
                    languages=("zh", "en"),
                    skills=SKILLS if kind == "agent" else {"general": 5},
                )
                password = secrets.token_urlsafe(12)
                set_password(s, staff, password)
                self.users[role] = (staff, password)
        self.run(self.site.start(), timeout=180)
        for staff, _, _ in USERS.values():
            self.call(self.sim.set_phone, f"PJSIP/{staff}", 1.0)

    def stop(self) -> None:
        try:
            self.run(self.site.stop(), timeout=60)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.engine.dispose()


def _site_settings(tmp_path: Path, prompts_dir: Path) -> Settings:
    shifts = tmp_path / "shifts.yaml"
    shifts.write_text(SHIFTS, encoding="utf-8")
    # The shipped queues with quick wrap-up, so one agent can take several test calls.
    queues = yaml.safe_load((REPO / "config" / "queues.yaml").read_text(encoding="utf-8"))
    queues.setdefault("defaults", {}).update({"wrap_up_seconds": 2, "ring_timeout": 20})
    queues_file = tmp_path / "queues.yaml"
    queues_file.write_text(yaml.safe_dump(queues, allow_unicode=True), encoding="utf-8")
    menus_dir = tmp_path / "menus"
    shutil.copytree(REPO / "menus", menus_dir)
    return Settings.model_validate(
        {
            "node": {"name": "browser-node"},
            "ari": {"password": "replaced-by-the-site", "backoff_initial": 0.05,
                    "backoff_max": 0.5, "ping_interval": 1.0, "ping_timeout": 1.0},
            "database": {"url": f"sqlite:///{tmp_path / 'hotline.sqlite3'}"},
            "paths": {
                "data_dir": str(tmp_path / "var"),
                "prompts_dir": str(prompts_dir),
                "calls_dir": str(tmp_path / "calls"),
                "menus_dir": str(menus_dir),
                "queues_file": str(queues_file),
                "shifts_file": str(shifts),
                "calendar_file": str(REPO / "config" / "calendar.yaml"),
                "tickets_file": str(REPO / "config" / "tickets.yaml"),
            },
            "web": {"secret_key": secrets.token_hex(32), "host": "127.0.0.1"},
            "callbacks": {"quiet_hours": []},
            "scheduler": {"enabled": False},
        }
    )  # fmt: skip


@pytest.fixture(scope="session")
def browser_prompts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One prompts directory for every browser test: espeak-ng runs once per session."""
    return tmp_path_factory.mktemp("browser-prompts")


@pytest.fixture
def browser_site(tmp_path: Path, browser_prompts: Path) -> Iterator[BrowserSite]:
    site = BrowserSite(_site_settings(tmp_path, browser_prompts))
    site.start()
    try:
        yield site
    finally:
        site.stop()


# Function scope, not session: while Playwright's sync API is running it holds an event
# loop on the main thread, and every asyncio test after it would fail to start its own.
@pytest.fixture
def playwright_instance() -> Iterator[Playwright]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: ./bootstrap test installs Debian's chromium")
    with sync_playwright() as p:
        yield p


@pytest.fixture
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, headless=True)
    yield browser
    browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-US")
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[[], Page]]:
    """More pages, each in its own context (its own cookies): an agent and a lead at once."""
    contexts = []

    def make() -> Page:
        context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-US")
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
