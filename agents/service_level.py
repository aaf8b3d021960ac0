"""The one definition of the service level that the wallboard, the lead's API, the admin
page and the reports all print, so the same day never shows two different figures."""

from __future__ import annotations


def service_level(answered_on_time: int, answered: int) -> float | None:
    """Calls answered within the queue's target wait ÷ calls answered (Asterisk
    app_queue's service level); None while none were answered. Callers who gave up are
    reported beside it as the abandonment rate, not folded into it."""
    return answered_on_time / answered if answered else None
