"""Malformed ARI events, generated: whatever arrives, ``parse_event`` returns an event or
raises ``MalformedEvent`` (which the stream logs and skips) — never anything else, which
would end the events reader and leave every call deaf."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivr.ari import events as ev
from ivr.ari.events import MalformedEvent, parse_event
from tests.unit.ari.test_events import channel, event

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# JSON as Python's json module reads it: also Infinity and NaN, which it accepts.
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(
        [
            "",
            "channel:",
            "channel:c1",
            "bridge:b1",
            "9999-12-31T23:59:59-1400",
            "0001-01-01T00:00:00+1400",
        ]
    ),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=20,
)

PLAYBACK = {"id": "pb1", "media_uri": "sound:hello", "target_uri": "channel:c1", "state": "done"}
RECORDING = {
    "name": "r1",
    "format": "wav",
    "target_uri": "bridge:b1",
    "state": "done",
    "duration": 3,
}
BRIDGE = {"id": "b1", "technology": "simple_bridge", "bridge_type": "mixing", "channels": ["c1"]}

# One well-formed example of every event type call control reads.
REAL_EVENTS: list[dict[str, Any]] = [
    event("StasisStart", args=[], channel=channel("c1")),
    event("StasisEnd", channel=channel("c1")),
    event("ChannelStateChange", channel=channel("c1", state="Up")),
    event("ChannelDtmfReceived", digit="5", duration_ms=100, channel=channel("c1")),
    event("ChannelHangupRequest", cause=16, soft=False, channel=channel("c1")),
    event("ChannelDestroyed", cause=16, cause_txt="Normal Clearing", channel=channel("c1")),
    event("ChannelDialplan", dialplan_app="Stasis", dialplan_app_data="hotline", channel=channel()),
    event("ChannelVarset", variable="X", value="1", channel=channel("c1")),
    event("ChannelEnteredBridge", bridge=BRIDGE, channel=channel("c1")),
    event("ChannelLeftBridge", bridge=BRIDGE, channel=channel("c1")),
    event("BridgeCreated", bridge=BRIDGE),
    event("BridgeDestroyed", bridge=BRIDGE),
    event("PlaybackStarted", playback=PLAYBACK),
    event("PlaybackFinished", playback=PLAYBACK),
    event("RecordingStarted", recording=RECORDING),
    event("RecordingFinished", recording=RECORDING),
    event("RecordingFailed", recording={**RECORDING, "cause": "disk full"}),
    event("Dial", peer=channel("c1~a1"), caller=channel("c1"), dialstatus="ANSWER"),
    event("ApplicationReplaced"),
]


def parses_cleanly(data: object) -> ev.Event | None:
    try:
        return parse_event(data)
    except MalformedEvent:
        return None


def test_every_real_event_parses() -> None:
    for data in REAL_EVENTS:
        assert parses_cleanly(data) is not None, data["type"]


@FUZZ
@given(json_values)
def test_any_json_value_is_an_event_or_malformed(data: object) -> None:
    parses_cleanly(data)


@FUZZ
@given(st.sampled_from(REAL_EVENTS), st.data())
def test_a_real_event_with_a_field_dropped_or_replaced(
    original: dict[str, Any], data: st.DataObject
) -> None:
    mutated = json.loads(json.dumps(original))  # a deep copy
    # Walk to a random mapping inside the event (the event itself, its channel, …).
    target: dict[str, Any] = mutated
    while True:
        nested = [k for k, v in target.items() if isinstance(v, dict)]
        if not nested or data.draw(st.booleans()):
            break
        target = target[data.draw(st.sampled_from(nested))]
    key = data.draw(st.sampled_from(sorted(target)))
    if data.draw(st.booleans()):
        del target[key]
    else:
        target[key] = data.draw(json_values)
    parses_cleanly(mutated)


@FUZZ
@given(st.sampled_from(REAL_EVENTS), st.text(max_size=20))
def test_unknown_and_odd_event_types(original: dict[str, Any], etype: str) -> None:
    result = parses_cleanly({**original, "type": etype})
    if not etype:
        assert result is None
    elif result is not None:
        assert result.type == etype
        # A type we do not model is kept whole (OtherEvent) and routed by nothing.
        assert isinstance(result, ev.OtherEvent) or type(result).__name__ == etype


def test_non_finite_numbers_are_malformed_or_ignored_not_fatal() -> None:
    # Python's json reads Infinity and NaN; int() of them raises OverflowError/ValueError.
    for data in (
        event("ChannelHangupRequest", cause=float("inf"), channel=channel("c1")),
        event("ChannelDestroyed", cause=float("nan"), cause_txt="x", channel=channel("c1")),
        event("ChannelDtmfReceived", digit="1", duration_ms=float("inf"), channel=channel("c1")),
        event("RecordingFinished", recording={**RECORDING, "duration": float("inf")}),
        event("StasisStart", args=[], channel=channel("c1"), timestamp="9999-12-31T23:59:59-1400"),
    ):
        parses_cleanly(data)
