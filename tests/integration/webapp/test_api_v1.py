"""The CRM API /api/v1 through Flask's test client, on SQLite and PostgreSQL.

Every answer of every request below is validated against the OpenAPI document the API
serves (the schema of its path, method and status, ``$ref``s resolved through a
``referencing`` registry), so a documented status or field the API does not keep to
fails the test that met it. Plus: every /api/v1 route is in the document and every
documented operation is routed; bearer-token failures; the role rules (an agent's token
sees its own tickets and calls); the access audit log; masked numbers.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator, FormatChecker  # type: ignore[import-untyped]
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.routing import Rule

from agents import phone_store
from agents.api_tokens import create_token, list_tokens, revoke
from agents.phone_store import PhoneSeen
from agents.seat_store import add_agent, set_state
from tests.integration.webapp.conftest import Client, make_agent
from ticketdb.audit import entries_for
from ticketdb.customers import upsert_customer
from ticketdb.models import Agent, AuditEntry, Call, CallbackRequest
from webapp.api_v1.openapi import document
from webapp.callbacks import KEY as CALLBACKS_KEY
from webapp.callbacks import CallbackResources

PREFIX = "/api/v1"
DOC_URI = "urn:hotline:api-v1"
DOC = document()
REGISTRY: Registry[Any] = Registry().with_resource(
    DOC_URI, Resource.from_contents(DOC, default_specification=DRAFT202012)
)
FORMATS = FormatChecker()
# Not in the test time zone's quiet hours (12:00-13:30, 21:00-08:00 UTC: no calendar file).
MORNING = datetime(2026, 11, 9, 10, 0, tzinfo=UTC)
ORDER: dict[str, Any] = {
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


def _date_time(value: object) -> bool:
    # RFC 3339: an instant with its offset (the stdlib parser, so no extra package).
    return not isinstance(value, str) or datetime.fromisoformat(value).tzinfo is not None


FORMATS.checks("date-time", raises=ValueError)(_date_time)


def _pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def _template(rule: Rule) -> str:
    """``/api/v1/calls/<int:call_id>`` → ``/calls/{call_id}`` (the document's path)."""
    out = []
    for part in rule.rule.removeprefix(PREFIX).split("/"):
        if part.startswith("<") and part.endswith(">"):
            part = "{" + part[1:-1].split(":")[-1] + "}"
        out.append(part)
    return "/".join(out)


def check(app: Flask, method: str, url: str, answer: Any) -> None:
    """The answer matches the document's schema for its path, method and status."""
    path = url.split("?")[0]
    adapter = app.url_map.bind("localhost")
    rule, _ = adapter.match(path, method, return_rule=True)
    template = _template(rule)
    operation = DOC["paths"][template][method.lower()]
    status = str(answer.status_code)
    assert status in operation["responses"], (
        f"{method} {template} answered {status}, not documented: {answer.get_json()}"
    )
    found = operation["responses"][status]
    location = ("paths", template, method.lower(), "responses", status)
    if "$ref" in found:
        location = tuple(found["$ref"].removeprefix("#/").split("/"))
    schema = {"$ref": f"{DOC_URI}#/{_pointer(*location, 'content', 'application/json', 'schema')}"}
    validator = Draft202012Validator(schema, registry=REGISTRY, format_checker=FORMATS)
    assert answer.mimetype == "application/json"
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(answer.json)]
    assert not errors, f"{method} {url} {status} does not match the document: {errors}"


