"""Escalating a stored ticket, on both databases: outbox rows once per rule and recipient,
the raised severity and department, and one "escalated" event per newly matched rule."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ticketdb.models import Notification, Ticket, TicketEvent
from tickets.config import TicketRules, load_rules, parse_rules
from tickets.escalation_store import escalate, escalate_recent

SHIPPED = Path(__file__).resolve().parents[3] / "config" / "tickets.yaml"
NOW = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def rules() -> TicketRules:
    return load_rules(SHIPPED)


def new_ticket(
    sessions: sessionmaker[Session], kind: str, category: str | None, **details: Any
) -> Ticket:
    with sessions() as s:
        ticket = Ticket(
            kind=kind,
            category=category,
            details=details,
            contact_name="Li Lei",
            contact_phone="13900139000",
            summary="Customer in hospital after drinking the milk",
            created_by="8001",
            created_at=NOW,
            updated_at=NOW,
        )
        s.add(ticket)
        s.commit()
        return ticket


def outbox_rows(s: Session, ticket_id: int) -> list[tuple[str, str, str, str, str]]:
    rows = s.scalars(
        select(Notification).where(Notification.ticket_id == ticket_id).order_by(Notification.id)
    )
    return [(n.rule, n.channel, n.recipient, n.severity, n.status) for n in rows]


def events(s: Session, ticket_id: int) -> list[TicketEvent]:
    stmt = select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)
    return list(s.scalars(stmt))


def test_escalating_twice_inserts_nothing_twice(
    sessions: sessionmaker[Session], rules: TicketRules
) -> None:
    ticket = new_ticket(sessions, "complaint", "product_quality", injury=True)
    with sessions() as s:
        assert escalate(s, ticket, rules, NOW) == 7
        first = outbox_rows(s, ticket.id)
    with sessions() as s:
        assert escalate(s, ticket, rules, NOW + timedelta(minutes=5)) == 0
        assert outbox_rows(s, ticket.id) == first
        history = events(s, ticket.id)
        stored = s.get(Ticket, ticket.id)
        assert stored is not None
        assert (stored.severity, stored.department) == ("urgent", "qc_manager")
    assert {(r[0], r[1], r[2]) for r in first} == {
        ("product_quality", "email", "qc-manager@example.com"),
        ("product_quality", "email", "cs-manager@example.com"),
        ("product_quality", "email", "gm-office@example.com"),
        ("product_quality", "inapp", "lead"),
        ("injury", "email", "cs-center@example.com"),
        ("injury", "email", "gm-office@example.com"),
        ("injury", "inapp", "lead"),
    }
    assert {(r[3], r[4]) for r in first} == {("urgent", "pending")}
    # The caller's ticket object follows the stored row.
    assert (ticket.severity, ticket.department) == ("urgent", "qc_manager")
    assert len(history) == 1
    event = history[0]
    assert (event.action, event.actor, event.at) == ("escalated", "system", NOW)
    assert event.changes == {
        "rules": [[], ["injury", "product_quality"]],
        "severity": ["normal", "urgent"],
        "department": [None, "qc_manager"],
    }
    assert event.note is not None and "injury" in event.note


def test_a_rule_matched_later_notifies_only_its_own_recipients(
    sessions: sessionmaker[Session], rules: TicketRules
) -> None:
    ticket = new_ticket(sessions, "complaint", "service_quality", problem="staff_attitude")
    with sessions() as s:
        assert escalate(s, ticket, rules, NOW) == 2
    with sessions() as s:
        stored = s.get(Ticket, ticket.id)
        assert stored is not None
        stored.details = {**stored.details, "forward_to_marketing": True}
        s.commit()
        assert escalate(s, stored, rules, NOW + timedelta(hours=1)) == 1
        rows = outbox_rows(s, ticket.id)
        history = events(s, ticket.id)
    assert [r[:3] for r in rows] == [
        ("service_quality", "email", "cs-center@example.com"),
        ("service_quality", "inapp", "lead"),
        ("service_quality_marketing", "email", "marketing@example.com"),
    ]
    assert [e.changes["rules"][1] for e in history] == [
        ["service_quality"],
        ["service_quality", "service_quality_marketing"],
    ]
    # The department stays the first matched rule's: the customer-service center.
    assert "department" not in history[1].changes
    assert stored.department == "cs_center" and stored.severity == "normal"


def test_a_lowered_severity_is_not_raised_again_by_the_same_rule(
    sessions: sessionmaker[Session], rules: TicketRules
) -> None:
    ticket = new_ticket(sessions, "complaint", None, injury=True)
    with sessions() as s:
        escalate(s, ticket, rules, NOW)
        stored = s.get(Ticket, ticket.id)
        assert stored is not None and stored.severity == "urgent"
        stored.severity = "high"  # the lead's judgement
        s.commit()
        assert escalate(s, stored, rules, NOW) == 0
        assert stored.severity == "high"
        assert len(events(s, ticket.id)) == 1


def test_tickets_no_rule_matches_are_left_alone(
    sessions: sessionmaker[Session], rules: TicketRules
) -> None:
    ticket = new_ticket(sessions, "inquiry", None, topic="prices")
    with sessions() as s:
        assert escalate(s, ticket, rules, NOW) == 0
        assert outbox_rows(s, ticket.id) == [] and events(s, ticket.id) == []
        stored = s.get(Ticket, ticket.id)
        assert stored is not None
        assert (stored.severity, stored.department, stored.version) == ("normal", None, 0)


def test_a_rule_without_recipients_still_acts_once(sessions: sessionmaker[Session]) -> None:
    # Severity only: the department has no address yet. Remembered through its event.
    quiet = parse_rules(
        """\
