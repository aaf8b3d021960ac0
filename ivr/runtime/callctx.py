"""The call being handled, for every log line written while handling it.

The controller sets ``call_id`` at the top of each dispatch step of a call. Each call's
dispatch worker is its own asyncio task, and a task runs in its own copy of the
context, so the value never leaks from one call to another; tasks and timers started
while handling a call inherit it. ``hotline.logsetup`` puts it on every log record.
"""

from __future__ import annotations

from contextvars import ContextVar

call_id: ContextVar[str | None] = ContextVar("hotline_call_id", default=None)
