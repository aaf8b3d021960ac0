"""The callback worklist on both back ends: generation from every source (idempotent),
the balanced share-out, the 100 % member coverage report, attempts until unreachable,
and worklist dials handed to (and reported back by) the queue engine."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from agents import queue_store as entries
from agents.seat_store import add_agent, set_state
from callbacks import coverage, sources, worklist
from callbacks.plan import CallbackRules
from callbacks.requests import request_callback
from kernel.calendar import BusinessCalendar
from kernel.settings import CallbackSettings
from ticketdb.customers import upsert_customer
from ticketdb.models import Call, CallbackRequest, QueueEntry, Ticket, TicketEvent

SH = ZoneInfo("Asia/Shanghai")
# Monday 2026-11-09, 10:00 in Shanghai: outside quiet hours.
NOW = datetime(2026, 11, 9, 10, 0, tzinfo=SH).astimezone(UTC)
CB = CallbackSettings(due_days=3, complaint_after_days=0, survey_after_days=7, max_attempts=3)
RULES = CallbackRules(("12:00-13:30", "21:00-08:00"), SH, max_attempts=3)
WORKDAY = ((9 * 60 + 30, 11 * 60 + 30), (13 * 60, 17 * 60))
CALENDAR = BusinessCalendar(
    name="default",
    tz=SH,
    weekly=(WORKDAY,) * 5 + ((), ()),
    holidays=frozenset({date(2026, 11, 4)}),
    closures=(),
    extra_open=MappingProxyType({}),
)


@pytest.fixture
def s(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with sessions() as session:
        yield session


def ticket(s: Session, kind: str, **values: Any) -> Ticket:
    row = Ticket(
        kind=kind,
        created_by="8001",
        created_at=values.pop("created_at", NOW - timedelta(days=2)),
        updated_at=NOW - timedelta(days=1),
        contact_phone=values.pop("contact_phone", "+8613800000001"),
        **values,
    )
    s.add(row)
    s.commit()
    return row


def call(s: Session, channel: str, number: str, ended: datetime, **values: Any) -> Call:
    row = Call(
        node="n1",
        channel_id=channel,
        caller_number=number,
        started_at=ended - timedelta(minutes=3),
        ended_at=ended,
        end_reason="completed",
        **values,
    )
    s.add(row)
    s.commit()
    return row


def agent(s: Session, staff: str, state: str = "available") -> int:
    a = add_agent(s, staff_number=staff, name=f"Agent {staff}", endpoint=f"PJSIP/{staff}")
    if state != "offline":
        set_state(s, agent_id=a.id, to_state="available", by=staff, now=NOW - timedelta(hours=1))
        if state != "available":
            set_state(s, agent_id=a.id, to_state=state, by=staff, reason="break", now=NOW)
    return a.id


def items(s: Session) -> dict[str, CallbackRequest]:
    s.expire_all()
    return {r.channel_id: r for r in s.scalars(select(CallbackRequest))}


def members(s: Session) -> None:
    upsert_customer(s, phone="+8613900000001", name="Member Li", tier="member")
    upsert_customer(s, phone="+8613900000002", name="VIP Wang", tier="vip")
    upsert_customer(s, phone="+8613900000003", name="General Zhao", tier="general")


def test_generation_from_every_source_is_idempotent(s: Session) -> None:
    members(s)
    resolved = ticket(s, "complaint", status="resolved", resolved_at=NOW - timedelta(days=1))
    ticket(s, "complaint", status="in_progress")  # not handled yet
    unfounded = ticket(s, "complaint", status="unfounded", resolved_at=NOW - timedelta(hours=2))
    ticket(s, "complaint", status="rejected", resolved_at=NOW - timedelta(hours=2))
    ticket(  # its callback was made already
        s,
        "complaint",
        status="callback_done",
        resolved_at=NOW - timedelta(days=2),
        callback_done_at=NOW - timedelta(days=1),
    )
    # Ordered Friday 2026-10-23 10:00; 7 working days later (no holiday in between):
    # Mon 26 … Fri 30, Mon 2, Tue 3 → due for the survey from 2026-11-03 10:00.
    order = ticket(s, "order", status="new", created_at=datetime(2026, 10, 23, 10, tzinfo=SH))
    ticket(s, "order", status="new", created_at=NOW - timedelta(days=2))  # too recent
    ticket(s, "order", status="out_of_area", created_at=NOW - timedelta(days=20))
    # As the controller records it: the caller ID as delivered, the tier looked up.
    member_call = call(
        s, "m1", "+86 139-0000-0001", NOW - timedelta(hours=5), customer_tier="member"
    )
    vip_call = call(s, "v1", "+8613900000002", NOW - timedelta(hours=4))
    call(s, "g1", "+8613900000003", NOW - timedelta(hours=3))  # general: no callback
    # A member call that became a queue callback, and that callback's own record.
    call(s, "m2", "+8613900000001", NOW - timedelta(hours=2), callback_id=999)
    call(s, "cb1-1", "+8613900000001", NOW - timedelta(hours=1), callback_id=999)
    # A member call recorded with the member tier, from a number not on file any more.
    tiered = call(s, "m3", "+8613900000009", NOW - timedelta(hours=1), customer_tier="member")
    request_callback(
        s,
        node="n1",
        channel_id="ivr1",
        number="+8613700000001",
        requested_at=NOW - timedelta(hours=1),
        source="ivr",
        language="zh",
    )

    result = sources.generate(s, CB, CALENDAR, NOW)
    assert (result.complaint, result.member, result.survey) == (2, 3, 1)
    found = items(s)
    complaint = found[f"ticket:{resolved.id}"]
    assert (complaint.source, complaint.node, complaint.ticket_id) == ("complaint", "", resolved.id)
    assert complaint.due_at == resolved.resolved_at + timedelta(days=3)  # type: ignore[operator]
    assert found[f"ticket:{unfounded.id}"].source == "complaint"  # explained, still called
    member = found[f"call:{member_call.id}"]
    assert (member.source, member.number, member.call_id) == (
        "member",
        "+8613900000001",
        member_call.id,
    )
    assert member.customer_id is not None
    assert found[f"call:{vip_call.id}"].source == "member"  # VIP counts as a member
    assert found[f"call:{tiered.id}"].customer_id is None
    survey = found[f"ticket:{order.id}"]
    assert survey.source == "survey"
    assert survey.requested_at == datetime(2026, 11, 3, 10, tzinfo=SH)
    assert {r.status for r in found.values()} == {"open"}

    again = sources.generate(s, CB, CALENDAR, NOW)
    assert again.added == 0
    assert s.scalar(select(func.count()).select_from(CallbackRequest)) == len(found) == 7


def test_complaint_callbacks_wait_for_the_configured_delay(s: Session) -> None:
    ticket(s, "complaint", status="resolved", resolved_at=NOW - timedelta(days=1))
    later = CB.model_copy(update={"complaint_after_days": 3})
    assert sources.generate(s, later, CALENDAR, NOW).complaint == 0
    assert sources.generate(s, later, CALENDAR, NOW + timedelta(days=2)).complaint == 1


def test_a_ticket_without_a_number_is_reported_not_added(s: Session) -> None:
    t = ticket(s, "complaint", status="resolved", resolved_at=NOW, contact_phone="")
    result = sources.generate(s, CB, CALENDAR, NOW)
    assert result.added == 0
    assert result.skipped == (f"complaint ticket {t.id}: no phone number to call",)


def test_share_out_balances_by_open_load_and_the_list_is_due_first(s: Session) -> None:
    a1, a2, a3 = agent(s, "8001"), agent(s, "8002"), agent(s, "8003")
    for n in range(5):
        ticket(
            s,
            "complaint",
            status="resolved",
            resolved_at=NOW - timedelta(hours=10 - n),
            contact_phone=f"+861380000000{n}",
        )
    sources.generate(s, CB, CALENDAR, NOW)
    # 8001 already has two open items (given by hand earlier).
    first_two = sorted(items(s).values(), key=lambda r: r.id)[:2]
    for r in first_two:
        r.assigned_to = a1
    s.commit()
    given = worklist.share_out(s, [a3, a2, a1, a1], NOW)
    assert sorted(given.values()) == [a2, a2, a3]
    loads = {a: sum(1 for r in items(s).values() if r.assigned_to == a) for a in (a1, a2, a3)}
    assert loads == {a1: 2, a2: 2, a3: 1}
    assert worklist.share_out(s, [a1, a2, a3], NOW) == {}  # nothing left unassigned

    mine = worklist.worklist(s, a2, NOW, RULES)
    assert [i.due_at for i in mine] == sorted(i.due_at for i in mine if i.due_at is not None)
    assert all(not i.quiet_now and i.next_dial_at == NOW for i in mine)
    # At lunch time the list says so, and when dialling may start.
    lunch = datetime(2026, 11, 9, 12, 15, tzinfo=SH)
    (item, *_) = worklist.worklist(s, a2, lunch, RULES)
    assert item.quiet_now and item.next_dial_at == datetime(2026, 11, 9, 13, 30, tzinfo=SH)


def test_unreached_three_times_is_unreachable_each_try_in_another_slot(s: Session) -> None:
    t = ticket(s, "complaint", status="resolved", resolved_at=NOW - timedelta(days=1))
    sources.generate(s, CB, CALENDAR, NOW)
    (item,) = items(s).values()
    morning = datetime(2026, 11, 9, 9, 0, tzinfo=SH)
    first = worklist.record_attempt(s, item.id, "not_reached", "8001", morning, rules=RULES)
    assert (first.status, first.attempts) == ("open", 1)
    assert first.not_before == datetime(2026, 11, 9, 13, 30, tzinfo=SH)  # the afternoon
    with pytest.raises(worklist.Refused, match="next try is from 13:30"):
        worklist.request_dial(s, item.id, agent(s, "8001"), morning + timedelta(hours=1), RULES)
    afternoon = datetime(2026, 11, 9, 14, 0, tzinfo=SH)
    second = worklist.record_attempt(s, item.id, "not_reached", "8001", afternoon, rules=RULES)
    assert second.not_before == datetime(2026, 11, 9, 17, 0, tzinfo=SH)  # the evening
    evening = datetime(2026, 11, 9, 18, 0, tzinfo=SH)
    third = worklist.record_attempt(s, item.id, "not_reached", "8001", evening, rules=RULES)
    assert (third.status, third.attempts, third.not_before) == ("unreachable", 3, None)
    with pytest.raises(worklist.Refused, match="already unreachable"):
        worklist.record_attempt(s, item.id, "not_reached", "8001", evening, rules=RULES)
    request = items(s)[f"ticket:{t.id}"]
    assert [h["outcome"] for h in request.history] == ["not_reached"] * 3
    # The complaint ends with its callback: the ticket records the customer unreachable.
    s.expire_all()
    closed = s.get(Ticket, t.id)
    assert closed is not None and closed.status == "callback_done"
    (event,) = s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == t.id))
    assert event.note == f"callback {item.id}: customer unreachable after 3 attempts"
    (row,) = coverage.unreachable_report(s, NOW - timedelta(days=1), NOW + timedelta(days=1))
    assert (row.id, row.attempts, row.source) == (item.id, 3, "complaint")


def test_reached_needs_satisfaction_and_moves_the_complaint_on(s: Session) -> None:
    t = ticket(s, "complaint", status="resolved", resolved_at=NOW - timedelta(days=1))
    sources.generate(s, CB, CALENDAR, NOW)
    (item,) = items(s).values()
    with pytest.raises(ValueError, match="satisfaction"):
        worklist.record_attempt(s, item.id, "reached", "8001", NOW, rules=RULES)
    with pytest.raises(ValueError, match="outcome must be"):
        worklist.record_attempt(s, item.id, "maybe", "8001", NOW, rules=RULES)
    with pytest.raises(worklist.NotFound):
        worklist.record_attempt(s, 9999, "not_reached", "8001", NOW, rules=RULES)
    done = worklist.record_attempt(
        s,
        item.id,
        "reached",
        "8001",
        NOW,
        rules=RULES,
        satisfaction="unsatisfied",
        remarks="  wants a faster refund  ",
    )
    assert (done.status, done.attempts) == ("completed", 1)
    request = items(s)[f"ticket:{t.id}"]
    assert (request.satisfaction, request.remarks) == ("unsatisfied", "wants a faster refund")
    s.expire_all()
    moved = s.get(Ticket, t.id)
    assert moved is not None
    assert (moved.status, moved.callback_done_at) == ("callback_done", NOW)
    (event,) = s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == t.id))
    assert (event.actor, event.changes) == ("8001", {"status": ["resolved", "callback_done"]})


def test_member_coverage_report_shows_who_is_still_owed(s: Session) -> None:
    members(s)
    upsert_customer(s, phone="+8613900000004", name="Member Sun", tier="member")
    c1 = call(s, "m1", "+8613900000001", NOW - timedelta(hours=6))
    call(s, "m1b", "+8613900000001", NOW - timedelta(hours=5))
    c2 = call(s, "v1", "+8613900000002", NOW - timedelta(hours=4))
    call(s, "g1", "+8613900000003", NOW - timedelta(hours=3))
    c4 = call(s, "s1", "+8613900000004", NOW - timedelta(hours=3))
    sources.generate(s, CB, CALENDAR, NOW)
    found = items(s)
    for c in (c1, c2):
        worklist.record_attempt(
            s, found[f"call:{c.id}"].id, "reached", "8001", NOW, rules=RULES, satisfaction="neutral"
        )
    for hours in (1, 2, 3):  # Member Sun never answers
        worklist.record_attempt(
            s,
            found[f"call:{c4.id}"].id,
            "not_reached",
            "8001",
            NOW + timedelta(hours=hours),
            rules=RULES,
        )
    # A call after the generation: no callback yet, so still owed.
    call(s, "v2", "+8613900000002", NOW + timedelta(minutes=30))

    report = coverage.coverage_report(s, NOW - timedelta(days=1), NOW + timedelta(days=1))
    by_name = {r.name: r for r in report.rows}
    assert set(by_name) == {"Member Li", "VIP Wang", "Member Sun"}  # the general one isn't
    li = by_name["Member Li"]
    assert (li.calls, li.done, li.open, li.status) == (2, 1, 1, "owed")
    wang = by_name["VIP Wang"]
    assert (wang.calls, wang.done, wang.missing, wang.status) == (2, 1, 1, "owed")
    assert by_name["Member Sun"].status == "unreachable"
    assert not report.complete

    sources.generate(s, CB, CALENDAR, NOW + timedelta(hours=1))
    for r in items(s).values():
        if r.status == "open":
            worklist.record_attempt(
                s,
                r.id,
                "reached",
                "8001",
                NOW + timedelta(hours=4),
                rules=RULES,
                satisfaction="satisfied",
            )
    report = coverage.coverage_report(s, NOW - timedelta(days=1), NOW + timedelta(days=1))
    assert report.complete
    assert {r.status for r in report.rows} == {"done", "unreachable"}


def test_a_dial_is_refused_with_the_reason_or_queued_for_that_agent(s: Session) -> None:
    free, busy = agent(s, "8001"), agent(s, "8002", state="away")
    ticket(s, "complaint", status="resolved", resolved_at=NOW - timedelta(days=1))
    sources.generate(s, CB, CALENDAR, NOW)
    (item,) = items(s).values()
    lunch = datetime(2026, 11, 9, 12, 15, tzinfo=SH)
    with pytest.raises(worklist.Refused, match=r"quiet hours .* dial from 13:30"):
        worklist.request_dial(s, item.id, free, lunch, RULES)
    with pytest.raises(worklist.Refused, match="your seat is away"):
        worklist.request_dial(s, item.id, busy, NOW, RULES)
    with pytest.raises(worklist.NotFound):
        worklist.request_dial(s, 9999, free, NOW, RULES)
    queued = worklist.request_dial(s, item.id, free, NOW, RULES)
    entry = s.get(QueueEntry, queued.entry_id, populate_existing=True)
    assert entry is not None
    assert (entry.node, entry.channel_id, entry.status, entry.agent_id, entry.callback_id) == (
        "",
        f"dial:{item.id}",
        "callback",
        free,
        item.id,
    )
    assert entries.is_pinned(entry)
    assert [i.dial for i in worklist.worklist(s, free, NOW, RULES)] == ["waiting"]
    with pytest.raises(worklist.Refused, match="being dialled already"):
        worklist.request_dial(s, item.id, free, NOW, RULES)
    with pytest.raises(worklist.Refused, match="worklist of 8001"):
        worklist.request_dial(s, item.id, agent(s, "8003"), NOW, RULES)
    assert worklist.cancel_dial(s, item.id, free)
    assert s.scalars(select(QueueEntry)).all() == []


def dial_and_report(s: Session, request_id: int, agent_id: int, outcome: str) -> None:
    """Queue a dial and report it back the way the queue engine does."""
    found = worklist.request_dial(s, request_id, agent_id, NOW, RULES)
    assert entries.start_callback(s, entry_id=found.entry_id, agent_id=agent_id, node="n1", now=NOW)
    entries.record_callback_attempt(
        s,
        entry_id=found.entry_id,
        outcome=outcome,
        agent="8001",
        channel="cb1~c1",
        now=NOW,
        retry_after=timedelta(hours=1),
        max_attempts=9,
        rules=RULES,
    )


def test_the_engine_reports_worklist_dials_by_the_worklist_rules(s: Session) -> None:
    a = agent(s, "8001")
    ticket(s, "complaint", status="resolved", resolved_at=NOW - timedelta(days=1))
    sources.generate(s, CB, CALENDAR, NOW)
    (item,) = items(s).values()
    # The agent did not pick up their own phone: logged, not an attempt on the customer.
    dial_and_report(s, item.id, a, "agent_unavailable")
    # Answered: the item stays open until the agent says how it went.
    dial_and_report(s, item.id, a, "answered")
    request = items(s)[item.channel_id]
    assert (request.status, request.attempts, request.outcome) == ("open", 0, "answered")
    assert s.scalars(select(QueueEntry)).all() == []
    # Busy: an attempt, the next one in the afternoon slot (not the retry_after hour).
    dial_and_report(s, item.id, a, "busy")
    request = items(s)[item.channel_id]
    assert (request.attempts, request.not_before) == (1, datetime(2026, 11, 9, 13, 30, tzinfo=SH))
    assert [h["outcome"] for h in request.history] == ["agent_unavailable", "answered", "busy"]
    assert s.scalars(select(QueueEntry)).all() == []


def test_quiet_hours_met_while_ringing_put_the_dial_back(s: Session) -> None:
    a = agent(s, "8001")
    ticket(s, "complaint", status="resolved", resolved_at=NOW - timedelta(days=1))
    sources.generate(s, CB, CALENDAR, NOW)
    (item,) = items(s).values()
    dial_and_report(s, item.id, a, "quiet_hours")
    (entry,) = s.scalars(select(QueueEntry)).all()
    s.refresh(entry)
    assert (entry.status, entry.agent_id, entry.dialing_node) == ("callback", a, None)
    assert items(s)[item.channel_id].attempts == 0


def test_a_queue_callback_clicked_is_pinned_not_doubled(s: Session) -> None:
    a = agent(s, "8001")
    callback_id = entries.book_callback(
        s,
        node="n1",
        channel_id="c1",
        number="+8613800000001",
        language="zh",
        now=NOW - timedelta(minutes=5),
        queue="sales",
    )
    worklist.share_out(s, [a], NOW)
    (item,) = worklist.worklist(s, a, NOW, RULES)
    assert (item.id, item.auto, item.dial) == (callback_id, True, None)
    found = worklist.request_dial(s, callback_id, a, NOW, RULES)
    (entry,) = s.scalars(select(QueueEntry)).all()
    s.refresh(entry)
    assert (entry.id, entry.channel_id, entry.agent_id) == (found.entry_id, "c1", a)
    assert entries.is_pinned(entry)
    assert worklist.cancel_dial(s, callback_id, a)
    s.refresh(entry)
    assert entry.agent_id is None and not entries.is_pinned(entry)
