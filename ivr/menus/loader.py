"""Reading menu files: YAML → typed model → whole-menu checks, every error with its line."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pydantic import ValidationError

from agents.queue_config import QueueCatalog
from ivr.menus.check import check
from ivr.menus.model import Menu, MenuInvalid, Problem
from ivr.menus.schema import MenuFile
from kernel import yamlfile


def _clean_loc(loc: tuple[int | str, ...]) -> tuple[str, ...]:
    # pydantic adds validator names ("function-after[...]") to locations; they are not
    # places in the file.
    return tuple(str(p) for p in loc if "[" not in str(p))


def parse_menu(path: Path, text: str | None = None) -> Menu:
    """Parse and type-check one file (no cross-checks). Raises ``MenuInvalid``."""
    name = str(path)
    if text is None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise MenuInvalid([Problem(name, 1, f"cannot read: {exc.strerror}")]) from None
        except UnicodeDecodeError:
            raise MenuInvalid([Problem(name, 1, "not UTF-8 text")]) from None
    try:
        data, lines = yamlfile.load(text)
    except yamlfile.SourceError as exc:
        raise MenuInvalid([Problem(name, exc.line or 1, exc.message)]) from None
    if not isinstance(data, dict):
        raise MenuInvalid([Problem(name, 1, "a menu file must be a mapping (menu:, nodes: …)")])
    try:
        spec = MenuFile.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = _clean_loc(err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key"
            where = ".".join(loc)
            problems.append(
                Problem(name, yamlfile.line_of(lines, loc), f"{where}: {msg}" if where else msg)
            )
        raise MenuInvalid(sorted(set(problems), key=lambda p: (p.line, p.message))) from None
    return Menu(spec, path, text, lines)


def load_menu(
    path: Path,
    queues: QueueCatalog | None = None,
    calendars: Iterable[str] | None = None,
    text: str | None = None,
) -> Menu:
    """Parse and check one menu file; ``MenuInvalid`` lists every problem found."""
    menu = parse_menu(path, text)
    problems = check(menu, queues, calendars)
    if problems:
        raise MenuInvalid(problems)
    return menu
