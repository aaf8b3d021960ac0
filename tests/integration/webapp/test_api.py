"""The agents' web API through Flask's test client, on SQLite and PostgreSQL: login, roles,
CSRF, seat changes under the shift rules with a lead's override, wrap-up, the acting
lead and call control requests."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from agents import phone_store
from agents.phone_store import PhoneSeen
from agents.seat_store import SYSTEM, claim_available, get_seat, history, set_state
from kernel.clock import utcnow
from kernel.settings import SettingsError
from ticketdb.models import CallControl
from webapp import close_app, create_app
from webapp.db import resources

from .conftest import PASSWORD, Client, make_agent, settings_for

NODE = "node-a"
CHANNEL = "chan-1"


def on_call(sessions: sessionmaker[Session], agent_id: int, channel: str = CHANNEL) -> None:
    """Log the seat in and put a call on it, as the queue engine of NODE would."""
    now = utcnow()
    with sessions() as s:
        set_state(s, agent_id=agent_id, to_state="available", by=SYSTEM, now=now)
        assert claim_available(s, agent_id=agent_id, node=NODE, channel_id=channel, now=now)
        set_state(s, agent_id=agent_id, to_state="ringing", by=SYSTEM, node=NODE, now=now)
        set_state(s, agent_id=agent_id, to_state="on_call", by=SYSTEM, node=NODE, now=now)


def state_of(sessions: sessionmaker[Session], agent_id: int) -> str:
    with sessions() as s:
        return get_seat(s, agent_id).state


# --- login --------------------------------------------------------------------------


def test_login_me_and_logout(app: Flask, sessions: sessionmaker[Session]) -> None:
    make_agent(sessions, "8001", "lead")
    http = app.test_client()
    answer = http.post("/api/login", json={"staff_number": "8001", "password": PASSWORD})
    assert answer.status_code == 200
    body = answer.get_json()
    assert {k: body[k] for k in ("staff_number", "name", "role")} == {
        "staff_number": "8001",
        "name": "Agent 8001",
        "role": "lead",
    }
    assert len(body["csrf_token"]) >= 32
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie

    me = http.get("/api/me")
    assert me.status_code == 200 and me.get_json() == body
    out = http.post("/api/logout", headers={"X-CSRF-Token": body["csrf_token"]})
    assert out.status_code == 200
    gone = http.get("/api/me")
    assert gone.status_code == 401
    assert gone.get_json() == {"error": "not logged in", "error_id": "not_logged_in"}


def test_login_refusals(app: Flask, sessions: sessionmaker[Session]) -> None:
    make_agent(sessions, "8001")
    make_agent(sessions, "8002", password=None)
    make_agent(sessions, "8003", active=False)
    http = app.test_client()

    def login(staff: object, password: object) -> tuple[int, object]:
        answer = http.post("/api/login", json={"staff_number": staff, "password": password})
        return answer.status_code, answer.get_json()

    wrong = login("8001", "not the password")
    assert wrong[0] == 401
    # Unknown staff number and an account without a password: the same answer.
    assert login("9999", PASSWORD) == wrong
    assert login("8002", PASSWORD) == wrong
    assert login("8003", PASSWORD) == (
        403,
        {"error": "this account is disabled", "error_id": "forbidden"},
    )
    assert login("8001", None)[0] == 400
    not_json = http.post("/api/login", data="staff_number=8001", content_type="text/plain")
    assert not_json.status_code == 400 and "JSON" in not_json.get_json()["error"]
    assert http.get("/api/me").status_code == 401


def test_a_deactivated_agent_is_logged_out(app: Flask, sessions: sessionmaker[Session]) -> None:
    make_agent(sessions, "8001")
    agent = Client(app, "8001")
    assert agent.get("/api/me").status_code == 200
    make_agent(sessions, "8001", active=False)
    assert agent.get("/api/me").status_code == 401


def test_csrf_token_required(app: Flask, sessions: sessionmaker[Session]) -> None:
    a = make_agent(sessions, "8001")
    agent = Client(app, "8001")
    url = "/api/seats/8001/state"
    missing = agent.http.post(url, json={"state": "available"})
    # Missing: 400 (a malformed request); present but wrong: 403.
    assert missing.status_code == 400 and "X-CSRF-Token" in missing.get_json()["error"]
    assert missing.get_json()["error_id"] == "csrf_missing"
    wrong = agent.http.post(url, json={"state": "available"}, headers={"X-CSRF-Token": "x"})
    assert wrong.status_code == 403
    assert state_of(sessions, a) == "offline"
    ok = agent.post(url, {"state": "available"})
    assert ok.status_code == 200 and ok.get_json()["seat"]["state"] == "available"
    # Not logged in at all: 401, not a CSRF complaint.
    assert app.test_client().post(url, json={"state": "offline"}).status_code == 401


# --- seats --------------------------------------------------------------------------


def test_agents_see_and_change_only_their_own_seat(
    app: Flask, sessions: sessionmaker[Session]
) -> None:
    make_agent(sessions, "8001", "lead")
    make_agent(sessions, "8002", skills={"mobile": 3})
    b = make_agent(sessions, "8003")
    agent, lead = Client(app, "8002"), Client(app, "8001")

    own = agent.get("/api/seats").get_json()["seats"]
    assert [s["staff_number"] for s in own] == ["8002"]
    assert own[0] | {"since": None} == {
        "staff_number": "8002",
        "name": "Agent 8002",
        "role": "agent",
        "team": "hotline",
        "active": True,
        "state": "offline",
        "since": None,
        "reason": None,
        "wrap_up_until": None,
        "skills": {"mobile": 3},
        "acting_lead": False,
        "phone": "ready",  # no controller has said anything against it
        "phone_reason": None,
    }
    everyone = lead.get("/api/seats").get_json()["seats"]
    assert [s["staff_number"] for s in everyone] == ["8001", "8002", "8003"]

    refused = agent.post("/api/seats/8003/state", {"state": "available"})
    assert refused.status_code == 403
    assert agent.post("/api/seats/9999/state", {"state": "available"}).status_code == 403
    assert state_of(sessions, b) == "offline"
    assert agent.get("/api/seats/8003/history").status_code == 403
    assert lead.post("/api/seats/9999/state", {"state": "available"}).status_code == 404
    assert lead.post("/api/seats/8003/state", {"state": "available"}).status_code == 200
    assert lead.get("/api/seats/8003/history").get_json()["changes"][0]["by"] == "8001"


def test_seats_show_each_agents_phone(app: Flask, sessions: sessionmaker[Session]) -> None:
    """The phone as the controllers' Asterisks see it, beside the seat: offline with the
    reason, busy, or ready; in the list, the agent's own seat and a seat change's answer."""
    make_agent(sessions, "8001", "lead")
    offline = make_agent(sessions, "8002")
    busy = make_agent(sessions, "8003")
    refused = "Could not create dialog: Is endpoint registered and reachable?"
    with sessions() as s:
        phone_store.record(s, NODE, [
            PhoneSeen(offline, "PJSIP/8002", False, reason=refused),
            PhoneSeen(busy, "PJSIP/8003", True, channels=1),
        ], utcnow())  # fmt: skip
    lead, agent = Client(app, "8001"), Client(app, "8002")

    everyone = lead.get("/api/seats").get_json()["seats"]
    assert [(r["staff_number"], r["phone"], r["phone_reason"]) for r in everyone] == [
        ("8001", "ready", None),
        ("8002", "offline", refused),
        ("8003", "busy", None),
    ]
    [own] = agent.get("/api/seats").get_json()["seats"]
    assert (own["phone"], own["phone_reason"]) == ("offline", refused)
    changed = agent.post("/api/seats/8002/state", {"state": "available"})
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["seat"]["phone"] == "offline"


def test_bad_state_changes(app: Flask, sessions: sessionmaker[Session]) -> None:
    make_agent(sessions, "8001")
    agent = Client(app, "8001")
    url = "/api/seats/8001/state"
    assert agent.post(url, {"state": "on_call"}).status_code == 400
    assert agent.post(url, {"state": "available", "colour": "red"}).status_code == 400
    assert agent.post(url, {"state": "available", "override": "yes"}).status_code == 400
    assert agent.post(url, {"state": "available"}).status_code == 200
    no_reason = agent.post(url, {"state": "away"})
    assert no_reason.status_code == 409 and "needs a reason" in no_reason.get_json()["error"]
    leave = agent.post(url, {"state": "on_leave"})
    assert leave.status_code == 409 and "only a lead" in leave.get_json()["error"]


def test_away_rule_and_a_leads_override(app: Flask, sessions: sessionmaker[Session]) -> None:
    make_agent(sessions, "8001", "lead")
    make_agent(sessions, "8002")
    b = make_agent(sessions, "8003")
    lead, first, second = Client(app, "8001"), Client(app, "8002"), Client(app, "8003")
    for who, staff in ((first, "8002"), (second, "8003")):
        assert who.post(f"/api/seats/{staff}/state", {"state": "available"}).status_code == 200

    away = first.post("/api/seats/8002/state", {"state": "away", "reason": "break"})
    assert away.status_code == 200, away.get_json()
    assert away.get_json()["seat"]["reason"] == "break"
    assert away.get_json()["override"] is None

    url = "/api/seats/8003/state"
    refused = second.post(url, {"state": "away", "reason": "toilet"})
    assert refused.status_code == 409
    body = refused.get_json()
    assert body["rule"] == "max_away_at_once" and body["overridable"] is True
    assert body["may_override"] is False
    assert "Agent 8002 is already away" in body["error"]
    # An agent cannot override for themself.
    assert (
        second.post(url, {"state": "away", "reason": "toilet", "override": True}).status_code == 409
    )
    # The lead is refused too unless they ask to override.
    by_lead = lead.post(url, {"state": "away", "reason": "toilet"})
    assert by_lead.status_code == 409 and by_lead.get_json()["may_override"] is True
    assert state_of(sessions, b) == "available"

    overridden = lead.post(
        url, {"state": "away", "reason": "toilet", "override": True, "note": "urgent"}
    )
    assert overridden.status_code == 200, overridden.get_json()
    line = overridden.get_json()["override"]
    assert "overrode max_away_at_once" in line and "away (toilet)" in line
    assert overridden.get_json()["seat"]["state"] == "away"
    changes = lead.get("/api/seats/8003/history").get_json()["changes"]
    assert changes[-1]["by"] == "8001" and changes[-1]["to_state"] == "away"
    assert changes[-1]["note"] == f"{line}; urgent"
    with sessions() as s:
        assert history(s, b)[-1].note == f"{line}; urgent"


# --- wrap-up ------------------------------------------------------------------------


def test_wrap_up_end_and_extend(app: Flask, sessions: sessionmaker[Session]) -> None:
    a = make_agent(sessions, "8001")
    agent = Client(app, "8001")
    url = "/api/seats/8001/wrap_up"
    assert agent.post(url, {"action": "end"}).status_code == 409  # not in wrap-up

    on_call(sessions, a)
    end = utcnow() + timedelta(seconds=30)
    with sessions() as s:
        set_state(
            s,
            agent_id=a,
            to_state="wrap_up",
            by=SYSTEM,
            node=NODE,
            now=utcnow(),
            wrap_up_until=end,
        )
    for bad in (
        {"action": "extend"},
        {"action": "extend", "seconds": 0},
        {"action": "extend", "seconds": 601},
        {"action": "extend", "seconds": True},
        {"action": "extend", "seconds": "60"},
        {"action": "pause"},
        {"action": "end", "seconds": 5},
    ):
        assert agent.post(url, bad).status_code == 400, bad

    extended = agent.post(url, {"action": "extend", "seconds": 60})
    assert extended.status_code == 200, extended.get_json()
    seat = extended.get_json()["seat"]
    assert seat["state"] == "wrap_up"
    assert datetime.fromisoformat(seat["wrap_up_until"]) == end + timedelta(seconds=60)

    ended = agent.post(url, {"action": "end"})
    assert ended.status_code == 200
    assert ended.get_json()["seat"]["state"] == "available"
    assert ended.get_json()["seat"]["wrap_up_until"] is None
    with sessions() as s:
        assert [(c.from_state, c.to_state, c.by) for c in history(s, a)[-2:]] == [
            ("wrap_up", "wrap_up", "8001"),
            ("wrap_up", "available", "8001"),
        ]


# --- acting lead --------------------------------------------------------------------


def test_acting_lead(app: Flask, sessions: sessionmaker[Session]) -> None:
    make_agent(sessions, "8001", "lead")
    make_agent(sessions, "8002")
    lead, agent = Client(app, "8001"), Client(app, "8002")
    assert agent.post("/api/acting_lead", {"staff_number": "8002"}).status_code == 403
    assert lead.post("/api/acting_lead", {"staff_number": "8001"}).status_code == 400
    assert lead.post("/api/acting_lead", {"staff_number": "9999"}).status_code == 404
    assert lead.post("/api/acting_lead", {}).status_code == 400

    chosen = lead.post("/api/acting_lead", {"staff_number": "8002"})
    assert chosen.status_code == 200 and chosen.get_json() == {"acting_lead": "8002"}
    seats = {s["staff_number"]: s for s in lead.get("/api/seats").get_json()["seats"]}
    assert seats["8002"]["acting_lead"] is True and seats["8001"]["acting_lead"] is False

    cleared = lead.post("/api/acting_lead", {"staff_number": None})
    assert cleared.get_json() == {"acting_lead": None}
    assert agent.get("/api/seats").get_json()["seats"][0]["acting_lead"] is False


# --- call control -------------------------------------------------------------------


def test_call_control_requests(app: Flask, sessions: sessionmaker[Session]) -> None:
    make_agent(sessions, "8001", "lead")
    a = make_agent(sessions, "8002")
    make_agent(sessions, "8003")
    lead, agent, other = Client(app, "8001"), Client(app, "8002"), Client(app, "8003")

    none = agent.post("/api/calls/control", {"action": "hold"})
    assert none.status_code == 404 and none.get_json() == {
        "error": "no call",
        "error_id": "not_found",
    }

    on_call(sessions, a)
    held = agent.post("/api/calls/control", {"action": "hold"})
    assert held.status_code == 202
    hold_id = held.get_json()["id"]
    transfer = agent.post(
        "/api/calls/control",
        {"action": "transfer", "args": {"to": "number", "target": "+86 138-0000-0001"}},
    )
    assert transfer.status_code == 202
    by_lead = lead.post(
        "/api/calls/control",
        {"action": "consult", "args": {"to": "agent", "target": "8003"}, "staff_number": "8002"},
    )
    assert by_lead.status_code == 202
    with sessions() as s:
        rows = s.scalars(select(CallControl).order_by(CallControl.id)).all()
        found = [(r.node, r.channel_id, r.action, r.args, r.requested_by, r.status) for r in rows]
        assert found == [
            (NODE, CHANNEL, "hold", {}, "8002", "pending"),
            (
                NODE,
                CHANNEL,
                "transfer",
                {"to": "number", "target": "+8613800000001"},
                "8002",
                "pending",
            ),
            (NODE, CHANNEL, "consult", {"to": "agent", "target": "8003"}, "8001", "pending"),
        ]

    bad = [
        {"action": "park"},
        {"action": "hold", "args": {"to": "queue"}},
        {"action": "transfer"},
        {"action": "transfer", "args": {"to": "moon", "target": "x"}},
        {"action": "transfer", "args": {"to": "queue", "target": ""}},
        {"action": "transfer", "args": {"to": "queue", "target": "no spaces"}},
        {"action": "transfer", "args": {"to": "number", "target": "call me"}},
        {"action": "transfer", "args": {"to": "agent", "target": "8002"}},  # the call's own
        {"action": "transfer", "args": {"to": "queue", "target": "sales", "when": "now"}},
        {"action": "consult_complete", "extra": 1},
    ]
    for body in bad:
        answer = agent.post("/api/calls/control", body)
        assert answer.status_code == 400, body
        assert answer.get_json()["error"]
    unknown = agent.post(
        "/api/calls/control", {"action": "transfer", "args": {"to": "agent", "target": "9999"}}
    )
    assert unknown.status_code == 404
    # An agent cannot act on another agent's call.
    assert (
        other.post("/api/calls/control", {"action": "hold", "staff_number": "8002"}).status_code
        == 403
    )

    status = agent.get(f"/api/calls/control/{hold_id}")
    assert status.status_code == 200
    assert status.get_json() == {
        "id": hold_id,
        "action": "hold",
        "status": "pending",
        "result": None,
    }
    assert lead.get(f"/api/calls/control/{hold_id}").status_code == 200
    assert other.get(f"/api/calls/control/{hold_id}").status_code == 403
    assert agent.get("/api/calls/control/999999").status_code == 404


# --- the app ------------------------------------------------------------------------


def test_secret_key_required(sqlite_url: str, tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"web\.secret_key"):
        create_app(settings_for(sqlite_url, tmp_path))
    app = create_app(settings_for(sqlite_url, tmp_path), test_config={"SECRET_KEY": "t" * 32})
    try:
        assert app.secret_key == "t" * 32
        assert resources(app).shifts is not None  # the shifts file was loaded
    finally:
        close_app(app)


def test_errors_are_json(app: Flask, sessions: sessionmaker[Session]) -> None:
    http = app.test_client()
    missing = http.get("/api/nothing-here")
    assert missing.status_code == 404 and missing.is_json and missing.get_json()["error"]
    wrong_method = http.get("/api/login")
    assert wrong_method.status_code == 405 and wrong_method.is_json
    assert http.get("/api/seats").status_code == 401
