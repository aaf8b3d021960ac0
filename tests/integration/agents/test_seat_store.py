"""Agents and seat states on both back ends: validated changes, history, stale versions, claims."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from agents.queue_config import load_queues
from agents.seat_store import (
    AgentImportError,
    NotClaimed,
    StaleState,
    UnknownAgent,
    add_agent,
    agent_by_staff_number,
    claim_available,
    get_seat,
    history,
    import_csv,
    list_seats,
    release_claim,
    release_claims_of_node,
    seat_summaries,
    set_skills,
    set_state,
    skills_of,
)
from agents.seats import IllegalTransition
from ticketdb.engine import make_engine, make_sessionmaker
from ticketdb.models import Agent, SeatState, SeatStateChange

REPO = Path(__file__).resolve().parents[3]
T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def agent(s: Session, staff: str = "8001", **overrides: Any) -> int:
    args: dict[str, Any] = {
        "staff_number": staff,
        "name": f"Agent {staff}",
        "endpoint": f"PJSIP/{staff}",
        "team": "hotline",
        "now": T0,
    }
    args.update(overrides)
    return add_agent(s, **args).id


def changes(s: Session, agent_id: int) -> list[tuple[str, str, str | None, str]]:
    return [(c.from_state, c.to_state, c.reason, c.by) for c in history(s, agent_id)]


# --- agents -------------------------------------------------------------------------------


def test_add_agent_starts_offline_and_updates_by_staff_number(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as s:
        a = add_agent(
            s,
            staff_number="8001",
            name="  Chen   Jing ",
            role="lead",
            team="hotline",
            endpoint="PJSIP/8001",
            languages=["zh", "en", "zh"],
            skills={"general": 5, "vip": 4},
            away_limit_minutes=15,
            now=T0,
        )
        agent_id = a.id
    with sessions() as s:
        got = s.get(Agent, agent_id)
        assert got is not None
        assert (got.name, got.role, got.languages, got.active, got.away_limit_minutes) == (
            "Chen Jing",
            "lead",
            ["zh", "en"],
            True,
            15,
        )
        assert got.created_at == T0
        seat = get_seat(s, agent_id)
        assert (seat.state, seat.since, seat.version, seat.claimed_by_node) == (
            "offline",
            T0,
            0,
            None,
        )
        assert skills_of(s, agent_id) == {"general": 5, "vip": 4}

        # Logged in, then re-added: the seat and (skills=None) the skills stay.
        set_state(s, agent_id=agent_id, to_state="available", by="8001", now=T0)
        again = agent(s, "8001", name="Chen Jing", role="agent", endpoint="PJSIP/9001")
        assert again == agent_id
        assert get_seat(s, agent_id).state == "available"
        assert skills_of(s, agent_id) == {"general": 5, "vip": 4}
        refreshed = agent_by_staff_number(s, "8001")
        assert refreshed is not None
        assert (refreshed.role, refreshed.endpoint) == ("agent", "PJSIP/9001")
        assert s.scalar(select(func.count()).select_from(Agent)) == 1

        set_skills(s, agent_id=agent_id, skills={"mobile": 2})
        assert skills_of(s, agent_id) == {"mobile": 2}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"role": "boss"}, "role must be one of"),
        ({"endpoint": "8001"}, "endpoint must look like"),
        ({"staff_number": "80 01"}, "bad staff number"),
        ({"staff_number": "system"}, "reserved"),
        ({"name": "  "}, "name must be"),
        ({"languages": ["Chinese"]}, "bad language code"),
        ({"skills": {"mobile": 6}}, "level must be 1-5"),
        ({"skills": {"Mobile": 1}}, "bad skill name"),
        ({"away_limit_minutes": 0}, "away limit"),
    ],
)
def test_bad_agents_are_refused(
    sessions: sessionmaker[Session], overrides: dict[str, Any], message: str
) -> None:
    with sessions() as s:
        with pytest.raises(ValueError, match=message):
            agent(s, **overrides)
        assert s.scalar(select(func.count()).select_from(Agent)) == 0


# --- state changes ------------------------------------------------------------------------


def test_a_call_cycle_is_recorded_with_time_who_and_node(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as s:
        a = agent(s)
        t = T0
        set_state(s, agent_id=a, to_state="available", by="8001", now=t)
        assert claim_available(s, agent_id=a, node="n1", channel_id="ch-1", now=t)
        set_state(s, agent_id=a, to_state="ringing", by="system", node="n1", now=t)
        set_state(
            s, agent_id=a, to_state="on_call", by="system", node="n1", now=t + timedelta(seconds=5)
        )
        end = t + timedelta(minutes=3)
        seat = set_state(
            s,
            agent_id=a,
            to_state="wrap_up",
            by="system",
            node="n1",
            now=end,
            wrap_up_until=end + timedelta(seconds=30),
        )
        assert (seat.state, seat.since, seat.wrap_up_until) == (
            "wrap_up",
            end,
            end + timedelta(seconds=30),
        )
        assert (seat.claimed_by_node, seat.claim_channel) == ("n1", "ch-1")
        # Extending keeps "since" (wrap-up started at the call's end) and moves the end.
        seat = set_state(
            s,
            agent_id=a,
            to_state="wrap_up",
            by="8001",
            now=end + timedelta(seconds=20),
            wrap_up_until=end + timedelta(seconds=90),
            note="writing the ticket",
        )
        assert (seat.since, seat.wrap_up_until) == (end, end + timedelta(seconds=90))
        seat = set_state(
            s, agent_id=a, to_state="available", by="8001", now=end + timedelta(seconds=60)
        )
        assert (seat.state, seat.claimed_by_node, seat.claim_channel, seat.wrap_up_until) == (
            "available",
            None,
            None,
            None,
        )
        assert seat.version == 7  # six changes and the claim, one version each
    with sessions() as s:
        rows = history(s, a)
    assert [(r.from_state, r.to_state, r.by, r.node) for r in rows] == [
        ("offline", "available", "8001", None),
        ("available", "ringing", "system", "n1"),
        ("ringing", "on_call", "system", "n1"),
        ("on_call", "wrap_up", "system", "n1"),
        ("wrap_up", "wrap_up", "8001", None),
        ("wrap_up", "available", "8001", None),
    ]
    assert [r.at for r in rows] == [
        T0,
        T0,
        T0 + timedelta(seconds=5),
        end,
        end + timedelta(seconds=20),
        end + timedelta(seconds=60),
    ]
    assert all(r.at.tzinfo is UTC for r in rows)
    assert rows[4].note == "writing the ticket"


def test_away_keeps_its_reason_and_start_time(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        a = agent(s)
        set_state(s, agent_id=a, to_state="available", by="8001", now=T0)
        later = T0 + timedelta(minutes=40)
        seat = set_state(s, agent_id=a, to_state="away", by="8001", reason="toilet", now=later)
        assert (seat.state, seat.reason, seat.since) == ("away", "toilet", later)
        seat = set_state(
            s, agent_id=a, to_state="available", by="8001", now=later + timedelta(minutes=4)
        )
        assert (seat.reason, seat.since) == (None, later + timedelta(minutes=4))
        assert changes(s, a) == [
            ("offline", "available", None, "8001"),
            ("available", "away", "toilet", "8001"),
            ("away", "available", None, "8001"),
        ]
        assert [c.at for c in history(s, a, since=later)] == [later, later + timedelta(minutes=4)]


@pytest.mark.parametrize(
    ("setup", "to_state", "kwargs", "error", "message"),
    [
        ([], "on_call", {}, IllegalTransition, "cannot go from offline to on_call"),
        (["available"], "away", {}, IllegalTransition, "needs a reason"),
        (["available"], "away", {"reason": "lunch"}, IllegalTransition, "needs a reason"),
        (["available"], "available", {}, IllegalTransition, "already available"),
        ([], "offline", {}, IllegalTransition, "already offline"),
        ([], "on_leave", {}, IllegalTransition, "only a lead"),
        (["available"], "ringing", {"node": "n1", "by": "system"}, NotClaimed, "needs the claim"),
        ([], "available", {"by": "9999"}, UnknownAgent, "no agent with staff number"),
        ([], "available", {"by": "8002"}, IllegalTransition, "only a lead"),
        ([], "asleep", {}, IllegalTransition, "unknown seat state"),
    ],
)
def test_illegal_changes_write_nothing(
    sessions: sessionmaker[Session],
    setup: list[str],
    to_state: str,
    kwargs: dict[str, Any],
    error: type[Exception],
    message: str,
) -> None:
    with sessions() as s:
        a = agent(s)
        agent(s, "8002")
        for state in setup:
            set_state(s, agent_id=a, to_state=state, by="8001", now=T0)
        before = get_seat(s, a)
        version, count = before.version, len(history(s, a))
        args: dict[str, Any] = {"by": "8001", "now": T0 + timedelta(seconds=1), **kwargs}
        with pytest.raises(error, match=message):
            set_state(s, agent_id=a, to_state=to_state, **args)
        after = get_seat(s, a)
        assert (after.version, after.state, len(history(s, a))) == (version, before.state, count)


def test_no_logout_while_on_a_call(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        a = agent(s)
        agent(s, "8000", role="lead")
        set_state(s, agent_id=a, to_state="available", by="8001", now=T0)
        assert claim_available(s, agent_id=a, node="n1", channel_id="c", now=T0)
        set_state(s, agent_id=a, to_state="ringing", by="system", node="n1", now=T0)
        set_state(s, agent_id=a, to_state="on_call", by="system", node="n1", now=T0)
        for target, by in (("offline", "8001"), ("on_leave", "8000")):
            with pytest.raises(IllegalTransition, match="while on a call"):
                set_state(s, agent_id=a, to_state=target, by=by, now=T0)
        # A node that doesn't hold the claim can't end someone else's call.
        with pytest.raises(NotClaimed):
            set_state(s, agent_id=a, to_state="wrap_up", by="system", node="n2", now=T0)
        assert get_seat(s, a).state == "on_call"


def test_leave_is_granted_by_a_lead_and_logged_with_who(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        a = agent(s)
        agent(s, "8000", role="lead")
        seat = set_state(
            s, agent_id=a, to_state="on_leave", by="8000", reason="annual leave", now=T0
        )
        assert (seat.state, seat.reason) == ("on_leave", "annual leave")
        seat = set_state(
            s, agent_id=a, to_state="available", by="8001", now=T0 + timedelta(seconds=1)
        )
        assert seat.state == "available"
        assert changes(s, a) == [
            ("offline", "on_leave", "annual leave", "8000"),
            ("on_leave", "available", None, "8001"),
        ]


def test_an_inactive_agent_cannot_log_in(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        a = agent(s, active=False)
        with pytest.raises(IllegalTransition, match="not active"):
            set_state(s, agent_id=a, to_state="available", by="system", now=T0)


def test_unknown_agent(sessions: sessionmaker[Session]) -> None:
    with sessions() as s, pytest.raises(UnknownAgent):
        set_state(s, agent_id=12345, to_state="available", by="system", now=T0)


# --- optimistic concurrency ---------------------------------------------------------------


def test_expected_version_detects_a_change_since_it_was_read(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as s:
        a = agent(s)
        seen = set_state(s, agent_id=a, to_state="available", by="8001", now=T0).version
    with sessions() as other:
        set_state(other, agent_id=a, to_state="away", by="8001", reason="break", now=T0)
    with sessions() as s:
        with pytest.raises(StaleState, match="changed"):
            set_state(
                s,
                agent_id=a,
                to_state="offline",
                by="8001",
                now=T0,
                expected_version=seen,
            )
        assert get_seat(s, a).state == "away"
        current = get_seat(s, a).version
        seat = set_state(
            s, agent_id=a, to_state="offline", by="8001", now=T0, expected_version=current
        )
        assert seat.state == "offline"


def test_a_change_between_read_and_write_is_stale_not_overwritten(
    db_url: str, engine: Engine, sessions: sessionmaker[Session]
) -> None:
    """Another writer commits after set_state read the seat and before it updates it."""
    with sessions() as s:
        a = agent(s)
        agent(s, "8000", role="lead")
        set_state(s, agent_id=a, to_state="available", by="8001", now=T0)

    other_engine = make_engine(db_url)
    interfered: list[bool] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE SEAT_STATES") and not interfered:
            interfered.append(True)
            with make_sessionmaker(other_engine)() as other:
                set_state(other, agent_id=a, to_state="on_leave", by="8000", now=T0)

    event.listen(engine, "before_cursor_execute", before)
    try:
        with sessions() as s, pytest.raises(StaleState, match="changed while"):
            set_state(s, agent_id=a, to_state="away", by="8001", reason="break", now=T0)
    finally:
        event.remove(engine, "before_cursor_execute", before)
        other_engine.dispose()
    assert interfered == [True]
    with sessions() as s:
        assert get_seat(s, a).state == "on_leave"
        assert changes(s, a)[-1] == ("available", "on_leave", None, "8000")
        assert len(history(s, a)) == 2


def run_together(n: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` in n threads released at once; results (or exceptions) by index."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_concurrent_changes_at_one_version_have_one_winner(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as s:
        a = agent(s)
        version = set_state(s, agent_id=a, to_state="available", by="8001", now=T0).version
    reasons = ["break", "toilet", "meeting", "training", "other", "break"]

    def work(i: int) -> str:
        with sessions() as s:
            return set_state(
                s,
                agent_id=a,
                to_state="away",
                by="8001",
                reason=reasons[i],
                now=T0,
                expected_version=version,
            ).state

    results = run_together(len(reasons), work)
    assert results.count("away") == 1, results
    assert all(isinstance(r, StaleState) for r in results if r != "away"), results
    with sessions() as s:
        assert len(history(s, a)) == 2
        assert get_seat(s, a).version == version + 1


# --- claims -------------------------------------------------------------------------------


@pytest.fixture
def node_sessions(db_url: str, engine: Engine) -> Iterator[list[sessionmaker[Session]]]:
    """Two "nodes": separate engines (connection pools) on the same database."""
    engines = [make_engine(db_url), make_engine(db_url)]
    yield [make_sessionmaker(e) for e in engines]
    for e in engines:
        e.dispose()


def test_claim_race_has_exactly_one_winner(
    sessions: sessionmaker[Session], node_sessions: list[sessionmaker[Session]]
) -> None:
    with sessions() as s:
        a = agent(s)
        set_state(s, agent_id=a, to_state="available", by="8001", now=T0)
    claimers = 8
    for round_ in range(3):

        def work(i: int, round_: int = round_) -> bool:
            with node_sessions[i % 2]() as s:
                return claim_available(
                    s, agent_id=a, node=f"n{i % 2}", channel_id=f"r{round_}-c{i}", now=T0
                )

        results = run_together(claimers, work)
        assert results.count(True) == 1, results
        assert results.count(False) == claimers - 1, results
        winner = results.index(True)
        with sessions() as s:
            seat = get_seat(s, a)
            assert (seat.claimed_by_node, seat.claim_channel) == (
                f"n{winner % 2}",
                f"r{round_}-c{winner}",
            )
            assert release_claim(s, agent_id=a, node=f"n{winner % 2}")


def test_claim_needs_an_available_unclaimed_seat(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        a = agent(s)
        assert not claim_available(s, agent_id=a, node="n1", channel_id="c1", now=T0)
        set_state(s, agent_id=a, to_state="available", by="8001", now=T0)
        assert claim_available(s, agent_id=a, node="n1", channel_id="c1", now=T0)
        assert not claim_available(s, agent_id=a, node="n1", channel_id="c2", now=T0)
        assert not claim_available(s, agent_id=a, node="n2", channel_id="c3", now=T0)
        assert not release_claim(s, agent_id=a, node="n2")
        with pytest.raises(NotClaimed):
            set_state(s, agent_id=a, to_state="ringing", by="system", node="n2", now=T0)
        # The agent going away ends a claim not yet rung: the claimer can't ring them now.
        set_state(s, agent_id=a, to_state="away", by="8001", reason="break", now=T0)
        seat = get_seat(s, a)
        assert (seat.claimed_by_node, seat.claimed_at) == (None, None)
        with pytest.raises(IllegalTransition):
            set_state(s, agent_id=a, to_state="ringing", by="system", node="n1", now=T0)
        set_state(s, agent_id=a, to_state="available", by="8001", now=T0)
        assert claim_available(s, agent_id=a, node="n2", channel_id="c4", now=T0)
        assert get_seat(s, a).claimed_at == T0


def test_ring_no_answer_frees_the_seat_for_any_node(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        a = agent(s)
        set_state(s, agent_id=a, to_state="available", by="8001", now=T0)
        assert claim_available(s, agent_id=a, node="n1", channel_id="c1", now=T0)
        set_state(s, agent_id=a, to_state="ringing", by="system", node="n1", now=T0)
        set_state(s, agent_id=a, to_state="available", by="system", node="n1", now=T0)
        assert claim_available(s, agent_id=a, node="n2", channel_id="c2", now=T0)
        set_state(s, agent_id=a, to_state="ringing", by="system", node="n2", now=T0)
        # After N misses the engine sets the agent away straight from ringing.
        seat = set_state(
            s,
            agent_id=a,
            to_state="away",
            by="system",
            node="n2",
            reason="missed_calls",
            now=T0,
        )
        assert (seat.state, seat.reason, seat.claimed_by_node) == ("away", "missed_calls", None)


def _busy_seat(s: Session, staff: str, node: str, state: str) -> int:
    """An agent claimed by ``node`` and brought to ``state`` through the real transitions."""
    a = agent(s, staff)
    set_state(s, agent_id=a, to_state="available", by=staff, now=T0)
    assert claim_available(s, agent_id=a, node=node, channel_id=f"ch-{staff}", now=T0)
    path = {"available": [], "ringing": ["ringing"], "on_call": ["ringing", "on_call"]}
    path["wrap_up"] = [*path["on_call"], "wrap_up"]
    for step in path[state]:
        set_state(s, agent_id=a, to_state=step, by="system", node=node, now=T0)
    return a


def test_release_claims_of_a_dead_node_keeps_the_seats_with_a_call(
    sessions: sessionmaker[Session],
) -> None:
    later = T0 + timedelta(minutes=5)
    with sessions() as s:
        mine = {
            state: _busy_seat(s, f"80{i}", "n1", state)
            for i, state in enumerate(["available", "ringing", "on_call", "wrap_up"])
        }
        theirs = _busy_seat(s, "8099", "n2", "on_call")
        idle = agent(s, "8098")
        # A claim never rung and a wrap-up carry no call: released. A ringing phone and a
        # conversation may go on on the dead node's Asterisk: kept.
        assert release_claims_of_node(s, "n1", later) == 2
        assert release_claims_of_node(s, "n1", later) == 0
    with sessions() as s:
        for state in ("available", "wrap_up"):
            a = mine[state]
            seat = get_seat(s, a)
            assert (seat.state, seat.claimed_by_node, seat.claim_channel) == (
                "available",
                None,
                None,
            ), state
            last = history(s, a)[-1]
            if state == "available":
                assert last.to_state == "available" and last.at == T0  # no new row
            else:
                assert (last.from_state, last.to_state, last.by, last.node, last.at) == (
                    state,
                    "available",
                    "system",
                    "n1",
                    later,
                )
                assert "node n1 is gone" in (last.note or "")
            assert claim_available(s, agent_id=a, node="n2", channel_id="x", now=later)
        for state in ("ringing", "on_call"):
            seat = get_seat(s, mine[state])
            assert (seat.state, seat.claimed_by_node) == (state, "n1")
            assert not claim_available(
                s, agent_id=mine[state], node="n2", channel_id="x", now=later
            )
        other = get_seat(s, theirs)
        assert (other.state, other.claimed_by_node) == ("on_call", "n2")
        assert get_seat(s, idle).state == "offline"


# --- listing and import -------------------------------------------------------------------


def test_list_seats_shows_state_and_skills(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        b = agent(s, "8002", skills={"mobile": 3, "general": 2})
        agent(s, "8001")
        set_state(s, agent_id=b, to_state="available", by="8002", now=T0)
        rows = list_seats(s)
    assert [(r.agent.staff_number, r.seat.state, r.skills) for r in rows] == [
        ("8001", "offline", {}),
        ("8002", "available", {"general": 2, "mobile": 3}),
    ]


def test_seat_summaries_list_active_agents_and_the_free_ones(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as s:
        free = agent(s, "8001", skills={"mobile": 3}, team="day")
        claimed = agent(s, "8002", skills={"mobile": 1})
        agent(s, "8003")  # offline
        gone = agent(s, "8004")
        admin = agent(s, "8005", role="admin")
        lead = agent(s, "8006", role="lead", skills={"general": 2})
        for a in (free, claimed, gone, admin, lead):
            set_state(s, agent_id=a, to_state="available", by="system", now=T0)
        assert claim_available(s, agent_id=claimed, node="n1", channel_id="c", now=T0)
        agent(s, "8004", active=False)  # left while logged in
        everyone = seat_summaries(s)
        offerable = seat_summaries(s, free_only=True)
    assert [(r.staff_number, r.role, r.state) for r in everyone] == [
        ("8001", "agent", "available"),
        ("8002", "agent", "available"),  # claimed: not offerable
        ("8003", "agent", "offline"),
        ("8005", "admin", "available"),
        ("8006", "lead", "available"),
    ]
    assert [(r.agent_id, r.team, dict(r.skills)) for r in offerable] == [
        (free, "day", {"mobile": 3}),
        (lead, "hotline", {"general": 2}),
    ]
    assert offerable[0].since == T0


def test_import_the_sample_seats(sessions: sessionmaker[Session]) -> None:
    sample = REPO / "config" / "agents.sample.csv"
    with sessions() as s:
        assert import_csv(s, sample, now=T0) == 6
        assert import_csv(s, sample, now=T0) == 6  # re-import updates, never duplicates
        rows = list_seats(s)
    assert [r.agent.role for r in rows].count("lead") == 1
    assert [r.agent.endpoint for r in rows] == [f"PJSIP/800{i}" for i in range(1, 7)]
    assert all(r.seat.state == "offline" for r in rows)
    catalog = load_queues(REPO / "config" / "queues.yaml")
    used = {skill for r in rows for skill in r.skills}
    assert used <= catalog.skills
    # Every queue has at least two agents who can take its calls.
    for queue, needed in catalog.queues.items():
        able = [r for r in rows if needed & set(r.skills)]
        assert len(able) >= 2, queue


def test_a_bad_import_changes_nothing(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    bad = tmp_path / "agents.csv"
    bad.write_text(
        "staff_number,name,role,team,endpoint,skills\n"
        "8001,A,agent,t,PJSIP/8001,general:3\n"
        "8002,B,agent,t,PJSIP/8002,general:9\n"
    )
    with sessions() as s:
        with pytest.raises(AgentImportError, match=r"agents\.csv:3: skill level must be 1-5"):
            import_csv(s, bad)
        assert s.scalar(select(func.count()).select_from(Agent)) == 0
    dup = tmp_path / "dup.csv"
    dup.write_text(
        "staff_number,name,role,team,endpoint\n8001,A,agent,t,PJSIP/8001\n8001,B,lead,t,PJSIP/8002\n"
    )
    with sessions() as s, pytest.raises(AgentImportError, match="already on line 2"):
        import_csv(s, dup)


def test_schema_refuses_what_the_code_would_never_write(engine: Engine) -> None:
    """CHECK constraints back the validation: a bad state or level can't be stored."""
    with engine.begin() as conn:
        conn.execute(
            sa.insert(Agent).values(
                staff_number="x", name="x", role="agent", team="", languages=[],
                endpoint="PJSIP/x", active=True, created_at=T0,
            )
        )  # fmt: skip
        agent_id = conn.execute(select(Agent.id)).scalar_one()
    for stmt in (
        sa.insert(SeatState).values(agent_id=agent_id, state="asleep", since=T0, version=0),
        sa.insert(SeatStateChange).values(
            agent_id=agent_id + 1, from_state="a", to_state="b", at=T0, by="x"
        ),
        sa.update(Agent).values(role="boss"),
    ):
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            conn.execute(stmt)
