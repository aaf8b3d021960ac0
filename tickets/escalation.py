"""Which escalation rules a ticket matches, how severe it becomes, and who is told.

Pure: the rules come from ``tickets.config`` and the ticket's facts are passed in;
``tickets.escalation_store`` stores the result (the outbox rows, the raised severity).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from tickets.config import EscalationRule, TicketRules

SEVERITIES = ("normal", "high", "urgent")
Channel = Literal["email", "inapp"]
# Notification.subject is a String(256).
MAX_SUBJECT = 256


@dataclass(frozen=True)
class TicketFacts:
    """What the rules look at and the notices name."""

    id: int
    kind: str
    category: str | None
    details: Mapping[str, Any] = field(default_factory=dict)
    contact_name: str = ""
    contact_phone: str = ""
    summary: str = ""
    severity: str = "normal"


@dataclass(frozen=True)
class Notice:
    """One message to one recipient over one channel, for one rule."""

    rule: str
    department: str
    channel: Channel
    # An e-mail address, or (in-app) a role or staff number.
    recipient: str
    subject: str
    body: str
    severity: str


@dataclass(frozen=True)
class Escalation:
    rules: tuple[EscalationRule, ...]
    severity: str
    # The first matched rule's first department; None when nothing matched.
    department: str | None
    notices: tuple[Notice, ...]


def matches(
    rule: EscalationRule, kind: str, category: str | None, details: Mapping[str, Any]
) -> bool:
    """The rule's kind, its category (when it names one) and its flag (when it names one,
    the detail must be exactly ``True``: a missing or false flag does not escalate)."""
    if rule.kind != kind:
        return False
    if rule.category is not None and rule.category != category:
        return False
    return rule.flag is None or details.get(rule.flag) is True


def matching_rules(
    rules: TicketRules, kind: str, category: str | None, details: Mapping[str, Any]
) -> tuple[EscalationRule, ...]:
    """The rules that apply, in the order of the rules file."""
    return tuple(r for r in rules.escalation if matches(r, kind, category, details))


def _rank(severity: str | None) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else 0


def raised_severity(current: str, matched: Iterable[EscalationRule]) -> str:
    """The higher of the ticket's severity and every matched rule's; never lowered."""
    best = current if current in SEVERITIES else "normal"
    for rule in matched:
        if rule.severity is not None and _rank(rule.severity) > _rank(best):
            best = rule.severity
    return best


def _label(kind: str, category: str | None) -> str:
    return kind if not category else f"{kind} ({category.replace('_', ' ')})"


def _subject(facts: TicketFacts, severity: str) -> str:
    who = " ".join(p for p in (facts.contact_name.strip(), facts.contact_phone.strip()) if p)
    text = f"Ticket #{facts.id}: {_label(facts.kind, facts.category)} — {who or 'caller unknown'}"
    if severity == "urgent":
        text = f"URGENT: {text}"
    return text if len(text) <= MAX_SUBJECT else text[: MAX_SUBJECT - 1] + "…"


def _body(facts: TicketFacts, rule: EscalationRule, title: str, severity: str) -> str:
    lines = [
        *(["URGENT — act at once.", ""] if severity == "urgent" else []),
        f"Ticket #{facts.id}: {_label(facts.kind, facts.category)}, severity {severity}",
        f"Customer: {facts.contact_name.strip() or '(no name)'}, "
        f"phone {facts.contact_phone.strip() or '(no number)'}",
    ]
    if facts.summary.strip():
        lines.append(f"Summary: {facts.summary.strip()}")
    shown = [(k, v) for k, v in sorted(facts.details.items()) if v not in (None, "", [], {})]
    if shown:
        lines += ["", "Details:", *(f"  {k.replace('_', ' ')}: {v}" for k, v in shown)]
    lines += ["", f"Rule {rule.name}: {rule.description or '(no description)'}", f"To: {title}"]
    return "\n".join(lines) + "\n"


def notices_for(
    facts: TicketFacts, matched: Iterable[EscalationRule], rules: TicketRules, severity: str
) -> tuple[Notice, ...]:
    """One notice per (rule, channel, recipient): e-mail to each of the rule's departments'
    addresses, in-app to each of their in-app entries. A recipient named by two departments
    of one rule is told once (the outbox's unique key is per rule, not per department)."""
    out: list[Notice] = []
    seen: set[tuple[str, str, str]] = set()
    subject = _subject(facts, severity)
    for rule in matched:
        for name in rule.notify:
            dept = rules.departments[name]
            body = _body(facts, rule, dept.title, severity)
            targets: list[tuple[Channel, str]] = [("email", a) for a in dept.email]
            targets += [("inapp", r) for r in dept.inapp]
            for channel, recipient in targets:
                key = (rule.name, channel, recipient)
                if key in seen:
                    continue
                seen.add(key)
                out.append(Notice(rule.name, name, channel, recipient, subject, body, severity))
    return tuple(out)


def evaluate(facts: TicketFacts, rules: TicketRules) -> Escalation:
    """Everything the rules say about this ticket as it stands now."""
    matched = matching_rules(rules, facts.kind, facts.category, facts.details)
    severity = raised_severity(facts.severity, matched)
    department = matched[0].notify[0] if matched else None
    return Escalation(matched, severity, department, notices_for(facts, matched, rules, severity))
