"""The OpenAPI 3.1 document of /api/v1, built here in code and served at
``GET /api/v1/openapi.json`` (no token needed).

Schemas are JSON Schema 2020-12 (what OpenAPI 3.1 uses). Response objects are closed
(``additionalProperties: false``, every key required), so the tests, which validate every
answer of the API against this document, notice any field added or dropped without it.
The ticket kinds' own fields come from their validating models (``tickets.kinds``), so
the document cannot drift from what the API accepts.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from agents.phone_store import PhoneStatus
from agents.seats import State
from kernel.roles import ALL_ROLES
from ticketdb.models import CUSTOMER_TIERS, TICKET_KINDS, TICKET_STATUSES
from tickets.kinds import (
    COMPLAINT_CATEGORIES,
    FaultDetails,
    InquiryDetails,
    OrderDetails,
    OtherDetails,
    ProductComplaintDetails,
    ServiceComplaintDetails,
)
from webapp.api_v1.common import DEFAULT_LIMIT, ERROR_IDS, MAX_LIMIT, MAX_OFFSET

JSON = "application/json"
Schema = dict[str, Any]

STR: Schema = {"type": "string"}
INT: Schema = {"type": "integer"}
BOOL: Schema = {"type": "boolean"}
NUM: Schema = {"type": "number"}
TS: Schema = {"type": "string", "format": "date-time"}
DETAIL_MODELS: tuple[type[BaseModel], ...] = (
    OrderDetails,
    ProductComplaintDetails,
    ServiceComplaintDetails,
    InquiryDetails,
    FaultDetails,
    OtherDetails,
)
# pydantic writes some bounds under their Python names (``gt=0`` inside Annotated).
_BOUNDS = {"gt": "exclusiveMinimum", "ge": "minimum", "lt": "exclusiveMaximum", "le": "maximum"}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    if set(schema) <= {"type", "format"} and isinstance(schema.get("type"), str):
        return {**schema, "type": [schema["type"], "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def closed(properties: dict[str, Schema], description: str = "") -> Schema:
    """An object with exactly these keys, all present (what the API answers)."""
    out: Schema = {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }
    if description:
        out["description"] = description
    return out


def request_body(
    properties: dict[str, Schema], required: tuple[str, ...], description: str = ""
) -> Schema:
    """An object a client sends: these keys, ``required`` ones mandatory, no others."""
    out: Schema = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        out["required"] = list(required)
    if description:
        out["description"] = description
    return out


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def enum(values: tuple[str, ...] | list[str]) -> Schema:
    return {"type": "string", "enum": list(values)}


# --- schemas ------------------------------------------------------------------------


def _standard(schema: Any) -> Any:
    """``schema`` with pydantic's Python-named bounds as JSON Schema keywords."""
    if isinstance(schema, dict):
        return {_BOUNDS.get(k, k): _standard(v) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_standard(v) for v in schema]
    return schema


def detail_schemas() -> dict[str, Schema]:
    found: dict[str, Schema] = {}
    for model in DETAIL_MODELS:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, sub in schema.pop("$defs", {}).items():
            found[name] = _standard(sub)
        found[model.__name__] = _standard(schema)
    return found


def _error() -> Schema:
    return {
        "type": "object",
        "description": "Every error. `error_id` is stable (branch on it); `error` is for "
        "people and may change.",
        "properties": {
            "error": STR,
            "error_id": enum(ERROR_IDS),
            "errors": {
                "type": "object",
                "description": "invalid: the problem with each field, by field name",
                "additionalProperties": STR,
            },
            "allowed": {
                **array(enum(TICKET_STATUSES)),
                "description": "transition_refused: the statuses the ticket may move to",
            },
        },
        "required": ["error", "error_id"],
        "additionalProperties": False,
    }


