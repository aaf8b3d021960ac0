"""Call recordings over the JSON API: only the allowed roles hear them, every access is
in the audit log, a refusal too."""

from __future__ import annotations

import secrets
import wave
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from simulator.media import write_wav
from tests.integration.webapp.conftest import Client, make_agent, settings_for
from ticketdb.audit import entries_for
from ticketdb.migrate import upgrade
from ticketdb.models import Call, Recording
from webapp import close_app, create_app
from webapp.db import resources

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
RELATIVE = "2026/11/02/1762077600.7.wav"


@pytest.fixture
def calls_dir(tmp_path: Path) -> Path:
    return tmp_path / "calls"


def make_app(db_url: str, tmp_path: Path, calls_dir: Path, **web: object) -> Flask:
    base = settings_for(db_url, tmp_path, secrets.token_hex(32))
    data = base.model_dump()
    data["paths"]["calls_dir"] = str(calls_dir)
    data["web"].update(web)
    app = create_app(base.model_validate(data))
    app.config["TESTING"] = True
    return app


@pytest.fixture
def app(db_url: str, tmp_path: Path, calls_dir: Path) -> Iterator[Flask]:
    upgrade(db_url)
    app = make_app(db_url, tmp_path, calls_dir)
    yield app
    close_app(app)


def stored_recording(sessions: sessionmaker[Session], calls_dir: Path, **row: object) -> int:
    """A recorded call: its row, and a 1.5 s WAV under the calls directory."""
    size = write_wav(calls_dir / RELATIVE, 1.5)
    name = str(row.get("name", "call-1762077600.7"))
    with sessions() as s:
        call = Call(node="n1", channel_id=name[5:], started_at=T0, recording_path=RELATIVE)
        s.add(call)
        s.flush()
        values: dict[str, object] = {
            "call_id": call.id,
            "name": name,
            "path": RELATIVE,
            "size_bytes": size,
            "duration_seconds": 1.5,
            "started_at": T0,
            "finished_at": T0,
            "status": "stored",
            **row,
        }
        rec = Recording(**values)
        s.add(rec)
        s.commit()
        return rec.id


def audit(sessions: sessionmaker[Session], recording_id: int) -> list[tuple[str, str, str]]:
    with sessions() as s:
        return [(e.actor, e.role, e.action) for e in entries_for(s, "recording", recording_id)]


def test_an_agent_is_refused_and_the_refusal_is_audited(
    app: Flask, calls_dir: Path, db_url: str
) -> None:
    sessions = resources(app).sessions
    make_agent(sessions, "8001")
    rid = stored_recording(sessions, calls_dir)
    agent = Client(app, "8001")
    audio = agent.get(f"/api/recordings/{rid}/audio")
    assert audio.status_code == 403
    assert audio.mimetype == "application/json" and "lead" in audio.get_json()["error"]
    assert agent.get(f"/api/recordings/{rid}").status_code == 403
    assert audit(sessions, rid) == [("8001", "agent", "refused"), ("8001", "agent", "refused")]
    # Refused before looking: an unknown recording answers the same to someone not allowed.
    assert agent.get("/api/recordings/99999/audio").status_code == 403


def test_a_lead_hears_the_wav_and_the_playback_is_audited(app: Flask, calls_dir: Path) -> None:
    sessions = resources(app).sessions
    make_agent(sessions, "9001", role="lead")
    rid = stored_recording(sessions, calls_dir)
    lead = Client(app, "9001")
    details = lead.get(f"/api/recordings/{rid}")
    assert details.status_code == 200
    body = details.get_json()
    assert (body["status"], body["path"], body["duration_seconds"]) == ("stored", RELATIVE, 1.5)
    assert body["audio"] == f"/api/recordings/{rid}/audio"
    audio = lead.get(f"/api/recordings/{rid}/audio")
    assert audio.status_code == 200
    assert audio.mimetype == "audio/wav"
    assert audio.data == (calls_dir / RELATIVE).read_bytes()
    assert audio.data[:4] == b"RIFF" and len(audio.data) == body["size_bytes"]
    assert audit(sessions, rid) == [("9001", "lead", "view"), ("9001", "lead", "play")]


def test_roles_come_from_the_setting(db_url: str, tmp_path: Path, calls_dir: Path) -> None:
    upgrade(db_url)
    app = make_app(db_url, tmp_path, calls_dir, recording_roles=["admin"])
    try:
        sessions = resources(app).sessions
        make_agent(sessions, "9001", role="lead")
        make_agent(sessions, "9900", role="admin")
        rid = stored_recording(sessions, calls_dir)
        assert Client(app, "9001").get(f"/api/recordings/{rid}/audio").status_code == 403
        assert Client(app, "9900").get(f"/api/recordings/{rid}/audio").status_code == 200
        assert [a for _, _, a in audit(sessions, rid)] == ["refused", "play"]
    finally:
        close_app(app)


def test_no_audio_for_a_failed_missing_or_escaping_recording(app: Flask, calls_dir: Path) -> None:
    sessions = resources(app).sessions
    make_agent(sessions, "9001", role="lead")
    lead = Client(app, "9001")
    failed = stored_recording(
        sessions, calls_dir, name="call-a", path=None, status="failed", error="disk full"
    )
    assert lead.get(f"/api/recordings/{failed}").get_json()["error"] == "disk full"
    assert lead.get(f"/api/recordings/{failed}/audio").status_code == 404
    escaping = stored_recording(sessions, calls_dir, name="call-b", path="../../etc/passwd")
    assert lead.get(f"/api/recordings/{escaping}/audio").status_code == 404
    (calls_dir / RELATIVE).unlink()
    gone = stored_recording(sessions, calls_dir, name="call-c")
    (calls_dir / RELATIVE).unlink()
    assert lead.get(f"/api/recordings/{gone}/audio").status_code == 404
    assert lead.get("/api/recordings/99999").status_code == 404
    # Nothing was played, so no playback is in the log.
    for rid in (failed, escaping, gone):
        assert "play" not in [a for _, _, a in audit(sessions, rid)]


def test_not_logged_in_is_401(app: Flask, calls_dir: Path) -> None:
    rid = stored_recording(resources(app).sessions, calls_dir)
    assert app.test_client().get(f"/api/recordings/{rid}/audio").status_code == 401


def test_the_served_wav_is_the_stored_one(app: Flask, calls_dir: Path) -> None:
    sessions = resources(app).sessions
    make_agent(sessions, "9001", role="lead")
    rid = stored_recording(sessions, calls_dir)
    audio = Client(app, "9001").get(f"/api/recordings/{rid}/audio")
    with wave.open(str(calls_dir / RELATIVE)) as w:
        frames = w.getnframes()
    assert frames == 12000 and len(audio.data) == 44 + 2 * frames
