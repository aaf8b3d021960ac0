"""Callback requests: one per call and source, replays are no-ops, oldest first."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from callbacks.requests import open_requests, request_callback, request_from_api
from ticketdb.models import CallbackRequest

T0 = datetime(2026, 11, 2, 18, 0, tzinfo=UTC)


def request(s: Session, channel_id: str = "c1", **overrides: Any) -> None:
    args: dict[str, Any] = {
        "node": "node-a",
        "channel_id": channel_id,
        "number": "+86 138 0000 0001",
        "requested_at": T0,
        "source": "ivr",
        "language": "zh",
    }
    args.update(overrides)
    request_callback(s, **args)


def test_request_is_recorded_normalised(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        request(s)
    with sessions() as s:
        (row,) = open_requests(s)
    assert (row.node, row.channel_id, row.number, row.source, row.language, row.status) == (
        "node-a",
        "c1",
        "+8613800000001",
        "ivr",
        "zh",
        "open",
    )
    assert row.requested_at == T0 and row.requested_at.tzinfo is UTC
    assert row.note is None


def test_replays_are_idempotent_and_the_first_request_stands(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as s:
        request(s)
        request(s, requested_at=T0 + timedelta(minutes=5), number="13900000002")
        request(s)
        # The same call asking again from the queue is a separate request.
        request(s, source="queue", requested_at=T0 + timedelta(minutes=1))
    with sessions() as s:
        rows = open_requests(s)
    assert [(r.source, r.number, r.requested_at) for r in rows] == [
        ("ivr", "+8613800000001", T0),
        ("queue", "+8613800000001", T0 + timedelta(minutes=1)),
    ]


def test_concurrent_replays_make_one_row(sessions: sessionmaker[Session]) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def run() -> None:
        barrier.wait()
        try:
            with sessions() as s:
                request(s)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with sessions() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(CallbackRequest)) == 1


def test_open_requests_oldest_first_and_only_open(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        request(s, "late", requested_at=T0 + timedelta(hours=1))
        request(s, "early", requested_at=T0 - timedelta(hours=1))
        request(s, "middle")
        request(s, "done", requested_at=T0 - timedelta(hours=2))
        s.execute(
            sa.update(CallbackRequest)
            .where(CallbackRequest.channel_id == "done")
            .values(status="done")
        )
        s.commit()
        assert [r.channel_id for r in open_requests(s)] == ["early", "middle", "late"]


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [({"source": "web"}, "source must be one of"), ({"number": "anonymous"}, "not a phone")],
)
def test_bad_requests_are_refused(
    sessions: sessionmaker[Session], overrides: dict[str, Any], problem: str
) -> None:
    with sessions() as s:
        with pytest.raises(ValueError, match=problem):
            request(s, **overrides)
        assert open_requests(s) == []
        # The session stays usable after a refused request.
        request(s)
        assert len(open_requests(s)) == 1


def test_a_request_through_the_api_is_keyed_by_the_clients_key(
    sessions: sessionmaker[Session],
) -> None:
    from ticketdb.customers import upsert_customer

    with sessions() as s:
        customer = upsert_customer(s, phone="13800000001", name="Wang", tier="member")
        first, added = request_from_api(
            s, key="crm-1", number="+86 138 0000 0001", requested_at=T0, note="after 3pm",
            due_at=T0 + timedelta(days=1),
        )  # fmt: skip
        assert added is True
        assert (first.source, first.status, first.number, first.customer_id) == (
            "api",
            "open",
            "+8613800000001",
            None,  # the customer's number is stored without +86
        )
        again, added = request_from_api(s, key="crm-1", number="13800000009", requested_at=T0)
        assert (added, again.id, again.number, again.note) == (
            False,
            first.id,
            "+8613800000001",
            "after 3pm",
        )
        other, added = request_from_api(s, key="crm-2", number="138-0000-0001", requested_at=T0)
        assert added and other.customer_id == customer.id and other.due_at is None
        with pytest.raises(ValueError, match="not a phone number"):
            request_from_api(s, key="crm-3", number="call me", requested_at=T0)
        with pytest.raises(ValueError, match="key"):
            request_from_api(s, key="", number="13800000001", requested_at=T0)
        assert len(open_requests(s)) == 2