def _call() -> Schema:
    return closed(
        {
            "id": INT,
            "started_at": TS,
            "answered_at": nullable(TS),
            "ended_at": nullable(TS),
            "duration_seconds": nullable(NUM),
            "caller_number": {
                **STR,
                "description": "masked (138****5678) unless the role sees full numbers",
            },
            "caller_name": STR,
            "dialled_number": STR,
            "language": STR,
            "customer_tier": nullable(STR),
            "menu_path": {**array({}), "description": "the IVR menu steps, in order"},
            "data": {"type": "object", "description": "what the caller gave the IVR, by field"},
            "queue": nullable(STR),
            "wait_seconds": nullable(NUM),
            "agent": {**nullable(STR), "description": "staff number of the agent who took it"},
            "agent_answered_at": nullable(TS),
            "end_reason": nullable(STR),
            "hangup_side": nullable(enum(["caller", "system", "unknown"])),
            "callback_id": nullable(INT),
        },
        "One call as the controller recorded it.",
    )


def _details_any() -> Schema:
    return {
        "description": "the kind's own fields (complaints: of their `category`)",
        "anyOf": [ref(m.__name__) for m in DETAIL_MODELS],
    }


def _ticket() -> Schema:
    return closed(
        {
            "id": INT,
            "kind": enum(TICKET_KINDS),
            "category": nullable(STR),
            "status": enum(TICKET_STATUSES),
            "severity": enum(["normal", "high", "urgent"]),
            "allowed_next": {
                **array(enum(TICKET_STATUSES)),
                "description": "the statuses it may move to now",
            },
            "call_id": nullable(INT),
            "customer_id": nullable(INT),
            "contact_name": STR,
            "contact_phone": {**STR, "description": "masked unless the role sees full numbers"},
            "address": STR,
            "summary": STR,
            "details": _details_any(),
            "menu_path": array({}),
            "queue": nullable(STR),
            "created_by": STR,
            "assignee": nullable(STR),
            "department": nullable(STR),
            "created_at": TS,
            "updated_at": TS,
            "first_response_at": nullable(TS),
            "resolved_at": nullable(TS),
            "callback_done_at": nullable(TS),
            "closed_at": nullable(TS),
            "dispatch_day": nullable(STR),
            "dispatch_channel": nullable(STR),
            "version": {**INT, "description": "send it back with a change (stale: 409)"},
        }
    )


def _ticket_event() -> Schema:
    return closed(
        {
            "at": TS,
            "actor": STR,
            "action": STR,
            "changes": {
                "type": "object",
                "description": "{field: [old, new]}",
                "additionalProperties": {"type": "array", "minItems": 2, "maxItems": 2},
            },
            "note": nullable(STR),
        }
    )


def _ticket_create() -> Schema:
    return request_body(
        {
            "kind": enum(TICKET_KINDS),
            "details": {
                "type": "object",
                "description": "the kind's fields: "
                + ", ".join(m.__name__ for m in DETAIL_MODELS)
                + f"; a complaint names its category ({', '.join(COMPLAINT_CATEGORIES)})",
            },
            "contact_name": STR,
            "contact_phone": {**STR, "description": "required for orders, complaints, inquiries"},
            "address": STR,
            "summary": STR,
            "note": STR,
            "call_id": {
                **INT,
                "description": "the call it is about: contact, customer, menu path and queue "
                "are prefilled from its record (an agent's token: only calls it took)",
            },
        },
        ("kind",),
    )


def _customer() -> Schema:
    return closed(
        {
            "id": INT,
            "phone": {**STR, "description": "masked unless the role sees full numbers"},
            "name": STR,
            "tier": enum(CUSTOMER_TIERS),
            "company": nullable(STR),
            "address": nullable(STR),
            "notes": nullable(STR),
            "created_at": TS,
            "updated_at": TS,
        }
    )


def _customer_fields() -> dict[str, Schema]:
    return {
        "name": {**STR, "maxLength": 128},
        "tier": enum(CUSTOMER_TIERS),
        "company": {**nullable({**STR, "maxLength": 128}), "description": "null: keep"},
        "address": {**nullable({**STR, "maxLength": 256}), "description": "null: keep"},
    }


