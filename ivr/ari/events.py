"""ARI events (``events.json``) parsed into typed objects.

``parse_event`` turns one WebSocket message into an ``Event``; an event type we do not
model becomes ``OtherEvent`` (kept, routed by nothing), a message that lacks a field
the API description marks required raises ``MalformedEvent`` — the stream logs and
skips it rather than letting one bad message stop the reader.

``channel_id`` names the channel an event is about, the key for per-channel ordered
handling: playbacks and recordings name theirs in ``target_uri`` (``channel:<id>``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ivr.ari.models import (
    Bridge,
    Channel,
    Endpoint,
    LiveRecording,
    MalformedModel,
    Playback,
    parse_ari_time,
)


class MalformedEvent(ValueError):
    """A message that is not a well-formed ARI event."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    type: str
    application: str
    timestamp: datetime
    asterisk_id: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def channel_id(self) -> str | None:
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelEvent(Event):
    channel: Channel

    @property
    def channel_id(self) -> str | None:
        return self.channel.id


@dataclass(frozen=True, slots=True, kw_only=True)
class StasisStart(ChannelEvent):
    args: tuple[str, ...] = ()
    replace_channel: Channel | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StasisEnd(ChannelEvent):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelCreated(ChannelEvent):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelStateChange(ChannelEvent):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelDtmfReceived(ChannelEvent):
    digit: str
    duration_ms: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelHangupRequest(ChannelEvent):
    cause: int | None = None
    soft: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelDestroyed(ChannelEvent):
    cause: int
    cause_txt: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelDialplan(ChannelEvent):
    dialplan_app: str = ""
    dialplan_app_data: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelCallerId(ChannelEvent):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelConnectedLine(ChannelEvent):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelHold(ChannelEvent):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelUnhold(ChannelEvent):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelVarset(Event):
    variable: str
    value: str
    channel: Channel | None = None

    @property
    def channel_id(self) -> str | None:
        return self.channel.id if self.channel else None


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelEnteredBridge(Event):
    bridge: Bridge
    channel: Channel | None = None

    @property
    def channel_id(self) -> str | None:
        return self.channel.id if self.channel else None


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelLeftBridge(Event):
    bridge: Bridge
    channel: Channel

    @property
    def channel_id(self) -> str | None:
        return self.channel.id


@dataclass(frozen=True, slots=True, kw_only=True)
class BridgeCreated(Event):
    bridge: Bridge


@dataclass(frozen=True, slots=True, kw_only=True)
class BridgeDestroyed(Event):
    bridge: Bridge


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaybackEvent(Event):
    playback: Playback

    @property
    def channel_id(self) -> str | None:
        return self.playback.channel_id


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaybackStarted(PlaybackEvent):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaybackContinuing(PlaybackEvent):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaybackFinished(PlaybackEvent):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingEvent(Event):
    recording: LiveRecording

    @property
    def channel_id(self) -> str | None:
        kind, _, ident = self.recording.target_uri.partition(":")
        return ident if kind == "channel" and ident else None


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingStarted(RecordingEvent):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingFinished(RecordingEvent):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingFailed(RecordingEvent):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class Dial(Event):
    """Progress of a dial; ``peer`` is the channel being dialled (an agent leg)."""

    peer: Channel
    dialstatus: str
    caller: Channel | None = None
    dialstring: str = ""

    @property
    def channel_id(self) -> str | None:
        return self.peer.id


