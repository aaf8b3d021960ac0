"""Seat changes caused by calls, on both back ends: ringing (claimed atomically), answers,
misses with auto-away, wrap-up and its expiry, and orphaned claims."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, update
from sqlalchemy.orm import Session, sessionmaker

from agents import offers
from agents.seat_store import NotClaimed, add_agent, get_seat, history, set_state
from ticketdb.models import Agent, SeatState

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
NODE = "node-a"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def agent(s: Session, staff: str = "8001", state: str = "available", **extra: Any) -> int:
    agent_id = add_agent(
        s, staff_number=staff, name=f"Agent {staff}", endpoint=f"PJSIP/{staff}", now=T0, **extra
    ).id
    if state != "offline":
        set_state(s, agent_id=agent_id, to_state="available", by=staff, now=T0)
    if state == "away":
        set_state(s, agent_id=agent_id, to_state="away", by=staff, reason="break", now=T0)
    return agent_id


def missed_in_row(s: Session, agent_id: int) -> int:
    row = s.get(Agent, agent_id, populate_existing=True)
    assert row is not None
    return row.missed_in_row


def ring(s: Session, agent_id: int, channel_id: str = "c1", t: float = 1) -> offers.Rung | None:
    return offers.ring(s, agent_id=agent_id, node=NODE, channel_id=channel_id, now=at(t))


def transitions(s: Session, agent_id: int) -> list[tuple[str, str]]:
    return [(c.from_state, c.to_state) for c in history(s, agent_id)]


# --- ringing ----------------------------------------------------------------------------------


def test_ring_claims_the_agent_and_sets_the_seat_ringing(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        a = agent(s)
        assert ring(s, a) == offers.Rung(a, "8001", "Agent 8001", "PJSIP/8001")
        seat = get_seat(s, a)
        assert (seat.state, seat.claimed_by_node, seat.claim_channel, seat.since) == (
            "ringing",
            NODE,
            "c1",
            at(1),
        )
        # Taken: nobody else gets it, the seat is left as it is.
        assert ring(s, a, channel_id="c2", t=2) is None
        assert get_seat(s, a).claim_channel == "c1"
        assert [c.agent_id for c in offers.claims_of(s, NODE)] == [a]


def test_ring_leaves_an_unavailable_agent_alone(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        a = agent(s, state="away")
        assert ring(s, a) is None
        seat = get_seat(s, a)
        assert (seat.state, seat.claimed_by_node) == ("away", None)


def test_concurrent_rings_for_one_agent_have_exactly_one_winner(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as s:
        a = agent(s)
    n = 8
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def work(i: int) -> None:
        with sessions() as s:  # each thread its own session (and connection)
            barrier.wait()
            try:
                results[i] = offers.ring(s, agent_id=a, node=f"n{i}", channel_id=f"c{i}", now=T0)
            except Exception as exc:
                results[i] = exc

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [i for i, r in enumerate(results) if isinstance(r, offers.Rung)]
    assert len(winners) == 1, results
    assert results.count(None) == n - 1, results
    (w,) = winners
    with sessions() as s:
        seat = get_seat(s, a)
        assert (seat.state, seat.claimed_by_node, seat.claim_channel) == (
            "ringing",
            f"n{w}",
            f"c{w}",
        )
        assert transitions(s, a).count(("available", "ringing")) == 1


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        ("unknown", "no agent 8009"),
        ("inactive", "no agent 8009"),
        ("away", "agent 8009 is away"),
        ("ringing", "agent 8009 is ringing"),
        ("wrap_up", "agent 8009 is wrap up"),
        ("claimed", "agent 8009 is available"),
    ],
)
def test_ring_by_staff_number_says_why_not(
    sessions: sessionmaker[Session], setup: str, reason: str
) -> None:
    with sessions() as s:
        if setup == "inactive":
            agent(s, "8009", state="offline", active=False)
        elif setup != "unknown":
            a = agent(s, "8009", state="away" if setup == "away" else "available")
            if setup in ("ringing", "wrap_up"):
                assert ring(s, a, channel_id="other") is not None
            if setup == "wrap_up":
                offers.answered(s, agent_id=a, node=NODE, now=at(2))
                offers.call_ended(s, agent_id=a, node=NODE, now=at(3), wrap_up_seconds=30)
            if setup == "claimed":
                # Claimed by another node for a call, not yet rung.
                s.execute(update_claim(a, "node-b"))
                s.commit()
        got = offers.ring_by_staff_number(
            s, staff_number="8009", node=NODE, channel_id="c1", now=at(5)
        )
    assert got == reason


def update_claim(agent_id: int, node: str) -> Any:
    """A claim taken but not yet rung (as ``claim_available`` leaves it)."""
    return (
        update(SeatState)
        .where(SeatState.agent_id == agent_id)
        .values(claimed_by_node=node, claim_channel="x", claimed_at=T0)
    )


def test_ring_by_staff_number_rings_an_available_agent(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        a = agent(s, "8009")
        got = offers.ring_by_staff_number(
            s, staff_number=" 8009 ", node=NODE, channel_id="c1", now=at(5)
        )
        assert got == offers.Rung(a, "8009", "Agent 8009", "PJSIP/8009")
        assert get_seat(s, a).state == "ringing"


# --- answers and misses ----------------------------------------------------------------------


def test_answered_puts_the_agent_on_the_call_and_resets_misses(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as s:
        a = agent(s)
        ring(s, a)
        assert not offers.no_answer(
            s, agent_id=a, node=NODE, now=at(16), missed=True, misses_before_away=3
        )
        assert missed_in_row(s, a) == 1
        ring(s, a, channel_id="c2", t=20)
        offers.answered(s, agent_id=a, node=NODE, now=at(22))
        seat = get_seat(s, a)
        assert (seat.state, seat.claimed_by_node, seat.claim_channel) == ("on_call", NODE, "c2")
        assert missed_in_row(s, a) == 0


def test_misses_in_a_row_set_the_agent_away_at_the_limit(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        a = agent(s)
        for n in (1, 2):
            ring(s, a, channel_id=f"c{n}", t=10 * n)
            went_away = offers.no_answer(
                s, agent_id=a, node=NODE, now=at(10 * n + 5), missed=True, misses_before_away=3
            )
            assert not went_away
            seat = get_seat(s, a)
            assert (seat.state, seat.claimed_by_node) == ("available", None)
            assert missed_in_row(s, a) == n
        ring(s, a, channel_id="c3", t=30)
        assert offers.no_answer(
            s, agent_id=a, node=NODE, now=at(35), missed=True, misses_before_away=3
        )
        seat = get_seat(s, a)
        assert (seat.state, seat.reason, seat.claimed_by_node) == ("away", "missed_calls", None)
        assert missed_in_row(s, a) == 0
        last = history(s, a)[-1]
        assert (last.from_state, last.to_state, last.by) == ("ringing", "away", "system")
        assert last.note is not None and "3" in last.note
        # Away: no more offers.
        assert ring(s, a, channel_id="c4", t=40) is None


def test_a_withdrawn_offer_is_not_a_miss(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        a = agent(s)
        for n in range(3):
            ring(s, a, channel_id=f"c{n}", t=10 * n)
            assert not offers.no_answer(
                s, agent_id=a, node=NODE, now=at(10 * n + 5), missed=False, misses_before_away=1
            )
        assert get_seat(s, a).state == "available"
        assert missed_in_row(s, a) == 0


def test_no_answer_for_a_seat_not_ringing_for_this_node_changes_nothing(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as s:
        a = agent(s)
        assert not offers.no_answer(
            s, agent_id=a, node=NODE, now=at(1), missed=True, misses_before_away=1
        )
        ring(s, a)
        assert not offers.no_answer(
            s, agent_id=a, node="node-b", now=at(2), missed=True, misses_before_away=1
        )
        assert get_seat(s, a).state == "ringing"
        assert missed_in_row(s, a) == 0


# --- wrap-up -----------------------------------------------------------------------------------


def on_call(s: Session, staff: str = "8001", channel_id: str = "c1") -> int:
    a = agent(s, staff)
    ring(s, a, channel_id=channel_id)
    offers.answered(s, agent_id=a, node=NODE, now=at(2))
    return a


def test_call_ended_starts_wrap_up_until_its_end(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        a = on_call(s)
        offers.call_ended(s, agent_id=a, node=NODE, now=at(100), wrap_up_seconds=30)
        seat = get_seat(s, a)
        assert (seat.state, seat.wrap_up_until, seat.claimed_by_node) == (
            "wrap_up",
            at(130),
            NODE,
        )
        # A replay changes nothing.
        offers.call_ended(s, agent_id=a, node=NODE, now=at(101), wrap_up_seconds=30)
        assert get_seat(s, a).wrap_up_until == at(130)
        assert transitions(s, a)[-1] == ("on_call", "wrap_up")


def test_no_wrap_up_time_makes_the_agent_available_at_once(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as s:
        a = on_call(s)
        offers.call_ended(s, agent_id=a, node=NODE, now=at(100), wrap_up_seconds=0)
        seat = get_seat(s, a)
        assert (seat.state, seat.claimed_by_node) == ("available", None)


def test_expire_wrap_ups_frees_only_the_seats_that_are_due(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as s:
        short = on_call(s, "8001", "c1")
        long = on_call(s, "8002", "c2")
        offers.call_ended(s, agent_id=short, node=NODE, now=at(100), wrap_up_seconds=10)
        offers.call_ended(s, agent_id=long, node=NODE, now=at(100), wrap_up_seconds=60)
        assert offers.expire_wrap_ups(s, at(109)) == 0
        assert offers.expire_wrap_ups(s, at(110)) == 1
        seat = get_seat(s, short)
        assert (seat.state, seat.claimed_by_node, seat.wrap_up_until) == ("available", None, None)
        assert history(s, short)[-1].note == "wrap-up time over"
        assert get_seat(s, long).state == "wrap_up"
        assert offers.expire_wrap_ups(s, at(110)) == 0
        assert offers.expire_wrap_ups(s, at(160)) == 1


# --- orphaned claims ---------------------------------------------------------------------------


def test_release_orphan_frees_a_ringing_seat(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        a = agent(s)
        ring(s, a, channel_id="gone")
        (seat,) = offers.claims_of(s, NODE)
        offers.release_orphan(s, seat, NODE, at(5))
        seat = get_seat(s, a)
        assert (seat.state, seat.claimed_by_node) == ("available", None)
        assert history(s, a)[-1].note == "call gone is gone"
        assert offers.claims_of(s, NODE) == []


def test_release_orphan_ends_a_call_into_wrap_up_that_is_over(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as s:
        a = on_call(s, channel_id="gone")
        (seat,) = offers.claims_of(s, NODE)
        offers.release_orphan(s, seat, NODE, at(50))
        seat = get_seat(s, a)
        assert (seat.state, seat.wrap_up_until) == ("wrap_up", at(50))
        assert offers.expire_wrap_ups(s, at(50)) == 1
        assert get_seat(s, a).state == "available"


def test_release_orphan_drops_a_claim_never_rung(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        a = agent(s)
        s.execute(update_claim(a, NODE))
        s.commit()
        (seat,) = offers.claims_of(s, NODE)
        offers.release_orphan(s, seat, NODE, at(5))
        seat = get_seat(s, a)
        assert (seat.state, seat.claimed_by_node) == ("available", None)
        assert ring(s, a, channel_id="c2", t=6) is not None


def test_release_orphan_of_a_seat_changed_meanwhile_is_harmless(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as s, sessions() as other:
        a = agent(s)
        ring(s, a, channel_id="c1")
        (seat,) = offers.claims_of(s, NODE)
        offers.answered(other, agent_id=a, node=NODE, now=at(2))  # `seat` still says ringing
        offers.release_orphan(s, seat, NODE, at(5))
        assert get_seat(other, a).state == "on_call"


# --- a late event of an earlier call ------------------------------------------------------------
# One node serves many calls: by the time an earlier call's seat event is carried out, the
# seat may have been freed and claimed again by the same node for another call. The late
# event must leave that new claim alone, or a second node could take the agent mid-ring.


def test_a_late_no_answer_of_an_earlier_call_leaves_the_new_offer_ringing(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as s:
        a = agent(s)
        ring(s, a, channel_id="c1", t=1)
        assert not offers.no_answer(
            s, agent_id=a, node=NODE, now=at(2), missed=False, misses_before_away=3, channel_id="c1"
        )
        ring(s, a, channel_id="c2", t=3)
        # c1's no-answer again (a replay, or a release racing the first one) ...
        assert not offers.no_answer(
            s, agent_id=a, node=NODE, now=at(4), missed=True, misses_before_away=1, channel_id="c1"
        )
        seat = get_seat(s, a)
        assert (seat.state, seat.claimed_by_node, seat.claim_channel) == ("ringing", NODE, "c2")
        assert missed_in_row(s, a) == 0  # ... is no miss of the agent's either
        offers.answered(s, agent_id=a, node=NODE, now=at(5), channel_id="c2")
        assert get_seat(s, a).state == "on_call"


def test_a_late_answer_or_call_end_of_an_earlier_call_is_refused(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as s:
        a = agent(s)
        ring(s, a, channel_id="c2", t=3)
        with pytest.raises(NotClaimed):
            offers.answered(s, agent_id=a, node=NODE, now=at(4), channel_id="c1")
        offers.answered(s, agent_id=a, node=NODE, now=at(5), channel_id="c2")
        offers.call_ended(s, agent_id=a, node=NODE, now=at(6), wrap_up_seconds=0, channel_id="c1")
        assert get_seat(s, a).state == "on_call"  # c1 is over; the agent still talks on c2
        offers.call_ended(s, agent_id=a, node=NODE, now=at(7), wrap_up_seconds=0, channel_id="c2")
        assert get_seat(s, a).state == "available"


def test_an_orphan_release_read_before_the_seat_was_claimed_again_is_harmless(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as s, sessions() as other:
        a = agent(s)
        ring(s, a, channel_id="gone", t=1)
        (seat,) = offers.claims_of(s, NODE)  # read: ringing for "gone"
        # Meanwhile the offer ends and the same node rings the agent for another call.
        offers.no_answer(
            other, agent_id=a, node=NODE, now=at(2), missed=False, misses_before_away=3
        )
        ring(other, a, channel_id="c2", t=3)
        offers.release_orphan(s, seat, NODE, at(5))
        seat = get_seat(other, a)
        assert (seat.state, seat.claim_channel) == ("ringing", "c2")


# --- a seat another node took meanwhile ---------------------------------------------------------
# Seen under load with two nodes (the double booking of the seat-assignment issue): a
# call over with no wrap-up time is on_call → wrap_up → available in two commits; another
# node's wrap-up expiry and its next offer fitted between them, and the second commit then
# moved the new offer's ringing seat to available, so a third offer rang a busy phone.


def test_a_call_end_without_wrap_up_never_frees_a_seat_another_node_claimed_meanwhile(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as s, sessions() as other:
        a = on_call(s, "8001", "c1")
        fired = []

        def between_the_two_steps(session: Session) -> None:
            if fired or session is not s:
                return
            fired.append(True)
            # The other node: its wrap-up sweep frees the seat and its next pass rings it.
            offers.expire_wrap_ups(other, at(100))
            assert offers.ring(other, agent_id=a, node="node-b", channel_id="b1", now=at(100))

        event.listen(s, "after_commit", between_the_two_steps)
        try:
            offers.call_ended(
                s, agent_id=a, node=NODE, now=at(100), wrap_up_seconds=0, channel_id="c1"
            )
        finally:
            event.remove(s, "after_commit", between_the_two_steps)
        assert fired
        seat = get_seat(other, a)
        assert (seat.state, seat.claimed_by_node, seat.claim_channel) == (
            "ringing",
            "node-b",
            "b1",
        )


def test_a_wrap_up_expiry_read_before_the_seat_changed_leaves_the_new_state_alone(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as s, sessions() as other:
        a = on_call(s, "8001", "c1")
        offers.call_ended(s, agent_id=a, node=NODE, now=at(100), wrap_up_seconds=10)
        due = offers.due_wrap_ups(s, at(120))  # read: in wrap-up, due
        assert [d.agent_id for d in due] == [a]
        # Meanwhile the agent ends the wrap-up themselves and another node rings them.
        set_state(other, agent_id=a, to_state="available", by="8001", now=at(105))
        assert offers.ring(other, agent_id=a, node="node-b", channel_id="b1", now=at(106))
        assert offers.expire_due(s, due, at(120)) == 0
        seat = get_seat(other, a)
        assert (seat.state, seat.claimed_by_node, seat.claim_channel) == (
            "ringing",
            "node-b",
            "b1",
        )


def test_a_system_call_event_must_name_the_claim(sessions: sessionmaker[Session]) -> None:
    """A seat moved by a call's event (answered, not answered, call over) without saying
    whose claim it acts on could free a seat some node rings for another call."""
    with sessions() as s:
        a = agent(s)
        ring(s, a, channel_id="c1")
        with pytest.raises(NotClaimed):
            set_state(s, agent_id=a, to_state="available", by="system", now=at(2))
        assert get_seat(s, a).state == "ringing"
