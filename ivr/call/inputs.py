"""What a call's state machine reacts to. Each input carries the instant it happened."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Started:
    """The caller's channel entered our Stasis application."""

    at: datetime
    channel_id: str
    caller_number: str
    caller_name: str
    dialled: str
    language: str
    created_at: datetime
    caller_tier: str = "general"  # from the customers table (caller ID lookup)


@dataclass(frozen=True, slots=True)
class Answered:
    at: datetime


@dataclass(frozen=True, slots=True)
class Digit:
    at: datetime
    digit: str


@dataclass(frozen=True, slots=True)
class PlaybackBegan:
    at: datetime
    playback_id: str


@dataclass(frozen=True, slots=True)
class PlaybackDone:
    """A playback ended. ARI reports errors and success alike, so ``ok`` is best effort."""

    at: datetime
    playback_id: str
    ok: bool = True


@dataclass(frozen=True, slots=True)
class TimerFired:
    at: datetime
    name: str
    token: int


@dataclass(frozen=True, slots=True)
class HangupRequested:
    """ChannelHangupRequest: ``soft`` is set when the hang-up was asked for over ARI."""

    at: datetime
    cause: int | None
    soft: bool


@dataclass(frozen=True, slots=True)
class Left:
    """StasisEnd or ChannelDestroyed: the channel is no longer ours; nothing more will come.

    ``unobserved`` marks a channel found gone after a gap in events (socket drop,
    controller restart): how and when exactly it ended was not seen.
    """

    at: datetime
    cause: int | None = None
    cause_text: str | None = None
    unobserved: bool = False


@dataclass(frozen=True, slots=True)
class CommandFailed:
    """A command could not be carried out after the executor's own retries.

    ``gone`` means Asterisk said the channel no longer exists or has left Stasis
    (404/409): the call is over whatever we wanted.
    """

    at: datetime
    command: str
    reason: str
    gone: bool


@dataclass(frozen=True, slots=True)
class Resynced:
    """The event stream came back after a gap; events in between were lost.

    The session first reports the flow's last playback as ``PlaybackDone`` if Asterisk
    no longer has it, so only what cannot be asked about is left to this input.
    """

    at: datetime


@dataclass(frozen=True, slots=True)
class Adopted:
    """A controller restart found this channel still in our application.

    ``snapshot`` is the flow state last saved to the database, or None when it was lost.
    """

    at: datetime
    channel_id: str
    caller_number: str
    caller_name: str
    dialled: str
    language: str
    created_at: datetime
    answered: bool
    snapshot: dict[str, object] | None = field(default=None)
    caller_tier: str = "general"


Input = (
    Started
    | Answered
    | Digit
    | PlaybackBegan
    | PlaybackDone
    | TimerFired
    | HangupRequested
    | Left
    | CommandFailed
    | Resynced
    | Adopted
)
