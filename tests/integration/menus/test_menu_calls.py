"""Callers navigate menus over real sockets: simulator ⇄ controller ⇄ database."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from simulator.server import AriSimulator
from tests.integration.conftest import wait_for
from tests.integration.menus.conftest import REPO, SATURDAY_10, MenuFactory, MenuNode

FAST = (Path(__file__).parent / "fast.yaml").read_text()


def events(rec) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    return [
        (e["event"], e.get("node", ""), str(e.get("key", e.get("to", "")))) for e in rec.menu_path
    ]


async def finished(node: MenuNode, call) -> object:  # type: ignore[no-untyped-def]
    await call.ended(60)
    await wait_for(lambda: node.has_complete_record(call.channel_id), what="complete record")
    return node.record(call.channel_id)


async def test_type_ahead_and_barge_in_reach_the_third_level(
    sim: AriSimulator, menu_node: MenuFactory
) -> None:
    node = await menu_node(FAST)
    # Choose Chinese at once, then "1" and "5" typed fast while the main menu speaks.
    call = await sim.place_call(
        "6000", "+8613800000001", script="wait for prompt; press 1; wait for prompt; press 115"
    )
    rec = await finished(node, call)
    assert rec.queue == "orders"
    ev = events(rec)
    assert ("enter", "order", "") in ev and ("enter", "milk", "") in ev
    assert ("exit", "milk", "queue") in ev
    # Barge-in: the simulator saw the main menu's prompt cut short by the key.
    main_prompt = call.heard[1]
    assert not main_prompt.completed
    assert main_prompt.ended_at is not None
    assert main_prompt.ended_at - main_prompt.started_at < 1.0
    # The last things heard: "please hold" then, with no queue engine yet, the apology.
    assert [h.media for h in call.heard[-2:]] == [
        "sound:custom/connecting",
        "sound:custom/agents_unavailable",
    ]
    assert rec.end_reason == "queue"


async def test_timeouts_then_invalid_then_a_person(
    sim: AriSimulator, menu_node: MenuFactory
) -> None:
    node = await menu_node(FAST)
    call = await sim.place_call(
        "6000",
        "+8613800000002",
        script="wait for prompt; press 1; wait for prompt; press 7; wait for prompt; "
        "wait for silence; wait 1.5; wait for prompt; hang up",
    )
    rec = await finished(node, call)
    ev = events(rec)
    assert ("timeout", "main", "") in ev
    assert ("invalid", "main", "7") in ev
    assert ("max_tries", "main", "") in ev
    assert rec.queue == "operator"  # open hours: the operator queue
    heard = [h.media for h in call.heard]
    assert "sound:custom/invalid_choice" in heard  # the first mistake is explained
    stamps = [e["t"] for e in rec.menu_path]
    assert stamps == sorted(stamps)


async def test_back_and_repeat_and_language_choice(
    sim: AriSimulator, menu_node: MenuFactory
) -> None:
    node = await menu_node(FAST)
    call = await sim.place_call(
        "6000",
        "+8613800000003",
        script="wait for prompt; wait for silence; press 2; wait for prompt; press 1; "
        "wait for prompt; press 9; "
        "wait for prompt; press *; wait for prompt; press 0",
    )
    rec = await finished(node, call)
    ev = [e[:2] for e in events(rec)]
    assert ev.index(("repeat", "order")) < ev.index(("back", "order"))
    assert ("enter", "main") in ev[ev.index(("back", "order")) :]
    assert rec.queue == "operator"
    assert rec.language == "en"  # the chosen language is on the record
    # After choosing English every prompt came from the English folder.
    after_choice = [h.path for h in call.heard[1:] if h.path]
    assert after_choice and all("/en/" in p for p in after_choice)
    # The language menu itself spoke both languages, each from its own folder.
    assert [h.media.split("/")[0] for h in call.heard[:2]] == ["sound:zh", "sound:en"]


async def test_self_service_info_then_hangup_with_its_goodbye(
    sim: AriSimulator, menu_node: MenuFactory
) -> None:
    node = await menu_node(FAST)
    call = await sim.place_call(
        "6000",
        "+8613800000012",
        script="wait for prompt; press 1; wait for prompt; press 2; wait for prompt; "
        "wait for silence; press 6",
    )
    rec = await finished(node, call)
    ev = events(rec)
    assert ("info", "main", "") in ev
    assert ("exit", "main", "hangup") in ev
    assert (rec.end_reason, rec.hangup_side) == ("menu_hangup", "system")
    assert call.hangup_by == "system"
    info, back_at_main, goodbye = call.heard[-3:]
    assert info.completed  # the message was heard to its end
    assert back_at_main.media == call.heard[1].media  # then the main menu again
    assert goodbye.completed and goodbye.media.startswith("sound:custom/tts/")


async def test_collect_with_confirmation_and_a_rejected_entry(
    sim: AriSimulator, menu_node: MenuFactory
) -> None:
    node = await menu_node(FAST)
    call = await sim.place_call(
        "6000",
        "+8613800000004",
        script="wait for prompt; press 1; wait for prompt; press 3; wait for prompt; "
        "press 012345; wait for prompt; press 123456; wait for prompt; wait for silence; "
        "press 1; wait for prompt; hang up",
    )
    rec = await finished(node, call)
    ev = events(rec)
    assert ("invalid_entry", "main", "") in ev
    assert rec.data == {"member_number": "123456"}
    assert rec.queue == "orders"
    heard = [h.media for h in call.heard]
    read_back = heard.index("sound:custom/you_entered")
    assert heard[read_back + 1 : read_back + 7] == [f"sound:custom/digit_{d}" for d in "123456"]


async def test_closed_hours_callback_request_is_logged(
    sim: AriSimulator, menu_node: MenuFactory, db_url: str
) -> None:
    node = await menu_node(FAST, at=SATURDAY_10)
    call = await sim.place_call(
        "6000", "+8613800000005", script="wait for prompt; press 2; wait for prompt; press 1"
    )
    rec = await finished(node, call)
    assert ("enter", "closed", "") in events(rec)
    assert rec.end_reason == "callback_request"
    assert rec.data["callback_number"] == "+8613800000005"
    from callbacks.requests import open_requests
    from ticketdb.engine import make_sessionmaker

    with make_sessionmaker(node.node.engine)() as s:
        (req,) = open_requests(s)
    assert (req.number, req.channel_id, req.source) == ("+8613800000005", call.channel_id, "ivr")


async def test_vip_caller_goes_straight_to_the_dedicated_line(
    sim: AriSimulator, menu_node: MenuFactory
) -> None:
    node = await menu_node(FAST)
    from ticketdb.customers import upsert_customer
    from ticketdb.engine import make_sessionmaker

    with make_sessionmaker(node.node.engine)() as s:
        upsert_customer(s, phone="+8613900000009", name="Wang VIP", tier="vip")
    call = await sim.place_call("6000", "+8613900000009", script="wait for prompt; hang up")
    rec = await finished(node, call)
    assert (rec.queue, rec.customer_tier) == ("vip", "vip")
    assert call.heard[0].media == "sound:custom/connecting"


async def test_transfer_leaves_the_menu_for_the_dialplan(
    sim: AriSimulator, menu_node: MenuFactory
) -> None:
    node = await menu_node(FAST)
    call = await sim.place_call(
        "6000",
        "+8613800000006",
        script="wait for prompt; press 1; wait for prompt; press 4; hang up after 8",
    )
    await wait_for(
        lambda: call.channel.context == "hotline-transfer",
        timeout=15,
        what="channel handed to the dialplan",
    )
    assert call.channel.stasis_app is None
    assert (call.channel.context, call.channel.exten) == ("hotline-transfer", "+861012345")
    await wait_for(lambda: node.has_complete_record(call.channel_id), what="record")
    rec = node.record(call.channel_id)
    assert (rec.end_reason, rec.hangup_side) == ("transferred", "system")
    assert ("exit", "main", "transfer") in events(rec)
    await call.ended(15)


async def test_hot_reload_good_edit_then_garbage(
    sim: AriSimulator, menu_node: MenuFactory, caplog: pytest.LogCaptureFixture
) -> None:
    node = await menu_node(FAST)
    registry = node.node.menus
    assert registry is not None
    first = registry.current.version
    # A call in progress keeps its version...
    long_call = await sim.place_call(
        "6000",
        "+8613800000007",
        script="wait for prompt; press 1; wait for prompt; wait 3; press 1; wait for prompt; "
        "hang up",
    )
    await wait_for(lambda: len(long_call.heard) >= 2, what="first call in main")
    node.menu_file.write_text(
        FAST.replace("主菜单。", "新的主菜单。").replace("Main menu.", "New main menu.")
    )
    await wait_for(lambda: registry.current.version != first, timeout=15, what="reload")
    second = registry.current.version
    # ...new calls get the new one.
    new_call = await sim.place_call(
        "6000", "+8613800000008", script="wait for prompt; press 1; wait for prompt; hang up"
    )
    await new_call.ended(30)
    assert new_call.heard[1].media != long_call.heard[1].media  # a different main prompt
    rec_long = await finished(node, long_call)
    assert rec_long.menu_path[0]["version"] == first
    assert node.record(new_call.channel_id).menu_path[0]["version"] == second
    # Garbage is rejected with its line; the good menu stays live.
    rejected_before = registry.rejected
    with caplog.at_level(logging.ERROR, logger="ivr.menus.registry"):
        node.menu_file.write_text(
            FAST.replace(
                '    options:\n      "1": {menu: order}', '    options:\n      "1": {menu: nowhere}'
            )
        )
        await wait_for(lambda: "nowhere" in caplog.text, timeout=15, what="the rejection logged")
    assert registry.rejected == rejected_before + 1
    assert "live.yaml:" in caplog.text
    assert registry.current.version == second
    third_call = await sim.place_call(
        "6000",
        "+8613800000010",
        script="wait for prompt; press 1; wait for prompt; press 1; wait for prompt; hang up",
    )
    await third_call.ended(30)
    assert ("enter", "order", "") in events(await finished(node, third_call))


async def test_shipped_telecom_menu_third_level_with_type_ahead(
    sim: AriSimulator, menu_node: MenuFactory
) -> None:
    node = await menu_node(menu_file=REPO / "menus" / "telecom.yaml")
    call = await sim.place_call(
        "6000",
        "+8613800000011",
        script="wait for prompt; press 2; wait for prompt; press 25; wait for prompt; hang up",
    )
    rec = await finished(node, call)
    ev = events(rec)
    assert ("enter", "consult", "") in ev
    assert rec.queue == "product"  # consultation → 5, the dedicated product
    assert rec.language == "en"  # 2 at the language menu: English
