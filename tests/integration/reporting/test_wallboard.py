"""The wallboard's day figures on both back ends: service level, ASA and abandonment
arithmetic per queue (with each queue's own threshold), calls by kind, the chart series,
urgent tickets, and staffing against the shift rules; plus away requests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from agents import away_requests
from agents.lead_store import open_alerts
from agents.queue_config import QueueCatalog, QueueConfig
from agents.seat_store import add_agent, set_state
from agents.shift_file import load_shifts
from reporting.wallboard import (
    calls_by_kind,
    calls_per_hour,
    day_start,
    local_day,
    queue_day,
    satisfaction_trend,
    staffing_view,
    urgent_tickets,
)
from ticketdb.models import Call, CallbackRequest, QueueEntry, Ticket
from tickets.store import create_ticket

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)  # 18:00 in Shanghai
START = day_start(local_day(NOW, TZ), TZ)  # 2026-11-01 16:00 UTC
YESTERDAY = START - timedelta(minutes=30)

CATALOG = QueueCatalog(
    {"support": frozenset(), "sales": frozenset(), "quiet": frozenset()},
    frozenset(),
    MappingProxyType(
        {
            "support": QueueConfig("support"),
            "sales": QueueConfig("sales", service_level_seconds=20),
            "quiet": QueueConfig("quiet"),
        }
    ),
)


def call(
    n: int,
    queue: str | None,
    *,
    entered: datetime,
    wait: float | None = None,
    answered: bool = True,
    record_wait: bool = True,
    reason: str = "answered",
) -> Call:
    answered_at = entered + timedelta(seconds=wait or 0) if answered else None
    return Call(
        node="n1",
        channel_id=f"c{n}",
        started_at=entered - timedelta(seconds=20),
        queue=queue,
        queue_entered_at=entered,
        agent_answered_at=answered_at,
        ended_at=(answered_at or entered) + timedelta(seconds=wait or 0) + timedelta(minutes=2),
        end_reason=reason,
        wait_seconds=wait if record_wait else None,
    )


def seed_calls(s: Session) -> dict[str, int]:
    t = NOW - timedelta(hours=2)
    rows = [
        # support: waits 5, 10, 15 on time; 30 late (its wait only in the timestamps)
        call(1, "support", entered=t, wait=5),
        call(2, "support", entered=t, wait=10),
        call(3, "support", entered=t, wait=15),
        call(4, "support", entered=t, wait=30, record_wait=False),
        call(5, "support", entered=t, wait=40, answered=False, reason="abandoned"),
        call(6, "support", entered=YESTERDAY - timedelta(hours=1), wait=3),  # yesterday
        # sales (threshold 20 s): 18 on time, 25 late
        call(7, "sales", entered=t, wait=18),
        call(8, "sales", entered=t, wait=25),
        # a queue no longer in the catalog still shows, with the default threshold
        call(9, "legacy", entered=t, wait=16),
        call(10, None, entered=t, wait=1),  # never queued: not a queue's call
    ]
    s.add_all(rows)
    for i, (status, ago) in enumerate((("waiting", 70), ("offered", 20), ("callback", 500))):
        s.add(
            QueueEntry(
                node="n1",
                channel_id=f"q{i}",
                queue="support",
                arrived_at=NOW - timedelta(seconds=ago),
                entered_at=NOW - timedelta(seconds=ago),
                status=status,
            )
        )
    s.commit()
    return {r.channel_id: r.id for r in rows}


def complaint(injury: bool) -> dict[str, Any]:
    return {
        "category": "product_quality",
        "subject": "milk",
        "reason": "sour",
        "symptom": "odd smell",
        "injury": injury,
    }


def ticket(s: Session, kind: str, details: dict[str, Any], **extra: Any) -> Ticket:
    return create_ticket(
        s,
        kind=kind,
        details=details,
        created_by="8001",
        now=extra.pop("now", NOW - timedelta(minutes=30)),
        contact_phone="13812345678",
        **extra,
    )


def test_queue_figures_for_the_day(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        ids = seed_calls(s)
        # Two complaint tickets on one call count that call once; an inquiry on another.
        ticket(s, "complaint", complaint(False), call_id=ids["c1"])
        ticket(s, "complaint", complaint(False), call_id=ids["c1"])
        ticket(s, "inquiry", {"question": "price?", "topic": "prices"}, call_id=ids["c2"])
        found = {q.queue: q for q in queue_day(s, CATALOG, START, NOW)}

    assert list(found) == ["support", "sales", "quiet", "legacy"]
    support = found["support"]
    assert support.threshold_seconds == 15
    assert (support.waiting, support.longest_wait_seconds) == (2, 70.0)
    assert support.oldest_waiting_since == NOW - timedelta(seconds=70)
    assert (support.offered, support.answered, support.answered_on_time) == (5, 4, 3)
    assert support.abandoned == 1
    assert support.service_level == pytest.approx(3 / 4)  # on time ÷ answered (not abandoned)
    assert support.asa_seconds == pytest.approx((5 + 10 + 15 + 30) / 4)
    assert support.abandonment_rate == pytest.approx(1 / 5)
    assert support.by_kind == {"complaint": 1, "inquiry": 1}

    sales = found["sales"]
    assert sales.threshold_seconds == 20
    assert (sales.answered, sales.answered_on_time, sales.service_level) == (2, 1, 0.5)
    assert sales.asa_seconds == pytest.approx(21.5)
    assert sales.abandonment_rate == 0.0

    quiet = found["quiet"]
    assert (quiet.waiting, quiet.answered, quiet.longest_wait_seconds) == (0, 0, None)
    assert (quiet.service_level, quiet.asa_seconds, quiet.abandonment_rate) == (None, None, None)

    legacy = found["legacy"]
    assert (legacy.threshold_seconds, legacy.answered_on_time) == (15, 0)  # 16 s > 15 s


def test_without_a_queue_catalog_every_queue_seen_today_shows(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as s:
        seed_calls(s)
        names = [q.queue for q in queue_day(s, None, START, NOW)]
    assert names == ["legacy", "sales", "support"]


def test_calls_per_hour_and_by_kind(sessions: sessionmaker[Session]) -> None:
    local = datetime(2026, 11, 2, 0, 0, tzinfo=TZ)
    with sessions() as s:
        for n, at in enumerate(
            [
                local + timedelta(hours=9, minutes=10),
                local + timedelta(hours=9, minutes=50),
                local + timedelta(hours=17, minutes=5),
                local - timedelta(minutes=5),  # yesterday, local
                local + timedelta(hours=19),  # after now: not yet
            ]
        ):
            s.add(Call(node="n1", channel_id=f"h{n}", started_at=at))
        s.commit()
        counts = calls_per_hour(s, date(2026, 11, 2), TZ, NOW)
        ids = list(s.scalars(select(Call.id).order_by(Call.id)))
        ticket(s, "complaint", complaint(False), call_id=ids[0])
        ticket(s, "complaint", complaint(True), call_id=ids[1])
        ticket(s, "inquiry", {"question": "q", "topic": "prices"}, call_id=ids[1])
        ticket(s, "inquiry", {"question": "q", "topic": "prices"})  # no call: not a call
        # Opened yesterday: not today's.
        ticket(s, "inquiry", {"question": "q", "topic": "prices"}, call_id=ids[2], now=YESTERDAY)
        kinds = calls_by_kind(s, START, NOW)
    assert len(counts) == 24
    assert counts[9] == 2 and counts[17] == 1 and sum(counts) == 3
    assert kinds == {"complaint": 2, "inquiry": 1}


def test_satisfaction_trend_mixes_callbacks_and_fault_ratings(
    sessions: sessionmaker[Session],
) -> None:
    today = date(2026, 11, 2)
    noon = datetime(2026, 11, 2, 12, 0, tzinfo=TZ)
    with sessions() as s:
        for n, (when, answer) in enumerate(
            [
                (noon, "satisfied"),
                (noon, "unsatisfied"),
                (noon - timedelta(days=1), "neutral"),
                (noon - timedelta(days=1), None),  # not reached: no answer
                (noon - timedelta(days=20), "satisfied"),  # outside the 14 days
            ]
        ):
            s.add(
                CallbackRequest(
                    node="n1",
                    channel_id=f"cb{n}",
                    number="13812345678",
                    requested_at=when - timedelta(days=1),
                    source="ticket",
                    status="done",
                    completed_at=when,
                    satisfaction=answer,
                )
            )
        s.commit()
        fault = ticket(
            s,
            "fault",
            {"description": "no line", "rating_speed": 5, "rating_attitude": 4, "rating_result": 3},
        )
        s.execute(
            update(Ticket).where(Ticket.id == fault.id).values(resolved_at=noon - timedelta(days=1))
        )
        s.commit()
        trend = satisfaction_trend(s, today, TZ, days=14)
    assert len(trend) == 14
    assert trend[0].day == date(2026, 10, 20) and trend[-1].day == today
    assert (trend[-1].responses, trend[-1].score) == (2, 50.0)  # (100 + 0) / 2
    # neutral 50 and the ratings' mean 4 → 75: (50 + 75) / 2
    assert (trend[-2].responses, trend[-2].score) == (2, 62.5)
    assert all(d.score is None and d.responses == 0 for d in trend[:-2])
    with pytest.raises(ValueError):
        satisfaction_trend(sessions(), today, TZ, days=0)


def test_urgent_tickets_are_injuries_and_urgent_severity_still_open(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as s:
        injured = ticket(s, "complaint", complaint(True), summary="hospitalised")
        ticket(s, "complaint", complaint(False))  # a plain product complaint
        urgent_fault = ticket(s, "fault", {"description": "line down"})
        closed = ticket(s, "complaint", complaint(True))
        s.execute(update(Ticket).where(Ticket.id == urgent_fault.id).values(severity="urgent"))
        s.execute(update(Ticket).where(Ticket.id == closed.id).values(status="resolved"))
        s.commit()
        found = urgent_tickets(s)
    # Newest first (same instant: the later ticket first). The injury is urgent before
    # any escalation rule has raised its severity.
    assert [(t.ticket_id, t.injury, t.severity) for t in found] == [
        (urgent_fault.id, False, "urgent"),
        (injured.id, True, "normal"),
    ]
    assert next(t for t in found if t.ticket_id == injured.id).summary == "hospitalised"


SHIFTS = """\
timezone: UTC
teams:
  hotline: {}
