"""Agents' phones as this node's Asterisk sees them: the I/O edge of "ring only phones that
are reachable and free" (app_queue's device state and ``ringinuse=no``).

Asterisk tells three ways, all used:

* ``GET /endpoints/{tech}`` — every phone's state (``online``/``offline``) and the
  channels it carries; read after every (re)connect and every ``refresh`` seconds;
* ``EndpointStateChange`` — a phone registering or going away, at once (the app is
  subscribed to ``endpoint:<tech>`` after every connect);
* a refused originate (4xx/5xx, e.g. "Is endpoint registered and reachable?") — the
  phone is marked unreachable with Asterisk's reason and stays so until its endpoint
  changes state or ``refused_hold`` seconds have passed.

What this node sees is stored per node (``agents.phone_store``) for the queue engine of
every node, the desk, the wallboard and the API. A phone is *busy* when it carries a
channel that is not a leg of this node's own calls: those the seats already account for.
Endpoints Asterisk does not list (``Local/…`` agents, a phone never configured) are
not judged here: an originate to them succeeds or is refused, and a refusal counts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from agents import phone_store
from ivr.ari import errors as ari_errors
from ivr.ari import events as ev
from ivr.ari.client import AriClient
from ivr.ari.models import Endpoint
from ticketdb.models import Agent

log = logging.getLogger(__name__)

# Technologies whose endpoints Asterisk lists and reports on (not Local, not a dialplan).
ENDPOINT_TECHNOLOGIES = frozenset({"PJSIP", "SIP", "IAX2"})


def split_endpoint(endpoint: str) -> tuple[str, str] | None:
    """``"PJSIP/8001"`` → ``("PJSIP", "8001")``; None for what is not a listed endpoint."""
    tech, _, resource = endpoint.partition("/")
    if tech not in ENDPOINT_TECHNOLOGIES or not resource or "@" in resource:
        return None
    return tech, resource


@dataclass(slots=True)
class _Phone:
    agent_id: int
    endpoint: str
    reachable: bool = True
    channels: int = 0
    reason: str | None = None
    refused_until: float = 0.0  # monotonic: a refusal holds until then (or a state change)
    known: bool = False  # Asterisk said something about it


class PhoneMonitor:
    def __init__(
        self,
        client: AriClient,
        sessions: sessionmaker[Session],
        node: str,
        app: str,
        clock: Callable[[], datetime],
        is_own_leg: Callable[[str], bool],
        refresh: float = 5.0,
        refused_hold: float = 60.0,
    ) -> None:
        self.client = client
        self.sessions = sessions
        self.node = node
        self.app = app
        self.clock = clock
        self.is_own_leg = is_own_leg
        self.refresh = refresh
        self.refused_hold = refused_hold
        self._phones: dict[str, _Phone] = {}  # by endpoint
        self._written: dict[int, phone_store.PhoneSeen] = {}
        self._unreachable: frozenset[int] = frozenset()
        self._write_lock = asyncio.Lock()
        self.refusals = 0

    # -- what the queue engine asks (any thread) ----------------------------------------

    def unreachable(self) -> frozenset[int]:
        """Agents this node cannot ring now."""
        return self._unreachable

    # -- Asterisk's side ------------------------------------------------------------------

    async def on_connected(self) -> None:
        """After every (re)connect: subscribe to the phones' technologies, then look."""
        await self._load_agents()
        for tech in sorted({split[0] for split in self._splits()}):
            try:
                await self.client.applications.subscribe(self.app, f"endpoint:{tech}")
            except ari_errors.AriError as exc:
                log.warning("phones: cannot subscribe to %s endpoints: %s", tech, exc)
        await self.look()

    def on_event(self, event: ev.EndpointStateChange) -> None:
        """A phone registered or went away (called on the event reader: no waiting)."""
        phone = self._phones.get(event.endpoint.name)
        if phone is None:
            return
        was = phone.reachable
        self._apply(phone, event.endpoint, state_changed=True)
        if phone.reachable != was:
            log.info(
                "phone %s of agent %s is %s",
                phone.endpoint,
                phone.agent_id,
                "reachable" if phone.reachable else "offline",
            )
        asyncio.get_running_loop().create_task(self._write())

    def refused(self, endpoint: str, reason: str) -> None:
        """Asterisk refused to ring ``endpoint``: not reachable until it changes state."""
        phone = self._phones.get(endpoint)
        if phone is None:
            return
        self.refusals += 1
        phone.reachable, phone.reason, phone.known = False, reason, True
        phone.refused_until = time.monotonic() + self.refused_hold
        log.warning("phone %s of agent %s refused: %s", endpoint, phone.agent_id, reason)
        asyncio.get_running_loop().create_task(self._write())

    async def run(self) -> None:
        """Look again every ``refresh`` seconds, until cancelled."""
        while True:
            await asyncio.sleep(self.refresh)
            try:
                await self._load_agents()
                await self.look()
            except Exception:
                log.exception("phones: refresh failed; trying again")

    async def look(self) -> None:
        """Ask Asterisk about every agent's phone; store what changed."""
        listed: dict[str, Endpoint] = {}
        for tech in sorted({split[0] for split in self._splits()}):
            try:
                for endpoint in await self.client.endpoints.list(tech):
                    listed[endpoint.name] = endpoint
            except ari_errors.AriNotFound:
                continue  # no endpoint of that technology at all
            except ari_errors.AriError as exc:
                log.warning("phones: cannot list %s endpoints: %s", tech, exc)
                return
        for phone in self._phones.values():
            found = listed.get(phone.endpoint)
            if found is not None:
                self._apply(phone, found, state_changed=False)
        await self._write()

    def _apply(self, phone: _Phone, endpoint: Endpoint, *, state_changed: bool) -> None:
        phone.known = True
        phone.channels = sum(1 for c in endpoint.channel_ids if not self.is_own_leg(c))
        online = endpoint.state != "offline"
        if not online:
            phone.reachable, phone.reason = False, "not registered (offline)"
            phone.refused_until = 0.0
        elif state_changed or time.monotonic() >= phone.refused_until:
            # Online again, or a refusal old enough to try the phone again.
            phone.reachable, phone.reason, phone.refused_until = True, None, 0.0

    # -- storage --------------------------------------------------------------------------

    def _splits(self) -> list[tuple[str, str]]:
        return [s for s in (split_endpoint(p.endpoint) for p in self._phones.values()) if s]

    async def _load_agents(self) -> None:
        def read() -> list[tuple[int, str]]:
            with self.sessions() as s:
                rows = s.execute(select(Agent.id, Agent.endpoint).where(Agent.active.is_(True)))
                return [(agent_id, endpoint) for agent_id, endpoint in rows]

        agents = await asyncio.to_thread(read)
        current = {endpoint: agent_id for agent_id, endpoint in agents}
        for endpoint in list(self._phones):
            if current.get(endpoint) != self._phones[endpoint].agent_id:
                del self._phones[endpoint]
        for endpoint, agent_id in current.items():
            self._phones.setdefault(endpoint, _Phone(agent_id, endpoint))

    async def _write(self) -> None:
        async with self._write_lock:
            seen = {
                p.agent_id: phone_store.PhoneSeen(
                    p.agent_id, p.endpoint, p.reachable, p.channels, p.reason
                )
                for p in self._phones.values()
                if p.known
            }
            self._unreachable = frozenset(a for a, p in seen.items() if not p.reachable)
            changed = [p for a, p in seen.items() if self._written.get(a) != p]
            if not changed:
                return
            now = self.clock()

            def write() -> None:
                with self.sessions() as s:
                    phone_store.record(s, self.node, changed, now)

            try:
                await asyncio.to_thread(write)
            except Exception as exc:
                log.warning("phones: cannot store phone states (%s); trying again", exc)
                return
            for p in changed:
                self._written[p.agent_id] = p

    async def forget(self) -> None:
        """This node stops: its view of the phones goes with it."""

        def forget() -> None:
            with self.sessions() as s:
                phone_store.forget_node(s, self.node)

        try:
            await asyncio.to_thread(forget)
        except Exception as exc:
            log.warning("phones: cannot forget this node's phone states: %s", exc)
