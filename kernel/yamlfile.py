"""YAML with line numbers: every value's line, and duplicate keys caught.

PyYAML silently keeps the last of two equal keys — in a menu that hides an option —
so mappings are built here from the composed node tree, refusing duplicates and
remembering where each key and item sits for error messages (``file:line: …``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

Path_ = tuple[str, ...]
Lines = dict[Path_, int]
M = TypeVar("M", bound=BaseModel)


class SourceError(ValueError):
    """A file that is not readable YAML; ``line`` None when no line applies."""

    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message

    def at(self, path: Path | str) -> str:
        """``path:line: message`` (``path: message`` without a line)."""
        where = f"{path}:{self.line}" if self.line is not None else f"{path}"
        return f"{where}: {self.message}"


def read(path: Path, what: str = "", *, unreadable_line: int | None = 1) -> tuple[Any, Lines]:
    """Read and compose the YAML file ``path``: its data and every key path's line.

    Every problem is a ``SourceError``: a file that cannot be read (``cannot read
    <what>: …``, at ``unreadable_line``), text that is not UTF-8, YAML that is not valid.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        named = f" {what}" if what else ""
        raise SourceError(unreadable_line, f"cannot read{named}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise SourceError(1, "not UTF-8 text") from None
    return load(text)


def pydantic_problem(err: Mapping[str, Any]) -> tuple[tuple[object, ...], str]:
    """One pydantic error as (key path, problem) in the words our messages use."""
    # Dict-key errors end in "[key]"; validator names ("function-after[...]") aren't places.
    loc = tuple(p for p in err["loc"] if "[" not in str(p))
    problem = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        problem = "unknown key"
    elif err["type"] == "missing":
        problem = "required"
    elif err["type"] != "value_error" and isinstance(err.get("input"), str | int | float):
        problem += f" (got {err['input']!r})"
    return loc, problem


class CheckedError(ValueError):
    """``load_checked``'s error: one line, ``file:line: key: problem``."""


def load_checked(path: Path, model: type[M], what: str = "") -> tuple[M, Lines]:
    """Read ``path`` and validate it as ``model``; the first problem (by line) raises
    ``CheckedError`` naming the file, the line and the key."""
    try:
        data, lines = read(path, what)
    except SourceError as exc:
        raise CheckedError(exc.at(path)) from None
    try:
        return model.model_validate(data if data is not None else {}), lines
    except ValidationError as exc:
        found = [pydantic_problem(e) for e in exc.errors()]
        loc, problem = min(found, key=lambda f: line_of(lines, f[0]))
        key = ".".join(str(p) for p in loc) or "(top level)"
        raise CheckedError(f"{path}:{line_of(lines, loc)}: {key}: {problem}") from None


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
