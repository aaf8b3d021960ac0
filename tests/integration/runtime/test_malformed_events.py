"""Malformed ARI events over the real events socket: each is logged and skipped, the
socket stays up, and the calls in progress (and the next ones) are served as usual."""

from __future__ import annotations

import json

import pytest

from simulator.server import AriSimulator
from tests.integration.conftest import NodeFactory, wait_for
from tests.integration.runtime.test_call_lifecycle import records

TS = "2026-11-25T09:30:01.250+0000"


def malformed_frames(live_channel: str) -> list[str]:
    """Frames a broken or hostile peer might send; several name the live call's channel."""
    ch = {"id": live_channel, "name": "PJSIP/x", "state": "Up"}
    return [
        "not json at all",
        "",
        "[" * 100_000,  # nested deeper than the JSON parser's stack
        "null",
        '["a", "list"]',
        json.dumps({"type": 5, "timestamp": TS}),
        json.dumps({"application": "hotline", "timestamp": TS}),  # no type
        json.dumps({"type": "StasisStart", "timestamp": TS, "channel": "nope", "args": []}),
        json.dumps({"type": "StasisStart", "timestamp": TS, "channel": ch}),  # no args
        json.dumps({"type": "ChannelDtmfReceived", "timestamp": TS, "digit": "12", "channel": ch}),
        json.dumps({"type": "ChannelDtmfReceived", "timestamp": TS, "digit": 5, "channel": ch}),
        json.dumps({"type": "ChannelDestroyed", "timestamp": TS, "channel": ch}),  # no cause
        json.dumps({"type": "PlaybackFinished", "timestamp": TS, "playback": {"id": ""}}),
        json.dumps({"type": "RecordingFinished", "timestamp": TS, "recording": []}),
        json.dumps({"type": "ChannelLeftBridge", "timestamp": TS, "channel": ch}),
        json.dumps({"type": "StasisEnd", "timestamp": "yesterday", "channel": ch}),
        # A date that overflows when moved to UTC.
        json.dumps(
            {
                "type": "ChannelDestroyed",
                "timestamp": "9999-12-31T23:59:59-1400",
                "cause": 16,
                "cause_txt": "Normal Clearing",
                "channel": ch,
            }
        ),
        # NaN is no JSON, but Python's parser reads it.
        '{"type": "ChannelHangupRequest", "timestamp": NaN, "channel": {"id": "'
        + live_channel
        + '"}}',
    ]


async def test_malformed_events_are_skipped_and_calls_go_on(
    sim: AriSimulator, start_node: NodeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("WARNING", logger="ivr.ari.stream")
    node = await start_node()
    assert node.stream is not None and node.controller is not None
    stream, controller = node.stream, node.controller
    first = await sim.place_call("6000", "+8613800000021", script="wait for prompt")
    await wait_for(lambda: bool(first.heard), what="greeting starts")

    frames = malformed_frames(first.channel_id)
    for frame in frames:
        assert sim.send_raw(frame) == 1
    # Well-formed, but of a type call control does not know: kept, routed nowhere.
    unknown = {"type": "TextMessageReceived", "application": "hotline", "timestamp": TS}
    sim.send_raw(json.dumps(unknown))
    await wait_for(lambda: stream.malformed == len(frames), what="every frame skipped")
    await wait_for(lambda: controller.stats.events_ignored >= 1, what="unknown type ignored")

    # The call in progress heard its greeting to the end and was hung up by us, as usual.
    await first.ended(20)
    assert first.hangup_by == "system"
    assert [(h.media, h.completed) for h in first.heard] == [("sound:custom/greeting", True)]
    # The next call is served as well, on the same socket.
    second = await sim.place_call("6000", "+8613800000022", script="wait for prompt")
    await second.ended(20)
    assert second.hangup_by == "system"
    await wait_for(
        lambda: len(records(node)) == 2 and all(r.is_complete for r in records(node)),
        what="two complete records",
    )
    assert {r.end_reason for r in records(node)} == {"completed"}
    assert stream.connects == 1 and stream.disconnects == 0
    assert controller.stats.handler_errors == 0
    skipped = [r for r in caplog.records if "skipping malformed ARI event" in r.getMessage()]
    assert len(skipped) == len(frames)
    metric = f"hotline_ari_malformed_events_total {len(frames)}\n"
    assert metric in node.metrics.registry.render()
