"""The access audit log, on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from ticketdb.audit import entries_for, record_access


def test_every_access_is_kept_in_order(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        record_access(
            s, actor="1001", role="agent", action="view", object_type="ticket", object_id=7
        )
        record_access(
            s, actor="9001", role="lead", action="play", object_type="recording", object_id="7"
        )
        record_access(
            s, actor="9001", role="lead", action="view", object_type="ticket", object_id=7
        )
        got = [(e.actor, e.action) for e in entries_for(s, "ticket", 7)]
    assert got == [("1001", "view"), ("9001", "view")]


def test_unknown_action_or_object_is_refused(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        with pytest.raises(ValueError, match="action"):
            record_access(
                s, actor="a", role="agent", action="peek", object_type="ticket", object_id=1
            )
        with pytest.raises(ValueError, match="object_type"):
            record_access(
                s, actor="a", role="agent", action="view", object_type="diary", object_id=1
            )
        assert entries_for(s, "ticket", 1) == []
