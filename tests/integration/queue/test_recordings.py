"""Recorded queue calls end to end: the simulator records the bridge, the controller
fetches the WAV into the calls directory and records it; a disk that is full or not
writable, or Asterisk refusing to record, costs the recording and never the call. A queue
callback of a recording queue is recorded the same way, linked to its own call record."""

from __future__ import annotations

import os
import wave
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest_asyncio
from sqlalchemy import select

from agents import lead_store, seat_store
from hotline.node import ControllerNode
from ivr.queue.direct import DirectToQueue
from kernel.clock import utcnow
from kernel.settings import Settings
from simulator.server import AriSimulator
from tests.integration.conftest import make_settings, wait_for
from tests.integration.queue.conftest import QueueNode, catalog
from ticketdb.models import Call, Recording

RecordingNodeFactory = Callable[..., Awaitable[QueueNode]]
TALK = 1.5  # the agent hangs up this long after answering


@pytest_asyncio.fixture
async def recording_node(
    db_url: str, prompts_dir: Path, built_prompts: Any, sim: AriSimulator
) -> AsyncIterator[RecordingNodeFactory]:
    """A queue node whose one queue ("sales") records, storing under ``calls_dir``."""
    nodes: list[ControllerNode] = []

    async def start(calls_dir: Path, **acd: Any) -> QueueNode:
        data = make_settings(db_url, prompts_dir, sim.base_url).model_dump()
        data["acd"].update(poll_interval=0.1, heartbeat_interval=0.2, **acd)
        data["paths"]["calls_dir"] = str(calls_dir)
        settings = Settings.model_validate(data)
        node = ControllerNode(
            settings,
            built_prompts,
            service_factory=lambda: DirectToQueue({"queue": "sales"}),
            queues=catalog(sales={"record": True}),
        )
        await node.start()
        nodes.append(node)
        await node.wait_connected()
        return QueueNode(node, sim)

    yield start
    for node in nodes:
        await node.stop()


def recordings(qn: QueueNode) -> list[Recording]:
    with qn.session() as s:
        return list(s.scalars(select(Recording).order_by(Recording.id)))


def settled(qn: QueueNode) -> bool:
    rows = recordings(qn)
    return bool(rows) and all(r.status in ("stored", "failed") for r in rows)


def leg_time(call: Call, event: str) -> datetime:
    (t,) = [leg["t"] for leg in call.legs if leg["event"] == event]
    return datetime.fromisoformat(t)


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        return w.getnframes() / w.getframerate()


async def answered_call(sim: AriSimulator, qn: QueueNode, number: str) -> str:
    qn.add_agent("8001", answer_after=0.3, hangup_after=TALK)
    call = await sim.place_call("6000", number, script="wait for answer")
    return call.channel_id


def spool(sim: AriSimulator, channel_id: str) -> Path:
    return sim.engine.recordings_dir / f"call-{channel_id}.wav"


async def test_an_answered_call_is_recorded_to_the_calls_directory(
    sim: AriSimulator, recording_node: RecordingNodeFactory, tmp_path: Path
) -> None:
    calls_dir = tmp_path / "calls"
    qn = await recording_node(calls_dir)
    cid = await answered_call(sim, qn, "+8613800000001")
    await wait_for(lambda: qn.complete(cid), what="complete record")
    await wait_for(lambda: settled(qn), what="recording stored")
    (record,) = qn.records()  # exactly one record, and complete
    assert record.is_complete and record.end_reason == "completed" and record.agent == "8001"
    (row,) = recordings(qn)
    assert (row.status, row.error, row.call_id) == ("stored", None, record.id)
    day = record.started_at.astimezone(UTC)
    expected = f"{day:%Y}/{day:%m}/{day:%d}/{cid}.wav"
    assert row.path == expected and record.recording_path == expected
    path = calls_dir / expected
    assert path.is_file() and row.size_bytes == path.stat().st_size
    # As long as caller and agent were bridged: answer → the agent's hang-up.
    bridged = (leg_time(record, "agent_hangup") - leg_time(record, "answered")).total_seconds()
    seconds = wav_seconds(path)
    assert abs(seconds - bridged) < 0.3, (seconds, bridged)
    # The whole conversation is on it; longer by however late a busy controller noticed
    # the agent's hang-up (the bridge, and so the recording, lasts until then).
    assert seconds >= TALK - 0.3, seconds
    assert row.duration_seconds is not None and abs(row.duration_seconds - seconds) < 0.01
    # Ours is kept; Asterisk's copy is deleted so its spool does not fill up.
    await wait_for(lambda: not spool(sim, cid).exists(), what="Asterisk's copy deleted")
    assert [e["event"] for e in record.legs][:4] == ["queue", "offer", "answered", "recording"]


async def test_an_unwritable_calls_directory_costs_the_recording_not_the_call(
    sim: AriSimulator, recording_node: RecordingNodeFactory, tmp_path: Path
) -> None:
    calls_dir = tmp_path / "calls"
    calls_dir.write_text("a file where the directory should be")
    qn = await recording_node(calls_dir)
    cid = await answered_call(sim, qn, "+8613800000002")
    await wait_for(lambda: qn.complete(cid), what="complete record")
    await wait_for(lambda: settled(qn), what="recording settled")
    (record,) = qn.records()
    assert (record.end_reason, record.agent, record.recording_path) == ("completed", "8001", None)
    (row,) = recordings(qn)
    assert row.status == "failed" and row.path is None
    assert row.error is not None and "cannot write" in row.error and str(calls_dir) in row.error
    assert spool(sim, cid).is_file()  # kept in Asterisk, for someone to rescue
    await wait_for(lambda: _alerts(qn) == ["recording_failed"], what="the lead's alert")


