"""Seat changes caused by calls: an agent rung, answering, not answering, hanging up.

Ringing an agent (``ring``) is the claim itself: one conditional UPDATE — available and
unclaimed → ringing, claimed by this node — in the same transaction as its history row,
so of any number of nodes offering calls to one agent exactly one succeeds (the same
guard as ``seats.claim_available``). The other changes go through
``agents.seat_store.set_state`` (validated by the seat machine, stored with their history
row, checked against the node's claim), made by ``"system"``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from agents.seat_store import (
    SYSTEM,
    StaleState,
    agent_by_staff_number,
    get_seat,
    release_claim,
    set_state,
)
from agents.seats import IllegalTransition, State
from ticketdb.models import Agent, QueueEntry, SeatState, SeatStateChange
from ticketdb.sql import transaction


@dataclass(frozen=True)
class Rung:
    agent_id: int
    staff_number: str
    name: str
    endpoint: str


def ring(
    s: Session,
    *,
    agent_id: int,
    node: str,
    channel_id: str,
    now: datetime,
    entry_id: int | None = None,
    generation: int | None = None,
) -> Rung | None:
    """Claim the agent for ``channel_id`` and set the seat ringing, in one transaction;
    commits. With ``entry_id`` the queue entry is marked offered in the same commit.

    The claim is one conditional UPDATE (available and unclaimed → ringing, claimed by
    ``node``): exactly one of any number of concurrent offers wins — the seat machine's
    ``available --offer--> ringing`` with the claim, written as the history row too. None
    when another node (or call) got the agent first or the seat is no longer available:
    the caller stays in the queue for the next pass.
    """
    with transaction(s):
        result = s.execute(
            update(SeatState)
            .where(
                SeatState.agent_id == agent_id,
                SeatState.state == State.AVAILABLE.value,
                SeatState.claimed_by_node.is_(None),
            )
            .values(
                state=State.RINGING.value,
                since=now,
                reason=None,
                wrap_up_until=None,
                claimed_by_node=node,
                claim_channel=channel_id,
                claimed_at=now,
                claim_generation=generation,
                version=SeatState.version + 1,
            )
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) != 1:
            return None
        s.add(
            SeatStateChange(
                agent_id=agent_id,
                from_state=State.AVAILABLE.value,
                to_state=State.RINGING.value,
                at=now,
                by=SYSTEM,
                node=node,
            )
        )
        if entry_id is not None:
            s.execute(
                update(QueueEntry)
                .where(QueueEntry.id == entry_id)
                .values(status="offered", agent_id=agent_id, updated_at=now)
                .execution_options(synchronize_session=False)
            )
        row = s.execute(
            select(Agent.staff_number, Agent.name, Agent.endpoint).where(Agent.id == agent_id)
        ).one()
    return Rung(agent_id, row.staff_number, row.name, row.endpoint)


def ring_by_staff_number(
    s: Session,
    *,
    staff_number: str,
    node: str,
    channel_id: str,
    now: datetime,
    generation: int | None = None,
) -> Rung | str:
    """Claim one named agent (a transfer to them); the reason as a string when not."""
    agent = agent_by_staff_number(s, staff_number)
    if agent is None or not agent.active:
        return f"no agent {staff_number}"
    seat = get_seat(s, agent.id)
    if seat.state != "available" or seat.claimed_by_node is not None:
        return f"agent {staff_number} is {seat.state.replace('_', ' ')}"
    rung = ring(
        s, agent_id=agent.id, node=node, channel_id=channel_id, now=now, generation=generation
    )
    return rung if rung is not None else f"agent {staff_number} was just taken"


def answered(
    s: Session, *, agent_id: int, node: str, now: datetime, channel_id: str | None = None
) -> None:
    """The offer was answered; with ``channel_id``, only that call's offer (NotClaimed
    otherwise); commits."""
    set_state(
        s,
        agent_id=agent_id,
        to_state="on_call",
        by=SYSTEM,
        node=node,
        now=now,
        channel_id=channel_id,
    )
    with transaction(s):
        s.execute(update(Agent).where(Agent.id == agent_id).values(missed_in_row=0))


def no_answer(
    s: Session,
    *,
    agent_id: int,
    node: str,
    now: datetime,
    missed: bool,
    misses_before_away: int,
    channel_id: str | None = None,
) -> bool:
    """The offer ended unanswered; commits. True when this miss set the agent away.

    Only rings that ran out (or were refused) count as misses; an offer withdrawn because
    the caller left does not. After ``misses_before_away`` misses in a row the seat goes
    straight from ringing to away ("missed_calls"), so no node can offer it another call.
    With ``channel_id``, only that call's offer ends: the seat may ring for another call
    of this node by the time a late no-answer arrives.
    """
    seat = get_seat(s, agent_id)
    if seat.state != "ringing" or seat.claimed_by_node != node:
        return False  # already moved on (a lead reset it, or a replay)
    if channel_id is not None and seat.claim_channel != channel_id:
        return False  # rung again since, for another call
    count = 0
    if missed:
        with transaction(s):
            s.execute(
                update(Agent)
                .where(Agent.id == agent_id)
                .values(missed_in_row=Agent.missed_in_row + 1)
            )
        count = (
            s.scalar(
                select(Agent.missed_in_row)
                .where(Agent.id == agent_id)
                .execution_options(populate_existing=True)
            )
            or 0
        )
    if missed and count >= misses_before_away:
        set_state(
            s,
            agent_id=agent_id,
            to_state="away",
            reason="missed_calls",
            note=f"{count} offered calls in a row not answered",
            by=SYSTEM,
            node=node,
            now=now,
            channel_id=channel_id,
        )
        with transaction(s):
            s.execute(update(Agent).where(Agent.id == agent_id).values(missed_in_row=0))
        return True
    set_state(
        s,
        agent_id=agent_id,
        to_state="available",
        by=SYSTEM,
        node=node,
        now=now,
        channel_id=channel_id,
    )
    return False


def call_ended(
    s: Session,
    *,
    agent_id: int,
    node: str,
    now: datetime,
    wrap_up_seconds: int,
    channel_id: str | None = None,
) -> None:
    """The agent's call is over: wrap-up until ``now + wrap_up_seconds``; commits. With
    ``channel_id``, only when the agent is on that call."""
    seat = get_seat(s, agent_id)
    if seat.state != "on_call":
        return  # a replay, or a lead reset the seat meanwhile
    if channel_id is not None and seat.claim_channel != channel_id:
        return  # the agent is on another call by now
    wrapping = set_state(
        s,
        agent_id=agent_id,
        to_state="wrap_up",
        by=SYSTEM,
        node=node,
        now=now,
        wrap_up_until=now + timedelta(seconds=wrap_up_seconds),
        channel_id=channel_id,
    )
    if wrap_up_seconds <= 0:
        # Two commits: between them another node may expire the wrap-up and ring the seat
        # for its own call, which this second step must then leave alone.
        with contextlib.suppress(StaleState):
            set_state(
                s,
                agent_id=agent_id,
                to_state="available",
                by=SYSTEM,
                now=now,
                expected_version=wrapping.version,
            )


@dataclass(frozen=True)
class DueWrapUp:
    agent_id: int
    version: int  # the seat as read: expiring it must not act on a seat changed since


def due_wrap_ups(s: Session, now: datetime) -> list[DueWrapUp]:
    """Seats in wrap-up whose time is over, as read now."""
    rows = s.execute(
        select(SeatState.agent_id, SeatState.version).where(
            SeatState.state == "wrap_up", SeatState.wrap_up_until <= now
        )
    ).all()
    return [DueWrapUp(agent_id, version) for agent_id, version in rows]


def expire_due(s: Session, due: list[DueWrapUp], now: datetime) -> int:
    """Make the ``due`` seats available, each only if unchanged since it was read; commits.

    Any node may run it: a seat the agent ended meanwhile, or that another node has since
    rung for a call, is skipped (StaleState), never moved."""
    done = 0
    for seat in due:
        try:
            set_state(
                s,
                agent_id=seat.agent_id,
                to_state="available",
                by=SYSTEM,
                note="wrap-up time over",
                now=now,
                expected_version=seat.version,
            )
            done += 1
        except (StaleState, IllegalTransition):
            continue
    return done


def expire_wrap_ups(s: Session, now: datetime) -> int:
    """Seats whose wrap-up time is over become available; commits; how many."""
    return expire_due(s, due_wrap_ups(s, now), now)


def restamp(s: Session, node: str, channel_ids: list[str], generation: int) -> int:
    """This node rejoined as ``generation`` and still runs these calls: their claims are
    the new generation's; commits; how many."""
    if not channel_ids:
        return 0
    with transaction(s):
        result = s.execute(
            update(SeatState)
            .where(SeatState.claimed_by_node == node, SeatState.claim_channel.in_(channel_ids))
            .values(claim_generation=generation)
            .execution_options(synchronize_session=False)
        )
    return int(getattr(result, "rowcount", 0) or 0)


