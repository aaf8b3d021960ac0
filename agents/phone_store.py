"""Agents' phones as each node's Asterisk sees them: reachable or not, and busy or not.

A node writes only its own rows (``record``): every node rings through its own Asterisk,
so whether it can reach a phone is its own question, while a phone busy on any node's
Asterisk is busy for all. An agent's phone is *offline* when every node that reported on
it finds it unreachable; a node that stops or is buried takes its rows with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ticketdb.models import AgentPhone
from ticketdb.sql import insert, transaction


class PhoneStatus(StrEnum):
    """What the desk, the wallboard and the API show of an agent's phone."""

    READY = "ready"  # reachable and free (or nothing known against it)
    OFFLINE = "offline"  # not registered / refused by every node that tried
    BUSY = "busy"  # carrying a call the queue did not give it


@dataclass(frozen=True, slots=True)
class PhoneSeen:
    """One node's view of one agent's phone."""

    agent_id: int
    endpoint: str
    reachable: bool
    channels: int = 0  # channels on the phone other than this node's own queue legs
    reason: str | None = None


def record(s: Session, node: str, seen: Iterable[PhoneSeen], now: datetime) -> None:
    """Store ``node``'s view of these phones (insert or replace); commits."""
    rows = [
        {
            "agent_id": p.agent_id,
            "node": node,
            "endpoint": p.endpoint,
            "reachable": p.reachable,
            "channels": p.channels,
            "reason": None if p.reachable else (p.reason or "unreachable")[:256],
            "changed_at": now,
        }
        for p in seen
    ]
    if not rows:
        return
    with transaction(s):
        stmt = insert(s, AgentPhone)
        s.execute(
            stmt.on_conflict_do_update(
                index_elements=["agent_id", "node"],
                set_={
                    "endpoint": stmt.excluded.endpoint,
                    "reachable": stmt.excluded.reachable,
                    "channels": stmt.excluded.channels,
                    "reason": stmt.excluded.reason,
                    "changed_at": stmt.excluded.changed_at,
                },
            ),
            rows,
        )


def forget_node(s: Session, node: str) -> None:
    """Drop ``node``'s rows (it stopped, or is gone); commits."""
    with transaction(s):
        s.execute(delete(AgentPhone).where(AgentPhone.node == node))


def unreachable_from(s: Session, node: str) -> set[int]:
    """Agents whose phone ``node``'s Asterisk cannot reach now."""
    return set(
        s.scalars(
            select(AgentPhone.agent_id).where(
                AgentPhone.node == node, AgentPhone.reachable.is_(False)
            )
        )
    )


def busy(s: Session, agent_ids: Iterable[int] | None = None) -> set[int]:
    """Agents whose phone carries a call on any node's Asterisk that no queue gave it."""
    query = select(AgentPhone.agent_id).where(AgentPhone.channels > 0)
    if agent_ids is not None:
        query = query.where(AgentPhone.agent_id.in_(list(agent_ids)))
    return set(s.scalars(query))


@dataclass(frozen=True, slots=True)
class PhoneView:
    status: PhoneStatus
    reason: str | None = None


def statuses(s: Session) -> Mapping[int, PhoneView]:
    """Each agent's phone as people see it; agents nobody reported on are not listed
    (nothing is known against them: they count as ready)."""
    by_agent: dict[int, list[AgentPhone]] = {}
    for row in s.scalars(select(AgentPhone).order_by(AgentPhone.agent_id, AgentPhone.node)):
        by_agent.setdefault(row.agent_id, []).append(row)
    out: dict[int, PhoneView] = {}
    for agent_id, rows in by_agent.items():
        if any(r.channels > 0 for r in rows):
            out[agent_id] = PhoneView(PhoneStatus.BUSY)
        elif not any(r.reachable for r in rows):
            out[agent_id] = PhoneView(PhoneStatus.OFFLINE, rows[0].reason)
        else:
            out[agent_id] = PhoneView(PhoneStatus.READY)
    return out


def offline(s: Session) -> set[int]:
    """Agents whose phone no node can reach."""
    return {a for a, v in statuses(s).items() if v.status is PhoneStatus.OFFLINE}
