"""API tokens on both databases: made once, stored hashed, checked, revoked, listed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from agents.api_tokens import (
    LAST_USED_RESOLUTION,
    PREFIX,
    TokenNotFound,
    create_token,
    list_tokens,
    revoke,
    token_hash,
    verify,
)
from agents.seat_store import UnknownAgent, add_agent
from ticketdb.models import ApiToken

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def _agent(s: Session, staff_number: str, role: str = "agent", active: bool = True) -> int:
    agent = add_agent(
        s,
        staff_number=staff_number,
        name=f"Agent {staff_number}",
        endpoint=f"PJSIP/{staff_number}",
        role=role,
        active=active,
    )
    return agent.id


def test_the_plain_token_is_returned_once_and_only_its_hash_stored(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as s:
        agent_id = _agent(s, "8001")
        info, plain = create_token(s, "8001", "  Acme   CRM ", NOW)
        assert plain.startswith(PREFIX) and len(plain) > 40
        assert (info.staff_number, info.role, info.name) == ("8001", "agent", "Acme CRM")
        stored = s.scalars(select(ApiToken)).one()
        assert stored.agent_id == agent_id
        assert stored.token_hash == token_hash(plain) != plain
        assert plain not in repr(stored.__dict__)
        # Two tokens never share a value.
        _, other = create_token(s, "8001", "Acme CRM", NOW)
        assert other != plain


def test_verify_gives_the_agent_and_notes_the_use(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        _agent(s, "9001", role="lead")
        _, plain = create_token(s, "9001", "crm", NOW)
        agent = verify(s, plain, NOW + timedelta(seconds=5))
        assert agent is not None and (agent.staff_number, agent.role) == ("9001", "lead")
        assert list_tokens(s)[0].last_used_at == NOW + timedelta(seconds=5)
        # Within the resolution the use is not written again; after it, it is.
        verify(s, plain, NOW + timedelta(seconds=30))
        assert list_tokens(s)[0].last_used_at == NOW + timedelta(seconds=5)
        later = NOW + timedelta(seconds=5) + LAST_USED_RESOLUTION
        verify(s, plain, later)
        assert list_tokens(s)[0].last_used_at == later
        # Wrong, truncated and foreign tokens are nobody.
        assert verify(s, plain + "x", NOW) is None
        assert verify(s, plain[:-1], NOW) is None
        assert verify(s, "", NOW) is None
        assert verify(s, token_hash(plain), NOW) is None


def test_a_revoked_token_or_a_disabled_agent_stops_working(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as s:
        _agent(s, "8001")
        _agent(s, "8002")
        first, plain1 = create_token(s, "8001", "crm", NOW)
        _, plain2 = create_token(s, "8002", "crm", NOW)
        assert revoke(s, first.id, NOW) is True
        assert revoke(s, first.id, NOW + timedelta(hours=1)) is False
        assert verify(s, plain1, NOW) is None
        assert list_tokens(s, "8001")[0].revoked_at == NOW  # the first revocation stands
        with pytest.raises(TokenNotFound):
            revoke(s, 999, NOW)

        assert verify(s, plain2, NOW) is not None
        _agent(s, "8002", active=False)
        assert verify(s, plain2, NOW) is None
        assert [t.usable for t in list_tokens(s)] == [False, False]


def test_tokens_only_for_known_active_agents_with_a_name(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as s:
        _agent(s, "8001")
        _agent(s, "8003", active=False)
        with pytest.raises(UnknownAgent):
            create_token(s, "7777", "crm", NOW)
        with pytest.raises(ValueError, match="disabled"):
            create_token(s, "8003", "crm", NOW)
        with pytest.raises(ValueError, match="name: required"):
            create_token(s, "8001", "   ", NOW)
        with pytest.raises(ValueError, match="at most 64"):
            create_token(s, "8001", "x" * 65, NOW)
        assert list_tokens(s) == []
        with pytest.raises(UnknownAgent):
            list_tokens(s, "7777")


def test_list_is_oldest_first_and_filters_by_agent(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        _agent(s, "8001")
        _agent(s, "9901", role="admin")
        create_token(s, "8001", "one", NOW)
        create_token(s, "9901", "two", NOW + timedelta(minutes=1))
        create_token(s, "8001", "three", NOW + timedelta(minutes=2))
        assert [(t.staff_number, t.name) for t in list_tokens(s)] == [
            ("8001", "one"),
            ("9901", "two"),
            ("8001", "three"),
        ]
        assert [t.name for t in list_tokens(s, "8001")] == ["one", "three"]
        assert list_tokens(s)[1].created_at == NOW + timedelta(minutes=1)
