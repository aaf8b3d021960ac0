"""``hotline demo``: the ARI simulator, a controller node running the live menu, and a
stream of scripted callers.

Everything runs in this process on embedded defaults (SQLite under the data directory,
prompts built on first run, the sample customers imported so a VIP calls too); the
simulator gets a fresh random password each run, so no secret is ever stored. Each
call is printed from both sides: what the caller did and heard (simulator) and what the
controller recorded (database: menu path, queue, end).

At the end of ``--duration`` no new callers come; callers still on the line hang up, so
every call the demo made has its complete record.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hotline.node import ControllerNode, prepare_ivr
from hotline.settings import Settings
from ivr.simulator import AriSimulator, ScriptedCall
from ticketdb import call_log
from ticketdb.engine import make_sessionmaker

SAMPLE_CUSTOMERS = Path(__file__).resolve().parents[1] / "config" / "customers.sample.csv"
SAMPLE_AGENTS = Path(__file__).resolve().parents[1] / "config" / "agents.sample.csv"
# The sample agents' simulated phones: they pick up after a couple of rings and talk a
# little; one of them never answers, so ring-no-answer is part of the show.
AGENT_ANSWER_AFTER = 2.0
AGENT_TALK_SECONDS = 5.0
SILENT_AGENT = "8004"


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


def _seat_sample_agents(node: ControllerNode, sim: AriSimulator) -> list[str]:
    """Import the sample agents if there are none, log them all in, give them phones."""
    from ticketdb import seats
    from ticketdb.models import utcnow

    with make_sessionmaker(node.engine)() as s:
        if not seats.list_seats(s) and SAMPLE_AGENTS.exists():
            seats.import_csv(s, SAMPLE_AGENTS)
        seated = []
        for row in seats.list_seats(s):
            if not row.agent.active:
                continue
            staff = row.agent.staff_number
            answer = None if staff == SILENT_AGENT else AGENT_ANSWER_AFTER
            sim.set_phone(row.agent.endpoint, answer, hangup_after=AGENT_TALK_SECONDS)
            if row.seat.state in ("offline", "on_leave", "away"):
                # A seat left on a call by an earlier run is freed by the node itself.
                seats.set_state(
                    s, agent_id=row.agent.id, to_state="available", by="system", now=utcnow()
                )
            seated.append(f"{staff} {row.agent.name}")
        return seated


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


async def run_demo(
    settings: Settings, duration: float | None, interval: float = 2.0, hours: str = "open"
) -> int:
    paths = settings.paths
    paths.data_dir.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(16)
    _print("hotline demo: building prompts (the first run synthesises them with espeak-ng) …")
    parts = await asyncio.to_thread(prepare_ivr, settings)
    sim = AriSimulator(
        username=settings.ari.username,
        password=password,
        sounds_dir=paths.prompts_dir,
        recordings_dir=paths.data_dir / "simulator-recordings",
    )
    await sim.start(host="127.0.0.1", port=0)
    ari = settings.ari.model_copy(update={"url": sim.base_url, "password": password})
    node = ControllerNode(
        settings.model_copy(update={"ari": ari}),
        parts.prompts,
        menus=parts.menus,
        # By default the demo pretends the desk is open, so a newcomer hears the whole
        # menu; --hours real uses config/calendar.yaml, --hours closed the night menu.
        calendars=parts.calendars if hours == "real" else _Fixed(_Always(hours == "open")),
        caller_tiers=True,
        # The queue engine with the sample agents; their shifts apply with --hours real
        # only (otherwise whoever is logged in is on shift).
        queues=parts.queues,
        shifts=parts.shifts if hours == "real" else None,
    )
    await node.start()
    await node.wait_connected()
    imported = await asyncio.to_thread(_import_sample_customers, node)
    seated = await asyncio.to_thread(_seat_sample_agents, node, sim)
    if seated:
        _print(f"agents logged in with simulated phones: {', '.join(seated)}")
    menu = parts.menus.current
    _print(f"ARI simulator at {sim.base_url}/ari; controller '{settings.node.name}' connected")
    _print(f"menu '{menu.name}' (version {menu.version}) from {parts.menus.path}; edit it live")
    _print(
        f"call records: {settings.database.url}"
        + (f" ({imported} sample customers added)" if imported else "")
    )
    until = f" for {duration:.0f} s" if duration else " (Ctrl-C to stop)"
    _print(f"scripted callers dial 6000 every {interval:.1f} s{until}; desk hours: {hours}")

    loop = asyncio.get_running_loop()
    deadline = loop.time() + duration if duration else None
    plans = caller_plans()
    calls: list[tuple[ScriptedCall, asyncio.Task[None]]] = []
    try:
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
        await node.stop()
        await sim.stop()
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
