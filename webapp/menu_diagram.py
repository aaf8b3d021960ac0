"""A voice menu drawn as a diagram: the menu tree → an SVG document (pure: no I/O).

The menu is laid out as a tree from its start node, left to right, one column per level:
each key, rule or fallback of a node is an edge to the node it leads to, or to a leaf
saying what happens there (a queue, a message, a transfer …). A node already drawn
elsewhere (a loop back to the main menu, a node reached two ways) is shown as a small
"go to" leaf instead of a crossing line, so the drawing stays a readable tree. Nodes no
path reaches are drawn as extra trees below.

All text comes from the menu file, which an operator edits: every piece is escaped
before it goes into the SVG, so the markup can be put into a page as is.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from html import escape
from typing import Literal

from ivr.menus.check import effective_keys
from ivr.menus.model import Menu
from ivr.menus.schema import Action, Condition, Node, Prompt

BoxKind = Literal["menu", "branch", "leaf", "goto"]

# The words the drawing uses, by key; the web page passes them in the reader's language.
DEFAULT_LABELS: Mapping[str, str] = {
    "menu": "Menu",
    "queue": "Queue",
    "info": "Message",
    "collect": "Enter digits",
    "transfer": "Transfer",
    "callback_request": "Callback request",
    "hangup": "Hang up",
    "language": "Language",
    "operator": "A person",
    "back": "Back",
    "repeat": "Repeat",
    "goto": "Go to",
    "branch": "Decision",
    "else": "else",
    "max_tries": "no valid key",
    "hours": "hours",
    "tier": "tier",
    "keys": "keys",
    "key.repeat": "repeat",
    "key.back": "back",
    "key.operator": "person",
}

BOX_W = 230
BOX_H = 56
COL_GAP = 120  # room for the edge labels between columns
ROW_GAP = 14
MARGIN = 16
_TEXT_PX = 12.0  # one full-width (CJK) character at the font size used
_CHAR_PX = 6.6  # an average Latin character


@dataclass(frozen=True)
class Box:
    """One drawn box. ``lines`` are shown in order (the first in bold)."""

    id: str
    kind: BoxKind
    lines: tuple[str, ...]
    # For a "goto" leaf: the menu node it stands for; for menu and branch boxes: their id.
    node: str | None = None
    start: bool = False
    detail: str = ""  # the full text, shown as the tooltip


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str


@dataclass(frozen=True)
class Diagram:
    title: str
    boxes: tuple[Box, ...]
    edges: tuple[Edge, ...]
    # Tree children of each box, in drawing order (the layout follows them).
    children: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    roots: tuple[str, ...] = ()

    def box(self, box_id: str) -> Box:
        for b in self.boxes:
            if b.id == box_id:
                return b
        raise KeyError(box_id)


def _text(prompt: Prompt | None, language: str) -> str:
    if prompt is None:
        return ""
    return prompt.texts.get(language) or next(iter(prompt.texts.values()), "")


def _steps(action: Action | None) -> Iterator[Action]:
    while action is not None:
        yield action
        action = action.then


def _step_detail(action: Action, language: str) -> str:
    kind = action.kind
    if kind == "queue":
        return str(action.queue) + (f" ({action.skill})" if action.skill else "")
    if kind == "info":
        return _text(action.info, language)
    if kind == "collect":
        return str(action.collect)
    if kind == "transfer":
        return str(action.transfer)
    if kind == "language":
        return str(action.language)
    if kind == "hangup":
        return _text(action.prompt, language)
    return ""


def _step_text(action: Action, language: str, labels: Mapping[str, str]) -> str:
    detail = _step_detail(action, language)
    name = labels.get(action.kind, action.kind)
    return f"{name}: {detail}" if detail else name


def _condition(cond: Condition, labels: Mapping[str, str]) -> str:
    parts = []
    if cond.hours:
        parts.append(f"{labels['hours']} {cond.hours}")
    if cond.tier:
        parts.append(f"{labels['tier']} {'/'.join(cond.tier)}")
    if cond.language:
        parts.append(f"{labels['language']} {cond.language}")
    return " & ".join(parts)


def _outgoing(node: Node, labels: Mapping[str, str]) -> list[tuple[str, Action]]:
    """(edge label, action) for every way out of a node, in the order they are drawn."""
    out: list[tuple[str, Action]] = [(key, node.options[key]) for key in sorted(node.options)]
    out += [(_condition(r.if_, labels), r.then) for r in node.rules]
    if node.else_ is not None:
        out.append((labels["else"], node.else_))
    if node.after_max_tries is not None:
        out.append((labels["max_tries"], node.after_max_tries))
    return out


def _keys_line(menu: Menu, node: Node, labels: Mapping[str, str]) -> str:
    keys = effective_keys(menu, node)
    parts = [
        f"{key} {labels['key.' + role]}"
        for role, key in (("repeat", keys.repeat), ("back", keys.back), ("operator", keys.operator))
        if key is not None
    ]
    return f"{labels['keys']}: " + " · ".join(parts) if parts else ""


def diagram_of(
    menu: Menu, language: str | None = None, labels: Mapping[str, str] | None = None
) -> Diagram:
    """The menu as a tree of boxes; ``language`` picks the prompt texts shown."""
    words = {**DEFAULT_LABELS, **(labels or {})}
    spec = menu.spec
    lang = language if language in spec.languages else (spec.default_language or spec.languages[0])
    boxes: list[Box] = []
    edges: list[Edge] = []
    children: dict[str, list[str]] = {}
    drawn: set[str] = set()

    def leaf(parent: str, label: str, box: Box) -> None:
        boxes.append(box)
        edges.append(Edge(parent, box.id, label))
        children.setdefault(parent, []).append(box.id)

    def draw(node_id: str) -> None:
        drawn.add(node_id)
        node = spec.nodes[node_id]
        if node.type == "branch":
            lines: tuple[str, ...] = (f"{node_id} · {words['branch']}",)
            kind: BoxKind = "branch"
        else:
            lines = (node_id, _text(node.prompt, lang), _keys_line(menu, node, words))
            kind = "menu"
        start = node_id == spec.start
        boxes.append(Box(node_id, kind, lines, node_id, start, _text(node.prompt, lang)))
        children.setdefault(node_id, [])
        for n, (label, action) in enumerate(_outgoing(node, words)):
            steps = list(_steps(action))
            target = next((i for i, a in enumerate(steps) if a.kind == "menu"), None)
            leaf_id = f"{node_id}/{n}"
            if target is None:
                texts = [_step_text(a, lang, words) for a in steps]
                first = texts[0].partition(": ")
                shown = [first[0], " → ".join([first[2], *texts[1:]]).strip(" →")]
                leaf(node_id, label, Box(leaf_id, "leaf", tuple(shown), detail=" → ".join(texts)))
                continue
            before = [_step_text(a, lang, words) for a in steps[:target]]
            edge_label = " · ".join([label, *before])
            menu_id = str(steps[target].menu)
            if menu_id in drawn or menu_id not in spec.nodes:
                goto = Box(leaf_id, "goto", (f"{words['goto']} {menu_id}",), node=menu_id)
                leaf(node_id, edge_label, goto)
                continue
            edges.append(Edge(node_id, menu_id, edge_label))
            children[node_id].append(menu_id)
            draw(menu_id)

    roots = []
    for node_id in [spec.start, *spec.nodes]:
        if node_id in spec.nodes and node_id not in drawn:
            roots.append(node_id)
            draw(node_id)
    title = _text(spec.title, lang) or spec.menu
    return Diagram(
        title=title,
        boxes=tuple(boxes),
        edges=tuple(edges),
        children={k: tuple(v) for k, v in children.items()},
        roots=tuple(roots),
    )


# --- layout and drawing --------------------------------------------------------------


@dataclass(frozen=True)
class Placed:
    x: float
    y: float


def layout(diagram: Diagram) -> dict[str, Placed]:
    """Top-left corner of every box: column by depth, each subtree on its own rows with
    its root centred on them."""
    placed: dict[str, Placed] = {}
    next_row = 0

    def place(box_id: str, depth: int) -> float:
        nonlocal next_row
        kids = diagram.children.get(box_id, ())
        if kids:
            centres = [place(k, depth + 1) for k in kids]
            row = (centres[0] + centres[-1]) / 2
        else:
            row = float(next_row)
            next_row += 1
        placed[box_id] = Placed(
            MARGIN + depth * (BOX_W + COL_GAP), MARGIN + row * (BOX_H + ROW_GAP)
        )
        return row

    for root in diagram.roots:
        place(root, 0)
        next_row += 1  # a blank row between separate trees
    return placed


def _width(text: str) -> float:
    return sum(_TEXT_PX if unicodedata.east_asian_width(c) in "WF" else _CHAR_PX for c in text)


def fit(text: str, pixels: float) -> str:
    """``text`` cut (with …) to about ``pixels`` wide."""
    if _width(text) <= pixels:
        return text
    out = ""
    for c in text:
        if _width(out + c + "…") > pixels:
            break
        out += c
    return out + "…"


_FILL = {"menu": "#eef4ff", "branch": "#fff4e0", "leaf": "#eaf7ee", "goto": "#ffffff"}
_STROKE = {"menu": "#1f6feb", "branch": "#b35900", "leaf": "#1a7f37", "goto": "#667085"}


def _attr(value: object) -> str:
    return escape(str(value), quote=True)


def _box_svg(box: Box, at: Placed) -> str:
    stroke = _STROKE[box.kind]
    dash = ' stroke-dasharray="4 3"' if box.kind == "goto" else ""
    width = "3" if box.start else "1.2"
    parts = [
        f'<g class="box {box.kind}" data-box="{_attr(box.id)}"'
        + (f' data-node="{_attr(box.node)}"' if box.node else "")
        + f' transform="translate({at.x:.0f},{at.y:.0f})">',
        f"<title>{escape(box.detail or ' '.join(box.lines))}</title>",
        f'<rect width="{BOX_W}" height="{BOX_H}" rx="8" fill="{_FILL[box.kind]}" '
        f'stroke="{stroke}" stroke-width="{width}"{dash}/>',
    ]
    for i, line in enumerate(box.lines):
        if not line:
            continue
        weight = ' font-weight="bold"' if i == 0 else ""
        fill = "#667085" if i == 2 else "#1d2330"
        parts.append(
            f'<text x="8" y="{16 + i * 16}" font-size="12" fill="{fill}"{weight}>'
            f"{escape(fit(line, BOX_W - 16))}</text>"
        )
    parts.append("</g>")
    return "".join(parts)


def _edge_svg(edge: Edge, source: Placed, target: Placed) -> str:
    x1, y1 = source.x + BOX_W, source.y + BOX_H / 2
    x2, y2 = target.x, target.y + BOX_H / 2
    mid = (x1 + x2) / 2
    label = escape(fit(edge.label, COL_GAP - 12))
    return (
        f'<g class="edge" data-from="{_attr(edge.source)}" data-to="{_attr(edge.target)}">'
        f'<path d="M{x1:.0f},{y1:.0f} C{mid:.0f},{y1:.0f} {mid:.0f},{y2:.0f} {x2:.0f},{y2:.0f}" '
        f'fill="none" stroke="#98a2b3" stroke-width="1.2"/>'
        f'<text x="{x2 - 6:.0f}" y="{y2 - 5:.0f}" font-size="11" text-anchor="end" '
        f'fill="#1d2330">{label}</text></g>'
    )


def to_svg(diagram: Diagram) -> str:
    """The diagram as one ``<svg>`` element (every text escaped)."""
    placed = layout(diagram)
    width = max((p.x for p in placed.values()), default=0) + BOX_W + MARGIN
    height = max((p.y for p in placed.values()), default=0) + BOX_H + MARGIN
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="menu-diagram" role="img" '
        f'width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'aria-label="{_attr(diagram.title)}">',
        f"<title>{escape(diagram.title)}</title>",
    ]
    out += [_edge_svg(e, placed[e.source], placed[e.target]) for e in diagram.edges]
    out += [_box_svg(b, placed[b.id]) for b in diagram.boxes]
    out.append("</svg>")
    return "\n".join(out)


def menu_svg(
    menu: Menu, language: str | None = None, labels: Mapping[str, str] | None = None
) -> str:
    return to_svg(diagram_of(menu, language, labels))
