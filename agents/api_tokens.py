"""Bearer tokens for the CRM integration API (``/api/v1``).

A token acts as the agent it was made for, with that agent's role. Only the token's
sha256 is stored: the plain token is returned once, by ``create_token``, and a copy of
the database does not give working tokens. A token stops working when it is revoked or
its agent is deactivated.

The tokens are 256 random bits, so one unsalted sha256 is enough (there is nothing to
guess from a hash); the lookup by hash through the unique index leaks nothing useful.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from agents.seat_store import UnknownAgent, agent_by_staff_number
from ticketdb.models import Agent, ApiToken
from ticketdb.sql import transaction

# Lets a leaked token be recognised in logs and by secret scanners.
PREFIX = "hl_"
MAX_NAME = 64
# last_used_at is only rewritten this much later: one write per request would make every
# read of the API a database write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class TokenNotFound(LookupError):
    pass


@dataclass(frozen=True)
class TokenInfo:
    """A token as listed: never the token itself."""

    id: int
    staff_number: str
    role: str
    agent_active: bool
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def usable(self) -> bool:
        return self.revoked_at is None and self.agent_active


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _name(name: str) -> str:
    clean = " ".join(name.split())
    if not clean:
        raise ValueError("name: required (what the token is for, e.g. the CRM's name)")
    if len(clean) > MAX_NAME:
        raise ValueError(f"name: at most {MAX_NAME} characters")
    return clean


def create_token(s: Session, staff_number: str, name: str, now: datetime) -> tuple[TokenInfo, str]:
    """A new token for the agent, and the plain token (shown once, never stored); commits.

    UnknownAgent for an unknown staff number, ValueError for a missing or long name or
    an inactive agent (its token could never be used).
    """
    label = _name(name)
    agent = agent_by_staff_number(s, staff_number)
    if agent is None:
        raise UnknownAgent(f"no agent with staff number {staff_number.strip()}")
    if not agent.active:
        raise ValueError(f"agent {agent.staff_number} is disabled")
    plain = PREFIX + secrets.token_urlsafe(32)
    with transaction(s):
        row = ApiToken(agent_id=agent.id, name=label, token_hash=token_hash(plain), created_at=now)
        s.add(row)
        s.flush()
        info = _info(row, agent)
    return info, plain


def verify(s: Session, token: str, now: datetime) -> Agent | None:
    """The active agent the token acts as, or None for an unknown or revoked token or a
    disabled agent. Notes the use (at most once per ``LAST_USED_RESOLUTION``)."""
    if not token.startswith(PREFIX):
        return None
    found = s.execute(
        select(ApiToken, Agent)
        .join(Agent, Agent.id == ApiToken.agent_id)
        .where(ApiToken.token_hash == token_hash(token))
        .execution_options(populate_existing=True)
    ).one_or_none()
    if found is None:
        return None
    row, agent = found
    if row.revoked_at is not None or not agent.active:
        return None
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        with transaction(s):
            s.execute(
                update(ApiToken)
                .where(ApiToken.id == row.id)
                .values(last_used_at=now)
                .execution_options(synchronize_session=False)
            )
    return agent


def revoke(s: Session, token_id: int, now: datetime) -> bool:
    """Revoke the token; commits. False when it was already revoked. TokenNotFound."""
    with transaction(s):
        result = s.execute(
            update(ApiToken)
            .where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=now)
            .execution_options(synchronize_session=False)
        )
        changed = cast(CursorResult[Any], result).rowcount == 1
    if not changed and s.get(ApiToken, token_id) is None:
        raise TokenNotFound(f"no API token {token_id}")
    return changed


def list_tokens(s: Session, staff_number: str | None = None) -> list[TokenInfo]:
    """Every token (or one agent's), oldest first. UnknownAgent for an unknown staff
    number."""
    stmt = select(ApiToken, Agent).join(Agent, Agent.id == ApiToken.agent_id)
    if staff_number is not None:
        agent = agent_by_staff_number(s, staff_number)
        if agent is None:
            raise UnknownAgent(f"no agent with staff number {staff_number.strip()}")
        stmt = stmt.where(ApiToken.agent_id == agent.id)
    rows = s.execute(stmt.order_by(ApiToken.id).execution_options(populate_existing=True))
    return [_info(token, agent) for token, agent in rows]


def _info(row: ApiToken, agent: Agent) -> TokenInfo:
    return TokenInfo(
        id=row.id,
        staff_number=agent.staff_number,
        role=agent.role,
        agent_active=agent.active,
        name=row.name,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )
