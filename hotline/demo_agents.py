"""The demo's simulated agents: people at the sample seats' phones, so the wallboard has a
living floor to show a newcomer.

Each picks up after a ring or two, talks for a log-normal time (most calls short, a few
long: the shape real handle times have), puts the phone down, does a little after-call
work and ends wrap-up themselves (the queue's wrap-up timer is the backstop). Now and then
one of them takes a short break. They act only through the simulator (the phone) and the
seat API an agent's page uses, never on the controller.

A phone a person has taken over (the softphone page swaps in its own ``PhoneBehaviour``)
is left alone: the simulated agent only handles phones whose behaviour it installed.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from agents import seat_store
from agents.seats import IllegalTransition
from kernel.clock import utcnow
from simulator.model import PhoneBehaviour, SimChannel
from simulator.server import AriSimulator

log = logging.getLogger(__name__)

POLL_SECONDS = 0.25


@dataclass(frozen=True)
class HandleTimes:
    """Medians and spreads (σ of the underlying normal) of the log-normal times, seconds."""

    ring_median: float = 2.5
    ring_sigma: float = 0.4
    talk_median: float = 8.0
    talk_sigma: float = 0.6
    wrap_median: float = 5.0
    wrap_sigma: float = 0.5
    # Mean seconds between breaks (one agent away at a time), and a break's median length.
    break_every: float = 180.0
    break_median: float = 45.0


@dataclass
class Desk:
    agent_id: int
    staff_number: str
    endpoint: str
    phone: PhoneBehaviour = field(default_factory=lambda: PhoneBehaviour(answer_after=None))


class SimulatedAgents:
    def __init__(
        self,
        sim: AriSimulator,
        sessions: sessionmaker[Session],
        desks: list[Desk],
        times: HandleTimes | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.sim = sim
        self.sessions = sessions
        self.desks = {d.endpoint: d for d in desks}
        self.times = times or HandleTimes()
        self.rng = rng or random.Random()
        self._handled: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.calls_taken = 0
        self.talk_times: dict[str, float] = {}  # channel id → the talk time drawn for it

    def _lognormal(self, median: float, sigma: float) -> float:
        return self.rng.lognormvariate(math.log(median), sigma)

    def install(self) -> None:
        """Put every desk's phone in the simulator (answering after a random ring)."""
        for desk in self.desks.values():
            desk.phone.answer_after = self._ring_time()
            self.sim.engine.phones[desk.endpoint] = desk.phone

    def _ring_time(self) -> float:
        return self._lognormal(self.times.ring_median, self.times.ring_sigma)

    def _mine(self, endpoint: str) -> Desk | None:
        desk = self.desks.get(endpoint)
        if desk is None or self.sim.engine.phones.get(endpoint) is not desk.phone:
            return None  # not a simulated desk, or a person has taken the phone over
        return desk

    async def run(self) -> None:
        """Watch the phones until cancelled."""
        next_break = asyncio.get_running_loop().time() + self._break_gap()
        try:
            while True:
                self._tick()
                now = asyncio.get_running_loop().time()
                if now >= next_break:
                    next_break = now + self._break_gap()
                    self._spawn(self._take_a_break())
                await asyncio.sleep(POLL_SECONDS)
        finally:
            for task in list(self._tasks):
                task.cancel()

    def _break_gap(self) -> float:
        return self.rng.expovariate(1.0 / self.times.break_every)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _tick(self) -> None:
        channels = self.sim.engine.channels
        self._handled &= set(channels)
        for ch in list(channels.values()):
            if ch.id in self._handled or ch.state != "Up" or ch.hungup:
                continue
            desk = self._mine(ch.endpoint)
            if desk is None:
                continue
            self._handled.add(ch.id)
            self.calls_taken += 1
            desk.phone.answer_after = self._ring_time()  # the next call's rings
            self._spawn(self._talk(ch, desk))

    async def _talk(self, ch: SimChannel, desk: Desk) -> None:
        talk = self._lognormal(self.times.talk_median, self.times.talk_sigma)
        self.talk_times[ch.id] = talk
        try:
            await asyncio.wait_for(ch.ended.wait(), talk)
        except TimeoutError:
            self.sim.engine.hangup(ch, 16, by="far_end")  # the agent says goodbye
        await asyncio.sleep(self._lognormal(self.times.wrap_median, self.times.wrap_sigma))
        await asyncio.to_thread(self._set, desk, "wrap_up", "available", None)

    async def _take_a_break(self) -> None:
        desks = [d for d in self.desks.values() if self._mine(d.endpoint) is not None]
        if not desks:
            return
        states = await asyncio.to_thread(self._states, desks)
        if "away" in states.values():
            return  # one at a time, as the shift rules usually want
        free = [d for d in desks if states.get(d.endpoint) == "available"]
        if not free:
            return
        desk = self.rng.choice(free)
        if not await asyncio.to_thread(self._set, desk, "available", "away", "break"):
            return
        await asyncio.sleep(self._lognormal(self.times.break_median, 0.4))
        await asyncio.to_thread(self._set, desk, "away", "available", None)

    def _states(self, desks: list[Desk]) -> dict[str, str]:
        with self.sessions() as s:
            return {d.endpoint: seat_store.get_seat(s, d.agent_id).state for d in desks}

    def _set(self, desk: Desk, from_state: str, to_state: str, reason: str | None) -> bool:
        """The agent changes their own seat, if it is still in ``from_state`` (a lead or
        the queue engine may have changed it meanwhile: then nothing happens)."""
        try:
            with self.sessions() as s:
                seat = seat_store.get_seat(s, desk.agent_id)
                if seat.state != from_state:
                    return False
                seat_store.set_state(
                    s,
                    agent_id=desk.agent_id,
                    to_state=to_state,
                    by=desk.staff_number,
                    reason=reason,
                    now=utcnow(),
                    expected_version=seat.version,
                )
                return True
        except (IllegalTransition, seat_store.StaleState):
            return False
        except SQLAlchemyError as exc:  # a busy database: the next call tries again
            log.warning("simulated agent %s: %s", desk.staff_number, exc)
            return False
