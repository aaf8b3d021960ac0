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


# --- the queue: media and legs ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StartMoh:
    moh_class: str = "default"


@dataclass(frozen=True, slots=True)
class StopMoh:
    pass


@dataclass(frozen=True, slots=True)
class Originate:
    """Dial ``endpoint`` into our application as a leg of this call (id ``leg_id``)."""

    leg_id: str
    endpoint: str
    timeout: int
    caller_id: str = ""


@dataclass(frozen=True, slots=True)
class HangupLeg:
    leg_id: str


@dataclass(frozen=True, slots=True)
class Bridge:
    """Put ``channel_ids`` into the mixing bridge ``bridge_id`` (created when missing)."""

    bridge_id: str
    channel_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CreateBridge:
    """Make the call's mixing bridge ready before it is needed (while the agent rings)."""

    bridge_id: str


@dataclass(frozen=True, slots=True)
class Unbridge:
    bridge_id: str
    channel_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DestroyBridge:
    bridge_id: str


@dataclass(frozen=True, slots=True)
class StartRecording:
    """Record the mixed audio of ``bridge_id`` as the ARI recording ``name`` (wav, and
    never over an existing one). Part ``part`` of the call's recordings, which began at
    ``call_started_at`` (the stored file's date). A failure is reported as CommandFailed
    and already written down as a failed recording by the executor."""

    bridge_id: str
    name: str
    call_started_at: datetime
    part: int = 1


@dataclass(frozen=True, slots=True)
class SaveRecording:
    """The recording ``name`` ended, or ends with the bridge now being destroyed: fetch it
    from Asterisk into the calls directory and record it (in the background; the call
    does not wait). ``error`` set: it failed in Asterisk, only that is recorded."""

    name: str
    call_started_at: datetime
    part: int = 1
    error: str | None = None


# --- a lead listening in on a call: failures reported as CommandFailed(gone=False) ------
# Commands of their own (not Originate/Bridge), so a failure is never mistaken for the
# agent's leg or bridge failing: listening must not disturb the call it listens to.


@dataclass(frozen=True, slots=True)
class DialListener:
    """Ring the listening lead's phone ``endpoint`` into our application (leg ``leg_id``)."""

    leg_id: str
    endpoint: str
    timeout: int
    caller_id: str = ""


@dataclass(frozen=True, slots=True)
class Snoop:
    """Spy on this call's channel (``spy``: in, out or both; never whisper) through a new
    snoop channel ``snoop_id`` in our application; its StasisStart comes as LegAnswered."""

    snoop_id: str
    spy: str = "both"


@dataclass(frozen=True, slots=True)
class BridgeListener:
    """Join the snoop channel and the lead's leg in the mixing bridge ``bridge_id``
    (created here); answered by ``ListenerBridged``."""

    bridge_id: str
    channel_ids: tuple[str, ...]


# --- the queue: the global queue and the seats (carried out by the queue manager) -------


@dataclass(frozen=True, slots=True)
class Enqueue:
    """Enter (or, after a transfer, move to) ``queue``; answered by Enqueued/QueueRefused."""

    queue: str
    tier: str
    arrived_at: datetime
    caller_number: str
    language: str
    priority: int = 0
    skill: str | None = None
    injury: bool = False
    external: bool = True


@dataclass(frozen=True, slots=True)
class QueueMark:
    """Set the entry's status: ``waiting`` (offer again), ``connected`` (an agent has it)."""

    status: str


@dataclass(frozen=True, slots=True)
class QueueLeave:
    """The call left the queue for good (answered and ended, abandoned, transferred out)."""


@dataclass(frozen=True, slots=True)
class BookCallback:
    """Turn the caller's place (or, when the queue refused them, a new place) into a queue
    callback on ``number``; answered by CallbackBooked."""

    number: str
    language: str
    queue: str
    tier: str
    arrived_at: datetime
    priority: int = 0
    skill: str | None = None
    injury: bool = False


@dataclass(frozen=True, slots=True)
class SeatAnswered:
    agent_id: int


@dataclass(frozen=True, slots=True)
class SeatNoAnswer:
    """The agent's phone rang out (``missed``), or the offer ended for another reason."""

    agent_id: int
    missed: bool
    misses_before_away: int = 3


@dataclass(frozen=True, slots=True)
class SeatCallEnded:
    agent_id: int
    wrap_up_seconds: int


@dataclass(frozen=True, slots=True)
class ClaimAgent:
    """Claim one named agent (a transfer to them); answered by AgentOffered/OfferFailed."""

    staff_number: str
    ring_timeout: int


@dataclass(frozen=True, slots=True)
class ControlDone:
    """Answer a web page's control request (``call_controls`` row)."""

    control_id: int
    ok: bool
    result: str


@dataclass(frozen=True, slots=True)
class CallbackResult:
    """Record a queue callback attempt's outcome on its request."""

    entry_id: int
    outcome: str
    agent: str | None
    channel: str | None


AriCommand = Answer | Play | StopPlayback | Hangup | SetLanguage | ContinueInDialplan
LegCommand = (
    StartMoh | StopMoh | Originate | HangupLeg | CreateBridge | Bridge | Unbridge | DestroyBridge
)
ListenCommand = DialListener | Snoop | BridgeListener
RecordingCommand = StartRecording | SaveRecording
QueueCommand = (
    Enqueue
    | QueueMark
    | QueueLeave
    | BookCallback
    | SeatAnswered
    | SeatNoAnswer
    | SeatCallEnded
    | ClaimAgent
    | ControlDone
    | CallbackResult
)
TimerCommand = StartTimer | CancelTimer
RecordCommand = RecordStart | RecordAnswer | RecordUpdate | RecordEnd | RequestCallback
# The requests about the call's own channel, its legs and bridges that can fail as "gone".
CallRequest = (
    Answer
    | Play
    | Hangup
    | ContinueInDialplan
    | SetLanguage
    | StartMoh
    | StopMoh
    | Originate
    | Bridge
    | CreateBridge
    | Unbridge
)
# What the command executor carries out; timers and Finished are the session's own.
ExecutedCommand = (
    AriCommand | LegCommand | ListenCommand | RecordingCommand | QueueCommand | RecordCommand
)
Command = ExecutedCommand | TimerCommand | Finished
