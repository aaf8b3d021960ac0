"""The lead's wallboard through Flask's test client, on SQLite and PostgreSQL: who may
open it, the JSON document's shape and figures, the SVG charts, the live stream, and
the lead's actions (force away / log out, override a rule, away requests, acting lead),
each one logged."""

from __future__ import annotations

import json
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from agents import phone_store
from agents.lead_store import raise_alert
from agents.phone_store import PhoneSeen
from agents.seat_store import history, set_state
from kernel.clock import utcnow
from ticketdb.audit import entries_for
from ticketdb.models import Agent, Call, LeadAlert, QueueEntry, SeatState, TicketSla
from webapp.live import watcher

from .conftest import Client, make_agent

INJURY = {
    "kind": "complaint",
    "contact_name": "Li Na",
    "contact_phone": "13900000009",
    "summary": "Child hospitalised after drinking the yoghurt",
    "details": {
        "category": "product_quality",
        "subject": "Yoghurt",
        "reason": "Sour",
        "symptom": "odd smell",
        "injury": True,
    },
}


def staff(sessions: sessionmaker[Session]) -> dict[str, int]:
    ids = {
        "9001": make_agent(sessions, "9001", "lead"),
        "8001": make_agent(sessions, "8001"),
        "8002": make_agent(sessions, "8002"),
        "9901": make_agent(sessions, "9901", "admin"),
    }
    with sessions() as s:
        for number in ("9001", "8001", "8002"):
            set_state(s, agent_id=ids[number], to_state="available", by=number, now=utcnow())
    return ids


def seed_queue(sessions: sessionmaker[Session]) -> None:
    """Operator today: waits 4 s and 20 s answered, one caller gave up; two waiting now."""
    now = utcnow()
    with sessions() as s:
        for n, (wait, reason) in enumerate(
            ((4.0, "answered"), (20.0, "answered"), (9.0, "abandoned"))
        ):
            entered = now - timedelta(minutes=10 - n)
            answered = reason == "answered"
            s.add(
                Call(
                    node="n1",
                    channel_id=f"done-{n}",
                    started_at=entered - timedelta(seconds=30),
                    queue="operator",
                    queue_entered_at=entered,
                    agent_answered_at=entered + timedelta(seconds=wait) if answered else None,
                    ended_at=entered + timedelta(minutes=2),
                    wait_seconds=wait,
                    end_reason=reason,
                )
            )
        for n, ago in enumerate((45, 5)):
            s.add(
                QueueEntry(
                    node="n1",
                    channel_id=f"wait-{n}",
                    queue="operator",
                    arrived_at=now - timedelta(seconds=ago),
                    entered_at=now - timedelta(seconds=ago),
                )
            )
        s.commit()


def put_on_call(sessions: sessionmaker[Session], agent_id: int) -> None:
    with sessions() as s:
        s.execute(
            update(SeatState)
            .where(SeatState.agent_id == agent_id)
            .values(
                state="on_call",
                since=utcnow(),
                claimed_by_node="n1",
                claim_channel="live-1",
                version=SeatState.version + 1,
            )
        )
        s.commit()


def test_only_leads_and_admins_open_the_wallboard(
    app: Flask, sessions: sessionmaker[Session]
) -> None:
    staff(sessions)
    anonymous = app.test_client()
    answer = anonymous.get("/wallboard")
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]
    assert anonymous.get("/api/wallboard").status_code == 401

    agent = Client(app, "8001")
    assert agent.get("/wallboard").status_code == 403
    for path in ("/api/wallboard", "/live/wallboard", "/wallboard/charts/by_kind.svg"):
        refused = agent.get(path)
        assert refused.status_code == 403, path
        assert refused.get_json()["error_id"] == "forbidden"

    for number in ("9001", "9901"):
        page = Client(app, number).get("/wallboard")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert 'id="urgent-complaints"' in html and "wallboard.js" in html
        assert '"wallboard.action.listen": "Listen"' in html  # the script's strings


