"""The simulator behaves like Asterisk 22 where the controller can tell the difference.

Timing comes from the real prompt files (espeak-built WAVs), events are read off a
real WebSocket, and the control API (``/_sim``) is driven over HTTP.
"""

from __future__ import annotations

import asyncio
import base64
import io
import itertools
import wave
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from simulator.callers import ScriptedCall
from simulator.server import AriSimulator
from tests.integration.conftest import PASSWORD, wait_for
from tests.integration.simulator.wire import Received, Wire

# Event arrival is measured on the client side of a local socket; this is our slack.
TOLERANCE = 0.15


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


def pos(wire: Wire, event: Received) -> int:
    return next(i for i, ev in enumerate(wire.events) if ev is event)


async def caller_in_stasis(
    sim: AriSimulator, wire: Wire, script: str = "", number: str = "+8613800000010"
) -> ScriptedCall:
    """A caller who reached the hotline app and was answered by it."""
    call = await sim.place_call("6000", number, script=script)
    await wire.event("StasisStart", call.channel_id)
    await wire.ari("POST", f"/channels/{call.channel_id}/answer", expect=204)
    return call


# -- playbacks -------------------------------------------------------------------------------------


async def test_a_playback_lasts_as_long_as_its_wav(
    sim: AriSimulator, wire: Wire, prompts_dir: Path
) -> None:
    await wire.connect_events()
    call = await caller_in_stasis(sim, wire)
    cid = call.channel_id
    expected = wav_seconds(prompts_dir / "en" / "custom" / "goodbye.wav")
    assert 1.0 < expected < 5.0  # a real spoken prompt, not an empty file
    await wire.ari("POST", f"/channels/{cid}/play", {"media": "sound:custom/goodbye"}, expect=201)
    started = await wire.event("PlaybackStarted", cid)
    finished = await wire.event("PlaybackFinished", cid, timeout=expected + 2)
    assert finished["playback"]["state"] == "done"
    assert abs((finished.at - started.at) - expected) <= TOLERANCE
    heard = call.heard[-1]
    assert heard.completed and heard.path is not None and heard.path.endswith("goodbye.wav")


async def test_the_channel_language_picks_the_prompt_folder(sim: AriSimulator, wire: Wire) -> None:
    await wire.connect_events()
    call = await caller_in_stasis(sim, wire)
    cid = call.channel_id
    await wire.ari(
        "POST",
        f"/channels/{cid}/variable",
        {"variable": "CHANNEL(language)", "value": "zh"},
        expect=204,
    )
    played = await wire.ari("POST", f"/channels/{cid}/play", {"media": "sound:custom/goodbye"})
    assert played.body["language"] == "zh"
    await wire.event("PlaybackStarted", cid)
    assert call.heard[-1].path is not None and "/zh/custom/" in call.heard[-1].path
    await wire.ari("DELETE", f"/playbacks/{played.body['id']}", expect=204)


async def test_a_missing_sound_starts_then_finishes_failed(sim: AriSimulator, wire: Wire) -> None:
    await wire.connect_events()
    call = await caller_in_stasis(sim, wire)
    cid = call.channel_id
    played = await wire.ari(
        "POST", f"/channels/{cid}/play", {"media": "sound:custom/no_such_prompt"}, expect=201
    )
    started = await wire.event("PlaybackStarted", cid)
    finished = await wire.event("PlaybackFinished", cid)
    assert pos(wire, started) < pos(wire, finished)
    assert finished["playback"]["id"] == played.body["id"]
    assert finished["playback"]["state"] == "failed"
    assert call.heard == []  # the caller heard nothing


async def test_dtmf_comes_one_event_per_digit_and_does_not_stop_a_playback(
    sim: AriSimulator, wire: Wire
) -> None:
    await wire.connect_events()
    call = await caller_in_stasis(sim, wire, script="wait for answer, wait for prompt, press 4*7#")
    cid = call.channel_id
    played = await wire.ari("POST", f"/channels/{cid}/play", {"media": "sound:custom/greeting"})
    pid = played.body["id"]
    await wire.event("PlaybackStarted", cid)
    await wire.event("ChannelDtmfReceived", cid, lambda ev: ev["digit"] == "#")
    digits = wire.of("ChannelDtmfReceived", cid)
    assert [ev["digit"] for ev in digits] == list("4*7#")
    assert all(ev["duration_ms"] > 0 for ev in digits)
    assert all(b.at - a.at >= 0.1 for a, b in itertools.pairwise(digits))
    # The prompt plays on: barge-in is the application's job.
    assert wire.of("PlaybackFinished", cid) == []
    state = await wire.ari("GET", f"/playbacks/{pid}", expect=200)
    assert state.body["state"] == "playing"
    await wire.ari("DELETE", f"/playbacks/{pid}", expect=204)
    await wire.event("PlaybackFinished", cid)


