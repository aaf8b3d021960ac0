"""The agent desk over the Flask test client: who may open it, what it renders, the live
stream's screen pop (masked number, menu path, history, audited), and the page's own
lists (my tickets, my callbacks, handover notes) with numbers masked by role."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from agents import phone_store
from agents.phone_store import PhoneSeen
from agents.seats import AWAY_REASONS
from callbacks import worklist
from tests.integration.webapp.conftest import Client, make_agent
from ticketdb.audit import entries_for
from ticketdb.customers import upsert_customer
from ticketdb.models import (
    CUSTOMER_TIERS,
    SEAT_STATES,
    TICKET_KINDS,
    TICKET_SEVERITIES,
    TICKET_STATUSES,
    Agent,
    AuditEntry,
    Call,
    CallbackRequest,
    SeatState,
    Ticket,
)
from tickets.store import create_ticket
from webapp import i18n
from webapp.agent_forms import form_keys, ticket_forms
from webapp.live import watcher

NUMBER = "13812345678"
MASKED = "138****5678"
T0 = datetime.now(UTC) - timedelta(minutes=5)
MENU = [
    {"t": "x", "event": "enter", "node": "main"},
    {"t": "x", "event": "key", "node": "main", "key": "2"},
    {"t": "x", "event": "enter", "node": "complaint"},
    {"t": "x", "event": "key", "node": "complaint", "key": "1"},
    {"t": "x", "event": "exit", "node": "complaint", "to": "queue", "queue": "quality"},
]


@pytest.fixture(autouse=True)
def _stop_watcher(app: Flask) -> Iterator[None]:
    yield
    with app.app_context():
        watcher().stop()


def ringing_call(sessions: sessionmaker[Session], agent_id: int, state: str = "ringing") -> int:
    """A caller with a past call and ticket, now at the agent's seat."""
    with sessions() as s:
        upsert_customer(s, phone=NUMBER, name="Wang Fang", tier="member")
        s.add(
            Call(node="n1", channel_id="past", caller_number=NUMBER,
                 started_at=T0 - timedelta(days=2), queue="orders", agent="8002",
                 end_reason="answered")
        )  # fmt: skip
        call = Call(node="n1", channel_id="ch-now", caller_number=NUMBER, started_at=T0,
                    menu_path=MENU, queue="quality")  # fmt: skip
        s.add(call)
        s.commit()
        create_ticket(
            s, kind="inquiry", details={"question": "price of yoghurt?", "topic": "prices"},
            created_by="8002", now=T0 - timedelta(days=2), contact_phone=NUMBER,
            summary="asked about yoghurt",
        )  # fmt: skip
        s.execute(
            update(SeatState)
            .where(SeatState.agent_id == agent_id)
            .values(state=state, since=T0, claimed_by_node="n1", claim_channel="ch-now",
                    version=SeatState.version + 1)
        )  # fmt: skip
        s.commit()
        return call.id


def read_events(client: Client, names: set[str], limit: int = 64 * 1024) -> dict[str, Any]:
    """The first event of each name in ``names`` from /live/agent (at most ``limit``
    bytes read, so a stream that never sends them fails instead of hanging)."""
    response = client.http.get("/live/agent", buffered=False)
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    found: dict[str, Any] = {}
    text, read = "", 0
    try:
        for chunk in response.response:
            piece = chunk.decode() if isinstance(chunk, bytes) else chunk
            read += len(piece)
            text += piece
            while "\n\n" in text:
                block, text = text.split("\n\n", 1)
                fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
                if "event" in fields and fields["event"] not in found:
                    found[fields["event"]] = json.loads(fields["data"])
            if names <= set(found) or read > limit or ": keep-alive" in piece:
                break
    finally:
        response.close()
    return found


# --- the page --------------------------------------------------------------------------


def test_the_desk_needs_a_login_and_a_desk_role(
    app: Flask, sessions: sessionmaker[Session]
) -> None:
    anonymous = app.test_client().get("/agent")
    assert anonymous.status_code == 302
    assert anonymous.headers["Location"].startswith("/login?next=/agent")
    assert app.test_client().get("/live/agent").status_code == 401
    assert app.test_client().get("/api/agent/tickets").status_code == 401

    make_agent(sessions, "9901", role="admin")
    admin = Client(app, "9901")
    assert admin.get("/agent").status_code == 403
    assert admin.get("/live/agent").status_code == 403
    assert admin.get("/api/agent/callbacks").status_code == 403


