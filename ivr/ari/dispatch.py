"""Per-key ordered dispatch: events for one channel in order, channels in parallel.

The WebSocket reader only appends to a queue (never awaits handler work), so a slow
call can neither stall other calls nor make Asterisk drop our socket for reading too
slowly. One worker task exists per key only while that key has work queued; it ends
when its queue runs dry, so finished calls leave nothing behind.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


class OrderedDispatcher(Generic[K, T]):
    def __init__(
        self,
        handler: Callable[[K, T], Awaitable[None]],
        on_handled: Callable[[K, T, float], None] | None = None,
    ) -> None:
        self._handler = handler
        # Told, after each item, the seconds from its submission to the end of its
        # handling (the controller's event-to-command latency).
        self._on_handled = on_handled
        self._queues: dict[K, deque[tuple[T, float]]] = {}
        self._tasks: dict[K, asyncio.Task[None]] = {}
        self._idle = asyncio.Event()
        self._idle.set()
        self.submitted = 0
        self.handled = 0

    def submit(self, key: K, item: T) -> None:
        """Queue ``item`` behind everything already queued for ``key``. Never blocks."""
        self.submitted += 1
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = deque()
            self._idle.clear()
            self._tasks[key] = asyncio.get_running_loop().create_task(
                self._work(key, queue), name=f"dispatch:{key}"
            )
        queue.append((item, time.perf_counter()))

    async def _work(self, key: K, queue: deque[tuple[T, float]]) -> None:
        try:
            while queue:
                item, submitted_at = queue.popleft()
                try:
                    await self._handler(key, item)
                except Exception:
                    # The handler is the place for per-call recovery; this only keeps
                    # the worker (and the items queued behind) alive.
                    log.exception("unhandled error for %s", key)
                self.handled += 1
                if self._on_handled is not None:
                    try:
                        self._on_handled(key, item, time.perf_counter() - submitted_at)
                    except Exception:
                        log.exception("on_handled failed for %s", key)
        finally:
            # No await between the emptiness check and here: no item can slip in unseen.
            if self._queues.get(key) is queue:
                del self._queues[key]
                del self._tasks[key]
            if not self._tasks:
                self._idle.set()

    @property
    def active_keys(self) -> int:
        return len(self._tasks)

    @property
    def backlog(self) -> int:
        return sum(len(q) for q in self._queues.values())

    async def drain(self, timeout: float) -> None:
        """Wait until every queued item has been handled (TimeoutError after ``timeout``)."""
        await asyncio.wait_for(self._idle.wait(), timeout)

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
