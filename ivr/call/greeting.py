"""The simplest service: greet the caller, then end the call."""

from __future__ import annotations

from collections.abc import Mapping

from ivr.call.inputs import Input, PlaybackDone
from ivr.call.service import ServiceContext


class GreetingService:
    name = "greeting"

    def __init__(self, prompt_key: str = "greeting") -> None:
        self.prompt_key = prompt_key
        self.playback_id: str | None = None

    def begin(self, ctx: ServiceContext) -> None:
        self.playback_id = ctx.play(ctx.prompts.media(self.prompt_key, ctx.language))

    def handle(self, ctx: ServiceContext, event: Input) -> None:
        if isinstance(event, PlaybackDone) and event.playback_id == self.playback_id:
            self.playback_id = None
            ctx.end_call("completed")

    def resume(self, ctx: ServiceContext) -> None:
        self.begin(ctx)

    def snapshot(self) -> Mapping[str, object]:
        return {"playback_id": self.playback_id}

    def restore(self, data: Mapping[str, object]) -> None:
        value = data.get("playback_id")
        self.playback_id = value if isinstance(value, str) else None

    def record_fields(self) -> Mapping[str, object]:
        return {}
