"""The menu engine, input by input (pure: no sockets, no clock)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.call import commands as cmd
from ivr.menus.engine import MenuService
from tests.unit.menus.harness import Always, Call, menu_from

MENU = """
menu: t
languages: [zh, en]
start: entry
defaults: {timeout: 5, max_tries: 3}
nodes:
  entry:
    type: branch
    rules:
      - if: {tier: [vip]}
        then: {queue: vip, priority: 10}
      - if: {hours: closed}
        then: {menu: closed}
    else: {menu: lang}
  lang:
    prompt: {zh: 普通话请按1, en: English press 2}
    options:
      "1": {language: zh, then: {menu: main}}
      "2": {language: en, then: {menu: main}}
    keys: {back: null}
  main:
    prompt: {zh: 主菜单, en: main menu}
    options:
      "1": {menu: sub}
      "2": {info: {zh: 信息, en: info}, then: back}
      "3":
        collect: member
        prompt: {zh: 请输入会员号, en: enter member number}
        min_length: 4
        max_length: 6
        pattern: "^[1-9][0-9]+$"
        confirm: true
        then: {queue: orders}
      "4": {callback_request: true}
      "5": {transfer: "+861012345"}
      "6": {hangup: true}
  sub:
    prompt: {zh: 二级, en: level two}
    options:
      "1": {menu: third}
      "2": {queue: complaints, skill: quality, priority: 5}
  third:
    prompt: {zh: 三级, en: level three}
    options:
      "5": {queue: product}
  closed:
    prompt: {zh: 下班, en: closed}
    keys: {operator: null}
    options:
      "1": {hangup: true}
    after_max_tries: {hangup: true}
