"""Bridge recordings in the simulator, as ``bridges.json``/``recordings.json``/``events.json``
describe them and as Asterisk 22 does them: the Recorder channel joins the bridge
"lonely" (it leaves once it is alone), a discarded recording leaves no file, and every
body, event and error status is one the API description documents."""

from __future__ import annotations

import asyncio
import io
import wave

from simulator.server import AriSimulator
from tests.integration.simulator.swagger import ApiDocs, Problem, format_problems
from tests.integration.simulator.test_behaviour import caller_in_stasis, pos
from tests.integration.simulator.wire import Exchange, Wire


def conformance(wire: Wire, docs: ApiDocs) -> list[tuple[str, Problem]]:
    """Every event and ARI exchange of this wire checked against the API description."""
    problems = [(f"event {ev.type}", p) for ev in wire.events for p in docs.validate_event(ev.data)]
    for ex in wire.exchanges:
        op = docs.find_operation(ex.method, ex.path)
        where = f"{ex.method} {ex.path} → {ex.status}"
        if op is None:
            problems.append((where, Problem("request", "not a documented operation")))
        elif ex.status >= 300:
            if ex.status not in op.error_codes:
                problems.append((where, Problem("status", f"documented: {op.error_codes}")))
        elif op.response_class == "binary":
            if ex.content_type != "audio/wav":
                problems.append((where, Problem("$", f"served as {ex.content_type}")))
        elif op.response_class == "void":
            if ex.status != 204 or ex.raw:
                problems.append((where, Problem("$", "void operation with a body")))
        else:
            problems += [(where, p) for p in docs.validate(ex.body, op.response_class)]
    return problems


