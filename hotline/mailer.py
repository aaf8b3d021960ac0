"""Send the outbox's due e-mail over SMTP, one message per notification.

A pass never raises for a mail-server problem: each failure is recorded as an attempt
on its message (with the backoff before the next), so a dead server costs nothing but
time. When the server cannot be reached at all, the rest of the pass's messages are
recorded as failed with the same reason instead of each trying to connect in turn.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

from sqlalchemy.orm import Session, sessionmaker

from kernel.backoff import RetryPolicy
from kernel.settings import SmtpSettings
from ticketdb.models import Notification
from tickets.outbox import backlog, claim, due_emails, record_attempt

log = logging.getLogger(__name__)

# A claimed message is left alone by other senders this long; well over one SMTP
# conversation, so only a sender that died mid-pass lets it be retried early.
MIN_LEASE = timedelta(seconds=60)
NOT_CONFIGURED = "smtp.host is empty: e-mail is not configured and waits in the outbox"


@dataclass(frozen=True)
class DeliveryReport:
    sent: int
    failed: int
    # E-mail still pending in the outbox after this pass (due later or retrying).
    remaining: int
    # Why nothing was tried (e-mail not configured), else None.
    note: str | None = None


def backoff_for(smtp: SmtpSettings) -> RetryPolicy:
    return RetryPolicy(smtp.retry_initial, smtp.retry_factor, smtp.retry_max, smtp.max_attempts)


def lease_for(smtp: SmtpSettings) -> timedelta:
    return max(MIN_LEASE, timedelta(seconds=4 * smtp.timeout))


def message_for(n: Notification, smtp: SmtpSettings, now: datetime) -> EmailMessage:
    """The e-mail for one notification. Its Message-ID is fixed per notification, so a
    receiving system can drop the copy of a message retried after a lost reply."""
    msg = EmailMessage()
    domain = smtp.sender.rpartition("@")[2] or "localhost"
    msg["From"] = smtp.sender
    msg["To"] = n.recipient
    msg["Subject"] = n.subject
    msg["Date"] = format_datetime(now.astimezone(UTC))
    msg["Message-ID"] = f"<hotline-notification-{n.id}@{domain}>"
    msg["X-Hotline-Notification"] = str(n.id)
    if n.ticket_id is not None:
        msg["X-Hotline-Ticket"] = str(n.ticket_id)
    if n.severity == "urgent":
        msg["Importance"] = "high"
        msg["X-Priority"] = "1"
    msg.set_content(n.body)
    return msg


# The server refused this one message (and smtplib reset the session): the connection
# still serves the next one.
_MESSAGE_REFUSED = (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused)


class _ServerUnreachable(Exception):
    """Connecting, STARTTLS or login failed: no message of this pass can go out."""


def _connect(smtp: SmtpSettings) -> smtplib.SMTP:
    try:
        conn = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
    except OSError as exc:
        raise _ServerUnreachable(f"cannot connect to {smtp.host}:{smtp.port}: {exc}") from exc
    try:
        if smtp.starttls:
            conn.starttls(context=ssl.create_default_context())
        if smtp.username:
            conn.login(smtp.username, smtp.password)
    except OSError as exc:
        _close(conn)
        raise _ServerUnreachable(f"{smtp.host}:{smtp.port}: {exc}") from exc
    return conn


def _close(conn: smtplib.SMTP | None) -> None:
    if conn is None:
        return
    try:
        conn.quit()
    except OSError:
        conn.close()


def deliver_due(
    sessions: sessionmaker[Session],
    smtp: SmtpSettings,
    now: datetime | None = None,
    limit: int = 50,
) -> DeliveryReport:
    """One pass over the due e-mail (oldest first, at most ``limit``)."""
    now = now or datetime.now(UTC)
    with sessions() as s:
        if not smtp.host:
            return DeliveryReport(0, 0, backlog(s), NOT_CONFIGURED)
        due = due_emails(s, now, limit)
    backoff, lease = backoff_for(smtp), lease_for(smtp)
    sent = failed = 0
    conn: smtplib.SMTP | None = None
    unreachable: str | None = None
    try:
        for n in due:
            with sessions() as s:
                if not claim(s, n.id, now, lease):
                    continue  # another sender has it, or it went out meanwhile
                error = unreachable
                if error is None:
                    try:
                        if conn is None:
                            conn = _connect(smtp)
                        conn.send_message(message_for(n, smtp, now))
                    except _ServerUnreachable as exc:
                        error = unreachable = str(exc)
                    except OSError as exc:  # smtplib.SMTPException is an OSError
                        error = f"{type(exc).__name__}: {exc}"
                        if not isinstance(exc, _MESSAGE_REFUSED):
                            _close(conn)  # the connection is unusable; reconnect next time
                            conn = None
                record_attempt(s, n.id, error is None, error, now, backoff)
            if error is None:
                sent += 1
            else:
                failed += 1
                log.warning("notification %s to %s not sent: %s", n.id, n.recipient, error)
    finally:
        _close(conn)
    with sessions() as s:
        remaining = backlog(s)
    return DeliveryReport(sent, failed, remaining)