class Api:
    """A CRM holding a token: every answer is checked against the document."""

    def __init__(self, app: Flask, token: str | None, authorization: str | None = None) -> None:
        self.app = app
        self.http: FlaskClient = app.test_client()
        if token:
            authorization = f"Bearer {token}"
        self.headers = {"Authorization": authorization} if authorization else {}

    def raw(self, method: str, path: str, **kwargs: Any) -> Any:
        """An answer not checked against the document (routes it does not have)."""
        return self.http.open(PREFIX + path, method=method, headers=self.headers, **kwargs)

    def call(self, method: str, path: str, body: Any = None, **query: Any) -> Any:
        url = PREFIX + path + (f"?{urlencode(query)}" if query else "")
        answer = self.http.open(url, method=method, json=body, headers=self.headers)
        check(self.app, method, url, answer)
        return answer

    def get(self, path: str, **query: Any) -> Any:
        return self.call("GET", path, **query)

    def post(self, path: str, body: Any) -> Any:
        return self.call("POST", path, body)

    def patch(self, path: str, body: Any) -> Any:
        return self.call("PATCH", path, body)


def token_for(sessions: sessionmaker[Session], staff_number: str, name: str = "crm") -> str:
    with sessions() as s:
        _, plain = create_token(s, staff_number, name, datetime.now(UTC))
    return plain


def crm(app: Flask, sessions: sessionmaker[Session], staff_number: str) -> Api:
    return Api(app, token_for(sessions, staff_number))


@pytest.fixture
def people(app: Flask, sessions: sessionmaker[Session]) -> tuple[Api, Api, Api]:
    """Tokens of agents 8001 and 8002 and lead 9001."""
    make_agent(sessions, "8001")
    make_agent(sessions, "8002")
    make_agent(sessions, "9001", "lead")
    return crm(app, sessions, "8001"), crm(app, sessions, "8002"), crm(app, sessions, "9001")


def audit_rows(sessions: sessionmaker[Session], object_type: str) -> list[tuple[str, str, str]]:
    with sessions() as s:
        rows = s.scalars(
            select(AuditEntry).where(AuditEntry.object_type == object_type).order_by(AuditEntry.id)
        )
        return [(r.actor, r.action, r.object_id) for r in rows]


def add_call(
    sessions: sessionmaker[Session],
    channel: str,
    agent: str | None,
    *,
    number: str = "13812345678",
    queue: str = "sales",
    started: datetime = MORNING,
) -> int:
    with sessions() as s:
        call = Call(
            node="n1",
            channel_id=channel,
            caller_number=number,
            caller_name="WANG F",
            dialled_number="4008001234",
            language="zh",
            customer_tier="member",
            started_at=started,
            answered_at=started,
            ended_at=started + timedelta(minutes=3),
            hangup_side="caller",
            end_reason="caller_hangup",
            menu_path=["main", "2"],
            queue=queue,
            wait_seconds=12.5,
            agent=agent,
            data={"member_no": "M001"},
        )
        s.add(call)
        s.commit()
        return call.id


# --- the document -------------------------------------------------------------------


def test_the_document_is_public_and_describes_the_api(app: Flask) -> None:
    answer = app.test_client().get(f"{PREFIX}/openapi.json")
    assert answer.status_code == 200
    served = answer.get_json()
    assert served == DOC
    assert served["openapi"].startswith("3.1")
    assert served["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "a token from `hotline tokens add`",
    }
    assert served["security"] == [{"bearer": []}]
    assert served["paths"]["/openapi.json"]["get"]["security"] == []
    for name, schema in served["components"]["schemas"].items():
        Draft202012Validator.check_schema(schema)
        assert name[0].isupper()
    # Every operation: an id, a 2xx answer with a schema, the error answers with Error.
    ids = []
    for path, item in served["paths"].items():
        for method, op in item.items():
            if method == "parameters":
                continue
            ids.append(op["operationId"])
            assert any(s.startswith("2") for s in op["responses"]), (path, method)
            if path != "/openapi.json":
                assert op["responses"]["401"] == {"$ref": "#/components/responses/Unauthorized"}
            if method in ("post", "patch"):
                assert op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert len(ids) == len(set(ids))
    error = served["components"]["schemas"]["Error"]
    assert {"token_missing", "token_invalid", "forbidden", "not_found", "invalid"} <= set(
        error["properties"]["error_id"]["enum"]
    )


