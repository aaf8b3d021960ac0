"""The queue engine's agent counting ("is this queue staffed", the wait estimate's
agents): skills, states and shifts count; one thread re-reads the roster at a time."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from agents.engine import STAFFED_CACHE_SECONDS, QueueManager
from agents.queue_config import load_queues
from agents.seat_store import add_agent, set_state
from agents.shift_file import load_shifts
from kernel.settings import AcdSettings
from tests.integration.agents.test_lead_watch import TWO_SHIFTS
from ticketdb.engine import make_engine, make_sessionmaker
from ticketdb.migrate import upgrade

REPO = Path(__file__).resolve().parents[3]
DAY = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday, inside the day shift


@pytest.fixture
def sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    upgrade(db_url)
    engine = make_engine(db_url)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def manager(sessions: sessionmaker[Session], tmp_path: Path) -> Iterator[QueueManager]:
    path = tmp_path / "shifts.yaml"
    path.write_text(TWO_SHIFTS, encoding="utf-8")
    m = QueueManager(
        sessions,
        "n1",
        load_queues(REPO / "config" / "queues.yaml"),
        load_shifts(path),
        AcdSettings(),
        lambda: DAY,
    )
    yield m
    m.close()


def seat(s: Session, staff: str, team: str, state: str, skills: dict[str, int]) -> None:
    agent = add_agent(
        s, staff_number=staff, name=staff, endpoint=f"PJSIP/{staff}", team=team,
        skills=skills, now=DAY,
    )  # fmt: skip
    for step in {"offline": [], "available": ["available"], "away": ["available", "away"]}[state]:
        reason = "break" if step == "away" else None
        set_state(s, agent_id=agent.id, to_state=step, by="system", now=DAY, reason=reason)


def test_counts_agents_in_the_states_with_every_skill_and_on_shift(
    manager: QueueManager, sessions: sessionmaker[Session]
) -> None:
    with sessions() as s:
        seat(s, "8001", "day", "available", {"mobile": 2, "general": 1})
        seat(s, "8002", "day", "available", {"mobile": 1})
        seat(s, "8003", "day", "offline", {"mobile": 3, "general": 3})
        seat(s, "8004", "evening", "available", {"mobile": 3, "general": 3})  # off shift
        seat(s, "8005", "day", "away", {"mobile": 3, "general": 3})
        assert manager._staff_with(s, {"mobile"}, {"available"}, DAY) == 2
        assert manager._staff_with(s, {"mobile", "general"}, {"available"}, DAY) == 1
        assert manager._staff_with(s, {"mobile"}, {"available", "away"}, DAY) == 3
        assert manager._staff_with(s, set(), {"offline"}, DAY) == 1


def test_one_thread_rereads_while_the_others_count_from_the_last_read(
    manager: QueueManager, sessions: sessionmaker[Session]
) -> None:
    with sessions() as s:
        seat(s, "8001", "day", "available", {"mobile": 1})
        first = manager._counted_agents(s)
        seat(s, "8002", "day", "available", {"mobile": 1})
        assert manager._counted_agents(s) is first  # within the cache's second
        cached = manager._counted_cache
        assert cached is not None
        manager._counted_cache = (cached[0] - 2 * STAFFED_CACHE_SECONDS, cached[1])  # expired
        # Another thread is re-reading: this one must not wait for it, nor read too.
        assert manager._counted_lock.acquire()
        try:
            result: list[object] = []
            worker = threading.Thread(target=lambda: result.append(manager._counted_agents(s)))
            worker.start()
            worker.join(timeout=5)
            assert not worker.is_alive() and result == [first]
        finally:
            manager._counted_lock.release()
        assert len(manager._counted_agents(s)) == 2  # the lock free: it re-reads
