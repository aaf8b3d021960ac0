"""In-app notices over the JSON API: each staff member sees what is addressed to their role
or staff number (urgent first), and marks them read."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from kernel.clock import utcnow
from tests.integration.webapp.conftest import Client, make_agent
from ticketdb.models import Notification, Ticket
from tickets.config import load_rules
from tickets.escalation_store import escalate

SHIPPED = Path(__file__).resolve().parents[3] / "config" / "tickets.yaml"


def complaint(sessions: sessionmaker[Session], category: str, **details: object) -> int:
    now = utcnow()
    with sessions() as s:
        ticket = Ticket(
            kind="complaint",
            category=category,
            details=dict(details),
            contact_name="Sun Li",
            contact_phone="13600136000",
            created_by="8001",
            created_at=now,
            updated_at=now,
        )
        s.add(ticket)
        s.commit()
        escalate(s, ticket, load_rules(SHIPPED), now)
        return ticket.id


def personal(sessions: sessionmaker[Session], staff_number: str) -> int:
    with sessions() as s:
        n = Notification(
            rule="manual",
            channel="inapp",
            recipient=staff_number,
            subject=f"For {staff_number} only",
            body="...",
            created_at=utcnow() + timedelta(seconds=1),
        )
        s.add(n)
        s.commit()
        return n.id


def test_a_lead_sees_the_notice_urgent_first_and_marks_it_read(
    app: Flask, sessions: sessionmaker[Session]
) -> None:
    make_agent(sessions, "9001", role="lead")
    make_agent(sessions, "8001")
    service = complaint(sessions, "service_quality", problem="late_delivery")
    injury = complaint(sessions, "product_quality", injury=True)
    mine = personal(sessions, "9001")
    lead = Client(app, "9001")

    answer = lead.get("/api/notifications")
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    listed = [(n["ticket_id"], n["rule"], n["urgent"]) for n in body["notifications"]]
    # Urgent ones first (both rules of the injury ticket), then newest first.
    assert sorted(listed[:2]) == [(injury, "injury", True), (injury, "product_quality", True)]
    assert listed[2:] == [(None, "manual", False), (service, "service_quality", False)]
    assert body["unread"] == 4
    first = body["notifications"][0]
    assert first["subject"].startswith(f"URGENT: Ticket #{injury}")
    assert "Sun Li" in first["body"] and first["read"] is False

    read = lead.post(f"/api/notifications/{first['id']}/read")
    assert read.status_code == 200, read.get_json()
    assert read.get_json()["read"] is True and read.get_json()["read_at"] is not None
    unread = lead.get("/api/notifications?unread=1").get_json()
    assert first["id"] not in [n["id"] for n in unread["notifications"]]
    assert unread["unread"] == 3
    assert mine in [n["id"] for n in unread["notifications"]]


def test_an_agent_does_not_see_the_leads_notices(
    app: Flask, sessions: sessionmaker[Session]
) -> None:
    make_agent(sessions, "9001", role="lead")
    make_agent(sessions, "8001")
    make_agent(sessions, "8002")
    complaint(sessions, "product_quality", injury=True)
    for_lead = personal(sessions, "9001")
    for_8002 = personal(sessions, "8002")
    agent = Client(app, "8001")
    body = agent.get("/api/notifications").get_json()
    assert body == {"notifications": [], "unread": 0}
    # Someone else's notice cannot be marked (nor told apart from one that doesn't exist).
    assert agent.post(f"/api/notifications/{for_lead}/read").status_code == 404
    assert agent.post("/api/notifications/999999/read").status_code == 404
    other = Client(app, "8002")
    assert [n["id"] for n in other.get("/api/notifications").get_json()["notifications"]] == [
        for_8002
    ]


def test_login_csrf_and_bad_input(app: Flask, sessions: sessionmaker[Session]) -> None:
    make_agent(sessions, "9001", role="lead")
    nid = personal(sessions, "9001")
    assert app.test_client().get("/api/notifications").status_code == 401
    lead = Client(app, "9001")
    # A change without the CSRF header is refused (400: the request lacks it).
    assert lead.http.post(f"/api/notifications/{nid}/read").status_code == 400
    assert lead.get("/api/notifications?limit=0").status_code == 400
    assert lead.get("/api/notifications?limit=x").status_code == 400
    assert lead.get("/api/notifications").get_json()["unread"] == 1
