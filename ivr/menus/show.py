"""The menu as a readable tree (``hotline menus show``) and as a graph (for the web page)."""

from __future__ import annotations

from typing import Any

from ivr.menus.check import effective_keys
from ivr.menus.model import Menu
from ivr.menus.schema import Action, Prompt


def _text(prompt: Prompt | None, language: str) -> str:
    if prompt is None:
        return ""
    texts = prompt.texts
    text = texts.get(language) or next(iter(texts.values()), "")
    audio = prompt.audio_for(language)
    shown = f'"{text}"' if text else ""
    return f"{shown} [audio {audio}]".strip() if audio else shown


def describe(action: Action, language: str) -> str:
    kind = action.kind
    if kind == "menu":
        out = f"menu {action.menu}"
    elif kind == "queue":
        extra = [f"skill {action.skill}"] if action.skill else []
        extra += [f"priority {action.priority}"] if action.priority else []
        out = f"queue {action.queue}" + (f" ({', '.join(extra)})" if extra else "")
    elif kind == "info":
        out = f"info {_text(action.info, language)}"
    elif kind == "collect":
        rule = (
            f"{action.length} digits"
            if action.length
            else (f"{action.min_length}-{action.max_length} digits")
        )
        out = f"collect {action.collect} ({rule}{', confirmed' if action.confirm else ''})"
    elif kind == "transfer":
        out = f"transfer to {action.transfer}"
    elif kind == "language":
        out = f"language {action.language}"
    elif kind == "hangup":
        out = "hang up" + (f" after {_text(action.prompt, language)}" if action.prompt else "")
    elif kind == "callback_request":
        out = "callback request"
    else:
        out = kind
    if action.then is not None:
        out += f", then {describe(action.then, language)}"
    return out


def render(menu: Menu, language: str | None = None) -> str:
    spec = menu.spec
    lang = language or spec.default_language or spec.languages[0]
    lines = [
        f"{spec.menu} — {_text(spec.title, lang) or spec.menu} "
        f"(languages {', '.join(spec.languages)}; start {spec.start}; version {menu.version})"
    ]
    order: list[str] = []
    todo = [spec.start]
    while todo:
        node_id = todo.pop(0)
        if node_id in order or node_id not in spec.nodes:
            continue
        order.append(node_id)
        node = spec.nodes[node_id]
        actions = [*node.options.values(), *(r.then for r in node.rules)]
        actions += [a for a in (node.else_, node.after_max_tries) if a is not None]
        for action in actions:
            a: Action | None = action
            while a is not None:
                if a.menu:
                    todo.append(a.menu)
                a = a.then
    order += [n for n in spec.nodes if n not in order]
    for node_id in order:
        node = spec.nodes[node_id]
        lines.append("")
        if node.type == "branch":
            lines.append(f"{node_id} [branch]")
            for rule in node.rules:
                c = rule.if_
                cond = " and ".join(
                    part
                    for part in (
                        f"hours {c.hours}" if c.hours else "",
                        f"tier in {', '.join(c.tier)}" if c.tier else "",
                        f"language {c.language}" if c.language else "",
                    )
                    if part
                )
                lines.append(f"  if {cond} → {describe(rule.then, lang)}")
            if node.else_ is not None:
                lines.append(f"  else → {describe(node.else_, lang)}")
            continue
        lines.append(f"{node_id}: {_text(node.prompt, lang)}")
        for digit, action in sorted(node.options.items()):
            lines.append(f"  {digit} → {describe(action, lang)}")
        keys = effective_keys(menu, node)
        reserved = [f"{k} {role}" for role, k in keys.model_dump().items() if k is not None]
        if reserved:
            lines.append(f"  ({'; '.join(reserved)})")
        fallback = node.after_max_tries or spec.defaults.after_max_tries
        lines.append(
            "  after max tries → "
            + (describe(fallback, lang) if fallback else "a person if staffed, else goodbye")
        )
    return "\n".join(lines)


def graph(menu: Menu) -> dict[str, Any]:
    """Nodes and edges, for drawing the menu as a diagram."""
    spec = menu.spec
    nodes = [{"id": n, "type": node.type} for n, node in spec.nodes.items()]
    edges: list[dict[str, str]] = []
    for node_id, node in spec.nodes.items():
        labelled: list[tuple[str, Action]] = [(d, a) for d, a in node.options.items()]
        labelled += [(f"rule {i}", r.then) for i, r in enumerate(node.rules)]
        labelled += [("else", node.else_)] if node.else_ else []
        labelled += [("max tries", node.after_max_tries)] if node.after_max_tries else []
        for label, action in labelled:
            a: Action | None = action
            while a is not None:
                target = a.menu if a.menu else f"{a.kind}:{a.queue or a.transfer or ''}".rstrip(":")
                edges.append({"from": node_id, "to": target, "label": label})
                a = a.then
    return {"menu": spec.menu, "start": spec.start, "nodes": nodes, "edges": edges}
