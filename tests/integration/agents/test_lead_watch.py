"""The lead's watch on a real SQLite database: staffing alerts raised and cleared as seats
change, automatic handover notes at shift changes, resync after a restart, and the
running loop with the real clock."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from agents.lead_store import open_alerts, raise_alert
from agents.lead_watch import LeadWatch
from agents.seat_store import add_agent, set_state
from agents.shift_file import load_shifts
from agents.shifts import ShiftConfig
from ticketdb.engine import make_engine, make_sessionmaker
from ticketdb.migrate import upgrade
from ticketdb.models import HandoverNote, LeadAlert

# 2026-11-02 is a Monday.
DAY = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)

TWO_SHIFTS = """\
timezone: UTC
teams:
  day: {}
  evening: {}
shifts:
  day:
    teams: [day]
    days: mon-sun
    periods:
      - {at: "08:00-16:00", kind: on_post}
  evening:
    teams: [evening]
    days: mon-sun
    periods:
      - {at: "16:00-24:00", kind: on_post}
rules:
  min_normal_on_duty_open: 2
  min_normal_on_duty_outside: 1
  max_away_at_once: 1
  away_minutes_limit: 10
  lead_absence_needs_acting_lead: false
"""

ALL_DAY = """\
timezone: UTC
teams:
  hotline: {}
shifts:
  all_day:
    teams: [hotline]
    days: mon-sun
    periods:
      - {at: "00:00-24:00", kind: on_post}
rules:
  min_normal_on_duty_open: 1
  lead_absence_needs_acting_lead: false