# -- hang-ups --------------------------------------------------------------------------------------


async def test_a_caller_hanging_up_during_a_prompt(sim: AriSimulator, wire: Wire) -> None:
    await wire.connect_events()
    call = await caller_in_stasis(sim, wire, script="wait for prompt, hang up")
    cid = call.channel_id
    await wire.ari("POST", f"/channels/{cid}/play", {"media": "sound:custom/greeting"})
    end = await wire.event("StasisEnd", cid)
    request = await wire.event("ChannelHangupRequest", cid)
    finished = await wire.event("PlaybackFinished", cid)
    assert request["cause"] == 16 and "soft" not in request.data
    assert pos(wire, request) < pos(wire, finished) < pos(wire, end)
    listed = await wire.ari("GET", "/channels", expect=200)
    assert cid not in {c["id"] for c in listed.body}
    await wire.ari("GET", f"/channels/{cid}", expect=404)
    info = await wire.control("GET", f"/calls/{cid}")
    assert info.body["hangup_by"] == "caller" and info.body["hangup_cause"] == 16


async def test_a_playback_cut_short_by_a_hang_up_finishes_failed(
    sim: AriSimulator, wire: Wire
) -> None:
    """Asterisk 22.10.1: "failed" when the channel hung up, "done" when it was stopped."""
    await wire.connect_events()
    calls = [await caller_in_stasis(sim, wire, number=f"+86138000001{i}") for i in range(3)]
    pids = []
    for call in calls:
        played = await wire.ari(
            "POST", f"/channels/{call.channel_id}/play", {"media": "sound:custom/greeting"}
        )
        pids.append(played.body["id"])
        await wire.event("PlaybackStarted", call.channel_id)
    by_caller, by_us, _ = calls  # the third one's playback is stopped by us
    await wire.control("POST", f"/calls/{by_caller.channel_id}/hangup")
    await wire.ari("DELETE", f"/channels/{by_us.channel_id}", expect=204)
    await wire.ari("DELETE", f"/playbacks/{pids[2]}", expect=204)
    states = []
    for call, pid in zip(calls, pids, strict=True):
        finished = await wire.event("PlaybackFinished", call.channel_id)
        assert finished["playback"]["id"] == pid
        states.append(finished["playback"]["state"])
    assert states == ["failed", "failed", "done"]
    assert not any(h.completed for call in calls for h in call.heard)


@pytest.mark.parametrize(("reason", "cause"), [("normal", 16), ("busy", 17), ("no_answer", 19)])
async def test_an_ari_hangup_is_a_soft_request(
    sim: AriSimulator, wire: Wire, reason: str, cause: int
) -> None:
    await wire.connect_events()
    call = await caller_in_stasis(sim, wire)
    cid = call.channel_id
    await wire.ari("DELETE", f"/channels/{cid}", {"reason": reason}, expect=204)
    request = await wire.event("ChannelHangupRequest", cid)
    end = await wire.event("StasisEnd", cid)
    assert request["cause"] == 32 and request["soft"] is True
    assert pos(wire, request) < pos(wire, end)
    # The channel is destroyed with the cause asked for.
    assert call.hangup_cause == cause and call.hangup_by == "system"
    # Every REST call on the gone channel is a 404.
    for method, path, params in [
        ("GET", "", {}),
        ("DELETE", "", {}),
        ("POST", "/answer", {}),
        ("POST", "/play", {"media": "sound:custom/goodbye"}),
        ("POST", "/dtmf", {"dtmf": "1"}),
        ("GET", "/variable", {"variable": "X"}),
        ("POST", "/moh", {}),
        ("POST", "/record", {"name": "x", "format": "wav"}),
        ("POST", "/continue", {}),
    ]:
        await wire.ari(method, f"/channels/{cid}{path}", params, expect=404)


# -- music on hold --------------------------------------------------------------------------------