def test_every_route_is_documented_and_every_documented_operation_routed(app: Flask) -> None:
    routed = {
        (_template(rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule == PREFIX or rule.rule.startswith(PREFIX + "/")
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    documented = {
        (path, method)
        for path, item in DOC["paths"].items()
        for method in item
        if method != "parameters"
    }
    assert routed == documented
    assert len(documented) == 16


def test_request_bodies_are_described_closely_enough_to_catch_mistakes() -> None:
    def valid(name: str, value: Any) -> bool:
        schema = {"$ref": f"{DOC_URI}#/components/schemas/{name}"}
        return bool(Draft202012Validator(schema, registry=REGISTRY).is_valid(value))

    assert valid("TicketCreate", ORDER)
    assert not valid("TicketCreate", {**ORDER, "priority": "high"})
    assert not valid("TicketCreate", {"summary": "no kind"})
    assert valid("OrderDetails", ORDER["details"])
    assert not valid("OrderDetails", {**ORDER["details"], "quantity": 0})
    assert valid("CallbackCreate", {"number": "13800000001", "key": "crm-1"})
    assert not valid("CustomerChange", {})


# --- authentication -----------------------------------------------------------------


def test_tokens_missing_wrong_revoked_or_of_a_disabled_agent_are_refused(
    app: Flask, sessions: sessionmaker[Session]
) -> None:
    make_agent(sessions, "8001")
    good = token_for(sessions, "8001")
    assert Api(app, good).get("/agents").status_code == 200

    anonymous = Api(app, None).get("/agents")
    assert anonymous.status_code == 401
    assert anonymous.json["error_id"] == "token_missing"
    assert anonymous.headers["WWW-Authenticate"] == 'Bearer realm="hotline"'
    basic = Api(app, None, authorization="Basic eDp5").get("/agents")
    assert (basic.status_code, basic.json["error_id"]) == (401, "token_missing")
    for wrong in (good + "x", "hl_" + "A" * 43, "not-a-token"):
        answer = Api(app, wrong).get("/agents")
        assert (answer.status_code, answer.json["error_id"]) == (401, "token_invalid")

    second = token_for(sessions, "8001", "second")
    with sessions() as s:
        revoke(s, list_tokens(s)[0].id, datetime.now(UTC))
    assert Api(app, good).get("/agents").json["error_id"] == "token_invalid"
    assert Api(app, second).get("/agents").status_code == 200
    with sessions() as s:
        add_agent(s, staff_number="8001", name="Agent 8001", endpoint="PJSIP/8001", active=False)
    assert Api(app, second).get("/agents").json["error_id"] == "token_invalid"


def test_a_browser_login_is_no_token_and_no_csrf_token_is_needed(
    app: Flask, sessions: sessionmaker[Session]
) -> None:
    make_agent(sessions, "8001")
    browser = Client(app, "8001")
    answer: Any = browser.http.get(f"{PREFIX}/agents")
    assert (answer.status_code, answer.json["error_id"]) == (401, "token_missing")
    # A token works without X-CSRF-Token even when the client also holds a session.
    token = token_for(sessions, "8001")
    made: Any = browser.http.post(
        f"{PREFIX}/tickets", json=ORDER, headers={"Authorization": f"Bearer {token}"}
    )
    assert made.status_code == 201, made.json
    check(app, "POST", f"{PREFIX}/tickets", made)


def test_unknown_routes_and_methods_answer_json_errors(people: tuple[Api, Api, Api]) -> None:
    _, _, lead = people
    missing = lead.raw("GET", "/nothing")
    assert (missing.status_code, missing.json["error_id"]) == (404, "not_found")
    wrong = lead.raw("DELETE", "/calls")
    assert (wrong.status_code, wrong.json["error_id"]) == (405, "method_not_allowed")
    bad_param = lead.get("/calls", limit="0", colour="red")
    assert bad_param.status_code == 400
    assert bad_param.json["error_id"] == "invalid"
    assert set(bad_param.json["errors"]) == {"limit", "colour"}


# --- calls --------------------------------------------------------------------------


def test_calls_by_role_with_filters_paging_masking_and_audit(
    app: Flask, sessions: sessionmaker[Session], people: tuple[Api, Api, Api]
) -> None:
    agent, other, lead = people
    first = add_call(sessions, "c1", "8001", started=MORNING - timedelta(days=1))
    second = add_call(sessions, "c2", "8002", number="+8613900000002", queue="service")
    third = add_call(sessions, "c3", "8001", started=MORNING + timedelta(minutes=5))

    everything = lead.get("/calls")
    assert [c["id"] for c in everything.json["calls"]] == [third, second, first]
    assert everything.json["next_offset"] is None
    call = everything.json["calls"][0]
    assert call["caller_number"] == "13812345678"  # leads see full numbers
    assert (call["duration_seconds"], call["agent"], call["data"]) == (
        180.0,
        "8001",
        {"member_no": "M001"},
    )

    mine = agent.get("/calls")
    assert [c["id"] for c in mine.json["calls"]] == [third, first]
    assert mine.json["calls"][0]["caller_number"] == "138****5678"
    assert agent.get("/calls", agent="8001").status_code == 200
    refused = agent.get("/calls", agent="8002")
    assert (refused.status_code, refused.json["error_id"]) == (403, "forbidden")

    def ids(**query: Any) -> list[int]:
        return [c["id"] for c in lead.get("/calls", **query).json["calls"]]

    assert ids(since=MORNING.isoformat()) == [third, second]
    assert ids(until=(MORNING - timedelta(days=1)).date().isoformat()) == [first]
    assert ids(number="139 0000 0002") == [second]
    assert ids(queue="service") == [second]
    assert ids(agent="8001", since="2026-11-09") == [third]
    page1 = lead.get("/calls", limit=2)
    assert [c["id"] for c in page1.json["calls"]] == [third, second]
    assert page1.json["next_offset"] == 2
    page2 = lead.get("/calls", limit=2, offset=2)
    assert ([c["id"] for c in page2.json["calls"]], page2.json["next_offset"]) == ([first], None)
    bad = lead.get("/calls", since="yesterday", number="call me", until="2026-11-09T10:00")
    assert set(bad.json["errors"]) == {"since", "number", "until"}

    assert lead.get(f"/calls/{second}").json["call"]["queue"] == "service"
    assert agent.get(f"/calls/{first}").status_code == 200
    assert other.get(f"/calls/{first}").status_code == 403
    assert lead.get("/calls/9999").json["error_id"] == "not_found"

    # Roles listed in web.full_number_roles see numbers in full.
    app.config["HOTLINE_FULL_NUMBER_ROLES"] = ("agent", "lead", "admin")
    assert agent.get(f"/calls/{first}").json["call"]["caller_number"] == "13812345678"

    rows = audit_rows(sessions, "call")
    assert ("9001", "search", "*") in rows
    assert ("8001", "refused", "*") in rows
    assert ("9001", "view", str(second)) in rows
    assert ("8002", "refused", str(first)) in rows
    assert rows.count(("8001", "view", str(first))) == 2
    with sessions() as s:
        search = next(e for e in entries_for(s, "call", "*") if e.action == "search")
    assert search.detail is not None and search.detail.startswith("api: (no filter); found: ")


# --- tickets ------------------------------------------------------------------------


def test_tickets_create_read_change_and_move_on(
    app: Flask, sessions: sessionmaker[Session], people: tuple[Api, Api, Api]
) -> None:
    agent, other, lead = people
    made = agent.post("/tickets", ORDER)
    assert made.status_code == 201
    ticket = made.json["ticket"]
    assert (ticket["status"], ticket["created_by"], ticket["version"]) == ("new", "8001", 0)
    assert ticket["contact_phone"] == "138****0001"
    assert ticket["details"]["unit_price"] == "12.50"
    tid = ticket["id"]

    shown = agent.get(f"/tickets/{tid}")
    assert [e["action"] for e in shown.json["history"]] == ["created"]
    assert shown.json["history"][0]["changes"]["contact_phone"] == [None, "138****0001"]
    assert lead.get(f"/tickets/{tid}").json["ticket"]["contact_phone"] == "13800000001"

    changed = agent.patch(f"/tickets/{tid}", {"version": 0, "changes": {"quantity": 5}})
    assert changed.status_code == 200, changed.json
    assert (changed.json["ticket"]["details"]["quantity"], changed.json["ticket"]["version"]) == (
        5,
        1,
    )
    stale = agent.patch(f"/tickets/{tid}", {"version": 0, "changes": {"quantity": 6}})
    assert (stale.status_code, stale.json["error_id"]) == (409, "stale")
    bad = agent.patch(f"/tickets/{tid}", {"version": 1, "changes": {"quantity": -1}})
    assert (bad.status_code, bad.json["error_id"]) == (400, "invalid")
    assert set(bad.json["errors"]) == {"quantity"}

    refused = agent.post(f"/tickets/{tid}/status", {"status": "closed", "version": 1})
    assert (refused.status_code, refused.json["error_id"]) == (409, "transition_refused")
    assert "assigned" in refused.json["allowed"]
    moved = agent.post(f"/tickets/{tid}/status", {"status": "in_progress", "note": "on it"})
    assert moved.status_code == 200, moved.json
    assert moved.json["ticket"]["status"] == "in_progress"
    unknown = agent.post(f"/tickets/{tid}/status", {"status": "flying"})
    assert unknown.json["errors"] == {"status": unknown.json["errors"]["status"]}

    # Another agent's token: 403 (audited), lists without it.
    assert other.get(f"/tickets/{tid}").status_code == 403
    assert (
        other.patch(f"/tickets/{tid}", {"version": 2, "changes": {"quantity": 1}}).status_code
        == 403
    )
    assert other.post(f"/tickets/{tid}/status", {"status": "resolved"}).status_code == 403
    assert other.get("/tickets").json["tickets"] == []
    assert agent.get("/tickets/424242").json["error_id"] == "not_found"

    rows = audit_rows(sessions, "ticket")
    assert rows.count(("8002", "refused", str(tid))) == 3
    assert ("8001", "view", str(tid)) in rows and ("9001", "view", str(tid)) in rows


def test_ticket_search_is_safe_and_paged(
    app: Flask, sessions: sessionmaker[Session], people: tuple[Api, Api, Api]
) -> None:
    agent, other, lead = people
    ids = [agent.post("/tickets", {**ORDER, "summary": f"order {i}"}).json["ticket"]["id"]
           for i in range(3)]  # fmt: skip
    other_id = other.post("/tickets", {**ORDER, "contact_phone": "139 0000 0009"}).json["ticket"][
        "id"
    ]

    assert [t["id"] for t in agent.get("/tickets").json["tickets"]] == ids[::-1]
    page1 = lead.get("/tickets", limit=2)
    assert [t["id"] for t in page1.json["tickets"]] == [other_id, ids[2]]
    assert page1.json["next_offset"] == 2
    page3 = lead.get("/tickets", limit=2, offset=4)
    assert (page3.json["tickets"], page3.json["next_offset"]) == ([], None)
    assert [t["id"] for t in lead.get("/tickets", number="13900000009").json["tickets"]] == [
        other_id
    ]
    assert lead.get("/tickets", text="order 1").json["tickets"][0]["id"] == ids[1]
    # SQL-looking input is a literal search term.
    assert lead.get("/tickets", text="' OR 1=1 --").json["tickets"] == []
    assert lead.get("/tickets", name="%").json["tickets"] == []
    bad = lead.get("/tickets", kind="parcel", to="tomorrow")
    assert set(bad.json["errors"]) == {"kind", "to"}
    assert ("9001", "search", "*") in audit_rows(sessions, "ticket")


def test_tickets_from_calls_only_the_agents_own(
    app: Flask, sessions: sessionmaker[Session], people: tuple[Api, Api, Api]
) -> None:
    agent, other, lead = people
    with sessions() as s:
        upsert_customer(s, phone="13812345678", name="Wang Fang", tier="member", address="Rd 1")
    call_id = add_call(sessions, "c1", "8001")
    complaint = {
        "kind": "complaint",
        "call_id": call_id,
        "summary": "sour milk",
        "details": {
            "category": "product_quality",
            "subject": "Fresh milk 1L",
            "reason": "tasted sour",
            "symptom": "odd smell",
            "injury": True,
        },
    }
    refused = other.post("/tickets", complaint)
    assert (refused.status_code, refused.json["error_id"]) == (403, "forbidden")
    assert ("8002", "refused", str(call_id)) in audit_rows(sessions, "call")
    made = agent.post("/tickets", complaint)
    assert made.status_code == 201, made.json
    ticket = made.json["ticket"]
    assert (ticket["call_id"], ticket["contact_name"], ticket["address"]) == (
        call_id,
        "Wang Fang",
        "Rd 1",
    )
    assert ticket["severity"] == "urgent"  # the shipped-default rules: injury escalates
    assert lead.post("/tickets", {**complaint, "call_id": 999}).status_code == 404
    missing = agent.post("/tickets", {"kind": "complaint", "details": {"category": "x"}})
    assert (missing.status_code, missing.json["error_id"]) == (400, "invalid")
    not_json = agent.raw("POST", "/tickets", data="kind=order")
    assert (not_json.status_code, not_json.json["error_id"]) == (400, "invalid")
    check(app, "POST", f"{PREFIX}/tickets", not_json)
    extra = agent.post("/tickets", {**ORDER, "priority": 1})
    assert extra.json["errors"] == {"priority": "unknown field"}


# --- customers ----------------------------------------------------------------------


def test_customers_looked_up_by_anyone_changed_by_leads(
    app: Flask, sessions: sessionmaker[Session], people: tuple[Api, Api, Api]
) -> None:
    agent, _, lead = people
    added = lead.post(
        "/customers", {"phone": "+86 138-0000-0005", "name": "Li Lei", "tier": "member"}
    )
    assert added.status_code == 201, added.json
    customer = added.json["customer"]
    assert (customer["phone"], customer["company"]) == ("+8613800000005", None)
    cid = customer["id"]
    updated = lead.post(
        "/customers",
        {"phone": "008613800000005", "name": "Li Lei", "tier": "vip", "company": "Acme"},
    )
    assert (updated.status_code, updated.json["customer"]["id"]) == (200, cid)
    assert updated.json["customer"]["tier"] == "vip"

    found = agent.get("/customers", phone="+8613800000005").json["customers"]
    assert [(c["id"], c["phone"], c["company"]) for c in found] == [(cid, "+86138****0005", "Acme")]
    assert agent.get("/customers", phone="13999999999").json["customers"] == []
    assert agent.get("/customers").json["errors"] == {"phone": "required (the number to look up)"}
    assert agent.get("/customers", phone="abc").json["errors"] == {"phone": "not a phone number"}
    assert agent.get(f"/customers/{cid}").json["customer"]["name"] == "Li Lei"
    assert agent.get("/customers/999").json["error_id"] == "not_found"

    changed = lead.patch(f"/customers/{cid}", {"address": "2 Rd", "company": None})
    assert changed.status_code == 200, changed.json
    assert (changed.json["customer"]["address"], changed.json["customer"]["company"]) == (
        "2 Rd",
        "Acme",
    )
    assert lead.patch(f"/customers/{cid}", {"tier": "gold"}).json["errors"] == {
        "tier": "must be one of general, member, vip"
    }
    assert lead.patch(f"/customers/{cid}", {}).status_code == 400
    assert lead.patch("/customers/999", {"name": "x"}).status_code == 404
    bad = lead.post("/customers", {"phone": "x", "tier": "member"})
    assert set(bad.json["errors"]) == {"name"}
    bad = lead.post("/customers", {"phone": "call me", "name": "X", "tier": "member"})
    assert bad.json["errors"] == {"phone": "not a phone number"}

    assert agent.post("/customers", {"phone": "1", "name": "x", "tier": "vip"}).status_code == 403
    assert agent.patch(f"/customers/{cid}", {"name": "x"}).status_code == 403
    rows = audit_rows(sessions, "customer")
    assert ("8001", "view", str(cid)) in rows
    assert ("8001", "search", "*") in rows
    assert ("8001", "refused", str(cid)) in rows and ("8001", "refused", "*") in rows


# --- agents -------------------------------------------------------------------------


def test_agents_with_seat_state(
    app: Flask, sessions: sessionmaker[Session], people: tuple[Api, Api, Api]
) -> None:
    agent, _, lead = people
    with sessions() as s:
        set_state(s, agent_id=1, to_state="available", by="system", now=datetime.now(UTC))
    everyone = lead.get("/agents").json["agents"]
    assert [(a["staff_number"], a["role"], a["state"]) for a in everyone] == [
        ("8001", "agent", "available"),
        ("8002", "agent", "offline"),
        ("9001", "lead", "offline"),
    ]
    assert [a["staff_number"] for a in lead.get("/agents", state="available").json["agents"]] == [
        "8001"
    ]
    assert lead.get("/agents", team="nobody").json["agents"] == []
    assert lead.get("/agents", state="asleep").status_code == 400
    assert [a["staff_number"] for a in agent.get("/agents").json["agents"]] == ["8001"]
    assert agent.get("/agents/8001").json["agent"]["state"] == "available"
    assert agent.get("/agents/8002").json["error_id"] == "forbidden"
    assert agent.get("/agents/7777").status_code == 403  # no probing for staff numbers
    assert lead.get("/agents/7777").json["error_id"] == "not_found"
    assert lead.get("/agents/8002").json["agent"]["name"] == "Agent 8002"


def test_agents_with_their_phone(
    app: Flask, sessions: sessionmaker[Session], people: tuple[Api, Api, Api]
) -> None:
    """Each agent's phone (validated against the document like every answer): offline
    with the reason, busy, or ready when no controller has said anything against it."""
    agent, _, lead = people
    everyone = lead.get("/agents").json["agents"]
    assert {(a["phone"], a["phone_reason"]) for a in everyone} == {("ready", None)}
    with sessions() as s:
        ids = {a.staff_number: a.id for a in s.scalars(select(Agent))}
        phone_store.record(s, "n1", [
            PhoneSeen(ids["8001"], "PJSIP/8001", False, reason="not registered (offline)"),
            PhoneSeen(ids["8002"], "PJSIP/8002", True, channels=2),
        ], datetime.now(UTC))  # fmt: skip
    shown = {a["staff_number"]: (a["phone"], a["phone_reason"])
             for a in lead.get("/agents").json["agents"]}  # fmt: skip
    assert shown == {
        "8001": ("offline", "not registered (offline)"),
        "8002": ("busy", None),
        "9001": ("ready", None),
    }
    mine = agent.get("/agents/8001").json["agent"]
    assert (mine["phone"], mine["phone_reason"]) == ("offline", "not registered (offline)")
    assert lead.get("/agents/8002").json["agent"]["phone"] == "busy"
    phone = DOC["components"]["schemas"]["Agent"]["properties"]["phone"]
    assert phone["enum"] == ["ready", "offline", "busy"]


# --- callbacks ----------------------------------------------------------------------


def test_callbacks_asked_for_and_listed_due_first(
    app: Flask, sessions: sessionmaker[Session], people: tuple[Api, Api, Api]
) -> None:
    agent, other, lead = people
    res: CallbackResources = app.extensions[CALLBACKS_KEY]
    app.extensions[CALLBACKS_KEY] = dataclasses.replace(res, clock=lambda: MORNING)
    with sessions() as s:
        cid = upsert_customer(s, phone="13800000007", name="Zhao", tier="member").id
    ticket_id = agent.post("/tickets", ORDER).json["ticket"]["id"]

    later = agent.post(
        "/callbacks",
        {"number": "138 0000 0007", "assign_to": "8001", "key": "crm-42", "note": "after 3pm",
         "ticket_id": ticket_id, "due_at": "2026-11-11T09:00:00+08:00"},
    )  # fmt: skip
    assert later.status_code == 201, later.json
    item = later.json["callback"]
    assert (item["source"], item["name"], item["number"], item["assigned_to"]) == (
        "api",
        "Zhao",
        "138****0007",
        "8001",
    )
    assert (item["due_at"], item["next_dial_at"], item["quiet_now"]) == (
        "2026-11-11T01:00:00+00:00",
        MORNING.isoformat(),
        False,
    )
    again = agent.post("/callbacks", {"number": "13800000007", "key": "crm-42"})
    assert (again.status_code, again.json["created"], again.json["callback"]["id"]) == (
        200,
        False,
        item["id"],
    )
    # Another token's same key is its own request.
    theirs = other.post("/callbacks", {"number": "13800000008", "key": "crm-42"})
    assert theirs.status_code == 201 and theirs.json["callback"]["id"] != item["id"]
    assert theirs.json["callback"]["assigned_to"] is None
    soon = lead.post(
        "/callbacks",
        {"number": "13800000009", "assign_to": "8001", "due_at": "2026-11-10",
         "customer_id": cid},
    )  # fmt: skip
    assert soon.status_code == 201, soon.json
    with sessions() as s:
        row = s.get(CallbackRequest, item["id"])
        assert row is not None and (row.note, row.ticket_id, row.customer_id) == (
            "after 3pm",
            ticket_id,
            cid,
        )

    listed = agent.get("/callbacks").json
    assert [c["id"] for c in listed["callbacks"]] == [soon.json["callback"]["id"], item["id"]]
    assert lead.get("/callbacks", agent="none").json["callbacks"][0]["number"] == "13800000008"
    assert len(lead.get("/callbacks").json["callbacks"]) == 3
    assert [c["id"] for c in lead.get("/callbacks", due_before="2026-11-10").json["callbacks"]] == [
        soon.json["callback"]["id"]
    ]
    paged = lead.get("/callbacks", limit=2)
    assert (len(paged.json["callbacks"]), paged.json["next_offset"]) == (2, 2)
    assert lead.get("/callbacks", limit=2, offset=2).json["next_offset"] is None
    assert agent.get("/callbacks", agent="8002").status_code == 403
    assert ("8001", "search", "*") in audit_rows(sessions, "customer")

    assert agent.post("/callbacks", {"number": "1380", "assign_to": "8002"}).status_code == 403
    assert other.post("/callbacks", {"number": "1380", "ticket_id": ticket_id}).status_code == 403
    bad = lead.post(
        "/callbacks",
        {"number": "call me", "due_at": "soon", "assign_to": "7777", "customer_id": 999,
         "ticket_id": 999, "key": ""},
    )  # fmt: skip
    assert set(bad.json["errors"]) == {
        "number",
        "due_at",
        "assign_to",
        "customer_id",
        "ticket_id",
        "key",
    }
    assert lead.post("/callbacks", {}).json["errors"] == {"number": "required"}
