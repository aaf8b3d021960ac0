"""One call's session: feeds inputs to its flow and carries out the commands.

A session is driven only from its channel's ordered dispatcher task, so inputs for
one call are handled strictly one after another; follow-up inputs a command produces
(``Answered``, ``CommandFailed``) are handled before the next event from Asterisk.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Mapping
from typing import Protocol

from ivr.call import commands as cmd
from ivr.call import inputs as inp
from ivr.runtime.executor import CommandExecutor

log = logging.getLogger(__name__)


class _FlowState(Protocol):
    @property
    def end_reason(self) -> str | None: ...


class Flow(Protocol):
    """A call's state machine (``CallFlow``, or a queue callback's ``CallbackFlow``)."""

    @property
    def state(self) -> _FlowState: ...

    @property
    def last_playback_id(self) -> str | None: ...

    def live_legs(self) -> Mapping[str, bool]:
        """Legs the flow believes are up (originated, not reported ended), each with
        whether it answered: what a resync asks Asterisk about."""
        ...

    def handle(self, event: inp.Input) -> list[cmd.Command]: ...


class CallSession:
    def __init__(
        self,
        channel_id: str,
        flow: Flow,
        executor: CommandExecutor,
        schedule: Callable[[str, float, str, int], asyncio.TimerHandle],
        on_finished: Callable[[CallSession], None],
    ) -> None:
        self.channel_id = channel_id
        self.flow = flow
        self.executor = executor
        self._schedule = schedule
        self._on_finished = on_finished
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self.finished = False
        self.started_monotonic = asyncio.get_running_loop().time()

    async def feed(self, first: inp.Input) -> None:
        pending: deque[inp.Input] = deque([first])
        while pending and not self.finished:
            event = pending.popleft()
            for command in self.flow.handle(event):
                follow_up = await self._carry_out(command)
                if follow_up is not None:
                    pending.append(follow_up)

    async def _carry_out(self, command: cmd.Command) -> inp.Input | None:
        match command:
            case cmd.StartTimer():
                self._cancel(command.name)
                self._timers[command.name] = self._schedule(
                    self.channel_id, command.seconds, command.name, command.token
                )
                return None
            case cmd.CancelTimer():
                self._cancel(command.name)
                return None
            case cmd.Finished():
                self.close()
                return None
            case _:
                return await self.executor.execute(self.channel_id, command)

    def _cancel(self, name: str) -> None:
        handle = self._timers.pop(name, None)
        if handle is not None:
            handle.cancel()

    def close(self) -> None:
        if self.finished:
            return
        self.finished = True
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        self._on_finished(self)
