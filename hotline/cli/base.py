"""What every command family shares: how it gets the settings and a database session
(passed in by ``main``, so a test can hand in its own), the exit code for bad input, and
how a duration is shown."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING

from kernel.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

# Exit codes everywhere: 1 a refused change or unknown object, 2 bad input or config.
EXIT_CONFIG = 2


def error(message: object) -> None:
    """The one line a refused or bad command prints (stderr)."""
    print(f"hotline: error: {message}", file=sys.stderr)


SettingsLoader = Callable[[argparse.Namespace], Settings]
SessionOpener = Callable[[Settings], AbstractContextManager["Session"]]


def in_state_for(since: datetime, now: datetime) -> str:
    """``"1h05m"``, ``"12m03s"``, ``"45s"``: how long a seat has been in its state."""
    seconds = max(0, int((now - since).total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"