def test_the_desk_renders_for_an_agent(app: Flask, sessions: sessionmaker[Session]) -> None:
    make_agent(sessions, "8001")
    page = Client(app, "8001").get("/agent")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for element in ('id="status-available"', 'id="status-away"', 'id="status-offline"',
                    'id="away-reason"', 'id="status-error"', 'id="pop"', 'id="ticket-form"',
                    'id="ticket-rows"', 'id="callback-rows"', 'id="handover-notes"',
                    "agent.js"):  # fmt: skip
        assert element in html, element
    assert '<option value="toilet">' in html
    # The page's script gets its strings and the form descriptions.
    assert '"agent.status.refused"' in html
    assert '"complaint:product_quality"' in html
    # Quiet hours are shown (the settings' defaults).
    assert "12:00-13:30" in html


def test_the_desk_is_in_chinese_for_a_chinese_user(
    app: Flask, sessions: sessionmaker[Session]
) -> None:
    agent_id = make_agent(sessions, "8001")
    with sessions() as s:
        s.execute(update(Agent).where(Agent.id == agent_id).values(ui_language="zh"))
        s.commit()
    html = Client(app, "8001").get("/agent").get_data(as_text=True)
    assert "我的状态" in html and "保存工单" in html


# --- the agent's phone ------------------------------------------------------------------

REFUSED = "Could not create dialog: Is endpoint registered and reachable?"


def phone_warning(html: str) -> tuple[str, bool, str]:
    """The desk's phone warning as rendered: (data-phone, hidden, text)."""
    found = re.search(r'<p class="banner [a-z]+" id="phone-warning"([^>]*)>(.*?)</p>', html, re.S)
    assert found, "no phone warning on the desk"
    attrs, text = found.groups()
    state = re.search(r'data-phone="([a-z]+)"', attrs)
    assert state
    return state.group(1), " hidden" in attrs, text.strip()


def test_the_desk_warns_when_my_phone_is_offline_or_busy(
    app: Flask, sessions: sessionmaker[Session]
) -> None:
    me = make_agent(sessions, "8001")
    other = make_agent(sessions, "8002")
    client = Client(app, "8001")
    assert phone_warning(client.get("/agent").get_data(as_text=True)) == ("ready", True, "")

    with sessions() as s:
        phone_store.record(s, "n1", [PhoneSeen(me, "PJSIP/8001", False, reason=REFUSED)],
                      datetime.now(UTC))  # fmt: skip
    html = client.get("/agent").get_data(as_text=True)
    assert phone_warning(html) == (
        "offline", False, f"Your phone is offline: {REFUSED} — calls cannot reach you",
    )  # fmt: skip
    # The stream's seat event carries it, so the page updates it live.
    seat = read_events(client, {"seat"})["seat"]
    assert (seat["phone"], seat["phone_reason"]) == ("offline", REFUSED)
    assert '"agent.phone.busy": "Your phone is busy"' in html  # for the script

    # Another agent's phone is not mine; my own phone busy is.
    with sessions() as s:
        phone_store.record(s, "n1", [PhoneSeen(other, "PJSIP/8002", False, reason="gone"),
                                PhoneSeen(me, "PJSIP/8001", True, channels=1)],
                      datetime.now(UTC))  # fmt: skip
        s.execute(update(Agent).where(Agent.id == me).values(ui_language="zh"))
        s.commit()
    seat = read_events(client, {"seat"})["seat"]
    assert (seat["phone"], seat["phone_reason"]) == ("busy", None)
    assert phone_warning(client.get("/agent").get_data(as_text=True)) == (
        "busy", False, "您的话机占线",
    )  # fmt: skip
    with sessions() as s:
        phone_store.record(s, "n1", [PhoneSeen(me, "PJSIP/8001", False, reason="x<b>y</b>")],
                      datetime.now(UTC))  # fmt: skip
    assert phone_warning(client.get("/agent").get_data(as_text=True)) == (
        "offline", False, "您的话机离线：x&lt;b&gt;y&lt;/b&gt; — 来电无法接通到您",
    )  # fmt: skip


# --- the ticket forms --------------------------------------------------------------------


def test_every_form_field_and_choice_has_a_label_in_both_languages() -> None:
    forms = ticket_forms(("retail", "home_delivery"))
    catalog = i18n.catalog()
    assert set(forms["forms"]) == set(form_keys())
    for key, fields in forms["forms"].items():
        assert fields, key
        for field in [*fields, *forms["common"]]:
            assert f"agent.field.{field['name']}" in catalog, (key, field["name"])
            for option in field.get("options", ()):
                assert f"agent.option.{option}" in catalog, (key, option)
    for kind in forms["kinds"]:
        assert f"agent.kind.{kind}" in catalog
    for category in forms["categories"]:
        assert f"agent.category.{category}" in catalog


