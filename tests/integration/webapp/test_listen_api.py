"""``POST /api/listen``: who may ask to listen in on a call, when, and what it leaves
behind (a ``call_controls`` row for the node that runs the call, an audit entry)."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from agents import offers, seat_store
from tests.integration.webapp.conftest import Client, make_agent
from ticketdb.audit import entries_for
from ticketdb.models import AuditEntry, CallControl


def on_a_call(sessions: sessionmaker[Session], staff: str, channel: str) -> None:
    """The agent's seat as a controller node leaves it when they answer a call."""
    now = datetime.now(UTC)
    with sessions() as s:
        agent = seat_store.agent_by_staff_number(s, staff)
        assert agent is not None
        agent_id = agent.id
        seat_store.set_state(s, agent_id=agent_id, to_state="available", by=staff, now=now)
        assert offers.ring(s, agent_id=agent_id, node="node-a", channel_id=channel, now=now)
        offers.answered(s, agent_id=agent_id, node="node-a", now=now)


def test_a_lead_asks_to_listen_to_an_agent_on_a_call(
    app: Flask, sessions: sessionmaker[Session]
) -> None:
    make_agent(sessions, "8001")
    make_agent(sessions, "9001", role="lead")
    lead = Client(app, "9001")
    # Not on a call: nothing to listen to, and nothing is asked of any node.
    idle = lead.post("/api/listen", {"staff_number": "8001"})
    assert idle.status_code == 409 and idle.get_json()["error_id"] == "not_on_call"

    on_a_call(sessions, "8001", "1700000000.7")
    answer = lead.post("/api/listen", {"staff_number": "8001"})
    assert answer.status_code == 202, answer.get_json()
    control_id = answer.get_json()["control_id"]
    with sessions() as s:
        row = s.get(CallControl, control_id)
        assert row is not None
        assert (row.node, row.channel_id, row.action, row.status, row.requested_by) == (
            "node-a",
            "1700000000.7",
            "listen",
            "pending",
            "9001",
        )
        assert row.args == {"endpoint": "PJSIP/9001", "lead": "9001"}
        (audit,) = entries_for(s, "call", "node-a/1700000000.7")  # no record yet: its key
        assert (audit.actor, audit.role, audit.action) == ("9001", "lead", "listen")
    # The lead follows the request on the call controls' own status endpoint.
    status = lead.get(f"/api/calls/control/{control_id}")
    assert status.status_code == 200
    assert status.get_json() == {
        "id": control_id,
        "action": "listen",
        "status": "pending",
        "result": None,
    }


def test_only_leads_and_admins_may_listen(app: Flask, sessions: sessionmaker[Session]) -> None:
    make_agent(sessions, "8001")
    make_agent(sessions, "8002")
    make_agent(sessions, "9901", role="admin")
    on_a_call(sessions, "8001", "1700000000.8")
    colleague = Client(app, "8002")
    refused = colleague.post("/api/listen", {"staff_number": "8001"})
    assert refused.status_code == 403
    admin = Client(app, "9901")
    assert admin.post("/api/listen", {"staff_number": "8001"}).status_code == 202
    with sessions() as s:
        rows = s.scalars(select(CallControl)).all()
        assert [r.requested_by for r in rows] == ["9901"]  # the agent's request made none
        actors = [
            a.actor for a in s.scalars(select(AuditEntry).where(AuditEntry.action == "listen"))
        ]
        assert actors == ["9901"]


def test_bad_listen_requests(app: Flask, sessions: sessionmaker[Session]) -> None:
    make_agent(sessions, "9001", role="lead")
    make_agent(sessions, "8001")
    lead = Client(app, "9001")
    assert lead.post("/api/listen", {"staff_number": "7777"}).status_code == 404
    assert lead.post("/api/listen", {}).status_code == 400
    assert lead.post("/api/listen", {"staff_number": 8001}).status_code == 400
    assert lead.post("/api/listen", {"staff_number": "8001", "x": 1}).status_code == 400
    on_a_call(sessions, "9001", "1700000000.9")  # a lead taking calls themselves
    assert lead.post("/api/listen", {"staff_number": "9001"}).status_code == 400
    # CSRF applies as to every change.
    no_token = lead.http.post("/api/listen", json={"staff_number": "8001"})
    assert no_token.status_code == 400
    with sessions() as s:
        assert s.scalars(select(CallControl)).all() == []