def test_the_document_shows_queues_agents_staffing_urgent_tickets_and_breaches(
    app: Flask, sessions: sessionmaker[Session]
) -> None:
    ids = staff(sessions)
    seed_queue(sessions)
    put_on_call(sessions, ids["8002"])
    agent, lead = Client(app, "8001"), Client(app, "9001")
    made = agent.post("/api/tickets", INJURY)
    assert made.status_code == 201, made.get_json()
    injury_id = made.get_json()["ticket"]["id"]
    late = agent.post(
        "/api/tickets", {"kind": "inquiry", "contact_phone": "13900000001",
                         "details": {"question": "Price?", "topic": "prices"}},
    )  # fmt: skip
    late_id = late.get_json()["ticket"]["id"]
    with sessions() as s:
        s.add(
            TicketSla(
                ticket_id=late_id,
                target="first_response",
                due_at=utcnow() - timedelta(minutes=30),
                state="breached",
                computed_at=utcnow(),
            )
        )
        s.commit()

    answer = lead.get("/api/wallboard")
    assert answer.status_code == 200, answer.get_json()
    doc = answer.get_json()
    assert set(doc) >= {
        "now", "day", "me", "queues", "agents", "staffing", "alerts", "away_requests",
        "urgent", "sla", "charts", "acting_lead",
    }  # fmt: skip
    operator = next(q for q in doc["queues"] if q["queue"] == "operator")
    assert (operator["waiting"], operator["answered"], operator["abandoned"]) == (2, 2, 1)
    assert operator["threshold_seconds"] == 15
    assert operator["answered_on_time"] == 1
    assert abs(operator["service_level"] - 1 / 2) < 1e-9  # 1 of 2 answered; abandoned apart
    assert operator["asa_seconds"] == 12.0
    assert abs(operator["abandonment_rate"] - 1 / 3) < 1e-9
    assert 44 <= operator["longest_wait_seconds"] < 60

    agents = {a["staff_number"]: a for a in doc["agents"]}
    assert set(agents) == {"9001", "8001", "8002"}  # the admin has no seat
    assert agents["8002"]["state"] == "on_call"
    assert agents["8001"]["state"] == "available" and agents["8001"]["seconds_in_state"] >= 0
    assert doc["staffing"]["hours"] == "open" and doc["staffing"]["on_duty"] == 2
    assert doc["me"] == {"staff_number": "9001", "role": "lead", "may_override": True}

    [urgent] = doc["urgent"]
    assert (urgent["ticket_id"], urgent["injury"], urgent["severity"]) == (
        injury_id,
        True,
        "urgent",
    )
    assert urgent["summary"] == INJURY["summary"]
    assert "contact_phone" not in urgent  # the wallboard shows no customer's number
    [breach] = doc["sla"]
    assert (breach["ticket_id"], breach["state"]) == (late_id, "breached")
    assert breach["overdue_seconds"] >= 30 * 60 - 5

    assert set(doc["charts"]) == {"calls_per_hour", "by_kind", "satisfaction"}
    assert sum(doc["charts"]["calls_per_hour"]["values"]) == 3
    assert len(doc["charts"]["satisfaction"]["values"]) == 14
    # Tickets shown on the wallboard are audited like any other view of them.
    with sessions() as s:
        for ticket_id in (injury_id, late_id):
            entries = [(e.actor, e.action, e.detail) for e in entries_for(s, "ticket", ticket_id)]
            assert ("9001", "view", "wallboard") in entries


def test_charts_are_svg_images(app: Flask, sessions: sessionmaker[Session]) -> None:
    staff(sessions)
    seed_queue(sessions)
    lead = Client(app, "9001")
    doc = lead.get("/api/wallboard").get_json()
    for name, chart in doc["charts"].items():
        answer = lead.get(chart["url"])
        assert answer.status_code == 200, name
        assert answer.mimetype == "image/svg+xml"
        assert "default-src 'none'" in answer.headers["Content-Security-Policy"]
        root = ET.fromstring(answer.get_data(as_text=True))
        assert root.tag.endswith("svg")
    hours = ET.fromstring(lead.get(doc["charts"]["calls_per_hour"]["url"]).get_data(as_text=True))
    values = [
        r.get("data-value")
        for r in hours.iter("{http://www.w3.org/2000/svg}rect")
        if r.get("class") == "bar"
    ]
    assert sum(int(v or 0) for v in values) == 3
    assert lead.get("/wallboard/charts/nope.svg").status_code == 404


