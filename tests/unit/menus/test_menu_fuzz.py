"""The shipped menus under random callers (hypothesis): random keys at random moments
(over prompts, between them, long silences), prompts of random length, prompts that fail,
hang-ups at any point, calls at any hour of any day, any tier and language.

Whatever the caller does, the pure call (CallFlow + MenuService, driven here as Asterisk
would drive it) never raises, never leaves the caller on a silent line, and ends in a
defined state within a bounded number of steps: in a queue, handed to the dialplan, or
hung up by us after a goodbye prompt (or by the caller) — with exactly one complete
record whose fields can be stored.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agents.queue_config import QueueCatalog, load_queues
from ivr.call import commands as cmd
from ivr.call import inputs as inp
from ivr.call.flow import CallFlow
from ivr.call.service import Service, ServiceContext
from ivr.menus.engine import MenuService
from ivr.menus.loader import load_menu
from ivr.menus.model import Menu
from kernel.calendar import load_calendars
from tests.unit.menus.harness import SysPrompts, resolver

REPO = Path(__file__).resolve().parents[3]
MENU_FILES = sorted((REPO / "menus").glob("*.yaml"))
QUEUES: QueueCatalog = load_queues(REPO / "config" / "queues.yaml")
CALENDARS = load_calendars(REPO / "config" / "calendar.yaml")

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Reasons a menu call may end with; "error" is not one of them (no command fails here).
ENDS = {"menu_hangup", "self_service", "transferred", "callback_request", "caller_hangup", "queue"}
# After the caller stops acting, the call must be over (or queued) within this many inputs
# and this much (simulated) time: retries, then a person or a goodbye.
MAX_IDLE_STEPS = 300
MAX_IDLE_SECONDS = 30 * 60
T0 = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # a Monday; calls fall in the two weeks after


def load(path: Path) -> Menu:
    menu = load_menu(path, QUEUES, CALENDARS.names)
    menu.resolve_prompts(resolver)
    return menu


MENUS = {path.stem: load(path) for path in MENU_FILES}


class QueueStub:
    """The queue engine's service, reduced to "the caller now waits in this queue"."""

    name = "queue"

    def __init__(self) -> None:
        self.requests: list[Mapping[str, object]] = []

    def enter(self, ctx: ServiceContext, request: Mapping[str, object]) -> None:
        self.requests.append(dict(request))

    def begin(self, ctx: ServiceContext) -> None:
        raise AssertionError("a queue is only entered from the menu")

    def handle(self, ctx: ServiceContext, event: inp.Input) -> None:
        pass  # music on hold: keys and timers mean nothing to this stand-in

    def resume(self, ctx: ServiceContext) -> None:
        pass

    def snapshot(self) -> Mapping[str, object]:
        return {"requests": len(self.requests)}

    def restore(self, data: Mapping[str, object]) -> None:
        pass

    def record_fields(self) -> Mapping[str, object]:
        return {}