@pytest_asyncio.fixture
async def make_sim(
    tmp_path: Path, prompts_dir: Path, built_prompts: Any
) -> AsyncIterator[Callable[[tuple[str, ...]], Awaitable[AriSimulator]]]:
    """Simulators with the music-on-hold classes given (musiconhold.conf)."""
    started: list[AriSimulator] = []

    async def make(moh_classes: tuple[str, ...]) -> AriSimulator:
        sim = AriSimulator(
            "hotline", PASSWORD, prompts_dir, tmp_path / "rec", moh_classes=moh_classes
        )
        await sim.start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        await sim.stop()


def moh_heard(call: ScriptedCall) -> list[str]:
    return [h.media for h in call.heard if h.media.startswith("moh:")]


async def test_music_on_hold_without_its_class_configured_is_silence(
    make_sim: Callable[[tuple[str, ...]], Awaitable[AriSimulator]],
) -> None:
    """No class configured (Asterisk without musiconhold.conf), or neither the class asked
    for nor ``default``: 204 all the same, but nothing plays and no event follows."""
    for classes, asked in [((), "default"), ((), None), (("jazz",), "rock"), (("jazz",), None)]:
        sim = await make_sim(classes)
        wire = Wire(sim)
        try:
            await wire.connect_events()
            call = await caller_in_stasis(sim, wire)
            cid = call.channel_id
            bid = (await wire.ari("POST", "/bridges", expect=200)).body["id"]
            await wire.ari("POST", f"/bridges/{bid}/addChannel", {"channel": cid}, expect=204)
            await wire.event("ChannelEnteredBridge", cid)
            before = len(wire.events)
            params = {"mohClass": asked} if asked else {}
            await wire.ari("POST", f"/channels/{cid}/moh", params, expect=204)
            await wire.ari("POST", f"/bridges/{bid}/moh", params, expect=204)
            # A digit as a marker: events arrive in order, so anything the music had
            # caused would have come before it.
            await wire.control("POST", f"/calls/{cid}/dtmf", {"digits": "1"})
            await wire.event("ChannelDtmfReceived", cid)
            assert [ev.type for ev in wire.events[before:]] == ["ChannelDtmfReceived"]
            assert moh_heard(call) == [], (classes, asked)
            await wire.ari("DELETE", f"/channels/{cid}/moh", expect=204)
        finally:
            await wire.close()


async def test_music_on_hold_plays_the_class_asked_for_or_default(
    make_sim: Callable[[tuple[str, ...]], Awaitable[AriSimulator]],
) -> None:
    """Asterisk's res_musiconhold falls back to ``default`` for a class it does not know;
    class names are case-insensitive."""
    sim = await make_sim(("default", "jazz"))
    wire = Wire(sim)
    try:
        await wire.connect_events()
        for asked, plays in [
            (None, "moh:default"),
            ("jazz", "moh:jazz"),
            ("JAZZ", "moh:jazz"),
            ("rock", "moh:default"),
        ]:
            call = await caller_in_stasis(sim, wire)
            params = {"mohClass": asked} if asked else {}
            await wire.ari("POST", f"/channels/{call.channel_id}/moh", params, expect=204)
            assert moh_heard(call) == [plays], asked
            await wire.ari("DELETE", f"/channels/{call.channel_id}/moh", expect=204)
            assert call.heard[-1].ended_at is not None
    finally:
        await wire.close()


# -- bridges and recordings ------------------------------------------------------------------------


async def test_add_channel_waits_for_a_running_playback(sim: AriSimulator, wire: Wire) -> None:
    await wire.connect_events()
    call = await caller_in_stasis(sim, wire)
    cid = call.channel_id
    bridge = await wire.ari("POST", "/bridges", {"type": "mixing"}, expect=200)
    bid = bridge.body["id"]
    played = await wire.ari("POST", f"/channels/{cid}/play", {"media": "sound:custom/greeting"})
    await wire.event("PlaybackStarted", cid)
    adding = asyncio.create_task(wire.ari("POST", f"/bridges/{bid}/addChannel", {"channel": cid}))
    # The 3.5 s greeting is still playing: the request must not have been answered.
    done, _ = await asyncio.wait({adding}, timeout=0.3)
    assert not done and wire.of("ChannelEnteredBridge", cid) == []
    stop = await wire.ari("DELETE", f"/playbacks/{played.body['id']}", expect=204)
    added = await asyncio.wait_for(adding, 2.0)
    assert added.status == 204 and added.at >= stop.sent_at
    finished = await wire.event("PlaybackFinished", cid)
    entered = await wire.event("ChannelEnteredBridge", cid)
    assert pos(wire, finished) < pos(wire, entered)
    assert entered["bridge"]["channels"] == [cid]


