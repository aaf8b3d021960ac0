"""Controller nodes sharing one database: heartbeats, and cleaning up after a dead node.

Each node upserts its heartbeat every second or so. A node silent for longer than the
configured limit is dead: any live node then releases the agents it had claimed (their
calls went with it) and drops its waiting calls from the global queue, so they no longer
hold up the order. Queue callbacks it booked stay: they belong to no node. Should the
node come back, its adopted calls simply enter the queue again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from ticketdb.models import CallControl, ControllerNode, QueueEntry
from ticketdb.seats import release_claims_of_node
from ticketdb.sql import insert, transaction


def heartbeat(s: Session, node: str, now: datetime) -> None:
    """Record that ``node`` is alive; commits."""
    with transaction(s):
        stmt = insert(s, ControllerNode).values(name=node, started_at=now, heartbeat_at=now)
        s.execute(stmt.on_conflict_do_update(index_elements=["name"], set_={"heartbeat_at": now}))


def live_nodes(s: Session, now: datetime, dead_after: float) -> set[str]:
    limit = now - timedelta(seconds=dead_after)
    return set(s.scalars(select(ControllerNode.name).where(ControllerNode.heartbeat_at >= limit)))


def dead_nodes(s: Session, now: datetime, dead_after: float) -> list[str]:
    limit = now - timedelta(seconds=dead_after)
    return list(
        s.scalars(
            select(ControllerNode.name)
            .where(ControllerNode.heartbeat_at < limit)
            .order_by(ControllerNode.name)
        )
    )


def bury(s: Session, node: str, now: datetime) -> int:
    """Clean up after a dead node; commits; returns the number of agent claims released.

    Idempotent, and safe when two live nodes bury the same node at once (each step is a
    conditional update or delete).
    """
    released = release_claims_of_node(s, node, now)
    with transaction(s):
        s.execute(
            delete(QueueEntry).where(
                QueueEntry.node == node, QueueEntry.status.in_(("waiting", "offered", "connected"))
            )
        )
        # Callbacks it was dialling wait again, for any live node.
        s.execute(
            update(QueueEntry)
            .where(QueueEntry.dialing_node == node, QueueEntry.status == "dialing")
            .values(status="callback", dialing_node=None, agent_id=None, updated_at=now)
        )
        # Requests from the web page its calls will never answer now.
        s.execute(
            update(CallControl)
            .where(CallControl.node == node, CallControl.status.in_(("pending", "taken")))
            .values(status="failed", result=f"node {node} is gone", done_at=now)
        )
        s.execute(delete(ControllerNode).where(ControllerNode.name == node))
    return released
