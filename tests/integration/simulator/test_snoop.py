"""Snooping (``POST /channels/{id}/snoop[/{snoopId}]``) over real sockets, checked
against the API description and against what Asterisk's res_stasis_snoop does: the
snoop channel comes back at once and enters Stasis afterwards with its ``appArgs``;
it is bridged like any channel; it goes by itself (``StasisEnd``, no hang-up request)
when the channel it spies on goes."""

from __future__ import annotations

import pytest

from simulator.server import AriSimulator
from tests.integration.conftest import wait_for
from tests.integration.simulator.swagger import ApiDocs, Problem, format_problems
from tests.integration.simulator.test_behaviour import caller_in_stasis, pos
from tests.integration.simulator.wire import Wire

GLOBAL_ERRORS = {401, 503}


def conformance(wire: Wire, docs: ApiDocs, undocumented: set[tuple[str, int]]) -> str:
    """Problems of every event and ``/ari`` exchange; ``undocumented`` lists the
    (path, status) pairs where Asterisk itself answers a code its description omits."""
    problems: list[tuple[str, Problem]] = []
    for ev in wire.events:
        problems += [(f"event {ev.type}", p) for p in docs.validate_event(ev.data)]
    for ex in wire.exchanges:
        if not ex.path.startswith("/ari/"):
            continue
        where = f"{ex.method} {ex.path} → {ex.status}"
        op = docs.find_operation(ex.method, ex.path)
        if op is None:
            problems.append((where, Problem("request", "no such operation in the API")))
            continue
        if ex.status >= 300:
            allowed = op.error_codes | GLOBAL_ERRORS
            if ex.status not in allowed and (ex.path, ex.status) not in undocumented:
                problems.append((where, Problem("status", f"not documented: {op.error_codes}")))
            if not (isinstance(ex.body, dict) and isinstance(ex.body.get("message"), str)):
                problems.append((where, Problem("$", f"error body {ex.raw!r} lacks message")))
        elif op.response_class == "void":
            if ex.status != 204 or ex.raw:
                problems.append((where, Problem("$", f"void operation answered {ex.raw!r}")))
        else:
            problems += [(where, p) for p in docs.validate(ex.body, op.response_class)]
    return format_problems(problems)


