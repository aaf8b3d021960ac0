"""Apply the escalation rules to a stored ticket: outbox rows, raised severity, history.

Call ``escalate`` after every create and every change of a ticket: it is idempotent. A
rule acts once per ticket; the unique key (ticket, rule, channel, recipient) of
``notifications`` makes a repeated or concurrent call insert nothing twice, and the
ticket is only touched (severity, department, an "escalated" event) for rules it had not
matched before, so a lead who lowers the severity by hand is not overruled by the next
edit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ticketdb.models import Notification, Ticket, TicketEvent
from ticketdb.sql import insert, transaction
from tickets.config import TicketRules
from tickets.escalation import TicketFacts, evaluate

ACTOR = "system"
ACTION = "escalated"


def _facts(ticket: Ticket) -> TicketFacts:
    details = dict(ticket.details or {})
    category = ticket.category
    if category is None and isinstance(details.get("category"), str):
        category = details["category"]
    return TicketFacts(
        id=ticket.id,
        kind=ticket.kind,
        category=category,
        details=details,
        contact_name=ticket.contact_name or "",
        contact_phone=ticket.contact_phone or "",
        summary=ticket.summary or "",
        severity=ticket.severity,
    )


def applied_rules(s: Session, ticket_id: int) -> set[str]:
    """Rules that already acted on the ticket: those with outbox rows, and those named by
    earlier "escalated" events (a rule whose departments have no address leaves no row)."""
    done = set(s.scalars(select(Notification.rule).where(Notification.ticket_id == ticket_id)))
    events = s.scalars(
        select(TicketEvent.changes).where(
            TicketEvent.ticket_id == ticket_id, TicketEvent.action == ACTION
        )
    )
    for changes in events:
        rules = (changes or {}).get("rules")
        if isinstance(rules, list) and len(rules) == 2 and isinstance(rules[1], list):
            done.update(r for r in rules[1] if isinstance(r, str))
    return done


def escalate(s: Session, ticket: Ticket, rules: TicketRules, now: datetime) -> int:
    """Notify for every rule the ticket newly matches; returns the notifications created.

    One transaction: the outbox rows, the raised severity, the department (the first
    matched rule's first department) and one "escalated" event. In-app notices start
    "pending" and are delivered by being listed to their recipients. The ticket passed
    in is updated to match the stored row.
    """
    with transaction(s):
        # Row lock (PostgreSQL): concurrent escalations of one ticket take turns.
        row = s.scalars(select(Ticket).where(Ticket.id == ticket.id).with_for_update()).one()
        result = evaluate(_facts(row), rules)
        before = applied_rules(s, row.id)
        fresh = [r for r in result.rules if r.name not in before]
        if not fresh:
            return 0
        fresh_names = {r.name for r in fresh}
        notices = [n for n in result.notices if n.rule in fresh_names]
        inserted: list[str] = []
        if notices:
            stmt = (
                insert(s, Notification)
                .values(
                    [
                        {
                            "ticket_id": row.id,
                            "rule": n.rule,
                            "channel": n.channel,
                            "recipient": n.recipient,
                            "subject": n.subject,
                            "body": n.body,
                            "severity": n.severity,
                            "created_at": now,
                            "status": "pending",
                            "attempts": 0,
                        }
                        for n in notices
                    ]
                )
                .on_conflict_do_nothing(
                    index_elements=["ticket_id", "rule", "channel", "recipient"]
                )
                .returning(Notification.rule)
            )
            inserted = list(s.scalars(stmt))
        # A rule whose rows another transaction inserted first has been handled there.
        with_rows = {n.rule for n in notices}
        acted = [r for r in fresh if r.name not in with_rows or r.name in inserted]
        if not acted:
            return 0
        changes: dict[str, Any] = {
            "rules": [sorted(before), sorted(before | {r.name for r in acted})]
        }
        if result.severity != row.severity:
            changes["severity"] = [row.severity, result.severity]
            row.severity = result.severity
        if result.department is not None and result.department != row.department:
            changes["department"] = [row.department, result.department]
            row.department = result.department
        row.updated_at = now
        row.version = (row.version or 0) + 1
        s.add(
            TicketEvent(
                ticket_id=row.id,
                at=now,
                actor=ACTOR,
                action=ACTION,
                changes=changes,
                note="; ".join(f"{r.name}: {r.description or r.name}" for r in acted),
            )
        )
    if row is not ticket:
        ticket.severity, ticket.department = row.severity, row.department
        ticket.updated_at, ticket.version = row.updated_at, row.version
    return len(inserted)


def escalate_recent(s: Session, rules: TicketRules, now: datetime, since: datetime) -> int:
    """Escalate every ticket changed since ``since`` again; returns new notifications.

    Tickets are escalated right after they are saved, in a second transaction; a process
    that dies between the two would leave a ticket unescalated. The delivery job runs
    this first, so such a ticket is escalated within one run — repeats add nothing.
    """
    ids = list(s.scalars(select(Ticket.id).where(Ticket.updated_at >= since).order_by(Ticket.id)))
    made = 0
    for ticket_id in ids:
        ticket = s.get(Ticket, ticket_id)
        if ticket is not None:
            made += escalate(s, ticket, rules, now)
    return made