@dataclass
class SimCall:
    """One call, with Asterisk's side simulated: playbacks end after their length,
    timers fire when due, a hung-up or transferred channel leaves."""

    menu: Menu
    data: st.DataObject
    queue: QueueStub | None
    t: float = 0.0
    steps: int = 0
    timers: dict[str, tuple[float, int]] = field(default_factory=dict)
    playing: dict[str, tuple[float, bool]] = field(default_factory=dict)  # id → (due, ok)
    leaves_at: float | None = None
    out: list[cmd.Command] = field(default_factory=list)
    done_playbacks: set[str] = field(default_factory=set)
    finished: bool = False
    caller_hung_up: bool = False
    flow: CallFlow = field(init=False)

    def __post_init__(self) -> None:
        queue = self.queue
        services: dict[str, Callable[[], Service]] = {}
        if queue is not None:
            services["queue"] = lambda: queue
        self.flow = CallFlow(
            lambda: MenuService(self.menu, CALENDARS.get(self.menu.spec.calendar or "default")),
            SysPrompts(),
            default_language="zh",
            services=services,
        )

    def at(self) -> datetime:
        return self.start + timedelta(seconds=self.t)

    start: datetime = T0

    # -- feeding inputs and carrying out commands, as CallSession does --------------------

    def feed(self, first: inp.Input) -> None:
        pending = [first]
        while pending:
            event = pending.pop(0)
            assert not self.finished, f"input after the call finished: {event}"
            self.steps += 1
            for command in self.flow.handle(event):
                follow_up = self._carry_out(command)
                if follow_up is not None:
                    pending.append(follow_up)

    def _carry_out(self, c: cmd.Command) -> inp.Input | None:
        assert not self.finished, f"command after the call finished: {c}"
        self.out.append(c)
        if isinstance(c, cmd.Answer):
            return inp.Answered(self.at())
        if isinstance(c, cmd.Play):
            assert c.media, "a prompt with nothing to play"
            length = self.data.draw(st.floats(0.2, 12.0), label="prompt seconds")
            self.playing[c.playback_id] = (self.t + length, True)
        elif isinstance(c, cmd.StopPlayback):
            if c.playback_id in self.playing:
                # Asterisk reports a stopped playback as finished.
                self.playing[c.playback_id] = (self.t, True)
        elif isinstance(c, cmd.StartTimer):
            assert c.seconds > 0
            self.timers[c.name] = (self.t + c.seconds, c.token)
        elif isinstance(c, cmd.CancelTimer):
            self.timers.pop(c.name, None)
        elif isinstance(c, cmd.Hangup | cmd.ContinueInDialplan):
            if self.leaves_at is None:
                self.leaves_at = self.t + 0.05
        elif isinstance(c, cmd.Finished):
            self.finished = True
        return None

    # -- Asterisk's side ------------------------------------------------------------------

    def _next(self) -> tuple[float, str, str] | None:
        due: list[tuple[float, str, str]] = []
        due += [(when, "timer", name) for name, (when, _) in self.timers.items()]
        due += [(when, "playback", pid) for pid, (when, _) in self.playing.items()]
        if self.leaves_at is not None:
            due.append((self.leaves_at, "leave", ""))
        return min(due) if due else None

    def _fire(self, kind: str, key: str) -> None:
        if kind == "timer":
            _, token = self.timers.pop(key)
            self.feed(inp.TimerFired(self.at(), key, token))
        elif kind == "playback":
            _, ok = self.playing.pop(key)
            self.done_playbacks.add(key)
            self.feed(inp.PlaybackDone(self.at(), key, ok))
        else:
            self.leaves_at = None
            self.feed(inp.Left(self.at(), 16, "Normal Clearing"))

    def advance(self, seconds: float) -> None:
        until = self.t + seconds
        while not self.finished:
            nxt = self._next()
            if nxt is None or nxt[0] > until:
                break
            self.t = max(self.t, nxt[0])
            self._fire(nxt[1], nxt[2])
        self.t = max(self.t, until)

    def step_idle(self) -> bool:
        """Let the next thing Asterisk would report happen; False when nothing will."""
        nxt = self._next()
        if nxt is None:
            return False
        self.t = max(self.t, nxt[0])
        self._fire(nxt[1], nxt[2])
        return True

    # -- the caller -------------------------------------------------------------------------

    def press(self, digit: str) -> None:
        if self.leaves_at is None:
            self.feed(inp.Digit(self.at(), digit))

    def fail_prompt(self) -> None:
        for pid in list(self.playing):
            self.playing[pid] = (self.t, False)

    def hang_up(self) -> None:
        self.caller_hung_up = True
        self.feed(inp.HangupRequested(self.at(), 16, soft=False))
        if not self.finished:
            self.t += 0.02
            self.leaves_at = None
            self.feed(inp.Left(self.at(), 16, "Normal Clearing"))

    @property
    def queued(self) -> bool:
        return self.flow.service is self.queue and self.flow.state.phase == "in_service"


