"""The shift rules' view of the seats: a ``Roster`` snapshot read from the database.

``agents.shifts`` decides on rosters without touching the database; this is the one
place that builds them, for the queue engine (who is routable), the API (may this agent
go away) and the wallboard (alerts).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import update
from sqlalchemy.orm import Session

from agents import phone_store
from agents.seat_store import AgentSeat, list_seats
from agents.shifts import AgentView, Roster, ShiftConfig
from ticketdb.models import Agent


def read_roster(
    s: Session, config: ShiftConfig, seats: Sequence[AgentSeat] | None = None
) -> Roster:
    """Every active agent with their seat state and skills, under ``config``; from
    ``seats`` when the caller has just read them (``list_seats``), saving a second read."""
    views = []
    acting: int | None = None
    offline = phone_store.offline(s)
    for row in list_seats(s) if seats is None else seats:
        agent, seat = row.agent, row.seat
        if not agent.active:
            continue
        views.append(
            AgentView(
                id=agent.id,
                name=agent.name,
                role=agent.role,  # type: ignore[arg-type]  # checked by the table's constraint
                team=agent.team,
                state=seat.state,  # type: ignore[arg-type]
                state_since=seat.since,
                away_reason=seat.reason if seat.state == "away" else None,
                away_limit_minutes=agent.away_limit_minutes,
                skills=dict(row.skills),
                phone_offline=agent.id in offline,
            )
        )
        if agent.acting_lead and agent.role == "agent" and acting is None:
            acting = agent.id
    return Roster(config, tuple(views), acting_lead_id=acting)


def set_acting_lead(s: Session, agent_id: int | None) -> None:
    """Designate the acting lead (a normal seat), or none; commits."""
    try:
        if agent_id is not None:
            agent = s.get(Agent, agent_id)
            if agent is None:
                raise LookupError(f"no agent with id {agent_id}")
            if agent.role != "agent":
                raise ValueError("the acting lead must be a normal seat (role agent)")
        s.execute(update(Agent).values(acting_lead=False))
        if agent_id is not None:
            s.execute(update(Agent).where(Agent.id == agent_id).values(acting_lead=True))
        s.commit()
    except BaseException:
        s.rollback()
        raise
