"""Who gets which call: priorities, strategies, skills and wrap-up, with real calls waiting.

Callers wait first (the only agent is away); then agents come back and the order in
which the calls are offered is read from the call records' legs.
"""

from __future__ import annotations

import pytest

from agents.shift_file import load_shifts
from simulator.callers import ScriptedCall
from simulator.server import AriSimulator
from tests.integration.conftest import wait_for
from tests.integration.queue.conftest import QueueNode, QueueNodeFactory, catalog
from tests.integration.queue.test_queue_calls import away, back
from ticketdb import customers


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    return sqlite_url


def offered_to(qn: QueueNode, call: ScriptedCall) -> list[str]:
    recs = [r for r in qn.records() if r.channel_id == call.channel_id]
    if not recs:
        return []
    return [str(e["agent"]) for e in recs[0].legs if e["event"] == "offer"]


def answered_at(qn: QueueNode, call: ScriptedCall) -> str:
    rec = qn.record(call.channel_id)
    return next(str(e["t"]) for e in rec.legs if e["event"] == "answered")


async def queued(qn: QueueNode, n: int) -> None:
    await wait_for(
        lambda: sum(e.status == "waiting" for e in qn.entries()) == n, what=f"{n} waiting"
    )


async def test_vip_then_member_then_general_then_arrival(
    sim: AriSimulator, queue_node: QueueNodeFactory
) -> None:
    qn = await queue_node()
    with qn.session() as s:
        customers.upsert_customer(s, phone="+8613900000001", name="V", tier="vip")
        customers.upsert_customer(s, phone="+8613900000002", name="M", tier="member")
    qn.add_agent("8001", answer_after=0.1, hangup_after=0.3, login=False)
    away(qn, "8001")
    general1 = await sim.place_call("6000", "+8613800000031")
    await queued(qn, 1)
    member = await sim.place_call("6000", "+8613900000002")
    await queued(qn, 2)
    general2 = await sim.place_call("6000", "+8613800000032")
    await queued(qn, 3)
    vip = await sim.place_call("6000", "+8613900000001")
    await queued(qn, 4)
    back(qn, "8001")
    order = [vip, member, general1, general2]
    for call in order:
        await wait_for(lambda c=call: qn.complete(c.channel_id), timeout=20, what="served")
    times = [answered_at(qn, c) for c in order]
    assert times == sorted(times)
    assert [qn.record(c.channel_id).customer_tier for c in order[:2]] == ["vip", "member"]


async def test_longest_idle_agent_gets_the_call_and_skills_are_required(
    sim: AriSimulator, queue_node: QueueNodeFactory
) -> None:
    qn = await queue_node(catalog(sales={}, billing={"skills": {"billing"}}))
    qn.add_agent("8001", answer_after=0.1, hangup_after=0.3)  # idle the longest
    qn.add_agent("8002", answer_after=0.1, hangup_after=0.3)
    call = await sim.place_call("6000", "+8613800000041")
    await wait_for(lambda: qn.complete(call.channel_id), what="served")
    assert offered_to(qn, call) == ["8001"]


async def test_skill_is_required(sim: AriSimulator, queue_node: QueueNodeFactory) -> None:
    qn = await queue_node(
        catalog(sales={}, billing={"skills": {"billing"}}), request={"queue": "billing"}
    )
    qn.add_agent("8001", answer_after=0.1, hangup_after=0.3)  # general only: never offered
    qn.add_agent("8002", skills={"billing": 1}, answer_after=0.1, hangup_after=0.3, login=False)
    away(qn, "8002")
    call = await sim.place_call("6000", "+8613800000042")
    await queued(qn, 1)
    back(qn, "8002")
    await wait_for(lambda: qn.complete(call.channel_id), what="served")
    assert offered_to(qn, call) == ["8002"]


async def test_round_robin_takes_turns(sim: AriSimulator, queue_node: QueueNodeFactory) -> None:
    qn = await queue_node(
        catalog(sales={"strategy": "round_robin", "wrap_up_seconds": 0}),
    )
    for staff in ("8001", "8002", "8003"):
        qn.add_agent(staff, answer_after=0.1, hangup_after=0.2)
    served: list[str] = []
    for n in range(6):
        call = await sim.place_call("6000", f"+86138000001{n:02d}")
        await wait_for(lambda c=call: qn.complete(c.channel_id), what="served")
        served += offered_to(qn, call)
        await wait_for(
            lambda: all(qn.seat_state(a) == "available" for a in ("8001", "8002", "8003")),
            what="all free",
        )
    assert served[:3] == ["8001", "8002", "8003"]
    assert served[3:] == served[:3]


async def test_wrap_up_is_respected(sim: AriSimulator, queue_node: QueueNodeFactory) -> None:
    qn = await queue_node(catalog(sales={"wrap_up_seconds": 3}))
    qn.add_agent("8001", answer_after=0.1, hangup_after=0.3)
    first = await sim.place_call("6000", "+8613800000051")
    await wait_for(lambda: qn.seat_state("8001") == "wrap_up", what="wrap-up")
    second = await sim.place_call("6000", "+8613800000052")
    await wait_for(lambda: qn.complete(second.channel_id), timeout=15, what="second served")
    # The second caller was offered the agent only after the 3 s of wrap-up.
    history = qn.history("8001")
    wrap = next(h for h in history if h.to_state == "wrap_up")
    rings = [h.at for h in history if h.to_state == "ringing"]
    assert len(rings) == 2
    assert (rings[1] - wrap.at).total_seconds() >= 2.9
    assert qn.complete(first.channel_id)


async def test_only_agents_on_shift_are_offered_calls(
    sim: AriSimulator, queue_node: QueueNodeFactory, tmp_path: object
) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "shifts.yaml"
    path.write_text(
        "timezone: UTC\n"
        "teams: {day: {}, night: {}}\n"
        "shifts:\n"
        "  always: {teams: [day], days: mon-sun, periods: [{at: '00:00-24:00', kind: on_post}]}\n"
        "rules: {min_normal_on_duty_open: 0, min_normal_on_duty_outside: 0}\n"
    )
    shifts = load_shifts(path)
    qn = await queue_node(shifts=shifts)
    qn.add_agent("8001", answer_after=0.1, hangup_after=0.3, team="night")  # off shift
    qn.add_agent("8002", answer_after=0.1, hangup_after=0.3, team="day", login=False)
    away(qn, "8002")
    call = await sim.place_call("6000", "+8613800000061")
    await queued(qn, 1)
    back(qn, "8002")
    await wait_for(lambda: qn.complete(call.channel_id), what="served")
    assert offered_to(qn, call) == ["8002"]


async def test_external_callers_before_internal_ones(
    sim: AriSimulator, queue_node: QueueNodeFactory
) -> None:
    qn = await queue_node()
    qn.add_agent("8001", answer_after=0.1, hangup_after=0.3, login=False)
    away(qn, "8001")
    internal = await sim.place_call("6000", "8101")  # an extension of the organisation
    await queued(qn, 1)
    external = await sim.place_call("6000", "+8613800000091")
    await queued(qn, 2)
    flags = {e.channel_id: e.external for e in qn.entries()}
    assert flags == {internal.channel_id: False, external.channel_id: True}
    back(qn, "8001")
    for call in (external, internal):
        await wait_for(lambda c=call: qn.complete(c.channel_id), timeout=20, what="served")
    assert answered_at(qn, external) < answered_at(qn, internal)