actions = st.lists(
    st.one_of(
        st.tuples(st.just("press"), st.sampled_from("0123456789*#ABCD")),
        st.tuples(st.just("wait"), st.floats(0.0, 25.0)),
        st.tuples(st.just("fail"), st.none()),
        st.tuples(st.just("hangup"), st.none()),
    ),
    max_size=40,
)


@pytest.mark.parametrize("menu_name", sorted(MENUS))
@FUZZ
@given(
    steps=actions,
    offset=st.floats(0, 14 * 24 * 3600),
    tier=st.sampled_from(["general", "member", "vip"]),
    language=st.sampled_from(["zh", "en"]),
    queue_engine=st.booleans(),
    data=st.data(),
)
def test_random_callers_always_reach_a_defined_end(
    menu_name: str,
    steps: list[tuple[str, object]],
    offset: float,
    tier: str,
    language: str,
    queue_engine: bool,
    data: st.DataObject,
) -> None:
    menu = MENUS[menu_name]
    call = SimCall(menu, data, QueueStub() if queue_engine else None)
    call.start = T0 + timedelta(seconds=offset)
    call.feed(inp.Started(call.at(), "c1", "+8613800000001", "", "6000", language, call.at(), tier))
    for action, arg in steps:
        if call.finished or call.caller_hung_up:
            break
        if action == "press":
            call.press(str(arg))
        elif action == "wait":
            assert isinstance(arg, float)
            call.advance(arg)
        elif action == "fail":
            call.fail_prompt()
        else:
            call.hang_up()

    # The caller stops acting: the call must come to an end (or to a queue) by itself.
    idle_from, idle_steps = call.t, 0
    while not call.finished and not call.queued:
        last = [type(c).__name__ for c in call.out[-4:]]
        assert call.step_idle(), f"caller left in silence ({call.flow.state.phase}) after {last}"
        idle_steps += 1
        assert idle_steps <= MAX_IDLE_STEPS, "the call does not come to an end"
        assert call.t - idle_from <= MAX_IDLE_SECONDS, "the call does not come to an end"
    if call.queued:
        assert call.queue is not None
        request = call.queue.requests[-1]
        assert QUEUES.has_queue(str(request["queue"])), request
        call.hang_up()  # a caller waiting in the queue gives up
    assert call.finished

    check_the_record(call)


def check_the_record(call: SimCall) -> None:
    records = [c for c in call.out if isinstance(c, cmd.RecordStart | cmd.RecordEnd)]
    assert isinstance(records[0], cmd.RecordStart)
    ends = [c for c in call.out if isinstance(c, cmd.RecordEnd)]
    assert len(ends) == 1, "exactly one end per record"
    assert isinstance(call.out[-1], cmd.Finished)
    end = ends[0]
    assert end.end_reason in ENDS, end.end_reason
    # The record's fields go to JSON columns.
    json.dumps(dict(end.fields), default=str)
    if end.end_reason == "caller_hangup":
        assert call.caller_hung_up
        return
    hangups = [i for i, c in enumerate(call.out) if isinstance(c, cmd.Hangup)]
    transfers = [c for c in call.out if isinstance(c, cmd.ContinueInDialplan)]
    if end.end_reason == "transferred":
        assert transfers
        return
    if call.caller_hung_up:
        return  # the caller left while being told goodbye
    # Hung up by us: after a goodbye the caller heard to its end (or that failed to play).
    assert hangups, f"ended as {end.end_reason} without hanging up"
    plays = [c for c in call.out[: hangups[0]] if isinstance(c, cmd.Play)]
    assert plays, "hung up without a word"
    assert plays[-1].playback_id in call.done_playbacks, "hung up over the goodbye"


def test_the_shipped_menus_are_all_fuzzed() -> None:
    assert {"telecom", "dairy"} <= set(MENUS)