def seconds_of(audio: Exchange) -> float:
    with wave.open(io.BytesIO(audio.raw), "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        return w.getnframes() / w.getframerate()


async def bridged_pair(sim: AriSimulator, wire: Wire) -> tuple[str, str, str]:
    """Two callers in one mixing bridge: (bridge, caller a, caller b)."""
    a = await caller_in_stasis(sim, wire, number="+8613800000021")
    b = await caller_in_stasis(sim, wire, number="+8613800000022")
    bid = (await wire.ari("POST", "/bridges", {"type": "mixing"}, expect=200)).body["id"]
    await wire.ari(
        "POST", f"/bridges/{bid}/addChannel", {"channel": f"{a.channel_id},{b.channel_id}"}
    )
    return bid, a.channel_id, b.channel_id


async def test_the_recording_ends_when_the_last_channel_leaves_the_bridge(
    sim: AriSimulator, wire: Wire, docs: ApiDocs
) -> None:
    await wire.connect_events()
    bid, a, b = await bridged_pair(sim, wire)
    rec = await wire.ari(
        "POST", f"/bridges/{bid}/record", {"name": "lonely", "format": "wav"}, expect=201
    )
    started = await wire.event("RecordingStarted", bid)
    assert started["recording"]["state"] == "recording"
    await wire.ari("POST", f"/bridges/{bid}/removeChannel", {"channel": a}, expect=204)
    # One channel is still there: the recording goes on.
    live = await wire.ari("GET", "/recordings/live/lonely", expect=200)
    assert live.body["state"] == "recording"
    await asyncio.sleep(0.4)  # the rest of the conversation being recorded
    left = await wire.ari("POST", f"/bridges/{bid}/removeChannel", {"channel": b}, expect=204)
    finished = await wire.event("RecordingFinished", bid)
    assert pos(wire, started) < pos(wire, finished)
    assert finished["recording"]["state"] == "done"
    assert "talking_duration" not in finished["recording"]  # only with maxSilenceSeconds
    await wire.ari("GET", "/recordings/live/lonely", expect=404)
    stored = await wire.ari("GET", "/recordings/stored", expect=200)
    assert {"name": "lonely", "format": "wav"} in stored.body
    audio = await wire.ari("GET", "/recordings/stored/lonely/file", expect=200)
    lower, upper = left.sent_at - rec.at, left.at - rec.sent_at
    assert lower - 0.05 <= seconds_of(audio) <= upper + 0.05
    # The bridge itself stays (ARI bridges do not dissolve when empty).
    await wire.ari("GET", f"/bridges/{bid}", expect=200)
    assert not conformance(wire, docs), format_problems(conformance(wire, docs))


async def test_destroying_the_bridge_finishes_the_recording(
    sim: AriSimulator, wire: Wire, docs: ApiDocs
) -> None:
    await wire.connect_events()
    bid, _, _ = await bridged_pair(sim, wire)
    await wire.ari("POST", f"/bridges/{bid}/record", {"name": "gone", "format": "wav"}, expect=201)
    await wire.event("RecordingStarted", bid)
    await wire.ari("DELETE", f"/bridges/{bid}", expect=204)
    finished = await wire.event("RecordingFinished", bid)
    assert finished["recording"]["state"] == "done"
    destroyed = await wire.event("BridgeDestroyed", bid)
    assert pos(wire, finished) < pos(wire, destroyed)
    await wire.ari("GET", "/recordings/stored/gone", expect=200)
    assert not conformance(wire, docs), format_problems(conformance(wire, docs))


async def test_cancel_discards_the_recording(sim: AriSimulator, wire: Wire, docs: ApiDocs) -> None:
    await wire.connect_events()
    bid, _, _ = await bridged_pair(sim, wire)
    await wire.ari("POST", f"/bridges/{bid}/record", {"name": "scrap", "format": "wav"}, expect=201)
    await wire.event("RecordingStarted", bid)
    await wire.ari("DELETE", "/recordings/live/scrap", expect=204)
    # Asterisk reports a discarded recording as finished, in state "canceled".
    finished = await wire.event("RecordingFinished", bid)
    assert finished["recording"]["state"] == "canceled"
    await wire.ari("GET", "/recordings/live/scrap", expect=404)
    await wire.ari("GET", "/recordings/stored/scrap", expect=404)
    await wire.ari("GET", "/recordings/stored/scrap/file", expect=404)
    assert {"name": "scrap", "format": "wav"} not in (
        await wire.ari("GET", "/recordings/stored", expect=200)
    ).body
    assert not conformance(wire, docs), format_problems(conformance(wire, docs))


async def test_recording_errors_are_the_documented_ones(
    sim: AriSimulator, wire: Wire, docs: ApiDocs
) -> None:
    await wire.connect_events()
    bid, _, _ = await bridged_pair(sim, wire)
    rec = f"/bridges/{bid}/record"
    await wire.ari("POST", "/bridges/nope/record", {"name": "x", "format": "wav"}, expect=404)
    await wire.ari("POST", rec, {"name": "x", "format": "mp9"}, expect=422)
    await wire.ari("POST", rec, {"name": "x"}, expect=400)  # format is required
    await wire.ari("POST", rec, {"name": "x", "format": "wav", "ifExists": "maybe"}, expect=400)
    await wire.ari("POST", rec, {"name": "x", "format": "wav", "terminateOn": "9"}, expect=400)
    await wire.ari("POST", rec, {"name": "../x", "format": "wav"}, expect=400)
    await wire.ari("POST", rec, {"name": "dup", "format": "wav"}, expect=201)
    # In progress: it cannot be overwritten, whatever ifExists says.
    await wire.ari(
        "POST", rec, {"name": "dup", "format": "wav", "ifExists": "overwrite"}, expect=409
    )
    await wire.ari("POST", "/recordings/live/dup/stop", expect=204)
    await wire.event("RecordingFinished", bid)
    # Stored, and ifExists=fail (the default): refused.
    await wire.ari("POST", rec, {"name": "dup", "format": "wav"}, expect=409)
    for method, path in [
        ("GET", "/recordings/live/none"),
        ("POST", "/recordings/live/none/stop"),
        ("DELETE", "/recordings/live/none"),
        ("GET", "/recordings/stored/none"),
        ("GET", "/recordings/stored/none/file"),
        ("DELETE", "/recordings/stored/none"),
    ]:
        await wire.ari(method, path, expect=404)
    problems = conformance(wire, docs)
    assert not problems, format_problems(problems)
    assert sum(ex.status >= 400 for ex in wire.exchanges) == 14


async def test_overwrite_and_append(sim: AriSimulator, wire: Wire, docs: ApiDocs) -> None:
    await wire.connect_events()
    bid, _, _ = await bridged_pair(sim, wire)
    rec = f"/bridges/{bid}/record"

    async def record(if_exists: str, seconds: float) -> float:
        started = await wire.ari(
            "POST", rec, {"name": "again", "format": "wav", "ifExists": if_exists}, expect=201
        )
        await asyncio.sleep(seconds)  # what is being recorded
        mark = len(wire.events)
        stopped = await wire.ari("POST", "/recordings/live/again/stop", expect=204)
        await wire.event("RecordingFinished", bid, lambda ev: pos(wire, ev) >= mark)
        audio = await wire.ari("GET", "/recordings/stored/again/file", expect=200)
        assert stopped.at - started.sent_at >= seconds
        return seconds_of(audio)

    first = await record("fail", 0.3)
    overwritten = await record("overwrite", 0.1)
    assert overwritten < first
    appended = await record("append", 0.3)
    assert appended >= overwritten + 0.3
    assert not conformance(wire, docs), format_problems(conformance(wire, docs))


async def test_a_recording_of_an_empty_bridge_ends_at_once(
    sim: AriSimulator, wire: Wire, docs: ApiDocs
) -> None:
    await wire.connect_events()
    bid = (await wire.ari("POST", "/bridges", expect=200)).body["id"]
    await wire.ari("POST", f"/bridges/{bid}/record", {"name": "empty", "format": "wav"}, expect=201)
    started = await wire.event("RecordingStarted", bid)
    finished = await wire.event("RecordingFinished", bid)
    assert pos(wire, started) < pos(wire, finished)
    assert finished["recording"]["duration"] == 0
    assert not conformance(wire, docs), format_problems(conformance(wire, docs))


async def test_silence_detection_reports_talking_and_silence(
    sim: AriSimulator, wire: Wire, docs: ApiDocs
) -> None:
    await wire.connect_events()
    bid, _, _ = await bridged_pair(sim, wire)
    await wire.ari(
        "POST",
        f"/bridges/{bid}/record",
        {"name": "quiet", "format": "wav", "maxSilenceSeconds": 30},
        expect=201,
    )
    await wire.ari("POST", "/recordings/live/quiet/stop", expect=204)
    finished = (await wire.event("RecordingFinished", bid))["recording"]
    assert finished["talking_duration"] == 0
    assert finished["silence_duration"] == finished["duration"]
    assert not conformance(wire, docs), format_problems(conformance(wire, docs))
