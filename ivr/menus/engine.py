"""The menu engine: a pure state machine service (inputs in, commands out via the context).

It walks a loaded ``Menu``: plays a node's prompt, takes DTMF with barge-in (a key
stops the prompt and is acted on at once) and type-ahead (keys pressed early are
buffered; a buffered key skips the next prompt), counts no-input and invalid tries,
repeats, goes back, collects digit strings with read-back confirmation, takes callback
requests, and leaves the menu to a queue, a transfer or a goodbye. Everything it did is
in ``path`` (the call record's menu path) and everything it needs to resume after a
controller restart is in ``snapshot``.

The engine never blocks and never fails a call on a bad prompt: a playback that fails
counts as played.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Protocol

from ivr.call import commands as cmd
from ivr.call.inputs import Digit, Input, PlaybackDone, TimerFired
from ivr.call.service import ServiceContext
from ivr.menus.model import Menu, iter_actions, node_actions
from ivr.menus.schema import Action, Keys, Node, Prompt

T_INPUT = "menu.input"  # waiting for a key after a prompt
T_DIGIT = "menu.digit"  # first-digit / inter-digit timeout while collecting

# Modes in which a key is taken (the rest ignore keys: leaving, done).
KEY_MODES = {
    "prompt",
    "wait",
    "info",
    "collect_prompt",
    "collect",
    "confirm_prompt",
    "confirm",
    "cb_prompt",
    "cb_confirm",
}
DIGIT_NAMES = {"*": "star", "#": "hash"}


class Calendar(Protocol):
    def is_open(self, at: datetime) -> bool: ...


@dataclass(frozen=True)
class CollectSpec:
    length: int | None
    min_length: int
    max_length: int
    terminator: str
    first_digit_timeout: float
    inter_digit_timeout: float
    pattern: str | None
    max_tries: int

    @classmethod
    def of(cls, a: Action) -> CollectSpec:
        return cls(
            a.length,
            a.min_length,
            a.max_length,
            a.terminator,
            a.first_digit_timeout,
            a.inter_digit_timeout,
            a.pattern,
            a.max_tries,
        )

    def valid(self, value: str) -> bool:
        if self.length is not None and len(value) != self.length:
            return False
        if not self.min_length <= len(value) <= self.max_length:
            return False
        return self.pattern is None or re.fullmatch(self.pattern, value) is not None


# Entering a callback number: a phone number ended by #.
CALLBACK_NUMBER = CollectSpec(None, 5, 16, "#", 8.0, 3.0, r"\+?[0-9]{5,16}", 3)


@dataclass
class MenuState:
    node: str | None = None
    mode: str = "idle"
    tries: int = 0
    playback: str | None = None
    buffer: str = ""
    stack: list[str] = field(default_factory=list)
    path: list[dict[str, Any]] = field(default_factory=list)
    data: dict[str, str] = field(default_factory=dict)
    queue: str | None = None
    tier: str = "general"
    action: str | None = None  # key of the action in progress (collect, info, exit)
    collected: str = ""
    collect_tries: int = 0
    callback_number: str = ""
    exit: str | None = None  # queue | transfer | callback | hangup | unavailable


class MenuService:
    name = "menu"

    def __init__(
        self,
        menu: Menu,
        calendar: Calendar | None = None,
        clock: Callable[[], datetime] | None = None,
        staffed: Callable[[datetime], bool] | None = None,
    ) -> None:
        self.menu = menu
        self.calendar = calendar
        self.clock = clock
        # Until the queue engine knows who is on shift, "a person is available" means the
        # desk is open by the calendar.
        self.staffed = staffed
        self.s = MenuState()
        self._actions: dict[str, Action] = {}
        spec = menu.spec
        for key, action in iter_actions(spec.defaults.after_max_tries, "defaults.after_max_tries"):
            self._actions[key] = action
        for node_id, node in spec.nodes.items():
            for key, action in node_actions(node_id, node):
                self._actions[key] = action
        self._draining = False
        self._dirty = False

    # -- Service protocol -----------------------------------------------------------------

    def begin(self, ctx: ServiceContext) -> None:
        self.s.tier = ctx.caller_tier
        self._log(ctx, "start", menu=self.menu.name, version=self.menu.version)
        self._enter(ctx, self.menu.spec.start, push=False)

    def handle(self, ctx: ServiceContext, event: Input) -> None:
        if isinstance(event, Digit):
            self.s.buffer += event.digit
            self._drain(ctx)
        elif isinstance(event, PlaybackDone):
            if event.playback_id == self.s.playback:
                self.s.playback = None
                if not event.ok:
                    self._log(ctx, "prompt_failed")
                self._prompt_done(ctx)
        elif isinstance(event, TimerFired):
            self._timer(ctx, event.name)
        if self._dirty:
            ctx.save()  # the path grew: keep the record (and a restart) up to date
            self._dirty = False

    def enter(self, ctx: ServiceContext, request: Mapping[str, object]) -> None:
        """Back from the queue (self-service instead of waiting): the main menu again."""
        s = self.s
        s.stack.clear()
        s.exit, s.action, s.queue, s.buffer = None, None, None, ""
        self._log(ctx, "returned", reason=request.get("reason"))
        self._enter(ctx, self.menu.spec.start, push=False)

    def resume(self, ctx: ServiceContext) -> None:
        s = self.s
        self._log(ctx, "resumed")
        if s.node is None or s.node not in self.menu.spec.nodes:
            s.stack.clear()
            self._enter(ctx, self.menu.spec.start, push=False)
        elif s.mode in ("collect_prompt", "collect", "confirm_prompt", "confirm") and s.action:
            self._collect_prompt(ctx)
        elif s.mode in ("cb_prompt", "cb_confirm"):
            self._callback_confirm_prompt(ctx)
        elif s.mode == "leaving" and s.action:
            self._perform(ctx, s.action)
        else:
            s.playback = None
            self._offer(ctx)

    def snapshot(self) -> Mapping[str, object]:
        return {"menu": self.menu.name, "version": self.menu.version, **asdict(self.s)}

    def restore(self, data: Mapping[str, object]) -> None:
        fields = {k: v for k, v in data.items() if k in MenuState.__dataclass_fields__}
        try:
            self.s = MenuState(**fields)  # type: ignore[arg-type]
        except TypeError:
            self.s = MenuState()
        self.s.buffer = ""

    def record_fields(self) -> Mapping[str, object]:
        fields: dict[str, object] = {"menu_path": list(self.s.path), "customer_tier": self.s.tier}
        if self.s.data:
            fields["data"] = dict(self.s.data)
        if self.s.queue is not None:
            fields["queue"] = self.s.queue
        return fields

    # -- helpers ----------------------------------------------------------------------------

    def _log(self, ctx: ServiceContext, event: str, **extra: object) -> None:
        entry: dict[str, Any] = {"t": ctx.now.isoformat(timespec="milliseconds"), "event": event}
        if self.s.node is not None:
            entry["node"] = self.s.node
        entry.update({k: v for k, v in extra.items() if v is not None})
        self.s.path.append(entry)
        self._dirty = True

    def _node(self) -> Node:
        assert self.s.node is not None
        return self.menu.node(self.s.node)

    def _keys(self, node: Node) -> Keys:
        return node.keys if node.keys is not None else self.menu.spec.defaults.keys

    def _media(self, ctx: ServiceContext, prompt: Prompt | None) -> tuple[str, ...]:
        return () if prompt is None else self.menu.media(prompt, ctx.language)

    def _system(self, ctx: ServiceContext, key: str) -> tuple[str, ...]:
        try:
            return ctx.prompts.media(key, ctx.language)
        except KeyError:
            return ()

    def _digits(self, ctx: ServiceContext, value: str) -> tuple[str, ...]:
        media: list[str] = []
        for ch in value:
            media.extend(self._system(ctx, f"digit_{DIGIT_NAMES.get(ch, ch)}"))
        return tuple(media)

    def _play(self, ctx: ServiceContext, media: tuple[str, ...], mode: str) -> None:
        self.s.mode = mode
        if not media:
            # Nothing to say (a prompt with no usable audio): carry on as if it was said.
            self.s.playback = None
            self._prompt_done(ctx)
            return
        self.s.playback = ctx.play(media)

    def _stop_prompt(self, ctx: ServiceContext) -> None:
        if self.s.playback is not None:
            ctx.stop_playback(self.s.playback)  # barge-in
            self.s.playback = None

    def _now(self, ctx: ServiceContext) -> datetime:
        return self.clock() if self.clock is not None else ctx.now

    def _is_open(self, ctx: ServiceContext) -> bool:
        return True if self.calendar is None else self.calendar.is_open(self._now(ctx))

    # -- moving around ------------------------------------------------------------------------

    def _enter(self, ctx: ServiceContext, node_id: str, push: bool = True) -> None:
        s = self.s
        # Back never returns to a branch (it would only decide the same way again).
        if push and s.node is not None and s.node != node_id and self._node().type == "menu":
            s.stack.append(s.node)
        s.node, s.tries, s.action = node_id, 0, None
        self._log(ctx, "enter")
        node = self._node()
        if node.type == "branch":
            self._perform(ctx, self._branch(ctx, node_id, node))
        else:
            self._offer(ctx)

    def _branch(self, ctx: ServiceContext, node_id: str, node: Node) -> str:
        for i, rule in enumerate(node.rules):
            c = rule.if_
            if c.hours is not None and (c.hours == "open") != self._is_open(ctx):
                continue
            if c.tier is not None and self.s.tier not in c.tier:
                continue
            if c.language is not None and c.language != ctx.language:
                continue
            self._log(ctx, "branch", rule=i)
            return f"nodes.{node_id}.rules.{i}.then"
        self._log(ctx, "branch", rule="else")
        return f"nodes.{node_id}.else"

    def _offer(self, ctx: ServiceContext, notice: tuple[str, ...] = ()) -> None:
        """Present the current node: its prompt (after a notice), or take a buffered key."""
        if self.s.buffer:
            self.s.mode, self.s.playback = "wait", None  # type-ahead: no need to hear it
            self._drain(ctx)
            return
        node = self._node()
        self._play(ctx, notice + self._media(ctx, node.prompt), "prompt")

    def _prompt_done(self, ctx: ServiceContext) -> None:
        s = self.s
        mode = s.mode
        if mode == "prompt":
            s.mode = "wait"
            ctx.start_timer(T_INPUT, self._timeout())
            self._drain(ctx)
        elif mode == "info":
            self._then(ctx, s.action)
        elif mode == "collect_prompt":
            s.mode = "collect"
            self._collect_timer(ctx)
            self._drain(ctx)
        elif mode in ("confirm_prompt", "cb_prompt"):
            s.mode = "confirm" if mode == "confirm_prompt" else "cb_confirm"
            ctx.start_timer(T_INPUT, self._timeout())
            self._drain(ctx)
        elif mode == "leaving":
            self._leave(ctx)

    def _timeout(self) -> float:
        node = self._node()
        return node.timeout if node.timeout is not None else self.menu.spec.defaults.timeout

    def _max_tries(self) -> int:
        node = self._node()
        return node.max_tries if node.max_tries is not None else self.menu.spec.defaults.max_tries

    # -- keys ---------------------------------------------------------------------------------

    def _drain(self, ctx: ServiceContext) -> None:
        if self._draining:
            return  # the outer loop takes the remaining keys
        self._draining = True
        try:
            while self.s.buffer and self.s.mode in KEY_MODES:
                digit, self.s.buffer = self.s.buffer[0], self.s.buffer[1:]
                self._on_key(ctx, digit)
            if self.s.mode not in KEY_MODES:
                self.s.buffer = ""  # leaving the menu: nothing more to take
        finally:
            self._draining = False

    def _on_key(self, ctx: ServiceContext, digit: str) -> None:
        s = self.s
        mode = s.mode
        if mode in ("prompt", "wait", "info"):
            self._stop_prompt(ctx)
            ctx.cancel_timer(T_INPUT)
            if mode == "info":
                # The message is cut short; the key counts at the menu the caller returns to.
                s.buffer = digit + s.buffer
                self._then(ctx, s.action)
                return
            self._menu_key(ctx, digit)
        elif mode in ("collect_prompt", "collect"):
            self._stop_prompt(ctx)
            s.mode = "collect"
            self._collect_key(ctx, digit)
        elif mode in ("confirm_prompt", "confirm"):
            self._stop_prompt(ctx)
            ctx.cancel_timer(T_INPUT)
            if digit == "1":
                self._store(ctx)
            elif digit == "2":
                self._log(ctx, "reenter")
                self._collect_prompt(ctx)
            else:
                self._log(ctx, "invalid", key=digit)
                self._confirm_prompt(ctx)
        elif mode in ("cb_prompt", "cb_confirm"):
            self._stop_prompt(ctx)
            ctx.cancel_timer(T_INPUT)
            if digit == "1":
                self._callback_confirmed(ctx)
            elif digit == "2":
                self._callback_enter(ctx)
            else:
                self._log(ctx, "invalid", key=digit)
                self._callback_retry(ctx)

    def _menu_key(self, ctx: ServiceContext, digit: str) -> None:
        node, s = self._node(), self.s
        keys = self._keys(node)
        if digit in node.options:
            self._log(ctx, "key", key=digit)
            self._perform(ctx, f"nodes.{s.node}.options.{digit}")
        elif digit == keys.repeat:
            self._log(ctx, "repeat", key=digit)
            self._offer(ctx)
        elif digit == keys.back:
            self._log(ctx, "back", key=digit)
            self._back(ctx)
        elif digit == keys.operator:
            self._log(ctx, "operator", key=digit)
            self._operator(ctx)
        else:
            self._log(ctx, "invalid", key=digit)
            self._retry(ctx, "invalid")

    def _back(self, ctx: ServiceContext) -> None:
        if self.s.stack:
            self._enter(ctx, self.s.stack.pop(), push=False)
        else:
            self._offer(ctx)

    def _retry(self, ctx: ServiceContext, why: str) -> None:
        s, node, defaults = self.s, self._node(), self.menu.spec.defaults
        s.tries += 1
        if s.tries >= self._max_tries():
            self._log(ctx, "max_tries")
            if node.after_max_tries is not None:
                self._perform(ctx, f"nodes.{s.node}.after_max_tries")
            elif defaults.after_max_tries is not None:
                self._perform(ctx, "defaults.after_max_tries")
            else:
                self._operator(ctx)
            return
        if why == "invalid":
            custom = node.invalid_prompt or defaults.invalid_prompt
            notice = self._media(ctx, custom) if custom else self._system(ctx, "invalid_choice")
        else:
            custom = node.no_input_prompt or defaults.no_input_prompt
            notice = self._media(ctx, custom) if custom else self._system(ctx, "no_input")
        self._offer(ctx, notice)

    def _timer(self, ctx: ServiceContext, name: str) -> None:
        s = self.s
        if name == T_INPUT:
            if s.mode == "wait":
                self._log(ctx, "timeout")
                self._retry(ctx, "no_input")
            elif s.mode == "confirm":
                self._log(ctx, "timeout")
                self._confirm_prompt(ctx)
            elif s.mode == "cb_confirm":
                self._log(ctx, "timeout")
                self._callback_retry(ctx)
        elif name == T_DIGIT and s.mode == "collect":
            if s.collected:
                self._collect_done(ctx)  # inter-digit timeout ends the entry
            else:
                self._log(ctx, "timeout")
                self._collect_failed(ctx, "no_input")

    # -- actions ------------------------------------------------------------------------------

    def _then(self, ctx: ServiceContext, key: str | None) -> None:
        action = self._actions.get(key) if key else None
        # "then: back" after a message or an entry means back to the menu it was chosen
        # from (the * key, by contrast, goes to the previous menu).
        if (
            action is not None
            and action.then is not None
            and action.then.kind
            not in (
                "back",
                "repeat",
            )
        ):
            self._perform(ctx, f"{key}.then")
        else:
            self.s.tries = 0
            self._offer(ctx)  # back to the menu the action was chosen from

    def _perform(self, ctx: ServiceContext, key: str) -> None:
        a = self._actions[key]
        s = self.s
        kind = a.kind
        if kind == "menu":
            assert a.menu is not None
            self._enter(ctx, a.menu)
        elif kind == "language":
            assert a.language is not None
            ctx.set_language(a.language)
            self._log(ctx, "language", language=a.language)
            self._then(ctx, key)
        elif kind == "back":
            self._back(ctx)
        elif kind == "repeat":
            self._offer(ctx)
        elif kind == "operator":
            self._operator(ctx)
        elif kind == "info":
            s.action = key
            self._log(ctx, "info")
            self._play(ctx, self._media(ctx, a.info), "info")
        elif kind == "collect":
            s.action, s.collect_tries = key, 0
            self._collect_prompt(ctx)
        elif kind == "callback_request":
            s.action = key
            self._callback_start(ctx)
        elif kind == "hangup":
            s.exit = "hangup"
            self._log(ctx, "exit", to="hangup")
            goodbye = self._media(ctx, a.prompt) if a.prompt else self._system(ctx, "goodbye")
            s.mode = "done"
            ctx.end_call("menu_hangup", goodbye)
        elif kind in ("queue", "transfer"):
            s.action = key
            if kind == "queue":
                s.queue = a.queue
                self._log(
                    ctx,
                    "exit",
                    to="queue",
                    queue=a.queue,
                    skill=a.skill,
                    priority=a.priority or None,
                )
                say = self._system(ctx, "connecting")
            else:
                self._log(ctx, "exit", to="transfer", number=a.transfer)
                say = self._media(ctx, a.prompt) if a.prompt else self._system(ctx, "transferring")
            s.exit = kind
            self._play(ctx, say, "leaving")

    def _operator(self, ctx: ServiceContext) -> None:
        staffed = self.staffed(self._now(ctx)) if self.staffed else self._is_open(ctx)
        if staffed:
            queue = self.menu.spec.defaults.operator_queue
            self.s.queue, self.s.exit, self.s.action = queue, "queue", None
            self._log(ctx, "exit", to="queue", queue=queue)
            self._play(ctx, self._system(ctx, "connecting"), "leaving")
        else:
            # Nobody to take the call: say so, and when to call, then a polite goodbye.
            self.s.exit = "unavailable"
            self._log(ctx, "exit", to="unavailable")
            self.s.mode = "done"
            ctx.end_call("self_service", self._system(ctx, "agents_unavailable"))

    def _leave(self, ctx: ServiceContext) -> None:
        s = self.s
        if s.exit == "transfer":
            action = self._actions[s.action] if s.action else None
            assert action is not None and action.transfer is not None
            s.mode = "done"
            ctx.transfer(self.menu.spec.defaults.transfer_context, action.transfer)
        else:
            action = self._actions[s.action] if s.action else None
            request: dict[str, object] = {
                "queue": s.queue,
                "skill": action.skill if action is not None else None,
                "priority": action.priority if action is not None else 0,
                "injury": bool(action is not None and action.injury),
                "transfer_context": self.menu.spec.defaults.transfer_context,
            }
            s.mode = "done"
            if not ctx.hand_over("queue", request):
                # A line run without the queue engine: nobody can take the call.
                ctx.end_call("queue", self._system(ctx, "agents_unavailable"))

    # -- collecting digits --------------------------------------------------------------------

    def _collecting_callback(self) -> bool:
        a = self._actions.get(self.s.action or "")
        return a is not None and a.kind == "callback_request"

    def _collect_prompt(self, ctx: ServiceContext, notice: tuple[str, ...] = ()) -> None:
        self.s.collected = ""
        if self._collecting_callback():
            media = self._system(ctx, "callback_enter")
        else:
            a = self._actions[self.s.action or ""]
            media = self._media(ctx, a.prompt)
        if self.s.buffer:
            self.s.mode, self.s.playback = "collect", None
            self._collect_timer(ctx)
            self._drain(ctx)
            return
        self._play(ctx, notice + media, "collect_prompt")

    def _collect_timer(self, ctx: ServiceContext) -> None:
        spec = self._collect_spec()
        seconds = spec.inter_digit_timeout if self.s.collected else spec.first_digit_timeout
        ctx.start_timer(T_DIGIT, seconds)

    def _collect_spec(self) -> CollectSpec:
        if self._collecting_callback():
            return CALLBACK_NUMBER
        return CollectSpec.of(self._actions[self.s.action or ""])

    def _collect_key(self, ctx: ServiceContext, digit: str) -> None:
        spec, s = self._collect_spec(), self.s
        if spec.terminator and digit == spec.terminator:
            self._collect_done(ctx)
            return
        s.collected += digit
        limit = spec.length if spec.length is not None else spec.max_length
        if len(s.collected) >= limit:
            self._collect_done(ctx)
        else:
            self._collect_timer(ctx)

    def _collect_done(self, ctx: ServiceContext) -> None:
        s = self.s
        ctx.cancel_timer(T_DIGIT)
        spec = self._collect_spec()
        if not spec.valid(s.collected):
            self._log(ctx, "invalid_entry", length=len(s.collected))
            self._collect_failed(ctx, "invalid")
            return
        if self._collecting_callback():
            s.callback_number = s.collected
            self._log(ctx, "callback_number_entered")
            self._callback_confirm_prompt(ctx)
            return
        a = self._actions[s.action or ""]
        if a.confirm:
            self._confirm_prompt(ctx)
        else:
            self._store(ctx)

    def _collect_failed(self, ctx: ServiceContext, why: str) -> None:
        s = self.s
        s.collect_tries += 1
        spec = self._collect_spec()
        if s.collect_tries >= spec.max_tries:
            self._log(ctx, "max_tries")
            if self._collecting_callback():
                self._callback_give_up(ctx)
                return
            node = self._node()
            s.action = None
            if node.after_max_tries is not None:
                self._perform(ctx, f"nodes.{s.node}.after_max_tries")
            else:
                self._operator(ctx)
            return
        notice = self._system(ctx, "invalid_entry" if why == "invalid" else "no_input")
        self._collect_prompt(ctx, notice)

    def _confirm_prompt(self, ctx: ServiceContext) -> None:
        s = self.s
        s.tries += 1
        if s.tries > self._max_tries() + 1:
            self._collect_failed(ctx, "no_input")
            return
        media = (
            self._system(ctx, "you_entered")
            + self._digits(ctx, s.collected)
            + self._system(ctx, "confirm_entry")
        )
        self._play(ctx, media, "confirm_prompt")

    def _store(self, ctx: ServiceContext) -> None:
        s = self.s
        a = self._actions[s.action or ""]
        assert a.collect is not None
        s.data[a.collect] = s.collected
        self._log(ctx, "collected", name=a.collect)
        s.tries = 0
        self._then(ctx, s.action)

    # -- callback requests -------------------------------------------------------------------

    def _callback_start(self, ctx: ServiceContext) -> None:
        number = ctx.caller_number
        self.s.collect_tries = 0
        if re.fullmatch(r"\+?[0-9]{5,16}", number or ""):
            self.s.callback_number = number
            self._callback_confirm_prompt(ctx)
        else:
            self._callback_enter(ctx)  # no usable caller ID: ask for a number

    def _callback_confirm_prompt(self, ctx: ServiceContext) -> None:
        media = (
            self._system(ctx, "callback_number")
            + self._digits(ctx, self.s.callback_number.lstrip("+"))
            + self._system(ctx, "callback_confirm")
        )
        self._play(ctx, media, "cb_prompt")

    def _callback_enter(self, ctx: ServiceContext) -> None:
        self._log(ctx, "callback_enter")
        self._collect_prompt(ctx)

    def _callback_retry(self, ctx: ServiceContext) -> None:
        self.s.tries += 1
        if self.s.tries >= self._max_tries():
            self._callback_give_up(ctx)
        else:
            self._callback_confirm_prompt(ctx)

    def _callback_give_up(self, ctx: ServiceContext) -> None:
        self.s.exit = "hangup"
        self._log(ctx, "exit", to="hangup", reason="callback_not_confirmed")
        self.s.mode = "done"
        ctx.end_call("menu_hangup", self._system(ctx, "goodbye"))

    def _callback_confirmed(self, ctx: ServiceContext) -> None:
        s = self.s
        s.data["callback_number"] = s.callback_number
        s.exit = "callback"
        ctx.emit(cmd.RequestCallback(s.callback_number, ctx.now, "ivr", ctx.language))
        self._log(ctx, "exit", to="callback_request")
        s.mode = "done"
        ctx.end_call("callback_request", self._system(ctx, "callback_done"))
