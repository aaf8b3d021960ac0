"""The wallboard's data on both back ends: alerts as events (raised, refreshed, cleared),
handover notes with their generated summary, and live queue figures with Erlang C."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from agents.erlang import agents_needed
from agents.lead_store import (
    add_handover_note,
    alerts_since,
    clear_alert,
    handover_notes,
    open_alerts,
    queue_stats,
    raise_alert,
    record_alert_changes,
)
from agents.queue_config import QueueCatalog, QueueConfig
from agents.shifts import Alert, AlertChanges
from callbacks.requests import request_callback
from ticketdb.models import Call, CallbackRequest, LeadAlert, QueueEntry

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)

UNDERSTAFFED = Alert("understaffed", "critical", "1 normal seat on duty (minimum 4)")
AWAY_7 = Alert("overdue_away", "warning", "Li has been away for 11 min, 1 min over", 7)
AWAY_8 = Alert("overdue_away", "warning", "Wu has been away for 12 min, 2 min over", 8)


def changes(
    raised: tuple[Alert, ...] = (), cleared: tuple[Alert, ...] = (), active: tuple[Alert, ...] = ()
) -> AlertChanges:
    return AlertChanges(raised, cleared, active)


def all_alerts(s: Session) -> list[tuple[str, int | None, str, datetime, datetime | None]]:
    rows = s.scalars(select(LeadAlert).order_by(LeadAlert.id))
    return [(r.kind, r.agent_id, r.message, r.raised_at, r.cleared_at) for r in rows]


# --- alerts -------------------------------------------------------------------------


def test_raised_alerts_are_stored_and_cleared_ones_closed(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as s:
        record_alert_changes(
            s,
            changes(raised=(UNDERSTAFFED, AWAY_7, AWAY_8)),
            node="node-a",
            now=T0,
        )
        t1 = T0 + timedelta(seconds=5)
        record_alert_changes(
            s, changes(cleared=(AWAY_7,), active=(UNDERSTAFFED, AWAY_8)), node="node-a", now=t1
        )
    with sessions() as s:
        assert all_alerts(s) == [
            ("understaffed", None, UNDERSTAFFED.message, T0, None),
            ("overdue_away", 7, AWAY_7.message, T0, t1),
            ("overdue_away", 8, AWAY_8.message, T0, None),
        ]
        opened = open_alerts(s)
        assert [(a.kind, a.agent_id, a.severity, a.node) for a in opened] == [
            ("understaffed", None, "critical", "node-a"),
            ("overdue_away", 8, "warning", "node-a"),
        ]


def test_raising_an_open_alert_again_updates_it_and_active_ones_keep_current_wording(
    sessions: sessionmaker[Session],
) -> None:
    later = Alert("overdue_away", "warning", "Li has been away for 13 min, 3 min over", 7)
    with sessions() as s:
        record_alert_changes(s, changes(raised=(AWAY_7,)), node="node-a", now=T0)
        # A restarted monitor raises it again: the open row takes the new wording.
        record_alert_changes(
            s, changes(raised=(later,)), node="node-b", now=T0 + timedelta(minutes=2)
        )
    with sessions() as s:
        assert all_alerts(s) == [("overdue_away", 7, later.message, T0, None)]
    outside = Alert("understaffed", "warning", "1 normal seat on duty outside market hours")
    with sessions() as s:
        record_alert_changes(s, changes(raised=(UNDERSTAFFED,)), node="n", now=T0)
        record_alert_changes(s, changes(active=(outside, AWAY_7)), node="n", now=T0)
    with sessions() as s:
        rows = {(a.kind, a.agent_id): a for a in open_alerts(s)}
    assert len(rows) == 2
    assert (rows["understaffed", None].severity, rows["understaffed", None].message) == (
        "warning",
        outside.message,
    )
    assert rows["overdue_away", 7].message == AWAY_7.message


def test_clearing_an_alert_that_is_not_open_changes_nothing(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as s:
        record_alert_changes(s, changes(cleared=(AWAY_7,)), node="n", now=T0)
        record_alert_changes(s, changes(raised=(AWAY_8,)), node="n", now=T0)
        record_alert_changes(s, changes(cleared=(AWAY_7,)), node="n", now=T0)
    with sessions() as s:
        assert all_alerts(s) == [("overdue_away", 8, AWAY_8.message, T0, None)]


def test_one_off_alerts_raise_once_and_clear_once(sessions: sessionmaker[Session]) -> None:
    args: dict[str, Any] = {
        "kind": "missed_calls",
        "severity": "warning",
        "message": "Li set away after 3 missed calls",
        "node": "node-a",
    }
    t1, t2 = T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)
    with sessions() as s:
        assert raise_alert(s, agent_id=7, now=T0, **args) is True
        assert raise_alert(s, agent_id=7, now=t1, **{**args, "message": "again"}) is False
        # Another agent (or none) is another alert.
        assert raise_alert(s, agent_id=8, now=t1, **args) is True
        assert raise_alert(s, agent_id=None, now=t1, **args) is True
        assert clear_alert(s, kind="missed_calls", agent_id=7, now=t2) is True
        assert clear_alert(s, kind="missed_calls", agent_id=7, now=t2) is False
        assert clear_alert(s, kind="overdue_away", agent_id=8, now=t2) is False
        assert raise_alert(s, agent_id=7, now=t2, **args) is True
    with sessions() as s:
        assert all_alerts(s) == [
            ("missed_calls", 7, args["message"], T0, t2),
            ("missed_calls", 8, args["message"], t1, None),
            ("missed_calls", None, args["message"], t1, None),
            ("missed_calls", 7, args["message"], t2, None),
        ]
        assert [(a.agent_id, a.raised_at) for a in open_alerts(s)] == [
            (8, t1),
            (None, t1),
            (7, t2),
        ]


def test_alerts_since_are_those_raised_or_cleared_since(sessions: sessionmaker[Session]) -> None:
    t = [T0 + timedelta(minutes=m) for m in range(6)]
    with sessions() as s:
        record_alert_changes(s, changes(raised=(AWAY_7,)), node="n", now=t[0])  # cleared t[3]
        record_alert_changes(s, changes(raised=(AWAY_8,)), node="n", now=t[1])  # stays open
        record_alert_changes(s, changes(raised=(UNDERSTAFFED,)), node="n", now=t[4])
        record_alert_changes(s, changes(cleared=(AWAY_7,)), node="n", now=t[3])
    with sessions() as s:
        assert [(a.kind, a.agent_id) for a in alerts_since(s, t[2])] == [
            ("overdue_away", 7),
            ("understaffed", None),
        ]
        assert [a.agent_id for a in alerts_since(s, t[1])] == [7, 8, None]
        assert alerts_since(s, t[5]) == []


# --- handover notes -----------------------------------------------------------------


def entry(channel_id: str, queue: str, status: str, entered_at: datetime) -> QueueEntry:
    return QueueEntry(
        node="node-a",
        channel_id=channel_id,
        queue=queue,
        status=status,
        arrived_at=entered_at,
        entered_at=entered_at,
    )


def test_handover_note_summarises_what_is_open(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        for i in range(55):
            request_callback(
                s,
                node="node-a",
                channel_id=f"cb{i}",
                number=f"1380000{i:04d}",
                requested_at=T0 - timedelta(minutes=60 - i),
                source="queue",
                language="zh",
            )
        s.execute(
            update(CallbackRequest)
            .where(CallbackRequest.channel_id.in_(["cb0", "cb1"]))
            .values(status="done")
        )
        s.execute(
            update(CallbackRequest)
            .where(CallbackRequest.channel_id == "cb2")
            .values(queue="sales", attempts=2)
        )
        s.add_all(
            [
                entry("w1", "sales", "waiting", T0),
                entry("w2", "sales", "offered", T0),
                entry("w3", "support", "waiting", T0),
                entry("w4", "support", "callback", T0),
                entry("w5", "sales", "dialing", T0),
                entry("w6", "sales", "connected", T0),
                entry("w7", "sales", "done", T0),
            ]
        )
        s.commit()
        record_alert_changes(s, changes(raised=(UNDERSTAFFED, AWAY_7)), node="n", now=T0)
        record_alert_changes(s, changes(cleared=(AWAY_7,)), node="n", now=T0)
        note = add_handover_note(
            s,
            team="hotline",
            author="8001",
            text="  Printer in row 2 is broken.  ",
            now=T0 + timedelta(hours=1),
            shift_ending="day",
        )
    with sessions() as s:
        (stored,) = handover_notes(s)
        first = s.scalars(select(CallbackRequest).where(CallbackRequest.channel_id == "cb2")).one()
    assert stored.id == note.id
    assert (stored.team, stored.author, stored.text, stored.at) == (
        "hotline",
        "8001",
        "Printer in row 2 is broken.",
        T0 + timedelta(hours=1),
    )
    assert (stored.shift_ending, stored.shift_starting) == ("day", None)
    summary = stored.summary
    assert summary["open_callbacks"] == 53
    items = summary["callbacks"]
    assert len(items) == 50
    # Oldest open first: cb0 and cb1 are done.
    assert items[0] == {
        "id": first.id,
        "number": "13800000002",
        "queue": "sales",
        "requested_at": (T0 - timedelta(minutes=58)).isoformat(),
        "attempts": 2,
    }
    assert items[-1]["number"] == "13800000051"
    assert summary["alerts"] == [
        {"kind": "understaffed", "severity": "critical", "message": UNDERSTAFFED.message}
    ]
    assert summary["waiting"] == {"sales": 2, "support": 1}
    assert summary["queued_callbacks"] == {"sales": 1, "support": 1}


def test_handover_notes_newest_first_by_team(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        for minutes, team in [(0, "day"), (30, "evening"), (10, "day"), (20, "day")]:
            add_handover_note(
                s,
                team=team,
                author="8001",
                text=f"{team} {minutes}",
                now=T0 + timedelta(minutes=minutes),
            )
        with pytest.raises(ValueError, match="text"):
            add_handover_note(s, team="day", author="8001", text="  ", now=T0)
        with pytest.raises(ValueError, match="team"):
            add_handover_note(s, team="", author="8001", text="x", now=T0)
    with sessions() as s:
        assert [n.text for n in handover_notes(s)] == ["evening 30", "day 20", "day 10", "day 0"]
        assert [n.text for n in handover_notes(s, team="day", limit=2)] == ["day 20", "day 10"]
        assert handover_notes(s, team="night") == []


# --- queue statistics ---------------------------------------------------------------

NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def ago(minutes: float = 0, seconds: float = 0) -> datetime:
    return NOW - timedelta(minutes=minutes, seconds=seconds)


def call(
    channel_id: str,
    queue: str,
    entered: datetime,
    answered: datetime | None = None,
    ended: datetime | None = None,
    wait: float | None = None,
    reason: str | None = None,
) -> Call:
    return Call(
        node="node-a",
        channel_id=channel_id,
        started_at=entered - timedelta(seconds=20),
        queue=queue,
        queue_entered_at=entered,
        agent_answered_at=answered,
        ended_at=ended,
        wait_seconds=wait,
        end_reason=reason,
    )


def answered_call(channel_id: str, entered: datetime, wait: float, talk: float) -> Call:
    answered = entered + timedelta(seconds=wait)
    return call(
        channel_id,
        "sales",
        entered,
        answered,
        answered + timedelta(seconds=talk),
        wait,
        "caller_hangup",
    )


CATALOG = QueueCatalog(
    {"support": frozenset(), "sales": frozenset(), "quiet": frozenset()},
    frozenset(),
    MappingProxyType(
        {
            "support": QueueConfig("support"),
            "sales": QueueConfig("sales", service_level_seconds=20, wrap_up_seconds=30),
            "quiet": QueueConfig("quiet", wrap_up_seconds=30),
        }
    ),
)


def test_queue_stats_on_hand_made_rows(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        s.add_all(
            [
                # sales, window (NOW-10min, NOW]: waits 5, 10, 20, 40 s; talks 2-5 min.
                answered_call("c1", ago(9), 5, 120),
                answered_call("c2", ago(8), 10, 180),
                answered_call("c3", ago(7), 20, 240),
                answered_call("c4", ago(6), 40, 300),
                call("c5", "sales", ago(3), ended=ago(2), reason="abandoned"),
                # On a call still; no wait_seconds: the wait is answered - entered (30 s).
                call("c6", "sales", ago(1), answered=ago(seconds=30)),
                # Entered before the window, answered (after 330 s) and ended inside it.
                call("c8", "sales", ago(15), ago(9, 30), ago(8), 330, "caller_hangup"),
                # Entered exactly at the window's start: outside (half-open), abandoned in it.
                call("c10", "sales", ago(10), ended=ago(9), reason="abandoned"),
                # Before the window altogether.
                call("c7", "sales", ago(20), ago(19), ago(12), 60, "caller_hangup"),
                call("c9", "sales", ago(30), ended=ago(25), reason="abandoned"),
                # quiet: a long call answered before the window, ended in it.
                call("c11", "quiet", ago(30), ago(29), ago(5), 60, "caller_hangup"),
                # Not a configured queue: ignored.
                call("g1", "ghost", ago(1), ago(1), ago(0.5), 1, "caller_hangup"),
                entry("e1", "support", "waiting", ago(seconds=90)),
                entry("e2", "support", "waiting", ago(seconds=30)),
                entry("e3", "support", "offered", ago(seconds=200)),
                entry("e4", "support", "callback", ago(seconds=900)),
                entry("e5", "support", "dialing", ago(seconds=800)),
                entry("e6", "support", "connected", ago(seconds=1000)),
                entry("e7", "sales", "connected", ago(seconds=1000)),
                entry("e8", "ghost", "waiting", ago(seconds=5000)),
            ]
        )
        s.commit()
        stats = queue_stats(s, CATALOG, NOW, window_minutes=10)

    assert [q.queue for q in stats] == ["support", "sales", "quiet"]
    support, sales, quiet = stats

    assert (support.waiting, support.callbacks_waiting, support.longest_wait_seconds) == (3, 2, 200)
    assert (support.answered, support.abandoned, support.arrivals_per_hour) == (0, 0, 0)
    assert support.service_level is None
    assert support.mean_handle_seconds is None and support.agents_needed is None

    assert (sales.waiting, sales.callbacks_waiting, sales.longest_wait_seconds) == (0, 0, None)
    assert sales.answered == 6  # c1-c4, c6, c8
    assert sales.abandoned == 2  # c5, c10
    assert sales.service_level == pytest.approx(3 / 6)  # 5, 10, 20 of 5, 10, 20, 40, 30, 330
    assert sales.arrivals_per_hour == pytest.approx(6 * 6)  # c1-c6 in 10 minutes
    # Talk of c1-c4 and c8 (120, 180, 240, 300, 90) plus the 30 s wrap-up.
    assert sales.mean_handle_seconds == pytest.approx(186 + 30)
    expected = agents_needed(36.0, 216.0, target_seconds=20, target_level=0.8).agents
    assert sales.agents_needed == expected
    assert expected >= 3  # 2.16 Erlangs: a real estimate, not a degenerate one

    # No arrivals in the window: nobody needed, though a handle time is known.
    assert (quiet.answered, quiet.arrivals_per_hour) == (0, 0)
    assert quiet.mean_handle_seconds == pytest.approx(24 * 60 + 30)
    assert quiet.agents_needed == 0


def test_queue_stats_window_and_service_level_threshold(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        s.add_all(
            [
                answered_call("c1", ago(50), 20, 60),  # exactly on the 20 s threshold: on time
                answered_call("c2", ago(40), 21, 60),
            ]
        )
        s.commit()
        (_, sales, _) = queue_stats(s, CATALOG, NOW)  # default: the last hour
        (_, narrow, _) = queue_stats(s, CATALOG, NOW, window_minutes=45)
        with pytest.raises(ValueError, match="window_minutes"):
            queue_stats(s, CATALOG, NOW, window_minutes=0)
    assert (sales.answered, sales.service_level, sales.arrivals_per_hour) == (2, 0.5, 2.0)
    assert sales.agents_needed == agents_needed(2.0, 90.0, target_seconds=20).agents
    assert (narrow.answered, narrow.service_level, narrow.arrivals_per_hour) == (
        1,
        0.0,
        1 * 60 / 45,
    )
