"""A line that goes straight to a queue, with no menu: a direct line to the operators
(e.g. an internal extension), and what the ACD benchmark and tests call."""

from __future__ import annotations

from collections.abc import Mapping

from ivr.call.inputs import Input
from ivr.call.service import ServiceContext


class DirectToQueue:
    """The call enters ``request["queue"]`` as soon as it is answered."""

    name = "direct"

    def __init__(self, request: Mapping[str, object]) -> None:
        self.request = dict(request)

    def begin(self, ctx: ServiceContext) -> None:
        if not ctx.hand_over("queue", self.request):
            ctx.end_call("no_queue_engine", ctx.prompts.media("agents_unavailable", ctx.language))

    def handle(self, ctx: ServiceContext, event: Input) -> None:
        pass

    def resume(self, ctx: ServiceContext) -> None:
        pass

    def snapshot(self) -> Mapping[str, object]:
        return {}

    def restore(self, data: Mapping[str, object]) -> None:
        pass

    def record_fields(self) -> Mapping[str, object]:
        return {}