async def test_a_bridge_recording_is_a_real_wav(sim: AriSimulator, wire: Wire) -> None:
    await wire.connect_events()
    call = await caller_in_stasis(sim, wire)
    cid = call.channel_id
    bid = (await wire.ari("POST", "/bridges", expect=200)).body["id"]
    await wire.ari("POST", f"/bridges/{bid}/addChannel", {"channel": cid}, expect=204)
    rec = await wire.ari(
        "POST", f"/bridges/{bid}/record", {"name": "bridge-rec-1", "format": "wav"}, expect=201
    )
    assert rec.body["state"] == "recording" and rec.body["target_uri"] == f"bridge:{bid}"
    await wire.event("RecordingStarted", bid)
    await asyncio.sleep(0.6)  # the length of the conversation being recorded
    stop = await wire.ari("POST", "/recordings/live/bridge-rec-1/stop", expect=204)
    finished = await wire.event("RecordingFinished", bid)
    assert finished["recording"]["state"] == "done"
    lower, upper = stop.sent_at - rec.at, stop.at - rec.sent_at
    assert finished["recording"]["duration"] == round(lower) == round(upper)
    audio = await wire.ari("GET", "/recordings/stored/bridge-rec-1/file", expect=200)
    with wave.open(io.BytesIO(audio.raw), "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        seconds = w.getnframes() / w.getframerate()
    assert lower - 0.05 <= seconds <= upper + 0.05
    assert (sim.engine.recordings_dir / "bridge-rec-1.wav").read_bytes() == audio.raw
    await wire.ari("GET", "/recordings/live/bridge-rec-1", expect=404)


# -- agent legs ------------------------------------------------------------------------------------


async def _originate_agent(wire: Wire, endpoint: str, **params: str | int) -> Any:
    ex = await wire.ari(
        "POST",
        "/channels",
        {"endpoint": endpoint, "app": "hotline", "appArgs": f"agent,{endpoint[6:]}", **params},
        expect=200,
    )
    return ex


async def test_an_agent_phone_that_never_answers_times_out(sim: AriSimulator, wire: Wire) -> None:
    sim.set_phone("PJSIP/8003", answer_after=None)
    await wire.connect_events()
    ex = await _originate_agent(wire, "PJSIP/8003", timeout=1)
    aid = ex.body["id"]
    destroyed = await wire.event("ChannelDestroyed", aid, timeout=15.0)
    noanswer = await wire.event("Dial", aid, lambda ev: ev["dialstatus"] == "NOANSWER")
    assert pos(wire, noanswer) < pos(wire, destroyed)
    assert destroyed["cause"] == 19 and destroyed["cause_txt"] == "User alerting, no answer"
    assert 1.0 - TOLERANCE <= destroyed.at - ex.at <= 1.0 + TOLERANCE
    states = [ev["channel"]["state"] for ev in wire.of("ChannelStateChange", aid)]
    assert states == ["Ringing"]
    assert wire.of("StasisStart", aid) == []
    await wire.ari("GET", f"/channels/{aid}", expect=404)


async def test_a_busy_agent_phone(sim: AriSimulator, wire: Wire) -> None:
    sim.set_phone("PJSIP/8004", busy=True)
    await wire.connect_events()
    aid = (await _originate_agent(wire, "PJSIP/8004")).body["id"]
    destroyed = await wire.event("ChannelDestroyed", aid)
    assert destroyed["cause"] == 17 and destroyed["cause_txt"] == "User busy"
    assert [ev["dialstatus"] for ev in wire.of("Dial", aid)] == ["", "BUSY"]
    assert wire.of("StasisStart", aid) == []


async def test_originate_timeout_minus_one_rings_until_answered(
    sim: AriSimulator, wire: Wire
) -> None:
    sim.set_phone("PJSIP/8005", answer_after=0.3)
    await wire.connect_events()
    aid = (await _originate_agent(wire, "PJSIP/8005", timeout=-1)).body["id"]
    started = await wire.event("StasisStart", aid)
    assert started["args"] == ["agent", "8005"]
    assert [ev["dialstatus"] for ev in wire.of("Dial", aid)] == ["", "ANSWER"]


# -- the dialplan without the app ------------------------------------------------------------------


async def test_without_the_app_the_caller_hears_the_fallback_and_is_hung_up(
    sim: AriSimulator, wire: Wire, prompts_dir: Path
) -> None:
    assert sim.connected_apps == []
    call = await sim.place_call("6000", "+8613800000020")
    cid = call.channel_id
    await wait_for(lambda: bool(call.heard), 2.0, "the fallback prompt")
    status = await wire.ari("GET", f"/channels/{cid}/variable", {"variable": "STASISSTATUS"})
    assert status.body == {"value": "FAILED"}
    await call.ended(timeout=20)
    [heard] = call.heard
    assert heard.media == "sound:custom/fallback_busy" and heard.completed
    assert heard.ended_at is not None
    expected = wav_seconds(prompts_dir / "en" / "custom" / "fallback_busy.wav")
    assert abs((heard.ended_at - heard.started_at) - expected) <= TOLERANCE
    info = await wire.control("GET", f"/calls/{cid}")
    assert info.body["answered"] is True
    assert (info.body["state"], info.body["hangup_by"], info.body["hangup_cause"]) == (
        "ended",
        "system",
        16,
    )


# -- fault injection over the control API ----------------------------------------------------------


async def test_fail_next_answers_503(sim: AriSimulator, wire: Wire) -> None:
    ex = await wire.control("POST", "/faults/fail-next", {"count": 2})
    assert ex.status == 204
    # The events socket is not a REST request: it still connects.
    await wire.connect_events()
    for _ in range(2):
        failed = await wire.ari("GET", "/asterisk/ping")
        assert failed.status == 503 and "message" in failed.body
    await wire.ari("GET", "/asterisk/ping", expect=200)
    state = await wire.control("GET", "/state")
    assert state.body["fail_remaining"] == 0


async def test_drop_websockets_cuts_the_event_stream(sim: AriSimulator, wire: Wire) -> None:
    await wire.connect_events()
    ex = await wire.control("POST", "/faults/drop-websockets", {})
    assert ex.body == {"dropped": 1}
    await asyncio.wait_for(wire.ws_closed.wait(), 2.0)
    await wait_for(lambda: sim.connected_apps == [], 2.0, "app unregistered")
    # Reconnecting works and events flow again.
    await wire.connect_events()
    call = await sim.place_call("6000", "+8613800000030")
    await wire.event("StasisStart", call.channel_id)


async def test_refuse_events_keeps_the_event_stream_down_until_lifted(
    sim: AriSimulator, wire: Wire
) -> None:
    ex = await wire.control("POST", "/faults/refuse-events", {"refuse": True})
    assert ex.status == 204
    assert (await wire.control("GET", "/state")).body["refusing_events"] is True
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await wire.connect_events()
    assert refused.value.status == 503
    assert sim.connected_apps == []
    # REST requests are unaffected: only the events socket is cut off.
    await wire.ari("GET", "/asterisk/ping", expect=200)
    await wire.control("POST", "/faults/refuse-events", {"refuse": False})
    await wire.connect_events()
    assert sim.connected_apps == ["hotline"]


async def test_event_delay_delays_events_and_keeps_their_order(
    sim: AriSimulator, wire: Wire
) -> None:
    delay = 0.4
    await wire.connect_events()
    call = await sim.place_call("6000", "+8613800000040")
    cid = call.channel_id
    await wire.event("StasisStart", cid)
    ex = await wire.control("POST", "/faults/event-delay", {"seconds": delay})
    assert ex.status == 204
    sent = await wire.control("POST", f"/calls/{cid}/dtmf", {"digits": "1234"})
    assert sent.status == 204
    answer = await wire.ari("POST", f"/channels/{cid}/answer", expect=204)
    await wire.event("ChannelStateChange", cid, timeout=15.0)
    digits = wire.of("ChannelDtmfReceived", cid)
    assert [ev["digit"] for ev in digits] == list("1234")
    for ev in digits:
        # Emitted while /dtmf was being handled, so between its send and its response.
        assert sent.sent_at + delay <= ev.at <= sent.at + delay + TOLERANCE
    change = wire.of("ChannelStateChange", cid)[0]
    assert answer.sent_at + delay <= change.at
    assert pos(wire, digits[-1]) < pos(wire, change)
    await wire.control("POST", "/faults/event-delay", {"seconds": 0})
    assert sim.event_delay == 0


# -- scripted callers over the control API ---------------------------------------------------------


async def test_a_scripted_caller_over_http(sim: AriSimulator, wire: Wire) -> None:
    await wire.connect_events()
    line = (
        "call 6000 from +8613800000001, wait 0.5 s, press 2, wait 0.3 s, press 1, hang up after 3 s"
    )
    placed = await wire.control("POST", "/calls", {"line": line})
    assert placed.status == 201, placed.body
    cid = placed.body["channel_id"]
    assert placed.body["caller_number"] == "+8613800000001" and placed.body["to"] == "6000"
    started = await wire.event("StasisStart", cid)
    assert started["channel"]["caller"]["number"] == "+8613800000001"
    assert started["channel"]["dialplan"]["exten"] == "6000"
    one = await wire.event("ChannelDtmfReceived", cid, lambda ev: ev["digit"] == "1")
    two = wire.of("ChannelDtmfReceived", cid)[0]
    assert [ev["digit"] for ev in wire.of("ChannelDtmfReceived", cid)] == ["2", "1"]
    assert placed.sent_at + 0.5 <= two.at <= placed.at + 0.5 + TOLERANCE
    assert 0.3 <= one.at - two.at <= 0.45 + TOLERANCE  # the wait, plus 150 ms after a digit
    hangup = await wire.event("ChannelHangupRequest", cid, timeout=15.0)
    assert hangup["cause"] == 16
    assert placed.sent_at + 3.0 <= hangup.at <= placed.at + 3.0 + TOLERANCE
    info = await wire.control("GET", f"/calls/{cid}")
    assert info.status == 200
    assert info.body["state"] == "ended" and info.body["hangup_by"] == "caller"
    assert info.body["hangup_cause"] == 16 and info.body["answered"] is False
    listed = await wire.control("GET", "/calls")
    assert [c["channel_id"] for c in listed.body] == [cid]
    assert (await wire.control("GET", "/calls/no-such-call")).status == 404


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ({"line": "call 6000 from +8613800000001, wait 1, jump"}, ["step 2", "'jump'"]),
        ({"line": "call 6000 from +8613800000001, press X"}, ["step 1", "'press X'"]),
        ({"line": "call 6000 from +861, wait 2 minutes"}, ["step 1", "'wait 2 minutes'"]),
        ({"line": "dial 6000 now, wait 1"}, ["'dial 6000 now'"]),
        ({"to": "6000", "from": "+861", "script": "wait 1; hang up later"}, ["step 2"]),
        ({"to": "6000"}, ["'to' and 'from'"]),
    ],
)
async def test_script_errors_are_400_naming_the_step(
    sim: AriSimulator, wire: Wire, body: dict[str, str], names: list[str]
) -> None:
    ex = await wire.control("POST", "/calls", body)
    assert ex.status == 400
    for name in names:
        assert name in ex.body["message"], ex.body
    assert sim.calls == {} and sim.engine.channels == {}