async def test_a_full_disk_costs_the_recording_not_the_call(
    sim: AriSimulator, recording_node: RecordingNodeFactory, tmp_path: Path
) -> None:
    calls_dir = tmp_path / "calls"
    qn = await recording_node(calls_dir)
    cid = await answered_call(sim, qn, "+8613800000003")
    await wait_for(lambda: any(r.channel_id == cid for r in qn.records()), what="call record")
    day = qn.record(cid).started_at.astimezone(UTC)
    folder = calls_dir / f"{day:%Y}" / f"{day:%m}" / f"{day:%d}"
    folder.mkdir(parents=True)
    # The file is written as <id>.wav.part first: make that the always-full device, so
    # the kernel itself answers ENOSPC.
    os.symlink("/dev/full", folder / f"{cid}.wav.part")
    await wait_for(lambda: qn.complete(cid), what="complete record")
    await wait_for(lambda: settled(qn), what="recording settled")
    record = qn.record(cid)
    assert (record.end_reason, record.agent, record.recording_path) == ("completed", "8001", None)
    (row,) = recordings(qn)
    assert row.status == "failed"
    assert row.error is not None and "ENOSPC" in row.error
    assert list(folder.iterdir()) == []  # nothing half-written left behind
    assert spool(sim, cid).is_file()


async def test_asterisk_refusing_to_record_leaves_the_call_alone(
    sim: AriSimulator, recording_node: RecordingNodeFactory, tmp_path: Path
) -> None:
    qn = await recording_node(tmp_path / "calls")
    cid = await answered_call(sim, qn, "+8613800000004")
    sim.fail_next(1, 409, match=f"POST /ari/bridges/{cid}~b/record")
    await wait_for(lambda: qn.complete(cid), what="complete record")
    await wait_for(lambda: settled(qn), what="recording settled")
    record = qn.record(cid)
    assert (record.end_reason, record.agent) == ("completed", "8001")
    assert "recording_failed" in [e["event"] for e in record.legs]
    (row,) = recordings(qn)
    assert row.status == "failed"
    assert row.error is not None and row.error.startswith("could not start recording")
    assert not (tmp_path / "calls").exists()


async def test_a_queue_callback_of_a_recording_queue_is_recorded_with_its_own_record(
    sim: AriSimulator, recording_node: RecordingNodeFactory, tmp_path: Path
) -> None:
    calls_dir = tmp_path / "calls"
    qn = await recording_node(calls_dir, callback_endpoint="PJSIP/{number}@trunk")
    qn.add_agent("8001", answer_after=0.2, login=False)
    _set_seat(qn, "8001", "away")  # nobody free: the caller books a callback
    number = "+8613800000021"
    sim.set_phone(f"PJSIP/{number}@trunk", answer_after=0.3, hangup_after=TALK)
    call = await sim.place_call("6000", number)
    await wait_for(lambda: len(qn.entries()) == 1, what="queued")
    sim.engine.caller_dtmf(call.channel, "1")  # "call me back"
    confirm = "sound:custom/queue_callback_confirm"
    await wait_for(lambda: confirm in [h.media for h in call.heard], timeout=30, what="confirm")
    sim.engine.caller_dtmf(call.channel, "1")
    await wait_for(lambda: qn.complete(call.channel_id), what="original record")
    assert recordings(qn) == []  # the booking call never reached an agent
    _set_seat(qn, "8001", "available")  # rung first, then the customer
    await wait_for(
        lambda: any(r.is_complete for r in qn.records() if r.channel_id.startswith("cb")),
        what="the callback's record",
    )
    await wait_for(lambda: settled(qn), what="recording stored")
    (record,) = [r for r in qn.records() if r.channel_id.startswith("cb")]
    assert record.end_reason == "callback_answered" and record.callback_id is not None
    (row,) = recordings(qn)
    assert (row.status, row.error, row.call_id) == ("stored", None, record.id)
    assert row.name == f"call-{record.channel_id}"
    day = record.started_at.astimezone(UTC)
    expected = f"{day:%Y}/{day:%m}/{day:%d}/{record.channel_id}.wav"
    assert row.path == expected and record.recording_path == expected
    path = calls_dir / expected
    assert path.is_file() and row.size_bytes == path.stat().st_size
    # The conversation only: from the customer answering to hanging up (not the agent's
    # ringing, nor the customer's); longer only by how late a busy controller noticed.
    assert TALK - 0.3 <= wav_seconds(path) < TALK + 5
    await wait_for(
        lambda: not spool(sim, record.channel_id).exists(), what="Asterisk's copy deleted"
    )


def _set_seat(qn: QueueNode, staff: str, state: str) -> None:
    """Log ``staff`` in (if offline) and put them ``available`` or ``away``."""
    with qn.session() as s:
        agent = seat_store.agent_by_staff_number(s, staff)
        assert agent is not None
        if seat_store.get_seat(s, agent.id).state == "offline":
            seat_store.set_state(s, agent_id=agent.id, to_state="available", by=staff, now=utcnow())
        if state == "away":
            seat_store.set_state(
                s, agent_id=agent.id, to_state="away", reason="break", by=staff, now=utcnow()
            )
        else:
            seat_store.set_state(s, agent_id=agent.id, to_state=state, by=staff, now=utcnow())


def _alerts(qn: QueueNode) -> list[str]:
    with qn.session() as s:
        return [a.kind for a in lead_store.open_alerts(s)]