def test_every_value_the_page_labels_has_a_label() -> None:
    # agent.js labels these by prefix + value (hotline.t keys built at runtime).
    catalog = i18n.catalog()
    labelled = {
        "agent.state.": SEAT_STATES,
        "agent.reason.": AWAY_REASONS,
        "agent.tier.": CUSTOMER_TIERS,
        "agent.kind.": TICKET_KINDS,
        "agent.severity.": TICKET_SEVERITIES,
        "agent.ticket_status.": TICKET_STATUSES,
        "agent.satisfaction.": worklist.SATISFACTION,
        "agent.source.": (*worklist.GENERATED_SOURCES, "ivr", "queue"),
        "agent.callback_status.": (worklist.OPEN, worklist.COMPLETED, worklist.UNREACHABLE),
        "agent.dial.": ("waiting", "dialing"),
    }
    missing = [p + v for p, values in labelled.items() for v in values if p + v not in catalog]
    assert not missing


def test_the_forms_follow_the_kind_models() -> None:
    forms = ticket_forms(("retail", "depot"))["forms"]
    product = {f["name"]: f for f in forms["complaint:product_quality"]}
    assert product["injury"]["widget"] == "checkbox"
    assert product["symptom"] == {"name": "symptom", "required": True, "widget": "textarea",
                                  "max_length": 2000}  # fmt: skip
    assert product["production_date"]["widget"] == "date"
    assert product["well_founded"]["widget"] == "tristate"
    assert product["complaint_type"]["options"] == ["valid", "communication"]
    assert "category" not in product  # chosen by the category select
    order = {f["name"]: f for f in forms["order"]}
    assert order["channel"]["options"] == ["retail", "depot"]  # the rules file's channels
    assert order["quantity"]["widget"] == "number" and order["quantity"]["min"] == 1
    assert order["unit_price"]["widget"] == "decimal"
    fault = {f["name"]: f for f in forms["fault"]}
    assert (fault["rating_speed"]["min"], fault["rating_speed"]["max"]) == (1, 5)
    service = {f["name"]: f for f in forms["complaint:service_quality"]}
    assert "late_delivery" in service["problem"]["options"]


def test_a_form_filled_as_the_page_does_is_accepted_for_the_call(
    app: Flask, sessions: sessionmaker[Session]
) -> None:
    agent_id = make_agent(sessions, "8001")
    call_id = ringing_call(sessions, agent_id, state="on_call")
    with sessions() as s:
        s.execute(update(Call).where(Call.id == call_id).values(agent="8001"))
        s.commit()
    client = Client(app, "8001")
    # As agent.js sends it: the kind, the category in details, strings as typed, only
    # filled fields (the contact phone comes from the call's record).
    body = {
        "kind": "complaint",
        "details": {"category": "product_quality", "subject": "yoghurt", "reason": "sick",
                    "symptom": "odd smell", "batch_number": "B-1", "injury": True,
                    "production_date": "2024-05-30"},
        "summary": "yoghurt smelled odd",
    }  # fmt: skip
    created = client.post(f"/api/calls/{call_id}/ticket", body)
    assert created.status_code == 201, created.get_json()
    ticket = created.get_json()["ticket"]
    assert ticket["details"]["injury"] is True
    assert ticket["contact_phone"] == NUMBER and ticket["call_id"] == call_id
    assert ticket["menu_path"] == MENU

    # A form left incomplete: one message per field, keyed as the page's inputs are.
    bad = client.post(
        f"/api/calls/{call_id}/ticket",
        {"kind": "complaint", "details": {"category": "product_quality", "production_date": "x"}},
    )
    assert bad.status_code == 400
    errors = bad.get_json()["errors"]
    assert {"subject", "reason", "symptom", "production_date"} <= set(errors)


# --- the live screen pop -----------------------------------------------------------------


def test_the_stream_pops_the_ringing_caller_masked_and_audited(
    app: Flask, sessions: sessionmaker[Session]
) -> None:
    agent_id = make_agent(sessions, "8001")
    call_id = ringing_call(sessions, agent_id)
    events = read_events(Client(app, "8001"), {"seat", "pop", "mine"})
    assert events["seat"]["state"] == "ringing"
    pop = events["pop"]
    assert pop["number"] == MASKED  # agents see numbers masked (web.full_number_roles)
    assert (pop["name"], pop["tier"], pop["call_id"]) == ("Wang Fang", "member", call_id)
    assert pop["menu"] == {"nodes": ["main", "complaint"], "keys": "21"}
    assert pop["kind"] == {"kind": "complaint", "category": "product_quality", "injury": False}
    assert [c["queue"] for c in pop["history"]["calls"]] == ["orders"]
    assert [t["summary"] for t in pop["history"]["tickets"]] == ["asked about yoghurt"]
    assert NUMBER not in json.dumps(events)
    with sessions() as s:
        customer_id = s.scalars(select(Ticket.customer_id)).first()
        audit = entries_for(s, "customer", str(customer_id))
    assert [(a.actor, a.action) for a in audit] == [("8001", "view")]
    assert f"record {call_id}" in (audit[0].detail or "")


