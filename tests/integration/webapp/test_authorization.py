"""The authorization matrix in one place: what an agent may not reach (leads' and admins'
pages and actions, other agents' tickets, recordings) answers 403, a change without its
CSRF token answers 400, ticket text is escaped wherever it is shown, and SQL-looking
search input is only ever data."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from tests.integration.webapp.conftest import Client, make_agent
from ticketdb.models import Recording
from tickets.store import create_ticket

HTML = {"Accept": "text/html"}
XSS = '<img src=x onerror="alert(1)"><script>alert(2)</script>'


@pytest.fixture
def people(app: Flask, sessions: sessionmaker[Session]) -> dict[str, Client]:
    make_agent(sessions, "8001")
    make_agent(sessions, "8002")
    make_agent(sessions, "9001", "lead")
    make_agent(sessions, "9901", "admin")
    return {staff: Client(app, staff) for staff in ("8001", "8002", "9001", "9901")}


def other_agents_ticket(sessions: sessionmaker[Session], summary: str = "Broadband") -> int:
    with sessions() as s:
        ticket = create_ticket(
            s,
            kind="inquiry",
            details={"question": "Prices?", "topic": "prices"},
            created_by="8002",
            now=datetime.now(UTC),
            contact_phone="13812345678",
            summary=summary,
        )
        return ticket.id


# Pages and JSON endpoints only leads (and admins) may use, and admin-only ones.
LEAD_ONLY_GET = [
    "/wallboard",
    "/api/wallboard",
    "/wallboard/charts/hourly.svg",
    "/live/wallboard",
    "/reports",
    "/reports/queues.csv",
    "/api/alerts",
    "/api/sla",
]
ADMIN_ONLY_GET = ["/admin", "/admin/agents", "/admin/queues", "/admin/menus", "/admin/shifts"]


def test_an_agent_gets_403_on_every_lead_and_admin_page(people: dict[str, Client]) -> None:
    agent = people["8001"]
    for path in LEAD_ONLY_GET + ADMIN_ONLY_GET:
        assert agent.http.get(path, headers=HTML).status_code == 403, path
    lead = people["9001"]
    for path in ADMIN_ONLY_GET:
        assert lead.http.get(path, headers=HTML).status_code == 403, path
    for path in ["/wallboard", "/reports", "/api/wallboard"]:
        assert lead.http.get(path, headers=HTML).status_code == 200, path


def test_an_agent_cannot_act_as_a_lead_or_admin(people: dict[str, Client]) -> None:
    agent = people["8001"]
    assert agent.post("/api/listen", {"staff_number": "8002"}).status_code == 403
    assert agent.post("/api/seats/8002/state", {"state": "away"}).status_code == 403
    assert agent.post("/api/acting_lead", {"staff_number": "8001"}).status_code == 403
    token = agent.csrf
    made = agent.http.post(
        "/admin/users",
        data={"staff_number": "7777", "name": "X", "role": "admin", "csrf_token": token},
        headers=HTML,
    )
    assert made.status_code == 403


def test_an_agent_cannot_see_another_agents_ticket_or_a_recording(
    people: dict[str, Client], sessions: sessionmaker[Session]
) -> None:
    ticket_id = other_agents_ticket(sessions)
    with sessions() as s:
        rec = Recording(name="call-1", started_at=datetime.now(UTC), status="done")
        s.add(rec)
        s.commit()
        recording_id = rec.id
    agent, owner, lead = people["8001"], people["8002"], people["9001"]
    assert agent.get(f"/api/tickets/{ticket_id}").status_code == 403
    assert owner.get(f"/api/tickets/{ticket_id}").status_code == 200
    assert lead.get(f"/api/tickets/{ticket_id}").status_code == 200
    assert agent.get(f"/api/recordings/{recording_id}").status_code == 403
    assert agent.get(f"/api/recordings/{recording_id}/audio").status_code == 403


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/seats/8001/state", {"state": "available"}),
        ("/api/tickets", {"kind": "inquiry"}),
        ("/api/agent/handover", {"text": "x"}),
        ("/api/logout", None),
    ],
)
def test_a_change_without_its_csrf_token_is_400(
    people: dict[str, Client], path: str, body: object
) -> None:
    answer = people["8001"].http.post(path, json=body)
    assert answer.status_code == 400, path
    assert answer.get_json()["error_id"] == "csrf_missing"


def test_ticket_text_is_escaped_on_the_pages(
    people: dict[str, Client], sessions: sessionmaker[Session]
) -> None:
    other_agents_ticket(sessions, summary=XSS)
    for staff, path in [("9001", "/wallboard"), ("9001", "/api/wallboard"), ("8002", "/agent")]:
        text = people[staff].http.get(path, headers=HTML).get_data(as_text=True)
        assert "<script>alert(2)" not in text and '<img src=x onerror="alert(1)">' not in text
    # JSON carries the text as data; the pages put it in with textContent (browser tests).
    mine = people["8002"].get("/api/agent/tickets").get_json()
    assert XSS in str(mine)


def test_sql_looking_search_input_is_only_data(
    people: dict[str, Client], sessions: sessionmaker[Session]
) -> None:
    other_agents_ticket(sessions)
    lead = people["9001"]
    for needle in ["' OR '1'='1", "1; DROP TABLE tickets; --", "%' --", "\\", "%", "_"]:
        for param in ("text", "name", "number"):
            answer = lead.http.get("/api/tickets", query_string={param: needle})
            body = answer.get_json()
            if param == "number" and answer.status_code == 400:
                # Not a phone number: refused cleanly, saying so.
                assert body["error_id"] == "bad_request" and "number" in body["error"]
                continue
            assert answer.status_code == 200, (param, needle)
            assert body["tickets"] == [], (param, needle)
    # The table is still there and still found by an honest search.
    found = lead.http.get("/api/tickets", query_string={"text": "Broadband"})
    assert len(found.get_json()["tickets"]) == 1