async def test_a_snoop_channel_enters_stasis_is_bridged_and_ends_with_its_call(
    sim: AriSimulator, wire: Wire, docs: ApiDocs
) -> None:
    sim.set_phone("PJSIP/9001", answer_after=0.1)
    await wire.connect_events()
    call = await caller_in_stasis(sim, wire)
    a = call.channel_id

    snooped = await wire.ari(
        "POST",
        f"/channels/{a}/snoop",
        {
            "spy": "both",
            "whisper": "none",
            "app": "hotline",
            "appArgs": f"snoop,{a}",
            "snoopId": "snoop-1",
        },
        expect=200,
    )
    assert snooped.body["id"] == "snoop-1"
    assert snooped.body["name"].startswith(f"Snoop/{a}-")
    assert snooped.body["state"] == "Up"
    started = await wire.event("StasisStart", "snoop-1")
    assert started["args"] == ["snoop", a]
    assert started.at >= snooped.at  # the REST answer first, then the Stasis thread's event
    assert started["channel"]["dialplan"]["app_data"] == f"hotline,snoop,{a}"

    # snoopChannelWithId: the id in the path; spying on what the caller says only.
    with_id = await wire.ari(
        "POST", f"/channels/{a}/snoop/snoop-2", {"spy": "in", "app": "hotline"}, expect=200
    )
    assert with_id.body["id"] == "snoop-2"
    assert (await wire.event("StasisStart", "snoop-2"))["args"] == []
    assert sim.engine.channels["snoop-2"].spy == "in"
    assert sorted(sim.engine.channels[a].snoops) == ["snoop-1", "snoop-2"]

    # The lead's phone and the snoop in one bridge, as the listening feature uses them.
    lead = await wire.ari(
        "POST",
        "/channels",
        {"endpoint": "PJSIP/9001", "app": "hotline", "appArgs": "listen"},
        expect=200,
    )
    lead_id = lead.body["id"]
    await wire.event("StasisStart", lead_id)
    bridge = await wire.ari("POST", "/bridges/listen-1", {"type": "mixing"}, expect=200)
    await wire.ari(
        "POST", "/bridges/listen-1/addChannel", {"channel": f"snoop-1,{lead_id}"}, expect=204
    )
    await wire.event("ChannelEnteredBridge", "snoop-1")
    assert sorted(sim.engine.bridges["listen-1"].channels) == sorted(["snoop-1", lead_id])
    listed = await wire.ari("GET", "/channels", expect=200)
    assert {"snoop-1", "snoop-2"} <= {c["id"] for c in listed.body}
    assert bridge.body["id"] == "listen-1"

    # The caller goes: each snoop leaves its bridge and Stasis by itself.
    await wire.ari("DELETE", f"/channels/{a}", expect=204)
    caller_end = await wire.event("StasisEnd", a)
    end_1 = await wire.event("StasisEnd", "snoop-1")
    end_2 = await wire.event("StasisEnd", "snoop-2")
    left = await wire.event("ChannelLeftBridge", "snoop-1")
    assert pos(wire, caller_end) < pos(wire, left) < pos(wire, end_1)
    assert pos(wire, caller_end) < pos(wire, end_2)
    assert not wire.of("ChannelHangupRequest", "snoop-1")  # nobody asked it to hang up
    assert not wire.of("ChannelDestroyed", "snoop-1")  # not ours after StasisEnd
    await wire.ari("GET", "/channels/snoop-1", expect=404)
    assert sim.engine.bridges["listen-1"].channels == [lead_id]  # the lead is still there
    assert sim.engine.stasis_channels == 1  # only the lead's leg is left in Stasis
    await wire.ari("DELETE", f"/channels/{lead_id}", expect=204)
    await wire.ari("DELETE", "/bridges/listen-1", expect=204)

    problems = conformance(wire, docs, set())
    assert not problems, problems
    assert len(wire.events) >= 15


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({"spy": "both"}, 400, "Application name is required"),
        ({"spy": "sideways", "app": "hotline"}, 400, "Invalid direction specified for spy"),
        ({"spy": "in", "whisper": "up", "app": "hotline"}, 400, "for whisper"),
        ({"app": "hotline"}, 400, "at least spy or whisper"),  # both default to none
        ({"spy": "none", "whisper": "none", "app": "hotline"}, 400, "at least spy or whisper"),
    ],
)
async def test_a_bad_snoop_request_is_refused_in_asterisks_order(
    sim: AriSimulator,
    wire: Wire,
    docs: ApiDocs,
    params: dict[str, str],
    status: int,
    message: str,
) -> None:
    await wire.connect_events()
    call = await caller_in_stasis(sim, wire)
    refused = await wire.ari("POST", f"/channels/{call.channel_id}/snoop", params)
    assert refused.status == status and message in refused.body["message"]
    # Parameters are checked before the channel is looked for: 400 even for no channel.
    nowhere = await wire.ari("POST", "/channels/no-such-channel/snoop", params)
    assert nowhere.status == status
    assert not any("Snoop/" in ch.name for ch in sim.engine.channels.values())
    problems = conformance(wire, docs, set())
    assert not problems, problems


async def test_snoop_on_a_missing_channel_a_taken_id_or_an_absent_app(
    sim: AriSimulator, wire: Wire, docs: ApiDocs
) -> None:
    await wire.connect_events()
    call = await caller_in_stasis(sim, wire)
    a = call.channel_id
    missing = await wire.ari(
        "POST", "/channels/no-such-channel/snoop", {"spy": "both", "app": "hotline"}
    )
    assert missing.status == 404 and missing.body["message"] == "Provided channel was not found"
    # An id in use: Asterisk's channel allocation fails and it answers 500.
    taken = await wire.ari("POST", f"/channels/{a}/snoop/{a}", {"spy": "both", "app": "hotline"})
    assert taken.status == 500 and "could not be created" in taken.body["message"]
    # No such app connected: the snoop is made, fails to enter Stasis and is gone, unseen.
    lost = await wire.ari(
        "POST", f"/channels/{a}/snoop", {"spy": "both", "app": "nobody"}, expect=200
    )
    await wait_for(lambda: lost.body["id"] not in sim.engine.channels, 2.0, "snoop gone")
    assert not wire.about(lost.body["id"])
    assert sim.engine.channels[a].snoops == []
    problems = conformance(wire, docs, {(f"/ari/channels/{a}/snoop/{a}", 500)})
    assert not problems, problems
