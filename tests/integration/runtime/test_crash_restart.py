"""The controller process is SIGKILLed mid-call and started again.

Asterisk (here the simulator) keeps the channel in our Stasis app while no controller
is connected; the restarted controller must find it, re-adopt it from the state saved
in its call record (or apologise and hang up), and complete that one record.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from simulator.server import AriSimulator
from tests.integration.child import ChildController
from tests.integration.conftest import wait_for
from ticketdb.engine import make_engine, make_sessionmaker
from ticketdb.migrate import upgrade
from ticketdb.models import Call

# The live menu of the child controller: one long-ish prompt, then a goodbye. Short
# timeouts keep the test quick; the length of the prompt leaves time to kill mid-call.
CRASH_MENU = """
menu: crash
languages: [zh, en]
start: main
defaults: {timeout: 1, max_tries: 1, after_max_tries: {hangup: true}}
nodes:
  main:
    prompt:
      zh: 您好，欢迎致电服务热线。本次通话可能会被录音，以便我们改进服务质量，请您耐心收听。
      en: Hello and welcome. This call may be recorded to help us improve our service.
    options:
      "1": {hangup: true}
"""


@pytest.fixture
def controller(
    sim: AriSimulator, db_url: str, prompts_dir: Path, built_prompts: Any, tmp_path: Path
) -> Iterator[ChildController]:
    upgrade(db_url)
    menus_dir = tmp_path / "menus"
    menus_dir.mkdir()
    (menus_dir / "crash.yaml").write_text(CRASH_MENU)
    c = ChildController(
        sim,
        db_url,
        prompts_dir,
        tmp_path / "controller.log",
        "crash-node",
        HOTLINE_PATHS_MENUS_DIR=str(menus_dir),
        HOTLINE_IVR_MENU="crash",
    )
    yield c
    c.stop()
    print(c.tail(4000))


def read_records(db_url: str) -> list[Call]:
    engine = make_engine(db_url)
    try:
        with make_sessionmaker(engine)() as s:
            return list(s.scalars(select(Call)))
    finally:
        engine.dispose()


async def test_killed_mid_call_then_restarted_the_call_is_readopted(
    sim: AriSimulator, controller: ChildController, db_url: str
) -> None:
    controller.start()
    await wait_for(lambda: "hotline" in sim.connected_apps, timeout=30, what="controller up")
    call = await sim.place_call("6000", "+8613800000001", "Zhang Wei", script="wait for prompt")
    await wait_for(lambda: bool(call.heard), what="greeting starts")

    def in_menu() -> bool:
        recs = read_records(db_url)
        return len(recs) == 1 and (recs[0].state or {}).get("phase") == "in_service"

    await wait_for(in_menu, what="the call's menu state saved")
    controller.kill()
    await wait_for(lambda: "hotline" not in sim.connected_apps, what="app gone with the process")
    assert call.channel.id in sim.engine.channels  # the caller is still there, in Stasis
    controller.start()
    await call.ended(40)
    # Re-adopted: the restarted controller resumed the menu where the caller was (its
    # prompt again), then finished the call itself with the menu's goodbye.
    assert call.hangup_by == "system"
    heard = [h.media for h in call.heard]
    main_prompt = heard[0]
    assert main_prompt.startswith("sound:custom/tts/")
    assert heard.count(main_prompt) == 2
    assert heard[-1] == "sound:custom/goodbye"
    await wait_for(
        lambda: all(r.is_complete for r in read_records(db_url)), timeout=10, what="complete"
    )
    (rec,) = read_records(db_url)
    assert rec.channel_id == call.channel_id
    assert rec.caller_number == "+8613800000001"
    assert rec.answered_at is not None
    assert rec.hangup_side == "system"
    assert rec.end_reason == "menu_hangup"
    assert "resumed" in [e["event"] for e in rec.menu_path]


async def test_caller_hangs_up_while_the_controller_is_dead(
    sim: AriSimulator, controller: ChildController, db_url: str
) -> None:
    controller.start()
    await wait_for(lambda: "hotline" in sim.connected_apps, timeout=30, what="controller up")
    call = await sim.place_call("6000", "+8613800000002", script="wait for prompt")
    await wait_for(lambda: bool(call.heard), what="greeting starts")
    await wait_for(lambda: len(read_records(db_url)) == 1, what="record written")
    controller.kill()
    sim.engine.caller_hangup(call.channel)
    assert not read_records(db_url)[0].is_complete
    controller.start()
    await wait_for(
        lambda: read_records(db_url)[0].is_complete, timeout=30, what="record completed on restart"
    )
    (rec,) = read_records(db_url)
    assert rec.end_reason == "ended_unobserved"
    assert rec.ended_at is not None


async def test_restarted_without_the_calls_state_apologises_and_hangs_up(
    sim: AriSimulator, controller: ChildController, db_url: str
) -> None:
    controller.start()
    await wait_for(lambda: "hotline" in sim.connected_apps, timeout=30, what="controller up")
    call = await sim.place_call("6000", "+8613800000003", script="wait for prompt")
    await wait_for(lambda: bool(call.heard), what="greeting starts")
    await wait_for(lambda: len(read_records(db_url)) == 1, what="record written")
    controller.kill()
    # The saved state is gone (e.g. a crash before it was written): the restarted
    # controller cannot know where the caller was, so it must not guess.
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(Call.__table__.update().values(state=None))
    engine.dispose()
    controller.start()
    await call.ended(40)
    assert call.hangup_by == "system"
    assert [h.media for h in call.heard][-1] == "sound:custom/apology_technical"
    assert call.heard[-1].completed  # the apology was heard to the end, then the hang-up
    await wait_for(
        lambda: (rows := read_records(db_url)) != [] and rows[0].is_complete,
        timeout=30,
        what="record completed",
    )
    (rec,) = read_records(db_url)
    assert (rec.hangup_side, rec.end_reason) == ("system", "state_lost")
