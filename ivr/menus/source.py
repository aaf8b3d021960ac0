"""YAML with line numbers: every value's line, and duplicate keys caught.

PyYAML silently keeps the last of two equal keys — in a menu that hides an option —
so mappings are built here from the composed node tree, refusing duplicates and
remembering where each key and item sits for error messages (``file:line: …``).
"""

from __future__ import annotations

from typing import Any

import yaml

Path_ = tuple[str, ...]


class SourceError(ValueError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def load(text: str) -> tuple[Any, dict[Path_, int]]:
    """Parse YAML text; returns the data and a map from key path to line number."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise SourceError(line, f"not valid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise SourceError(1, f"not valid YAML: {exc}") from None
    lines: dict[Path_, int] = {}
    if root is None:
        return None, lines
    constructor = yaml.SafeLoader("")
    return _build(root, (), lines, constructor), lines


def _build(node: yaml.Node, path: Path_, lines: dict[Path_, int], c: yaml.SafeLoader) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise SourceError(key_node.start_mark.line + 1, "mapping keys must be plain values")
            key = c.construct_object(key_node)
            # Digits as keys: `1:` and `"1":` mean the same option.
            key = str(key).lower() if isinstance(key, bool) else str(key)
            if key in out:
                raise SourceError(key_node.start_mark.line + 1, f"duplicate key '{key}'")
            lines[(*path, key)] = key_node.start_mark.line + 1
            out[key] = _build(value_node, (*path, key), lines, c)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*path, str(i)), lines, c) for i, item in enumerate(node.value)]
    return c.construct_object(node)


def line_of(lines: dict[Path_, int], loc: tuple[object, ...]) -> int:
    """The line of the deepest known prefix of ``loc`` (pydantic error locations)."""
    path = tuple(str(p) for p in loc)
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return lines.get((), 1)
