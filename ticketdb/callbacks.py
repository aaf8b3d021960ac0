"""Callback requests: callers who asked to be called back instead of waiting.

A request may be replayed (the controller retries a write whose commit it could not
confirm, or a re-adopted call repeats its last step), so it is keyed by the call and
where it was made — ``(node, channel_id, source)`` — and inserted with
``ON CONFLICT DO NOTHING``: the first request stands, repeats change nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ticketdb.customers import normalise_phone
from ticketdb.models import CallbackRequest
from ticketdb.sql import insert, transaction

SOURCES = ("ivr", "queue")


def request_callback(
    s: Session,
    *,
    node: str,
    channel_id: str,
    number: str,
    requested_at: datetime,
    source: str,
    language: str,
) -> None:
    """Record that the caller on this call wants a callback on ``number``; commits.

    Raises ValueError for an unknown source or a number that is not a phone number
    (a withheld caller ID cannot be called back).
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)} (got {source!r})")
    values: dict[str, Any] = {
        "node": node,
        "channel_id": channel_id,
        "number": normalise_phone(number),
        "requested_at": requested_at,
        "source": source,
        "language": language[:8],
        "status": "open",
    }
    keys = ["node", "channel_id", "source"]
    with transaction(s):
        s.execute(
            insert(s, CallbackRequest).values(**values).on_conflict_do_nothing(index_elements=keys)
        )


def open_requests(s: Session) -> list[CallbackRequest]:
    """Requests not yet handled, oldest first."""
    stmt = (
        select(CallbackRequest)
        .where(CallbackRequest.status == "open")
        .order_by(CallbackRequest.requested_at, CallbackRequest.id)
    )
    return list(s.scalars(stmt))