@dataclass(frozen=True, slots=True, kw_only=True)
class ApplicationReplaced(Event):
    """Another connection took over our application; this socket gets no more events."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EndpointStateChange(Event):
    """A phone went online or offline (to an app subscribed to ``endpoint:<tech>[/<res>]``)."""

    endpoint: Endpoint


@dataclass(frozen=True, slots=True, kw_only=True)
class OtherEvent(Event):
    """An event type call control does not model; kept whole in ``raw``."""


def _channel(data: Mapping[str, Any], key: str) -> Channel:
    if key not in data:
        raise MalformedEvent(f"{data.get('type')} without {key}")
    return Channel.from_json(data[key])


def _opt_channel(data: Mapping[str, Any], key: str) -> Channel | None:
    return Channel.from_json(data[key]) if data.get(key) else None


def _int_or_none(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    # JSON as Python reads it may say Infinity or NaN; neither is a number we can use.
    return int(value) if math.isfinite(value) else None


_Builder = Callable[[Mapping[str, Any], dict[str, Any]], Event]

_SIMPLE_CHANNEL_EVENTS: dict[str, type[ChannelEvent]] = {
    "StasisEnd": StasisEnd,
    "ChannelCreated": ChannelCreated,
    "ChannelStateChange": ChannelStateChange,
    "ChannelCallerId": ChannelCallerId,
    "ChannelConnectedLine": ChannelConnectedLine,
    "ChannelHold": ChannelHold,
    "ChannelUnhold": ChannelUnhold,
}

_PLAYBACK_EVENTS: dict[str, type[PlaybackEvent]] = {
    "PlaybackStarted": PlaybackStarted,
    "PlaybackContinuing": PlaybackContinuing,
    "PlaybackFinished": PlaybackFinished,
}

_RECORDING_EVENTS: dict[str, type[RecordingEvent]] = {
    "RecordingStarted": RecordingStarted,
    "RecordingFinished": RecordingFinished,
    "RecordingFailed": RecordingFailed,
}


def _build(etype: str, d: Mapping[str, Any], base: dict[str, Any]) -> Event:
    if etype == "StasisStart":
        args = d.get("args")
        if not isinstance(args, list):
            raise MalformedEvent("StasisStart without args")
        return StasisStart(
            **base,
            channel=_channel(d, "channel"),
            args=tuple(str(a) for a in args),
            replace_channel=_opt_channel(d, "replace_channel"),
        )
    if etype in _SIMPLE_CHANNEL_EVENTS:
        return _SIMPLE_CHANNEL_EVENTS[etype](**base, channel=_channel(d, "channel"))
    if etype == "ChannelDtmfReceived":
        digit = d.get("digit")
        if not isinstance(digit, str) or len(digit) != 1:
            raise MalformedEvent(f"ChannelDtmfReceived with digit {digit!r}")
        return ChannelDtmfReceived(
            **base,
            channel=_channel(d, "channel"),
            digit=digit,
            duration_ms=_int_or_none(d.get("duration_ms")) or 0,
        )
    if etype == "ChannelHangupRequest":
        soft = d.get("soft")
        return ChannelHangupRequest(
            **base,
            channel=_channel(d, "channel"),
            cause=_int_or_none(d.get("cause")),
            soft=soft if isinstance(soft, bool) else None,
        )
    if etype == "ChannelDestroyed":
        cause = _int_or_none(d.get("cause"))
        if cause is None or not isinstance(d.get("cause_txt"), str):
            raise MalformedEvent("ChannelDestroyed without cause/cause_txt")
        return ChannelDestroyed(
            **base, channel=_channel(d, "channel"), cause=cause, cause_txt=d["cause_txt"]
        )
    if etype == "ChannelDialplan":
        return ChannelDialplan(
            **base,
            channel=_channel(d, "channel"),
            dialplan_app=str(d.get("dialplan_app", "")),
            dialplan_app_data=str(d.get("dialplan_app_data", "")),
        )
    if etype == "ChannelVarset":
        if "variable" not in d:
            raise MalformedEvent("ChannelVarset without variable")
        return ChannelVarset(
            **base,
            variable=str(d["variable"]),
            value=str(d.get("value", "")),
            channel=_opt_channel(d, "channel"),
        )
    if etype in ("ChannelEnteredBridge", "ChannelLeftBridge"):
        if "bridge" not in d:
            raise MalformedEvent(f"{etype} without bridge")
        bridge = Bridge.from_json(d["bridge"])
        if etype == "ChannelEnteredBridge":
            return ChannelEnteredBridge(**base, bridge=bridge, channel=_opt_channel(d, "channel"))
        return ChannelLeftBridge(**base, bridge=bridge, channel=_channel(d, "channel"))
    if etype in ("BridgeCreated", "BridgeDestroyed"):
        if "bridge" not in d:
            raise MalformedEvent(f"{etype} without bridge")
        cls = BridgeCreated if etype == "BridgeCreated" else BridgeDestroyed
        return cls(**base, bridge=Bridge.from_json(d["bridge"]))
    if etype in _PLAYBACK_EVENTS:
        if "playback" not in d:
            raise MalformedEvent(f"{etype} without playback")
        return _PLAYBACK_EVENTS[etype](**base, playback=Playback.from_json(d["playback"]))
    if etype in _RECORDING_EVENTS:
        if "recording" not in d:
            raise MalformedEvent(f"{etype} without recording")
        return _RECORDING_EVENTS[etype](**base, recording=LiveRecording.from_json(d["recording"]))
    if etype == "Dial":
        if "dialstatus" not in d:
            raise MalformedEvent("Dial without dialstatus")
        return Dial(
            **base,
            peer=_channel(d, "peer"),
            dialstatus=str(d["dialstatus"]),
            caller=_opt_channel(d, "caller"),
            dialstring=str(d.get("dialstring", "")),
        )
    if etype == "ApplicationReplaced":
        return ApplicationReplaced(**base)
    if etype == "EndpointStateChange":
        if "endpoint" not in d:
            raise MalformedEvent("EndpointStateChange without endpoint")
        return EndpointStateChange(**base, endpoint=Endpoint.from_json(d["endpoint"]))
    return OtherEvent(**base)


def parse_event(data: object) -> Event:
    """One decoded WebSocket message → an ``Event`` (or ``MalformedEvent``)."""
    if not isinstance(data, Mapping):
        raise MalformedEvent("event is not a JSON object")
    etype = data.get("type")
    if not isinstance(etype, str) or not etype:
        raise MalformedEvent("event without type")
    try:
        timestamp = parse_ari_time(data.get("timestamp"))
    except MalformedModel as exc:
        raise MalformedEvent(f"{etype}: {exc}") from None
    base: dict[str, Any] = {
        "type": etype,
        "application": str(data.get("application", "")),
        "timestamp": timestamp,
        "asterisk_id": str(data.get("asterisk_id", "")),
        "raw": data,
    }
    try:
        return _build(etype, data, base)
    except (MalformedModel, ValueError, TypeError, ArithmeticError) as exc:
        # Wrong types in odd places (a number too large for a date …) are malformed
        # too: anything else would end the events reader.
        raise MalformedEvent(f"{etype}: {exc}") from None
