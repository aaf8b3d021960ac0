"""A bad settings file stops every command with one line naming the file, line and key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize("command", [["calls"], ["db", "upgrade"], ["run"]])
def test_cli_exits_2_with_one_line_naming_the_key(tmp_path: Path, command: list[str]) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[ari]\nping_timeout = "soon"\n')
    proc = subprocess.run(
        [sys.executable, "-m", "hotline.cli", "--config", str(cfg), *command],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"hotline: error: {cfg}:2: ari.ping_timeout: ")
