"""The pure core of automatic call distribution: which waiting call goes to which agent.

Nothing here reads the clock, the database or ARI. The queue engine passes a snapshot —
the calls waiting (on every node: queue order is global) and the free agents (already
filtered to logged in, available and on shift, e.g. by ``agents.shifts.routable``) — and
gets back the offers to make. It then claims each agent atomically in the database
(``agents.seat_store``) before ringing, so a stale snapshot costs a retry, never a double
assignment.

Call order (``call_key``), first difference wins:

1. a complaint flagged as injury;
2. external before internal callers, when the queue's ``external_first`` is on;
3. tier: VIP > member > general;
4. the menu's priority (higher first);
5. arrival time, then ``position_hint`` (a global arrival sequence number), then call id —
   so the order is total and every node computes the same one.

Agent choice (``pick_agent``), among agents with every skill the queue requires and the
call's own skill (level ≥ 1):

- ``longest_idle``: available the longest (earliest ``available_since``);
- ``round_robin``: offered a call least recently (smallest ``last_offered_seq``), so a
  steady set of agents is rung in a fixed rotation; the sequence lives with the seat, so
  every node rotates the same way;
- ``fewest_calls``: fewest calls today, then longest idle;
- ``skill_weighted``: highest level in the call's skill (with no call skill, the sum of
  the levels in the queue's skills), then longest idle.

Remaining ties go to the lower agent id, so a decision never depends on input order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from agents.queue_config import QueueConfig, Strategy

Tier = Literal["general", "member", "vip"]
TIER_RANK: Mapping[str, int] = {"vip": 0, "member": 1, "general": 2}
# (not injury, internal-and-setting-on, tier rank, -priority, arrival, hint, id)
CallKey = tuple[bool, bool, int, int, datetime, int, str]


@dataclass(frozen=True, kw_only=True)
class WaitingCall:
    call_id: str
    queue: str
    tier: Tier = "general"
    injury: bool = False  # a complaint flagged as injury: ahead of everyone
    external: bool = True  # from outside the organisation (domain.md §6)
    arrived_at: datetime  # first arrival: kept across transfers between queues
    skill: str | None = None  # the menu's skill for this call, on top of the queue's
    priority: int = 0  # the menu action's priority, higher first
    position_hint: int = 0  # global arrival sequence: breaks equal arrival times


@dataclass(frozen=True, kw_only=True)
class Candidate:
    """A free agent as the distribution sees it."""

    agent_id: int
    skills: Mapping[str, int]  # skill → level 1-5
    available_since: datetime
    calls_today: int = 0
    last_offered_seq: int = 0  # a global counter at this agent's latest offer; 0 = never


@dataclass(frozen=True)
class Assignment:
    call: WaitingCall
    agent: Candidate
    waited: float  # seconds from arrival to this decision (for service level)


@dataclass
class RoundRobinState:
    """Offers made since the candidates' snapshot was read.

    Within one ``assign`` pass (and across passes of one node until the database reflects
    the offers) the rotation must advance; this overlays the snapshot's
    ``last_offered_seq`` with the picks made meanwhile.
    """

    _offered: dict[int, int] = field(default_factory=dict)
    _top: int = 0

    def seq(self, candidate: Candidate) -> int:
        return max(candidate.last_offered_seq, self._offered.get(candidate.agent_id, 0))

    def note_offer(self, agent_id: int, candidates: Iterable[Candidate] = ()) -> None:
        """Record an offer to ``agent_id``: it goes to the back of the rotation."""
        self._top = max([self._top, *(c.last_offered_seq for c in candidates)]) + 1
        self._offered[agent_id] = self._top


def call_key(call: WaitingCall, external_first: bool = True) -> CallKey:
    """Sort key of a waiting call: smaller goes first (module docstring)."""
    return (
        not call.injury,
        external_first and not call.external,
        TIER_RANK[call.tier],
        -call.priority,
        call.arrived_at,
        call.position_hint,
        call.call_id,
    )


def order_calls(calls: Iterable[WaitingCall], external_first: bool = True) -> list[WaitingCall]:
    """Calls in the order they are to be served (one queue, or queues sharing the setting)."""
    return sorted(calls, key=lambda c: call_key(c, external_first))


def eligible(call: WaitingCall, agent: Candidate, queue_skills: Iterable[str] = ()) -> bool:
    """The agent has every skill the queue requires and the call's own skill."""
    needed = set(queue_skills)
    if call.skill is not None:
        needed.add(call.skill)
    return all(agent.skills.get(s, 0) >= 1 for s in needed)