def _agent() -> Schema:
    return closed(
        {
            "staff_number": STR,
            "name": STR,
            "role": enum(ALL_ROLES),
            "team": STR,
            "active": BOOL,
            "languages": array(STR),
            "skills": {"type": "object", "additionalProperties": INT},
            "acting_lead": BOOL,
            "state": enum([s.value for s in State]),
            "since": TS,
            "seconds_in_state": INT,
            "reason": nullable(STR),
            "wrap_up_until": nullable(TS),
            "phone": {
                **enum([s.value for s in PhoneStatus]),
                "description": "the agent's phone as the controllers' Asterisks see it: ready "
                "(reachable and free, or nothing known against it), offline (not registered, "
                "or refused by every controller that tried), busy (carrying a call the queue "
                "did not give it)",
            },
            "phone_reason": {
                **nullable(STR),
                "description": "why the phone is offline (e.g. Asterisk's refusal); null "
                "unless offline",
            },
        }
    )


def _callback() -> Schema:
    return closed(
        {
            "id": INT,
            "source": {
                **STR,
                "description": "ivr, queue (the caller asked), complaint, member, survey "
                "(generated), api (asked through this API)",
            },
            "number": {**STR, "description": "masked unless the role sees full numbers"},
            "name": STR,
            "ticket_id": nullable(INT),
            "call_id": nullable(INT),
            "queue": nullable(STR),
            "requested_at": TS,
            "due_at": nullable(TS),
            "overdue": BOOL,
            "attempts": INT,
            "last_attempt_at": nullable(TS),
            "quiet_now": {**BOOL, "description": "quiet hours now: nobody is called"},
            "next_dial_at": {**TS, "description": "when it may be dialled"},
            "dial": nullable(enum(["waiting", "dialing"])),
            "assigned_to": {**nullable(STR), "description": "staff number; null: not shared out"},
        }
    )


def _listed(key: str, item: str) -> Schema:
    return closed(
        {
            key: array(ref(item)),
            "next_offset": {**nullable(INT), "description": "the next page's offset; null: last"},
        }
    )


def schemas() -> dict[str, Schema]:
    return {
        "Error": _error(),
        "Call": _call(),
        "CallList": _listed("calls", "Call"),
        "CallOne": closed({"call": ref("Call")}),
        "Ticket": _ticket(),
        "TicketEvent": _ticket_event(),
        "TicketList": _listed("tickets", "Ticket"),
        "TicketOne": closed({"ticket": ref("Ticket")}),
        "TicketWithHistory": closed(
            {"ticket": ref("Ticket"), "history": array(ref("TicketEvent"))}
        ),
        "TicketCreate": _ticket_create(),
        "TicketChange": request_body(
            {
                "version": {**INT, "minimum": 0},
                "changes": {
                    "type": "object",
                    "minProperties": 1,
                    "description": "shared fields (contact_name, contact_phone, address, "
                    "summary) and the kind's fields; null clears one",
                },
            },
            ("version", "changes"),
        ),
        "TicketStatusChange": request_body(
            {"status": enum(TICKET_STATUSES), "note": STR, "version": {**INT, "minimum": 0}},
            ("status",),
        ),
        "Customer": _customer(),
        "CustomerList": closed({"customers": {**array(ref("Customer")), "maxItems": 1}}),
        "CustomerOne": closed({"customer": ref("Customer")}),
        "CustomerSave": request_body(
            {"phone": STR, **_customer_fields()},
            ("phone", "name", "tier"),
            "add, or update the customer with this number",
        ),
        "CustomerChange": {
            **request_body(_customer_fields(), ()),
            "minProperties": 1,
        },
        "Agent": _agent(),
        "AgentList": closed({"agents": array(ref("Agent"))}),
        "AgentOne": closed({"agent": ref("Agent")}),
        "Callback": _callback(),
        "CallbackList": _listed("callbacks", "Callback"),
        "CallbackCreated": closed(
            {
                "callback": ref("Callback"),
                "created": {**BOOL, "description": "false: a retry of an earlier key"},
            }
        ),
        "CallbackCreate": request_body(
            {
                "number": {**STR, "description": "the number to call back"},
                "due_at": {
                    **STR,
                    "description": "ISO 8601 instant with zone, or a local day (default: "
                    "callbacks.due_days from now)",
                },
                "note": STR,
                "customer_id": INT,
                "ticket_id": INT,
                "assign_to": {
                    **STR,
                    "description": "staff number (an agent's token: only its own); absent: "
                    "shared out among the agents on shift",
                },
                "key": {
                    **STR,
                    "maxLength": 80,
                    "description": "idempotency key: a retry with the same key adds nothing",
                },
            },
            ("number",),
        ),
        **detail_schemas(),
    }


