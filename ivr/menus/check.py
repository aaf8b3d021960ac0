"""Whole-menu checks beyond the schema: what a person reviewing a menu would catch.

Each finding names its line: dangling targets, unreachable nodes, reserved-key clashes,
loops a caller cannot get out of, prompts missing a language, unknown queues, skills,
languages or calendars.
"""

from __future__ import annotations

from collections.abc import Iterable

from agents.queue_config import QueueCatalog
from ivr.menus.model import Menu, Problem, iter_actions, iter_prompts, node_actions
from ivr.menus.schema import TERMINAL_KINDS, Action, Keys, Node


def _loc(key: str) -> tuple[str, ...]:
    return tuple(key.split("."))


def effective_keys(menu: Menu, node: Node) -> Keys:
    return node.keys if node.keys is not None else menu.spec.defaults.keys


def check(
    menu: Menu, queues: QueueCatalog | None = None, calendars: Iterable[str] | None = None
) -> list[Problem]:
    spec = menu.spec
    problems: list[Problem] = []

    def add(key: str, message: str) -> None:
        line = menu.lines.get(_loc(key))
        if line is None:
            parts = _loc(key)
            while parts and parts not in menu.lines:
                parts = parts[:-1]
            line = menu.lines.get(parts, 1)
        problems.append(Problem(str(menu.path), line, message))

    nodes = spec.nodes
    if spec.start not in nodes:
        add("start", f"start node '{spec.start}' does not exist")

    all_actions: list[tuple[str, Action]] = list(
        iter_actions(spec.defaults.after_max_tries, "defaults.after_max_tries")
    )
    for node_id, node in nodes.items():
        all_actions.extend(node_actions(node_id, node))

    for key, action in all_actions:
        if action.menu is not None and action.menu not in nodes:
            add(key + ".menu", f"target node '{action.menu}' does not exist")
        if action.language is not None and action.language not in spec.languages:
            add(key + ".language", f"language '{action.language}' is not in languages")
        if queues is not None and action.queue is not None:
            if not queues.has_queue(action.queue):
                add(key + ".queue", f"queue '{action.queue}' does not exist (config/queues.yaml)")
            elif action.skill is not None and action.skill not in queues.queues[action.queue]:
                known = action.skill in queues.skills
                add(
                    key + ".skill",
                    f"skill '{action.skill}' "
                    + (f"is not a skill of queue '{action.queue}'" if known else "does not exist"),
                )
    if queues is not None and not queues.has_queue(spec.defaults.operator_queue):
        add(
            "defaults.operator_queue",
            f"operator queue '{spec.defaults.operator_queue}' does not exist",
        )

    uses_hours = any(r.if_.hours for n in nodes.values() for r in n.rules)
    if calendars is not None and uses_hours and spec.calendar not in set(calendars):
        add("calendar", f"calendar '{spec.calendar}' does not exist (config/calendar.yaml)")

    # Reserved keys: distinct from each other and from the node's options.
    for node_id, node in nodes.items():
        if node.type != "menu":
            continue
        keys = effective_keys(menu, node)
        reserved = {role: k for role, k in keys.model_dump().items() if k is not None}
        seen: dict[str, str] = {}
        for role, k in reserved.items():
            if k in seen:
                add(f"nodes.{node_id}", f"reserved keys {seen[k]} and {role} are both '{k}'")
            seen[k] = role
        for digit in node.options:
            if digit in seen:
                add(
                    f"nodes.{node_id}.options.{digit}",
                    f"option '{digit}' clashes with the reserved {seen[digit]} key; "
                    f"switch it off for this node with keys: {{{seen[digit]}: null}}",
                )

    # Reachability from the start node.
    def targets(node_id: str) -> set[str]:
        node = nodes[node_id]
        found = {a.menu for _, a in node_actions(node_id, node) if a.menu is not None}
        fallback = node.after_max_tries or spec.defaults.after_max_tries
        found |= {a.menu for _, a in iter_actions(fallback, "") if a.menu is not None}
        return {t for t in found if t in nodes}

    reachable: set[str] = set()
    todo = [spec.start] if spec.start in nodes else []
    while todo:
        current = todo.pop()
        if current in reachable:
            continue
        reachable.add(current)
        todo.extend(targets(current) - reachable)
    for node_id in nodes:
        if node_id not in reachable and spec.start in nodes:
            add(f"nodes.{node_id}", f"node '{node_id}' cannot be reached from '{spec.start}'")

    # Loops with no way out: nodes from which no action ends the menu part of the call.
    def exits_directly(node_id: str) -> bool:
        node = nodes[node_id]
        if node.type == "menu" and effective_keys(menu, node).operator is not None:
            return True  # a person is always one key away
        fallback = node.after_max_tries or spec.defaults.after_max_tries
        if node.type == "menu" and fallback is None:
            return True  # default after max tries: operator or a goodbye
        for _, action in [*node_actions(node_id, node), *iter_actions(fallback, "")]:
            if action.kind in TERMINAL_KINDS:
                return True
            if action.kind == "info" and action.then is not None and action.then.hangup:
                return True
        return False

    can_exit = {n for n in nodes if exits_directly(n)}
    changed = True
    while changed:
        changed = False
        for node_id in nodes:
            if node_id not in can_exit and targets(node_id) & can_exit:
                can_exit.add(node_id)
                changed = True
    trapped = sorted(n for n in reachable if n not in can_exit)
    for node_id in trapped:
        add(
            f"nodes.{node_id}",
            f"node '{node_id}' is in a loop with no way out "
            f"(nothing ends the call from {', '.join(trapped)})",
        )

    # Every prompt in every language.
    for key, prompt in iter_prompts(spec):
        missing = [lang for lang in spec.languages if not prompt.covers(lang)]
        if missing:
            add(key, f"prompt has no text or audio for {', '.join(missing)}")

    return sorted(problems, key=lambda p: (p.line, p.message))
