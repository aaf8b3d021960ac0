"""The Call model on both back ends: aware UTC datetimes, JSON columns, defaults."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session, sessionmaker

from ticketdb.models import Call

SHANGHAI = timezone(timedelta(hours=8))


def test_datetimes_round_trip_as_aware_utc(sessions: sessionmaker[Session]) -> None:
    local = datetime(2026, 11, 2, 18, 30, 15, 123456, tzinfo=SHANGHAI)
    with sessions() as s:
        s.add(Call(node="n1", channel_id="c1", started_at=local, answered_at=local))
        s.commit()
    with sessions() as s:
        if s.get_bind().dialect.name == "postgresql":
            # The server answers in the session's zone; the type must still give UTC.
            s.execute(sa.text("SET TIME ZONE 'America/New_York'"))
        row = s.scalars(sa.select(Call)).one()
        for value in (row.started_at, row.answered_at, row.updated_at):
            assert value is not None
            assert value.tzinfo is UTC
        assert row.started_at == local
        assert row.started_at.hour == 10  # 18:30 at +08:00 is 10:30 UTC
        assert row.ended_at is None


def test_datetime_comparisons_in_sql_follow_time_order(sessions: sessionmaker[Session]) -> None:
    t = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
    with sessions() as s:
        # Same instant ordering must hold whatever zone the values were given in.
        s.add(Call(node="n", channel_id="early", started_at=t.astimezone(SHANGHAI)))
        s.add(Call(node="n", channel_id="late", started_at=t + timedelta(minutes=1)))
        s.commit()
        later = s.scalars(sa.select(Call.channel_id).where(Call.started_at > t)).all()
        ordered = s.scalars(sa.select(Call.channel_id).order_by(Call.started_at)).all()
    assert later == ["late"]
    assert ordered == ["early", "late"]


def test_naive_datetimes_are_refused(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        s.add(Call(node="n", channel_id="c", started_at=datetime(2026, 1, 1, 12, 0)))
        with pytest.raises(StatementError, match="naive datetime"):
            s.commit()


def test_defaults_and_json_round_trip(sessions: sessionmaker[Session]) -> None:
    t = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
    state = {"phase": "menu", "digits": ["1", "2"], "nested": {"n": 1, "ok": True}}
    with sessions() as s:
        s.add(Call(node="n", channel_id="bare", started_at=t))
        s.add(Call(node="n", channel_id="full", started_at=t, menu_path=["main", "2"], state=state))
        s.commit()
    with sessions() as s:
        bare = s.scalars(sa.select(Call).where(Call.channel_id == "bare")).one()
        full = s.scalars(sa.select(Call).where(Call.channel_id == "full")).one()
    assert (bare.caller_number, bare.caller_name, bare.dialled_number, bare.language) == (
        "",
        "",
        "",
        "",
    )
    assert bare.menu_path == []
    assert bare.state is None
    assert not bare.is_complete
    assert full.menu_path == ["main", "2"]
    assert full.state == state


def test_is_complete_needs_end_time_and_reason() -> None:
    t = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
    call = Call(node="n", channel_id="c", started_at=t)
    assert not call.is_complete
    call.ended_at = t
    assert not call.is_complete
    call.end_reason = "caller_hangup"
    assert call.is_complete
