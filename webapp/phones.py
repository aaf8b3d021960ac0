"""Agents' phones as the pages and the APIs show them: ``phone`` (``ready``, ``offline``,
``busy``) and ``phone_reason`` (why it is offline, else null) beside an agent's seat.

What the controllers' Asterisks see is stored per node (``agents.phone_store``); an agent
nobody reported on counts as ready (nothing is known against their phone).
"""

from __future__ import annotations

from collections.abc import Mapping

from agents import phone_store
from agents.phone_store import PhoneStatus, PhoneView
from webapp.db import db

READY = PhoneView(PhoneStatus.READY)

PhoneViews = Mapping[int, PhoneView]


def phone_views() -> PhoneViews:
    """Every agent's phone now (read once per answer, not once per agent)."""
    return phone_store.statuses(db())


def phone_fields(views: PhoneViews, agent_id: int) -> dict[str, str | None]:
    """``{"phone": …, "phone_reason": …}`` of one agent."""
    view = views.get(agent_id, READY)
    return {
        "phone": view.status.value,
        "phone_reason": view.reason if view.status is PhoneStatus.OFFLINE else None,
    }
