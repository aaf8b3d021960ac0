"""The clock: aware UTC instants. Code that decides by time takes a clock (a callable
returning ``datetime``) so tests can give it another; this is the real one."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now, in UTC, timezone-aware."""
    return datetime.now(UTC)
