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


# --- the queue (ivr.queue) ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Enqueued:
    """The call is in the global queue (``entry_id`` is its arrival sequence number)."""

    at: datetime
    entry_id: int
    position: int | None = None
    wait_estimate: float | None = None  # seconds; None: not enough history to say


@dataclass(frozen=True, slots=True)
class QueueRefused:
    """The queue would not take the call: ``full``, ``no_agents`` (nobody on shift with the
    skills) or ``unknown_queue`` (a reload removed it)."""

    at: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class NodeRejoined:
    """This controller had been taken for dead and buried while it stalled, and has
    rejoined: the call's place in the queue (taken out by the burial) must be taken again,
    and a ringing offer's claim may be gone."""

    at: datetime


@dataclass(frozen=True, slots=True)
class QueueStatus:
    """The distributor's latest view of this call's place in its queue."""

    at: datetime
    position: int
    wait_estimate: float | None


@dataclass(frozen=True, slots=True)
class AgentOffered:
    """An agent was claimed for this call (atomically, in the database) and set ringing."""

    at: datetime
    agent_id: int
    staff_number: str
    agent_name: str
    endpoint: str
    ring_timeout: int


@dataclass(frozen=True, slots=True)
class OfferFailed:
    """A directed offer (transfer to one agent) could not claim that agent."""

    at: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class LegAnswered:
    """A channel we originated for this call (agent, consult target) answered."""

    at: datetime
    leg_id: str


@dataclass(frozen=True, slots=True)
class LegEnded:
    """A leg we originated is gone (rang out, busy, refused or hung up)."""

    at: datetime
    leg_id: str
    cause: int | None = None


@dataclass(frozen=True, slots=True)
class CallbackBooked:
    """The caller's place in the queue became a callback request."""

    at: datetime
    callback_id: int


@dataclass(frozen=True, slots=True)
class ControlRequested:
    """An agent (or lead) asked, from the web page, to hold/transfer/consult on this call."""

    at: datetime
    control_id: int
    action: str
    args: dict[str, str] = field(default_factory=dict)
    requested_by: str = ""


@dataclass(frozen=True, slots=True)
class RecordingEnded:
    """A recording of this call's bridge stopped (RecordingFinished/RecordingFailed):
    ``ok`` False when it failed or was discarded, with Asterisk's ``cause``."""

    at: datetime
    name: str
    ok: bool = True
    cause: str = ""


@dataclass(frozen=True, slots=True)
class DialStart:
    """A queue callback's attempt begins (``ivr.queue.callback``)."""

    at: datetime


@dataclass(frozen=True, slots=True)
class ListenerBridged:
    """A listening lead's leg and the call's snoop channel are in their bridge."""

    at: datetime
    bridge_id: str


QueueInput = (
    Enqueued
    | QueueRefused
    | NodeRejoined
    | QueueStatus
    | AgentOffered
    | OfferFailed
    | LegAnswered
    | LegEnded
    | CallbackBooked
    | ControlRequested
    | DialStart
    | RecordingEnded
    | ListenerBridged
)

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
    | QueueInput
)
