"""``hotline menus check`` and the checks behind it: every error found, at its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.queue_config import load_queues
from ivr.menus.loader import load_menu
from ivr.menus.model import MenuInvalid

REPO = Path(__file__).parents[3]
BROKEN = Path(__file__).parent / "broken"
QUEUES = load_queues(REPO / "config" / "queues.yaml")


def problems(name: str) -> list[tuple[int, str]]:
    with pytest.raises(MenuInvalid) as info:
        load_menu(BROKEN / name, QUEUES, ["default"])
    return [(p.line, p.message) for p in info.value.problems]


def test_dangling_target() -> None:
    assert problems("dangling.yaml") == [(8, "target node 'nowhere' does not exist")]


def test_unreachable_node() -> None:
    assert problems("unreachable.yaml") == [(9, "node 'orphan' cannot be reached from 'main'")]


def test_duplicate_key() -> None:
    assert problems("duplicate.yaml") == [(9, "duplicate key '1'")]


def test_reserved_key_clash() -> None:
    ((line, message),) = problems("reserved.yaml")
    assert line == 9
    assert "clashes with the reserved repeat key" in message


def test_loop_with_no_way_out() -> None:
    found = problems("trap.yaml")
    assert [line for line, _ in found] == [8, 12]
    assert all("loop with no way out" in m for _, m in found)


def test_prompt_missing_a_language() -> None:
    assert problems("language.yaml") == [(6, "prompt has no text or audio for zh")]


def test_unknown_queue_and_skills() -> None:
    assert problems("queues.yaml") == [
        (8, "queue 'no_such_queue' does not exist (config/queues.yaml)"),
        (9, "skill 'broadband' is not a skill of queue 'orders'"),
        (10, "skill 'juggling' does not exist"),
    ]


def test_schema_errors_each_at_their_line() -> None:
    found = problems("schema.yaml")
    lines = [line for line, _ in found]
    assert 7 in lines  # timeout: -3
    assert 9 in lines  # two kinds in one action
    assert 10 in lines  # "x" is not a DTMF key
    assert 11 in lines  # misspelt action
    assert any(
        "exactly one of" in m and "queue, menu" in m.replace("menu, queue", "queue, menu")
        for _, m in found
    )


def test_bad_yaml() -> None:
    ((line, message),) = problems("yaml.yaml")
    assert line in (7, 8)
    assert message.startswith("not valid YAML")


def test_shipped_menus_are_clean() -> None:
    for name in ("telecom.yaml", "dairy.yaml"):
        load_menu(REPO / "menus" / name, QUEUES, ["default"])