departments:
  field: {title: Field engineers}
escalation:
  - {name: outage, when: {kind: fault, flag: outage}, severity: high, notify: [field]}
"""
    )
    ticket = new_ticket(sessions, "fault", None, outage=True)
    with sessions() as s:
        assert escalate(s, ticket, quiet, NOW) == 0
        assert escalate(s, ticket, quiet, NOW) == 0
        history = events(s, ticket.id)
        assert [e.changes for e in history] == [
            {
                "rules": [[], ["outage"]],
                "severity": ["normal", "high"],
                "department": [None, "field"],
            }
        ]
        assert outbox_rows(s, ticket.id) == []


def test_concurrent_escalations_notify_once(
    sessions: sessionmaker[Session], rules: TicketRules
) -> None:
    ticket = new_ticket(sessions, "complaint", "product_quality", injury=True)
    start = threading.Barrier(4)

    def run() -> int:
        with sessions() as s:
            start.wait(timeout=10)
            return escalate(s, ticket, rules, NOW)

    with ThreadPoolExecutor(4) as pool:
        created = [f.result(timeout=30) for f in [pool.submit(run) for _ in range(4)]]
    assert sorted(created) == [0, 0, 0, 7]
    with sessions() as s:
        assert len(outbox_rows(s, ticket.id)) == 7
        assert len(events(s, ticket.id)) == 1


def test_a_ticket_saved_but_not_escalated_is_caught_up_once(
    sessions: sessionmaker[Session], rules: TicketRules
) -> None:
    # Saved, then the process died before escalating (new_ticket never escalates).
    lost = new_ticket(sessions, "complaint", "product_quality", injury=True)
    old = new_ticket(sessions, "complaint", "service_quality")
    with sessions() as s:
        s.get(Ticket, old.id).updated_at = NOW - timedelta(days=2)  # type: ignore[union-attr]
        s.commit()
        since = NOW - timedelta(hours=1)
        assert escalate_recent(s, rules, NOW, since) > 0
        assert {r[0] for r in outbox_rows(s, lost.id)} == {"product_quality", "injury"}
        assert outbox_rows(s, old.id) == []  # outside the window: left alone
        assert escalate_recent(s, rules, NOW, since) == 0
