"""A call end to end over real sockets: simulator ⇄ controller node ⇄ database."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from hotline.node import ControllerNode
from simulator.server import AriSimulator
from tests.integration.conftest import NodeFactory, wait_for
from ticketdb.models import Call


def records(node: ControllerNode) -> list[Call]:
    from ticketdb.engine import make_sessionmaker

    with make_sessionmaker(node.engine)() as s:
        return list(s.scalars(select(Call).order_by(Call.id)))


def record_count(node: ControllerNode) -> int:
    from ticketdb.engine import make_sessionmaker

    with make_sessionmaker(node.engine)() as s:
        return int(s.scalar(select(func.count()).select_from(Call)) or 0)


async def settle(node: ControllerNode) -> None:
    assert node.writer is not None
    await node.writer.drain(10)


async def test_caller_hangs_up_during_greeting_logged_once(
    sim: AriSimulator, start_node: NodeFactory
) -> None:
    node = await start_node()
    call = await sim.place_call(
        "6000", "+8613800000001", "Zhang Wei", script="wait for prompt; wait 0.4; hang up"
    )
    await call.ended(15)
    await wait_for(
        lambda: bool(records(node)) and records(node)[0].is_complete, what="complete record"
    )
    await settle(node)
    (rec,) = records(node)
    assert rec.channel_id == call.channel_id
    assert (rec.caller_number, rec.caller_name, rec.dialled_number) == (
        "+8613800000001",
        "Zhang Wei",
        "6000",
    )
    assert rec.answered_at is not None and rec.ended_at is not None
    assert rec.started_at <= rec.answered_at <= rec.ended_at
    # The caller listened ~0.4 s of the greeting before hanging up.
    assert timedelta(seconds=0.3) < rec.ended_at - rec.answered_at < timedelta(seconds=5)
    assert (rec.hangup_cause, rec.hangup_side, rec.end_reason) == (16, "caller", "caller_hangup")
    assert rec.menu_path == []
    assert [h.media for h in call.heard] == ["sound:custom/greeting"]
    assert call.hangup_by == "caller"


async def test_caller_listens_to_the_greeting_then_the_system_hangs_up(
    sim: AriSimulator, start_node: NodeFactory
) -> None:
    node = await start_node()
    call = await sim.place_call("6000", "+8613900000002", "Li Na", script="wait for prompt")
    await call.ended(20)
    assert call.answered
    assert call.hangup_by == "system"
    assert [(h.media, h.completed) for h in call.heard] == [("sound:custom/greeting", True)]
    await wait_for(lambda: record_count(node) == 1 and records(node)[0].is_complete, what="record")
    (rec,) = records(node)
    assert (rec.hangup_side, rec.end_reason) == ("system", "completed")
    assert rec.hangup_cause == 16
    assert rec.ended_at is not None and rec.answered_at is not None
    greeting = call.heard[0]
    assert greeting.ended_at is not None
    # The record's answer-to-end span covers the whole greeting as the caller heard it.
    assert (rec.ended_at - rec.answered_at).total_seconds() >= (
        greeting.ended_at - greeting.started_at
    ) - 0.05


async def test_many_concurrent_calls_each_logged_exactly_once(
    sim: AriSimulator, start_node: NodeFactory
) -> None:
    node = await start_node()
    calls = [
        await sim.place_call(
            "6000", f"+86138000001{i:02d}", script="wait for prompt; wait 0.3; hang up"
        )
        for i in range(20)
    ]
    for call in calls:
        await call.ended(20)
    await wait_for(
        lambda: record_count(node) == 20 and all(r.is_complete for r in records(node)),
        what="20 complete records",
    )
    assert {r.channel_id for r in records(node)} == {c.channel_id for c in calls}
