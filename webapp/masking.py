"""Callers' phone numbers, masked for roles that do not need them (``web.full_number_roles``).

The middle digits go (``13812345678`` → ``138****5678``): enough for an agent to confirm
"the number ending 5678" with the caller, not enough to copy a customer list. Click-to-call
dials by record id, so a masked agent can still call back.
"""

from __future__ import annotations

from flask import current_app

from ticketdb.models import Agent
from webapp.auth import current_agent


def mask(number: str) -> str:
    """``number`` with all but its first 3 and last 4 digits replaced by ``*``."""
    digits = [i for i, ch in enumerate(number) if ch.isdigit()]
    if len(digits) <= 7:
        keep = set(digits[-2:])  # short numbers (extensions) keep only their end
    else:
        # A leading +86 is not worth hiding: skip the country code when counting the head.
        head = 5 if number.startswith("+86") else 3
        keep = set(digits[:head]) | set(digits[-4:])
    return "".join("*" if i in digits and i not in keep else ch for i, ch in enumerate(number))


def sees_full_numbers(agent: Agent | None) -> bool:
    roles = current_app.config.get("HOTLINE_FULL_NUMBER_ROLES", ("lead", "admin"))
    return agent is not None and agent.role in roles


def shown_number(number: str | None) -> str:
    """The number as the logged-in user may see it."""
    if not number:
        return ""
    return number if sees_full_numbers(current_agent()) else mask(number)
