"""``hotline users add|passwd|list|disable|enable`` on both back ends, through the parser
as ``hotline/cli/main.py`` registers it; the password comes from stdin as in a script."""

from __future__ import annotations

import io

import pytest
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.security import check_password_hash

from agents.seat_store import agent_by_staff_number
from hotline.cli.users import add_users_parser
from tests.integration.cli.cli_harness import run_cli
from ticketdb.audit import entries_for


def hotline(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    *argv: str,
    stdin: str = "",
) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return run_cli(capsys, add_users_parser, *argv)


def test_add_stores_a_hash_and_logs_the_change(
    site_sessions: sessionmaker[Session],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, out, err = hotline(
        capsys, monkeypatch, "users", "add", "9901", "--name", "Wang Fang", "--role", "admin",
        stdin="first password 1\n",
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert out == "added 9901 Wang Fang (admin) at PJSIP/9901\n"
    with site_sessions() as s:
        user = agent_by_staff_number(s, "9901")
        assert user is not None and user.password_hash is not None
        assert "first password 1" not in user.password_hash
        assert user.password_hash.startswith("scrypt:")
        assert check_password_hash(user.password_hash, "first password 1")
        (entry,) = entries_for(s, "user", "9901")
        assert (entry.action, entry.role, entry.detail) == ("change", "cli", "added as admin")
        assert entry.actor.startswith("cli:")


def test_add_with_endpoint_and_team_then_list(
    site_sessions: sessionmaker[Session],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert hotline(capsys, monkeypatch, "users", "list")[1].startswith("no users yet")
    code, _, err = hotline(
        capsys, monkeypatch, "users", "add", "8003", "--name", "Li Na", "--role", "agent",
        "--endpoint", "PJSIP/desk3", "--team", "hotline", stdin="agent password\n",
    )  # fmt: skip
    assert (code, err) == (0, "")
    with site_sessions() as s:
        add_agent_without_password(s)
    code, out, _ = hotline(capsys, monkeypatch, "users", "list")
    assert code == 0
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    assert rows["8003"] == ["8003", "Li", "Na", "agent", "hotline", "active", "password", "en"]
    assert rows["8004"][-3:] == ["active", "none", "en"]
    assert "scrypt" not in out


def add_agent_without_password(s: Session) -> None:
    from agents.seat_store import add_agent

    add_agent(s, staff_number="8004", name="Zhao", endpoint="PJSIP/8004")


def test_bad_role_is_a_usage_error(
    site_sessions: sessionmaker[Session],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(SystemExit) as exited:
        hotline(
            capsys, monkeypatch, "users", "add", "8001", "--name", "X", "--role", "boss",
            stdin="long enough pw\n",
        )  # fmt: skip
    assert exited.value.code == 2
    assert "invalid choice: 'boss'" in capsys.readouterr().err
    with site_sessions() as s:
        assert agent_by_staff_number(s, "8001") is None


@pytest.mark.parametrize(
    ("argv", "stdin", "code", "message"),
    [
        (("--name", "X", "--role", "agent"), "short\n", 2, "8-256 characters"),
        (("--name", "X", "--role", "agent"), "", 2, "8-256 characters"),
        (("--name", "X", "--role", "agent", "--endpoint", "nonsense"), "long enough\n", 2,
         "endpoint must look like PJSIP/8001"),
    ],
)  # fmt: skip
def test_add_refuses_bad_input_and_stores_nothing(
    site_sessions: sessionmaker[Session],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: tuple[str, ...],
    stdin: str,
    code: int,
    message: str,
) -> None:
    got, out, err = hotline(capsys, monkeypatch, "users", "add", "8001", *argv, stdin=stdin)
    assert (got, out) == (code, "")
    assert message in err
    with site_sessions() as s:
        assert agent_by_staff_number(s, "8001") is None


def test_add_refuses_an_existing_user(
    site_sessions: sessionmaker[Session],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    argv = ("users", "add", "8001", "--name", "Li", "--role", "agent")
    assert hotline(capsys, monkeypatch, *argv, stdin="password one\n")[0] == 0
    code, _, err = hotline(capsys, monkeypatch, *argv, stdin="password two\n")
    assert code == 1
    assert "already exists" in err
    with site_sessions() as s:
        user = agent_by_staff_number(s, "8001")
        assert user is not None and user.password_hash is not None
        assert check_password_hash(user.password_hash, "password one")


def test_passwd_replaces_the_hash(
    site_sessions: sessionmaker[Session],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hotline(capsys, monkeypatch, "users", "add", "8001", "--name", "Li", "--role", "lead",
            stdin="old password\n")  # fmt: skip
    assert hotline(capsys, monkeypatch, "users", "passwd", "8001", stdin="tiny\n")[0] == 2
    code, _, err = hotline(capsys, monkeypatch, "users", "passwd", "7777", stdin="long enough\n")
    assert code == 1 and "7777" in err
    code, out, _ = hotline(
        capsys, monkeypatch, "users", "passwd", "8001", stdin="new password!\nignored\n"
    )
    assert (code, out) == (0, "password of 8001 set\n")
    with site_sessions() as s:
        user = agent_by_staff_number(s, "8001")
        assert user is not None and user.password_hash is not None
        assert check_password_hash(user.password_hash, "new password!")
        assert not check_password_hash(user.password_hash, "old password")
        details = [e.detail for e in entries_for(s, "user", "8001")]
    assert details == ["added as lead", "password set"]


def test_the_last_admin_cannot_be_disabled(
    site_sessions: sessionmaker[Session],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for staff in ("9901", "9902"):
        hotline(capsys, monkeypatch, "users", "add", staff, "--name", "A", "--role", "admin",
                stdin="admin password\n")  # fmt: skip
    assert hotline(capsys, monkeypatch, "users", "disable", "9901")[:2] == (0, "9901 disabled\n")
    code, _, err = hotline(capsys, monkeypatch, "users", "disable", "9902")
    assert code == 1 and "last active admin" in err
    assert hotline(capsys, monkeypatch, "users", "enable", "9901")[:2] == (0, "9901 enabled\n")
    with site_sessions() as s:
        assert [e.detail for e in entries_for(s, "user", "9901")] == [
            "added as admin",
            "disabled",
            "enabled",
        ]
