"""The simulator's state objects and their ARI JSON shapes (``channels.json`` etc.)."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from ivr.ari.models import format_ari_time

# Q.850 cause codes and the texts Asterisk gives them.
CAUSE_TEXT = {
    0: "Unknown",
    1: "Unallocated (unassigned) number",
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    21: "Call Rejected",
    26: "Answered elsewhere",
    27: "Destination out of order",
    32: "Circuit/channel congestion",
    34: "Circuit/channel congestion",
    38: "Network out of order",
    41: "Temporary failure",
}

# DELETE /channels/{id}?reason=… → cause code (Asterisk's ari/resource_channels.c).
REASON_CAUSE = {
    "normal": 16,
    "busy": 17,
    "congestion": 34,
    "no_answer": 19,
    "timeout": 18,
    "rejected": 21,
    "unallocated": 1,
    "normal_unspecified": 31,
    "number_incomplete": 28,
    "codec_mismatch": 58,
    "interworking": 127,
    "failure": 38,
    "answered_elsewhere": 26,
}


class SimError(Exception):
    """Becomes an HTTP error response: ``status`` and ARI's ``{"message": …}`` body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Heard:
    """One thing a caller heard: a prompt (channel or bridge playback) or music on hold."""

    media: str
    path: str | None
    started_at: float
    ended_at: float | None = None
    completed: bool = False


@dataclass
class SimPlayback:
    id: str
    media: list[str]
    target_kind: str  # "channel" | "bridge"
    target_id: str
    language: str
    state: str = "queued"
    index: int = 0
    timer: asyncio.TimerHandle | None = None
    heard: list[Heard] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "media_uri": self.media[min(self.index, len(self.media) - 1)],
            "target_uri": f"{self.target_kind}:{self.target_id}",
            "language": self.language,
            "state": self.state,
        }
        if self.index + 1 < len(self.media):
            data["next_media_uri"] = self.media[self.index + 1]
        return data


@dataclass
class SimRecording:
    name: str
    format: str
    target_kind: str
    target_id: str
    path: Path
    started_at: float
    max_duration: float | None = None
    max_silence: float | None = None
    append: bool = False
    state: str = "recording"
    duration: int | None = None
    cause: str = ""
    timer: asyncio.TimerHandle | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "format": self.format,
            "target_uri": f"{self.target_kind}:{self.target_id}",
            "state": self.state,
        }
        if self.duration is not None:
            data["duration"] = self.duration
            if self.max_silence:
                # Only with silence detection (recordings.json); the audio is all silence.
                data.update(talking_duration=0, silence_duration=self.duration)
        if self.cause:
            data["cause"] = self.cause
        return data


@dataclass
class Playable:
    """Something playbacks can be queued on: a channel or a bridge (one at a time)."""

    current: SimPlayback | None = None
    queue: deque[SimPlayback] = field(default_factory=deque)
    recording: SimRecording | None = None
    moh: str | None = None


@dataclass
class SimChannel(Playable):
    id: str = ""
    name: str = ""
    state: str = "Down"
    caller_name: str = ""
    caller_number: str = ""
    connected_name: str = ""
    connected_number: str = ""
    context: str = "default"
    exten: str = "s"
    priority: int = 1
    app_name: str = ""
    app_data: str = ""
    created: datetime | None = None
    language: str = "en"
    variables: dict[str, str] = field(default_factory=dict)
    stasis_app: str | None = None
    subscribed: set[str] = field(default_factory=set)
    bridge_id: str | None = None
    hungup: bool = False
    hangup_cause: int | None = None
    hangup_by: str | None = None  # caller | system (ARI) | far_end | timeout
    answered_at: float | None = None
    ended_at: float | None = None
    heard: list[Heard] = field(default_factory=list)
    dtmf_received_by_phone: list[str] = field(default_factory=list)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    endpoint: str = ""
    # A snoop channel (``POST /channels/{id}/snoop``): the channel it spies on and the
    # directions it spies and whispers in; a spied channel lists its snoops' ids.
    snoop_of: str | None = None
    spy: str = "none"
    whisper: str = "none"
    snoops: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        assert self.created is not None
        return {
            "id": self.id,
            "protocol_id": "",
            "name": self.name,
            "state": self.state,
            "caller": {"name": self.caller_name, "number": self.caller_number},
            "connected": {"name": self.connected_name, "number": self.connected_number},
            "accountcode": "",
            "dialplan": {
                "context": self.context,
                "exten": self.exten,
                "priority": self.priority,
                "app_name": self.app_name,
                "app_data": self.app_data,
            },
            "creationtime": format_ari_time(self.created),
            "language": self.language,
        }


@dataclass
class SimBridge(Playable):
    id: str = ""
    name: str = ""
    bridge_type: str = "mixing"
    creator: str = "Stasis"
    channels: list[str] = field(default_factory=list)
    created: datetime | None = None
    subscribed: set[str] = field(default_factory=set)

    def to_json(self) -> dict[str, Any]:
        assert self.created is not None
        return {
            "id": self.id,
            "technology": "simple_bridge" if self.bridge_type == "mixing" else "holding_bridge",
            "bridge_type": self.bridge_type,
            "bridge_class": "stasis",
            "creator": self.creator,
            "name": self.name,
            "channels": list(self.channels),
            "video_mode": "none",
            "creationtime": format_ari_time(self.created),
        }


@dataclass
class PhoneBehaviour:
    """A simulated phone: answers after ``answer_after`` s (None: never), or is busy."""

    answer_after: float | None = 1.0
    busy: bool = False
    hangup_after: float | None = None  # once answered, hang up after this many seconds


EventSink = Callable[[dict[str, Any]], None]


class EngineCore(Protocol):
    """What the engine's helpers (``endpoints``, ``snoop``) use of ``SimEngine``: typed
    here so they need not import the engine that imports them."""

    apps: dict[str, EventSink]
    channels: dict[str, SimChannel]
    channels_seen: deque[SimChannel]
    bridges: dict[str, SimBridge]
    registered: dict[str, bool]
    pjsip_endpoints_seen: set[str]
    endpoint_subscriptions: dict[str, set[str]]

    @property
    def loop(self) -> asyncio.AbstractEventLoop: ...

    def new_id(self) -> str: ...

    def emit(self, etype: str, apps: Iterable[str], **fields: Any) -> None: ...

    def enter_stasis(
        self, ch: SimChannel, app: str, args: list[str], awaits_reaction: bool = True
    ) -> None: ...

    def hangup(
        self,
        ch: SimChannel,
        cause: int,
        *,
        by: str,
        request_cause: int | None = None,
        soft: bool = False,
        request: bool = True,
    ) -> None: ...