shifts:
  always:
    teams: [hotline]
    days: mon-sun
    periods:
      - {at: "00:00-24:00", kind: on_post}
rules:
  min_normal_on_duty_open: 2
  max_away_at_once: 1
  away_minutes_limit: 10
"""


def test_staffing_view_judges_the_roster_against_the_shift_rules(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    path = tmp_path / "shifts.yaml"
    path.write_text(SHIFTS, encoding="utf-8")
    config = load_shifts(path)
    with sessions() as s:
        ids = {}
        for staff, role in (
            ("9001", "lead"),
            ("8001", "agent"),
            ("8002", "agent"),
            ("9901", "admin"),
        ):
            agent = add_agent(
                s,
                staff_number=staff,
                name=f"A{staff}",
                endpoint=f"PJSIP/{staff}",
                role=role,
                team="hotline",
                now=NOW - timedelta(hours=1),
            )
            ids[staff] = agent.id
        add_agent(s, staff_number="8009", name="Gone", endpoint="PJSIP/8009", active=False)
        for staff in ("9001", "8001", "8002"):
            set_state(
                s, agent_id=ids[staff], to_state="available", by=staff, now=NOW - timedelta(hours=1)
            )
        set_state(
            s,
            agent_id=ids["8002"],
            to_state="away",
            by="8002",
            reason="toilet",
            now=NOW - timedelta(minutes=15),
        )
        view = staffing_view(s, config, NOW)
        bare = staffing_view(s, None, NOW)

    assert [a.staff_number for a in view.agents] == ["8001", "8002", "9001"]  # no admin
    away = next(a for a in view.agents if a.staff_number == "8002")
    assert (away.state, away.reason, away.since) == ("away", "toilet", NOW - timedelta(minutes=15))
    assert away.overdue_minutes == 5
    assert view.staffing is not None
    assert (view.staffing.on_duty, view.staffing.required, view.staffing.below_minimum) == (
        1,
        2,
        True,
    )
    assert [a.kind for a in view.alerts] == ["understaffed", "overdue_away"]
    assert view.default_away_limit == 10
    assert bare.staffing is None and bare.alerts == [] and len(bare.agents) == 3


def test_away_requests_wait_for_the_lead_and_keep_the_decision(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as s:
        agent = add_agent(s, staff_number="8001", name="Li", endpoint="PJSIP/8001")

        def ask(reason: str) -> bool:
            return away_requests.record(
                s,
                agent_id=agent.id,
                reason=reason,
                rule="max_away_at_once",
                refusal="Wu is already away",
                node="web",
                now=NOW,
            )

        assert ask("toilet")
        assert not ask("break")  # asking again while one waits keeps the first
        with pytest.raises(ValueError):
            ask("nap")
        [waiting] = away_requests.pending(s)
        assert (waiting.agent_id, waiting.reason, waiting.rule) == (
            agent.id,
            "toilet",
            "max_away_at_once",
        )
        assert waiting.message.endswith("Wu is already away")
        assert away_requests.close(s, waiting.id, decision="denied by 9001", now=NOW)
        assert not away_requests.close(s, waiting.id, decision="denied by 9001", now=NOW)
        assert away_requests.pending(s) == []
        with pytest.raises(away_requests.NoSuchRequest):
            away_requests.get(s, waiting.id)
        assert open_alerts(s) == []
