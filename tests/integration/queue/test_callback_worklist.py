"""Worklist dials through the real queue engine and the ARI simulator: the agent who
clicked is rung first, then the customer with the configured caller ID, the two are
bridged and the call is recorded once; quiet hours are never dialled (the engine's clock
is injected and moved on by the test)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from sqlalchemy import select

from agents import queue_store as entries
from agents import seat_store
from callbacks import worklist
from callbacks.plan import CallbackRules
from callbacks.requests import request_callback
from hotline.node import ControllerNode
from ivr.queue.direct import DirectToQueue
from kernel.calendar import load_calendars
from simulator.server import AriSimulator
from tests.integration.conftest import make_settings, wait_for
from tests.integration.queue.conftest import QueueNode, catalog
from ticketdb.models import Call, CallbackRequest

SH = ZoneInfo("Asia/Shanghai")
QUIET = ("12:00-13:30", "21:00-08:00")
CALLER_ID = "4008001234"
CALENDAR = """\
timezone: Asia/Shanghai
calendars:
  default:
    weekly:
      mon: ["09:30-11:30", "13:00-17:00"]
"""
# A day ahead of the real one: the engine's clock never runs behind Asterisk's.
DAY = (datetime.now(SH) + timedelta(days=2)).date()


def local(hour: int, minute: int) -> datetime:
    return datetime.combine(DAY, time(hour, minute), SH)


class MovableClock:
    """Real time, shifted: runs on like the real clock from wherever the test sets it."""

    def __init__(self, at: datetime) -> None:
        self.set(at)

    def set(self, at: datetime) -> None:
        self.offset = at - datetime.now(UTC)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    return sqlite_url


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(local(10, 0))


@pytest_asyncio.fixture
async def qn(
    db_url: str,
    prompts_dir: Path,
    built_prompts: Any,
    sim: AriSimulator,
    tmp_path: Path,
    clock: MovableClock,
) -> AsyncIterator[QueueNode]:
    base = make_settings(db_url, prompts_dir, sim.base_url)
    settings = base.model_validate(
        {
            **base.model_dump(),
            "acd": {"poll_interval": 0.1, "heartbeat_interval": 0.2},
            "callbacks": {"quiet_hours": list(QUIET), "caller_id": CALLER_ID},
            # No timed jobs: the test gives out the items itself.
            "scheduler": {"enabled": False},
        }
    )
    path = tmp_path / "calendar.yaml"
    path.write_text(CALENDAR, encoding="utf-8")
    node = ControllerNode(
        settings,
        built_prompts,
        service_factory=lambda: DirectToQueue({"queue": "sales"}),
        clock=clock,
        calendars=load_calendars(path),
        # Worklist dials use the "worklist" queue's timings when the site defines one.
        queues=catalog(sales={}, worklist={}),
        caller_tiers=True,
    )
    await node.start()
    await node.wait_connected()
    yield QueueNode(node, sim)
    await node.stop()


def rules() -> CallbackRules:
    return CallbackRules(QUIET, SH, max_attempts=3, caller_id=CALLER_ID)


def new_item(qn: QueueNode, number: str, at: datetime) -> int:
    """An IVR callback request on the worklist (as the menu makes them)."""
    with qn.session() as s:
        request_callback(
            s,
            node="test-node",
            channel_id=f"ivr-{number}",
            number=number,
            requested_at=at,
            source="ivr",
            language="zh",
        )
        (request,) = s.scalars(select(CallbackRequest).where(CallbackRequest.number == number))
        return request.id


def agent_id(qn: QueueNode, staff: str) -> int:
    with qn.session() as s:
        found = seat_store.agent_by_staff_number(s, staff)
        assert found is not None
        return found.id


def request(qn: QueueNode, request_id: int) -> CallbackRequest:
    with qn.session() as s:
        found = s.get(CallbackRequest, request_id)
        assert found is not None
        return found


def outbound(qn: QueueNode, request_id: int) -> list[Call]:
    return [r for r in qn.records() if r.callback_id == request_id]


def legs(sim: AriSimulator) -> list[Any]:
    return sorted((c for c in sim.engine.channels_seen if "~" in c.id), key=lambda c: c.created)


def bridged_together(sim: AriSimulator, a: str, b: str) -> bool:
    return any({a, b} <= set(br.channels) for br in sim.engine.bridges.values())


async def test_a_worklist_dial_rings_that_agent_then_the_customer_with_the_caller_id(
    sim: AriSimulator, qn: QueueNode, clock: MovableClock
) -> None:
    qn.add_agent("8002")  # free first: the distributor's pick, but this dial is not its
    qn.add_agent("8001", answer_after=0.2)
    number = "+8613800000021"
    customer = f"PJSIP/{number}@trunk"
    # Talks long enough for a busy machine's polling to see the two bridged.
    sim.set_phone(customer, answer_after=0.3, hangup_after=3.0)
    item = new_item(qn, number, clock())
    me = agent_id(qn, "8001")
    with qn.session() as s:
        worklist.request_dial(s, item, me, clock(), rules())

    await wait_for(lambda: len(legs(sim)) >= 2, what="both legs dialled")
    agent_leg, customer_leg = legs(sim)[:2]
    assert (agent_leg.endpoint, customer_leg.endpoint) == ("PJSIP/8001", customer)
    assert customer_leg.caller_number == CALLER_ID
    await wait_for(
        lambda: bridged_together(sim, agent_leg.id, customer_leg.id), what="agent and customer"
    )
    await wait_for(lambda: any(r.is_complete for r in outbound(qn, item)), what="record")
    (rec,) = outbound(qn, item)  # one call record, linked to the item
    assert (rec.caller_number, rec.agent, rec.end_reason) == (number, "8001", "callback_answered")
    assert rec.agent_answered_at is not None
    assert not any(c.endpoint == "PJSIP/8002" for c in sim.engine.channels_seen)
    # Answered: the item waits for the agent's report of how it went.
    answered = request(qn, item)
    assert (answered.status, answered.attempts, answered.outcome) == ("open", 0, "answered")
    assert [h["outcome"] for h in answered.history] == ["answered"]
    assert qn.entries() == []
    with qn.session() as s:
        worklist.record_attempt(
            s, item, "reached", "8001", clock(), rules=rules(), satisfaction="satisfied"
        )
    assert request(qn, item).status == "completed"


async def test_quiet_hours_are_never_dialled_then_the_dials_go_out(
    sim: AriSimulator, qn: QueueNode, clock: MovableClock
) -> None:
    qn.add_agent("8001", answer_after=0.2)
    qn.add_agent("8002", answer_after=0.2)
    clock.set(local(12, 10))  # lunch: quiet
    # The agent clicked at 11:59, just before quiet hours; the pass comes after noon.
    worklist_number, queue_number = "+8613800000031", "+8613800000032"
    for number in (worklist_number, queue_number):
        sim.set_phone(f"PJSIP/{number}@trunk", answer_after=0.2, hangup_after=0.5)
    item = new_item(qn, worklist_number, local(11, 0))
    with qn.session() as s:
        worklist.request_dial(s, item, agent_id(qn, "8001"), local(11, 59), rules())
        # And a queue callback whose turn comes during quiet hours.
        queued = entries.book_callback(
            s,
            node="test-node",
            channel_id="gone-caller",
            number=queue_number,
            language="zh",
            now=local(11, 50),
            queue="sales",
        )
    acd = qn.node.acd
    assert acd is not None
    passes = acd.stats.passes
    await wait_for(lambda: acd.stats.passes >= passes + 15, what="fifteen passes")
    assert legs(sim) == []  # nobody was dialled
    assert sorted(e.status for e in qn.entries()) == ["callback", "callback"]
    assert [qn.seat_state(a) for a in ("8001", "8002")] == ["available", "available"]

    clock.set(local(13, 31))
    await wait_for(
        lambda: all(request(qn, r).outcome == "answered" for r in (item, queued)),
        timeout=15,
        what="both callbacks answered after quiet hours",
    )
    dialled = {c.endpoint for c in legs(sim)}
    assert {f"PJSIP/{worklist_number}@trunk", f"PJSIP/{queue_number}@trunk"} <= dialled
    # The worklist dial went to the agent who asked for it; one record each.
    await wait_for(
        lambda: all(r.is_complete for r in outbound(qn, item) + outbound(qn, queued)),
        what="complete records",
    )
    assert [r.agent for r in outbound(qn, item)] == ["8001"]
    assert len(outbound(qn, queued)) == 1
