"""Typed views of the ARI models we use (``channels.json``, ``playbacks.json`` …).

Each model keeps the JSON it came from in ``raw`` so nothing Asterisk sent is lost,
and parses only the fields call control reads. Parsing is lenient about optional
fields and strict about the identity fields (a channel without an id is malformed).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


class MalformedModel(ValueError):
    """A model body lacks a field every Asterisk version sends."""


def parse_ari_time(value: object) -> datetime:
    """ARI timestamps look like ``2026-11-25T12:00:00.123+0000``."""
    if not isinstance(value, str) or not value:
        raise MalformedModel(f"bad timestamp {value!r}")
    try:
        for fmt in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
            try:
                return datetime.strptime(value, fmt).astimezone(UTC)
            except ValueError:
                continue
        parsed = datetime.fromisoformat(value)
        return parsed.replace(tzinfo=parsed.tzinfo or UTC).astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: year 9999 east of UTC
        raise MalformedModel(f"bad timestamp {value!r}") from None


def format_ari_time(value: datetime) -> str:
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def _str(data: Mapping[str, Any], key: str, default: str = "") -> str:
    value = data.get(key, default)
    return value if isinstance(value, str) else str(value)


def _require(data: Mapping[str, Any], key: str, model: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedModel(f"{model} without {key}")
    return value


@dataclass(frozen=True, slots=True)
class CallerId:
    name: str = ""
    number: str = ""

    @classmethod
    def from_json(cls, data: object) -> CallerId:
        if not isinstance(data, Mapping):
            return cls()
        return cls(_str(data, "name"), _str(data, "number"))


@dataclass(frozen=True, slots=True)
class DialplanCEP:
    context: str
    exten: str
    priority: int
    app_name: str = ""
    app_data: str = ""

    @classmethod
    def from_json(cls, data: object) -> DialplanCEP | None:
        if not isinstance(data, Mapping):
            return None
        try:
            priority = int(data.get("priority", 1))
        except (TypeError, ValueError):
            priority = 1
        return cls(
            _str(data, "context"),
            _str(data, "exten"),
            priority,
            _str(data, "app_name"),
            _str(data, "app_data"),
        )


@dataclass(frozen=True, slots=True)
class Channel:
    id: str
    name: str
    state: str
    caller: CallerId
    connected: CallerId
    dialplan: DialplanCEP | None
    creationtime: datetime
    language: str
    channelvars: Mapping[str, str] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: object) -> Channel:
        if not isinstance(data, Mapping):
            raise MalformedModel("channel is not an object")
        created = data.get("creationtime")
        vars_ = data.get("channelvars")
        return cls(
            id=_require(data, "id", "channel"),
            name=_str(data, "name"),
            state=_str(data, "state"),
            caller=CallerId.from_json(data.get("caller")),
            connected=CallerId.from_json(data.get("connected")),
            dialplan=DialplanCEP.from_json(data.get("dialplan")),
            creationtime=parse_ari_time(created) if created else datetime.now(UTC),
            language=_str(data, "language", "en") or "en",
            channelvars={str(k): str(v) for k, v in vars_.items()}
            if isinstance(vars_, Mapping)
            else {},
            raw=dict(data),
        )


@dataclass(frozen=True, slots=True)
class Playback:
    id: str
    media_uri: str
    target_uri: str
    state: str  # queued, playing, paused, continuing, done, failed (Asterisk 22)
    language: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: object) -> Playback:
        if not isinstance(data, Mapping):
            raise MalformedModel("playback is not an object")
        return cls(
            id=_require(data, "id", "playback"),
            media_uri=_str(data, "media_uri"),
            target_uri=_str(data, "target_uri"),
            state=_str(data, "state"),
            language=_str(data, "language"),
            raw=dict(data),
        )

    @property
    def channel_id(self) -> str | None:
        kind, _, ident = self.target_uri.partition(":")
        return ident if kind == "channel" and ident else None


@dataclass(frozen=True, slots=True)
class Bridge:
    id: str
    technology: str
    bridge_type: str
    bridge_class: str
    name: str
    channels: tuple[str, ...]
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: object) -> Bridge:
        if not isinstance(data, Mapping):
            raise MalformedModel("bridge is not an object")
        chans = data.get("channels")
        return cls(
            id=_require(data, "id", "bridge"),
            technology=_str(data, "technology"),
            bridge_type=_str(data, "bridge_type"),
            bridge_class=_str(data, "bridge_class"),
            name=_str(data, "name"),
            channels=tuple(str(c) for c in chans) if isinstance(chans, list) else (),
            raw=dict(data),
        )


@dataclass(frozen=True, slots=True)
class LiveRecording:
    name: str
    format: str
    target_uri: str
    state: str  # queued, recording, paused, done, failed, canceled
    duration: int | None = None
    cause: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: object) -> LiveRecording:
        if not isinstance(data, Mapping):
            raise MalformedModel("recording is not an object")
        duration = data.get("duration")
        return cls(
            name=_require(data, "name", "recording"),
            format=_str(data, "format"),
            target_uri=_str(data, "target_uri"),
            state=_str(data, "state"),
            duration=int(duration)
            if isinstance(duration, int | float) and math.isfinite(duration)
            else None,
            cause=_str(data, "cause"),
            raw=dict(data),
        )


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A phone or trunk as Asterisk sees it (``endpoints.json``): ``state`` is
    ``online``/``offline`` (or ``unknown``), ``channel_ids`` the calls it carries."""

    technology: str
    resource: str
    state: str = "unknown"
    channel_ids: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.technology}/{self.resource}"

    @classmethod
    def from_json(cls, data: object) -> Endpoint:
        if not isinstance(data, Mapping):
            raise MalformedModel("endpoint is not an object")
        ids = data.get("channel_ids", [])
        return cls(
            technology=_require(data, "technology", "endpoint"),
            resource=_require(data, "resource", "endpoint"),
            state=_str(data, "state", "unknown"),
            channel_ids=tuple(str(i) for i in ids) if isinstance(ids, list) else (),
        )
