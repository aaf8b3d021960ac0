"""The screen pop: which ticket form a call needs (pure), and the queries that find the
caller at an agent's seat and their history (on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from agents.seat_store import add_agent
from ticketdb.customers import upsert_customer
from ticketdb.models import Call, CallbackRequest, QueueEntry, SeatState
from ticketdb.screen_pop import (
    CallKind,
    caller_history,
    current_pop,
    kind_for,
    menu_keys,
    menu_nodes,
)
from tickets.store import create_ticket

T0 = datetime(2024, 6, 3, 9, 0, tzinfo=UTC)
NUMBER = "13812345678"


def enter(node: str) -> dict[str, Any]:
    return {"t": "2024-06-03T09:00:00.000+00:00", "event": "enter", "node": node}


def key(node: str, digit: str) -> dict[str, Any]:
    return {"t": "2024-06-03T09:00:01.000+00:00", "event": "key", "node": node, "key": digit}


DAIRY_COMPLAINT = [enter("entry"), enter("language"), key("language", "1"), enter("main"),
                   key("main", "2"), enter("complaint"), key("complaint", "1")]  # fmt: skip


# --- the kind of a call (pure) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("queue", "path", "expected"),
    [
        ("quality", DAIRY_COMPLAINT, CallKind("complaint", "product_quality")),
        ("service", DAIRY_COMPLAINT, CallKind("complaint", "service_quality")),
        # The operator queue says nothing: the complaint menu the caller was in does.
        ("operator", DAIRY_COMPLAINT, CallKind("complaint")),
        ("complaints", [enter("main"), enter("complaints")], CallKind("complaint")),
        ("orders", [enter("main"), enter("order")], CallKind("order")),
        ("faults", [enter("main"), enter("faults")], CallKind("fault")),
        ("broadband", [enter("main"), enter("consult")], CallKind("inquiry")),
        ("inquiries", [], CallKind("inquiry")),
        # Nothing to go on: the inquiry form, which every call can start from.
        ("operator", [enter("entry"), enter("main")], CallKind("inquiry")),
        (None, [], CallKind("inquiry")),
    ],
)
def test_the_kind_comes_from_the_queue_then_the_menu(
    queue: str | None, path: list[dict[str, Any]], expected: CallKind
) -> None:
    assert kind_for(path, queue) == expected


def test_the_deepest_menu_node_decides() -> None:
    # Went into complaints, backed out and ordered instead.
    path = [enter("main"), enter("complaint"), enter("main"), enter("order")]
    assert kind_for(path, "operator") == CallKind("order")
    assert kind_for(list(reversed(path)), "operator") == CallKind("complaint")


def test_an_injury_is_a_product_quality_complaint_whatever_the_queue() -> None:
    hurt = CallKind("complaint", "product_quality", injury=True)
    assert kind_for(DAIRY_COMPLAINT, "quality", injury=True) == hurt
    assert kind_for([], "operator", injury=True) == hurt
    assert kind_for([enter("injury_line")], None) == hurt


def test_malformed_path_entries_are_skipped() -> None:
    path: list[Any] = ["junk", 3, {"event": "enter"}, {"node": "order"}, enter("faults")]
    assert kind_for(path, None) == CallKind("fault")


def test_menu_path_as_shown() -> None:
    path = [*DAIRY_COMPLAINT, enter("complaint")]  # a repeat: shown once
    assert menu_nodes(path) == ["entry", "language", "main", "complaint"]
    assert menu_keys(path) == "121"
    assert menu_nodes([]) == [] and menu_keys([]) == ""


# --- queries ---------------------------------------------------------------------------


def _agent(sessions: sessionmaker[Session], staff: str = "8001") -> int:
    with sessions() as s:
        return add_agent(s, staff_number=staff, name="Li Na", endpoint=f"PJSIP/{staff}").id


def _seat(
    sessions: sessionmaker[Session],
    agent_id: int,
    state: str,
    node: str | None = "n1",
    channel: str | None = "ch-1",
) -> None:
    with sessions() as s:
        s.execute(
            update(SeatState)
            .where(SeatState.agent_id == agent_id)
            .values(
                state=state,
                since=T0,
                claimed_by_node=node,
                claim_channel=channel,
                version=SeatState.version + 1,
            )
        )
        s.commit()


def _call(
    s: Session,
    channel: str,
    number: str = NUMBER,
    started: datetime = T0,
    **extra: Any,
) -> int:
    call = Call(
        node="n1",
        channel_id=channel,
        caller_number=number,
        caller_name="",
        started_at=started,
        **extra,
    )
    s.add(call)
    s.commit()
    return call.id


def test_no_pop_without_a_call_at_the_seat(sessions: sessionmaker[Session]) -> None:
    agent_id = _agent(sessions)
    with sessions() as s:
        assert current_pop(s, agent_id) is None  # offline
        assert current_pop(s, 9999) is None  # no such agent
    _seat(sessions, agent_id, "available", None, None)
    with sessions() as s:
        assert current_pop(s, agent_id) is None
    _seat(sessions, agent_id, "wrap_up", "n1", "ch-1")  # the call is over
    with sessions() as s:
        assert current_pop(s, agent_id) is None
    _seat(sessions, agent_id, "ringing", None, None)  # a claim-less ringing seat
    with sessions() as s:
        assert current_pop(s, agent_id) is None


def test_a_ringing_call_pops_with_customer_menu_path_and_kind(
    sessions: sessionmaker[Session],
) -> None:
    agent_id = _agent(sessions)
    with sessions() as s:
        customer = upsert_customer(s, phone="138-1234-5678", name="Wang Fang", tier="vip")
        call_id = _call(s, "ch-1", menu_path=DAIRY_COMPLAINT, queue="quality", customer_tier="vip")
    _seat(sessions, agent_id, "ringing")
    with sessions() as s:
        pop = current_pop(s, agent_id)
    assert pop is not None
    assert (pop.state, pop.key, pop.call_id) == ("ringing", "n1/ch-1", call_id)
    assert (pop.number, pop.name, pop.tier, pop.customer_id) == (
        NUMBER,
        "Wang Fang",
        "vip",
        customer.id,
    )
    assert pop.queue == "quality"
    assert pop.menu_path == DAIRY_COMPLAINT
    assert pop.kind == CallKind("complaint", "product_quality")
    assert pop.callback_id is None

    _seat(sessions, agent_id, "on_call")
    with sessions() as s:
        answered = current_pop(s, agent_id)
    assert answered is not None and answered.state == "on_call" and answered.key == pop.key


def test_before_the_record_is_written_the_queue_entry_names_the_caller(
    sessions: sessionmaker[Session],
) -> None:
    agent_id = _agent(sessions)
    with sessions() as s:
        s.add(
            QueueEntry(
                node="n1",
                channel_id="ch-1",
                queue="quality",
                tier="member",
                injury=True,
                arrived_at=T0,
                entered_at=T0,
                status="offered",
                agent_id=agent_id,
                caller_number="+8613900000001",
            )
        )
        s.commit()
    _seat(sessions, agent_id, "ringing")
    with sessions() as s:
        pop = current_pop(s, agent_id)
    assert pop is not None
    assert (pop.call_id, pop.number, pop.name, pop.tier) == (None, "+8613900000001", "", "member")
    assert pop.kind == CallKind("complaint", "product_quality", injury=True)


def test_a_callback_dial_pops_the_customer_called_back(sessions: sessionmaker[Session]) -> None:
    agent_id = _agent(sessions)
    with sessions() as s:
        request = CallbackRequest(
            node="",
            channel_id="ticket:1",
            number="13700000002",
            requested_at=T0,
            source="complaint",
            assigned_to=agent_id,
        )
        s.add(request)
        s.flush()
        entry = QueueEntry(
            node="n1",
            channel_id="dial:1",
            queue="worklist",
            arrived_at=T0,
            entered_at=T0,
            status="dialing",
            agent_id=agent_id,
            callback_id=request.id,
        )
        s.add(entry)
        s.commit()
        entry_id, request_id = entry.id, request.id
    _seat(sessions, agent_id, "ringing", "n1", f"cb{entry_id}-1-1717405200")
    with sessions() as s:
        pop = current_pop(s, agent_id)
    assert pop is not None
    assert (pop.number, pop.callback_id) == ("13700000002", request_id)


def test_caller_history_by_number_in_any_notation(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        customer = upsert_customer(s, phone=NUMBER, name="Wang Fang", tier="member")
        old = _call(s, "old-1", NUMBER, T0 - timedelta(days=3), queue="orders", agent="8002")
        older = _call(s, "old-2", "+86 138 1234 5678", T0 - timedelta(days=9))
        dashed = _call(s, "old-3", "138-1234-5678", T0 - timedelta(days=5))
        _call(s, "other", "13999999999", T0 - timedelta(days=1))
        current = _call(s, "now", NUMBER, T0)
        by_phone = create_ticket(
            s, kind="inquiry", details={"question": "price?", "topic": "prices"},
            created_by="8002", now=T0 - timedelta(days=3), contact_phone=NUMBER,
        )  # fmt: skip
        by_customer = create_ticket(
            s, kind="other", details={"description": "x"}, created_by="8002",
            now=T0 - timedelta(days=2), customer_id=customer.id,
        )  # fmt: skip
        create_ticket(
            s, kind="other", details={"description": "someone else"}, created_by="8002",
            now=T0, contact_phone="13999999999",
        )  # fmt: skip
        history = caller_history(
            s, "138-1234-5678", customer_id=customer.id, exclude_call_id=current
        )
    # Calls by the caller ID as given or normalised; a country-code notation is another
    # caller ID (caller IDs arrive in one notation per trunk).
    assert [c.id for c in history.calls] == [old, dashed]
    assert older not in [c.id for c in history.calls]
    assert history.calls[0].queue == "orders" and history.calls[0].agent == "8002"
    assert [t.id for t in history.tickets] == [by_customer.id, by_phone.id]
    assert history.tickets[1].kind == "inquiry" and history.tickets[1].category == "prices"


def test_caller_history_is_bounded_and_empty_for_a_withheld_number(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as s:
        for i in range(5):
            _call(s, f"c{i}", NUMBER, T0 - timedelta(hours=i))
        history = caller_history(s, NUMBER, limit=3)
        assert [c.started_at for c in history.calls] == [
            T0,
            T0 - timedelta(hours=1),
            T0 - timedelta(hours=2),
        ]
        assert caller_history(s, "").calls == []
        assert caller_history(s, "  ").tickets == []
