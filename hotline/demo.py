"""``hotline demo``: the whole hotline in one process (``HotlineSite``: the ARI simulator,
a controller node running the live menu and queues, the web page), a stream of scripted
callers, and simulated agents answering them.

Everything runs on embedded defaults (SQLite under the data directory, prompts built on
first run, the sample customers imported so a VIP calls too, the sample agents logged in
with simulated phones); the simulator gets a fresh random password each run, and one user
of each role (agent, lead, admin) a fresh random password printed at start, so no secret
is ever stored. The web page includes the demo-only softphone: call the hotline from the
browser. Each scripted call is printed from both sides: what the caller did and heard
(simulator) and what the controller recorded (database: menu path, queue, end).

At the end of ``--duration`` no new callers come; callers still on the line hang up, so
every call the demo made has its complete record.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hotline.demo_agents import Desk, SimulatedAgents
from hotline.node import ControllerNode
from hotline.site import HotlineSite, SiteOptions
from kernel.clock import utcnow
from kernel.roles import SEAT_ROLES
from kernel.settings import Settings
from simulator.callers import ScriptedCall
from ticketdb import call_log
from ticketdb.engine import make_sessionmaker

SAMPLE_CUSTOMERS = Path(__file__).resolve().parents[1] / "config" / "customers.sample.csv"
SAMPLE_AGENTS = Path(__file__).resolve().parents[1] / "config" / "agents.sample.csv"
# The sample agents are simulated (hotline/demo_agents.py) but one, who never answers, so
# ring-no-answer is part of the show.
SILENT_AGENT = "8004"
# The demo's users where the sample agents have none of a role: role → (staff number, name).
DEMO_USERS = {
    "agent": ("8901", "Demo Agent"),
    "lead": ("9001", "Demo Lead"),
    "admin": ("9901", "Demo Admin"),
}


@dataclass(frozen=True)
class CallerPlan:
    """One scripted caller: who calls, what they do, in words and as a script."""

    number: str
    name: str
    behaviour: str
    script: str


PLANS = [
    CallerPlan(
        "+8613900000002",
        "Li Na",
        "picks Chinese, consultation, broadband (barging in)",
        "wait for prompt; press 1; wait for prompt; press 2; wait for prompt; press 3",
    ),
    CallerPlan(
        "+8615000000003",
        "Wang Fang",
        "picks English, fault report, asks for a callback",
        "wait for prompt; press 2; wait for prompt; press 4; wait for prompt; press 5; "
        "wait for prompt; wait for silence; press 1",
    ),
    CallerPlan(
        "+8613800000001",
        "Zhang Wei",
        "is a VIP customer and just listens",
        "wait for prompt",
    ),
    CallerPlan(
        "+8618600000004",
        "Chen Jie",
        "presses a wrong key, then listens to data-service info",
        "wait for prompt; press 1; wait for prompt; press 7; wait for prompt; press 8; "
        "wait for prompt; press 1; wait for prompt; wait for silence; hang up",
    ),
    CallerPlan(
        "+8613700000005",
        "",
        "hangs up after a moment",
        "wait for prompt; wait 1; hang up",
    ),
]


def caller_plans() -> Iterator[CallerPlan]:
    return itertools.cycle(PLANS)


def _print(line: str) -> None:
    print(line, flush=True)


def _import_sample_customers(node: ControllerNode) -> int:
    from ticketdb.customers import count_customers, import_csv

    with make_sessionmaker(node.engine)() as s:
        if count_customers(s) or not SAMPLE_CUSTOMERS.exists():
            return 0
        return import_csv(s, SAMPLE_CUSTOMERS)


def _seat_sample_agents(node: ControllerNode) -> tuple[list[Desk], list[str], list[str]]:
    """Import the sample agents if there are none and log in everyone who takes calls: the
    desks the simulated agents sit at, the phones that never answer, and who they all are
    (for the printout)."""
    from agents import seat_store

    desks, silent, seated = [], [], []
    with make_sessionmaker(node.engine)() as s:
        if not seat_store.list_seats(s) and SAMPLE_AGENTS.exists():
            seat_store.import_csv(s, SAMPLE_AGENTS)
        for row in seat_store.list_seats(s):
            agent = row.agent
            if not agent.active or agent.role not in SEAT_ROLES:
                continue
            if agent.staff_number == SILENT_AGENT:
                silent.append(agent.endpoint)  # rings out: ring-no-answer is shown too
            else:
                desks.append(Desk(agent.id, agent.staff_number, agent.endpoint))
            if row.seat.state in ("offline", "on_leave", "away"):
                # A seat left on a call by an earlier run is freed by the node itself.
                seat_store.set_state(
                    s, agent_id=agent.id, to_state="available", by="system", now=utcnow()
                )
            seated.append(f"{agent.staff_number} {agent.name}")
    return desks, silent, seated


@dataclass(frozen=True)
class DemoUser:
    role: str
    staff_number: str
    name: str
    password: str


def _demo_users(node: ControllerNode) -> list[DemoUser]:
    """One user of each role with a fresh random password (printed, never stored but as a
    hash): the first of each role on file, a demo user where the sample has none."""
    from sqlalchemy import select

    from agents import seat_store
    from agents.accounts import set_password
    from ticketdb.models import Agent

    users = []
    with make_sessionmaker(node.engine)() as s:
        for role, (staff_number, name) in DEMO_USERS.items():
            found = s.scalars(
                select(Agent)
                .where(Agent.role == role, Agent.active.is_(True))
                .order_by(Agent.staff_number)
                .limit(1)
            ).one_or_none()
            if found is None:
                found = seat_store.add_agent(
                    s,
                    staff_number=staff_number,
                    name=name,
                    endpoint=f"PJSIP/{staff_number}",
                    role=role,
                    team="hotline",
                )
            password = secrets.token_urlsafe(9)
            set_password(s, found.staff_number, password)
            users.append(DemoUser(role, found.staff_number, found.name, password))
    return users


class _Always:
    """A calendar that is always open (or always closed), for the demo's --hours."""

    def __init__(self, open_: bool) -> None:
        self.open = open_

    def is_open(self, at: Any) -> bool:
        return self.open


