"""The live menu from settings: which file, its queues and calendar, its prompt media."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from agents.queue_config import QueueCatalog, load_queues
from ivr.menus.loader import load_menu
from ivr.menus.model import Menu, PromptResolver, iter_prompts
from ivr.menus.registry import MenuRegistry
from ivr.menus.schema import Prompt

if TYPE_CHECKING:
    from ivr.prompts.library import PromptLibrary
    from kernel.settings import Settings


def live_menu_path(settings: Settings) -> Path:
    return settings.paths.menus_dir / f"{settings.ivr.menu}.yaml"


def queue_catalog(settings: Settings) -> QueueCatalog | None:
    path = settings.paths.queues_file
    return load_queues(path) if path.exists() else None


def calendar_names(settings: Settings) -> list[str] | None:
    path = settings.paths.calendar_file
    if not path.exists():
        return None
    from kernel.calendar import load_calendars

    return list(load_calendars(path).names)


def audio_paths(prompt: Prompt, languages: list[str], base: Path) -> dict[str, Path]:
    """A prompt's recordings per language, relative paths taken from the menu's folder."""
    out: dict[str, Path] = {}
    for lang in languages:
        rel = prompt.audio_for(lang)
        if rel:
            out[lang] = (base / rel) if not Path(rel).is_absolute() else Path(rel)
    return out


def resolver_for(library: PromptLibrary, menu_dir: Path, languages: list[str]) -> PromptResolver:
    def resolve(prompt: Prompt, language: str) -> tuple[str, ...]:
        return library.prompt(prompt.texts, audio_paths(prompt, languages, menu_dir), language)

    return resolve


def make_registry(settings: Settings, library: PromptLibrary) -> MenuRegistry:
    path = live_menu_path(settings)
    languages: list[str] = list(settings.ivr.languages)

    return MenuRegistry(
        path,
        resolver_for(library, path.parent, languages),
        queues=lambda: queue_catalog(settings),
        calendars=lambda: calendar_names(settings),
    )


def load_live_menu(settings: Settings) -> Menu:
    return load_menu(live_menu_path(settings), queue_catalog(settings), calendar_names(settings))


def load_live_prompt_texts(settings: Settings) -> Iterator[tuple[str, str]]:
    """Every (language, text) the live menu speaks (for ``hotline prompts build --menus``)."""
    menu = load_live_menu(settings)
    for _, prompt in iter_prompts(menu.spec):
        yield from prompt.texts.items()


def load_live_prompt_audio(settings: Settings) -> Iterator[tuple[str, Path]]:
    menu = load_live_menu(settings)
    for _, prompt in iter_prompts(menu.spec):
        yield from (
            (lang, path)
            for lang, path in audio_paths(prompt, menu.spec.languages, menu.path.parent).items()
        )
