"""The menu tree as an SVG diagram: which boxes and edges a menu gives, the tree layout,
and that text from the menu file is escaped (the SVG goes into the page unescaped)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from agents.queue_config import load_queues
from ivr.menus.loader import load_menu, parse_menu
from ivr.menus.model import Menu
from kernel.calendar import load_calendars
from webapp.menu_diagram import BOX_H, diagram_of, fit, layout, menu_svg

REPO = Path(__file__).resolve().parents[3]
SVG = "{http://www.w3.org/2000/svg}"

MENU = """\
menu: shop
title: {en: "Shop <b>&</b> \\"co\\"", zh: 商店}
languages: [en, zh]
start: entry
nodes:
  entry:
    type: branch
    rules:
      - if: {hours: closed}
        then: {info: {en: Closed, zh: 已下班}, then: hangup}
    else: {menu: main}
  main:
    prompt: {en: "Press 1 for <script>alert(1)</script>", zh: 请按1}
    options:
      "1": {queue: sales}
      "2": {language: zh, then: {menu: more}}
      "3": {menu: main}
    after_max_tries: operator
  more:
    prompt: {en: More, zh: 更多}
    keys: {repeat: "9", back: null, operator: null}
    options:
      "1": {menu: main}
  orphan:
    prompt: {en: Nobody comes here, zh: 无人到达}
    options:
      "1": hangup
"""


@pytest.fixture
def menu(tmp_path: Path) -> Menu:
    return parse_menu(tmp_path / "shop.yaml", MENU)


def test_boxes_and_edges_follow_the_menu(menu: Menu) -> None:
    d = diagram_of(menu, "en")
    kinds = {b.id: b.kind for b in d.boxes}
    assert kinds == {
        "entry": "branch",
        "entry/0": "leaf",  # closed: the message, then hang up
        "main": "menu",
        "main/0": "leaf",  # 1: the sales queue
        "more": "menu",
        "more/0": "goto",  # back to main, drawn as a link, not a crossing line
        "main/2": "goto",  # 3: main again
        "main/3": "leaf",  # no valid key: a person
        "orphan": "menu",
        "orphan/0": "leaf",
    }
    edges = {(e.source, e.target, e.label) for e in d.edges}
    assert edges == {
        ("entry", "entry/0", "hours closed"),
        ("entry", "main", "else"),
        ("main", "main/0", "1"),
        ("main", "more", "2 · Language: zh"),
        ("more", "more/0", "1"),
        ("main", "main/2", "3"),
        ("main", "main/3", "no valid key"),
        ("orphan", "orphan/0", "1"),
    }
    assert d.roots == ("entry", "orphan")  # the unreachable node is a tree of its own
    assert d.box("entry/0").lines == ("Message", "Closed → Hang up")
    assert d.box("main/0").lines == ("Queue", "sales")
    assert d.box("more/0").node == "main" and d.box("more/0").lines == ("Go to main",)
    assert d.box("main").start is False and d.box("entry").start is True
    assert d.box("main").lines[2] == "keys: 9 repeat · * back · 0 person"
    assert d.box("more").lines[2] == "keys: 9 repeat"


def test_words_and_prompts_come_in_the_readers_language(menu: Menu) -> None:
    d = diagram_of(menu, "zh", {"queue": "排队", "else": "否则"})
    assert d.box("main").lines[1] == "请按1"
    assert d.box("main/0").lines == ("排队", "sales")
    assert ("entry", "main", "否则") in {(e.source, e.target, e.label) for e in d.edges}
    # A language the menu does not have: its default (the first listed).
    assert diagram_of(menu, "fr").box("main").lines[1].startswith("Press 1")


def test_children_sit_on_their_own_rows_with_the_parent_centred(menu: Menu) -> None:
    d = diagram_of(menu, "en")
    at = layout(d)
    column = {box_id: p.x for box_id, p in at.items()}
    assert column["entry"] < column["main"] < column["more"]
    assert column["main/0"] == column["more"]
    kids = d.children["main"]
    rows = [at[k].y for k in kids]
    assert rows == sorted(rows) and len(set(rows)) == len(rows)
    # The parent is centred between its first and last child.
    assert at["main"].y == (at[kids[0]].y + at[kids[-1]].y) / 2
    # Separate trees do not overlap.
    tree = [at[b].y for b in at if not b.startswith("orphan")]
    assert at["orphan"].y >= max(tree) + BOX_H


def test_text_from_the_file_is_escaped(menu: Menu) -> None:
    svg = menu_svg(menu, "en")
    assert "<script>" not in svg and "<b>" not in svg
    assert "&lt;script&gt;" in svg
    assert 'aria-label="Shop &lt;b&gt;&amp;&lt;/b&gt; &quot;co&quot;"' in svg
    root = ET.fromstring(svg)  # well-formed: nothing broke out of its element
    assert root.tag == f"{SVG}svg"
    assert root.attrib["aria-label"] == 'Shop <b>&</b> "co"'
    tooltips = [t.text for t in root.iter(f"{SVG}title")]
    assert "Press 1 for <script>alert(1)</script>" in tooltips
    boxes = root.findall(f"{SVG}g[@class='box menu']")
    assert [b.attrib["data-node"] for b in boxes] == ["main", "more", "orphan"]
    assert len(root.findall(f"{SVG}g[@class='edge']")) == 8


def test_long_text_is_cut_to_the_box() -> None:
    assert fit("short", 200) == "short"
    cut = fit("x" * 100, 60)
    assert cut.endswith("…") and len(cut) < 12
    # Full-width characters count double.
    assert len(fit("请" * 40, 60)) < len(fit("a" * 40, 60))


@pytest.mark.parametrize("name", ["telecom", "dairy"])
def test_the_shipped_menus_draw(name: str) -> None:
    calendars = load_calendars(REPO / "config" / "calendar.yaml").names
    menu = load_menu(
        REPO / "menus" / f"{name}.yaml", load_queues(REPO / "config" / "queues.yaml"), calendars
    )
    root = ET.fromstring(menu_svg(menu, "zh"))
    drawn = {g.attrib["data-node"] for g in root.iter(f"{SVG}g") if "menu" in g.attrib["class"]}
    assert drawn == {n for n, node in menu.spec.nodes.items() if node.type == "menu"}
