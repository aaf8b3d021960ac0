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
    except RecursionError:  # PyYAML's parser recurses once per level of nesting
        raise SourceError(1, "not valid YAML: nested too deeply") from None
    lines: dict[Path_, int] = {}
    if root is None:
        return None, lines
    constructor = yaml.SafeLoader("")
    return _build(root, (), lines, constructor, _Walk()), lines


# Aliases let a few lines stand for a huge tree ("billion laughs"); no config file of
# ours comes near this many values, or this deep.
MAX_VALUES = 100_000
MAX_DEPTH = 64


class _Walk:
    """The nodes being built (an alias inside itself recurses forever) and a count."""

    def __init__(self) -> None:
        self.open: set[int] = set()
        self.values = 0


def _scalar(node: yaml.Node, c: yaml.SafeLoader) -> Any:
    try:
        return c.construct_object(node)
    except yaml.MarkedYAMLError as exc:  # an unknown or misused tag (!!python/…, !!binary)
        raise SourceError(node.start_mark.line + 1, f"not valid YAML: {exc.problem}") from None
    except (ValueError, TypeError, AttributeError, ArithmeticError, LookupError):
        # A value its tag or form can't hold: a date 2026-13-45, "!!int foo" …
        raise SourceError(
            node.start_mark.line + 1, f"not a valid value: {str(node.value)[:40]!r}"
        ) from None


def _build(
    node: yaml.Node, path: Path_, lines: dict[Path_, int], c: yaml.SafeLoader, walk: _Walk
) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    walk.values += 1
    if walk.values > MAX_VALUES:
        raise SourceError(node.start_mark.line + 1, f"more than {MAX_VALUES} values (aliases?)")
    if id(node) in walk.open:
        raise SourceError(node.start_mark.line + 1, "an alias refers to a value containing it")
    if len(path) > MAX_DEPTH:
        raise SourceError(node.start_mark.line + 1, f"nested more than {MAX_DEPTH} levels deep")
    if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
        walk.open.add(id(node))
        try:
            return _build_collection(node, path, lines, c, walk)
        finally:
            walk.open.discard(id(node))
    return _scalar(node, c)


def _build_collection(
    node: yaml.MappingNode | yaml.SequenceNode,
    path: Path_,
    lines: dict[Path_, int],
    c: yaml.SafeLoader,
    walk: _Walk,
) -> Any:
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise SourceError(key_node.start_mark.line + 1, "mapping keys must be plain values")
            key = _scalar(key_node, c)
            # Digits as keys: `1:` and `"1":` mean the same option.
            key = str(key).lower() if isinstance(key, bool) else str(key)
            if key in out:
                raise SourceError(key_node.start_mark.line + 1, f"duplicate key '{key}'")
            lines[(*path, key)] = key_node.start_mark.line + 1
            out[key] = _build(value_node, (*path, key), lines, c, walk)
        return out
    return [_build(item, (*path, str(i)), lines, c, walk) for i, item in enumerate(node.value)]


def line_of(lines: dict[Path_, int], loc: tuple[object, ...]) -> int:
    """The line of the deepest known prefix of ``loc`` (pydantic error locations)."""
    path = tuple(str(p) for p in loc)
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return lines.get((), 1)
