"""``hotline customers add|import|show`` as an operator runs them, on both back ends."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def hotline(db_url: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env["HOTLINE_DATABASE_URL"] = db_url
    # No config/hotline.toml in cwd: the defaults plus the environment apply.
    return subprocess.run(
        [sys.executable, "-m", "hotline.cli", "customers", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_add_then_show_then_update(db_url: str, tmp_path: Path) -> None:
    missing = hotline(db_url, tmp_path, "show", "+8613800000001")
    assert missing.returncode == 1
    assert "no customer with that number" in missing.stdout

    added = hotline(
        db_url, tmp_path, "add", "0086 138 0000 0001", "--name", "Zhang Wei", "--tier", "vip"
    )
    assert added.returncode == 0, added.stderr
    assert "+8613800000001" in added.stdout

    shown = hotline(db_url, tmp_path, "show", "+86 138-0000-0001")
    assert shown.returncode == 0, shown.stderr
    fields = dict(line.split(None, 1) for line in shown.stdout.splitlines())
    assert fields["phone"] == "+8613800000001"
    assert fields["name"] == "Zhang Wei"
    assert fields["tier"] == "vip"

    changed = hotline(
        db_url, tmp_path, "add", "+8613800000001", "--name", "Zhang Wei", "--tier", "member"
    )
    assert changed.returncode == 0, changed.stderr
    shown = hotline(db_url, tmp_path, "show", "+8613800000001")
    assert "tier     member" in shown.stdout


def test_bad_input_is_a_usage_error(db_url: str, tmp_path: Path) -> None:
    bad_tier = hotline(db_url, tmp_path, "add", "+1", "--name", "X", "--tier", "gold")
    assert bad_tier.returncode == 2
    assert "invalid choice" in bad_tier.stderr
    bad_phone = hotline(db_url, tmp_path, "add", "nobody", "--name", "X", "--tier", "vip")
    assert bad_phone.returncode == 2
    assert "not a phone number" in bad_phone.stderr


def test_import_sample_and_bad_file(db_url: str, tmp_path: Path) -> None:
    sample = REPO / "config" / "customers.sample.csv"
    imported = hotline(db_url, tmp_path, "import", str(sample))
    assert imported.returncode == 0, imported.stderr
    assert "imported 6 customer(s)" in imported.stdout
    assert "tier     member" in hotline(db_url, tmp_path, "show", "+8613900000002").stdout

    bad = tmp_path / "bad.csv"
    bad.write_text("phone,name,tier\n+8613000000007,New,vip\n+8613000000008,Bad,gold\n")
    failed = hotline(db_url, tmp_path, "import", str(bad))
    assert failed.returncode == 1
    assert f"{bad}:3: tier must be one of" in failed.stderr
    assert "nothing imported" in failed.stderr
    assert hotline(db_url, tmp_path, "show", "+8613000000007").returncode == 1
