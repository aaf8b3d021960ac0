"""Tickets in the database, on both back ends: created by hand and from a call, field
changes and status moves with their history, optimistic versions, and search by every
filter (with SQL-looking and LIKE-wildcard input matched literally)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from agents.seat_store import add_agent
from ticketdb.customers import upsert_customer
from ticketdb.models import Call, Ticket, TicketEvent
from tickets.kinds import TicketInvalid
from tickets.store import (
    StaleTicket,
    TicketNotFound,
    UnknownCall,
    add_note,
    assign,
    change_status,
    create_from_call,
    create_ticket,
    day_bounds,
    get_ticket,
    history,
    search,
    update_fields,
)
from tickets.workflow import TransitionRefused

T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)

ORDER = {
    "product": "Fresh milk 1L",
    "quantity": 3,
    "unit_price": "12.5",
    "channel": "home_delivery",
    "area": "Haidian",
}
PRODUCT_COMPLAINT = {
    "category": "product_quality",
    "subject": "Yoghurt 200g",
    "reason": "Tasted sour",
    "symptom": "odd smell",
    "batch_number": "B-2024-117",
}


def order(s: Session, **extra: Any) -> Ticket:
    values: dict[str, Any] = {
        "kind": "order",
        "details": ORDER,
        "created_by": "8001",
        "now": T0,
        "contact_name": "Wang Fang",
        "contact_phone": "138-0000-0001",
        "address": "1 Zhongguancun St",
    }
    return create_ticket(s, **{**values, **extra})


def count(s: Session, model: type[Any]) -> int:
    return s.scalar(select(func.count()).select_from(model)) or 0


# --- create ---------------------------------------------------------------------------


def test_create_validates_stores_details_and_records_the_creation(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as s:
        customer = upsert_customer(s, phone="13800000001", name="Wang Fang", tier="member")
        ticket = order(s, summary="  weekly milk  ")
        assert (ticket.kind, ticket.status, ticket.severity) == ("order", "new", "normal")
        assert ticket.contact_phone == "13800000001"  # normalised
        assert ticket.summary == "weekly milk"
        assert ticket.customer_id == customer.id  # found by the number
        assert ticket.created_at == ticket.updated_at == T0
        assert ticket.version == 0 and ticket.first_response_at is None

    with sessions() as s:
        stored = get_ticket(s, ticket.id)
        assert stored.details == {
            "product": "Fresh milk 1L",
            "quantity": 3,
            "unit_price": "12.50",
            "channel": "home_delivery",
            "area": "Haidian",
            "delivery_date": None,
        }
        (created,) = history(s, ticket.id)
        assert (created.action, created.actor, created.at) == ("created", "8001", T0)
        assert created.changes["status"] == [None, "new"]
        assert created.changes["quantity"] == [None, 3]
        assert "delivery_date" not in created.changes


def test_create_refuses_bad_input_naming_every_field(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        with pytest.raises(TicketInvalid) as caught:
            create_ticket(
                s,
                kind="order",
                details={**ORDER, "quantity": 0, "channel": "shop"},
                created_by="8001",
                now=T0,
                contact_phone="call me",
                address="x" * 300,
            )
        assert caught.value.errors == {
            "contact_phone": "not a phone number",
            "address": "at most 256 characters",
            "quantity": "must be greater than 0",
            "channel": "must be one of retail, home_delivery",
        }
        with pytest.raises(TicketInvalid) as caught:
            create_ticket(s, kind="complaint", details=PRODUCT_COMPLAINT, created_by="", now=T0)
        assert caught.value.errors == {"created_by": "required (a staff number)"}
        with pytest.raises(TicketInvalid) as caught:
            create_ticket(s, kind="complaint", details=PRODUCT_COMPLAINT, created_by="1", now=T0)
        assert caught.value.errors == {"contact_phone": "required for a complaint"}
        with pytest.raises(TicketInvalid, match="kind: must be one of"):
            create_ticket(s, kind="lost", details={}, created_by="8001", now=T0)
        # The rules' channels decide; a fault or other needs no number.
        assert order(s, channels=("retail", "shop"), details={**ORDER, "channel": "shop"}).id
        fault = create_ticket(
            s, kind="fault", details={"description": "Line dead"}, created_by="8001", now=T0
        )
        assert fault.contact_phone == "" and fault.customer_id is None
        assert count(s, Ticket) == 2 and count(s, TicketEvent) == 2


def test_complaint_and_inquiry_set_the_category(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        complaint = create_ticket(
            s,
            kind="complaint",
            details={**PRODUCT_COMPLAINT, "injury": "true"},
            created_by="8001",
            now=T0,
            contact_phone="13800000002",
        )
        assert complaint.category == "product_quality" and complaint.details["injury"] is True
        inquiry = create_ticket(
            s,
            kind="inquiry",
            details={"question": "Delivery on Sunday?", "topic": "delivery"},
            created_by="8001",
            now=T0,
            contact_phone="13800000002",
        )
        assert inquiry.category == "delivery"


def test_create_from_call_prefills_from_the_call_and_customer(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as s:
        customer = upsert_customer(
            s, phone="+86 138 0000 0009", name="Li Na", tier="vip", address="8 Chaoyang Rd"
        )
        call = Call(
            node="n1",
            channel_id="c-1",
            caller_number="0086-138-0000-0009",
            caller_name="LI N",
            started_at=T0,
            menu_path=["lang:zh", "5", "1"],
            queue="complaints",
            agent="8002",
        )
        anonymous = Call(node="n1", channel_id="c-2", caller_number="anonymous", started_at=T0)
        s.add_all([call, anonymous])
        s.commit()

        ticket = create_from_call(
            s, call.id, "complaint", created_by=None, now=T0, details=PRODUCT_COMPLAINT
        )
        assert (ticket.call_id, ticket.customer_id) == (call.id, customer.id)
        assert (ticket.contact_phone, ticket.contact_name, ticket.address) == (
            "+8613800000009",
            "Li Na",
            "8 Chaoyang Rd",
        )
        assert ticket.menu_path == ["lang:zh", "5", "1"]
        assert (ticket.queue, ticket.created_by) == ("complaints", "8002")
        assert history(s, ticket.id)[0].changes["call_id"] == [None, call.id]

        # Overrides win; the one who creates it is kept when given.
        other = create_from_call(
            s, call.id, "other", created_by="9001", now=T0,
            details={"description": "Asked for the manager"}, address="Reception",
        )  # fmt: skip
        assert (other.created_by, other.address, other.contact_name) == (
            "9001",
            "Reception",
            "Li Na",
        )
        # A withheld number is not copied; an inquiry then needs one typed in.
        with pytest.raises(TicketInvalid) as caught:
            create_from_call(
                s, anonymous.id, "inquiry", created_by="8001", now=T0,
                details={"question": "Prices?", "topic": "prices"},
            )  # fmt: skip
        assert caught.value.errors == {"contact_phone": "required for an inquiry"}
        with pytest.raises(TicketInvalid, match="created_by: required"):
            create_from_call(s, anonymous.id, "other", created_by=None, now=T0)
        with pytest.raises(UnknownCall, match="no call 999"):
            create_from_call(s, 999, "other", created_by="8001", now=T0)


# --- changes and history ----------------------------------------------------------------


def test_update_fields_records_old_and_new_and_checks_the_version(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as s:
        ticket = order(s)
        later = T0 + timedelta(minutes=5)
        changed = update_fields(
            s,
            ticket.id,
            {"quantity": "5", "delivery_date": "2024-05-08", "address": "2 Haidian Rd"},
            by="8003",
            now=later,
            version=0,
        )
        assert changed.version == 1 and changed.updated_at == later
        assert changed.details["quantity"] == 5 and changed.address == "2 Haidian Rd"

        # Nothing different: no event, no new version.
        same = update_fields(s, ticket.id, {"quantity": 5}, by="8003", now=later, version=1)
        assert same.version == 1
        # A form showing version 0 is stale now.
        with pytest.raises(StaleTicket, match="version 1, yours 0"):
            update_fields(s, ticket.id, {"quantity": 6}, by="8004", now=later, version=0)
        with pytest.raises(TicketInvalid) as caught:
            update_fields(s, ticket.id, {"quantity": -1, "colour": "red"}, by="8003", now=later)
        assert set(caught.value.errors) == {"quantity", "colour"}
        with pytest.raises(TicketInvalid) as caught:
            update_fields(s, ticket.id, {"status": "closed", "kind": "other"}, by="8", now=later)
        assert caught.value.errors == {
            "kind": "cannot be changed here",
            "status": "cannot be changed here",
        }
        # Clearing an optional field.
        update_fields(s, ticket.id, {"delivery_date": None}, by="8003", now=later)

        events = history(s, ticket.id)
        assert [e.action for e in events] == ["created", "fields", "fields"]
        assert events[1].actor == "8003" and events[1].at == later
        assert events[1].changes == {
            "address": ["1 Zhongguancun St", "2 Haidian Rd"],
            "delivery_date": [None, "2024-05-08"],
            "quantity": [3, 5],
        }
        assert events[2].changes == {"delivery_date": ["2024-05-08", None]}
        assert get_ticket(s, ticket.id).version == 2


def test_a_complaint_can_change_category_only_with_fitting_fields(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as s:
        ticket = create_ticket(
            s, kind="complaint", details=PRODUCT_COMPLAINT, created_by="8001", now=T0,
            contact_phone="13800000003",
        )  # fmt: skip
        with pytest.raises(TicketInvalid) as caught:
            update_fields(s, ticket.id, {"category": "service_quality"}, by="8001", now=T0)
        assert {"symptom", "problem"} <= set(caught.value.errors)
        moved = update_fields(
            s,
            ticket.id,
            {"category": "service_quality", "symptom": None, "batch_number": None,
             "production_date": None, "purchase_how": None, "purchase_where": None,
             "injury": None, "problem": "late_delivery"},
            by="8001",
            now=T0,
        )  # fmt: skip
        assert moved.category == "service_quality" and moved.details["problem"] == "late_delivery"


def test_status_changes_follow_the_workflow_and_set_milestones(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as s:
        ticket = create_ticket(
            s, kind="complaint", details=PRODUCT_COMPLAINT, created_by="8001", now=T0,
            contact_phone="13800000003",
        )  # fmt: skip
        steps = [
            ("in_progress", "first_response_at"),
            ("resolved", "resolved_at"),
            ("callback_done", "callback_done_at"),
            ("closed", "closed_at"),
        ]
        for minutes, (status, milestone) in enumerate(steps, start=1):
            at = T0 + timedelta(minutes=minutes)
            ticket = change_status(s, ticket.id, status, by="8002", now=at, note=f"to {status}")
            assert ticket.status == status and getattr(ticket, milestone) == at
        assert ticket.first_response_at == T0 + timedelta(minutes=1)
        with pytest.raises(TransitionRefused, match="from closed to in_progress"):
            change_status(s, ticket.id, "in_progress", by="8002", now=T0)
        events = history(s, ticket.id)
        assert [(e.action, e.changes.get("status"), e.note) for e in events[1:]] == [
            ("status", ["new", "in_progress"], "to in_progress"),
            ("status", ["in_progress", "resolved"], "to resolved"),
            ("status", ["resolved", "callback_done"], "to callback_done"),
            ("status", ["callback_done", "closed"], "to closed"),
        ]


def test_refused_status_change_leaves_no_trace(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        complaint = create_ticket(
            s, kind="complaint", details=PRODUCT_COMPLAINT, created_by="8001", now=T0,
            contact_phone="13800000003",
        )  # fmt: skip
        change_status(s, complaint.id, "resolved", by="8002", now=T0)
        with pytest.raises(TransitionRefused, match="complaints end with a callback"):
            change_status(s, complaint.id, "closed", by="8002", now=T0)
        with pytest.raises(TransitionRefused, match="only an order can be out_of_area"):
            change_status(s, complaint.id, "out_of_area", by="8002", now=T0)
        stored = get_ticket(s, complaint.id)
        assert (stored.status, stored.closed_at, stored.version) == ("resolved", None, 1)
        assert len(history(s, complaint.id)) == 2

        # An order out of the sales area: an outcome, then the apology call.
        ticket = order(s)
        out = change_status(s, ticket.id, "out_of_area", by="8002", now=T0)
        assert out.resolved_at == T0 and out.first_response_at == T0
        with pytest.raises(StaleTicket):
            change_status(s, ticket.id, "callback_done", by="8002", now=T0, version=0)
        assert change_status(s, ticket.id, "callback_done", by="8", now=T0, version=1).version == 2
        with pytest.raises(TicketNotFound, match="no ticket 999"):
            change_status(s, 999, "closed", by="8002", now=T0)


def test_reopening_keeps_the_first_milestones(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        ticket = order(s)
        for minutes, status in enumerate(["resolved", "in_progress", "resolved"]):
            ticket = change_status(
                s, ticket.id, status, by="8002", now=T0 + timedelta(minutes=minutes)
            )
        assert ticket.resolved_at == T0 and ticket.first_response_at == T0


def test_assign_and_notes(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        add_agent(s, staff_number="8005", name="Zhou", endpoint="PJSIP/8005")
        add_agent(s, staff_number="8006", name="Gone", endpoint="PJSIP/8006", active=False)
        ticket = order(s)
        at = T0 + timedelta(minutes=3)
        assigned = assign(s, ticket.id, "8005", by="9001", now=at, note="yours")
        assert (assigned.assignee, assigned.status, assigned.first_response_at) == (
            "8005",
            "assigned",
            at,
        )
        assert assign(s, ticket.id, "8005", by="9001", now=at).version == assigned.version
        with pytest.raises(TicketInvalid, match="assignee: no active agent with staff number"):
            assign(s, ticket.id, "8006", by="9001", now=at)
        with pytest.raises(TicketInvalid, match="assignee: no active agent"):
            assign(s, ticket.id, "7777", by="9001", now=at)
        unassigned = assign(s, ticket.id, None, by="9001", now=at)
        assert (unassigned.assignee, unassigned.status) == (None, "assigned")

        note = add_note(s, ticket.id, "  Customer called again  ", by="8005", now=at)
        assert note.note == "Customer called again"
        with pytest.raises(TicketInvalid, match="note: required"):
            add_note(s, ticket.id, "   ", by="8005", now=at)
        # A note does not make an open form stale.
        assert get_ticket(s, ticket.id).version == unassigned.version
        events = history(s, ticket.id)
        assert [(e.action, e.changes, e.note) for e in events[1:]] == [
            ("assigned", {"assignee": [None, "8005"], "status": ["new", "assigned"]}, "yours"),
            ("assigned", {"assignee": ["8005", None]}, None),
            ("note", {}, "Customer called again"),
        ]
        with pytest.raises(TicketNotFound):
            history(s, 999)


def test_concurrent_saves_one_wins(sessions: sessionmaker[Session]) -> None:
    """Two sessions read version 0; only the first save lands, the second is stale."""
    with sessions() as s:
        ticket_id = order(s).id
    with sessions() as a, sessions() as b:
        seen_a, seen_b = get_ticket(a, ticket_id), get_ticket(b, ticket_id)
        assert seen_a.version == seen_b.version == 0
        update_fields(a, ticket_id, {"quantity": 4}, by="8001", now=T0, version=0)
        with pytest.raises(StaleTicket):
            update_fields(b, ticket_id, {"quantity": 9}, by="8002", now=T0, version=0)
    with sessions() as s:
        assert get_ticket(s, ticket_id).details["quantity"] == 4


# --- search ---------------------------------------------------------------------------


@pytest.fixture
def filed(sessions: sessionmaker[Session]) -> dict[str, int]:
    """Four tickets over three days, by two agents."""
    with sessions() as s:
        ids = {
            "order": order(s, summary="Weekly milk", details={**ORDER, "channel": "retail"}).id,
            "complaint": create_ticket(
                s, kind="complaint", created_by="8002", now=T0 + timedelta(days=1),
                details={**PRODUCT_COMPLAINT, "reason": "100% sour_ish, 变质"},
                contact_name="Zhang Wei", contact_phone="+86 139 1111 2222",
            ).id,
            "inquiry": create_ticket(
                s, kind="inquiry", created_by="8002", now=T0 + timedelta(days=2),
                details={"question": "Do you deliver to Tongzhou?", "topic": "delivery"},
                contact_name="O'Brien; DROP TABLE tickets;--", contact_phone="13700000000",
            ).id,
            "fault": create_ticket(
                s, kind="fault", created_by="8003", now=T0 + timedelta(days=2, hours=1),
                details={"description": "Line dead", "location": "Quality lab"},
            ).id,
        }  # fmt: skip
        change_status(s, ids["fault"], "in_progress", by="8003", now=T0 + timedelta(days=3))
    return ids


def found(sessions: sessionmaker[Session], **filters: Any) -> list[int]:
    with sessions() as s:
        return [t.id for t in search(s, **filters)]


def test_search_by_each_filter(sessions: sessionmaker[Session], filed: dict[str, int]) -> None:
    order_id, complaint, inquiry, fault = (
        filed[k] for k in ("order", "complaint", "inquiry", "fault")
    )
    # Newest first.
    assert found(sessions) == [fault, inquiry, complaint, order_id]
    # Any notation, or a part of the number.
    assert found(sessions, number="0086 139-1111-2222") == [complaint]
    assert found(sessions, number="2222") == [complaint]
    assert found(sessions, number="138 0000") == [order_id]
    assert found(sessions, name="zhang") == [complaint]
    assert found(sessions, kind="inquiry") == [inquiry]
    assert found(sessions, status="in_progress") == [fault]
    assert found(sessions, status="new", kind="order") == [order_id]
    assert found(sessions, date_from=T0 + timedelta(days=1)) == [fault, inquiry, complaint]
    assert found(sessions, date_to=T0 + timedelta(days=1)) == [order_id]
    assert found(sessions, date_from=T0 + timedelta(days=1), date_to=T0 + timedelta(days=2)) == [
        complaint
    ]
    # Free text: summary, contact name, text fields of the details, any case.
    assert found(sessions, text="WEEKLY") == [order_id]
    assert found(sessions, text="wei") == [complaint]
    assert found(sessions, text="tongzhou") == [inquiry]
    assert found(sessions, text="quality lab") == [fault]
    assert found(sessions, text="变质") == [complaint]
    # Keys and flags of the details are not text.
    assert found(sessions, text="batch_number") == []
    assert found(sessions, visible_to="8002") == [inquiry, complaint]
    assert found(sessions, limit=2) == [fault, inquiry]
    assert found(sessions, limit=2, offset=2) == [complaint, order_id]


def test_search_input_is_data_not_sql(
    sessions: sessionmaker[Session], filed: dict[str, int]
) -> None:
    complaint, inquiry = filed["complaint"], filed["inquiry"]
    # LIKE wildcards match themselves only.
    assert found(sessions, text="%") == [complaint]
    assert found(sessions, text="100%") == [complaint]
    assert found(sessions, text="_") == [complaint]
    # As wildcards these would match "100% sour".
    assert found(sessions, text="100_") == []
    assert found(sessions, text="1%sour") == []
    assert found(sessions, name="%") == []
    assert found(sessions, name="_") == []
    # Quotes and SQL are just text.
    assert found(sessions, name="O'Brien; DROP TABLE tickets;--") == [inquiry]
    assert found(sessions, text="' OR '1'='1") == []
    assert found(sessions, text="/") == []
    assert len(found(sessions)) == 4


def test_search_refuses_bad_filters(sessions: sessionmaker[Session]) -> None:
    with sessions() as s, pytest.raises(TicketInvalid) as caught:
        search(
            s, number="abc", kind="lost", status="done", limit=0, offset=-1,
            date_from=datetime(2024, 1, 1),
        )  # fmt: skip
    assert set(caught.value.errors) == {"number", "kind", "status", "limit", "offset", "date_from"}


def test_day_bounds_are_local_days() -> None:
    tz = ZoneInfo("Asia/Shanghai")
    start, end = day_bounds(date(2024, 5, 6), date(2024, 5, 7), tz)
    assert start == datetime(2024, 5, 5, 16, 0, tzinfo=UTC)
    assert end == datetime(2024, 5, 7, 16, 0, tzinfo=UTC)
    assert day_bounds(None, None, tz) == (None, None)


# --- escalation on create and on change -------------------------------------------------


def test_a_product_quality_complaint_is_escalated_at_once_and_an_injury_found_later_too(
    sessions: sessionmaker[Session],
) -> None:
    from pathlib import Path

    from ticketdb.models import Notification
    from tickets.config import load_rules

    rules = load_rules(Path(__file__).resolve().parents[3] / "config" / "tickets.yaml")
    with sessions() as s:
        ticket = create_ticket(
            s, kind="complaint", details=PRODUCT_COMPLAINT, created_by="8001", now=T0,
            contact_phone="13800000001", escalation=rules,
        )  # fmt: skip
        told = {n.rule for n in s.scalars(select(Notification))}
        assert told == {"product_quality"}
        assert get_ticket(s, ticket.id).severity == "normal"

        # The customer says on the callback that they were hospitalised.
        update_fields(s, ticket.id, {"injury": True}, by="8001", now=T0, escalation=rules)
        assert get_ticket(s, ticket.id).severity == "urgent"
        rules_told = {n.rule for n in s.scalars(select(Notification))}
        assert rules_told == {"product_quality", "injury"}
        # Without the rules (e.g. an import), nothing more is sent.
        before = count(s, Notification)
        update_fields(s, ticket.id, {"summary": "sour yoghurt"}, by="8001", now=T0)
        assert count(s, Notification) == before
