"""The demo softphone's line into the ARI simulator: a person's call into the hotline (dial,
keys, hang up, what is playing to them) and, for someone playing an agent, their desk phone
(take it over from the simulation, answer it, hang up).

The page itself (``webapp/softphone.py``) knows only the ``SoftphoneLine`` protocol; the
demo's wiring (``hotline/site.py``) hands it this implementation, so the web app never
imports the simulator. The web server answers in worker threads while the simulator lives
on the demo's event loop, which alone may touch it: every operation here is a coroutine
run on that loop (``run_coroutine_threadsafe``) and waited for. Nothing here reaches into
the controller: the hotline sees an ordinary caller and an agent's phone picking up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from simulator.model import Heard, PhoneBehaviour, SimChannel, SimError
from simulator.server import AriSimulator
from webapp.softphone import LineError

T = TypeVar("T")

# Callers' channels come from this endpoint (simulator/engine.py inbound_call).
CALLER_ENDPOINT = "PJSIP/caller"
# A phone the person took over goes back to the simulation when its page has not asked
# about it for this long (the tab was closed), so calls do not ring out at a dead desk.
TAKEN_PHONE_TIMEOUT = 20.0
# One call per person, and a bound on the whole demo's softphone calls.
MAX_LIVE_CALLS = 20
DIGITS = frozenset("0123456789*#")


@dataclass
class _Taken:
    before: PhoneBehaviour | None
    last_seen: float
    timer: asyncio.TimerHandle | None = None


@dataclass
class _State:
    """Loop-side bookkeeping (touched only on the loop)."""

    owners: dict[str, int] = field(default_factory=dict)  # channel id → agent id
    taken: dict[str, _Taken] = field(default_factory=dict)  # endpoint → how it was


class SoftphoneLine:
    def __init__(
        self,
        sim: AriSimulator,
        loop: asyncio.AbstractEventLoop,
        app: str,
        timeout: float = 5.0,
        taken_timeout: float = TAKEN_PHONE_TIMEOUT,
    ) -> None:
        self.sim = sim
        self.loop = loop
        self.timeout = timeout
        self.taken_timeout = taken_timeout
        self.sounds_dir = sim.engine.media.sounds_dir.resolve()
        # The hotline's number: the extension the simulated dialplan sends to our app.
        numbers = [exten for (_, exten), name in sim.engine.routes.items() if name == app]
        self.number = numbers[0] if numbers else "6000"
        self._state = _State()

    # -- running on the simulator's loop ----------------------------------------------

    def _run(self, fn: Callable[[], T]) -> T:
        async def call() -> T:
            return fn()

        return self._await(call())

    def _await(self, coro: Coroutine[Any, Any, T]) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            result = future.result(self.timeout)
        except SimError as exc:
            raise LineError(exc.status, exc.message, "simulator") from exc
        except TimeoutError as exc:  # the demo is stopping, or its loop is stuck
            future.cancel()
            raise LineError(503, "the simulator did not answer in time", "unavailable") from exc
        return result

    # -- the caller's side ----------------------------------------------------------------

    def dial(self, owner: int, caller_number: str, caller_name: str = "") -> dict[str, Any]:
        """``owner`` (an agent id) calls the hotline from ``caller_number``."""

        async def dial() -> dict[str, Any]:
            engine, owners = self.sim.engine, self._state.owners
            live = [cid for cid in owners if cid in engine.channels]
            if any(owners[cid] == owner for cid in live):
                raise LineError(409, "you are already on a call; hang up first", "busy")
            if len(live) >= MAX_LIVE_CALLS:
                raise LineError(503, "too many softphone calls at once", "line_full")
            for cid in [c for c, who in owners.items() if who == owner]:
                del owners[cid]  # the owner's ended calls: only the newest is kept
            call = await self.sim.place_call(self.number, caller_number, caller_name)
            owners[call.channel_id] = owner
            return self._call_view(call.channel, 0)

        return self._await(dial())

    def _owned(self, owner: int, channel_id: str) -> SimChannel:
        if self._state.owners.get(channel_id) != owner:
            raise LineError(404, "no such call of yours", "not_found")
        call = self.sim.calls.get(channel_id)
        if call is None:
            raise LineError(404, "no such call of yours", "not_found")
        return call.channel

    def status(self, owner: int, channel_id: str, since: int = 0) -> dict[str, Any]:
        """The call as its caller experiences it; ``heard`` from item ``since`` on."""
        return self._run(lambda: self._call_view(self._owned(owner, channel_id), since))

    def press(self, owner: int, channel_id: str, digit: str) -> None:
        if digit not in DIGITS or len(digit) != 1:
            raise LineError(400, "a key is one of 0-9, * and #", "bad_digit")

        def press() -> None:
            ch = self._owned(owner, channel_id)
            if ch.hungup:
                raise LineError(409, "the call has ended", "ended")
            self.sim.engine.caller_dtmf(ch, digit)

        self._run(press)

    def hang_up(self, owner: int, channel_id: str) -> dict[str, Any]:
        def hang_up() -> dict[str, Any]:
            ch = self._owned(owner, channel_id)
            self.sim.engine.caller_hangup(ch)
            return self._call_view(ch, len(ch.heard))

        return self._run(hang_up)

    def _call_view(self, ch: SimChannel, since: int) -> dict[str, Any]:
        engine = self.sim.engine
        agent = ""
        if ch.bridge_id is not None and ch.bridge_id in engine.bridges:
            for cid in engine.bridges[ch.bridge_id].channels:
                other = engine.channels.get(cid)
                if other is not None and other is not ch and other.endpoint != CALLER_ENDPOINT:
                    agent = other.endpoint.split("/", 1)[-1]
        since = max(0, since)
        return {
            "channel_id": ch.id,
            "number": self.number,
            "state": "ended" if ch.hungup else "up" if ch.state == "Up" else "ringing",
            "ended": ch.hungup,
            "hangup_by": ch.hangup_by,
            "agent": agent,
            "next": len(ch.heard),
            "heard": [self._heard(since + i, h) for i, h in enumerate(ch.heard[since:])],
        }

    def _heard(self, index: int, heard: Heard) -> dict[str, Any]:
        scheme, _, name = heard.media.partition(":")
        audio = self.audio_name(heard.path)
        return {
            "index": index,
            "media": heard.media,
            # What to show: the sound's name, or "moh" for music on hold.
            "name": name if scheme in ("sound", "recording") else scheme,
            "file": audio,
            "playing": heard.ended_at is None,
            "completed": heard.completed,
            # Cut short (barge-in, hang-up): the page stops or skips it too.
            "cut": heard.ended_at is not None and not heard.completed,
        }

    def audio_name(self, path: str | None) -> str | None:
        """A played file's name under the sounds directory, or None (tones, music on
        hold, a file elsewhere)."""
        if path is None:
            return None
        try:
            return Path(path).resolve().relative_to(self.sounds_dir).as_posix()
        except ValueError:
            return None

    def audio_path(self, name: str) -> Path | None:
        """The WAV file ``name`` (as given by ``audio_name``) if it is one under the
        sounds directory; None for anything else, ``..`` and links out included."""
        if not name.endswith(".wav") or name.startswith("/") or "\\" in name:
            return None
        if any(part in ("", ".", "..") for part in name.split("/")):
            return None
        path = (self.sounds_dir / name).resolve()
        if not path.is_relative_to(self.sounds_dir) or not path.is_file():
            return None
        return path

    # -- the agent's side: their desk phone -----------------------------------------------

    def phone(self, endpoint: str) -> dict[str, Any]:
        """The desk phone at ``endpoint``: whether the person answers it, and its calls."""

        def phone() -> dict[str, Any]:
            taken = self._state.taken.get(endpoint)
            if taken is not None:
                taken.last_seen = self.loop.time()
            calls = [
                {
                    "channel_id": ch.id,
                    "state": "ringing" if ch.state == "Ringing" else "up",
                    "caller_number": ch.caller_number,
                    "caller_name": ch.caller_name,
                }
                for ch in self.sim.engine.channels.values()
                if ch.endpoint == endpoint and not ch.hungup and ch.state in ("Ringing", "Up")
            ]
            return {"endpoint": endpoint, "mine": taken is not None, "calls": calls}

        return self._run(phone)

    def take(self, endpoint: str, mine: bool) -> dict[str, Any]:
        """``mine``: the person answers this phone from now on (it rings until they pick
        up); else it goes back to how the simulation had it."""

        def take() -> None:
            engine, taken = self.sim.engine, self._state.taken
            if mine and endpoint not in taken:
                taken[endpoint] = _Taken(engine.phones.get(endpoint), self.loop.time())
                engine.phones[endpoint] = PhoneBehaviour(answer_after=None)
                self._watch(endpoint)
            elif not mine and endpoint in taken:
                self._give_back(endpoint)

        self._run(take)
        return self.phone(endpoint)

    def _watch(self, endpoint: str) -> None:
        taken = self._state.taken.get(endpoint)
        if taken is None:
            return
        if self.loop.time() - taken.last_seen > self.taken_timeout:
            self._give_back(endpoint)
            return
        taken.timer = self.loop.call_later(self.taken_timeout / 4, self._watch, endpoint)

    def _give_back(self, endpoint: str) -> None:
        taken = self._state.taken.pop(endpoint)
        if taken.timer is not None:
            taken.timer.cancel()
        phones = self.sim.engine.phones
        if taken.before is None:
            phones.pop(endpoint, None)
        else:
            phones[endpoint] = taken.before

    def _phone_channel(self, endpoint: str, channel_id: str) -> SimChannel:
        ch = self.sim.engine.channels.get(channel_id)
        if ch is None or ch.endpoint != endpoint:
            raise LineError(404, "no such call on your phone", "not_found")
        return ch

    def answer(self, endpoint: str, channel_id: str) -> None:
        """Pick up the ringing desk phone."""

        def answer() -> None:
            self._phone_channel(endpoint, channel_id)
            self.sim.engine.pick_up(channel_id)

        self._run(answer)

    def phone_hang_up(self, endpoint: str, channel_id: str) -> None:
        """Put the desk phone down (ends the agent's leg, as a real phone would)."""

        def hang_up() -> None:
            ch = self._phone_channel(endpoint, channel_id)
            self.sim.engine.hangup(ch, 16, by="far_end")

        self._run(hang_up)
