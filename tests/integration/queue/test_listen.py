"""A lead listens in on a live call from the web (``POST /api/listen``): the node that
runs the call rings the lead's phone and bridges it with a snoop of the caller's
channel; the conversation itself is never touched, whatever happens to the listening,
and the call still has exactly one complete record."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio
from flask import Flask

from simulator.callers import ScriptedCall
from simulator.model import SimChannel
from simulator.server import AriSimulator
from tests.integration.conftest import wait_for
from tests.integration.queue.conftest import QueueNode, QueueNodeFactory, catalog
from tests.integration.queue.test_queue_controls import bridge_of, connected
from tests.integration.webapp.conftest import Client, make_agent, settings_for
from ticketdb.audit import entries_for
from webapp import close_app, create_app
from webapp.db import resources

QUEUES = catalog(sales={})
LEAD_PHONE = "PJSIP/9001"


class Site:
    """A queue node and the web app over one database, a lead logged in."""

    def __init__(self, qn: QueueNode, app: Flask) -> None:
        self.qn, self.app, self.sim = qn, app, qn.sim
        make_agent(resources(app).sessions, "9001", role="lead")
        self.lead = Client(app, "9001")

    def listen(self, staff: str = "8001") -> int:
        answer = self.lead.post("/api/listen", {"staff_number": staff})
        assert answer.status_code == 202, answer.get_json()
        return int(answer.get_json()["control_id"])

    def control(self, control_id: int) -> dict[str, Any]:
        answer = self.lead.get(f"/api/calls/control/{control_id}")
        assert answer.status_code == 200
        return dict(answer.get_json())

    async def answered(self, control_id: int) -> dict[str, Any]:
        await wait_for(
            lambda: self.control(control_id)["status"] in ("done", "failed"), what="listen answer"
        )
        return self.control(control_id)

    def lead_legs(self) -> list[SimChannel]:
        return [c for c in self.sim.engine.channels_seen if c.endpoint == LEAD_PHONE]

    def snoops(self) -> list[SimChannel]:
        return [c for c in self.sim.engine.channels_seen if c.snoop_of is not None]


@pytest_asyncio.fixture
async def web(queue_node: QueueNodeFactory, db_url: str, tmp_path: Path) -> AsyncIterator[Site]:
    """Agent 8001 available, the lead's phone answering after 0.2 s."""
    qn = await queue_node(QUEUES)
    qn.add_agent("8001", answer_after=0.2)
    qn.sim.set_phone(LEAD_PHONE, answer_after=0.2)
    app = create_app(settings_for(db_url, tmp_path, secrets.token_hex(32)))
    app.config["TESTING"] = True
    yield Site(qn, app)
    close_app(app)


def one_complete_record(qn: QueueNode, call: ScriptedCall) -> list[dict[str, Any]]:
    """The call's only record, complete; its log (``legs``)."""
    records = qn.records()
    assert [r.channel_id for r in records] == [call.channel_id]  # no record for any leg
    (rec,) = records
    assert rec.is_complete and rec.end_reason == "answered" and rec.agent == "8001"
    return list(rec.legs)