"""


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    upgrade(sqlite_url)
    eng = make_engine(sqlite_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(engine)


def shifts(tmp_path: Path, text: str) -> ShiftConfig:
    path = tmp_path / "shifts.yaml"
    path.write_text(text, encoding="utf-8")
    return load_shifts(path)


def agent(
    sessions: sessionmaker[Session], staff: str, team: str, away_limit: int | None = None
) -> int:
    with sessions() as s:
        return add_agent(
            s,
            staff_number=staff,
            name=f"Agent {staff}",
            endpoint=f"PJSIP/{staff}",
            team=team,
            away_limit_minutes=away_limit,
        ).id


def seat(
    sessions: sessionmaker[Session],
    agent_id: int,
    state: str,
    now: datetime,
    reason: str | None = None,
) -> None:
    with sessions() as s:
        set_state(s, agent_id=agent_id, to_state=state, by="system", reason=reason, now=now)


def stored(sessions: sessionmaker[Session]) -> list[tuple[str, int | None, datetime | None]]:
    with sessions() as s:
        rows = s.scalars(select(LeadAlert).order_by(LeadAlert.id))
        return [(r.kind, r.agent_id, r.cleared_at) for r in rows]


def test_understaffed_is_raised_then_cleared(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    a, b = agent(sessions, "8001", "day"), agent(sessions, "8002", "day")
    clock = Clock(DAY)
    watch = LeadWatch(sessions, shifts(tmp_path, TWO_SHIFTS), "node-a", clock)

    changes = watch.tick()
    assert [a.kind for a in changes.raised] == ["understaffed"]
    assert "0 normal seats on duty while the market is open (minimum 2)" in (
        changes.raised[0].message
    )
    with sessions() as s:
        (row,) = open_alerts(s)
    assert (row.kind, row.severity, row.node, row.raised_at) == (
        "understaffed",
        "critical",
        "node-a",
        DAY,
    )
    assert row.message == changes.raised[0].message

    clock.at += timedelta(seconds=1)
    assert watch.tick().raised == ()  # still true: no second row
    seat(sessions, a, "available", clock.at)
    clock.at += timedelta(seconds=1)
    watch.tick()
    with sessions() as s:
        (row,) = open_alerts(s)
    assert row.message.startswith("1 normal seat on duty")  # the wording follows the roster

    seat(sessions, b, "available", clock.at)
    clock.at += timedelta(seconds=1)
    assert [c.kind for c in watch.tick().cleared] == ["understaffed"]
    assert stored(sessions) == [("understaffed", None, clock.at)]


def test_overdue_away_is_raised_after_the_limit_and_cleared_on_return(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    li = agent(sessions, "8001", "day", away_limit=1)
    others = [agent(sessions, "8002", "day"), agent(sessions, "8003", "day")]
    for agent_id in (li, *others):
        seat(sessions, agent_id, "available", DAY)
    clock = Clock(DAY)
    watch = LeadWatch(sessions, shifts(tmp_path, TWO_SHIFTS), "node-a", clock)
    assert watch.tick().active == ()

    seat(sessions, li, "away", DAY, reason="break")
    clock.at = DAY + timedelta(seconds=30)
    assert watch.tick().raised == ()
    clock.at = DAY + timedelta(minutes=2)
    (raised,) = watch.tick().raised
    assert (raised.kind, raised.agent_id) == ("overdue_away", li)
    assert "1 min over the 1-min limit" in raised.message
    with sessions() as s:
        (row,) = open_alerts(s)
    assert (row.kind, row.agent_id, row.raised_at) == ("overdue_away", li, clock.at)

    clock.at = DAY + timedelta(minutes=3, seconds=30)
    watch.tick()
    with sessions() as s:
        (row,) = open_alerts(s)
    assert "3 min over the 1-min limit" in row.message

    seat(sessions, li, "available", clock.at)
    clock.at += timedelta(seconds=1)
    (cleared,) = watch.tick().cleared
    assert (cleared.kind, cleared.agent_id) == ("overdue_away", li)
    assert stored(sessions) == [("overdue_away", li, clock.at)]


def test_a_shift_change_between_two_ticks_writes_handover_notes(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    day_agent = agent(sessions, "8001", "day")
    seat(sessions, day_agent, "available", DAY)
    config = shifts(tmp_path, TWO_SHIFTS)
    clock = Clock(DAY.replace(hour=15, minute=59, second=30))
    watch = LeadWatch(sessions, config, "node-a", clock)

    def notes() -> list[HandoverNote]:
        with sessions() as s:
            return list(s.scalars(select(HandoverNote).order_by(HandoverNote.team)))

    watch.tick()
    clock.at += timedelta(seconds=20)
    watch.tick()
    assert notes() == []  # no change in (15:59:30, 15:59:50]

    clock.at += timedelta(seconds=20)
    watch.tick()
    day, evening = notes()
    change = DAY.replace(hour=16, minute=0, second=0)
    assert [(n.team, n.author, n.at, n.shift_ending, n.shift_starting) for n in (day, evening)] == [
        ("day", "system", change, "day", None),
        ("evening", "system", change, None, "evening"),
    ]
    assert day.text == evening.text == "Shift change: day ends, evening starts"
    # The summary was generated: the understaffed evening is among the open alerts.
    assert [a["kind"] for a in day.summary["alerts"]] == ["understaffed"]
    assert day.summary["open_callbacks"] == 0

    clock.at += timedelta(seconds=20)
    watch.tick()
    assert len(notes()) == 2


def test_a_restarted_watch_resyncs_with_the_stored_alerts(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    li = agent(sessions, "8001", "day")
    config = shifts(tmp_path, TWO_SHIFTS)
    with sessions() as s:
        # Left open by a watch that died: one still true, one no longer, one not its own.
        raise_alert(s, kind="understaffed", severity="critical", message="old wording",
                    agent_id=None, node="node-b", now=DAY - timedelta(hours=1))  # fmt: skip
        raise_alert(s, kind="overdue_away", severity="warning", message="away too long",
                    agent_id=li, node="node-b", now=DAY - timedelta(hours=1))  # fmt: skip
        raise_alert(s, kind="missed_calls", severity="warning", message="set away",
                    agent_id=li, node="node-b", now=DAY - timedelta(hours=1))  # fmt: skip

    changes = LeadWatch(sessions, config, "node-a", Clock(DAY)).tick()
    assert changes.raised == ()
    assert [(c.kind, c.agent_id) for c in changes.cleared] == [("overdue_away", li)]
    with sessions() as s:
        rows = {r.kind: r for r in open_alerts(s)}
    assert sorted(rows) == ["missed_calls", "understaffed"]
    assert rows["understaffed"].raised_at == DAY - timedelta(hours=1)
    assert rows["understaffed"].message.startswith("0 normal seats on duty")
    assert [k for k, _, cleared in stored(sessions) if cleared == DAY] == ["overdue_away"]


def test_a_failed_tick_is_retried_without_losing_the_alert(
    sessions: sessionmaker[Session], engine: Engine, tmp_path: Path
) -> None:
    clock = Clock(DAY)
    watch = LeadWatch(sessions, shifts(tmp_path, TWO_SHIFTS), "node-a", clock)
    # The roster reads fine, then storing the alert fails: the monitor has seen it already.
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE lead_alerts RENAME TO lead_alerts_away"))
    with pytest.raises(OperationalError, match="lead_alerts"):
        watch.tick()
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE lead_alerts_away RENAME TO lead_alerts"))
    clock.at += timedelta(seconds=1)
    assert [a.kind for a in watch.tick().raised] == ["understaffed"]
    assert stored(sessions) == [("understaffed", None, None)]


async def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(condition):
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s")
        await asyncio.sleep(0.05)


async def test_run_records_an_alert_soon_after_a_seat_change(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    li = agent(sessions, "8001", "hotline")
    seat(sessions, li, "available", now)
    with sessions() as s:
        # Stale, so the first tick is visible: it clears this.
        raise_alert(s, kind="overdue_away", severity="warning", message="stale",
                    agent_id=li, node="old", now=now)  # fmt: skip
    watch = LeadWatch(sessions, shifts(tmp_path, ALL_DAY), "node-a", lambda: datetime.now(UTC))
    task = asyncio.create_task(watch.run(interval=0.2))
    try:
        await wait_for(lambda: stored(sessions)[0][2] is not None)
        assert not any(k == "understaffed" for k, _, _ in stored(sessions))

        await asyncio.to_thread(seat, sessions, li, "away", datetime.now(UTC), reason="break")
        await wait_for(lambda: any(k == "understaffed" for k, _, c in stored(sessions) if not c))
        assert not task.done()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