def test_force_away_logout_and_a_logged_override(
    app: Flask, sessions: sessionmaker[Session]
) -> None:
    ids = staff(sessions)
    lead = Client(app, "9001")
    forced = lead.post(
        "/api/seats/8001/state", {"state": "away", "reason": "meeting", "note": "forced by 9001"}
    )
    assert forced.status_code == 200, forced.get_json()
    # One seat away at most: sending a second away is refused, and the lead may override.
    refused = lead.post("/api/seats/8002/state", {"state": "away", "reason": "other"})
    assert refused.status_code == 409
    assert refused.get_json()["rule"] == "max_away_at_once" and refused.get_json()["may_override"]
    overridden = lead.post(
        "/api/seats/8002/state",
        {"state": "away", "reason": "other", "override": True, "note": "override by 9001"},
    )
    assert overridden.status_code == 200, overridden.get_json()
    # Normal seats stay until the shift ends: logging one out is an override too.
    out = lead.post("/api/seats/8001/state", {"state": "offline"})
    assert (out.status_code, out.get_json()["rule"]) == (409, "stay_until_shift_end")
    out = lead.post(
        "/api/seats/8001/state", {"state": "offline", "override": True, "note": "override by 9001"}
    )
    assert out.status_code == 200, out.get_json()

    with sessions() as s:
        first = history(s, ids["8001"])
        second = history(s, ids["8002"])
    assert [(c.to_state, c.by) for c in first[-2:]] == [("away", "9001"), ("offline", "9001")]
    assert first[-2].note == "forced by 9001"
    assert "overrode stay_until_shift_end" in (first[-1].note or "")
    note = second[-1].note or ""
    assert second[-1].by == "9001" and "overrode max_away_at_once" in note
    assert note.endswith("override by 9001")
    agents = {a["staff_number"]: a for a in lead.get("/api/wallboard").get_json()["agents"]}
    assert (agents["8001"]["state"], agents["8002"]["state"]) == ("offline", "away")


def test_away_requests_are_approved_or_denied_by_the_lead(
    app: Flask, sessions: sessionmaker[Session]
) -> None:
    ids = staff(sessions)
    first, second, lead = Client(app, "8001"), Client(app, "8002"), Client(app, "9001")
    assert (
        first.post("/api/seats/8001/state", {"state": "away", "reason": "toilet"}).status_code
        == 200
    )
    asked = second.post("/api/seats/8002/state", {"state": "away", "reason": "break"})
    assert asked.status_code == 409  # the agent sees the rule's reason, and the lead the request
    [request] = lead.get("/api/wallboard").get_json()["away_requests"]
    assert (request["staff_number"], request["reason"], request["rule"]) == (
        "8002",
        "break",
        "max_away_at_once",
    )

    url = f"/api/wallboard/away_requests/{request['id']}"
    assert second.post(f"{url}/approve").status_code == 403
    approved = lead.post(f"{url}/approve")
    assert approved.status_code == 200, approved.get_json()
    assert approved.get_json()["state"] == "away"
    with sessions() as s:
        change = history(s, ids["8002"])[-1]
    assert (change.to_state, change.reason, change.by) == ("away", "break", "9001")
    assert (
        change.note is not None
        and f"override by 9001: away request {request['id']} approved" in change.note
    )
    assert lead.get("/api/wallboard").get_json()["away_requests"] == []
    assert lead.post(f"{url}/approve").status_code == 404  # decided already

    # Back, and asking again: this time the lead says no.
    assert second.post("/api/seats/8002/state", {"state": "available"}).status_code == 200
    assert (
        second.post("/api/seats/8002/state", {"state": "away", "reason": "break"}).status_code
        == 409
    )
    [again] = lead.get("/api/wallboard").get_json()["away_requests"]
    denied = lead.post(f"/api/wallboard/away_requests/{again['id']}/deny")
    assert denied.status_code == 200
    assert lead.get("/api/wallboard").get_json()["away_requests"] == []
    with sessions() as s:
        assert history(s, ids["8002"])[-1].to_state == "available"
        row = s.get(LeadAlert, again["id"])
        assert row is not None and row.cleared_at is not None
        assert row.message.endswith("[denied by 9001]")
    # A lead's own refused change is no request: the lead decides there and then.
    assert (
        lead.post("/api/seats/9001/state", {"state": "away", "reason": "break"}).status_code == 409
    )
    assert lead.get("/api/wallboard").get_json()["away_requests"] == []


