"""The callback worklist over the JSON API: an agent's list, "call" refused with the reason
in quiet hours or when the seat is not free, queued otherwise; outcomes; the lead's
member coverage report. The app's clock is fixed, so quiet hours do not depend on when
the tests run."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from agents.seat_store import set_state
from tests.integration.webapp.conftest import Client, make_agent
from ticketdb.audit import entries_for
from ticketdb.customers import upsert_customer
from ticketdb.models import Call, CallbackRequest, QueueEntry
from webapp.callbacks import KEY, CallbackResources

# The test app has no calendar file: quiet hours (12:00-13:30, 21:00-08:00) are in UTC.
MORNING = datetime(2026, 11, 9, 10, 0, tzinfo=UTC)
LUNCH = datetime(2026, 11, 9, 12, 15, tzinfo=UTC)


def at(app: Flask, now: datetime) -> None:
    res: CallbackResources = app.extensions[KEY]
    app.extensions[KEY] = dataclasses.replace(res, clock=lambda: now)


def item(sessions: sessionmaker[Session], number: str, agent_id: int | None) -> int:
    with sessions() as s:
        request = CallbackRequest(
            node="",
            channel_id=f"call:{number}",
            number=number,
            requested_at=MORNING - timedelta(hours=2),
            source="member",
            status="open",
            due_at=MORNING + timedelta(days=3),
            assigned_to=agent_id,
        )
        s.add(request)
        s.commit()
        return request.id


def available(sessions: sessionmaker[Session], agent_id: int) -> None:
    with sessions() as s:
        set_state(s, agent_id=agent_id, to_state="available", by="system", now=MORNING)


def test_the_agent_sees_their_list_and_reports_outcomes(
    app: Flask, sessions: sessionmaker[Session]
) -> None:
    me = make_agent(sessions, "8001")
    other = make_agent(sessions, "8002")
    mine = item(sessions, "+8613800000001", me)
    theirs = item(sessions, "+8613800000002", other)
    at(app, MORNING)
    agent = Client(app, "8001")
    answer = agent.get("/api/callbacks/mine")
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["quiet_now"] is False
    assert [i["id"] for i in body["items"]] == [mine]
    assert body["items"][0]["next_dial_at"] == MORNING.isoformat()

    assert agent.post(f"/api/callbacks/{mine}/outcome", {"outcome": "reached"}).status_code == 400
    assert agent.post(f"/api/callbacks/{theirs}/outcome", {"outcome": "x"}).status_code == 403
    assert agent.post("/api/callbacks/999/outcome", {"outcome": "not_reached"}).status_code == 404
    missed = agent.post(f"/api/callbacks/{mine}/outcome", {"outcome": "not_reached"})
    assert missed.status_code == 200, missed.get_json()
    assert missed.get_json()["not_before"] == "2026-11-09T13:30:00+00:00"  # the afternoon
    done = agent.post(
        f"/api/callbacks/{mine}/outcome",
        {"outcome": "reached", "satisfaction": "satisfied", "remarks": "happy"},
    )
    assert done.get_json() == {"id": mine, "status": "completed", "attempts": 2, "not_before": None}
    assert agent.get("/api/callbacks/mine").get_json()["items"] == []
    again = agent.post(f"/api/callbacks/{mine}/outcome", {"outcome": "not_reached"})
    assert again.status_code == 409


def test_call_is_refused_in_quiet_hours_and_when_the_seat_is_not_free(
    app: Flask, sessions: sessionmaker[Session]
) -> None:
    me = make_agent(sessions, "8001")
    mine = item(sessions, "+8613800000001", me)
    agent = Client(app, "8001")

    at(app, MORNING)
    offline = agent.post(f"/api/callbacks/{mine}/dial")
    assert offline.status_code == 409
    assert offline.get_json()["error"] == "your seat is offline: be available to dial"
    available(sessions, me)

    at(app, LUNCH)
    assert agent.get("/api/callbacks/mine").get_json()["quiet_now"] is True
    quiet = agent.post(f"/api/callbacks/{mine}/dial")
    assert quiet.status_code == 409
    assert "quiet hours" in quiet.get_json()["error"]
    assert "dial from 13:30" in quiet.get_json()["error"]
    with sessions() as s:
        assert s.scalars(select(QueueEntry)).all() == []

    at(app, MORNING)
    queued = agent.post(f"/api/callbacks/{mine}/dial")
    assert queued.status_code == 202, queued.get_json()
    with sessions() as s:
        (entry,) = s.scalars(select(QueueEntry)).all()
        assert (entry.channel_id, entry.status, entry.agent_id) == (f"dial:{mine}", "callback", me)
    assert agent.get("/api/callbacks/mine").get_json()["items"][0]["dial"] == "waiting"
    assert agent.post(f"/api/callbacks/{mine}/dial").status_code == 409  # already on its way
    cancelled = agent.http.delete(
        f"/api/callbacks/{mine}/dial", headers={"X-CSRF-Token": agent.csrf}
    )
    assert cancelled.get_json() == {"id": mine, "cancelled": True}
    with sessions() as s:
        assert s.scalars(select(QueueEntry)).all() == []


def test_the_lead_sees_member_coverage_agents_may_not(
    app: Flask, sessions: sessionmaker[Session]
) -> None:
    make_agent(sessions, "9001", role="lead")
    make_agent(sessions, "8001")
    with sessions() as s:
        upsert_customer(s, phone="+8613900000001", name="Member Li", tier="member")
        upsert_customer(s, phone="+8613900000002", name="Member Wu", tier="member")
        for n, number in enumerate(("+8613900000001", "+8613900000002")):
            start = MORNING - timedelta(hours=3 - n)
            s.add(
                Call(
                    id=100 + n,
                    node="n1",
                    channel_id=f"c{n}",
                    caller_number=number,
                    started_at=start,
                    ended_at=start + timedelta(minutes=2),
                    end_reason="completed",
                )
            )
        s.add(
            CallbackRequest(
                node="",
                channel_id="call:100",
                number="+8613900000001",
                requested_at=MORNING,
                source="member",
                status="completed",
                call_id=100,
            )
        )
        s.commit()
    at(app, MORNING + timedelta(hours=1))
    lead = Client(app, "9001")
    answer = lead.get("/api/callbacks/coverage?since=2026-11-09&until=2026-11-09")
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert (body["members"], body["owed"], body["complete"]) == (2, 1, False)
    by_name = {r["name"]: r["status"] for r in body["rows"]}
    assert by_name == {"Member Li": "done", "Member Wu": "owed"}
    with sessions() as s:
        (audit,) = entries_for(s, "report", "callback_coverage")
        assert audit.actor == "9001"
    assert Client(app, "8001").get("/api/callbacks/coverage").status_code == 403
    assert lead.get("/api/callbacks/coverage?since=yesterday").status_code == 400
