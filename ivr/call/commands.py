"""What a call's state machine asks the outside world to do.

The executor turns ARI commands into REST requests and record commands into
database writes; it reports failures back as ``inputs.CommandFailed``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Answer:
    pass


@dataclass(frozen=True, slots=True)
class Play:
    """Play ``media`` (ARI media URIs, played in order) under a playback id we chose."""

    playback_id: str
    media: tuple[str, ...]
    language: str


@dataclass(frozen=True, slots=True)
class StopPlayback:
    playback_id: str


@dataclass(frozen=True, slots=True)
class StartTimer:
    """(Re)start the named timer; an earlier timer of the same name is replaced."""

    name: str
    seconds: float
    token: int


@dataclass(frozen=True, slots=True)
class CancelTimer:
    name: str


@dataclass(frozen=True, slots=True)
class Hangup:
    reason: str = "normal"


@dataclass(frozen=True, slots=True)
class ContinueInDialplan:
    """Hand the channel back to the dialplan (a transfer): it leaves our application."""

    context: str
    extension: str
    priority: int = 1


@dataclass(frozen=True, slots=True)
class RequestCallback:
    """Log a callback request for this call (idempotent per call and source)."""

    number: str
    requested_at: datetime
    source: str = "ivr"
    language: str = ""


@dataclass(frozen=True, slots=True)
class SetLanguage:
    language: str


@dataclass(frozen=True, slots=True)
class RecordStart:
    """Create the call record if it does not exist yet (idempotent)."""

    started_at: datetime
    caller_number: str
    caller_name: str
    dialled: str
    language: str
    state: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RecordAnswer:
    at: datetime


@dataclass(frozen=True, slots=True)
class RecordUpdate:
    """Update mutable fields of an open record (menu path, state snapshot, queue …)."""

    fields: Mapping[str, object]


@dataclass(frozen=True, slots=True)
class RecordEnd:
    """Complete the record; the first end wins, replays are harmless."""

    ended_at: datetime
    hangup_cause: int | None
    hangup_cause_text: str | None
    hangup_side: str
    end_reason: str
    fields: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Finished:
    """The call is over for the controller: release the session and its timers."""


AriCommand = Answer | Play | StopPlayback | Hangup | SetLanguage | ContinueInDialplan
TimerCommand = StartTimer | CancelTimer
RecordCommand = RecordStart | RecordAnswer | RecordUpdate | RecordEnd | RequestCallback
Command = AriCommand | TimerCommand | RecordCommand | Finished
