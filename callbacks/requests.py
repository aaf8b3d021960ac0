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

from ticketdb.customers import find_by_phone, normalise_phone
from ticketdb.models import CallbackRequest
from ticketdb.sql import insert, transaction

SOURCES = ("ivr", "queue")
# Asked for by an integration (the CRM API): keyed node="" and channel_id="api:<its key>"
# like the worklist's generated items, so a retried request adds nothing.
API_SOURCE = "api"
API_KEY_PREFIX = "api:"
MAX_API_KEY = 100


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


def request_from_api(
    s: Session,
    *,
    key: str,
    number: str,
    requested_at: datetime,
    due_at: datetime | None = None,
    note: str | None = None,
    customer_id: int | None = None,
    ticket_id: int | None = None,
    assigned_to: int | None = None,
) -> tuple[CallbackRequest, bool]:
    """A callback an integration asks for, on the worklist like the generated ones (due
    ``due_at``; unassigned items are shared out); commits. ``key`` is the client's
    idempotency key: repeating it returns the first request unchanged, with False.
    Without ``customer_id`` the customer is found by the number. ValueError for a bad
    number or key."""
    if not key or len(key) > MAX_API_KEY:
        raise ValueError(f"key: 1-{MAX_API_KEY} characters")
    phone = normalise_phone(number)
    if customer_id is None:
        customer = find_by_phone(s, phone)
        customer_id = customer.id if customer is not None else None
    channel_id = API_KEY_PREFIX + key
    with transaction(s):
        added = s.scalar(
            insert(s, CallbackRequest)
            .values(
                node="",
                channel_id=channel_id,
                number=phone,
                requested_at=requested_at,
                source=API_SOURCE,
                language="",
                status="open",
                note=note,
                customer_id=customer_id,
                ticket_id=ticket_id,
                assigned_to=assigned_to,
                due_at=due_at,
            )
            .on_conflict_do_nothing(index_elements=["node", "channel_id", "source"])
            .returning(CallbackRequest.id)
        )
    found = s.scalars(
        select(CallbackRequest)
        .where(
            CallbackRequest.node == "",
            CallbackRequest.channel_id == channel_id,
            CallbackRequest.source == API_SOURCE,
        )
        .execution_options(populate_existing=True)
    ).one()
    return found, added is not None
