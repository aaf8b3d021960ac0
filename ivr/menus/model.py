"""A loaded, checked menu: the parsed file plus what the engine needs at run time.

``Menu`` is immutable once built; hot reload swaps whole ``Menu`` objects, so a call
keeps the version it started with. Every prompt in the file gets a stable key (its
place in the file, e.g. ``nodes.main.prompt``) under which its media are resolved.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ivr.menus.schema import Action, MenuFile, Node, Prompt


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class MenuInvalid(Exception):
    """A menu file with errors; ``problems`` lists every one, each naming its line."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


PromptResolver = Callable[[Prompt, str], tuple[str, ...]]


@dataclass
class Menu:
    spec: MenuFile
    path: Path
    text: str
    lines: dict[tuple[str, ...], int]
    version: str = ""
    _media: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.version = hashlib.sha256(self.text.encode()).hexdigest()[:12]
        for key, prompt in iter_prompts(self.spec):
            prompt._key = key

    @property
    def name(self) -> str:
        return self.spec.menu

    def node(self, node_id: str) -> Node:
        return self.spec.nodes[node_id]

    def resolve_prompts(self, resolve: PromptResolver) -> None:
        """Turn every prompt into media URIs per language (TTS builds happen here)."""
        languages = self.spec.languages
        for key, prompt in iter_prompts(self.spec):
            by_language = {lang: resolve(prompt, lang) for lang in languages}
            for lang in languages:
                if prompt.play == "all":
                    # sound:<lang>/x names the file in that language's folder explicitly
                    # (Asterisk, like the simulator, finds it without the channel language).
                    self._media[(key, lang)] = tuple(
                        _in_language(uri, other)
                        for other in languages
                        for uri in by_language[other]
                    )
                else:
                    self._media[(key, lang)] = by_language[lang]

    def media(self, prompt: Prompt, language: str) -> tuple[str, ...]:
        found = self._media.get((prompt.key, language))
        if found is None:
            found = self._media.get((prompt.key, self.spec.default_language or ""), ())
        return found


def _in_language(uri: str, language: str) -> str:
    scheme, _, name = uri.partition(":")
    return f"sound:{language}/{name}" if scheme == "sound" else uri


def iter_actions(action: Action | None, key: str) -> Iterator[tuple[str, Action]]:
    """An action and the actions nested in it (``then``), with their keys."""
    while action is not None:
        yield key, action
        action, key = action.then, f"{key}.then"


def node_actions(node_id: str, node: Node) -> Iterator[tuple[str, Action]]:
    base = f"nodes.{node_id}"
    for digit, action in node.options.items():
        yield from iter_actions(action, f"{base}.options.{digit}")
    yield from iter_actions(node.after_max_tries, f"{base}.after_max_tries")
    for i, rule in enumerate(node.rules):
        yield from iter_actions(rule.then, f"{base}.rules.{i}.then")
    yield from iter_actions(node.else_, f"{base}.else")


def iter_prompts(spec: MenuFile) -> Iterator[tuple[str, Prompt]]:
    def from_action(key: str, action: Action) -> Iterator[tuple[str, Prompt]]:
        if action.info is not None:
            yield f"{key}.info", action.info
        if action.prompt is not None:
            yield f"{key}.prompt", action.prompt

    if spec.title is not None:
        yield "title", spec.title
    d = spec.defaults
    for name in ("invalid_prompt", "no_input_prompt"):
        p = getattr(d, name)
        if p is not None:
            yield f"defaults.{name}", p
    for key, action in iter_actions(d.after_max_tries, "defaults.after_max_tries"):
        yield from from_action(key, action)
    for node_id, node in spec.nodes.items():
        for name in ("prompt", "invalid_prompt", "no_input_prompt"):
            p = getattr(node, name)
            if p is not None:
                yield f"nodes.{node_id}.{name}", p
        for key, action in node_actions(node_id, node):
            yield from from_action(key, action)
