"""The simulator speaks ARI as Asterisk 22 describes it (``ari-api-docs/*.json``).

One realistic session over real sockets (callers, IVR prompts, an agent leg, a recorded
bridge, hang-ups); every event and every 2xx body is checked against its model, every
error status against the operation's documented error codes.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from simulator.model import SimChannel
from simulator.server import AriSimulator
from tests.integration.conftest import PASSWORD
from tests.integration.simulator.swagger import (
    ApiDocs,
    Problem,
    format_problems,
    normalise_template,
)
from tests.integration.simulator.wire import Wire

REQUIRED_EVENT_TYPES = {
    "StasisStart",
    "StasisEnd",
    "ChannelStateChange",
    "ChannelDtmfReceived",
    "PlaybackStarted",
    "PlaybackFinished",
    "RecordingStarted",
    "RecordingFinished",
    "ChannelHangupRequest",
    "ChannelDestroyed",
    "ChannelEnteredBridge",
    "ChannelLeftBridge",
    "Dial",
    "BridgeCreated",
    "BridgeDestroyed",
    "EndpointStateChange",
}

# Any request may meet these, whatever the operation documents.
GLOBAL_ERRORS = {401, 503}
# Codes Asterisk answers where its description does not list them (ari-notes.md):
# originating to a PJSIP endpoint whose phone is not registered is a 500.
OBSERVED_ERRORS = {"originate": {500}, "originateWithId": {500}}


async def run_session(sim: AriSimulator, wire: Wire) -> None:
    """What a call-center controller does in a day, compressed into a few seconds."""
    sim.set_phone("PJSIP/8001", answer_after=0.3)
    sim.set_phone("PJSIP/8002", busy=True)
    sim.set_phone("PJSIP/8009", registered=False)
    await wire.ari("GET", "/asterisk/ping", expect=200)
    await wire.ari("GET", "/asterisk/info", expect=200)
    await wire.connect_events("hotline")
    await wire.ari("GET", "/applications", expect=200)
    await wire.ari("GET", "/applications/hotline", expect=200)

    # Agent phones: subscribed to, listed, one of them not registered.
    subscription = "/applications/hotline/subscription"
    await wire.ari("POST", subscription, {"eventSource": "endpoint:PJSIP/8001"}, expect=200)
    await wire.ari("POST", subscription, {"eventSource": "endpoint:PJSIP/nobody"}, expect=422)
    await wire.ari("POST", subscription, {"eventSource": "phone:8001"}, expect=400)
    await wire.ari(
        "POST", "/applications/nobody/subscription", {"eventSource": "endpoint:PJSIP"}, expect=404
    )
    await wire.ari("GET", "/endpoints", expect=200)
    await wire.ari("GET", "/endpoints/PJSIP", expect=200)
    await wire.ari("GET", "/endpoints/PJSIP/8009", expect=200)
    await wire.ari("GET", "/endpoints/PJSIP/nobody", expect=404)
    await wire.ari("GET", "/endpoints/SKYPE", expect=404)
    await wire.ari("POST", "/channels", {"endpoint": "PJSIP/8009", "app": "hotline"}, expect=500)
    await wire.ari(
        "POST", "/channels/leg-8009", {"endpoint": "PJSIP/8009", "app": "hotline"}, expect=500
    )

    # Caller A: answered, greeted, presses 1 2 during the greeting (barge-in).
    alice = await sim.place_call(
        "6000", "+8613800000001", "Alice", "wait for answer, wait for prompt, press 12"
    )
    a = alice.channel_id
    await wire.event("StasisStart", a)
    await wire.ari("GET", "/channels", expect=200)
    await wire.ari("GET", f"/channels/{a}", expect=200)
    await wire.ari("POST", f"/channels/{a}/answer", expect=204)
    greeting = await wire.ari(
        "POST", f"/channels/{a}/play", {"media": "sound:custom/greeting"}, expect=201
    )
    pid = greeting.body["id"]
    await wire.event("PlaybackStarted", a)
    await wire.ari("GET", f"/playbacks/{pid}", expect=200)
    await wire.event("ChannelDtmfReceived", a, lambda ev: ev["digit"] == "2")
    await wire.ari("DELETE", f"/playbacks/{pid}", expect=204)
    await wire.event("PlaybackFinished", a, lambda ev: ev["playback"]["id"] == pid)
    await wire.ari("GET", f"/playbacks/{pid}", expect=404)

    # Two media in one playback, stopped once the second one has begun.
    await wire.ari(
        "POST",
        f"/channels/{a}/play/menu-1",
        {"media": "sound:silence/1,sound:custom/invalid_choice"},
        expect=201,
    )
    await wire.event("PlaybackContinuing", a)
    await wire.ari("DELETE", "/playbacks/menu-1", expect=204)
    await wire.event("PlaybackFinished", a, lambda ev: ev["playback"]["id"] == "menu-1")

    await wire.ari("POST", f"/channels/{a}/dtmf", {"dtmf": "12"}, expect=204)
    await wire.ari(
        "POST", f"/channels/{a}/variable", {"variable": "TICKET", "value": "T-42"}, expect=204
    )
    got = await wire.ari("GET", f"/channels/{a}/variable", {"variable": "TICKET"}, expect=200)
    assert got.body == {"value": "T-42"}
    await wire.ari("GET", f"/channels/{a}/variable", {"variable": "NOT_SET"}, expect=404)
    await wire.ari("POST", f"/channels/{a}/moh", {"mohClass": "default"}, expect=204)
    await wire.ari("DELETE", f"/channels/{a}/moh", expect=204)

    # Caller C (placed over the control API): rung, answered, hung up by us with a reason.
    placed = await wire.control(
        "POST", "/calls", {"line": "call 6000 from +8613800000003, wait for answer, press 9"}
    )
    assert placed.status == 201, placed.body
    c = placed.body["channel_id"]
    await wire.event("StasisStart", c)
    await wire.ari("POST", f"/channels/{c}/ring", expect=204)
    await wire.ari("DELETE", f"/channels/{c}/ring", expect=204)
    await wire.ari("POST", f"/channels/{c}/answer", expect=204)
    await wire.event("ChannelDtmfReceived", c)
    await wire.ari("DELETE", f"/channels/{c}", {"reason": "busy"}, expect=204)
    await wire.event("StasisEnd", c)

    # Agent legs: 8001 answers after 0.3 s, 8002 is busy.
    agent = await wire.ari(
        "POST",
        "/channels",
        {
            "endpoint": "PJSIP/8001",
            "app": "hotline",
            "appArgs": "agent,8001",
            "callerId": '"Hotline" <6000>',
            "timeout": 10,
        },
        expect=200,
    )
    b = agent.body["id"]
    started = await wire.event("StasisStart", b)
    assert started["args"] == ["agent", "8001"]
    await wire.event("Dial", b, lambda ev: ev["dialstatus"] == "ANSWER")
    await wire.ari("GET", "/endpoints/PJSIP/8001", expect=200)
    sim.register_phone("PJSIP/8001", registered=False)
    await wire.event("EndpointStateChange")
    sim.register_phone("PJSIP/8001")
    await wire.ari("DELETE", subscription, {"eventSource": "endpoint:PJSIP/8001"}, expect=200)
    await wire.ari("DELETE", subscription, {"eventSource": "endpoint:PJSIP/8001"}, expect=422)
    busy = await wire.ari(
        "POST",
        "/channels",
        {"endpoint": "PJSIP/8002", "app": "hotline", "appArgs": "agent,8002"},
        expect=200,
    )
    await wire.event("ChannelDestroyed", busy.body["id"])

    # Caller and agent bridged, recorded, with hold music and an announcement.
    bridge = await wire.ari("POST", "/bridges", {"type": "mixing", "name": "call-a"}, expect=200)
    bid = bridge.body["id"]
    await wire.event("BridgeCreated", bid)
    await wire.ari("POST", f"/bridges/{bid}/addChannel", {"channel": f"{a},{b}"}, expect=204)
    await wire.event("ChannelEnteredBridge", b)
    await wire.ari("GET", "/bridges", expect=200)
    await wire.ari("GET", f"/bridges/{bid}", expect=200)
    await wire.ari(
        "POST", f"/bridges/{bid}/record", {"name": "session-call", "format": "wav"}, expect=201
    )
    await wire.event("RecordingStarted", bid)
    await wire.ari("GET", "/recordings/live/session-call", expect=200)
    await wire.ari("POST", f"/bridges/{bid}/moh", expect=204)
    await wire.ari("DELETE", f"/bridges/{bid}/moh", expect=204)
    announce = await wire.ari(
        "POST", f"/bridges/{bid}/play", {"media": "sound:custom/please_hold"}, expect=201
    )
    await wire.event("PlaybackStarted", bid)
    await wire.ari("DELETE", f"/playbacks/{announce.body['id']}", expect=204)
    await wire.event("PlaybackFinished", bid)
    await wire.ari("POST", "/recordings/live/session-call/stop", expect=204)
    await wire.event("RecordingFinished", bid)
    stored = await wire.ari("GET", "/recordings/stored", expect=200)
    assert {"name": "session-call", "format": "wav"} in stored.body
    await wire.ari("GET", "/recordings/stored/session-call", expect=200)
    audio = await wire.ari("GET", "/recordings/stored/session-call/file", expect=200)
    assert audio.raw[:4] == b"RIFF"

    # The agent leaves, is recorded on their own, and is hung up.
    await wire.ari("POST", f"/bridges/{bid}/removeChannel", {"channel": b}, expect=204)
    await wire.event("ChannelLeftBridge", b)
    await wire.ari("POST", f"/bridges/{bid}/removeChannel", {"channel": b}, expect=422)
    await wire.ari(
        "POST", f"/channels/{b}/record", {"name": "session-agent", "format": "wav"}, expect=201
    )
    await wire.event("RecordingStarted", b)
    await wire.ari("POST", "/recordings/live/session-agent/stop", expect=204)
    await wire.event("RecordingFinished", b)
    await wire.ari("DELETE", "/recordings/stored/session-agent", expect=204)
    await wire.ari("DELETE", f"/channels/{b}", {"reason": "normal"}, expect=204)
    await wire.event("StasisEnd", b)
    await wire.ari("DELETE", f"/channels/{b}", expect=404)
    await wire.ari("POST", f"/channels/{b}/answer", expect=404)

    await wire.ari("DELETE", f"/bridges/{bid}", expect=204)
    await wire.event("BridgeDestroyed", bid)
    await wire.ari("GET", f"/bridges/{bid}", expect=404)

    # Caller A goes back to the dialplan: out of Stasis, so no more media control.
    await wire.ari("POST", f"/channels/{a}/continue", expect=204)
    await wire.event("StasisEnd", a)
    await wire.ari("POST", f"/channels/{a}/play", {"media": "sound:custom/goodbye"}, expect=409)
    await wire.ari("DELETE", f"/channels/{a}", {"reason": "normal"}, expect=204)


async def test_a_realistic_session_conforms_to_the_api_description(
    sim: AriSimulator, wire: Wire, docs: ApiDocs
) -> None:
    await run_session(sim, wire)

    seen = {ev.type for ev in wire.events}
    assert seen >= REQUIRED_EVENT_TYPES, f"never seen: {REQUIRED_EVENT_TYPES - seen}"
    assert {ev["application"] for ev in wire.events} == {"hotline"}

    problems: list[tuple[str, Problem]] = []
    for ev in wire.events:
        problems += [(f"event {ev.type}", p) for p in docs.validate_event(ev.data)]
    checked = 0
    for ex in wire.exchanges:
        where = f"{ex.method} {ex.path} → {ex.status}"
        if not ex.path.startswith("/ari/"):
            continue  # the simulator's own control API
        op = docs.find_operation(ex.method, ex.path)
        if op is None:
            problems.append((where, Problem("request", "no such operation in the API")))
            continue
        if ex.status >= 300:
            allowed = op.error_codes | GLOBAL_ERRORS | OBSERVED_ERRORS.get(op.nickname, set())
            if ex.status not in allowed:
                problems.append(
                    (
                        where,
                        Problem("status", f"not documented for {op.nickname}: {op.error_codes}"),
                    )
                )
            if not (isinstance(ex.body, dict) and isinstance(ex.body.get("message"), str)):
                problems.append((where, Problem("$", f"error body {ex.raw!r} lacks message")))
            continue
        checked += 1
        if op.response_class == "void":
            if ex.status != 204 or ex.raw:
                problems.append((where, Problem("$", f"void operation answered {ex.raw!r}")))
        elif op.response_class == "binary":
            if "json" in ex.content_type:
                problems.append((where, Problem("$", f"binary answered as {ex.content_type}")))
        else:
            problems += [(where, p) for p in docs.validate(ex.body, op.response_class)]
    assert not problems, format_problems(problems)
    # The session really exercised the checks (guards against vacuous success).
    assert checked >= 40 and len(wire.events) >= 35, (checked, len(wire.events))
    assert sum(ex.status >= 400 for ex in wire.exchanges) >= 6


def test_every_route_the_simulator_serves_is_documented(tmp_path: Path, docs: ApiDocs) -> None:
    sim = AriSimulator("hotline", PASSWORD, tmp_path, tmp_path)
    documented = docs.template_paths()
    undocumented = []
    seen = 0
    for route in sim.make_app().router.routes():
        canonical = route.resource.canonical if route.resource else ""
        if not canonical.startswith("/ari/") or route.method == "HEAD":
            continue
        seen += 1
        if route.method == "*":
            ok = normalise_template(canonical) in documented
        else:
            ok = docs.has_template(route.method, canonical)
        if not ok:
            undocumented.append(f"{route.method} {canonical}")
    assert seen >= 40
    assert not undocumented, undocumented


@pytest.mark.parametrize("resource", ["applications.json", "endpoints.json"])
def test_every_operation_on_applications_and_endpoints_is_routed(
    tmp_path: Path, docs: ApiDocs, resource: str
) -> None:
    """Served, or answered 501 where the simulator does not simulate it (sendMessage…)."""
    sim = AriSimulator("hotline", PASSWORD, tmp_path, tmp_path)
    routed = {
        (route.method, normalise_template(route.resource.canonical))
        for route in sim.make_app().router.routes()
        if route.resource is not None
    }
    ops = [op for op in docs.operations if op.resource == resource]
    assert len(ops) >= 5
    missing = [
        f"{op.method} {op.path}"
        for op in ops
        if (op.method, normalise_template(op.path)) not in routed
    ]
    assert not missing, missing


# -- the validator can fail ------------------------------------------------------------------------


def _stasis_start() -> dict[str, Any]:
    channel = SimChannel(
        id="1700000000.1",
        name="PJSIP/caller-00000001",
        state="Up",
        caller_number="+8613800000001",
        created=datetime.now(UTC),
    )
    return {
        "type": "StasisStart",
        "timestamp": "2026-11-25T12:00:00.123+0000",
        "application": "hotline",
        "asterisk_id": "ae:51:3c:00:00:01",
        "args": [],
        "channel": channel.to_json(),
    }


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(event: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = event
        for key in parents:
            target = target[key]
        target[last] = value

    return mutate


def _delete(path: str) -> Callable[[dict[str, Any]], None]:
    def mutate(event: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = event
        for key in parents:
            target = target[key]
        del target[last]

    return mutate


@pytest.mark.parametrize(
    ("mutate", "where", "what"),
    [
        (_delete("channel.name"), "$.channel.name", "missing"),
        (_delete("timestamp"), "$.timestamp", "missing"),  # inherited from Event
        (_delete("type"), "$.type", "unknown"),
        (_set("channel.state", "Talking"), "$.channel.state", "not one of"),
        (_set("channel.dialplan.priority", "1"), "$.channel.dialplan.priority", "expected long"),
        (_set("channel.caller", None), "$.channel.caller", "CallerID"),
        (_set("args", "agent,8001"), "$.args", "expected a list"),
        (_set("args", ["agent", 8001]), "$.args[1]", "expected string"),
        (_set("timestamp", "yesterday"), "$.timestamp", "expected Date"),
        (_set("channel.hold", True), "$.channel.hold", "not documented"),
        (_set("type", "StasisBegin"), "$.type", "unknown Message type"),
    ],
)
def test_the_validator_catches_a_broken_event(
    docs: ApiDocs, mutate: Callable[[dict[str, Any]], None], where: str, what: str
) -> None:
    good = _stasis_start()
    assert docs.validate_event(good) == []
    bad = copy.deepcopy(good)
    mutate(bad)
    problems = docs.validate_event(bad)
    assert any(p.path == where and what in p.what for p in problems), problems


def test_the_validator_checks_subtype_fields_and_enums(docs: ApiDocs) -> None:
    playback = {"id": "p1", "media_uri": "sound:x", "target_uri": "channel:1", "state": "done"}
    event = {
        "type": "PlaybackFinished",
        "timestamp": "2026-11-25T12:00:00.123+0000",
        "application": "hotline",
        "playback": playback,
    }
    assert docs.validate_event(event) == []
    assert docs.validate_event({**event, "playback": {**playback, "state": "stopped"}})
    hangup = {**event, "type": "ChannelHangupRequest", "soft": "yes"}
    del hangup["playback"]
    found = {p.path for p in docs.validate_event(hangup)}
    assert "$.soft" in found  # boolean
    assert "$.channel" in found  # required by ChannelHangupRequest
    assert docs.validate([{"name": "r", "format": "wav"}], "List[StoredRecording]") == []
    assert docs.validate([{"name": "r"}], "List[StoredRecording]")


@pytest.mark.parametrize(
    ("method", "path", "nickname", "response", "errors"),
    [
        ("POST", "/ari/channels/create", "create", "Channel", {409}),
        ("POST", "/ari/channels/1.2", "originateWithId", "Channel", {400, 409}),
        ("DELETE", "/ari/channels/1.2?reason=normal", "hangup", "void", {400, 404}),
        ("POST", "/channels/1.2/play/pb-1", "playWithId", "Playback", {404, 409, 412}),
        ("POST", "/ari/channels/1.2/move", "move", "void", {404, 409}),  # codes as strings
        ("GET", "/ari/recordings/stored", "listStored", "List[StoredRecording]", set()),
    ],
)
def test_find_operation(
    docs: ApiDocs, method: str, path: str, nickname: str, response: str, errors: set[int]
) -> None:
    op = docs.find_operation(method, path)
    assert op is not None
    assert (op.nickname, op.response_class, set(op.error_codes)) == (nickname, response, errors)


def test_find_operation_rejects_what_is_not_documented(docs: ApiDocs) -> None:
    assert docs.find_operation("PATCH", "/ari/channels/1.2") is None
    assert docs.find_operation("GET", "/ari/channels/1.2/nothing") is None
