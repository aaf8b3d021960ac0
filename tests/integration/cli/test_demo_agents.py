"""The demo's simulated agents against the real ARI simulator and a real database: they pick
up, talk, put the phone down, end their wrap-up and take breaks one at a time; a phone a
person has taken over is left alone."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import pytest_asyncio
from sqlalchemy.orm import Session, sessionmaker

from agents import seat_store
from hotline.demo_agents import Desk, HandleTimes, SimulatedAgents
from kernel.clock import utcnow
from simulator.model import PhoneBehaviour, SimChannel
from simulator.server import AriSimulator
from tests.integration.conftest import wait_for
from ticketdb.engine import make_engine, make_sessionmaker
from ticketdb.migrate import upgrade

APP = "demo-test"
# Quick, but still random: every time is drawn from its log-normal.
QUICK = HandleTimes(
    ring_median=0.1,
    ring_sigma=0.3,
    talk_median=0.3,
    talk_sigma=0.3,
    wrap_median=0.1,
    wrap_sigma=0.3,
    break_every=3600.0,
    break_median=0.3,
)


@pytest_asyncio.fixture
async def sessions(db_url: str) -> AsyncIterator[sessionmaker[Session]]:
    await asyncio.to_thread(upgrade, db_url)
    engine = make_engine(db_url)
    yield make_sessionmaker(engine)
    engine.dispose()


def _desks(sessions: sessionmaker[Session], count: int) -> list[Desk]:
    desks = []
    with sessions() as s:
        for n in range(count):
            staff = f"80{n:02d}"
            agent = seat_store.add_agent(
                s, staff_number=staff, name=f"Agent {staff}", endpoint=f"PJSIP/{staff}",
                team="hotline",
            )  # fmt: skip
            seat_store.set_state(
                s, agent_id=agent.id, to_state="available", by="system", now=utcnow()
            )
            desks.append(Desk(agent.id, staff, agent.endpoint))
    return desks


def _state(sessions: sessionmaker[Session], desk: Desk) -> str:
    with sessions() as s:
        return seat_store.get_seat(s, desk.agent_id).state


def _ring(sim: AriSimulator, endpoint: str) -> SimChannel:
    """The queue engine's part: ring the agent's phone into our application."""
    return sim.engine.originate(
        endpoint, app=APP, app_args=None, extension=None, context=None, priority=None,
        caller_id="+8613700000003", timeout=30, variables={}, channel_id=None,
    )  # fmt: skip


async def _running(floor: SimulatedAgents) -> asyncio.Task[None]:
    floor.install()
    return asyncio.create_task(floor.run())


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_simulated_agents_pick_up_talk_and_end_their_wrap_up(
    sim: AriSimulator, sessions: sessionmaker[Session]
) -> None:
    sim.engine.register_app(APP, lambda event: None)
    desks = await asyncio.to_thread(_desks, sessions, 2)
    floor = SimulatedAgents(sim, sessions, desks, QUICK, random.Random(7))
    task = await _running(floor)
    try:
        rings = {d.endpoint: d.phone.answer_after for d in desks}
        assert all(r is not None and 0 < r < 1 for r in rings.values())
        assert len(set(rings.values())) == 2  # each draws their own
        # The first agent is in wrap-up from an earlier call: they end it themselves
        # after this one (long before the queue's timer of an hour).
        await asyncio.to_thread(_wrap_up, sessions, desks[0])
        calls = [_ring(sim, desks[0].endpoint) for _ in range(3)]
        for ch in calls:
            await asyncio.wait_for(ch.ended.wait(), 10)
            assert ch.answered_at is not None
            assert ch.hangup_by == "far_end"  # the agent said goodbye
        # Log-normal: each call draws its own talk time, and the agent stays on the line
        # at least that long (a busy machine can only make it longer).
        drawn = [floor.talk_times[ch.id] for ch in calls]
        assert len(set(drawn)) == 3, drawn
        for ch, talk in zip(calls, drawn, strict=True):
            assert ch.ended_at is not None and ch.answered_at is not None
            assert ch.ended_at - ch.answered_at >= talk - 0.01, (ch.id, talk)
        assert floor.calls_taken == 3
        await wait_for(
            lambda: _state(sessions, desks[0]) == "available", what="wrap-up ended by the agent"
        )
    finally:
        await _stop(task)


def _wrap_up(sessions: sessionmaker[Session], desk: Desk) -> None:
    """Take the seat through a call as the queue engine does, into an hour of wrap-up."""
    now = utcnow()
    with sessions() as s:
        assert seat_store.claim_available(
            s, agent_id=desk.agent_id, node="n1", channel_id="c1", now=now
        )
        for state in ("ringing", "on_call"):
            seat_store.set_state(
                s, agent_id=desk.agent_id, to_state=state, by="system", node="n1", now=now
            )
        seat_store.set_state(
            s, agent_id=desk.agent_id, to_state="wrap_up", by="system", node="n1", now=now,
            wrap_up_until=now + timedelta(hours=1),
        )  # fmt: skip


async def test_a_phone_a_person_took_over_is_left_to_them(
    sim: AriSimulator, sessions: sessionmaker[Session]
) -> None:
    sim.engine.register_app(APP, lambda event: None)
    desks = await asyncio.to_thread(_desks, sessions, 1)
    floor = SimulatedAgents(sim, sessions, desks, QUICK, random.Random(3))
    task = await _running(floor)
    try:
        # The softphone page swaps in a phone that rings until the person answers.
        sim.engine.phones[desks[0].endpoint] = PhoneBehaviour(answer_after=None)
        ch = _ring(sim, desks[0].endpoint)
        await wait_for(lambda: ch.state == "Ringing", what="the phone ringing")
        await asyncio.sleep(1.0)  # ten median ring times: no simulated pick-up
        assert ch.answered_at is None
        sim.engine.pick_up(ch.id)
        await wait_for(lambda: ch.state == "Up", what="answered by the person")
        await asyncio.sleep(1.5)  # five median talk times: no simulated goodbye
        assert not ch.hungup
        assert floor.calls_taken == 0
        sim.engine.hangup(ch, 16, by="far_end")
    finally:
        await _stop(task)


async def test_breaks_are_taken_one_at_a_time_and_end(
    sim: AriSimulator, sessions: sessionmaker[Session]
) -> None:
    desks = await asyncio.to_thread(_desks, sessions, 3)
    often = HandleTimes(break_every=0.05, break_median=0.4)
    floor = SimulatedAgents(sim, sessions, desks, often, random.Random(11))
    task = await _running(floor)
    seen: list[list[str]] = []

    def states() -> list[str]:
        return [_state(sessions, d) for d in desks]

    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        # Until some break has begun and ended, never two agents away at once.
        while not any(
            "away" in before and "away" not in after for before, after in itertools.pairwise(seen)
        ):
            assert loop.time() < deadline, seen
            now = await asyncio.to_thread(states)
            assert now.count("away") <= 1, seen
            seen.append(now)
            await asyncio.sleep(0.05)
    finally:
        await _stop(task)
    with sessions() as s:
        reasons = {
            c.reason
            for d in desks
            for c in seat_store.history(s, d.agent_id)
            if c.to_state == "away"
        }
    assert reasons == {"break"}
