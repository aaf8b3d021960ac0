"""The e-mail outbox against a real SMTP server (aiosmtpd on 127.0.0.1), on both
databases: nothing is lost while the server is down, each attempt is recorded with its
backoff, and once it is up every message arrives exactly once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hotline.mailer import NOT_CONFIGURED, DeliveryReport, deliver_due
from kernel.settings import SmtpSettings
from tests.integration.notifications.conftest import SmtpServer
from ticketdb.models import Notification, NotificationAttempt, Ticket
from tickets.config import load_rules
from tickets.escalation_store import escalate

SHIPPED = Path(__file__).resolve().parents[3] / "config" / "tickets.yaml"
NOW = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)
# The injury + product-quality complaint: QC, CS manager, GM office, CS center by e-mail.
EMAILS = {
    "qc-manager@example.com",
    "cs-manager@example.com",
    "gm-office@example.com",
    "cs-center@example.com",
}


def smtp_settings(port: int, **extra: Any) -> SmtpSettings:
    return SmtpSettings.model_validate(
        {
            "host": "127.0.0.1",
            "port": port,
            "sender": "hotline@dairy.example",
            "timeout": 5,
            "retry_initial": 30,
            "retry_factor": 2,
            "retry_max": 3600,
            "max_attempts": 5,
            **extra,
        }
    )


def escalated_ticket(sessions: sessionmaker[Session], name: str = "Zhao Min") -> int:
    with sessions() as s:
        ticket = Ticket(
            kind="complaint",
            category="product_quality",
            details={"injury": True, "batch_number": "B-20250301"},
            contact_name=name,
            contact_phone="13700137000",
            summary="Child hospitalised after drinking yoghurt",
            created_by="8001",
            created_at=NOW,
            updated_at=NOW,
        )
        s.add(ticket)
        s.commit()
        escalate(s, ticket, load_rules(SHIPPED), NOW)
        return ticket.id


def emails(s: Session) -> list[Notification]:
    stmt = select(Notification).where(Notification.channel == "email").order_by(Notification.id)
    return list(s.scalars(stmt))


def attempts(s: Session) -> list[tuple[int, bool]]:
    rows = s.scalars(select(NotificationAttempt).order_by(NotificationAttempt.id))
    return [(a.notification_id, a.ok) for a in rows]


def test_mail_server_down_then_up_every_message_delivered_once(
    sessions: sessionmaker[Session], smtp_server: SmtpServer
) -> None:
    ticket_id = escalated_ticket(sessions)
    smtp = smtp_settings(smtp_server.port)

    down = deliver_due(sessions, smtp, now=NOW)
    assert down == DeliveryReport(sent=0, failed=5, remaining=5)
    with sessions() as s:
        queued = emails(s)
        assert {n.recipient for n in queued} == EMAILS
        for n in queued:
            assert (n.status, n.attempts, n.sent_at) == ("pending", 1, None)
            assert n.last_error is not None and "cannot connect to 127.0.0.1" in n.last_error
            # 30 s ± 10 % jitter.
            assert n.next_attempt_at is not None
            assert NOW + timedelta(seconds=27) <= n.next_attempt_at <= NOW + timedelta(seconds=33)
        assert sorted(attempts(s)) == sorted((n.id, False) for n in queued)
        retry_at = max(n.next_attempt_at for n in queued if n.next_attempt_at is not None)

    # Before the backoff has passed nothing is tried, even with the server back.
    smtp_server.start()
    assert deliver_due(sessions, smtp, now=NOW + timedelta(seconds=20)).sent == 0

    up = deliver_due(sessions, smtp, now=retry_at)
    assert up == DeliveryReport(sent=5, failed=0, remaining=0)
    # A later pass finds nothing more to send.
    assert deliver_due(sessions, smtp, now=retry_at + timedelta(days=1)).sent == 0

    received = smtp_server.mailbox.messages
    with sessions() as s:
        sent = emails(s)
        assert sorted(smtp_server.mailbox.ids()) == [n.id for n in sent]
        assert all((n.status, n.attempts, n.sent_at) == ("sent", 2, retry_at) for n in sent)
        assert sorted(ok for _, ok in attempts(s)) == [False] * 5 + [True] * 5
        # The in-app notice for the leads is not the mailer's business.
        inapp = s.scalars(select(Notification).where(Notification.channel == "inapp")).all()
        assert [(n.recipient, n.status, n.attempts) for n in inapp] == [
            ("lead", "pending", 0),
            ("lead", "pending", 0),
        ]
    by_id = {n.id: n for n in sent}
    for message in received:
        n = by_id[int(str(message["X-Hotline-Notification"]))]
        assert message["To"] == n.recipient
        assert message["From"] == "hotline@dairy.example"
        assert message["Subject"] == n.subject
        assert message["Subject"].startswith(f"URGENT: Ticket #{ticket_id}")
        assert message["Message-ID"] == f"<hotline-notification-{n.id}@dairy.example>"
        body = message.get_body()
        assert body is not None
        text = body.get_content().replace("\r\n", "\n")  # CRLF on the wire
        assert text == n.body
        assert "Zhao Min" in text and "13700137000" in text and "B-20250301" in text


def test_a_refused_recipient_fails_alone(
    sessions: sessionmaker[Session], smtp_server: SmtpServer
) -> None:
    escalated_ticket(sessions)
    smtp_server.mailbox.refuse.add("gm-office@example.com")
    smtp_server.start()
    report = deliver_due(sessions, smtp_settings(smtp_server.port), now=NOW)
    # The GM office gets two messages (product quality and injury); both refused.
    assert report == DeliveryReport(sent=3, failed=2, remaining=2)
    with sessions() as s:
        states = {(n.recipient, n.status) for n in emails(s)}
        refused = [n for n in emails(s) if n.status == "pending"]
    assert states == {
        ("qc-manager@example.com", "sent"),
        ("cs-manager@example.com", "sent"),
        ("cs-center@example.com", "sent"),
        ("gm-office@example.com", "pending"),
    }
    assert all(n.last_error and "no such mailbox" in n.last_error for n in refused)
    assert len(smtp_server.mailbox.messages) == 3


def test_two_senders_at_once_send_each_message_once(
    sessions: sessionmaker[Session], smtp_server: SmtpServer
) -> None:
    for i in range(8):  # 8 tickets × 5 e-mails
        escalated_ticket(sessions, name=f"Customer {i}")
    smtp_server.start()
    smtp = smtp_settings(smtp_server.port)
    start = threading.Barrier(2)

    def sender() -> DeliveryReport:
        start.wait(timeout=10)
        return deliver_due(sessions, smtp, now=NOW, limit=100)

    with ThreadPoolExecutor(2) as pool:
        reports = [f.result(timeout=60) for f in [pool.submit(sender) for _ in range(2)]]
    assert sum(r.sent for r in reports) == 40
    assert sum(r.failed for r in reports) == 0
    ids = smtp_server.mailbox.ids()
    assert len(ids) == 40 and len(set(ids)) == 40
    with sessions() as s:
        assert {(n.status, n.attempts) for n in emails(s)} == {("sent", 1)}
        assert len(attempts(s)) == 40


def test_without_a_mail_server_configured_email_waits(sessions: sessionmaker[Session]) -> None:
    escalated_ticket(sessions)
    report = deliver_due(sessions, SmtpSettings(), now=NOW)
    assert report == DeliveryReport(sent=0, failed=0, remaining=5, note=NOT_CONFIGURED)
    with sessions() as s:
        assert attempts(s) == []
        assert {(n.status, n.attempts) for n in emails(s)} == {("pending", 0)}
