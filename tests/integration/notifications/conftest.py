"""A migrated database per test (SQLite file and PostgreSQL schema, via ``db_url``) and a
real SMTP server (aiosmtpd) that keeps what it receives."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope
from aiosmtpd.smtp import Session as SmtpSession
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ticketdb.engine import make_engine, make_sessionmaker
from ticketdb.migrate import upgrade


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    upgrade(db_url)
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(engine)


def free_port() -> int:
    """A port nothing listens on (until a test starts a server there)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class Mailbox:
    """The aiosmtpd handler: keeps every message; refuses the recipients in ``refuse``."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refuse: set[str] = set()

    async def handle_RCPT(
        self, server: SMTP, session: SmtpSession, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: SmtpSession, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        message = message_from_bytes(content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 Message accepted for delivery"

    def ids(self) -> list[int]:
        return [int(str(m["X-Hotline-Notification"])) for m in self.messages]


class SmtpServer:
    """Start and stop a real SMTP server on one fixed port of 127.0.0.1."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.mailbox = Mailbox()
        self._controller: Controller | None = None

    def start(self) -> None:
        # start() returns once the server answers on the port.
        self._controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """Not started: the test decides when the mail server comes up."""
    server = SmtpServer(free_port())
    yield server
    server.stop()