# --- operations ---------------------------------------------------------------------

_ERRORS = {
    400: ("Invalid", "bad parameters or body (error_id invalid; errors names each field)"),
    401: ("Unauthorized", "no token, or an unknown or revoked one (token_missing, token_invalid)"),
    403: ("Forbidden", "the token's role may not do this (forbidden)"),
    404: ("NotFound", "no such object (not_found)"),
    409: ("Conflict", "stale version, or a status the workflow refuses"),
}


def _responses(ok: dict[int, tuple[str, str]], *errors: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        str(status): {"description": text, "content": {JSON: {"schema": ref(name)}}}
        for status, (name, text) in ok.items()
    }
    for status in (400, 401, *errors):
        out[str(status)] = {"$ref": f"#/components/responses/{_ERRORS[status][0]}"}
    return dict(sorted(out.items()))


def _query(name: str, description: str, schema: Schema = STR) -> Schema:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def _path_param(name: str, schema: Schema = INT) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": schema}


_PAGE = [
    _query(
        "limit",
        f"page size (default {DEFAULT_LIMIT})",
        {**INT, "minimum": 1, "maximum": MAX_LIMIT},
    ),
    _query(
        "offset",
        "skip this many (next_offset of the previous page)",
        {**INT, "minimum": 0, "maximum": MAX_OFFSET},
    ),
]
_INSTANT = "ISO 8601 instant with zone, or a local day YYYY-MM-DD (calendar file's zone)"


def _body(name: str) -> Schema:
    return {"required": True, "content": {JSON: {"schema": ref(name)}}}


def _op(op_id: str, tag: str, summary: str, responses: dict[str, Any], **extra: Any) -> Schema:
    return {
        "operationId": op_id,
        "tags": [tag],
        "summary": summary,
        **extra,
        "responses": responses,
    }


