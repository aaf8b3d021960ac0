"""The tickets API through Flask's test client, on SQLite and PostgreSQL: create by hand
and from a call, roles (an agent sees only their own tickets), the audit log, CSRF,
field validation, versions and the workflow."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from kernel.clock import utcnow
from ticketdb.audit import entries_for
from ticketdb.customers import upsert_customer
from ticketdb.models import Call, Notification, Recording
from tickets.store import assign, get_ticket, history

from .conftest import Client, make_agent

ORDER = {
    "kind": "order",
    "contact_name": "Wang Fang",
    "contact_phone": "138-0000-0001",
    "address": "1 Zhongguancun St",
    "summary": "weekly milk",
    "details": {
        "product": "Fresh milk 1L",
        "quantity": 3,
        "unit_price": "12.50",
        "channel": "retail",
        "area": "Haidian",
    },
}


def patch(client: Client, path: str, body: Any) -> Any:
    return client.http.patch(path, json=body, headers={"X-CSRF-Token": client.csrf})


def people(app: Flask, sessions: sessionmaker[Session]) -> tuple[Client, Client, Client]:
    make_agent(sessions, "8001")
    make_agent(sessions, "8002")
    make_agent(sessions, "9001", "lead")
    return Client(app, "8001"), Client(app, "8002"), Client(app, "9001")


def new_order(client: Client, **extra: Any) -> dict[str, Any]:
    answer = client.post("/api/tickets", {**ORDER, **extra})
    assert answer.status_code == 201, answer.get_json()
    ticket: dict[str, Any] = answer.get_json()["ticket"]
    return ticket


def test_create_and_read_back_with_history(app: Flask, sessions: sessionmaker[Session]) -> None:
    agent, _, _ = people(app, sessions)
    ticket = new_order(agent)
    assert {k: ticket[k] for k in ("kind", "status", "severity", "created_by", "version")} == {
        "kind": "order",
        "status": "new",
        "severity": "normal",
        "created_by": "8001",
        "version": 0,
    }
    assert ticket["contact_phone"] == "13800000001"
    assert ticket["details"]["unit_price"] == "12.50"
    assert ticket["allowed_next"] == ["assigned", "in_progress", "resolved", "rejected",
                                      "out_of_area"]  # fmt: skip

    shown = agent.get(f"/api/tickets/{ticket['id']}")
    assert shown.status_code == 200
    body = shown.get_json()
    assert body["ticket"] == ticket
    (created,) = body["history"]
    assert (created["actor"], created["action"]) == ("8001", "created")
    assert created["changes"]["product"] == [None, "Fresh milk 1L"]


def test_validation_errors_name_the_fields(app: Flask, sessions: sessionmaker[Session]) -> None:
    agent, _, _ = people(app, sessions)
    bad = {**ORDER, "details": {**ORDER["details"], "quantity": 0, "channel": "post"}}
    answer = agent.post("/api/tickets", bad)
    assert answer.status_code == 400
    body = answer.get_json()
    assert body["errors"] == {
        "quantity": "must be greater than 0",
        "channel": "must be one of retail, home_delivery",
    }
    assert body["error"].startswith("invalid ticket: quantity: must be greater than 0")

    answer = agent.post("/api/tickets", {**ORDER, "contact_phone": "", "colour": "red"})
    assert answer.status_code == 400 and answer.get_json()["errors"] == {"colour": "unknown field"}
    answer = agent.post("/api/tickets", {**ORDER, "contact_phone": ""})
    assert answer.get_json()["errors"] == {"contact_phone": "required for an order"}
    answer = agent.post("/api/tickets", {**ORDER, "note": 5, "summary": ["x"]})
    assert answer.get_json()["errors"] == {"summary": "must be text", "note": "must be text"}
    answer = agent.post("/api/tickets", {**ORDER, "summary": ["x"]})
    assert answer.get_json()["errors"] == {"summary": "must be text"}
    answer = agent.post("/api/tickets", {"details": []})
    assert answer.status_code == 400 and set(answer.get_json()["errors"]) == {"kind", "details"}
    assert agent.get("/api/tickets").get_json()["tickets"] == []


def test_agents_see_only_their_tickets_leads_all(
    app: Flask, sessions: sessionmaker[Session]
) -> None:
    agent, other, lead = people(app, sessions)
    mine = new_order(agent)["id"]
    theirs = new_order(other, contact_phone="13900000002")["id"]

    refused = other.get(f"/api/tickets/{mine}")
    assert refused.status_code == 403
    assert "created or are assigned" in refused.get_json()["error"]
    assert patch(other, f"/api/tickets/{mine}", {"version": 0, "summary": "x"}).status_code == 403
    assert other.post(f"/api/tickets/{mine}/status", {"status": "resolved"}).status_code == 403
    assert lead.get(f"/api/tickets/{mine}").status_code == 200
    assert agent.get("/api/tickets/999").status_code == 404

    def ids(client: Client, query: str = "") -> list[int]:
        answer = client.get(f"/api/tickets{query}")
        assert answer.status_code == 200, answer.get_json()
        return [t["id"] for t in answer.get_json()["tickets"]]

    assert ids(agent) == [mine]
    assert ids(other) == [theirs]
    assert ids(lead) == [theirs, mine]
    assert ids(lead, "?number=139") == [theirs]
    assert ids(lead, "?text=MILK&kind=order&status=new") == [theirs, mine]
    assert ids(agent, "?text=%25") == []  # "%" is matched literally

    # Assigned to another agent: now they see it too.
    with sessions() as s:
        assign(s, mine, "8002", by="9001", now=utcnow())
    assert other.get(f"/api/tickets/{mine}").status_code == 200
    assert ids(other) == [theirs, mine]

    with sessions() as s:
        entries = [(e.actor, e.action, e.detail) for e in entries_for(s, "ticket", mine)]
        searches = entries_for(s, "ticket", "*")
    assert entries == [
        ("8002", "refused", "view: neither created by nor assigned to them"),
        ("8002", "refused", "change: neither created by nor assigned to them"),
        ("8002", "refused", "status: neither created by nor assigned to them"),
        ("9001", "view", None),
        ("8002", "view", None),
    ]
    assert [(e.actor, e.action, e.detail) for e in searches][:4] == [
        ("8001", "search", f"(no filter); found: {mine}"),
        ("8002", "search", f"(no filter); found: {theirs}"),
        ("9001", "search", f"(no filter); found: {theirs},{mine}"),
        ("9001", "search", f"number=139; found: {theirs}"),
    ]


def test_search_parameters_are_checked(app: Flask, sessions: sessionmaker[Session]) -> None:
    _, _, lead = people(app, sessions)
    answer = lead.get("/api/tickets?from=yesterday&limit=many&kind=parcel")
    assert answer.status_code == 400
    assert answer.get_json()["errors"] == {
        "from": "must be a date YYYY-MM-DD",
        "limit": "must be a whole number",
    }
    answer = lead.get("/api/tickets?kind=parcel")
    assert answer.status_code == 400 and set(answer.get_json()["errors"]) == {"kind"}
    answer = lead.get("/api/tickets?colour=red")
    assert answer.status_code == 400 and answer.get_json()["errors"] == {"colour": "unknown field"}
    assert lead.get("/api/tickets?from=2024-05-01&to=2024-05-31").get_json()["tickets"] == []


def test_csrf_token_required(app: Flask, sessions: sessionmaker[Session]) -> None:
    agent, _, _ = people(app, sessions)
    missing = agent.http.post("/api/tickets", json=ORDER)
    # Missing: 400 (a malformed request); present but wrong: 403.
    assert missing.status_code == 400 and "X-CSRF-Token" in missing.get_json()["error"]
    assert missing.get_json()["error_id"] == "csrf_missing"
    ticket = new_order(agent)
    url = f"/api/tickets/{ticket['id']}"
    wrong = agent.http.patch(
        url, json={"version": 0, "summary": "x"}, headers={"X-CSRF-Token": "x"}
    )
    assert wrong.status_code == 403
    no_token = agent.http.post(f"{url}/status", json={"status": "resolved"})
    assert no_token.status_code == 400
    assert agent.get(url).get_json()["ticket"] == ticket
    # Not logged in at all: 401.
    assert app.test_client().get("/api/tickets").status_code == 401
    assert app.test_client().post("/api/tickets", json=ORDER).status_code == 401


def test_patch_with_versions(app: Flask, sessions: sessionmaker[Session]) -> None:
    agent, _, _ = people(app, sessions)
    url = f"/api/tickets/{new_order(agent)['id']}"

    missing = patch(agent, url, {"quantity": 4})
    assert missing.status_code == 400 and set(missing.get_json()["errors"]) == {"version"}
    changed = patch(agent, url, {"version": 0, "quantity": 4, "summary": "two weeks"})
    assert changed.status_code == 200
    ticket = changed.get_json()["ticket"]
    assert (ticket["version"], ticket["details"]["quantity"], ticket["summary"]) == (
        1,
        4,
        "two weeks",
    )
    stale = patch(agent, url, {"version": 0, "quantity": 5})
    assert stale.status_code == 409 and "reload" in stale.get_json()["error"]
    invalid = patch(agent, url, {"version": 1, "quantity": "many", "status": "closed"})
    assert invalid.status_code == 400
    assert invalid.get_json()["errors"] == {
        "status": "cannot be changed here",
        "quantity": "must be a whole number",
    }

    history = agent.get(url).get_json()["history"]
    assert [(h["action"], h["actor"]) for h in history] == [("created", "8001"), ("fields", "8001")]
    assert history[1]["changes"] == {"quantity": [3, 4], "summary": ["weekly milk", "two weeks"]}


def test_status_moves_along_the_workflow(app: Flask, sessions: sessionmaker[Session]) -> None:
    agent, _, _ = people(app, sessions)
    ticket_id = new_order(agent)["id"]
    url = f"/api/tickets/{ticket_id}/status"

    moved = agent.post(url, {"status": "out_of_area", "note": "Suzhou", "version": 0})
    assert moved.status_code == 200
    ticket = moved.get_json()["ticket"]
    assert ticket["status"] == "out_of_area" and ticket["resolved_at"] is not None
    assert ticket["allowed_next"] == ["callback_done", "closed"]
    refused = agent.post(url, {"status": "in_progress"})
    assert refused.status_code == 409
    body = refused.get_json()
    assert "from out_of_area to in_progress" in body["error"]
    assert body["allowed"] == ["callback_done", "closed"]
    assert agent.post(url, {"status": "closed", "version": 0}).status_code == 409  # stale
    assert agent.post(url, {}).get_json()["errors"] == {"status": "required"}
    with sessions() as s:
        events = history(s, ticket_id)
    assert [(e.action, e.changes, e.note) for e in events[1:]] == [
        ("status", {"status": ["new", "out_of_area"]}, "Suzhou")
    ]


def test_ticket_from_a_call(app: Flask, sessions: sessionmaker[Session]) -> None:
    agent, other, lead = people(app, sessions)
    with sessions() as s:
        upsert_customer(s, phone="13900000009", name="Li Na", tier="vip", address="8 Chaoyang Rd")
        call = Call(
            node="n1", channel_id="c-1", caller_number="13900000009", started_at=utcnow(),
            menu_path=["5", "1"], queue="complaints", agent="8001",
        )  # fmt: skip
        s.add(call)
        s.commit()
        call_id = call.id
    complaint = {
        "kind": "complaint",
        "details": {
            "category": "product_quality",
            "subject": "Yoghurt",
            "reason": "Sour",
            "symptom": "odd smell",
            "injury": True,
        },
    }
    url = f"/api/calls/{call_id}/ticket"
    refused = other.post(url, complaint)
    assert refused.status_code == 403
    with sessions() as s:
        (entry,) = entries_for(s, "call", call_id)
        assert (entry.actor, entry.action) == ("8002", "refused")

    made = agent.post(url, complaint)
    assert made.status_code == 201, made.get_json()
    ticket = made.get_json()["ticket"]
    assert {k: ticket[k] for k in ("contact_name", "contact_phone", "address", "queue",
                                   "menu_path", "call_id", "created_by", "category")} == {
        "contact_name": "Li Na",
        "contact_phone": "13900000009",
        "address": "8 Chaoyang Rd",
        "queue": "complaints",
        "menu_path": ["5", "1"],
        "call_id": call_id,
        "created_by": "8001",
        "category": "product_quality",
    }  # fmt: skip
    # The shipped rules escalate at once: the injury makes it urgent, the departments told.
    assert ticket["severity"] == "urgent"
    with sessions() as s:
        told = {n.rule for n in s.scalars(select(Notification))}
    assert told == {"product_quality", "injury"}
    # The call's recording is linked from the ticket.
    with sessions() as s:
        s.add(
            Recording(
                call_id=call_id, name="call-c-1", path="2026/01/01/c-1.wav", status="stored",
                duration_seconds=42.0, started_at=utcnow(),
            )
        )  # fmt: skip
        s.commit()
    shown = agent.get(f"/api/tickets/{ticket['id']}").get_json()
    assert [(r["status"], r["duration_seconds"]) for r in shown["recordings"]] == [("stored", 42.0)]
    assert shown["recordings"][0]["audio"].startswith("/api/recordings/")
    # A lead may open one from any call; the body's fields override the call's.
    by_lead = lead.post(url, {**complaint, "address": "Hospital ward 3"})
    assert by_lead.status_code == 201
    with sessions() as s:
        stored = get_ticket(s, by_lead.get_json()["ticket"]["id"])
        assert (stored.created_by, stored.address) == ("9001", "Hospital ward 3")
    assert agent.post("/api/calls/999/ticket", complaint).status_code == 404
    bad = agent.post(url, {"kind": "complaint", "details": {"category": "food"}})
    assert bad.status_code == 400 and set(bad.get_json()["errors"]) == {"category"}
