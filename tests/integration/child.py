"""``hotline run`` in a child process, configured only through HOTLINE_* variables: for
tests that kill, freeze or restart a controller the way an operator's machine would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from simulator.server import AriSimulator
from tests.integration.conftest import PASSWORD

REPO = Path(__file__).resolve().parents[2]


class ChildController:
    def __init__(
        self,
        sim: AriSimulator,
        db_url: str,
        prompts_dir: Path,
        log: Path,
        name: str,
        **settings: str,
    ) -> None:
        """``settings``: more HOTLINE_* variables, e.g. ``HOTLINE_IVR_MENU="crash"``."""
        self.env: dict[str, str] = {
            **os.environ,
            "HOTLINE_CONFIG": str(REPO / "config" / "hotline.toml"),
            "HOTLINE_NODE_NAME": name,
            "HOTLINE_ARI_URL": sim.base_url,
            "HOTLINE_ARI_PASSWORD": PASSWORD,
            "HOTLINE_ARI_BACKOFF_INITIAL": "0.05",
            "HOTLINE_ARI_BACKOFF_MAX": "0.5",
            "HOTLINE_ARI_PING_INTERVAL": "0.5",
            "HOTLINE_DATABASE_URL": db_url,
            "HOTLINE_WEB_ENABLED": "false",
            "HOTLINE_PATHS_PROMPTS_DIR": str(prompts_dir),
            **settings,
        }
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "hotline.cli", "run"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def signal(self, sig: int) -> None:
        """SIGSTOP / SIGCONT: freeze and thaw it (a starved or suspended machine)."""
        assert self.proc is not None
        os.kill(self.proc.pid, sig)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()  # SIGKILL: no cleanup, no goodbye, open records stay open
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)  # a frozen process cannot stop
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def tail(self, chars: int = 6000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def settings_env(values: Mapping[str, object]) -> dict[str, str]:
    """``{"acd.node_dead_after": 2}`` → ``{"HOTLINE_ACD_NODE_DEAD_AFTER": "2"}``."""
    return {"HOTLINE_" + k.replace(".", "_").upper(): str(v) for k, v in values.items()}
