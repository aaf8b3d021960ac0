"""The lead's wallboard alerts from a running node: raised within 5 s of the change."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from agents import lead_store, seat_store
from agents.shift_file import load_shifts
from kernel.clock import utcnow
from simulator.server import AriSimulator
from tests.integration.conftest import wait_for
from tests.integration.queue.conftest import QueueNodeFactory

SHIFTS = """\
timezone: UTC
teams: {hotline: {}}
shifts:
  always: {teams: [hotline], days: mon-sun, periods: [{at: "00:00-24:00", kind: on_post}]}
rules: {min_normal_on_duty_open: 2, min_normal_on_duty_outside: 2,
        lead_absence_needs_acting_lead: false}
"""


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    return sqlite_url


async def test_understaffing_alert_within_5_seconds_and_cleared(
    sim: AriSimulator, queue_node: QueueNodeFactory, tmp_path: Path
) -> None:
    path = tmp_path / "shifts.yaml"
    path.write_text(SHIFTS)
    qn = await queue_node(shifts=load_shifts(path))
    qn.add_agent("8001")
    qn.add_agent("8002")

    def open_kinds() -> list[str]:
        with qn.session() as s:
            return [a.kind for a in lead_store.open_alerts(s)]

    # Two on duty: the minimum, so no alert (one was raised before they logged in).
    await wait_for(lambda: open_kinds() == [], timeout=30, what="no alert with two on duty")
    with qn.session() as s:
        agent = seat_store.agent_by_staff_number(s, "8002")
        assert agent is not None
        seat_store.set_state(s, agent_id=agent.id, to_state="offline", by="8002", now=utcnow())
    changed = time.monotonic()
    await wait_for(lambda: "understaffed" in open_kinds(), timeout=30, what="understaffed alert")
    assert time.monotonic() - changed < 5
    qn.login("8002")
    await wait_for(lambda: open_kinds() == [], timeout=30, what="alert cleared")