def paths() -> dict[str, Any]:
    return {
        "/openapi.json": {
            "get": _op(
                "openapi", "meta", "this document", {"200": {
                    "description": "the OpenAPI document",
                    "content": {JSON: {"schema": {"type": "object"}}},
                }},
                security=[],
            ),
        },
        "/calls": {
            "get": _op(
                "listCalls", "calls", "call records, newest first (audited)",
                _responses({200: ("CallList", "a page of calls")}, 403),
                description="An agent's token sees only the calls that agent took.",
                parameters=[
                    _query("since", f"started at or after: {_INSTANT}"),
                    _query("until", f"started before (a day: included): {_INSTANT}"),
                    _query("number", "part of the caller's number, any notation"),
                    _query("queue", "queue name"),
                    _query("agent", "staff number of the agent who took it"),
                    *_PAGE,
                ],
            ),
        },
        "/calls/{call_id}": {
            "parameters": [_path_param("call_id")],
            "get": _op(
                "getCall", "calls", "one call (audited)",
                _responses({200: ("CallOne", "the call")}, 403, 404),
            ),
        },
        "/tickets": {
            "get": _op(
                "listTickets", "tickets", "search tickets, newest first (audited)",
                _responses({200: ("TicketList", "a page of tickets")}),
                description="An agent's token finds only tickets that agent created or is "
                "assigned. Text filters match parts, case-insensitively and literally.",
                parameters=[
                    _query("number", "part of the contact phone"),
                    _query("name", "part of the contact name"),
                    _query("kind", "ticket kind", enum(TICKET_KINDS)),
                    _query("status", "ticket status", enum(TICKET_STATUSES)),
                    _query("from", "created on or after this local day", {**STR, "format": "date"}),
                    _query("to", "created on or before this local day", {**STR, "format": "date"}),
                    _query("text", "part of the summary, contact name or a details field"),
                    *_PAGE,
                ],
            ),
            "post": _op(
                "createTicket", "tickets", "make a ticket (escalation rules apply at once)",
                _responses({201: ("TicketOne", "the ticket made")}, 403, 404),
                requestBody=_body("TicketCreate"),
            ),
        },
        "/tickets/{ticket_id}": {
            "parameters": [_path_param("ticket_id")],
            "get": _op(
                "getTicket", "tickets", "a ticket and its history (audited)",
                _responses({200: ("TicketWithHistory", "the ticket")}, 403, 404),
            ),
            "patch": _op(
                "changeTicket", "tickets", "change a ticket's fields",
                _responses({200: ("TicketOne", "the ticket as changed")}, 403, 404, 409),
                requestBody=_body("TicketChange"),
            ),
        },
        "/tickets/{ticket_id}/status": {
            "parameters": [_path_param("ticket_id")],
            "post": _op(
                "setTicketStatus", "tickets", "move a ticket on in its workflow",
                _responses({200: ("TicketOne", "the ticket in its new status")}, 403, 404, 409),
                requestBody=_body("TicketStatusChange"),
            ),
        },
        "/customers": {
            "get": _op(
                "findCustomer", "customers", "the customer with a phone number (audited)",
                _responses({200: ("CustomerList", "none or one customer")}),
                parameters=[{**_query("phone", "the number, in any notation"), "required": True}],
            ),
            "post": _op(
                "saveCustomer", "customers", "add a customer, or update the one with this "
                "number (leads and admins)",
                _responses(
                    {200: ("CustomerOne", "updated"), 201: ("CustomerOne", "added")}, 403
                ),
                requestBody=_body("CustomerSave"),
            ),
        },
        "/customers/{customer_id}": {
            "parameters": [_path_param("customer_id")],
            "get": _op(
                "getCustomer", "customers", "one customer (audited)",
                _responses({200: ("CustomerOne", "the customer")}, 404),
            ),
            "patch": _op(
                "changeCustomer", "customers", "change a customer (leads and admins)",
                _responses({200: ("CustomerOne", "the customer as changed")}, 403, 404),
                requestBody=_body("CustomerChange"),
            ),
        },
        "/agents": {
            "get": _op(
                "listAgents", "agents", "agents with their seat state, by staff number",
                _responses({200: ("AgentList", "the agents")}),
                description="An agent's token sees only that agent.",
                parameters=[
                    _query("team", "only this team"),
                    _query("state", "only seats in this state", enum([s.value for s in State])),
                ],
            ),
        },
        "/agents/{staff_number}": {
            "parameters": [_path_param("staff_number", STR)],
            "get": _op(
                "getAgent", "agents", "one agent with seat state",
                _responses({200: ("AgentOne", "the agent")}, 403, 404),
            ),
        },
        "/callbacks": {
            "get": _op(
                "listCallbacks", "callbacks", "open callbacks, due first (audited)",
                _responses({200: ("CallbackList", "a page of open callbacks")}, 403),
                description="An agent's token lists that agent's worklist.",
                parameters=[
                    _query("agent", "staff number, or `none` for items not shared out yet"),
                    _query("due_before", f"due before: {_INSTANT}"),
                    *_PAGE,
                ],
            ),
            "post": _op(
                "createCallback", "callbacks", "ask for a callback",
                _responses(
                    {
                        200: ("CallbackCreated", "a retry: the request made with this key"),
                        201: ("CallbackCreated", "the callback asked for"),
                    },
                    403,
                ),
                requestBody=_body("CallbackCreate"),
            ),
        },
    }  # fmt: skip


def document() -> Schema:
    """The whole OpenAPI document (paths relative to the server URL /api/v1)."""
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "hotline CRM API",
            "version": "1.0.0",
            "description": "Calls, tickets, customers, agents and callbacks of the hotline, "
            "for a CRM. Authenticate with `Authorization: Bearer <token>` (made by "
            "`hotline tokens add STAFF --name NAME`); the token acts as its agent, with "
            "that agent's role. Every read of a customer, ticket or call is written to the "
            "access audit log. Lists page with `limit` and `offset` (`next_offset`).",
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "tags": [
            {"name": t} for t in ("calls", "tickets", "customers", "agents", "callbacks", "meta")
        ],
        "paths": paths(),
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "a token from `hotline tokens add`",
                }
            },
            "schemas": schemas(),
            "responses": {
                name: {"description": text, "content": {JSON: {"schema": ref("Error")}}}
                for name, text in _ERRORS.values()
            },
        },
    }
