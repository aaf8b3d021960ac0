"""``hotline shifts check`` and ``hotline shifts show`` as a process: exit codes and output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.unit.agents.test_shifts import BASE, REPO, write


def hotline(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hotline.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        # config/shifts.yaml of the repository, not a site settings file.
        env={k: v for k, v in os.environ.items() if k != "HOTLINE_CONFIG"},
    )


def test_cli_check_ok_and_broken(tmp_path: Path) -> None:
    ok = hotline("shifts", "check")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == "config/shifts.yaml: ok (1 shift(s), 1 team(s))"
    broken = write(tmp_path, "shifts.yaml", BASE.replace("open: 4", "open: -1"))
    bad = hotline("shifts", "check", str(broken))
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        f"hotline: error: {broken}:13: rules.min_normal_on_duty_open: "
        "Input should be greater than or equal to 0 (got -1)"
    ]


def test_cli_show(tmp_path: Path) -> None:
    shown = hotline("shifts", "show", "--date", "2026-11-02")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("2026-11-02 (Monday), Asia/Shanghai\nshift day (teams: hotline)")
    assert "  13:00-17:00  on_post  afternoon session" in shown.stdout
    holiday = hotline("shifts", "show", "--date", "2026-10-01")
    assert "holiday (calendar default): no shifts" in holiday.stdout
    assert hotline("shifts", "show", "--date", "tomorrow").returncode == 2
