"""``hotline demo``: the ARI simulator, a controller node and a stream of scripted callers.

Everything runs in this process on embedded defaults (SQLite under the data directory,
prompts built on first run); the simulator gets a fresh random password each run, so no
secret is ever stored. Each call's outcome is printed from both sides: what the caller
experienced (simulator) and what the controller recorded (database).
"""

from __future__ import annotations

import asyncio
import itertools
import random
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hotline.node import ControllerNode
from hotline.prompts_setup import system_prompts
from hotline.settings import Settings
from ivr.simulator import AriSimulator

CALLERS = [
    ("+8613800000001", "Zhang Wei"),
    ("+8613900000002", "Li Na"),
    ("+8615000000003", "Wang Fang"),
    ("+8618600000004", "Chen Jie"),
    ("+8613700000005", ""),
]


@dataclass(frozen=True)
class CallerPlan:
    """One scripted caller: who calls and how they behave."""

    number: str
    name: str
    script: str
    behaviour: str


def caller_plans(seed: int | None = None) -> Any:
    """An endless, varied stream of callers: most listen, some hang up early."""
    rng = random.Random(seed)
    for number, name in itertools.cycle(CALLERS):
        if rng.random() < 0.25:
            early = round(rng.uniform(0.3, 1.0), 1)
            yield CallerPlan(
                number, name, f"wait for prompt; wait {early}; hangup", "hangs up early"
            )
        else:
            yield CallerPlan(number, name, "wait for prompt; hangup after 60", "listens")


def _print(line: str) -> None:
    print(line, flush=True)


async def run_demo(settings: Settings, duration: float | None, interval: float = 2.0) -> int:
    paths = settings.paths
    paths.data_dir.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(16)
    _print("hotline demo: building prompts (first run synthesises them with espeak-ng) …")
    prompts = await asyncio.to_thread(system_prompts, settings)
    sim = AriSimulator(
        username=settings.ari.username,
        password=password,
        sounds_dir=paths.prompts_dir,
        recordings_dir=paths.data_dir / "simulator-recordings",
    )
    await sim.start(host="127.0.0.1", port=0)
    ari = settings.ari.model_copy(update={"url": sim.base_url, "password": password})
    node = ControllerNode(settings.model_copy(update={"ari": ari}), prompts)
    await node.start()
    await node.wait_connected()
    _print(f"ARI simulator at {sim.base_url}/ari; controller '{settings.node.name}' connected")
    _print(f"call records: {settings.database.url}")
    until = f" for {duration:.0f} s" if duration else " (Ctrl-C to stop)"
    _print(f"scripted callers dial 6000 every {interval:.1f} s{until}")

    loop = asyncio.get_running_loop()
    deadline = loop.time() + duration if duration else None
    plans = caller_plans()
    calls: list[asyncio.Task[None]] = []
    try:
        # Leave time at the end for the last caller to finish before the deadline.
        while deadline is None or loop.time() + 6.0 < deadline:
            plan = next(plans)
            calls.append(asyncio.create_task(_one_call(sim, node, plan)))
            await asyncio.sleep(interval)
        if calls:
            await asyncio.wait(
                calls, timeout=max(1.0, deadline - loop.time()) if deadline else None
            )
    except asyncio.CancelledError:
        pass
    finally:
        for task in calls:
            task.cancel()
        await node.stop()
        await sim.stop()
    _print("demo finished; see the records with: hotline calls")
    return 0


async def _one_call(sim: AriSimulator, node: ControllerNode, plan: CallerPlan) -> None:
    call = await sim.place_call(
        to="6000", caller_number=plan.number, caller_name=plan.name, script=plan.script
    )
    who = f"{plan.number} {plan.name or '(no name)'}"
    _print(f"→ {call.channel_id}: {who} dials 6000 and {plan.behaviour}")
    await call.ended(timeout=60)
    heard = ", ".join(Path(h.media).name for h in call.heard) or "nothing"
    who = call.hangup_by or "?"
    _print(f"← {call.channel_id}: heard {heard}; hung up by {who} (cause {call.hangup_cause})")
