"""The command line as an operator uses it: real processes, real sockets."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).parents[3]


def hotline(
    *args: str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hotline.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )


@pytest.fixture
def env(tmp_path: Path, prompts_dir: Path, built_prompts: object) -> dict[str, str]:
    return {
        **os.environ,
        "HOTLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'calls.sqlite3'}",
        "HOTLINE_PATHS_DATA_DIR": str(tmp_path / "var"),
        "HOTLINE_PATHS_PROMPTS_DIR": str(prompts_dir),
        "HOTLINE_PATHS_MOH_DIR": str(tmp_path / "moh"),
    }


def test_demo_runs_by_itself_and_its_calls_are_listed(env: dict[str, str]) -> None:
    demo = hotline("demo", "--duration", "15", env=env)
    assert demo.returncode == 0, demo.stderr[-3000:]
    assert "Traceback" not in demo.stderr
    assert "dials 6000" in demo.stdout
    listed = hotline("calls", "--json", "--limit", "50", env=env)
    assert listed.returncode == 0, listed.stderr
    calls = json.loads(listed.stdout)
    completed = [c for c in calls if c["complete"]]
    assert len(completed) >= 3
    for call in completed:
        assert call["caller_number"].startswith("+86")
        assert call["dialled_number"] == "6000"
        assert call["ended_at"] >= call["started_at"]
        assert call["hangup_side"] in ("caller", "system")
    # Every call the demo placed was logged exactly once.
    assert len({c["channel_id"] for c in calls}) == len(calls)
    table = hotline("calls", env=env)
    assert table.returncode == 0 and "6000" not in table.stderr
    assert completed[0]["channel_id"] in table.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_run_against_an_unreachable_asterisk_says_so_and_keeps_trying(
    env: dict[str, str],
) -> None:
    """Also: `hotline run` serves the web page on the production server meanwhile."""
    import urllib.request

    port, web_port = _free_port(), _free_port()
    run_env = {
        **env,
        "HOTLINE_ARI_URL": f"http://127.0.0.1:{port}",
        "HOTLINE_ARI_PASSWORD": "not-used",
        "HOTLINE_ARI_BACKOFF_INITIAL": "0.1",
        "HOTLINE_ARI_BACKOFF_MAX": "0.3",
        "HOTLINE_WEB_SECRET_KEY": "a-test-key-" + "0" * 32,
        "HOTLINE_WEB_PORT": str(web_port),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "hotline.cli", "run"],
        env=run_env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        lines: list[str] = []
        assert proc.stdout is not None
        while sum("cannot connect" in line for line in lines) < 3:
            assert time.monotonic() < deadline, "".join(lines)
            line = proc.stdout.readline()
            assert line, "".join(lines)  # the process must not die
            lines.append(line)
        # The page comes up beside the reconnecting controller: wait for it to answer.
        while True:
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{web_port}/login", timeout=10)
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, "".join(lines)
                time.sleep(0.1)
        with page:
            assert page.status == 200
            assert page.headers["Server"] == "hotline"  # cheroot, not Flask's dev server
            assert b'name="staff_number"' in page.read()
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    output = "".join(lines) + rest
    assert proc.returncode == 0
    assert "Traceback" not in output
    assert f"127.0.0.1:{port}" in output
    assert "reconnecting in" in output


def test_run_without_a_web_secret_exits_2_naming_the_key(env: dict[str, str]) -> None:
    result = hotline("run", env={**env, "HOTLINE_ARI_PASSWORD": "x"}, timeout=30)
    assert result.returncode == 2
    assert "web.secret_key" in result.stderr and "web.enabled" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_run_without_an_ari_password_exits_2_naming_the_key(env: dict[str, str]) -> None:
    env = {k: v for k, v in env.items() if k != "HOTLINE_ARI_PASSWORD"}
    result = hotline("run", env=env, timeout=30)
    assert result.returncode == 2
    assert "ari.password" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_db_upgrade_then_calls_on_an_empty_database(env: dict[str, str]) -> None:
    up = hotline("db", "upgrade", env=env, timeout=60)
    assert up.returncode == 0, up.stderr
    assert "up to date" in up.stdout
    listed = hotline("calls", "--json", env=env, timeout=60)
    assert listed.returncode == 0
    assert json.loads(listed.stdout) == []


async def test_simulate_serves_ari_standalone(env: dict[str, str], prompts_dir: Path) -> None:
    import aiohttp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # A plain child process; the test only polls it over HTTP.
    proc = subprocess.Popen(  # noqa: ASYNC220
        [
            sys.executable,
            "-m",
            "hotline.cli",
            "simulate",
            "--port",
            str(port),
            "--password",
            "s3cret-for-test",
            "--sounds-dir",
            str(prompts_dir),
        ],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    token = base64.b64encode(b"hotline:s3cret-for-test").decode()
    auth = {"Authorization": f"Basic {token}"}
    try:
        async with aiohttp.ClientSession() as http:
            deadline = time.monotonic() + 30
            while True:
                try:
                    async with http.get(f"{base}/ari/asterisk/ping", headers=auth) as r:
                        if r.status == 200:
                            assert (await r.json())["ping"] == "pong"
                            break
                except aiohttp.ClientError:
                    pass
                assert time.monotonic() < deadline, "simulator did not start"
                await asyncio.sleep(0.1)
            async with http.get(f"{base}/ari/channels") as r:
                assert r.status == 401
            line = "call 6000 from +8613800000001, wait 0.1 s, press 2, hang up after 1 s"
            async with http.post(f"{base}/_sim/calls", json={"line": line}, headers=auth) as r:
                assert r.status == 201
                placed = await r.json()
            # No controller is connected: Asterisk's fallback answers and apologises.
            call_url = f"{base}/_sim/calls/{placed['channel_id']}"
            while True:
                async with http.get(call_url, headers=auth) as r:
                    state = await r.json()
                if state["state"] == "ended":
                    break
                assert time.monotonic() < deadline + 30
                await asyncio.sleep(0.1)
            assert state["caller_number"] == "+8613800000001"
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=15)
    assert f"{base}/ari" in out
    assert "Traceback" not in out


def test_prompts_build_with_menus_reports_every_file(env: dict[str, str]) -> None:
    result = hotline("prompts", "build", "--menus", env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith(("built", "cached"))]
    prompts = [line for line in lines if line.split()[1] != "moh"]
    menu_files = [line for line in prompts if "/custom/tts/" in line]
    assert menu_files, result.stdout
    for line in prompts:
        _status, lang, uri, path, seconds = line.split()
        assert lang in ("zh", "en") and uri.startswith("sound:custom/")
        assert Path(path).exists() and float(seconds.rstrip("s")) > 0
    # Then the music on hold, into paths.moh_dir.
    [moh] = [line.split() for line in lines if line.split()[1] == "moh"]
    assert moh[2] == "default" and Path(moh[3]).parent == Path(env["HOTLINE_PATHS_MOH_DIR"])
    prompts_summary, _moh_line, moh_summary = result.stdout.splitlines()[-3:]
    assert "menu)" in prompts_summary and moh_summary.startswith("music on hold: ")


def test_menus_check_rejects_a_bad_live_menu_at_start(env: dict[str, str], tmp_path: Path) -> None:
    menus = tmp_path / "menus"
    menus.mkdir()
    (menus / "telecom.yaml").write_text(
        (REPO / "menus" / "telecom.yaml").read_text().replace("{menu: queries}", "{menu: nowhere}")
    )
    bad_env = {
        **env,
        "HOTLINE_PATHS_MENUS_DIR": str(menus),
        "HOTLINE_ARI_PASSWORD": "x",
        "HOTLINE_WEB_ENABLED": "false",
    }
    result = hotline("run", env=bad_env, timeout=120)
    assert result.returncode == 2
    assert "telecom.yaml:" in result.stderr and "'nowhere' does not exist" in result.stderr
    assert "Traceback" not in result.stderr
