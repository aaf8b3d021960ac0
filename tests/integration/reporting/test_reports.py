"""Management report figures on both databases, for a day, a week and a month in the
Asia/Shanghai zone (UTC+8): records just either side of local midnight land in the local
day they happened on, not the UTC one.

The seeded site (``seed``; local times, 2026; the web test reuses it):

calls   c1  inbound sales    3/2 09:00  answered by 8001 after 10 s, talked 300 s
        c2  inbound sales    3/2 10:00  answered by 8002 after 20 s, talked 120 s
        c3  inbound sales    3/2 11:00  abandoned after 30 s
        c4  inbound service  3/2 00:00  (the day's first instant) 8001 after 5 s, 60 s
        c5  inbound          3/2 07:00  (23:00 UTC on 3/1) self-service only
        c6  inbound sales    3/3 00:30  (16:30 UTC on 3/2) 8002 after 15 s, 90 s
        c7  callback out     3/2 14:00  8001 dialled cb4's customer, talked 200 s
        c8  inbound service  3/1 23:59:59  abandoned after 21 s
        c9  inbound sales    2/28 12:00  8001 after 3 s, 100 s
        c10 inbound sales    3/2 15:00  kept its place: queue callback cb2
        c11 inbound          3/2 16:00  member customer, self-service
        c12 inbound          3/2 17:00  VIP customer, self-service, no callback yet
tickets t1 complaint urgent from c1 by 8001, 3/2 09:10, resolved 3/2 12:00
        t2 order from c7 by 8001, 3/2 14:05
        t3 inquiry by hand by 9001, 3/2 07:30 (23:30 UTC on 3/1)
        t4 complaint from c6 by 8002, 3/3 00:35
        t5 order from c9 by 8001, 2/27 10:00, resolved 2/28, closed 3/2 11:00
        t6 fault by hand by 8002, 3/31 23:59
callbacks cb1 complaint due 3/2 18:00, reached 3/2 17:00 by 8001: satisfied
        cb2 queue (no due time: due 3 days after 3/2 15:00), done 3/2 15:30 by 8002
        cb3 member (c11) due 3/5 16:03, reached 3/6 10:00 by 8002: unsatisfied
        cb4 ivr made 2/28 14:00 (due 3/3 14:00), done 3/2 14:03 by 8001 (c7): neutral
        cb5 survey due 3/2 23:00, open (overdue at NOW)
        cb6 complaint due 3/2 20:00, unreachable 3/2 19:00
        cb7 survey due 3/9 10:00, open
        cb8 complaint due 3/2 10:00, reached 3/1 20:00 by 8001: satisfied
agents  8001, 8002 (agents), 9001 (lead), 9901 (admin, no work), 8003 (inactive)
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session, sessionmaker

from agents.seat_store import add_agent
from reporting import reports
from reporting.periods import ReportWindow, window
from reporting.reports import (
    AgentRow,
    CallbackRow,
    KindRow,
    OriginRow,
    QueueRow,
    SatisfactionRow,
)
from ticketdb.customers import upsert_customer
from ticketdb.models import Call, CallbackRequest, Ticket

TZ = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 3, 2)
LEVELS = {"sales": 15, "service": 20, "billing": 15}
MEMBER_PHONE = "+8613800000001"
VIP_PHONE = "+8613800000002"
# A customer name a spreadsheet would run as a formula (the CSV test checks it).
VIP_NAME = '=HYPERLINK("http://evil.example","x")'


def local(month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=TZ).astimezone(UTC)


NOW = local(3, 3, 12, 0)


def _call(
    s: Session,
    key: str,
    started: datetime,
    *,
    queue: str | None = None,
    wait: float | None = None,
    talk: float | None = None,
    agent: str | None = None,
    end_reason: str = "completed",
    dialled: str = "12345",
    number: str = "+8613900000000",
    **extra: Any,
) -> Call:
    answered = started + timedelta(seconds=wait) if talk is not None and wait is not None else None
    ended = (
        answered + timedelta(seconds=talk)
        if answered is not None and talk is not None
        else started + timedelta(seconds=wait or 60)
    )
    call = Call(
        node="n1",
        channel_id=key,
        caller_number=number,
        dialled_number=dialled,
        started_at=started,
        answered_at=started,
        ended_at=ended,
        end_reason=end_reason,
        queue=queue,
        queue_entered_at=started if queue is not None else None,
        wait_seconds=wait,
        agent=agent if answered is not None else None,
        agent_answered_at=answered,
        **extra,
    )
    s.add(call)
    s.flush()
    return call


def _ticket(
    s: Session, kind: str, by: str, created: datetime, call: Call | None = None, **extra: Any
) -> Ticket:
    ticket = Ticket(
        kind=kind,
        created_by=by,
        created_at=created,
        updated_at=created,
        call_id=call.id if call is not None else None,
        contact_phone="+8613900000000",
        **extra,
    )
    s.add(ticket)
    s.flush()
    return ticket


def _callback(s: Session, key: str, source: str, requested: datetime, **extra: Any) -> int:
    request = CallbackRequest(
        node="" if source not in ("ivr", "queue") else "n1",
        channel_id=key,
        number="+8613900000000",
        requested_at=requested,
        source=source,
        **extra,
    )
    s.add(request)
    s.flush()
    return request.id


def seed(sessions: sessionmaker[Session]) -> dict[str, int]:
    """The site described in this module's docstring; the agents' ids by staff number."""
    ids: dict[str, int] = {}
    with sessions() as s:
        for staff, role, active in (
            ("8001", "agent", True),
            ("8002", "agent", True),
            ("8003", "agent", False),
            ("9001", "lead", True),
            ("9901", "admin", True),
        ):
            agent = add_agent(
                s,
                staff_number=staff,
                name=f"Agent {staff}",
                endpoint=f"PJSIP/{staff}",
                role=role,
                team="hotline",
                active=active,
            )
            ids[staff] = agent.id
        upsert_customer(s, phone=MEMBER_PHONE, name="Li Wei", tier="member")
        upsert_customer(s, phone=VIP_PHONE, name=VIP_NAME, tier="vip")

    with sessions() as s:
        c1 = _call(s, "c1", local(3, 2, 9), queue="sales", wait=10, talk=300, agent="8001")
        _call(s, "c2", local(3, 2, 10), queue="sales", wait=20, talk=120, agent="8002")
        _call(s, "c3", local(3, 2, 11), queue="sales", wait=30, end_reason="abandoned")
        _call(s, "c4", local(3, 2, 0), queue="service", wait=5, talk=60, agent="8001")
        _call(s, "c5", local(3, 2, 7))
        c6 = _call(s, "c6", local(3, 3, 0, 30), queue="sales", wait=15, talk=90, agent="8002")
        c8 = local(3, 1, 23, 59, 59)  # the last second of the day before
        _call(s, "c8", c8, queue="service", wait=21, end_reason="abandoned")
        c9 = _call(s, "c9", local(2, 28, 12), queue="sales", wait=3, talk=100, agent="8001")
        c11 = _call(s, "c11", local(3, 2, 16), number=MEMBER_PHONE, customer_tier="member")
        _call(s, "c12", local(3, 2, 17), number=VIP_PHONE, customer_tier="vip")

        _callback(
            s,
            "ticket:1",
            "complaint",
            local(3, 2, 12),
            due_at=local(3, 2, 18),
            status="completed",
            completed_at=local(3, 2, 17),
            agent_id=ids["8001"],
            satisfaction="satisfied",
        )
        cb2 = _callback(
            s,
            "c10",
            "queue",
            local(3, 2, 15),
            status="done",
            completed_at=local(3, 2, 15, 30),
            history=[{"t": "x", "outcome": "answered", "agent": "8002", "channel": None}],
        )
        _call(s, "c10", local(3, 2, 15), queue="sales", end_reason="callback", callback_id=cb2)
        _callback(
            s,
            f"call:{c11.id}",
            "member",
            local(3, 2, 16, 3),
            due_at=local(3, 5, 16, 3),
            status="completed",
            completed_at=local(3, 6, 10),
            agent_id=ids["8002"],
            satisfaction="unsatisfied",
            call_id=c11.id,
        )
        cb4 = _callback(
            s,
            "ivr-call",
            "ivr",
            local(2, 28, 14),
            status="done",
            completed_at=local(3, 2, 14, 3, 20),
            satisfaction="neutral",
            history=[{"t": "x", "outcome": "answered", "agent": "8001", "channel": None}],
        )
        c7 = _call(
            s,
            "c7",
            local(3, 2, 14),
            queue="sales",
            wait=0,
            talk=200,
            agent="8001",
            dialled="callback",
            callback_id=cb4,
        )
        _callback(s, "ticket:5", "survey", local(3, 1, 10), due_at=local(3, 2, 23))
        _callback(
            s,
            "ticket:6",
            "complaint",
            local(3, 1, 9),
            due_at=local(3, 2, 20),
            status="unreachable",
            completed_at=local(3, 2, 19),
            agent_id=ids["8002"],
            attempts=3,
        )
        _callback(s, "ticket:7", "survey", local(3, 2, 9), due_at=local(3, 9, 10))
        _callback(
            s,
            "ticket:8",
            "complaint",
            local(3, 1, 8),
            due_at=local(3, 2, 10),
            status="completed",
            completed_at=local(3, 1, 20),
            agent_id=ids["8001"],
            satisfaction="satisfied",
        )

        _ticket(
            s, "complaint", "8001", local(3, 2, 9, 10), c1, severity="urgent",
            resolved_at=local(3, 2, 12),
        )  # fmt: skip
        _ticket(s, "order", "8001", local(3, 2, 14, 5), c7)
        _ticket(s, "inquiry", "9001", local(3, 2, 7, 30))
        _ticket(s, "complaint", "8002", local(3, 3, 0, 35), c6)
        _ticket(
            s, "order", "8001", local(2, 27, 10), c9, status="closed",
            resolved_at=local(2, 28, 9), closed_at=local(3, 2, 11),
        )  # fmt: skip
        _ticket(s, "fault", "8002", local(3, 31, 23, 59))
        s.commit()
    return ids


@pytest.fixture
def seeded(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    seed(sessions)
    return sessions


def w(period: str) -> ReportWindow:
    return window(period, DAY, TZ)  # type: ignore[arg-type]


def test_the_day_is_the_local_day() -> None:
    assert w("day").start == datetime(2026, 3, 1, 16, 0, tzinfo=UTC)


# --- tickets by kind -----------------------------------------------------------------


def test_tickets_by_kind(seeded: sessionmaker[Session]) -> None:
    with seeded() as s:
        day = w("day")
        assert reports.by_kind(s, day.start, day.end) == [
            KindRow("order", 1, 0, 0, 1),
            KindRow("complaint", 1, 1, 1, 0),
            KindRow("inquiry", 1, 0, 0, 0),
            KindRow("fault", 0, 0, 0, 0),
            KindRow("other", 0, 0, 0, 0),
            KindRow("total", 3, 1, 1, 1),
        ]
        week = w("week")
        by_kind = {r.kind: r for r in reports.by_kind(s, week.start, week.end)}
        assert by_kind["complaint"] == KindRow("complaint", 2, 1, 1, 0)
        assert by_kind["total"] == KindRow("total", 4, 1, 1, 1)
        month = w("month")
        by_kind = {r.kind: r for r in reports.by_kind(s, month.start, month.end)}
        assert by_kind["fault"] == KindRow("fault", 1, 0, 0, 0)  # 23:59 on the 31st
        assert by_kind["order"] == KindRow("order", 1, 0, 0, 1)  # t5 resolved in February
        assert by_kind["total"] == KindRow("total", 5, 1, 1, 1)


# --- origins -------------------------------------------------------------------------


def test_calls_and_tickets_by_origin(seeded: sessionmaker[Session]) -> None:
    with seeded() as s:
        day = w("day")
        assert reports.by_origin(s, day.start, day.end) == [
            OriginRow("inbound", 8, 3, 3, 1),
            OriginRow("callback", 1, 1, 0, 1),
            OriginRow("manual", 0, 0, 0, 1),
            OriginRow("total", 9, 4, 3, 3),
        ]
        week = w("week")
        assert reports.by_origin(s, week.start, week.end) == [
            OriginRow("inbound", 9, 4, 3, 2),
            OriginRow("callback", 1, 1, 0, 1),
            OriginRow("manual", 0, 0, 0, 1),
            OriginRow("total", 10, 5, 3, 4),
        ]
        month = w("month")
        rows = reports.by_origin(s, month.start, month.end)
        assert rows[0] == OriginRow("inbound", 10, 4, 3, 2)
        assert rows[2] == OriginRow("manual", 0, 0, 0, 2)


# --- queues --------------------------------------------------------------------------


def test_queue_figures(seeded: sessionmaker[Session]) -> None:
    with seeded() as s:
        day = w("day")
        assert reports.by_queue(s, day.start, day.end, LEVELS) == [
            QueueRow("sales", 4, 2, 1, 1, 15, 1, 0.5, 15.0, 0.25),
            QueueRow("service", 1, 1, 0, 0, 20, 1, 1.0, 5.0, 0.0),
            QueueRow("billing", 0, 0, 0, 0, 15, 0, None, None, None),
        ]
        week = w("week")
        sales, service, _ = reports.by_queue(s, week.start, week.end, LEVELS)
        # c6 waited exactly the 15 s target: on time.
        assert sales == QueueRow("sales", 5, 3, 1, 1, 15, 2, 2 / 3, 15.0, 0.2)
        assert service == QueueRow("service", 1, 1, 0, 0, 20, 1, 1.0, 5.0, 0.0)
        month = w("month")
        sales, service, _ = reports.by_queue(s, month.start, month.end, LEVELS)
        assert sales.offered == 5  # c9 is February's
        assert service == QueueRow("service", 2, 1, 1, 0, 20, 1, 1.0, 5.0, 0.5)


def test_a_queue_not_configured_is_listed_with_the_default_target(
    seeded: sessionmaker[Session],
) -> None:
    with seeded() as s:
        day = w("day")
        rows = reports.by_queue(s, day.start, day.end)
        assert [(r.queue, r.service_level_seconds, r.offered) for r in rows] == [
            ("sales", 15, 4),
            ("service", 15, 1),
        ]


# --- agents --------------------------------------------------------------------------


def test_agent_figures(seeded: sessionmaker[Session]) -> None:
    with seeded() as s:
        day = w("day")
        rows = reports.by_agent(s, day.start, day.end)
        assert rows == [
            AgentRow("8001", "Agent 8001", 2, 1, 560.0, 2, 2),
            AgentRow("8002", "Agent 8002", 1, 0, 120.0, 0, 1),
            AgentRow("9001", "Agent 9001", 0, 0, 0.0, 1, 0),
        ]
        assert rows[0].mean_talk_seconds == pytest.approx(560 / 3)
        assert rows[2].mean_talk_seconds is None
        week = w("week")
        rows = reports.by_agent(s, week.start, week.end)
        assert rows[1] == AgentRow("8002", "Agent 8002", 2, 0, 210.0, 1, 2)


# --- satisfaction and callbacks ------------------------------------------------------


def test_satisfaction_from_callback_outcomes(seeded: sessionmaker[Session]) -> None:
    with seeded() as s:
        day = w("day")
        rows = reports.satisfaction(s, day.start, day.end)
        assert rows == [
            SatisfactionRow("complaint", 1, 0, 0, 1),
            SatisfactionRow("ivr", 0, 1, 0, 1),
            SatisfactionRow("total", 1, 1, 0, 2),
        ]
        assert rows[-1].satisfied_share == 0.5
        week = w("week")
        assert reports.satisfaction(s, week.start, week.end)[-1] == SatisfactionRow(
            "total", 1, 1, 1, 3
        )
        month = w("month")
        rows = reports.satisfaction(s, month.start, month.end)
        assert rows[0] == SatisfactionRow("complaint", 2, 0, 0, 2)  # cb8 on 3/1
        assert rows[-1] == SatisfactionRow("total", 2, 1, 1, 4)


def test_callbacks_done_against_due(seeded: sessionmaker[Session]) -> None:
    with seeded() as s:
        day = w("day")
        rows = reports.callbacks(s, day.start, day.end, NOW)
        assert rows == [
            CallbackRow("complaint", 3, 2, 2, 1, 0, 0, 1),
            CallbackRow("survey", 1, 0, 0, 0, 1, 1, 0),
            CallbackRow("ivr", 0, 0, 0, 0, 0, 0, 1),
            CallbackRow("queue", 0, 0, 0, 0, 0, 0, 1),
            CallbackRow("total", 4, 2, 2, 1, 1, 1, 3),
        ]
        assert rows[0].done_share == pytest.approx(2 / 3)
        week = w("week")
        assert reports.callbacks(s, week.start, week.end, NOW) == [
            CallbackRow("complaint", 3, 2, 2, 1, 0, 0, 1),
            CallbackRow("member", 1, 1, 0, 0, 0, 0, 1),  # reached after it was due
            CallbackRow("survey", 1, 0, 0, 0, 1, 1, 0),
            CallbackRow("ivr", 1, 1, 1, 0, 0, 0, 1),
            CallbackRow("queue", 1, 1, 1, 0, 0, 0, 1),
            CallbackRow("total", 7, 5, 4, 1, 1, 1, 4),
        ]
        # Before cb5 was due it is open, not overdue.
        early = reports.callbacks(s, day.start, day.end, local(3, 2, 22))
        assert early[1] == CallbackRow("survey", 1, 0, 0, 0, 1, 0, 0)
        # A shorter "within N days" moves the due times of the callers' own requests.
        soon = reports.callbacks(s, day.start, day.end, NOW, timedelta(hours=1))
        assert [r.source for r in soon if r.due] == ["complaint", "survey", "queue", "total"]


def test_an_empty_period(sessions: sessionmaker[Session]) -> None:
    start, end = w("day").start, w("day").end
    with sessions() as s:
        assert reports.by_kind(s, start, end)[-1] == KindRow("total", 0, 0, 0, 0)
        assert reports.by_queue(s, start, end) == []
        assert reports.by_agent(s, start, end) == []
        assert reports.satisfaction(s, start, end) == [SatisfactionRow("total", 0, 0, 0, 0)]
        assert reports.callbacks(s, start, end, NOW) == [CallbackRow("total", 0, 0, 0, 0, 0, 0, 0)]
