"""Prompt media of a loaded menu: per language, and `play: all` for language menus."""

from __future__ import annotations

from pathlib import Path

from tests.unit.menus.harness import menu_from

MENU = """
menu: m
languages: [zh, en]
start: lang
nodes:
  lang:
    prompt: {zh: 普通话请按1, en: For English press 2, play: all}
    options:
      "1": {language: zh, then: {menu: main}}
      "2": {language: en, then: {menu: main}}
  main:
    prompt: {zh: 主菜单, en: Main menu}
    options:
      "1": {queue: operator}
"""


def test_each_language_gets_its_own_media(tmp_path: Path) -> None:
    menu = menu_from(MENU, tmp_path)
    prompt = menu.node("main").prompt
    assert prompt is not None
    assert menu.media(prompt, "zh") == ("menu:nodes.main.prompt:zh",)
    assert menu.media(prompt, "en") == ("menu:nodes.main.prompt:en",)
    assert menu.media(prompt, "fr") == ("menu:nodes.main.prompt:zh",)  # default language


def test_play_all_speaks_every_language_from_its_own_folder(tmp_path: Path) -> None:
    from ivr.menus.model import Menu
    from ivr.menus.schema import Prompt

    path = tmp_path / "m.yaml"
    path.write_text(MENU)
    from ivr.menus.loader import load_menu

    menu: Menu = load_menu(path)

    def resolve(p: Prompt, language: str) -> tuple[str, ...]:
        return (f"sound:custom/tts/{p.key}-{language}",)

    menu.resolve_prompts(resolve)
    prompt = menu.node("lang").prompt
    assert prompt is not None
    both = (
        "sound:zh/custom/tts/nodes.lang.prompt-zh",
        "sound:en/custom/tts/nodes.lang.prompt-en",
    )
    assert menu.media(prompt, "zh") == both
    assert menu.media(prompt, "en") == both  # whatever the call's language


def test_reload_waits_for_the_file_to_settle_and_rejects_bad_edits(tmp_path: Path) -> None:
    from ivr.menus.registry import MenuRegistry

    path = tmp_path / "live.yaml"
    path.write_text(MENU)
    registry = MenuRegistry(path, lambda p, lang: (f"sound:{p.key}",))
    first = registry.load().version
    # Caught half-way through a rewrite: nothing happens until the contents settle.
    path.write_text(MENU[: len(MENU) // 2])
    assert registry.reload_if_changed() is False
    path.write_text(MENU.replace("主菜单", "新主菜单"))
    assert registry.reload_if_changed() is False  # changed again: wait one more poll
    assert registry.reload_if_changed() is True
    assert registry.current.version != first
    assert registry.rejected == 0  # the torn half-file was never judged
    second = registry.current.version
    path.write_text(MENU.replace("{queue: operator}", "{menu: nowhere}"))
    registry.reload_if_changed()
    assert registry.reload_if_changed() is False
    assert registry.rejected == 1
    assert "nowhere" in (registry.last_error or "")
    assert registry.current.version == second  # the last good menu stays live
