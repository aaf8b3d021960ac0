"""``hotline menus check`` and ``hotline menus show`` as a process: every broken file
reported at its line, exit 2; clean menus exit 0."""

from __future__ import annotations

import subprocess
import sys

from tests.unit.menus.test_check import BROKEN, REPO


def test_cli_reports_every_broken_file_and_exits_2() -> None:
    files = sorted(str(p) for p in BROKEN.glob("*.yaml"))
    result = subprocess.run(
        [sys.executable, "-m", "hotline.cli", "menus", "check", *files],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert result.returncode == 2
    out = result.stdout.splitlines()
    assert f"{BROKEN / 'dangling.yaml'}:8: target node 'nowhere' does not exist" in out
    assert any(line.startswith(f"{BROKEN / 'duplicate.yaml'}:9:") for line in out)
    assert all(":" in line for line in out)
    assert "Traceback" not in result.stderr


def test_cli_clean_menus_exit_0_and_show_prints_the_tree() -> None:
    ok = subprocess.run(
        [sys.executable, "-m", "hotline.cli", "menus", "check"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "menus/telecom.yaml: ok" in ok.stdout
    shown = subprocess.run(
        [
            sys.executable,
            "-m",
            "hotline.cli",
            "menus",
            "show",
            "menus/telecom.yaml",
            "--language",
            "en",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert shown.returncode == 0
    assert "consult:" in shown.stdout
    assert "  5 → queue product (skill product)" in shown.stdout