def test_acting_lead_and_staffing_alerts(app: Flask, sessions: sessionmaker[Session]) -> None:
    ids = staff(sessions)
    lead = Client(app, "9001")
    assert lead.post("/api/acting_lead", {"staff_number": "8001"}).status_code == 200
    doc = lead.get("/api/wallboard").get_json()
    assert doc["acting_lead"] == "8001"
    assert [a["staff_number"] for a in doc["agents"] if a["acting_lead"]] == ["8001"]
    # An away seat past its limit is an alert in the document, and the agent's row says so.
    with sessions() as s:
        set_state(s, agent_id=ids["8002"], to_state="away", by="8002", reason="toilet",
                  now=utcnow() - timedelta(minutes=24, seconds=30))  # fmt: skip
    doc = lead.get("/api/wallboard").get_json()
    [alert] = [a for a in doc["alerts"] if a["kind"] == "overdue_away"]
    assert alert["staff_number"] == "8002" and alert["severity"] == "warning"
    assert next(a for a in doc["agents"] if a["staff_number"] == "8002")["overdue_minutes"] == 15
    # Stored alerts (the controller's, e.g. missed calls) are listed too.
    with sessions() as s:
        missed = "Agent 8001 missed 3 calls"
        s.add(LeadAlert(kind="missed_calls", severity="warning", agent_id=ids["8001"],
                        message=missed, raised_at=utcnow(), node="n1"))  # fmt: skip
        s.commit()
    kinds = [a["kind"] for a in lead.get("/api/wallboard").get_json()["alerts"]]
    assert kinds == ["overdue_away", "missed_calls"]


def events(answer: Any) -> Iterator[tuple[str, str]]:
    """(event, data) pairs from a streamed SSE response."""
    buffer = ""
    for chunk in answer.response:
        buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
            # Keep-alive comments come through too, so a waiting reader can give up.
            yield fields.get("event", ""), fields.get("data", "")


def test_the_live_stream_pushes_a_new_urgent_complaint_within_two_seconds(
    app: Flask, sessions: sessionmaker[Session]
) -> None:
    staff(sessions)
    lead, agent = Client(app, "9001"), Client(app, "8001")
    answer = lead.http.get("/live/wallboard", buffered=False)
    try:
        assert answer.status_code == 200 and answer.mimetype == "text/event-stream"
        stream = events(answer)
        name, data = next(e for e in stream if e[0])
        assert name == "wallboard" and '"urgent":[]' in data
        made = agent.post("/api/tickets", INJURY)
        created = time.monotonic()
        ticket_id = made.get_json()["ticket"]["id"]
        for _name, data in stream:
            if f'"ticket_id":{ticket_id}' in data:
                break
            assert time.monotonic() - created < 2.0, "no update within 2 s"
        assert time.monotonic() - created < 2.0
    finally:
        answer.close()
        with app.app_context():
            watcher().stop()  # before the test's schema goes
    with sessions() as s:
        entries = [(e.actor, e.detail) for e in entries_for(s, "ticket", ticket_id)]
    assert ("9001", "wallboard") in entries


