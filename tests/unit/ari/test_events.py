"""Event parsing: every event type call control uses, and bad input."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from ivr.ari import events as ev
from ivr.ari.events import MalformedEvent, parse_event

TS = "2026-11-25T09:30:01.250+0000"


def channel(cid: str = "1700000000.1", **over: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": cid,
        "protocol_id": "",
        "name": "PJSIP/caller1-00000001",
        "state": "Ring",
        "caller": {"name": "Zhang Wei", "number": "+8613800000001"},
        "connected": {"name": "", "number": ""},
        "accountcode": "",
        "dialplan": {
            "context": "from-callers",
            "exten": "6000",
            "priority": 2,
            "app_name": "Stasis",
            "app_data": "hotline",
        },
        "creationtime": "2026-11-25T09:30:00.000+0000",
        "language": "zh",
    }
    data.update(over)
    return data


def event(etype: str, **fields: Any) -> dict[str, Any]:
    return {"type": etype, "application": "hotline", "timestamp": TS, **fields}


def test_stasis_start_carries_caller_dialplan_and_args() -> None:
    e = parse_event(event("StasisStart", args=["agent", "8001"], channel=channel()))
    assert isinstance(e, ev.StasisStart)
    assert e.args == ("agent", "8001")
    assert e.channel_id == "1700000000.1"
    assert e.channel.caller.number == "+8613800000001"
    assert e.channel.caller.name == "Zhang Wei"
    assert e.channel.dialplan is not None
    assert e.channel.dialplan.exten == "6000"
    assert e.channel.dialplan.app_data == "hotline"
    assert e.channel.language == "zh"
    assert e.timestamp == datetime(2026, 11, 25, 9, 30, 1, 250000, tzinfo=UTC)
    assert e.channel.creationtime == datetime(2026, 11, 25, 9, 30, tzinfo=UTC)


def test_dtmf_one_digit_per_event() -> None:
    e = parse_event(event("ChannelDtmfReceived", digit="#", duration_ms=120, channel=channel()))
    assert isinstance(e, ev.ChannelDtmfReceived)
    assert (e.digit, e.duration_ms) == ("#", 120)
    with pytest.raises(MalformedEvent):
        parse_event(event("ChannelDtmfReceived", digit="12", duration_ms=1, channel=channel()))


def test_playback_events_route_by_target_channel() -> None:
    pb = {
        "id": "pb-1",
        "media_uri": "sound:custom/greeting",
        "target_uri": "channel:1700000000.7",
        "state": "done",
        "language": "en",
    }
    for etype, cls in [
        ("PlaybackStarted", ev.PlaybackStarted),
        ("PlaybackContinuing", ev.PlaybackContinuing),
        ("PlaybackFinished", ev.PlaybackFinished),
    ]:
        e = parse_event(event(etype, playback=pb))
        assert isinstance(e, cls)
        assert isinstance(e, ev.PlaybackEvent)
        assert e.playback.id == "pb-1"
        assert e.channel_id == "1700000000.7"
    bridge_pb = parse_event(event("PlaybackStarted", playback={**pb, "target_uri": "bridge:b1"}))
    assert bridge_pb.channel_id is None


def test_hangup_request_and_destroyed_causes() -> None:
    req = parse_event(event("ChannelHangupRequest", cause=32, soft=True, channel=channel()))
    assert isinstance(req, ev.ChannelHangupRequest)
    assert (req.cause, req.soft) == (32, True)
    bare = parse_event(event("ChannelHangupRequest", channel=channel()))
    assert isinstance(bare, ev.ChannelHangupRequest)
    assert (bare.cause, bare.soft) == (None, None)
    gone = parse_event(
        event("ChannelDestroyed", cause=16, cause_txt="Normal Clearing", channel=channel())
    )
    assert isinstance(gone, ev.ChannelDestroyed)
    assert (gone.cause, gone.cause_txt) == (16, "Normal Clearing")
    with pytest.raises(MalformedEvent):
        parse_event(event("ChannelDestroyed", channel=channel()))


@pytest.mark.parametrize(
    ("etype", "cls"),
    [
        ("StasisEnd", ev.StasisEnd),
        ("ChannelStateChange", ev.ChannelStateChange),
        ("ChannelCreated", ev.ChannelCreated),
        ("ChannelCallerId", ev.ChannelCallerId),
        ("ChannelConnectedLine", ev.ChannelConnectedLine),
        ("ChannelHold", ev.ChannelHold),
        ("ChannelUnhold", ev.ChannelUnhold),
    ],
)
def test_simple_channel_events(etype: str, cls: type[ev.ChannelEvent]) -> None:
    e = parse_event(event(etype, channel=channel(state="Up")))
    assert isinstance(e, cls)
    assert e.channel.state == "Up"
    assert e.channel_id == "1700000000.1"


def test_bridge_events() -> None:
    bridge = {
        "id": "b1",
        "technology": "simple_bridge",
        "bridge_type": "mixing",
        "bridge_class": "stasis",
        "creator": "Stasis",
        "name": "q",
        "channels": ["1700000000.1"],
        "creationtime": TS,
    }
    entered = parse_event(event("ChannelEnteredBridge", bridge=bridge, channel=channel()))
    assert isinstance(entered, ev.ChannelEnteredBridge)
    assert entered.bridge.channels == ("1700000000.1",)
    assert entered.channel_id == "1700000000.1"
    left = parse_event(event("ChannelLeftBridge", bridge=bridge, channel=channel()))
    assert isinstance(left, ev.ChannelLeftBridge)
    created = parse_event(event("BridgeCreated", bridge=bridge))
    assert isinstance(created, ev.BridgeCreated) and created.channel_id is None
    assert isinstance(parse_event(event("BridgeDestroyed", bridge=bridge)), ev.BridgeDestroyed)


def test_recording_events_and_dial() -> None:
    rec = {
        "name": "2026/11/25/c1",
        "format": "wav",
        "target_uri": "channel:c1",
        "state": "done",
        "duration": 12,
    }
    for etype, cls in [
        ("RecordingStarted", ev.RecordingStarted),
        ("RecordingFinished", ev.RecordingFinished),
        ("RecordingFailed", ev.RecordingFailed),
    ]:
        e = parse_event(event(etype, recording=rec))
        assert isinstance(e, cls)
        assert e.channel_id == "c1"
    assert isinstance(e, ev.RecordingEvent) and e.recording.duration == 12
    dial = parse_event(event("Dial", peer=channel("agent-leg"), dialstatus="ANSWER"))
    assert isinstance(dial, ev.Dial)
    assert (dial.channel_id, dial.dialstatus) == ("agent-leg", "ANSWER")


def test_varset_replaced_and_unknown_events() -> None:
    var = parse_event(event("ChannelVarset", variable="X", value="1", channel=channel()))
    assert isinstance(var, ev.ChannelVarset) and var.channel_id == "1700000000.1"
    glob = parse_event(event("ChannelVarset", variable="G", value="1"))
    assert glob.channel_id is None
    assert isinstance(parse_event(event("ApplicationReplaced")), ev.ApplicationReplaced)
    other = parse_event(event("DeviceStateChanged", device_state={"name": "x", "state": "INUSE"}))
    assert isinstance(other, ev.OtherEvent)
    assert other.raw["device_state"]["state"] == "INUSE"


@pytest.mark.parametrize(
    "bad",
    [
        [],
        "StasisStart",
        {"application": "hotline", "timestamp": TS},
        {"type": "StasisStart", "application": "hotline", "timestamp": "yesterday"},
        event("StasisStart", channel=channel()),  # no args
        event("StasisStart", args=[], channel={"name": "no id"}),
        event("PlaybackStarted"),
        event("ChannelLeftBridge", channel=channel()),
    ],
)
def test_malformed_events_raise_a_clear_error(bad: object) -> None:
    with pytest.raises(MalformedEvent):
        parse_event(bad)
