"""The demo softphone's JSON API against a whole running site: the ARI simulator, a
controller node running the shipped menus and queues, and the web app, as ``hotline demo``
wires them (``HotlineSite``), the site on an event loop in a background thread like the
demo's, the web requests from this thread like the web server's workers."""

from __future__ import annotations

import asyncio
import os
import secrets
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from agents import seat_store
from hotline.site import HotlineSite, SiteOptions
from hotline.softphone_line import SoftphoneLine
from kernel.clock import utcnow
from kernel.settings import Settings
from simulator.model import PhoneBehaviour
from simulator.server import AriSimulator
from tests.integration.webapp.conftest import SHIFTS, Client, make_agent
from ticketdb import call_log
from ticketdb.engine import make_engine, make_sessionmaker
from ticketdb.migrate import upgrade

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[3]


class RunningSite:
    """A ``HotlineSite`` (demo mode) on a loop of its own thread."""

    def __init__(self, settings: Settings) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.site = HotlineSite(
            settings, SiteOptions(use_configured_calendars=False, web_port=0, demo=True)
        )
        self.engine = make_engine(settings.database.url)
        self.sessions: sessionmaker[Session] = make_sessionmaker(self.engine)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    @property
    def app(self) -> Flask:
        app = self.site.web.app
        assert isinstance(app, Flask)
        return app

    def stop(self) -> None:
        try:
            self.run(self.site.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.engine.dispose()


def _settings(db_url: str, tmp_path: Path, prompts_dir: Path) -> Settings:
    shifts = tmp_path / "shifts.yaml"
    shifts.write_text(SHIFTS, encoding="utf-8")
    return Settings.model_validate(
        {
            "node": {"name": "softphone-node"},
            "ari": {"password": "replaced-by-the-site", "backoff_initial": 0.05,
                    "backoff_max": 0.5, "ping_interval": 1.0, "ping_timeout": 1.0},
            "database": {"url": db_url},
            "paths": {
                "data_dir": str(tmp_path / "var"),
                "prompts_dir": str(prompts_dir),
                "calls_dir": str(tmp_path / "calls"),
                "menus_dir": str(REPO / "menus"),
                "queues_file": str(REPO / "config" / "queues.yaml"),
                "shifts_file": str(shifts),
                "calendar_file": str(REPO / "config" / "calendar.yaml"),
                "tickets_file": str(REPO / "config" / "tickets.yaml"),
            },
            "web": {"secret_key": secrets.token_hex(32)},
            "callbacks": {"quiet_hours": []},
            "scheduler": {"enabled": False},
        }
    )  # fmt: skip


@pytest.fixture
def site(
    db_url: str, tmp_path: Path, prompts_dir: Path, built_prompts: Any
) -> Iterator[RunningSite]:
    upgrade(db_url)
    running = RunningSite(_settings(db_url, tmp_path, prompts_dir))
    make_agent(running.sessions, "8001", skills={"general": 5})
    make_agent(running.sessions, "8002")
    make_agent(running.sessions, "9901", role="admin")
    running.run(running.site.start(), timeout=180)
    try:
        yield running
    finally:
        running.stop()


def poll(
    fetch: Callable[[], T], done: Callable[[T], bool], timeout: float = 20.0, what: str = ""
) -> T:
    """``fetch()`` until ``done`` holds for its result; that result."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {value}")
        time.sleep(0.05)


def status(client: Client, channel_id: str) -> dict[str, Any]:
    answer = client.get(f"/softphone/api/calls/{channel_id}")
    assert answer.status_code == 200, answer.get_json()
    body: dict[str, Any] = answer.get_json()
    return body


def record(site: RunningSite, channel_id: str) -> Any:
    with site.sessions() as s:
        return call_log.get_call(s, "softphone-node", channel_id)


def seat_state(site: RunningSite, staff_number: str) -> str:
    with site.sessions() as s:
        agent = seat_store.agent_by_staff_number(s, staff_number)
        assert agent is not None
        return seat_store.get_seat(s, agent.id).state


def test_a_call_from_the_softphone_hears_the_menu_presses_keys_and_hangs_up(
    site: RunningSite,
) -> None:
    agent = Client(site.app, "8002")
    placed = agent.post("/softphone/api/calls", {"from": "+8613700000003"})
    assert placed.status_code == 201, placed.get_json()
    channel_id = placed.get_json()["channel_id"]
    assert placed.get_json()["number"] == "6000"

    # The hotline answers with the menu's first prompt (the language choice, in the
    # menu's default language, Chinese): "now playing" names its file.
    playing = poll(
        lambda: status(agent, channel_id),
        lambda s: any(h["playing"] for h in s["heard"]),
        what="a prompt playing",
    )
    first = playing["heard"][0]
    assert first["playing"] and not first["cut"]
    assert first["name"].startswith("zh/custom/tts/")
    assert first["file"] == first["name"] + ".wav"
    assert playing["state"] == "up"

    # The page plays the same file.
    wav = agent.get(f"/softphone/audio/{first['file']}")
    assert wav.status_code == 200
    assert wav.mimetype == "audio/wav"
    assert wav.data == (site.site.settings.paths.prompts_dir / first["file"]).read_bytes()
    assert wav.data[:4] == b"RIFF"

    # Pressing 2 picks English and moves on to the main menu, in English (barge-in:
    # whatever still played is cut short).
    heard_before = playing["next"]
    pressed = agent.post(f"/softphone/api/calls/{channel_id}/keys", {"key": "2"})
    assert pressed.status_code == 204
    after = poll(
        lambda: status(agent, channel_id),
        lambda s: any(
            h["index"] >= heard_before and (h["file"] or "").startswith("en/custom/tts/")
            for h in s["heard"]
        ),
        what="the main menu in English",
    )
    assert after["state"] == "up" and not after["ended"]

    hung_up = agent.post(f"/softphone/api/calls/{channel_id}/hangup")
    assert hung_up.status_code == 200
    assert hung_up.get_json()["ended"] and hung_up.get_json()["hangup_by"] == "caller"

    rec = poll(
        lambda: record(site, channel_id),
        lambda r: r is not None and r.is_complete,
        what="the call's complete record",
    )
    assert rec.caller_number == "+8613700000003"
    assert rec.dialled_number == "6000"
    assert rec.hangup_side == "caller"
    keys = [e["key"] for e in rec.menu_path if "key" in e]
    assert keys[:1] == ["2"], rec.menu_path
    assert "main" in [e.get("node") for e in rec.menu_path if e.get("event") == "enter"]


def test_the_call_is_only_its_callers_and_one_at_a_time(site: RunningSite) -> None:
    mine, other = Client(site.app, "8002"), Client(site.app, "9901")
    channel_id = mine.post("/softphone/api/calls", {"from": "+8613700000003"}).get_json()[
        "channel_id"
    ]
    again = mine.post("/softphone/api/calls", {"from": "+8613700000003"})
    assert again.status_code == 409 and again.get_json()["error_id"] == "busy"
    for answer in (
        other.get(f"/softphone/api/calls/{channel_id}"),
        other.post(f"/softphone/api/calls/{channel_id}/keys", {"key": "1"}),
        other.post(f"/softphone/api/calls/{channel_id}/hangup"),
    ):
        assert answer.status_code == 404
    assert not status(mine, channel_id)["ended"]
    bad_key = mine.post(f"/softphone/api/calls/{channel_id}/keys", {"key": "12"})
    assert bad_key.status_code == 400 and bad_key.get_json()["error_id"] == "bad_digit"
    bad_number = other.post("/softphone/api/calls", {"from": "<script>"})
    assert bad_number.status_code == 422
    # Without the CSRF header a call is not placed.
    no_csrf = mine.http.post("/softphone/api/calls", json={"from": "+8613700000003"})
    assert no_csrf.status_code == 400
    anonymous = site.app.test_client()
    assert anonymous.get(f"/softphone/api/calls/{channel_id}").status_code == 401
    assert anonymous.get("/softphone").status_code == 302
    assert mine.post(f"/softphone/api/calls/{channel_id}/hangup").status_code == 200


def test_the_audio_endpoint_serves_only_wav_files_of_the_prompts_directory(
    site: RunningSite, tmp_path: Path
) -> None:
    client = Client(site.app, "8002")
    prompts = site.site.settings.paths.prompts_dir
    greeting = next(prompts.glob("*/custom/greeting.wav")).relative_to(prompts).as_posix()
    assert client.get(f"/softphone/audio/{greeting}").status_code == 200
    secret = tmp_path / "secret.wav"
    secret.write_bytes(b"RIFF-not-yours")
    link = prompts / f"leak-{os.getpid()}-{secrets.token_hex(4)}.wav"
    link.symlink_to(secret)
    try:
        refused = [
            "../secret.wav",
            "%2e%2e/secret.wav",
            "..%2fsecret.wav",
            "en/../../secret.wav",
            f"en/custom/..%2F..%2F..%2F{tmp_path.name}/secret.wav",
            "/etc/passwd",
            "%2Fetc%2Fpasswd",
            link.name,  # inside the directory, but a link out of it
            greeting.removesuffix(".wav") + ".txt",
            "en/custom",
        ]
        for name in refused:
            # ("//etc/passwd" is first redirected to the merged-slashes path.)
            answer = client.http.get(f"/softphone/audio/{name}", follow_redirects=True)
            assert answer.status_code == 404, (name, answer.status_code)
            assert b"RIFF" not in answer.data
    finally:
        link.unlink()
    assert site.app.test_client().get(f"/softphone/audio/{greeting}").status_code == 401


def test_an_agent_answers_their_own_desk_phone_when_the_queue_rings_it(
    site: RunningSite,
) -> None:
    agent, caller = Client(site.app, "8001"), Client(site.app, "8002")
    assert agent.get("/softphone/api/phone").get_json() == {
        "endpoint": "PJSIP/8001",
        "mine": False,
        "calls": [],
    }
    taken = agent.post("/softphone/api/phone", {"mine": True})
    assert taken.status_code == 200 and taken.get_json()["mine"] is True
    with site.sessions() as s:
        found = seat_store.agent_by_staff_number(s, "8001")
        assert found is not None
        seat_store.set_state(s, agent_id=found.id, to_state="available", by="system", now=utcnow())

    channel_id = caller.post("/softphone/api/calls", {"from": "+8613700000003"}).get_json()[
        "channel_id"
    ]
    poll(lambda: status(caller, channel_id), lambda s: bool(s["heard"]), what="the menu")
    assert caller.post(f"/softphone/api/calls/{channel_id}/keys", {"key": "0"}).status_code == 204

    # The queue rings 8001's phone, which waits for the person (no simulated pick-up).
    phone = poll(
        lambda: agent.get("/softphone/api/phone").get_json(),
        lambda p: any(c["state"] == "ringing" for c in p["calls"]),
        what="8001's phone ringing",
    )
    ringing = phone["calls"][0]
    assert ringing["caller_number"] == "+86137****0003"  # agents see numbers masked
    # Nobody else answers another's phone.
    other = caller.post(f"/softphone/api/phone/calls/{ringing['channel_id']}/answer")
    assert other.status_code == 404
    answered = agent.post(f"/softphone/api/phone/calls/{ringing['channel_id']}/answer")
    assert answered.status_code == 204
    connected = poll(
        lambda: status(caller, channel_id),
        lambda s: s["agent"] == "8001",
        what="the caller talking to 8001",
    )
    assert connected["state"] == "up"
    poll(lambda: seat_state(site, "8001"), lambda state: state == "on_call", what="on_call")

    # The agent puts the phone down: the call ends for the caller too.
    assert (
        agent.post(f"/softphone/api/phone/calls/{ringing['channel_id']}/hangup").status_code == 204
    )
    poll(lambda: status(caller, channel_id), lambda s: s["ended"], what="the call ending")
    rec = poll(
        lambda: record(site, channel_id),
        lambda r: r is not None and r.is_complete,
        what="the call's complete record",
    )
    assert rec.agent == "8001"

    # Given back, the phone answers by the simulation's rules again.
    back = agent.post("/softphone/api/phone", {"mine": False})
    assert back.get_json()["mine"] is False
    admin = Client(site.app, "9901")
    assert admin.get("/softphone/api/phone").status_code == 403


def test_the_softphone_is_not_there_outside_the_demo(app: Flask) -> None:
    assert "softphone.page" not in app.view_functions
    assert app.test_client().get("/softphone").status_code == 404
    assert app.test_client().get("/softphone/api/phone").status_code == 404


def test_a_phone_whose_page_went_away_goes_back_to_the_simulation(site: RunningSite) -> None:
    sim, loop = site.site.sim, site.loop
    assert sim is not None
    # Long enough that a busy machine's slow requests still count as the page asking.
    site.app.extensions["hotline.softphone"] = SoftphoneLine(
        sim, loop, "hotline", taken_timeout=3.0
    )
    simulated = PhoneBehaviour(answer_after=1.5, hangup_after=30.0)
    site.run(_set_phone(sim, "PJSIP/8001", simulated))
    agent = Client(site.app, "8001")
    assert agent.post("/softphone/api/phone", {"mine": True}).get_json()["mine"] is True
    # Taken: it rings until the person answers.
    assert sim.engine.phones["PJSIP/8001"].answer_after is None
    # While the page asks, it stays taken; once it stops asking, it goes back.
    for _ in range(4):
        assert agent.get("/softphone/api/phone").get_json()["mine"] is True
        time.sleep(0.2)
    poll(
        lambda: sim.engine.phones.get("PJSIP/8001"),
        lambda phone: phone is simulated,
        what="the simulated phone back",
    )
    assert agent.get("/softphone/api/phone").get_json()["mine"] is False


async def _set_phone(sim: AriSimulator, endpoint: str, phone: PhoneBehaviour) -> None:
    sim.engine.phones[endpoint] = phone
