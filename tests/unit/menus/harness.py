"""Drive a CallFlow + MenuService input by input, as Asterisk would, with a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from ivr.call import commands as cmd
from ivr.call import inputs as inp
from ivr.call.flow import CallFlow
from ivr.menus.engine import Calendar, MenuService
from ivr.menus.loader import load_menu
from ivr.menus.model import Menu
from ivr.menus.schema import Prompt

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday


class SysPrompts:
    def media(self, key: str, language: str) -> tuple[str, ...]:
        return (f"sys:{key}:{language}",)


def resolver(prompt: Prompt, language: str) -> tuple[str, ...]:
    return (f"menu:{prompt.key}:{language}",)


def menu_from(text: str, tmp: Path) -> Menu:
    path = tmp / "test.yaml"
    path.write_text(text)
    menu = load_menu(path)
    menu.resolve_prompts(resolver)
    return menu


class Always:
    def __init__(self, open_: bool) -> None:
        self.open = open_

    def is_open(self, at: datetime) -> bool:
        return self.open


class Call:
    def __init__(
        self,
        menu: Menu,
        calendar: Calendar | None = None,
        tier: str = "general",
        number: str = "+8613800000001",
    ) -> None:
        self.service = MenuService(menu, calendar)
        self.flow = CallFlow(lambda: self.service, SysPrompts(), default_language="zh")
        self.t = 0.0
        self.out: list[cmd.Command] = []
        self.playing: cmd.Play | None = None
        self.timers: dict[str, cmd.StartTimer] = {}
        self.feed(inp.Started(self.at(), "c1", number, "", "6000", "zh", T0, caller_tier=tier))
        self.feed(inp.Answered(self.at()))

    def at(self) -> datetime:
        self.t += 0.01
        return T0 + timedelta(seconds=self.t)

    def feed(self, event: inp.Input) -> list[cmd.Command]:
        out = self.flow.handle(event)
        self.out.extend(out)
        for c in out:
            if isinstance(c, cmd.Play):
                self.playing = c
            elif (
                isinstance(c, cmd.StopPlayback)
                and self.playing
                and c.playback_id == self.playing.playback_id
            ):
                self.playing = None
            elif isinstance(c, cmd.StartTimer):
                self.timers[c.name] = c
            elif isinstance(c, cmd.CancelTimer):
                self.timers.pop(c.name, None)
        return out

    # what the caller does / what Asterisk reports
    def press(self, keys: str) -> list[cmd.Command]:
        out: list[cmd.Command] = []
        for k in keys:
            out += self.feed(inp.Digit(self.at(), k))
        return out

    def prompt_ends(self, ok: bool = True) -> list[cmd.Command]:
        assert self.playing is not None, "nothing is playing"
        pb, self.playing = self.playing, None
        return self.feed(inp.PlaybackDone(self.at(), pb.playback_id, ok))

    def wait_out(self, name: str = "menu.input") -> list[cmd.Command]:
        timer = self.timers.pop(name)
        return self.feed(inp.TimerFired(self.at(), timer.name, timer.token))

    # what we can see
    @property
    def hearing(self) -> tuple[str, ...]:
        return self.playing.media if self.playing else ()

    def events(self) -> list[tuple[str, ...]]:
        return [
            (e["event"], str(e.get("node", "")), str(e.get("key", e.get("to", ""))))
            for e in self.service.s.path
        ]

    def sent(self, kind: type) -> list[cmd.Command]:
        return [c for c in self.out if isinstance(c, kind)]
