"""Controller nodes sharing one database: generations, heartbeats, and a dead node's leftovers.

Each node *joins* with a new generation (``join``) and beats its heartbeat every second or
so, but only as that generation: a node that stalled and was buried meanwhile finds its
heartbeat refused and must rejoin (``heartbeat`` returns False) — the fence that stops a
node acting on what it believed before it stalled.

A node silent for longer than the configured limit is dead: its calls are offered nothing
and any live node buries it (``bury``): its waiting callers leave the global queue (so
they no longer hold up the order; if it comes back it enters them again), requests from
the web page for its calls fail, and its view of the phones is forgotten. What may still
be live on its Asterisk is *not* touched: a seat it rings or whose call it carries stays
claimed, and a callback it was dialling stays its own — only the owner, back again, can
tell whether the call is over (it asks its Asterisk), or a lead who frees the seat. Seats
it held without a call (wrap-up, a claim never rung) are released.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from agents.seat_store import release_claims_of_node
from ticketdb.models import AgentPhone, CallControl, ControllerNode, QueueEntry, SeatState
from ticketdb.sql import insert, transaction


def join(s: Session, node: str, now: datetime) -> int:
    """Register ``node`` as a new generation (after a start, or after finding it was
    buried); commits; returns the generation."""
    with transaction(s):
        last = s.scalar(
            select(func.max(ControllerNode.generation)).where(ControllerNode.name == node)
        )
        # Claims outlive a burial (see above): a node's generations keep counting up from
        # the highest any claim carries, so a new generation is never mistaken for an old.
        claimed = s.scalar(
            select(func.max(SeatState.claim_generation)).where(SeatState.claimed_by_node == node)
        )
        generation = max(last or 0, claimed or 0) + 1
        stmt = insert(s, ControllerNode).values(
            name=node, started_at=now, heartbeat_at=now, generation=generation
        )
        s.execute(
            stmt.on_conflict_do_update(
                index_elements=["name"],
                set_={"started_at": now, "heartbeat_at": now, "generation": generation},
            )
        )
    return generation


def heartbeat(s: Session, node: str, generation: int, now: datetime) -> bool:
    """Record that ``node`` (this generation of it) is alive; commits. False when the node
    was buried meanwhile or a newer generation took over: it must stop and rejoin."""
    with transaction(s):
        result = s.execute(
            update(ControllerNode)
            .where(ControllerNode.name == node, ControllerNode.generation == generation)
            .values(heartbeat_at=now)
            .execution_options(synchronize_session=False)
        )
    return getattr(result, "rowcount", 0) == 1


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
    """Clean up after a dead node (see the module's docstring); commits; returns the
    number of agent claims released (only those with no call on them).

    Idempotent, and safe when two live nodes bury the same node at once (each step is a
    conditional update or delete).
    """
    released = release_claims_of_node(s, node, now)
    with transaction(s):
        s.execute(delete(QueueEntry).where(QueueEntry.node == node, QueueEntry.status == "waiting"))
        # Requests from the web page its calls will never answer now.
        s.execute(
            update(CallControl)
            .where(CallControl.node == node, CallControl.status.in_(("pending", "taken")))
            .values(status="failed", result=f"node {node} is gone", done_at=now)
        )
        s.execute(delete(AgentPhone).where(AgentPhone.node == node))
        s.execute(delete(ControllerNode).where(ControllerNode.name == node))
    return released


def held_by(s: Session, node: str) -> list[tuple[int, str]]:
    """Seats ``node`` holds with a call on them (ringing or on a call): (agent id, state)."""
    return [
        (agent_id, state)
        for agent_id, state in s.execute(
            select(SeatState.agent_id, SeatState.state).where(
                SeatState.claimed_by_node == node, SeatState.state.in_(("ringing", "on_call"))
            )
        )
    ]
