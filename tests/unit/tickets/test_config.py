"""The ticket rules file: the shipped one loads; each kind of mistake is one line naming
the file, the line and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from tickets.config import TicketRulesError, default_rules, load_rules, parse_rules

SHIPPED = Path(__file__).resolve().parents[3] / "config" / "tickets.yaml"


def test_the_shipped_rules_load() -> None:
    rules = load_rules(SHIPPED)
    assert set(rules.departments) == {
        "qc_manager",
        "cs_manager",
        "gm_office",
        "cs_center",
        "marketing_director",
    }
    assert [r.name for r in rules.escalation] == [
        "product_quality",
        "injury",
        "service_quality",
        "service_quality_marketing",
    ]
    injury = rules.escalation[1]
    assert (injury.kind, injury.category, injury.flag) == ("complaint", None, "injury")
    assert injury.severity == "urgent"
    assert rules.departments["gm_office"].email == ("gm-office@example.com",)
    assert rules.departments["cs_center"].inapp == ("lead",)
    assert rules.sla.urgent_first_response_minutes == 10
    assert rules.sla.by_kind["complaint"].resolution_working_days == 3
    assert rules.dispatch.channels == ("retail", "home_delivery")
    assert "Haidian" in rules.dispatch.sales_areas


def test_no_file_means_no_escalations() -> None:
    rules = default_rules()
    assert rules.escalation == () and dict(rules.departments) == {}


BAD = {
    "unknown department": (
        """\
departments:
  qc: {email: [qc@example.com]}
escalation:
  - name: r1
    when: {kind: complaint}
    notify: [qc, nobody]
""",
        ":6: escalation.0.notify.1: unknown department 'nobody' (departments: qc)",
    ),
    "bad e-mail": (
        """\
departments:
  qc:
    title: QC
    email:
      - qc@example.com
      - qc-manager.example.com
""",
        ":6: departments.qc.email.1: not an e-mail address: 'qc-manager.example.com'",
    ),
    "duplicate rule name": (
        """\
departments:
  qc: {email: [qc@example.com]}
escalation:
  - name: r1
    when: {kind: complaint}
    notify: [qc]
  - name: r1
    when: {kind: order}
    notify: [qc]
""",
        ":7: escalation.1.name: rule 'r1' is defined twice",
    ),
    "unknown key": (
        """\
departments:
  qc: {email: [qc@example.com]}
escalation:
  - name: r1
    when: {kind: complaint, flavour: odd}
    notify: [qc]
""",
        ":5: escalation.0.when.flavour: unknown key",
    ),
    "bad YAML": (
        """\
departments:
  qc: {email: [qc@example.com]
escalation: []
""",
        ":3: not valid YAML",
    ),
    "unknown severity": (
        """\
departments:
  qc: {email: [qc@example.com]}
escalation:
  - name: r1
    when: {kind: complaint}
    severity: critical
    notify: [qc]
""",
        ":6: escalation.0.severity: Input should be 'normal', 'high' or 'urgent'",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_file_is_one_line_naming_file_line_and_key(tmp_path: Path, case: str) -> None:
    text, expected = BAD[case]
    path = tmp_path / "tickets.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TicketRulesError) as caught:
        load_rules(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}{expected}"), message
    # parse_rules names the source it is given the same way.
    with pytest.raises(TicketRulesError, match=r"^x\.yaml:"):
        parse_rules(text, Path("x.yaml"))


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    with pytest.raises(TicketRulesError, match=rf"^{path}: cannot read ticket rules"):
        load_rules(path)
