"""``hotline tokens add|list|revoke`` on both back ends, through the parser as
``hotline/cli/main.py`` registers it; the printed token works against the database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session, sessionmaker

from agents.api_tokens import PREFIX, verify
from agents.seat_store import add_agent
from hotline.cli.tokens import add_tokens_parser
from tests.integration.cli.cli_harness import run_cli


def hotline(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    return run_cli(capsys, add_tokens_parser, "tokens", *argv)


def _agents(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        for staff, role in (("8001", "agent"), ("9001", "lead")):
            add_agent(
                s, staff_number=staff, name=f"A {staff}", endpoint=f"PJSIP/{staff}", role=role
            )


def test_add_prints_the_token_once_and_it_works(
    site_sessions: sessionmaker[Session], capsys: pytest.CaptureFixture[str]
) -> None:
    _agents(site_sessions)
    code, out, err = hotline(capsys, "add", "9001", "--name", "Acme CRM")
    assert code == 0
    token = out.strip()
    assert out == token + "\n" and token.startswith(PREFIX)
    assert err.startswith("token 1 for 9001 (lead), 'Acme CRM': shown only now")
    with site_sessions() as s:
        agent = verify(s, token, datetime.now(UTC))
        assert agent is not None and agent.staff_number == "9001"

    code, out, _ = hotline(capsys, "list")
    assert code == 0
    assert token not in out
    header, row = out.splitlines()
    assert header.split() == ["id", "agent", "role", "status", "created", "last", "used", "name"]
    assert row.split()[:4] == ["1", "9001", "lead", "active"]
    assert row.endswith("Acme CRM")


def test_list_filters_and_revoke(
    site_sessions: sessionmaker[Session], capsys: pytest.CaptureFixture[str]
) -> None:
    _agents(site_sessions)
    assert hotline(capsys, "list")[1] == "no API tokens\n"
    _, first, _ = hotline(capsys, "add", "8001", "--name", "one")
    hotline(capsys, "add", "9001", "--name", "two")
    code, out, _ = hotline(capsys, "list", "--agent", "8001")
    assert code == 0 and [line.split()[1] for line in out.splitlines()[1:]] == ["8001"]

    assert hotline(capsys, "revoke", "1") == (0, "token 1 revoked\n", "")
    assert hotline(capsys, "revoke", "1") == (0, "token 1 was already revoked\n", "")
    with site_sessions() as s:
        assert verify(s, first.strip(), datetime.now(UTC)) is None
    rows = hotline(capsys, "list")[1].splitlines()[1:]
    assert [r.split()[3] for r in rows] == ["revoked", "active"]


def test_refusals(site_sessions: sessionmaker[Session], capsys: pytest.CaptureFixture[str]) -> None:
    _agents(site_sessions)
    assert hotline(capsys, "add", "7777", "--name", "crm") == (
        1,
        "",
        "hotline: error: no agent with staff number 7777\n",
    )
    code, out, err = hotline(capsys, "add", "8001", "--name", " ")
    assert (code, out) == (2, "") and err.startswith("hotline: error: name: required")
    assert hotline(capsys, "revoke", "42") == (1, "", "hotline: error: no API token 42\n")
    assert hotline(capsys, "list", "--agent", "7777")[0] == 1
    with pytest.raises(SystemExit):
        hotline(capsys, "revoke", "not-a-number")
