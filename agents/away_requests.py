"""Away requests waiting for the lead: an agent's own request to step away that the shift
rules refused, which a lead may approve (an override of the rule) or deny.

Stored as lead alerts of kind ``away_request`` (one open per agent: asking again while
one waits refreshes nothing), so they reach every wallboard and the handover summary with
no table of their own. The message is written for people and starts with the away
reason, which approving needs back: ``away (toilet) refused by max_away_at_once: …``.
Every function commits or only reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from agents.lead_store import raise_alert
from agents.seats import AWAY_REASONS
from ticketdb.models import LeadAlert
from ticketdb.sql import transaction

KIND = "away_request"
_MESSAGE = re.compile(r"^away \((?P<reason>[a-z_]+)\) refused by (?P<rule>[a-z_]+): ")


@dataclass(frozen=True)
class AwayRequest:
    id: int
    agent_id: int
    reason: str
    rule: str
    message: str
    raised_at: datetime


class NoSuchRequest(LookupError):
    pass


def message_for(reason: str, rule: str, refusal: str) -> str:
    return f"away ({reason}) refused by {rule}: {refusal}"


def record(
    s: Session, *, agent_id: int, reason: str, rule: str, refusal: str, node: str, now: datetime
) -> bool:
    """Note the agent's refused request for the lead; commits. False when one of theirs is
    already waiting (it is kept, with its original time)."""
    if reason not in AWAY_REASONS:
        raise ValueError(f"reason must be one of {', '.join(AWAY_REASONS)}")
    return raise_alert(
        s,
        kind=KIND,
        severity="warning",
        message=message_for(reason, rule, refusal),
        agent_id=agent_id,
        node=node,
        now=now,
    )


def _parsed(row: LeadAlert) -> AwayRequest | None:
    found = _MESSAGE.match(row.message)
    if found is None or row.agent_id is None:
        return None
    return AwayRequest(
        row.id, row.agent_id, found["reason"], found["rule"], row.message, row.raised_at
    )


def pending(s: Session) -> list[AwayRequest]:
    """Requests not yet decided, oldest first."""
    rows = s.scalars(
        select(LeadAlert)
        .where(LeadAlert.kind == KIND, LeadAlert.cleared_at.is_(None))
        .order_by(LeadAlert.raised_at, LeadAlert.id)
        .execution_options(populate_existing=True)
    )
    return [r for r in (_parsed(row) for row in rows) if r is not None]


def get(s: Session, request_id: int) -> AwayRequest:
    """A pending request; NoSuchRequest when there is none with this id (or decided)."""
    for request in pending(s):
        if request.id == request_id:
            return request
    raise NoSuchRequest(f"no pending away request {request_id}")


def close(s: Session, request_id: int, *, decision: str, now: datetime) -> bool:
    """Mark the request decided, keeping the decision (e.g. "denied by 9001") on its row;
    commits. False when it was decided already."""
    with transaction(s):
        row = s.get(LeadAlert, request_id, populate_existing=True)
        if row is None or row.kind != KIND or row.cleared_at is not None:
            return False
        row.cleared_at = now
        row.message = f"{row.message} [{decision}]"
    return True