"""


@pytest.fixture
def menu(tmp_path: Path):  # type: ignore[no-untyped-def]
    return menu_from(MENU, tmp_path)


def to_main(call: Call) -> None:
    call.prompt_ends()  # language prompt
    call.press("1")
    assert call.hearing == ("menu:nodes.main.prompt:zh",)


def test_language_choice_is_remembered_for_the_call(menu) -> None:  # type: ignore[no-untyped-def]
    call = Call(menu, Always(True))
    assert call.hearing == ("menu:nodes.lang.prompt:zh",)
    call.prompt_ends()
    out = call.press("2")
    assert cmd.SetLanguage("en") in out
    assert call.hearing == ("menu:nodes.main.prompt:en",)
    call.press("1")
    assert call.hearing == ("menu:nodes.sub.prompt:en",)


def test_barge_in_stops_the_prompt_and_acts_at_once(menu) -> None:  # type: ignore[no-untyped-def]
    call = Call(menu, Always(True))
    to_main(call)
    playing = call.playing
    assert playing is not None
    out = call.press("1")  # while the main prompt is still playing
    assert cmd.StopPlayback(playing.playback_id) in out
    assert call.hearing == ("menu:nodes.sub.prompt:zh",)
    # The stopped prompt's PlaybackFinished arrives late and changes nothing.
    from ivr.call import inputs as inp

    assert call.feed(inp.PlaybackDone(call.at(), playing.playback_id)) == []


def test_type_ahead_reaches_the_third_level(menu) -> None:  # type: ignore[no-untyped-def]
    call = Call(menu, Always(True))
    to_main(call)
    # "1" then "1" typed fast: the second key arrives as level two's prompt starts,
    # stops it at once and takes the caller on to level three.
    call.press("1")
    sub = call.playing
    assert sub is not None and sub.media == ("menu:nodes.sub.prompt:zh",)
    out = call.press("1")
    assert cmd.StopPlayback(sub.playback_id) in out
    assert call.hearing == ("menu:nodes.third.prompt:zh",)
    assert [e for e in call.events() if e[0] == "enter"][-2:] == [
        ("enter", "sub", ""),
        ("enter", "third", ""),
    ]
    call.press("5")
    assert call.service.s.queue == "product"


def test_keys_pressed_before_the_prompt_are_buffered(menu) -> None:  # type: ignore[no-untyped-def]
    call = Call(menu, Always(True))
    call.press("1")  # during the language prompt: chosen at once
    call.press("1")  # buffered type-ahead for main
    assert call.hearing == ("menu:nodes.sub.prompt:zh",)


def test_timeout_retries_then_a_person_when_staffed(menu) -> None:  # type: ignore[no-untyped-def]
    call = Call(menu, Always(True))
    to_main(call)
    call.prompt_ends()
    assert call.timers["menu.input"].seconds == 5
    call.wait_out()
    assert call.hearing == ("sys:no_input:zh", "menu:nodes.main.prompt:zh")
    call.prompt_ends()
    call.wait_out()
    call.prompt_ends()
    call.wait_out()  # third no-input: max tries
    assert ("max_tries", "main", "") in call.events()
    assert call.service.s.queue == "operator"
    assert call.hearing == ("sys:connecting:zh",)


def test_after_max_tries_when_nobody_is_on_duty_says_so_and_goodbye(tmp_path: Path) -> None:
    # Hours are not a rule here: only the operator fallback asks whether anyone is on duty.
    menu = menu_from(MENU.replace("if: {hours: closed}", "if: {tier: [member]}"), tmp_path)
    call = Call(menu, Always(False))
    to_main(call)
    for _ in range(3):
        call.press("8")  # invalid
    assert call.hearing == ("sys:agents_unavailable:zh",)
    call.prompt_ends()
    assert call.sent(cmd.Hangup)
    assert call.flow.state.end_reason == "self_service"


def test_invalid_key_plays_the_invalid_notice_then_the_menu(menu) -> None:  # type: ignore[no-untyped-def]
    call = Call(menu, Always(True))
    to_main(call)
    call.press("8")
    assert call.hearing == ("sys:invalid_choice:zh", "menu:nodes.main.prompt:zh")
    assert ("invalid", "main", "8") in call.events()


def test_repeat_and_back(menu) -> None:  # type: ignore[no-untyped-def]
    call = Call(menu, Always(True))
    to_main(call)
    call.press("1")
    call.press("9")  # repeat sub
    assert call.hearing == ("menu:nodes.sub.prompt:zh",)
    call.press("1")
    call.press("*")  # back from third to sub
    assert call.hearing == ("menu:nodes.sub.prompt:zh",)
    call.press("*")  # back to main
    assert call.hearing == ("menu:nodes.main.prompt:zh",)
    call.press("*")  # back to the language menu (never into the branch before it)
    assert call.hearing == ("menu:nodes.lang.prompt:zh",)


def test_operator_key_from_any_level(menu) -> None:  # type: ignore[no-untyped-def]
    call = Call(menu, Always(True))
    to_main(call)
    call.press("10")
    assert call.service.s.queue == "operator"
    assert ("operator", "sub", "0") in call.events()


def test_info_then_back_and_a_key_during_info(menu) -> None:  # type: ignore[no-untyped-def]
    call = Call(menu, Always(True))
    to_main(call)
    call.press("2")
    assert call.hearing == ("menu:nodes.main.options.2.info:zh",)
    call.prompt_ends()
    assert call.hearing == ("menu:nodes.main.prompt:zh",)
    call.press("2")
    call.press("1")  # cuts the message short and counts at main
    assert call.hearing == ("menu:nodes.sub.prompt:zh",)


def test_collect_with_readback_confirmation_stores_the_data(menu) -> None:  # type: ignore[no-untyped-def]
    call = Call(menu, Always(True))
    to_main(call)
    call.press("3")
    assert call.hearing == ("menu:nodes.main.options.3.prompt:zh",)
    call.prompt_ends()
    assert call.timers["menu.digit"].seconds == 8  # first-digit timeout
    call.press("1234")
    assert call.timers["menu.digit"].seconds == 3  # inter-digit timeout
    call.press("#")
    assert call.hearing == (
        "sys:you_entered:zh",
        "sys:digit_1:zh",
        "sys:digit_2:zh",
        "sys:digit_3:zh",
        "sys:digit_4:zh",
        "sys:confirm_entry:zh",
    )
    call.press("1")
    assert call.service.s.data == {"member": "1234"}
    assert call.service.s.queue == "orders"
    fields = call.service.record_fields()
    assert fields["data"] == {"member": "1234"}


def test_collect_rejects_a_bad_pattern_and_asks_again(menu) -> None:  # type: ignore[no-untyped-def]
    call = Call(menu, Always(True))
    to_main(call)
    call.press("3")
    call.prompt_ends()
    call.press("0123#")  # leading zero: the pattern says no
    assert call.hearing == ("sys:invalid_entry:zh", "menu:nodes.main.options.3.prompt:zh")
    assert ("invalid_entry", "main", "") in call.events()
    call.press("12#")  # too short
    assert call.hearing[0] == "sys:invalid_entry:zh"
    call.press("567890")  # max_length reached ends the entry without #
    assert call.hearing[0] == "sys:you_entered:zh"
    call.press("2")  # re-enter
    call.press("4321#")
    call.press("1")
    assert call.service.s.data == {"member": "4321"}


def test_collect_inter_digit_timeout_ends_the_entry(menu) -> None:  # type: ignore[no-untyped-def]
    call = Call(menu, Always(True))
    to_main(call)
    call.press("3")
    call.prompt_ends()
    call.press("98765")
    call.wait_out("menu.digit")
    assert call.hearing[0] == "sys:you_entered:zh"


def test_callback_request_confirms_the_callers_number(menu) -> None:  # type: ignore[no-untyped-def]
    call = Call(menu, Always(True), number="+8613800000001")
    to_main(call)
    call.press("4")
    assert call.hearing[0] == "sys:callback_number:zh"
    assert call.hearing[1:3] == ("sys:digit_8:zh", "sys:digit_6:zh")
    assert call.hearing[-1] == "sys:callback_confirm:zh"
    call.press("1")
    (req,) = call.sent(cmd.RequestCallback)
    assert isinstance(req, cmd.RequestCallback)
    assert (req.number, req.source) == ("+8613800000001", "ivr")
    assert call.hearing == ("sys:callback_done:zh",)
    call.prompt_ends()
    assert call.sent(cmd.Hangup)
    assert call.flow.state.end_reason == "callback_request"


def test_callback_request_with_another_number(menu) -> None:  # type: ignore[no-untyped-def]
    call = Call(menu, Always(True), number="anonymous")
    to_main(call)
    call.press("4")
    assert call.hearing == ("sys:callback_enter:zh",)
    call.prompt_ends()
    call.press("13911112222#")
    assert call.hearing[-1] == "sys:callback_confirm:zh"
    call.press("1")
    (req,) = call.sent(cmd.RequestCallback)
    assert isinstance(req, cmd.RequestCallback) and req.number == "13911112222"


def test_transfer_hands_the_call_to_the_dialplan(menu) -> None:  # type: ignore[no-untyped-def]
    call = Call(menu, Always(True))
    to_main(call)
    call.press("5")
    assert call.hearing == ("sys:transferring:zh",)
    out = call.prompt_ends()
    assert cmd.ContinueInDialplan("hotline-transfer", "+861012345") in out
    from ivr.call import inputs as inp

    end = next(c for c in call.feed(inp.Left(call.at())) if isinstance(c, cmd.RecordEnd))
    assert (end.end_reason, end.hangup_side) == ("transferred", "system")


def test_hangup_action_says_goodbye(menu) -> None:  # type: ignore[no-untyped-def]
    call = Call(menu, Always(True))
    to_main(call)
    call.press("6")
    assert call.hearing == ("sys:goodbye:zh",)
    call.prompt_ends()
    assert call.sent(cmd.Hangup)
    assert call.flow.state.end_reason == "menu_hangup"


def test_vip_goes_straight_to_the_dedicated_line(menu) -> None:  # type: ignore[no-untyped-def]
    call = Call(menu, Always(True), tier="vip")
    assert call.service.s.queue == "vip"
    assert call.hearing == ("sys:connecting:zh",)
    assert call.service.record_fields()["customer_tier"] == "vip"


def test_closed_hours_serve_the_closed_menu(menu) -> None:  # type: ignore[no-untyped-def]
    call = Call(menu, Always(False))
    assert call.hearing == ("menu:nodes.closed.prompt:zh",)
    call.press("0")  # operator switched off here: invalid
    assert call.hearing[0] == "sys:invalid_choice:zh"


def test_a_failed_prompt_counts_as_played(menu) -> None:  # type: ignore[no-untyped-def]
    call = Call(menu, Always(True))
    call.prompt_ends(ok=False)  # e.g. the audio file is broken on the Asterisk side
    assert "menu.input" in call.timers
    assert ("prompt_failed", "lang", "") in call.events()


def test_path_and_snapshot_restore(menu) -> None:  # type: ignore[no-untyped-def]
    call = Call(menu, Always(True))
    to_main(call)
    call.press("1")
    path = call.service.record_fields()["menu_path"]
    assert isinstance(path, list)
    assert [p["event"] for p in path][:3] == ["start", "enter", "branch"]
    assert all("t" in p for p in path)
    snap = dict(call.service.snapshot())
    fresh = MenuService(menu, Always(True))
    fresh.restore(snap)
    assert fresh.s.node == "sub"
    assert fresh.s.stack == ["lang", "main"]


def test_a_failed_transfer_apologises_instead_of_leaving_the_caller_in_silence(menu) -> None:  # type: ignore[no-untyped-def]
    from ivr.call import inputs as inp

    call = Call(menu, Always(True))
    to_main(call)
    call.press("5")
    call.prompt_ends()  # "transferring" played; the controller asks Asterisk to continue
    assert call.sent(cmd.ContinueInDialplan)
    # Asterisk refuses (e.g. 503 after retries): the channel is still ours and silent.
    call.feed(inp.CommandFailed(call.at(), "ContinueInDialplan", "Service Unavailable", gone=False))
    assert call.hearing == ("sys:apology_technical:zh",)
    call.prompt_ends()
    assert call.sent(cmd.Hangup)
    end = next(c for c in call.feed(inp.Left(call.at())) if isinstance(c, cmd.RecordEnd))
    assert (end.end_reason, end.hangup_side) == ("error", "system")
