"""The contract between the call lifecycle and what a caller is offered in between.

A *service* (the greeting, the IVR menu engine, later the queue) is a pure state
machine too: it gets the call's inputs while the call is in service and answers with
commands, through a ``ServiceContext`` that hands out playback ids and timer tokens
and lets it end the call. Its state must round-trip through ``snapshot``/``restore``
(JSON-able) so a restarted controller can re-adopt the call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

from ivr.call import commands as cmd
from ivr.call.inputs import Input


class Prompts(Protocol):
    """Looks up the ARI media URIs that speak a named prompt in a language."""

    def media(self, key: str, language: str) -> tuple[str, ...]: ...


class ServiceContext(Protocol):
    @property
    def now(self) -> datetime: ...

    @property
    def language(self) -> str: ...

    @property
    def prompts(self) -> Prompts: ...

    @property
    def caller_number(self) -> str: ...

    @property
    def channel_id(self) -> str: ...

    @property
    def caller_name(self) -> str: ...

    @property
    def call_started_at(self) -> datetime:
        """When the caller's channel was created (the call record's start)."""
        ...

    def hand_over(self, name: str, request: Mapping[str, object]) -> bool:
        """Continue in the service ``name`` (it gets ``enter(ctx, request)``); False when
        the call has no such service."""
        ...

    @property
    def caller_tier(self) -> str:
        """general | member | vip, from the customers table at call start."""
        ...

    def save(self) -> None:
        """Persist progress (``record_fields`` and the snapshot) to the call record."""
        ...

    def transfer(self, context: str, extension: str) -> None:
        """Hand the call to the dialplan (``context``/``extension``); it leaves us."""
        ...

    def play(self, media: tuple[str, ...]) -> str:
        """Queue a Play command; returns the playback id to wait for."""
        ...

    def stop_playback(self, playback_id: str) -> None: ...

    def start_timer(self, name: str, seconds: float) -> None: ...

    def cancel_timer(self, name: str) -> None: ...

    def timer_is_current(self, name: str, token: int) -> bool: ...

    def set_language(self, language: str) -> None: ...

    def emit(self, command: cmd.Command) -> None: ...

    def end_call(self, reason: str, goodbye: tuple[str, ...] = ()) -> None:
        """Hang up (after ``goodbye`` has played), recording ``reason`` as the call's end."""
        ...


class Service(Protocol):
    name: str

    def begin(self, ctx: ServiceContext) -> None: ...

    def handle(self, ctx: ServiceContext, event: Input) -> None: ...

    def resume(self, ctx: ServiceContext) -> None:
        """Continue after a restart or a gap in events: replay what the caller should hear."""
        ...

    def snapshot(self) -> Mapping[str, object]: ...

    def restore(self, data: Mapping[str, object]) -> None: ...

    def record_fields(self) -> Mapping[str, object]:
        """Fields this service contributes to the call record (menu path, queue …)."""
        ...


# Optional service methods, looked up with ``hook``:
#   enter(ctx, request)        — taken over from another service (``ctx.hand_over``)
#   close(ctx, reason)         — the call is ending: release legs, seats, queue places
#   command_failed(ctx, event) -> bool — a command of ours failed; True if handled
#   final_reason(reason) -> str | None — a better end reason for the record
#   live_legs() -> Mapping[str, bool] — legs it has up, each answered or not (asked about
#                              after a gap in events: their ends may have been missed)


def hook(service: object, name: str) -> Callable[..., Any] | None:
    found = getattr(service, name, None)
    return found if callable(found) else None