def claims_of(s: Session, node: str) -> list[SeatState]:
    """Seats ``node`` holds a claim on (ringing, on a call, in wrap-up for it)."""
    return list(
        s.scalars(
            select(SeatState)
            .where(SeatState.claimed_by_node == node)
            .execution_options(populate_existing=True)
        )
    )


def release_orphan(s: Session, seat: SeatState, node: str, now: datetime) -> None:
    """A claim whose call this node no longer runs (it ended while the offer was on its
    way): ring → available, on call → wrap-up ends at once; commits. Only the claim
    ``seat`` was read with: the seat may have been freed and claimed for another call
    of this node since."""
    note = f"call {seat.claim_channel} is gone"
    try:
        if seat.state == "ringing":
            set_state(
                s,
                agent_id=seat.agent_id,
                to_state="available",
                by=SYSTEM,
                node=node,
                note=note,
                now=now,
                channel_id=seat.claim_channel,
            )
        elif seat.state == "on_call":
            set_state(
                s,
                agent_id=seat.agent_id,
                to_state="wrap_up",
                by=SYSTEM,
                node=node,
                note=note,
                now=now,
                wrap_up_until=now,
                channel_id=seat.claim_channel,
            )
        elif seat.state == "available":
            release_claim(s, agent_id=seat.agent_id, node=node, channel_id=seat.claim_channel)
    except (StaleState, IllegalTransition):
        pass
