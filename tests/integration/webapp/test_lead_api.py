"""The lead's view over the JSON API: queue figures with Erlang C, alerts, handover notes."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from agents import lead_store
from kernel.clock import utcnow
from tests.integration.webapp.conftest import Client, make_agent
from ticketdb.models import Call


def test_lead_sees_queues_with_the_staffing_estimate(
    app: Flask, sessions: sessionmaker[Session]
) -> None:
    make_agent(sessions, "9001", role="lead")
    make_agent(sessions, "8001")
    now = utcnow()
    with sessions() as s:
        for n in range(6):  # six answered calls in the last hour, 3 minutes each
            start = now - timedelta(minutes=50 - n * 5)
            s.add(
                Call(
                    node="n1",
                    channel_id=f"c{n}",
                    started_at=start,
                    queue="operator",
                    queue_entered_at=start,
                    agent_answered_at=start + timedelta(seconds=10),
                    ended_at=start + timedelta(minutes=3),
                    end_reason="completed",
                    wait_seconds=10.0,
                )
            )
        s.commit()
    lead = Client(app, "9001")
    answer = lead.get("/api/queues")
    assert answer.status_code == 200, answer.get_json()
    by_name = {q["queue"]: q for q in answer.get_json()["queues"]}
    operator = by_name["operator"]
    assert operator["answered"] == 6
    assert operator["service_level"] == 1.0
    assert operator["agents_needed"] is not None and operator["agents_needed"] >= 1
    assert Client(app, "8001").get("/api/queues").status_code == 403
    assert lead.get("/api/queues?window=0").status_code == 400


def test_alerts_and_handover_notes(app: Flask, sessions: sessionmaker[Session]) -> None:
    make_agent(sessions, "9001", role="lead")
    make_agent(sessions, "8001")
    with sessions() as s:
        lead_store.raise_alert(
            s,
            kind="missed_calls",
            severity="warning",
            message="Agent 8001 missed 3 calls",
            agent_id=None,
            node="n1",
            now=utcnow(),
        )
    lead = Client(app, "9001")
    alerts = lead.get("/api/alerts").get_json()["alerts"]
    assert [a["kind"] for a in alerts] == ["missed_calls"]
    created = lead.post("/api/handover", {"team": "hotline", "text": "Call back Mr Li at 3"})
    assert created.status_code == 201, created.get_json()
    note = created.get_json()
    assert note["author"] == "9001"
    assert note["summary"]["alerts"][0]["kind"] == "missed_calls"
    listed = lead.get("/api/handover?team=hotline").get_json()["notes"]
    assert [n["text"] for n in listed] == ["Call back Mr Li at 3"]
    assert lead.post("/api/handover", {"team": "hotline", "text": " "}).status_code == 400
    agent = Client(app, "8001")
    assert agent.get("/api/alerts").status_code == 403
    assert agent.post("/api/handover", {"team": "hotline", "text": "x"}).status_code == 403