async def test_a_lead_listens_until_the_caller_hangs_up(sim: AriSimulator, web: Site) -> None:
    call = await sim.place_call("6000", "+8613800000041")
    agent_leg = await connected(web.qn, sim, call, "8001")

    reply = await web.answered(web.listen())
    assert (reply["status"], reply["result"]) == ("done", "9001 is listening")
    (lead,) = web.lead_legs()
    (snoop,) = web.snoops()
    assert lead.state == "Up" and not lead.hungup
    assert (snoop.snoop_of, snoop.spy, snoop.whisper) == (call.channel_id, "both", "none")
    assert sorted(bridge_of(sim, lead.id)) == sorted([lead.id, snoop.id])
    listen_bridge = lead.bridge_id
    # The conversation is as it was: caller and agent together, nobody else.
    assert sorted(bridge_of(sim, call.channel_id)) == sorted([call.channel_id, agent_leg])
    assert lead.caller_name == "Listen 8001"
    with web.qn.session() as s:
        (audit,) = entries_for(s, "call", web.qn.record(call.channel_id).id)
        assert (audit.actor, audit.action) == ("9001", "listen")

    sim.engine.caller_hangup(call.channel)
    await wait_for(lambda: web.qn.complete(call.channel_id), what="the call's record")
    await wait_for(lambda: lead.hungup and snoop.hungup, what="the lead's leg and snoop gone")
    await wait_for(lambda: listen_bridge not in sim.engine.bridges, what="listen bridge gone")
    assert lead.hangup_by == "system"  # we hung the lead up; the snoop went by itself
    log = one_complete_record(web.qn, call)
    assert [(e["event"], e.get("lead")) for e in log if e["event"].startswith("listen")] == [
        ("listen", "9001"),
        ("listening", "9001"),
        ("listen_ended", "9001"),
    ]
    assert web.control(reply["id"])["status"] == "done"


async def test_the_call_goes_on_when_the_lead_hangs_up(sim: AriSimulator, web: Site) -> None:
    call = await sim.place_call("6000", "+8613800000042")
    agent_leg = await connected(web.qn, sim, call, "8001")
    assert (await web.answered(web.listen()))["status"] == "done"
    (lead,) = web.lead_legs()
    (snoop,) = web.snoops()
    sim.engine.hangup(lead, 16, by="far_end")
    await wait_for(lambda: snoop.hungup, what="the snoop let go")
    assert not call.channel.hungup
    assert sorted(bridge_of(sim, call.channel_id)) == sorted([call.channel_id, agent_leg])
    # Listening again is possible once the first one is over.
    assert (await web.answered(web.listen()))["status"] == "done"
    assert len(web.snoops()) == 2 and not web.snoops()[1].hungup
    sim.engine.caller_hangup(call.channel)
    await wait_for(lambda: web.qn.complete(call.channel_id), what="the call's record")
    await wait_for(lambda: all(c.hungup for c in web.lead_legs()), what="lead legs gone")
    log = one_complete_record(web.qn, call)
    ended = [e.get("reason") for e in log if e["event"] == "listen_ended"]
    assert ended == ["the lead hung up", "the call ended"]


async def test_a_lead_who_does_not_answer_leaves_the_call_alone(
    sim: AriSimulator, web: Site
) -> None:
    sim.set_phone(LEAD_PHONE, busy=True)
    call = await sim.place_call("6000", "+8613800000043")
    agent_leg = await connected(web.qn, sim, call, "8001")
    reply = await web.answered(web.listen())
    assert (reply["status"], reply["result"]) == ("failed", "failed: the lead's phone is busy")
    assert web.snoops() == []
    # A snoop Asterisk refuses: the lead's phone rang and is let go; the call goes on.
    sim.set_phone(LEAD_PHONE, answer_after=0.1)
    sim.fail_next(1, status=400, match=f"POST /ari/channels/{call.channel_id}/snoop")
    reply = await web.answered(web.listen())
    assert reply["status"] == "failed"
    assert reply["result"].startswith("failed: cannot listen to this call")
    await wait_for(lambda: all(c.hungup for c in web.lead_legs()), what="lead's leg hung up")
    assert not call.channel.hungup
    assert sorted(bridge_of(sim, call.channel_id)) == sorted([call.channel_id, agent_leg])
    assert web.qn.seat_state("8001") == "on_call"
    sim.engine.caller_hangup(call.channel)
    await wait_for(lambda: web.qn.complete(call.channel_id), what="the call's record")
    log = one_complete_record(web.qn, call)
    assert [e["event"] for e in log if e["event"].startswith("listen")] == [
        "listen",
        "listen_failed",
        "listen",
        "listen_failed",
    ]
