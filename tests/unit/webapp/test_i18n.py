"""Every string the pages show exists in English and Chinese."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

import pytest
from flask import Flask

from agents.shifts import AlertKind
from webapp import i18n

WEBAPP = Path(__file__).resolve().parents[3] / "webapp"
# _('key' …) in templates, hotline.t('key' …) in scripts; keys built at runtime
# ('common.role.' ~ role) are listed by their prefix and checked separately.
TEMPLATE_KEY = re.compile(r"""_\(\s*['"]([a-z0-9_.]+)['"]""")
SCRIPT_KEY = re.compile(r"""\bt\(\s*['"]([a-z0-9_.]+)['"]""")


def used_keys() -> set[tuple[str, str]]:
    found = set()
    for path in (WEBAPP / "templates").rglob("*.html"):
        found |= {(path.name, k) for k in TEMPLATE_KEY.findall(path.read_text("utf-8"))}
    for path in (WEBAPP / "static").rglob("*.js"):
        found |= {(path.name, k) for k in SCRIPT_KEY.findall(path.read_text("utf-8"))}
    for path in WEBAPP.rglob("*.py"):
        text = path.read_text("utf-8")
        found |= {
            (path.name, k) for k in re.findall(r"""translate\(\s*['"]([a-z0-9_.]+)['"]""", text)
        }
    return found


def test_the_catalog_loads_with_both_languages_for_every_key() -> None:
    catalog = i18n.catalog()
    assert catalog, "no strings at all"
    for key, texts in catalog.items():
        assert set(texts) == {"en", "zh"}, key
        assert all(t.strip() for t in texts.values()), f"{key} has an empty text"


def test_every_key_the_pages_use_exists() -> None:
    missing = sorted(
        f"{where}: {key}"
        for where, key in used_keys()
        if not key.endswith(".") and key not in i18n.catalog()
    )
    assert not missing, "\n".join(missing)


@pytest.mark.parametrize("role", ["agent", "lead", "admin"])
def test_role_names_exist(role: str) -> None:
    assert f"common.role.{role}" in i18n.catalog()


def test_placeholders_are_the_same_in_both_languages() -> None:
    for key, texts in i18n.catalog().items():
        names = {lang: set(re.findall(r"{(\w+)}", text)) for lang, text in texts.items()}
        assert names["en"] == names["zh"], key


def test_translate_picks_the_language_and_fills_values() -> None:
    app = Flask(__name__)
    with app.test_request_context("/?lang=zh"):
        assert i18n.translate("login.throttled", minutes=3) == "失败次数过多，请 3 分钟后再试。"
        assert i18n.translate("login.throttled", "en", minutes=3).startswith("Too many")
        assert i18n.translate("no.such.key") == "no.such.key"


def test_a_key_missing_a_language_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "x.yaml").write_text('x.only_english: {en: "Hello"}\n', encoding="utf-8")
    monkeypatch.setattr(i18n, "_DIR", tmp_path)
    i18n.catalog.cache_clear()
    try:
        with pytest.raises(i18n.TranslationsInvalid, match=r"x\.only_english"):
            i18n.catalog()
    finally:
        monkeypatch.undo()
        i18n.catalog.cache_clear()


# Alert kinds raised outside the shift rules: by the queue engine (agents/engine.py).
ENGINE_ALERT_KINDS = ("missed_calls", "node_down")


def test_every_alert_kind_has_a_title_on_the_wallboard() -> None:
    """The wallboard titles each alert by its kind; a kind without a title would show its
    raw name (in English) on a Chinese page."""
    kinds = set(get_args(AlertKind)) | set(ENGINE_ALERT_KINDS)
    catalog = i18n.catalog()
    missing = sorted(k for k in kinds if f"wallboard.alert.{k}" not in catalog)
    assert not missing, missing
