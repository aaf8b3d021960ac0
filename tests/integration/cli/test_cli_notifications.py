"""``hotline notifications list|deliver`` on both back ends, through the parser as
``hotline/cli/main.py`` registers it. (Delivery to a live server:
tests/integration/notifications.)"""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session, sessionmaker

from hotline.cli.notifications import add_notifications_parser
from tests.integration.cli.cli_harness import run_cli
from ticketdb.models import Notification

NOW = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)


def hotline(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    return run_cli(capsys, add_notifications_parser, *argv)


def add(sessions: sessionmaker[Session], recipient: str, channel: str = "email") -> int:
    with sessions() as s:
        n = Notification(
            ticket_id=None,
            rule="injury",
            channel=channel,
            recipient=recipient,
            subject=f"URGENT: for {recipient}",
            body="...",
            severity="urgent",
            created_at=NOW,
        )
        s.add(n)
        s.commit()
        return n.id


def test_list_shows_the_outbox_with_filters(
    site_sessions: sessionmaker[Session], capsys: pytest.CaptureFixture[str]
) -> None:
    assert hotline(capsys, "notifications", "list") == (0, "no notifications\n", "")
    add(site_sessions, "gm-office@example.com")
    add(site_sessions, "lead", channel="inapp")
    code, out, err = hotline(capsys, "notifications", "list")
    assert (code, err) == (0, "")
    header, *rows = out.splitlines()
    assert header.split()[:4] == ["id", "created", "(UTC)", "status"]
    assert len(rows) == 2
    code, out, _ = hotline(capsys, "notifications", "list", "--channel", "email")
    assert code == 0 and "gm-office@example.com" in out and " lead " not in out
    assert hotline(capsys, "notifications", "list", "--status", "sent")[1] == "no notifications\n"
    code, _, err = hotline(capsys, "notifications", "list", "--limit", "0")
    assert code == 2 and "--limit" in err


def test_deliver_without_a_mail_server_configured_says_so(
    site_sessions: sessionmaker[Session], capsys: pytest.CaptureFixture[str]
) -> None:
    add(site_sessions, "gm-office@example.com")
    code, out, err = hotline(capsys, "notifications", "deliver")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "smtp.host is empty: e-mail is not configured and waits in the outbox",
        "sent 0, failed 0, e-mail still pending 1",
    ]


def test_deliver_with_the_server_down_records_the_attempt(
    site_sessions: sessionmaker[Session],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("HOTLINE_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("HOTLINE_SMTP_PORT", str(port))
    nid = add(site_sessions, "gm-office@example.com")
    code, out, err = hotline(capsys, "notifications", "deliver")
    assert (code, out, err) == (0, "sent 0, failed 1, e-mail still pending 1\n", "")
    code, out, _ = hotline(capsys, "notifications", "list")
    assert code == 0 and "last error: cannot connect to 127.0.0.1" in out
    with site_sessions() as s:
        n = s.get(Notification, nid)
        assert n is not None and (n.status, n.attempts) == ("pending", 1)