# --- agents' phones -------------------------------------------------------------------

OFFLINE = "not registered (offline)"


def page_strings(html: str) -> dict[str, str]:
    """The strings a page hands its script (``window.HOTLINE_I18N``)."""
    found = re.search(r"window\.HOTLINE_I18N = (\{.*?\});</script>", html)
    assert found, "the page sends its script no strings"
    strings: dict[str, str] = json.loads(found.group(1))
    return strings


def test_the_wallboard_shows_each_agents_phone_with_its_alert(
    app: Flask, sessions: sessionmaker[Session]
) -> None:
    ids = staff(sessions)
    lead = Client(app, "9001")
    with sessions() as s:
        phone_store.record(s, "n1", [
            PhoneSeen(ids["8001"], "PJSIP/8001", False, reason=OFFLINE),
            PhoneSeen(ids["8002"], "PJSIP/8002", True, channels=1),
        ], utcnow())  # fmt: skip
        raise_alert(s, kind="node_down", severity="critical", agent_id=None, node="n2",
                    message="controller n1 stopped: 1 agent(s) held by its calls",
                    now=utcnow())  # fmt: skip

    doc = lead.get("/api/wallboard").get_json()
    agents = {a["staff_number"]: (a["phone"], a["phone_reason"]) for a in doc["agents"]}
    assert agents == {"9001": ("ready", None), "8001": ("offline", OFFLINE), "8002": ("busy", None)}
    # Logged in on shift with a phone nobody can ring: the rules' alert, with the agent.
    alerts = {a["kind"]: a for a in doc["alerts"]}
    assert alerts["phone_offline"]["staff_number"] == "8001"
    assert alerts["phone_offline"]["severity"] == "warning"
    assert alerts["node_down"]["severity"] == "critical"
    assert alerts["node_down"]["staff_number"] is None

    # The page's script gets the phone's words and both alerts' titles, in each language.
    english = page_strings(lead.get("/wallboard").get_data(as_text=True))
    assert english["wallboard.phone.offline"] == "phone offline"
    assert english["wallboard.phone.busy"] == "phone busy"
    assert english["wallboard.alert.phone_offline"] == "Phone offline:"
    assert english["wallboard.alert.node_down"] == "Controller down:"
    with sessions() as s:
        s.execute(update(Agent).where(Agent.id == ids["9001"]).values(ui_language="zh"))
        s.commit()
    chinese = page_strings(lead.get("/wallboard").get_data(as_text=True))
    assert chinese["wallboard.phone.offline"] == "话机离线"
    assert chinese["wallboard.phone.busy"] == "话机占线"
    assert chinese["wallboard.alert.phone_offline"] == "话机离线："
    assert chinese["wallboard.alert.node_down"] == "控制节点停止："


def test_the_live_stream_pushes_a_phone_going_offline_within_two_seconds(
    app: Flask, sessions: sessionmaker[Session]
) -> None:
    ids = staff(sessions)
    lead = Client(app, "9001")
    answer = lead.http.get("/live/wallboard", buffered=False)
    try:
        stream = events(answer)
        name, data = next(e for e in stream if e[0])
        first = {a["staff_number"]: a["phone"] for a in json.loads(data)["agents"]}
        assert name == "wallboard" and first["8001"] == "ready"
        # As a controller writes it when its Asterisk sees the phone unregister.
        with sessions() as s:
            offline = PhoneSeen(ids["8001"], "PJSIP/8001", False, reason=OFFLINE)
            phone_store.record(s, "n1", [offline], utcnow())
        written = time.monotonic()
        for name, data in stream:
            if name == "wallboard":
                agent = next(a for a in json.loads(data)["agents"] if a["staff_number"] == "8001")
                if agent["phone"] == "offline":
                    assert agent["phone_reason"] == OFFLINE
                    break
            assert time.monotonic() - written < 2.0, "no update within 2 s"
        assert time.monotonic() - written < 2.0
    finally:
        answer.close()
        with app.app_context():
            watcher().stop()  # before the test's schema goes