def test_a_lead_at_a_desk_sees_the_full_number(app: Flask, sessions: sessionmaker[Session]) -> None:
    lead_id = make_agent(sessions, "9001", role="lead")
    ringing_call(sessions, lead_id, state="on_call")
    pop = read_events(Client(app, "9001"), {"pop"})["pop"]
    assert pop["number"] == NUMBER and pop["state"] == "on_call"


def test_no_pop_for_a_free_seat_or_another_agents_call(
    app: Flask, sessions: sessionmaker[Session]
) -> None:
    other = make_agent(sessions, "8002")
    make_agent(sessions, "8001")
    ringing_call(sessions, other)
    events = read_events(Client(app, "8001"), {"seat", "pop", "mine"})
    assert events["seat"]["state"] == "offline"
    assert "pop" not in events
    with sessions() as s:
        assert s.scalars(select(AuditEntry).where(AuditEntry.actor == "8001")).all() == []


# --- the page's lists --------------------------------------------------------------------


def test_my_tickets_are_mine_masked_and_audited(
    app: Flask, sessions: sessionmaker[Session]
) -> None:
    make_agent(sessions, "8001")
    with sessions() as s:
        mine = create_ticket(s, kind="other", details={"description": "mine"}, created_by="8001",
                             now=T0, contact_phone=NUMBER, contact_name="<b>Wang</b>")  # fmt: skip
        create_ticket(s, kind="other", details={"description": "theirs"}, created_by="8002",
                      now=T0, contact_phone=NUMBER)  # fmt: skip
    answer = Client(app, "8001").get("/api/agent/tickets")
    assert answer.status_code == 200
    rows = answer.get_json()["tickets"]
    assert [r["id"] for r in rows] == [mine.id]
    assert rows[0]["contact_phone"] == MASKED and rows[0]["contact_name"] == "<b>Wang</b>"
    with sessions() as s:
        audit = entries_for(s, "ticket", "*")
    assert audit[-1].actor == "8001" and audit[-1].action == "search"
    assert str(mine.id) in (audit[-1].detail or "")


def test_my_callbacks_are_masked_with_quiet_hours(
    app: Flask, sessions: sessionmaker[Session]
) -> None:
    agent_id = make_agent(sessions, "8001")
    with sessions() as s:
        s.add(CallbackRequest(node="", channel_id="call:1", number=NUMBER, requested_at=T0,
                              source="member", status="open", due_at=T0 + timedelta(days=3),
                              assigned_to=agent_id))  # fmt: skip
        s.commit()
    answer = Client(app, "8001").get("/api/agent/callbacks").get_json()
    assert answer["quiet_hours"] == ["12:00-13:30", "21:00-08:00"]
    assert isinstance(answer["quiet_now"], bool)
    assert [(i["number"], i["source"]) for i in answer["items"]] == [(MASKED, "member")]
    with sessions() as s:
        assert entries_for(s, "customer", "*")[-1].actor == "8001"


def test_handover_notes_of_my_team(app: Flask, sessions: sessionmaker[Session]) -> None:
    make_agent(sessions, "8001")
    client = Client(app, "8001")
    assert client.get("/api/agent/handover").get_json()["notes"] == []
    empty = client.post("/api/agent/handover", {"text": "  "})
    assert empty.status_code == 400 and "text" in empty.get_json()["errors"]
    no_csrf = client.http.post("/api/agent/handover", json={"text": "x"})
    assert no_csrf.status_code == 400 and no_csrf.get_json()["error_id"] == "csrf_missing"
    added = client.post("/api/agent/handover", {"text": "Call back Mr Wang before 10:00"})
    assert added.status_code == 201
    notes = client.get("/api/agent/handover").get_json()
    assert notes["team"] == "hotline"
    assert [(n["author"], n["text"]) for n in notes["notes"]] == [
        ("8001", "Call back Mr Wang before 10:00")
    ]


def test_an_agent_without_a_team_cannot_add_a_note(
    app: Flask, sessions: sessionmaker[Session]
) -> None:
    agent_id = make_agent(sessions, "8001")
    with sessions() as s:
        s.execute(update(Agent).where(Agent.id == agent_id).values(team=""))
        s.commit()
    client = Client(app, "8001")
    assert client.get("/api/agent/handover").get_json() == {"team": None, "notes": []}
    assert client.post("/api/agent/handover", {"text": "x"}).status_code == 409