# -- authentication --------------------------------------------------------------------------------


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def test_authentication(sim: AriSimulator) -> None:
    url = sim.base_url
    async with aiohttp.ClientSession() as anonymous:
        for path in ("/ari/asterisk/ping", "/_sim/state"):
            async with anonymous.get(url + path) as resp:
                assert resp.status == 401
                assert resp.headers["WWW-Authenticate"].startswith("Basic ")
                assert "message" in await resp.json()
        for auth in (
            basic("hotline", "wrong"),
            basic("other", PASSWORD),
            basic("", ""),
            "Basic %%",  # not base64
            f"Bearer {PASSWORD}",
        ):
            async with anonymous.get(
                url + "/ari/asterisk/ping", headers={"Authorization": auth}
            ) as resp:
                assert resp.status == 401, auth
        key = {"api_key": f"hotline:{PASSWORD}"}
        async with anonymous.get(url + "/ari/asterisk/ping", params=key) as resp:
            assert resp.status == 200 and (await resp.json())["ping"] == "pong"
        bad_key = {"api_key": "hotline:wrong"}
        async with anonymous.get(url + "/ari/asterisk/ping", params=bad_key) as resp:
            assert resp.status == 401
        ws_url = url.replace("http", "ws", 1) + "/ari/events"
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await anonymous.ws_connect(ws_url, params={"app": "hotline"})
        assert refused.value.status == 401
        ws = await anonymous.ws_connect(ws_url, params={"app": "hotline", **key})
        try:
            await wait_for(lambda: sim.connected_apps == ["hotline"], 2.0, "api_key websocket")
        finally:
            await ws.close()