def pick_agent(
    strategy: Strategy,
    call: WaitingCall,
    candidates: Iterable[Candidate],
    state: RoundRobinState | None = None,
    queue_skills: Iterable[str] = (),
) -> Candidate | None:
    """The best eligible candidate for ``call`` under ``strategy``; None when nobody fits."""
    queue_skills = frozenset(queue_skills)
    able = [c for c in candidates if eligible(call, c, queue_skills)]
    if not able:
        return None
    if strategy == "longest_idle":
        return min(able, key=lambda c: (c.available_since, c.agent_id))
    if strategy == "round_robin":
        rr = state if state is not None else RoundRobinState()
        return min(able, key=lambda c: (rr.seq(c), c.agent_id))
    if strategy == "fewest_calls":
        return min(able, key=lambda c: (c.calls_today, c.available_since, c.agent_id))
    if strategy == "skill_weighted":
        weigh = (call.skill,) if call.skill is not None else tuple(queue_skills)
        return min(
            able,
            key=lambda c: (-sum(c.skills.get(s, 0) for s in weigh), c.available_since, c.agent_id),
        )
    raise ValueError(f"unknown strategy {strategy!r}")


def assign(
    queue_configs: Mapping[str, QueueConfig],
    waiting: Iterable[WaitingCall],
    candidates: Iterable[Candidate],
    now: datetime,
    state: RoundRobinState | None = None,
    excluded: Mapping[str, Set[int]] | None = None,
) -> list[Assignment]:
    """One distribution pass: each call in global order gets the best free eligible agent.

    An agent is given at most one call per pass. A call whose queue is not configured is
    left waiting (a reload removed its queue; the engine's max-wait handling deals with
    it). Candidates must be distinct agents; ``state`` carries the round-robin rotation
    across passes (a fresh one per pass when omitted). ``excluded`` names, per call id,
    agents not to offer that call to (they just let it ring out).
    """
    free: dict[int, Candidate] = {}
    for c in candidates:
        if c.agent_id in free:
            raise ValueError(f"agent {c.agent_id} is a candidate twice")
        free[c.agent_id] = c
    everyone = list(free.values())
    rr = state if state is not None else RoundRobinState()

    def key(call: WaitingCall) -> CallKey:
        cfg = queue_configs.get(call.queue)
        return call_key(call, cfg.external_first if cfg is not None else True)

    out: list[Assignment] = []
    for call in sorted(waiting, key=key):
        if not free:
            break
        cfg = queue_configs.get(call.queue)
        if cfg is None:
            continue
        skip = excluded.get(call.call_id, ()) if excluded else ()
        pool = [c for c in free.values() if c.agent_id not in skip] if skip else free.values()
        agent = pick_agent(cfg.strategy, call, pool, rr, cfg.skills)
        if agent is None:
            continue
        del free[agent.agent_id]
        rr.note_offer(agent.agent_id, everyone)
        out.append(Assignment(call, agent, max(0.0, (now - call.arrived_at).total_seconds())))
    return out


def position(call: WaitingCall, waiting: Iterable[WaitingCall], external_first: bool = True) -> int:
    """1-based place of ``call`` among the calls waiting in its queue (``waiting`` may
    include other queues' calls: they are ignored). ``ValueError`` if it is not waiting."""
    same = order_calls((w for w in waiting if w.queue == call.queue), external_first)
    for i, w in enumerate(same, start=1):
        if w.call_id == call.call_id:
            return i
    raise ValueError(f"call {call.call_id} is not waiting in queue {call.queue!r}")


def estimated_wait(
    position: int, recent_handle_seconds: Sequence[float], agents_on_queue: int
) -> float | None:
    """Estimated wait in seconds: ``position × mean handle time ÷ agents``, floored at 0.

    ``recent_handle_seconds`` are the handle times (talk + wrap-up) of the queue's recent
    calls. None — say nothing rather than guess — without that history or with no agent
    on the queue.
    """
    if not recent_handle_seconds or agents_on_queue <= 0:
        return None
    mean = sum(recent_handle_seconds) / len(recent_handle_seconds)
    return max(0.0, position * mean / agents_on_queue)


class RingNoAnswerTracker:
    """Unanswered offers in a row per agent; at the limit the agent is to be set away.

    ``missed`` returns True exactly once per run of ``misses_before_away`` misses; the
    count then starts again, so an agent back from the "missed_calls" away gets a fresh
    allowance. An answer resets the count.
    """

    def __init__(self, misses_before_away: int = 3) -> None:
        if misses_before_away < 1:
            raise ValueError("misses_before_away must be at least 1")
        self.misses_before_away = misses_before_away
        self._misses: dict[int, int] = {}

    def missed(self, agent_id: int, misses_before_away: int | None = None) -> bool:
        """Record a ring-no-answer; True when the agent must now be set away.

        ``misses_before_away`` overrides the tracker's limit (the queue's setting)."""
        limit = misses_before_away if misses_before_away is not None else self.misses_before_away
        count = self._misses.get(agent_id, 0) + 1
        if count >= limit:
            self._misses.pop(agent_id, None)
            return True
        self._misses[agent_id] = count
        return False

    def answered(self, agent_id: int) -> None:
        self._misses.pop(agent_id, None)

    def reset(self, agent_id: int) -> None:
        """Forget the agent's misses (logged out, set away by hand, back from away)."""
        self._misses.pop(agent_id, None)

    def misses(self, agent_id: int) -> int:
        return self._misses.get(agent_id, 0)
