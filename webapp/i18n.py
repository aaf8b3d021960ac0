"""The web page in English and Chinese, chosen per user.

Strings live in ``webapp/i18n/<area>.yaml``, one file per page area, each key giving
both languages::

    agent.status.available: {en: Available, zh: 空闲}

All files are read once at import; a key in two files, or a key missing a language, is
an error at start-up (and in the unit test), never a blank on the page. Templates call
``_("key", name=...)`` (``str.format`` placeholders); scripts get the strings of their
page through ``strings_for(prefixes)`` rendered into the page.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml
from flask import current_app, g, has_request_context, request, session

LANGUAGES = ("en", "zh")
LANGUAGE_NAMES = {"en": "English", "zh": "中文"}
_DIR = Path(__file__).resolve().parent / "i18n"


class TranslationsInvalid(Exception):
    pass


@cache
def catalog() -> dict[str, dict[str, str]]:
    """Every key → {language: text}, merged from all area files."""
    merged: dict[str, dict[str, str]] = {}
    for path in sorted(_DIR.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise TranslationsInvalid(f"{path}: expected a mapping of keys")
        for key, texts in data.items():
            if key in merged:
                raise TranslationsInvalid(f"{path}: key {key!r} is also in another file")
            if not isinstance(texts, dict) or set(texts) != set(LANGUAGES):
                raise TranslationsInvalid(
                    f"{path}: key {key!r} needs exactly the languages {', '.join(LANGUAGES)}"
                )
            merged[str(key)] = {lang: str(texts[lang]) for lang in LANGUAGES}
    return merged


def current_language() -> str:
    """The logged-in user's language, else the session's choice, else the site default."""
    if has_request_context():
        chosen = g.get("ui_language")
        if chosen in LANGUAGES:
            return str(chosen)
        picked = request.args.get("lang") or session.get("lang")
        if picked in LANGUAGES:
            return str(picked)
    default = current_app.config.get("HOTLINE_DEFAULT_LANGUAGE", "en")
    return str(default)


def translate(key: str, language: str | None = None, /, **values: object) -> str:
    """The text of ``key`` in ``language`` (default: the current one). An unknown key is
    shown as itself so a missing string is visible, and the unit test finds it."""
    texts = catalog().get(key)
    if texts is None:
        return key
    text = texts[language or current_language()]
    return text.format(**values) if values else text


def strings_for(*prefixes: str) -> dict[str, str]:
    """The current language's texts of every key starting with one of ``prefixes``, for a
    page's script."""
    language = current_language()
    return {
        key: texts[language]
        for key, texts in catalog().items()
        if any(key.startswith(p) for p in prefixes)
    }
