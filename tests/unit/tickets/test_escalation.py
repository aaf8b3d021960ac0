"""Every escalation rule of the shipped config/tickets.yaml (domain.md §2): who is told,
over which channel, how severe the ticket becomes, and what the notice says."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tickets.config import TicketRules, load_rules, parse_rules
from tickets.escalation import TicketFacts, evaluate, raised_severity

SHIPPED = Path(__file__).resolve().parents[3] / "config" / "tickets.yaml"


@pytest.fixture(scope="module")
def rules() -> TicketRules:
    return load_rules(SHIPPED)


def facts(kind: str, category: str | None = None, **details: Any) -> TicketFacts:
    return TicketFacts(
        id=42,
        kind=kind,
        category=category,
        details=details,
        contact_name="Wang Fang",
        contact_phone="13800138000",
        summary="Milk tasted sour",
    )


def targets(result: Any) -> set[tuple[str, str, str]]:
    return {(n.rule, n.channel, n.recipient) for n in result.notices}


def test_product_quality_goes_to_qc_cs_manager_and_gm_office(rules: TicketRules) -> None:
    result = evaluate(facts("complaint", "product_quality", batch_number="B-7"), rules)
    assert [r.name for r in result.rules] == ["product_quality"]
    assert result.severity == "normal"
    assert result.department == "qc_manager"
    assert targets(result) == {
        ("product_quality", "email", "qc-manager@example.com"),
        ("product_quality", "email", "cs-manager@example.com"),
        ("product_quality", "email", "gm-office@example.com"),
        ("product_quality", "inapp", "lead"),  # the customer-service manager's in-app entry
    }
    qc = next(n for n in result.notices if n.recipient == "qc-manager@example.com")
    assert qc.subject.startswith("Ticket #42: complaint (product quality)")
    assert "Wang Fang" in qc.subject and "13800138000" in qc.subject
    assert "URGENT" not in qc.subject
    for text in (
        "Ticket #42",
        "Wang Fang",
        "13800138000",
        "Milk tasted sour",
        "batch number: B-7",
        "Product-quality complaint — forwarded at once",
        "To: Quality-control manager",
    ):
        assert text in qc.body


def test_injury_is_urgent_and_goes_to_the_service_center_and_gm_office(
    rules: TicketRules,
) -> None:
    result = evaluate(facts("complaint", "product_quality", injury=True), rules)
    assert [r.name for r in result.rules] == ["product_quality", "injury"]
    assert result.severity == "urgent"
    injury = {t for t in targets(result) if t[0] == "injury"}
    assert injury == {
        ("injury", "email", "cs-center@example.com"),
        ("injury", "email", "gm-office@example.com"),
        ("injury", "inapp", "lead"),
    }
    # Every notice of an urgent ticket is marked urgent, the product-quality ones too.
    assert {n.severity for n in result.notices} == {"urgent"}
    assert all(n.subject.startswith("URGENT: Ticket #42") for n in result.notices)
    body = next(n.body for n in result.notices if n.rule == "injury")
    assert body.startswith("URGENT")
    assert "physically harmed or hospitalised" in body


def test_injury_applies_to_any_complaint_and_only_when_true(rules: TicketRules) -> None:
    alone = evaluate(facts("complaint", None, injury=True), rules)
    assert [r.name for r in alone.rules] == ["injury"]
    assert alone.department == "cs_center"
    for not_hurt in ({}, {"injury": False}, {"injury": "yes"}, {"injury": None}):
        result = evaluate(facts("complaint", "product_quality", **not_hurt), rules)
        assert [r.name for r in result.rules] == ["product_quality"], not_hurt
        assert result.severity == "normal"


def test_service_quality_goes_to_the_customer_service_center(rules: TicketRules) -> None:
    result = evaluate(facts("complaint", "service_quality", problem="late_delivery"), rules)
    assert [r.name for r in result.rules] == ["service_quality"]
    assert result.department == "cs_center"
    assert targets(result) == {
        ("service_quality", "email", "cs-center@example.com"),
        ("service_quality", "inapp", "lead"),
    }
    assert result.severity == "normal"


def test_service_quality_forwarded_on_to_the_marketing_director(rules: TicketRules) -> None:
    result = evaluate(facts("complaint", "service_quality", forward_to_marketing=True), rules)
    assert [r.name for r in result.rules] == ["service_quality", "service_quality_marketing"]
    assert ("service_quality_marketing", "email", "marketing@example.com") in targets(result)
    assert result.department == "cs_center"
    marketing = next(n for n in result.notices if n.recipient == "marketing@example.com")
    assert "passes it on to the marketing director" in marketing.body


@pytest.mark.parametrize(
    ("kind", "category", "details"),
    [
        ("inquiry", None, {"topic": "prices"}),
        ("inquiry", "product_quality", {"injury": True}),  # the kind decides first
        ("order", None, {"quantity": 2}),
        ("fault", None, {}),
        ("other", None, {}),
        ("complaint", None, {}),
    ],
)
def test_nothing_else_escalates(
    rules: TicketRules, kind: str, category: str | None, details: dict[str, Any]
) -> None:
    result = evaluate(facts(kind, category, **details), rules)
    assert result.rules == () and result.notices == ()
    assert result.department is None and result.severity == "normal"


def test_severity_is_never_lowered() -> None:
    rules = parse_rules(
        """\
departments:
  qc: {email: [qc@example.com]}
escalation:
  - {name: high, when: {kind: complaint}, severity: high, notify: [qc]}
"""
    )
    assert raised_severity("normal", rules.escalation) == "high"
    assert raised_severity("urgent", rules.escalation) == "urgent"
    assert raised_severity("high", ()) == "high"
    already = TicketFacts(id=1, kind="complaint", category=None, severity="urgent")
    assert evaluate(already, rules).severity == "urgent"


def test_one_notice_per_rule_channel_and_recipient() -> None:
    # Two departments of one rule sharing an address (and an in-app role): told once.
    rules = parse_rules(
        """\
departments:
  a: {title: A, email: [shared@example.com, a@example.com], inapp: [lead]}
  b: {title: B, email: [shared@example.com], inapp: [lead, "9001"]}
escalation:
  - {name: both, when: {kind: order}, notify: [a, b]}
"""
    )
    result = evaluate(TicketFacts(id=3, kind="order", category=None), rules)
    assert sorted((n.channel, n.recipient, n.department) for n in result.notices) == [
        ("email", "a@example.com", "a"),
        ("email", "shared@example.com", "a"),
        ("inapp", "9001", "b"),
        ("inapp", "lead", "a"),
    ]
    assert "caller unknown" in result.notices[0].subject