class _Fixed:
    def __init__(self, calendar: _Always) -> None:
        self.calendar = calendar

    def get(self, name: str) -> _Always:
        return self.calendar


def _web_port(host: str, port: int) -> int:
    """``port`` when it is free, else 0 (any free port): a second demo, or a test run
    beside one, still gets its page."""
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return 0
    return port


def _demo_settings(settings: Settings) -> Settings:
    """The demo signs its login cookies with a key of its own when none is configured."""
    if settings.web.secret_key:
        return settings
    web = settings.web.model_copy(update={"secret_key": secrets.token_hex(32)})
    return settings.model_copy(update={"web": web})


async def run_demo(
    settings: Settings, duration: float | None, interval: float = 2.0, hours: str = "open"
) -> int:
    settings = _demo_settings(settings)
    web = settings.web
    _print("hotline demo: building prompts (the first run synthesises them with espeak-ng) …")
    site = HotlineSite(
        settings,
        SiteOptions(
            # By default the demo pretends the desk is open, so a newcomer hears the whole
            # menu; --hours real uses config/calendar.yaml, --hours closed the night menu.
            calendars=_Fixed(_Always(hours == "open")),
            use_configured_calendars=hours == "real",
            # The sample agents' shifts apply with --hours real only (otherwise whoever is
            # logged in is on shift).
            use_configured_shifts=hours == "real",
            web=web.enabled,
            web_port=await asyncio.to_thread(_web_port, web.host, web.port)
            if web.enabled
            else None,
            demo=True,
        ),
    )
    try:
        await site.start()
    except BaseException:
        await site.stop()  # whatever had started
        raise
    node, sim, parts = site.node, site.sim, site.parts
    assert node is not None and sim is not None and parts is not None
    floor_task: asyncio.Task[None] | None = None
    calls: list[tuple[ScriptedCall, asyncio.Task[None]]] = []
    try:
        imported = await asyncio.to_thread(_import_sample_customers, node)
        desks, silent, seated = await asyncio.to_thread(_seat_sample_agents, node)
        for endpoint in silent:
            sim.set_phone(endpoint, None)
        floor = SimulatedAgents(sim, make_sessionmaker(node.engine), desks)
        floor.install()
        floor_task = asyncio.create_task(floor.run(), name="simulated-agents")
        if seated:
            _print(f"agents logged in with simulated phones: {', '.join(seated)}")
        menu = parts.menus.current
        _print(f"ARI simulator at {sim.base_url}/ari; controller '{settings.node.name}' connected")
        _print(f"menu '{menu.name}' (version {menu.version}) from {parts.menus.path}; edit it live")
        _print(
            f"call records: {settings.database.url}"
            + (f" ({imported} sample customers added)" if imported else "")
        )
        if site.web is not None:
            users = await asyncio.to_thread(_demo_users, node)
            _print(f"web page: {site.url}/ — log in as (passwords are new each run):")
            for user in users:
                _print(
                    f"  {user.role:<6} {user.staff_number:<6} {user.name:<14} "
                    f"password: {user.password}"
                )
            _print(
                f"softphone: {site.url}/softphone — call the hotline from the browser; "
                "as an agent, answer your own phone there and see the screen pop on your desk"
            )
        until = f" for {duration:.0f} s" if duration else " (Ctrl-C to stop)"
        _print(f"scripted callers dial 6000 every {interval:.1f} s{until}; desk hours: {hours}")

        loop = asyncio.get_running_loop()
        deadline = loop.time() + duration if duration else None
        plans = caller_plans()
        # The last callers come early enough to finish before the deadline.
        while deadline is None or loop.time() + 9.0 < deadline:
            plan = next(plans)
            call = await sim.place_call("6000", plan.number, plan.name, plan.script)
            who = f"{plan.number} {plan.name or '(no name)'}"
            _print(f"→ {call.channel_id}: {who} dials 6000 and {plan.behaviour}")
            calls.append((call, asyncio.create_task(_report(node, call))))
            await asyncio.sleep(interval)
        if deadline is not None:
            pending = [task for _, task in calls if not task.done()]
            if pending:
                await asyncio.wait(pending, timeout=max(0.1, deadline - loop.time()))
    except asyncio.CancelledError:
        pass
    finally:
        # Time is up: whoever is still on the line hangs up, so every call ends.
        for call, _ in calls:
            if not call.is_over:
                sim.engine.caller_hangup(call.channel)
        if calls:
            await asyncio.wait([task for _, task in calls], timeout=10)
        if floor_task is not None:
            floor_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await floor_task
        await site.stop()
    _print("demo finished; see the records with: hotline calls")
    return 0


