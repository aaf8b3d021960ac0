"""The outbox on both databases: what is due, claiming, attempts with backoff, giving up,
and the in-app inbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from kernel.backoff import RetryPolicy
from ticketdb.models import Notification
from tickets.outbox import (
    attempts_for,
    backlog,
    claim,
    due_emails,
    inbox,
    list_notifications,
    mark_read,
    record_attempt,
)

NOW = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)
BACKOFF = RetryPolicy(initial=30, factor=2, max=100, max_attempts=4)
LEASE = timedelta(minutes=2)


def add(
    sessions: sessionmaker[Session],
    recipient: str,
    *,
    channel: str = "email",
    rule: str = "r",
    severity: str = "normal",
    created: datetime = NOW,
    next_attempt_at: datetime | None = None,
) -> int:
    with sessions() as s:
        n = Notification(
            ticket_id=None,
            rule=rule,
            channel=channel,
            recipient=recipient,
            subject=f"to {recipient}",
            body="body",
            severity=severity,
            created_at=created,
            next_attempt_at=next_attempt_at,
        )
        s.add(n)
        s.commit()
        return n.id


def test_backoff_grows_is_capped_and_jittered_by_at_most_a_tenth() -> None:
    middle = lambda: 0.5  # noqa: E731 - no jitter
    assert [BACKOFF.delay(n, middle) for n in (1, 2, 3, 4)] == [30, 60, 100, 100]
    assert BACKOFF.delay(1, lambda: 0.0) == pytest.approx(27)
    assert BACKOFF.delay(1, lambda: 0.999999) == pytest.approx(33, rel=1e-5)


def test_due_email_oldest_first_and_not_before_its_time(sessions: sessionmaker[Session]) -> None:
    later = add(sessions, "b@x", created=NOW - timedelta(minutes=1))
    first = add(sessions, "a@x", created=NOW - timedelta(minutes=5))
    add(sessions, "c@x", next_attempt_at=NOW + timedelta(seconds=1))
    add(sessions, "lead", channel="inapp")
    retry = add(sessions, "d@x", created=NOW - timedelta(minutes=9), next_attempt_at=NOW)
    with sessions() as s:
        assert [n.id for n in due_emails(s, NOW)] == [retry, first, later]
        assert [n.id for n in due_emails(s, NOW, limit=1)] == [retry]
        assert backlog(s) == 4


def test_a_claimed_message_is_not_claimed_again_until_the_lease_runs_out(
    sessions: sessionmaker[Session],
) -> None:
    nid = add(sessions, "a@x")
    with sessions() as a, sessions() as b:
        assert claim(a, nid, NOW, LEASE)
        assert not claim(b, nid, NOW, LEASE)
        assert due_emails(b, NOW) == []
        # A sender that died mid-send: the message is due again after the lease.
        assert claim(b, nid, NOW + LEASE, LEASE)


def test_failures_back_off_then_give_up_every_attempt_recorded(
    sessions: sessionmaker[Session],
) -> None:
    nid = add(sessions, "a@x")
    at = NOW
    with sessions() as s:
        for expected_wait in (30, 60, 100):
            assert claim(s, nid, at, LEASE)
            n = record_attempt(s, nid, False, "connection refused", at, BACKOFF, lambda: 0.5)
            assert n.status == "pending" and n.last_error == "connection refused"
            assert n.next_attempt_at == at + timedelta(seconds=expected_wait)
            assert not claim(s, nid, at + timedelta(seconds=expected_wait - 1), LEASE)
            at = n.next_attempt_at
        assert claim(s, nid, at, LEASE)
        n = record_attempt(s, nid, False, "still refused", at, BACKOFF, lambda: 0.5)
        assert (n.status, n.attempts, n.next_attempt_at) == ("failed", 4, None)
        assert not claim(s, nid, at + timedelta(days=1), LEASE)
        tries = attempts_for(s, nid)
        assert [(t.ok, t.error) for t in tries] == [(False, "connection refused")] * 3 + [
            (False, "still refused")
        ]
        assert backlog(s) == 0
        assert [x.id for x in list_notifications(s, status="failed")] == [nid]


def test_success_marks_sent(sessions: sessionmaker[Session]) -> None:
    nid = add(sessions, "a@x")
    with sessions() as s:
        assert claim(s, nid, NOW, LEASE)
        n = record_attempt(s, nid, True, None, NOW, BACKOFF)
        assert (n.status, n.sent_at, n.next_attempt_at, n.attempts) == ("sent", NOW, None, 1)
        assert [(t.ok, t.error) for t in attempts_for(s, nid)] == [(True, None)]
        assert due_emails(s, NOW + timedelta(days=1)) == []
        with pytest.raises(ValueError, match="status must be one of"):
            list_notifications(s, status="lost")


def test_inbox_is_by_role_or_staff_number_urgent_first(sessions: sessionmaker[Session]) -> None:
    old_urgent = add(
        sessions, "lead", channel="inapp", severity="urgent", created=NOW - timedelta(hours=2)
    )
    newest = add(sessions, "lead", channel="inapp", rule="a", created=NOW)
    mine = add(sessions, "9001", channel="inapp", rule="b", created=NOW - timedelta(hours=1))
    add(sessions, "9002", channel="inapp", rule="c")
    add(sessions, "agent", channel="inapp", rule="d")
    add(sessions, "lead", channel="email")  # an e-mail address that happens to say "lead"
    with sessions() as s:
        assert [n.id for n in inbox(s, ("lead", "9001"))] == [old_urgent, newest, mine]
        assert inbox(s, ()) == []
        assert mark_read(s, newest, ("agent", "8001"), NOW) is None  # not theirs
        read = mark_read(s, newest, ("lead", "9001"), NOW)
        assert read is not None and (read.status, read.sent_at) == ("read", NOW)
        again = mark_read(s, newest, ("lead", "9001"), NOW + timedelta(hours=1))
        assert again is not None and again.sent_at == NOW
        unread = inbox(s, ("lead", "9001"), unread_only=True)
        assert [n.id for n in unread] == [old_urgent, mine]
