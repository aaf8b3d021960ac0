"""``hotline demo`` as a newcomer uses it: a real process serving the web page, with the
users it prints, the softphone, and simulated agents answering the scripted callers."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).parents[3]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def env(tmp_path: Path, prompts_dir: Path, built_prompts: object) -> dict[str, str]:
    return {
        **os.environ,
        "HOTLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'calls.sqlite3'}",
        "HOTLINE_PATHS_DATA_DIR": str(tmp_path / "var"),
        "HOTLINE_PATHS_PROMPTS_DIR": str(prompts_dir),
        "HOTLINE_WEB_PORT": str(_free_port()),
        "HOTLINE_OPS_PORT": "0",
    }


class Browser:
    """Just enough of a browser: cookies, the CSRF token of the last page, JSON calls."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        self.csrf = ""

    def page(self, path: str, form: dict[str, str] | None = None) -> tuple[int, str]:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        try:
            with self.opener.open(self.base + path, data=data, timeout=20) as answer:
                status, text = answer.status, answer.read().decode()
        except urllib.error.HTTPError as exc:
            status, text = exc.code, exc.read().decode()
        found = re.search(r'name="csrf-token" content="([^"]+)"', text)
        if found:
            self.csrf = found.group(1)
        return status, text

    def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        request = urllib.request.Request(
            self.base + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Content-Type": "application/json", "X-CSRF-Token": self.csrf},
        )
        try:
            with self.opener.open(request, timeout=20) as answer:
                raw = answer.read()
                return answer.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def login(self, staff_number: str, password: str) -> int:
        self.page("/login")
        status, text = self.page(
            "/login",
            {"staff_number": staff_number, "password": password, "csrf_token": self.csrf},
        )
        return status if f"({staff_number}," in text else 401


def test_demo_serves_the_page_with_a_user_of_each_role_and_the_softphone(
    env: dict[str, str],
) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "hotline.cli", "demo", "--duration", "30"],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 120
        while not any(line.startswith("softphone: ") for line in lines):
            assert time.monotonic() < deadline, "".join(lines)
            line = proc.stdout.readline()
            assert line, "".join(lines)  # the demo must not die
            lines.append(line)
        url = next(re.search(r"web page: (\S+)/ ", x) for x in lines if "web page: " in x)
        assert url is not None
        base = url.group(1)
        assert base == f"http://127.0.0.1:{env['HOTLINE_WEB_PORT']}"
        users = {
            m.group(1): (m.group(2), m.group(3))
            for m in (
                re.match(r"\s+(agent|lead|admin)\s+(\S+)\s.*password: (\S+)$", x) for x in lines
            )
            if m
        }
        assert set(users) == {"agent", "lead", "admin"}, "".join(lines)
        assert users["lead"][0] == "8001"  # the sample's lead; the sample has no admin
        for role, (staff_number, password) in users.items():
            assert Browser(base).login(staff_number, password) == 200, role
        assert Browser(base).login(users["agent"][0], "wrong-password") == 401

        # The agent calls the hotline from the softphone and hears its first prompt.
        agent = Browser(base)
        agent.login(*users["agent"])
        status, text = agent.page("/softphone")
        assert status == 200 and 'id="dial-form"' in text
        status, call = agent.api("POST", "/softphone/api/calls", {"from": "+8613500000005"})
        assert status == 201, call
        deadline = time.monotonic() + 20
        while True:
            status, seen = agent.api("GET", f"/softphone/api/calls/{call['channel_id']}")
            assert status == 200
            if seen["heard"]:
                break
            assert time.monotonic() < deadline, seen
            time.sleep(0.1)
        with urllib.request.urlopen(base + "/softphone", timeout=10) as anonymous:
            assert "/login" in anonymous.url  # the page needs a login
        status, _ = agent.api("POST", f"/softphone/api/calls/{call['channel_id']}/hangup")
        assert status == 200

        rest, _ = proc.communicate(timeout=120)
        lines.append(rest)
    finally:
        if proc.poll() is None:
            proc.kill()
    output = "".join(lines)
    assert proc.returncode == 0, output[-3000:]
    assert "Traceback" not in output
    # Simulated agents answered scripted callers, each after their own ring time.
    answered = re.findall(r"answered by agent (\d+) after ([\d.]+) s", output)
    assert answered, output[-3000:]