async def _report(node: ControllerNode, call: ScriptedCall) -> None:
    await call.ended(timeout=3600)
    rec = await _wait_record(node, call.channel_id)
    heard = len(call.heard)
    if rec is None:
        _print(f"← {call.channel_id}: ended (hung up by {call.hangup_by}); record pending")
        return
    nodes = [e["node"] for e in (rec.menu_path or []) if e.get("event") == "enter"]
    keys = "".join(str(e["key"]) for e in (rec.menu_path or []) if "key" in e)
    where = " > ".join(nodes) or "-"
    extra = f", queue {rec.queue}" if rec.queue else ""
    if rec.agent:
        extra += f", answered by agent {rec.agent} after {rec.wait_seconds or 0:.1f} s"
    elif rec.end_reason == "abandoned":
        extra += f", abandoned after {rec.wait_seconds or 0:.1f} s"
    _print(
        f"← {call.channel_id}: path {where}; keys {keys or '-'}{extra}; heard {heard} prompts; "
        f"{rec.end_reason} (hung up by {rec.hangup_side}, tier {rec.customer_tier or 'general'})"
    )


async def _wait_record(node: ControllerNode, channel_id: str) -> Any:
    sessions = make_sessionmaker(node.engine)

    def read() -> Any:
        with sessions() as s:
            return call_log.get_call(s, node.settings.node.name, channel_id)

    for _ in range(100):
        rec = await asyncio.to_thread(read)
        if rec is not None and rec.is_complete:
            return rec
        await asyncio.sleep(0.05)
    return None
