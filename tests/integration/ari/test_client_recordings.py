"""The client's recording calls over real sockets, against the simulator."""

from __future__ import annotations

import io
import wave

import pytest

from ivr.ari import errors as e
from ivr.ari.client import AriClient, AriConfig
from simulator.server import AriSimulator
from tests.integration.conftest import PASSWORD, wait_for
from tests.integration.simulator.test_behaviour import caller_in_stasis
from tests.integration.simulator.wire import Wire


async def test_record_a_bridge_fetch_the_file_and_delete_it(sim: AriSimulator) -> None:
    client = AriClient(AriConfig(sim.base_url, "hotline", PASSWORD, "hotline"))
    await client.open()
    wire = Wire(sim)  # the app's events socket, so the caller enters Stasis
    try:
        await wire.connect_events()
        caller = await caller_in_stasis(sim, wire, number="+8613800000031")
        bridge = await client.bridges.create("mixing", bridge_id="call~b")
        await client.bridges.add_channel(bridge.id, [caller.channel_id])
        live = await client.bridges.record(bridge.id, "call-1")
        assert (live.name, live.state, live.target_uri) == ("call-1", "recording", "bridge:call~b")
        assert (await client.recordings.get_live("call-1")).state == "recording"
        with pytest.raises(e.AriConflict):  # the name is taken (ifExists=fail)
            await client.bridges.record(bridge.id, "call-1")
        await client.recordings.stop_live("call-1")
        with pytest.raises(e.AriNotFound):
            await client.recordings.get_live("call-1")
        assert await client.recordings.get_stored("call-1") == {"name": "call-1", "format": "wav"}
        data = await client.recordings.get_stored_file("call-1", timeout=10)
        with wave.open(io.BytesIO(data)) as w:
            assert w.getframerate() == 8000
        await client.recordings.delete_stored("call-1")
        with pytest.raises(e.AriNotFound):
            await client.recordings.get_stored_file("call-1")
        # Cancelling discards: nothing is stored.
        await client.bridges.record(bridge.id, "call-2")
        await client.recordings.cancel_live("call-2")
        await wait_for(lambda: "call-2" not in sim.engine.live_recordings, 2.0, "cancelled")
        assert {"name": "call-2", "format": "wav"} not in await client.recordings.list_stored()
        with pytest.raises(e.AriNotFound):
            await client.recordings.cancel_live("call-2")
    finally:
        await wire.close()
        await client.close()


async def test_a_file_request_that_gets_no_answer_is_a_connection_error() -> None:
    client = AriClient(AriConfig("http://127.0.0.1:9", "hotline", PASSWORD, "hotline"))
    await client.open()
    try:
        with pytest.raises(e.AriConnectionError):
            await client.recordings.get_stored_file("x", timeout=1)
    finally:
        await client.close()
