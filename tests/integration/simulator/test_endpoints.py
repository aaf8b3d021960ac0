"""Endpoints and their registration, as observed on Asterisk 22.10.1 (ari-notes.md):
originating to a PJSIP endpoint whose phone is not registered answers 500 and creates
nothing; ``GET /endpoints…`` shows each endpoint ``online`` or ``offline`` with the
channels it carries; a change of registration reaches the apps subscribed to the endpoint
(``POST /applications/{app}/subscription?eventSource=endpoint:…``) as ``EndpointStateChange``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio

from simulator.server import AriSimulator
from tests.integration.conftest import wait_for
from tests.integration.simulator.swagger import ApiDocs
from tests.integration.simulator.test_behaviour import caller_in_stasis
from tests.integration.simulator.test_snoop import conformance
from tests.integration.simulator.wire import Received, Wire, subject_id

UNREACHABLE = (
    "Could not create dialog to endpoint 'PJSIP/{}'. Is endpoint registered and reachable?"
)


@pytest_asyncio.fixture
async def other(sim: AriSimulator) -> AsyncIterator[Wire]:
    """A second application, ``other``, on a socket of its own."""
    w = Wire(sim)
    yield w
    await w.close()


def agent(endpoint: str) -> dict[str, str | int]:
    return {"endpoint": endpoint, "app": "hotline", "appArgs": "agent", "timeout": 10}


def by_id(listed: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {f"{e['technology']}/{e['resource']}": e for e in listed}


def state_changes(wire: Wire, resource: str) -> list[Received]:
    return [ev for ev in wire.of("EndpointStateChange") if ev["endpoint"]["resource"] == resource]


# -- originating to an unregistered phone ------------------------------------------------------


async def test_originating_to_an_unregistered_pjsip_endpoint_is_a_500_and_creates_nothing(
    sim: AriSimulator, wire: Wire
) -> None:
    sim.set_phone("PJSIP/8101", answer_after=0.1, registered=False)
    sim.set_phone("PJSIP/8102", answer_after=0.1)
    await wire.connect_events()

    refused = await wire.ari("POST", "/channels", agent("PJSIP/8101"), expect=500)
    assert refused.body == {"message": UNREACHABLE.format("8101")}
    with_id = await wire.ari("POST", "/channels/leg-8101", agent("PJSIP/8101"), expect=500)
    assert with_id.body == {"message": UNREACHABLE.format("8101")}
    # A dial string naming a user at the endpoint reaches the same endpoint.
    at = await wire.ari("POST", "/channels", agent("PJSIP/555@8101"), expect=500)
    assert at.body == {"message": UNREACHABLE.format("8101")}
    assert not any(ch.endpoint.endswith("8101") for ch in sim.engine.channels_seen)
    await wire.ari("GET", "/channels/leg-8101", expect=404)

    # Events come in order: by the time the next agent leg is in Stasis, anything the
    # refused originates had sent would have arrived before it.
    ok = await wire.ari("POST", "/channels", agent("PJSIP/8102"), expect=200)
    await wire.event("StasisStart", ok.body["id"])
    assert {subject_id(ev.data) for ev in wire.events} == {ok.body["id"]}
    listed = await wire.ari("GET", "/channels", expect=200)
    assert [c["id"] for c in listed.body] == [ok.body["id"]]

    # Once the phone registers, the same request rings it.
    sim.register_phone("PJSIP/8101")
    again = await wire.ari("POST", "/channels/leg-8101", agent("PJSIP/8101"), expect=200)
    await wire.event("StasisStart", again.body["id"])


async def test_a_phone_unregistered_over_the_control_api(sim: AriSimulator, wire: Wire) -> None:
    await wire.connect_events()
    # A PJSIP endpoint the simulator has no phone for is reachable, as before.
    first = await wire.ari("POST", "/channels", agent("PJSIP/8105"), expect=200)
    await wire.event("StasisStart", first.body["id"])

    gone = await wire.control("POST", "/endpoints/PJSIP/8105?registered=false")
    assert gone.status == 200, gone.body
    assert gone.body == {
        "technology": "PJSIP",
        "resource": "8105",
        "state": "offline",
        "channel_ids": [first.body["id"]],
    }
    refused = await wire.ari("POST", "/channels", agent("PJSIP/8105"), expect=500)
    assert refused.body["message"] == UNREACHABLE.format("8105")

    back = await wire.control("POST", "/endpoints/PJSIP/8105?registered=true")
    assert back.status == 200 and back.body["state"] == "online"
    await wire.ari("POST", "/channels", agent("PJSIP/8105"), expect=200)

    for bad in ("", "?registered=yes", "?registered=False"):
        ex = await wire.control("POST", f"/endpoints/PJSIP/8105{bad}")
        assert ex.status == 400, (bad, ex.body)
    local = await wire.control("POST", "/endpoints/Local/1@ctx?registered=false")
    assert local.status == 400


# -- listing endpoints -------------------------------------------------------------------------


async def test_endpoints_are_listed_with_their_state_and_live_channels(
    sim: AriSimulator, wire: Wire
) -> None:
    assert (await wire.ari("GET", "/endpoints", expect=200)).body == []
    sim.set_phone("PJSIP/8111", answer_after=0.1)
    sim.set_phone("PJSIP/8112", registered=False)
    sim.set_phone("PJSIP/8114", answer_after=None)  # rings until hung up
    sim.set_phone("Local/8115@agents", answer_after=0.1)
    await wire.connect_events()
    leg = (await wire.ari("POST", "/channels", agent("PJSIP/8111"), expect=200)).body["id"]
    await wire.event("StasisStart", leg)
    ringing = (await wire.ari("POST", "/channels", agent("PJSIP/8114"), expect=200)).body["id"]
    # No phone configured: reachable, and listed once it has carried a channel.
    unset = (await wire.ari("POST", "/channels", agent("PJSIP/8113"), expect=200)).body["id"]
    await wire.event("StasisStart", unset)
    local = await wire.ari(
        "POST",
        "/channels",
        {"endpoint": "Local/8115@agents", "extension": "6000", "context": "from-callers"},
        expect=200,
    )
    await wire.event("StasisStart", local.body["id"])
    caller = await caller_in_stasis(sim, wire)

    listed = by_id((await wire.ari("GET", "/endpoints", expect=200)).body)
    assert listed == {
        "PJSIP/8111": {
            "technology": "PJSIP",
            "resource": "8111",
            "state": "online",
            "channel_ids": [leg],
        },
        "PJSIP/8112": {
            "technology": "PJSIP",
            "resource": "8112",
            "state": "offline",
            "channel_ids": [],
        },
        "PJSIP/8113": {
            "technology": "PJSIP",
            "resource": "8113",
            "state": "online",
            "channel_ids": [unset],
        },
        "PJSIP/8114": {
            "technology": "PJSIP",
            "resource": "8114",
            "state": "online",
            "channel_ids": [ringing],
        },
        # The callers' own endpoint carries their channels; Local is no endpoint.
        "PJSIP/caller": {
            "technology": "PJSIP",
            "resource": "caller",
            "state": "online",
            "channel_ids": [caller.channel_id],
        },
    }
    by_tech = await wire.ari("GET", "/endpoints/PJSIP", expect=200)
    assert by_id(by_tech.body) == listed
    one = await wire.ari("GET", "/endpoints/PJSIP/8111", expect=200)
    assert one.body == listed["PJSIP/8111"]
    assert (await wire.ari("GET", "/endpoints/Local", expect=200)).body == []

    missing = await wire.ari("GET", "/endpoints/PJSIP/nobody", expect=404)
    assert missing.body == {"message": "Endpoint not found"}
    await wire.ari("GET", "/endpoints/Local/8115@agents", expect=404)
    await wire.ari("GET", "/endpoints/SKYPE", expect=404)
    await wire.ari("GET", "/endpoints/SKYPE/8111", expect=404)

    # A destroyed channel leaves its endpoint's list; the endpoint stays.
    await wire.ari("DELETE", f"/channels/{leg}", expect=204)
    await wire.ari("DELETE", f"/channels/{ringing}", expect=204)
    await wire.event("StasisEnd", leg)
    await wait_for(lambda: ringing not in sim.engine.channels, 3.0, "the ringing leg gone")
    after = by_id((await wire.ari("GET", "/endpoints/PJSIP", expect=200)).body)
    assert after["PJSIP/8111"]["channel_ids"] == after["PJSIP/8114"]["channel_ids"] == []
    assert after["PJSIP/8113"]["channel_ids"] == [unset]


# -- EndpointStateChange and subscriptions -----------------------------------------------------


async def test_state_changes_reach_the_apps_subscribed_to_the_endpoint_or_its_technology(
    sim: AriSimulator, wire: Wire, other: Wire, docs: ApiDocs
) -> None:
    sim.set_phone("PJSIP/8121")
    sim.set_phone("PJSIP/8122")
    await wire.connect_events("hotline")
    await other.connect_events("other")
    mine = await wire.ari(
        "POST",
        "/applications/hotline/subscription",
        {"eventSource": "endpoint:PJSIP/8121"},
        expect=200,
    )
    assert mine.body["name"] == "hotline" and mine.body["endpoint_ids"] == ["PJSIP/8121"]
    everything = await other.ari(
        "POST", "/applications/other/subscription", {"eventSource": "endpoint:PJSIP"}, expect=200
    )
    assert everything.body["endpoint_ids"] == ["PJSIP"]

    sim.register_phone("PJSIP/8121", registered=False)
    change = await wire.event("EndpointStateChange")
    assert change.data["application"] == "hotline"
    assert set(change.data) == {"type", "application", "timestamp", "asterisk_id", "endpoint"}
    assert change["endpoint"] == {
        "technology": "PJSIP",
        "resource": "8121",
        "state": "offline",
        "channel_ids": [],
    }
    seen = await other.event("EndpointStateChange")
    assert seen["endpoint"] == change["endpoint"] and seen.data["application"] == "other"

    sim.register_phone("PJSIP/8121", registered=False)  # no change: no event
    # 8122 is only the technology subscriber's business; over the control API this time.
    assert (await wire.control("POST", "/endpoints/PJSIP/8122?registered=false")).status == 200
    await other.event("EndpointStateChange", where=lambda ev: ev["endpoint"]["resource"] == "8122")
    sim.register_phone("PJSIP/8121")
    back = await wire.event(
        "EndpointStateChange", where=lambda ev: ev["endpoint"]["state"] == "online"
    )
    assert back["endpoint"]["resource"] == "8121"
    await other.event("EndpointStateChange", where=lambda ev: ev["endpoint"]["state"] == "online")
    assert [ev["endpoint"]["state"] for ev in state_changes(wire, "8121")] == ["offline", "online"]
    assert state_changes(wire, "8122") == []
    assert [ev["endpoint"]["resource"] for ev in other.of("EndpointStateChange")] == [
        "8121",
        "8122",
        "8121",
    ]

    # Unsubscribed from 8121 (and subscribed to 8122 instead): nothing more of 8121.
    path = "/applications/hotline/subscription"
    left = await wire.ari("DELETE", path, {"eventSource": "endpoint:PJSIP/8121"}, expect=200)
    assert left.body["endpoint_ids"] == []
    await wire.ari("POST", path, {"eventSource": "endpoint:PJSIP/8122"}, expect=200)
    sim.register_phone("PJSIP/8121", registered=False)
    sim.register_phone("PJSIP/8122")
    # One socket delivers in order: a change of 8121 would have come before this one.
    await wire.event("EndpointStateChange", where=lambda ev: ev["endpoint"]["resource"] == "8122")
    assert len(state_changes(wire, "8121")) == 2
    await wait_for(lambda: len(other.of("EndpointStateChange")) == 5, 5.0, "other's changes")
    for w in (wire, other):
        assert not conformance(w, docs, set()), conformance(w, docs, set())


async def test_subscription_requests_are_checked_as_asterisk_checks_them(
    sim: AriSimulator, wire: Wire
) -> None:
    sim.set_phone("PJSIP/8131")
    path = "/applications/hotline/subscription"
    source = {"eventSource": "endpoint:PJSIP/8131"}
    await wire.ari("POST", path, source, expect=404)  # the app is not connected yet
    await wire.connect_events()
    for method in ("POST", "DELETE"):
        missing = await wire.ari(method, path, expect=400)
        assert missing.body == {"message": "Missing parameter eventSource"}
        await wire.ari(method, path, {"eventSource": ""}, expect=400)
        gone = await wire.ari(
            method, "/applications/nobody/subscription", {"eventSource": "endpoint:PJSIP"}
        )
        assert (gone.status, gone.body) == (404, {"message": "Application not found"})
        for scheme in ("endpoints:PJSIP/8131", "PJSIP/8131", "sip:8131"):
            bad = await wire.ari(method, path, {"eventSource": scheme}, expect=400)
            assert bad.body == {"message": "Invalid event source URI scheme"}
    for uri in ("endpoint:PJSIP/nobody", "endpoint:SKYPE", "endpoint:Local", "channel:1.1"):
        nothing = await wire.ari("POST", path, {"eventSource": uri}, expect=422)
        assert nothing.body == {"message": "Event source does not exist"}
    not_subscribed = await wire.ari("DELETE", path, {"eventSource": "endpoint:PJSIP/8131"})
    assert not_subscribed.status == 422
    assert not_subscribed.body == {"message": "Event source was not subscribed to"}

    # Several sources at once; applied in turn, so those before a failing one stay.
    both = await wire.ari(
        "POST", path, {"eventSource": "endpoint:PJSIP/8131,endpoint:PJSIP"}, expect=200
    )
    assert both.body["endpoint_ids"] == ["PJSIP", "PJSIP/8131"]
    await wire.ari("DELETE", path, {"eventSource": "endpoint:PJSIP,endpoint:SKYPE"}, expect=422)
    shown = await wire.ari("GET", "/applications/hotline", expect=200)
    assert shown.body["endpoint_ids"] == ["PJSIP/8131"]


async def test_a_channel_subscription_brings_that_channels_events(
    sim: AriSimulator, wire: Wire, other: Wire
) -> None:
    await wire.connect_events("hotline")
    await other.connect_events("other")
    call = await caller_in_stasis(sim, wire)
    cid = call.channel_id
    path = "/applications/other/subscription"
    subscribed = await other.ari("POST", path, {"eventSource": f"channel:{cid}"}, expect=200)
    assert subscribed.body["channel_ids"] == [cid]
    await wire.control("POST", f"/calls/{cid}/dtmf", {"digits": "5"})
    heard = await other.event("ChannelDtmfReceived", cid)
    assert heard["digit"] == "5" and heard.data["application"] == "other"
    await other.ari("DELETE", path, {"eventSource": f"channel:{cid}"}, expect=200)
    await wire.control("POST", f"/calls/{cid}/dtmf", {"digits": "6"})
    await wire.event("ChannelDtmfReceived", cid, lambda ev: ev["digit"] == "6")
    assert [ev["digit"] for ev in other.of("ChannelDtmfReceived", cid)] == ["5"]


async def test_subscriptions_go_with_the_apps_socket(sim: AriSimulator, wire: Wire) -> None:
    # The simulator forgets an app's endpoint subscriptions when its socket goes; the
    # controller subscribes again after every (re)connect.
    sim.set_phone("PJSIP/8141")
    await wire.connect_events()
    path = "/applications/hotline/subscription"
    await wire.ari("POST", path, {"eventSource": "endpoint:PJSIP/8141"}, expect=200)
    sim.drop_websockets()
    await wait_for(lambda: sim.connected_apps == [], 3.0, "the app gone")
    await wire.connect_events()
    shown = await wire.ari("GET", "/applications/hotline", expect=200)
    assert shown.body["endpoint_ids"] == []
    sim.register_phone("PJSIP/8141", registered=False)
    await wire.ari("POST", path, {"eventSource": "endpoint:PJSIP/8141"}, expect=200)
    sim.register_phone("PJSIP/8141")
    change = await wire.event("EndpointStateChange")
    assert change["endpoint"]["state"] == "online"
    assert len(wire.of("EndpointStateChange")) == 1
