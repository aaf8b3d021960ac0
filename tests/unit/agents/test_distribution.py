"""The pure ACD core at fixed instants: call order, the four strategies, skills, one agent
per pass, position and estimated wait, ring-no-answer counting, and a property test."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.distribution import (
    Candidate,
    RingNoAnswerTracker,
    RoundRobinState,
    WaitingCall,
    assign,
    eligible,
    estimated_wait,
    order_calls,
    pick_agent,
    position,
)
from agents.queue_config import STRATEGIES, QueueConfig, Strategy, load_queues

REPO = Path(__file__).resolve().parents[3]
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def call(call_id: str, at: int = 0, **kw: Any) -> WaitingCall:
    """A call that arrived ``at`` seconds after T0 (queue "q" unless given)."""
    kw.setdefault("queue", "q")
    return WaitingCall(call_id=call_id, arrived_at=T0 + timedelta(seconds=at), **kw)


def agent(agent_id: int, idle_since: int = 0, **kw: Any) -> Candidate:
    """An agent available since ``idle_since`` seconds after T0, skill general:3 by default."""
    kw.setdefault("skills", {"general": 3})
    return Candidate(agent_id=agent_id, available_since=T0 + timedelta(seconds=idle_since), **kw)


def ids(calls: list[WaitingCall]) -> list[str]:
    return [c.call_id for c in calls]


QUEUE = {"q": QueueConfig("q", frozenset({"general"}))}
NOW = T0 + timedelta(minutes=5)


# --- call order ---------------------------------------------------------------------


def test_injury_then_vip_then_member_then_general() -> None:
    calls = [
        call("general", at=0),
        call("member", at=1, tier="member"),
        call("vip", at=2, tier="vip"),
        call("injury", at=3, injury=True),  # a general caller, but hurt: first
    ]
    assert ids(order_calls(calls)) == ["injury", "vip", "member", "general"]


def test_ties_by_arrival_then_sequence_then_id() -> None:
    calls = [
        call("late", at=9),
        call("b", at=1, position_hint=5),
        call("a2", at=1, position_hint=4),
        call("a1", at=1, position_hint=4),
        call("first", at=0),
    ]
    assert ids(order_calls(calls)) == ["first", "a1", "a2", "b", "late"]


def test_menu_priority_orders_within_a_tier_only() -> None:
    calls = [
        call("general-p0", at=0),
        call("general-p5", at=5, priority=5),
        call("member-p0", at=9, tier="member"),
    ]
    assert ids(order_calls(calls)) == ["member-p0", "general-p5", "general-p0"]


def test_external_callers_first_unless_the_setting_is_off() -> None:
    calls = [
        call("internal-vip", at=0, external=False, tier="vip"),
        call("external", at=5),
        call("internal-injury", at=9, external=False, injury=True),
    ]
    assert ids(order_calls(calls)) == ["internal-injury", "external", "internal-vip"]
    assert ids(order_calls(calls, external_first=False)) == [
        "internal-injury",
        "internal-vip",
        "external",
    ]


# --- strategies ---------------------------------------------------------------------


def test_longest_idle_picks_the_agent_available_longest() -> None:
    agents = [agent(1, idle_since=30), agent(2, idle_since=10), agent(3, idle_since=20)]
    assert pick_agent("longest_idle", call("c"), agents, RoundRobinState()) == agents[1]
    # Three calls, three agents: served in call order, each by the longest idle left.
    done = assign(QUEUE, [call("c3", at=3), call("c1", at=1), call("c2", at=2)], agents, NOW)
    assert [(a.call.call_id, a.agent.agent_id) for a in done] == [("c1", 2), ("c2", 3), ("c3", 1)]


def test_equal_idle_time_goes_to_the_lower_agent_id() -> None:
    agents = [agent(7), agent(3), agent(5)]
    assert pick_agent("longest_idle", call("c"), agents, RoundRobinState()) == agents[1]


def test_round_robin_rotates_through_the_agents() -> None:
    # Agent 3 has been idle longest: round robin ignores that and follows the offers.
    agents = [agent(1, idle_since=50), agent(2, idle_since=40), agent(3, idle_since=0)]
    config = {"q": replace(QUEUE["q"], strategy="round_robin")}
    state = RoundRobinState()
    # The same snapshot each pass (the database hasn't caught up): the state rotates.
    served = [
        assign(config, [call(f"c{i}")], agents, NOW, state)[0].agent.agent_id for i in range(7)
    ]
    assert served == [1, 2, 3, 1, 2, 3, 1]


def test_round_robin_follows_the_stored_offer_sequence() -> None:
    agents = [
        agent(1, last_offered_seq=12),
        agent(2, last_offered_seq=10),
        agent(3, last_offered_seq=11),
    ]
    picked = pick_agent("round_robin", call("c"), agents, RoundRobinState())
    assert picked is not None and picked.agent_id == 2
    # Within one pass each pick goes to the back of the rotation.
    config = {"q": replace(QUEUE["q"], strategy="round_robin")}
    done = assign(config, [call("a", at=0), call("b", at=1), call("c", at=2)], agents, NOW)
    assert [d.agent.agent_id for d in done] == [2, 3, 1]


def test_a_newer_stored_offer_wins_over_the_local_state() -> None:
    state = RoundRobinState()
    state.note_offer(1, [agent(1), agent(2)])  # this node offered agent 1 (seq 1)
    # Another node has since offered agent 2 (seq 50): agent 1 is next.
    agents = [agent(1, last_offered_seq=0), agent(2, last_offered_seq=50)]
    picked = pick_agent("round_robin", call("c"), agents, state)
    assert picked is not None and picked.agent_id == 1


def test_fewest_calls_today_then_longest_idle() -> None:
    agents = [
        agent(1, idle_since=0, calls_today=9),
        agent(2, idle_since=30, calls_today=2),
        agent(3, idle_since=20, calls_today=2),
    ]
    picked = pick_agent("fewest_calls", call("c"), agents, RoundRobinState())
    assert picked is not None and picked.agent_id == 3


def test_skill_weighted_picks_the_highest_level_in_the_calls_skill() -> None:
    agents = [
        agent(1, idle_since=0, skills={"general": 5, "mobile": 2}),
        agent(2, idle_since=20, skills={"general": 1, "mobile": 4}),
        agent(3, idle_since=10, skills={"general": 1, "mobile": 4}),
    ]
    c = call("c", skill="mobile")
    picked = pick_agent("skill_weighted", c, agents, RoundRobinState(), {"general"})
    assert picked is not None and picked.agent_id == 3  # level 4, idle longer than agent 2
    # Without a call skill the queue's skills are weighed: agent 1 (5 + 2) wins.
    plain = call("p")
    picked = pick_agent("skill_weighted", plain, agents, RoundRobinState(), {"general", "mobile"})
    assert picked is not None and picked.agent_id == 1


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_an_agent_without_the_skill_is_never_picked(strategy: Strategy) -> None:
    # The unskilled agent would win every strategy on its other merits.
    unskilled = agent(1, idle_since=0, calls_today=0, skills={"general": 5, "mobile": 0})
    skilled = agent(2, idle_since=60, calls_today=9, last_offered_seq=99, skills={"mobile": 1})
    c = call("c", skill="mobile")
    assert pick_agent(strategy, c, [unskilled, skilled], RoundRobinState()) == skilled
    assert pick_agent(strategy, c, [unskilled], RoundRobinState()) is None
    # The queue's own skills are required too, every one of them.
    assert pick_agent(strategy, call("d"), [skilled], RoundRobinState(), {"general"}) is None
    both = agent(3, skills={"complaints": 2, "quality": 1})
    assert eligible(call("e"), both, {"complaints", "quality"})
    assert not eligible(call("e"), both, {"complaints", "quality", "service"})


# --- one pass -----------------------------------------------------------------------


def test_one_agent_takes_one_call_per_pass() -> None:
    calls = [call("second", at=5), call("first", at=1), call("third", at=9)]
    done = assign(QUEUE, calls, [agent(1)], NOW)
    assert [(d.call.call_id, d.agent.agent_id) for d in done] == [("first", 1)]
    assert done[0].waited == 299.0


def test_global_order_across_queues_for_a_shared_agent() -> None:
    configs = {
        "a": QueueConfig("a", frozenset({"general"})),
        "b": QueueConfig("b", frozenset({"general"})),
    }
    calls = [call("a-general", at=0, queue="a"), call("b-vip", at=60, queue="b", tier="vip")]
    done = assign(configs, calls, [agent(1)], NOW)
    assert [d.call.call_id for d in done] == ["b-vip"]


def test_each_queue_applies_its_own_external_first_setting() -> None:
    configs = {
        "front": QueueConfig("front"),
        "staff": QueueConfig("staff", external_first=False),
    }
    calls = [
        call("front-internal", at=0, queue="front", external=False),
        call("staff-internal", at=1, queue="staff", external=False),
        call("front-external", at=2, queue="front"),
    ]
    done = assign(configs, calls, [agent(1), agent(2)], NOW)
    assert [d.call.call_id for d in done] == ["staff-internal", "front-external"]


def test_a_call_nobody_can_take_does_not_block_later_calls() -> None:
    configs = {**QUEUE, "m": QueueConfig("m", frozenset({"mobile"}))}
    calls = [
        call("mobile", at=0, queue="m"),
        call("removed-queue", at=1, queue="gone"),
        call("general", at=2),
    ]
    done = assign(configs, calls, [agent(1)], NOW)
    assert [d.call.call_id for d in done] == ["general"]


def test_a_candidate_listed_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="agent 1 is a candidate twice"):
        assign(QUEUE, [call("c")], [agent(1), agent(1, idle_since=5)], NOW)


def test_the_shipped_queues_route_by_their_skills() -> None:
    configs = load_queues(REPO / "config" / "queues.yaml").configs
    lead = agent(1, idle_since=0, skills={"general": 5, "complaints": 5, "quality": 4})
    mobile = agent(3, idle_since=10, skills={"general": 3, "mobile": 4, "broadband": 3})
    allround = agent(5, idle_since=20, skills={"mobile": 3, "broadband": 4, "fixed_line": 4})
    calls = [
        call("quality", at=0, queue="quality", skill="quality", priority=5),
        call("fault", at=1, queue="faults", skill="mobile", priority=2),
        call("mobile", at=2, queue="mobile", skill="mobile"),
    ]
    done = assign(configs, calls, [lead, mobile, allround], NOW)
    # faults needs all three line skills: only agent 5, though agent 3 is better at mobile.
    assert [(d.call.call_id, d.agent.agent_id) for d in done] == [
        ("quality", 1),
        ("fault", 5),
        ("mobile", 3),
    ]


# --- position and estimated wait ----------------------------------------------------


def test_position_counts_only_the_calls_own_queue_in_order() -> None:
    mine = call("mine", at=5)
    waiting = [
        call("early", at=0),
        call("other-queue", at=1, queue="other"),
        mine,
        call("vip-later", at=9, tier="vip"),
        call("late", at=10),
    ]
    assert position(mine, waiting) == 3
    assert position(waiting[0], waiting) == 2
    with pytest.raises(ValueError, match="not waiting"):
        position(call("absent"), waiting)


def test_estimated_wait_is_position_times_mean_handle_over_agents() -> None:
    assert estimated_wait(3, [100.0, 200.0, 300.0], 2) == 300.0  # 3 × 200 ÷ 2
    assert estimated_wait(1, [90.0], 3) == 30.0
    assert estimated_wait(0, [90.0], 3) == 0.0
    assert estimated_wait(-2, [90.0], 3) == 0.0  # floored
    assert estimated_wait(2, [], 3) is None  # no history: say nothing
    assert estimated_wait(2, [90.0], 0) is None


# --- ring-no-answer -----------------------------------------------------------------


def test_misses_in_a_row_set_the_agent_away() -> None:
    tracker = RingNoAnswerTracker(misses_before_away=3)
    assert [tracker.missed(1) for _ in range(3)] == [False, False, True]
    # The count starts again after the auto-away.
    assert tracker.misses(1) == 0 and tracker.missed(1) is False


def test_an_answer_resets_the_misses() -> None:
    tracker = RingNoAnswerTracker(misses_before_away=3)
    assert not tracker.missed(1) and not tracker.missed(1)
    tracker.answered(1)
    assert [tracker.missed(1) for _ in range(3)] == [False, False, True]


def test_misses_are_counted_per_agent_and_the_queue_limit_applies() -> None:
    tracker = RingNoAnswerTracker()
    assert not tracker.missed(1) and not tracker.missed(2)
    assert tracker.missed(2, misses_before_away=2) is True  # a queue with a limit of 2
    assert tracker.misses(1) == 1
    tracker.reset(1)
    assert tracker.misses(1) == 0
    with pytest.raises(ValueError):
        RingNoAnswerTracker(misses_before_away=0)


# --- property -----------------------------------------------------------------------

SKILLS = ("general", "mobile", "vip")
QUEUES = {
    "g": frozenset({"general"}),
    "m": frozenset({"mobile"}),
    "gm": frozenset({"general", "mobile"}),
    "none": frozenset(),
}

calls_st = st.lists(
    st.builds(
        WaitingCall,
        call_id=st.text("abcdef", min_size=1, max_size=4),
        queue=st.sampled_from([*QUEUES, "unknown"]),
        tier=st.sampled_from(["general", "member", "vip"]),
        injury=st.booleans(),
        external=st.booleans(),
        arrived_at=st.integers(0, 600).map(lambda s: T0 + timedelta(seconds=s)),
        skill=st.none() | st.sampled_from(SKILLS),
        priority=st.integers(0, 5),
        position_hint=st.integers(0, 3),
    ),
    max_size=25,
    unique_by=lambda c: c.call_id,
)
agents_st = st.lists(
    st.builds(
        Candidate,
        agent_id=st.integers(1, 40),
        skills=st.dictionaries(st.sampled_from(SKILLS), st.integers(0, 5)),
        available_since=st.integers(0, 600).map(lambda s: T0 + timedelta(seconds=s)),
        calls_today=st.integers(0, 20),
        last_offered_seq=st.integers(0, 10),
    ),
    max_size=15,
    unique_by=lambda a: a.agent_id,
)


@settings(max_examples=300, deadline=None)
@given(
    calls=calls_st,
    agents=agents_st,
    strategies=st.fixed_dictionaries({q: st.sampled_from(STRATEGIES) for q in QUEUES}),
    external_first=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_assign_never_doubles_an_agent_nor_picks_an_ineligible_one(
    calls: list[WaitingCall],
    agents: list[Candidate],
    strategies: dict[str, Strategy],
    external_first: bool,
    seed: int,
) -> None:
    configs = {
        q: QueueConfig(q, skills, strategy=strategies[q], external_first=external_first)
        for q, skills in QUEUES.items()
    }
    done = assign(configs, calls, agents, NOW)
    given_to = [d.agent.agent_id for d in done]
    assert len(given_to) == len(set(given_to))
    assert len({d.call.call_id for d in done}) == len(done)
    for d in done:
        assert d.call.queue in configs
        assert eligible(d.call, d.agent, configs[d.call.queue].skills)
    # Greedy and complete: no call is left waiting while a free agent could take it.
    left = [a for a in agents if a.agent_id not in given_to]
    served = {d.call.call_id for d in done}
    for c in calls:
        if c.call_id not in served and c.queue in configs:
            assert not any(eligible(c, a, configs[c.queue].skills) for a in left)
    # Deterministic: the input order changes nothing.
    rng = random.Random(seed)
    shuffled_calls, shuffled_agents = calls[:], agents[:]
    rng.shuffle(shuffled_calls)
    rng.shuffle(shuffled_agents)
    assert assign(configs, shuffled_calls, shuffled_agents, NOW) == done
