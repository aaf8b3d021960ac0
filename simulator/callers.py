"""Scripted callers: "call 6000 from +8613800000001, wait 2 s, press 2, hang up after 20 s".

A script is a list of steps separated by commas or semicolons:

``wait N`` / ``wait N s``      pause N seconds
``wait for prompt``            until something starts playing to the caller (≤ 15 s)
``wait for silence``           until nothing is playing any more (≤ 60 s)
``wait for answer``            until the call is answered (≤ 15 s)
``press 12#``                  DTMF, one event per digit, 150 ms apart
``hang up`` / ``hangup``       hang up now
``hang up after N``            hang up N seconds after the call started (steps go on meanwhile)

A caller whose script ends without hanging up stays on the line until the other side
hangs up (or ``max_call_seconds`` pass).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field

from simulator.engine import SimEngine
from simulator.model import Heard, SimChannel


class ScriptError(ValueError):
    """A caller script that cannot be understood; the message names the step."""


@dataclass(frozen=True, slots=True)
class Step:
    action: str  # wait | wait_for | press | hangup | hangup_after
    seconds: float = 0.0
    arg: str = ""


_NUM = r"(\d+(?:\.\d+)?)\s*(?:s|sec|secs|seconds?)?"
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(rf"^wait\s+{_NUM}$"), "wait"),
    (re.compile(r"^wait\s+(?:for|until)\s+(prompt|silence|answer)$"), "wait_for"),
    (re.compile(r"^press\s+([0-9*#A-Da-d\s]+)$"), "press"),
    (re.compile(rf"^hang\s*up\s+after\s+{_NUM}$"), "hangup_after"),
    (re.compile(r"^hang\s*up$"), "hangup"),
]

_CALL_LINE = re.compile(r"^call\s+(\S+)\s+from\s+(\S+)(?:\s+as\s+\"([^\"]*)\")?$")


def parse_script(text: str) -> list[Step]:
    steps: list[Step] = []
    for number, raw in enumerate(re.split(r"[;,\n]", text), start=1):
        part = " ".join(raw.strip().lower().split()) if "press" not in raw else raw.strip()
        if not part:
            continue
        low = part.lower()
        for pattern, action in _PATTERNS:
            m = pattern.match(low if action != "press" else part)
            if not m:
                continue
            if action in ("wait", "hangup_after"):
                steps.append(Step(action, seconds=float(m.group(1))))
            elif action == "wait_for":
                steps.append(Step(action, arg=m.group(1)))
            elif action == "press":
                steps.append(Step(action, arg="".join(m.group(1).split()).upper()))
            else:
                steps.append(Step(action))
            break
        else:
            raise ScriptError(
                f"step {number} {raw.strip()!r}: not understood; expected 'wait N', "
                "'wait for prompt|silence|answer', 'press DIGITS', 'hang up' or 'hang up after N'"
            )
    return steps


def parse_call_line(text: str) -> tuple[str, str, str, list[Step]]:
    """``call 6000 from +86138… [as "Name"], <steps>`` → (to, from, name, steps)."""
    head, _, rest = text.partition(",")
    m = _CALL_LINE.match(" ".join(head.split()))
    if not m:
        raise ScriptError(f"{head.strip()!r}: expected 'call <number> from <caller>'")
    return m.group(1), m.group(2), m.group(3) or "", parse_script(rest)


@dataclass
class ScriptedCall:
    """A caller under script control, and what they experienced."""

    channel: SimChannel
    steps: list[Step]
    task: asyncio.Task[None] | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def channel_id(self) -> str:
        return self.channel.id

    @property
    def heard(self) -> list[Heard]:
        return self.channel.heard

    @property
    def answered(self) -> bool:
        return self.channel.answered_at is not None

    @property
    def hangup_by(self) -> str | None:
        return self.channel.hangup_by

    @property
    def hangup_cause(self) -> int | None:
        return self.channel.hangup_cause

    @property
    def is_over(self) -> bool:
        return self.channel.hungup

    async def ended(self, timeout: float = 60.0) -> None:
        await asyncio.wait_for(self.channel.ended.wait(), timeout)

    def as_dict(self) -> dict[str, object]:
        ch = self.channel
        return {
            "channel_id": ch.id,
            "caller_number": ch.caller_number,
            "caller_name": ch.caller_name,
            "to": ch.exten,
            "state": "ended" if ch.hungup else ch.state,
            "answered": self.answered,
            "hangup_by": ch.hangup_by,
            "hangup_cause": ch.hangup_cause,
            "heard": [
                {
                    "media": h.media,
                    "started_at": h.started_at,
                    "ended_at": h.ended_at,
                    "completed": h.completed,
                }
                for h in ch.heard
            ],
            "errors": list(self.errors),
        }


async def _until(engine: SimEngine, ch: SimChannel, what: str, limit: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    start_heard = len(ch.heard)

    def done() -> bool:
        if what == "prompt":
            return len(ch.heard) > start_heard or ch.current is not None
        if what == "answer":
            return ch.answered_at is not None
        return ch.current is None and not ch.queue and bool(ch.heard)

    # A caller polls like a person glancing at the phone; 20 ms is far below what matters.
    while not done() and not ch.hungup and loop.time() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.02)


async def run_script(
    engine: SimEngine, call: ScriptedCall, max_call_seconds: float = 600.0
) -> None:
    ch = call.channel
    loop = asyncio.get_running_loop()
    started = loop.time()
    hangup_at = started + max_call_seconds
    for step in call.steps:
        if step.action == "hangup_after":
            hangup_at = min(hangup_at, started + step.seconds)
    timer = loop.call_later(max(0.0, hangup_at - loop.time()), engine.caller_hangup, ch)
    try:
        for step in call.steps:
            if ch.hungup:
                return
            if step.action == "wait":
                await asyncio.sleep(step.seconds)
            elif step.action == "wait_for":
                await _until(engine, ch, step.arg, 60.0 if step.arg == "silence" else 15.0)
            elif step.action == "press":
                for digit in step.arg:
                    if ch.hungup:
                        return
                    engine.caller_dtmf(ch, digit)
                    await asyncio.sleep(0.15)
            elif step.action == "hangup":
                engine.caller_hangup(ch)
                return
        await ch.ended.wait()
    finally:
        timer.cancel()
