"""Helpers for the in-process CLI tests: run one ``hotline`` command through the parser as
``hotline/cli/main.py`` registers it (same settings loader and session opener) and capture what it
prints; put a config file in the site (see conftest.py) where the settings look for it."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hotline.cli.base import SessionOpener, SettingsLoader
from hotline.cli.main import _db_session, _settings

AddParser = Callable[[Any, SettingsLoader, SessionOpener], object]


def run_cli(
    capsys: pytest.CaptureFixture[str], add_parser: AddParser, *argv: str
) -> tuple[int, str, str]:
    """``(exit code, stdout, stderr)`` of ``hotline *argv`` with only ``add_parser``'s commands
    registered; output printed before the call is discarded."""
    parser = argparse.ArgumentParser(prog="hotline")
    parser.add_argument("--config")
    sub = parser.add_subparsers(dest="command", required=True)
    add_parser(sub, _settings, _db_session)
    capsys.readouterr()
    args = parser.parse_args(argv)
    code = int(args.func(args))
    out, err = capsys.readouterr()
    return code, out, err


def write_site_file(site: Path, monkeypatch: pytest.MonkeyPatch, name: str, text: str) -> None:
    """``text`` as ``<name>.yaml`` in the site, with HOTLINE_PATHS_<NAME>_FILE pointing at it."""
    path = site / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv(f"HOTLINE_PATHS_{name.upper()}_FILE", str(path))
