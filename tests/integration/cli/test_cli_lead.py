"""``hotline alerts``, ``hotline handover add|show`` and ``hotline queues stats`` on both
back ends, through the parser as ``hotline/cli/main.py`` registers it (same settings loader
and session opener as ``hotline agents``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from agents.erlang import agents_needed
from agents.lead_store import clear_alert, raise_alert
from agents.seat_store import add_agent
from hotline.cli.lead import add_lead_parser
from tests.integration.cli.cli_harness import run_cli
from ticketdb.models import Call, QueueEntry

SHIFTS = """\
timezone: UTC
teams:
  day: {}
  evening: {}
shifts:
  day: {teams: [day], days: mon-fri, periods: [{at: "08:00-16:00", kind: on_post}]}
  evening: {teams: [evening], days: mon-fri, periods: [{at: "16:00-24:00", kind: on_post}]}
"""

QUEUES = """\
skills: [general]
queues:
  sales: {skills: [general], service_level_seconds: 20, wrap_up_seconds: 30}
  support: {skills: [general]}
"""


@pytest.fixture
def site(clean_site: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOTLINE_PATHS_SHIFTS_FILE", str(clean_site / "shifts.yaml"))
    monkeypatch.setenv("HOTLINE_PATHS_QUEUES_FILE", str(clean_site / "queues.yaml"))
    monkeypatch.setenv("HOTLINE_PATHS_CALENDAR_FILE", str(clean_site / "calendar.yaml"))
    return clean_site


def hotline(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    return run_cli(capsys, add_lead_parser, *argv)


def test_alerts_lists_the_open_ones(
    site_sessions: sessionmaker[Session], capsys: pytest.CaptureFixture[str]
) -> None:
    assert hotline(capsys, "alerts") == (0, "no open alerts\n", "")
    now = datetime.now(UTC)
    with site_sessions() as s:
        li = add_agent(s, staff_number="8001", name="Li", endpoint="PJSIP/8001").id
        missed = "Li set away after 3 missed calls"
        raise_alert(s, kind="missed_calls", severity="warning", message=missed,
                    agent_id=li, node="n", now=now - timedelta(minutes=5))  # fmt: skip
        raise_alert(s, kind="understaffed", severity="critical", message="1 normal seat on duty",
                    agent_id=None, node="n", now=now - timedelta(minutes=1))  # fmt: skip
        raise_alert(s, kind="overdue_away", severity="warning", message="gone",
                    agent_id=li, node="n", now=now)  # fmt: skip
        clear_alert(s, kind="overdue_away", agent_id=li, now=now)

    code, out, err = hotline(capsys, "alerts")
    assert (code, err) == (0, "")
    header, *rows = out.splitlines()
    assert header.split()[:6] == ["raised", "(UTC)", "for", "severity", "kind", "agent"]
    assert len(rows) == 2
    # date, time, for, severity, kind, agent, message…
    first, second = (r.split(None, 6) for r in rows)
    assert first[2] in ("5m00s", "5m01s", "5m02s")
    assert first[3:] == ["warning", "missed_calls", "8001", "Li set away after 3 missed calls"]
    assert second[3:] == ["critical", "understaffed", "-", "1 normal seat on duty"]


def test_alerts_list_phones_offline_and_controllers_down(
    site_sessions: sessionmaker[Session], capsys: pytest.CaptureFixture[str]
) -> None:
    """The kinds the lead watch (a phone nobody can ring) and the queue engine (a controller
    stopped while holding agents) raise are listed like the others."""
    now = datetime.now(UTC)
    with site_sessions() as s:
        li = add_agent(s, staff_number="8001", name="Li", endpoint="PJSIP/8001").id
        raise_alert(s, kind="node_down", severity="critical", agent_id=None, node="b",
                    message="controller a stopped: 1 agent(s) held by its calls",
                    now=now - timedelta(minutes=2))  # fmt: skip
        raise_alert(s, kind="phone_offline", severity="warning", agent_id=li, node="b",
                    message="Li is logged in on shift but their phone is offline",
                    now=now)  # fmt: skip

    code, out, err = hotline(capsys, "alerts")
    assert (code, err) == (0, "")
    rows = [r.split(None, 6) for r in out.splitlines()[1:]]
    assert [r[3:6] for r in rows] == [
        ["critical", "node_down", "-"],
        ["warning", "phone_offline", "8001"],
    ]
    assert rows[0][6].startswith("controller a stopped")
    assert rows[1][6] == "Li is logged in on shift but their phone is offline"


def test_handover_add_and_show(
    site_sessions: sessionmaker[Session], site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (site / "shifts.yaml").write_text(SHIFTS)
    with site_sessions() as s:
        add_agent(s, staff_number="8001", name="Chen", endpoint="PJSIP/8001", role="lead")
        s.add(
            QueueEntry(node="n", channel_id="c1", queue="sales", status="waiting",
                       arrived_at=datetime.now(UTC), entered_at=datetime.now(UTC))
        )  # fmt: skip
        s.commit()
        raise_alert(s, kind="understaffed", severity="critical", message="short",
                    agent_id=None, node="n", now=datetime.now(UTC))  # fmt: skip

    assert hotline(capsys, "handover", "show") == (0, "no handover notes\n", "")
    code, out, err = hotline(capsys, "handover", "add", "--team", "day", "--author", "9999",
                             "--text", "x")  # fmt: skip
    assert (code, out, err) == (1, "", "hotline: error: no agent with staff number 9999\n")
    code, _, err = hotline(capsys, "handover", "add", "--team", "night", "--author", "8001",
                           "--text", "x")  # fmt: skip
    assert code == 2 and "unknown team 'night'" in err and "day, evening" in err
    code, _, err = hotline(capsys, "handover", "add", "--team", "day", "--author", "8001",
                           "--text", "  ")  # fmt: skip
    assert code == 2 and err == "hotline: error: the note needs some text\n"

    code, out, err = hotline(capsys, "handover", "add", "--team", "day", "--author", "8001",
                             "--text", "Printer in row 2 is broken")  # fmt: skip
    assert (code, err) == (0, "")
    saved, summary = out.splitlines()
    assert saved.startswith("saved handover note ") and saved.endswith(" for team day by 8001")
    assert summary.strip() == (
        "open callbacks: 0; open alerts: 1; waiting: sales 1; queued callbacks: 0"
    )
    assert hotline(capsys, "handover", "add", "--team", "evening", "--author", "8001",
                   "--text", "Line one\nLine two")[0] == 0  # fmt: skip

    code, out, _ = hotline(capsys, "handover", "show")
    assert code == 0
    blocks = [b.splitlines() for b in out.split("\n\n")]
    assert [b[0].split()[2:] for b in blocks] == [
        ["UTC", "team", "evening", "by", "8001"],
        ["UTC", "team", "day", "by", "8001"],
    ]
    assert blocks[0][1:3] == ["  Line one", "  Line two"]
    assert blocks[1][1] == "  Printer in row 2 is broken"
    code, out, _ = hotline(capsys, "handover", "show", "--team", "day", "--limit", "5")
    assert code == 0 and "team day" in out and "team evening" not in out
    code, out, _ = hotline(capsys, "handover", "show", "--limit", "1")
    assert code == 0 and "team evening" in out and "team day" not in out
    assert hotline(capsys, "handover", "show", "--team", "night")[1] == (
        "no handover notes for team night\n"
    )
    assert hotline(capsys, "handover", "show", "--limit", "0")[0] == 2


def test_queues_stats_table(
    site_sessions: sessionmaker[Session], site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = hotline(capsys, "queues", "stats")
    assert code == 2 and "queues file not found" in err
    (site / "queues.yaml").write_text(QUEUES)

    now = datetime.now(UTC)
    with site_sessions() as s:
        for i, (wait, talk) in enumerate([(5, 120), (10, 180), (25, 240), (40, 300)]):
            entered = now - timedelta(minutes=50 - i * 10)
            answered = entered + timedelta(seconds=wait)
            s.add(
                Call(node="n", channel_id=f"c{i}", started_at=entered, queue="sales",
                     queue_entered_at=entered, agent_answered_at=answered,
                     ended_at=answered + timedelta(seconds=talk), wait_seconds=wait,
                     end_reason="caller_hangup")
            )  # fmt: skip
        s.add(
            QueueEntry(node="n", channel_id="w1", queue="support", status="waiting",
                       arrived_at=now - timedelta(seconds=75),
                       entered_at=now - timedelta(seconds=75))
        )  # fmt: skip
        s.commit()

    code, out, err = hotline(capsys, "queues", "stats")
    assert (code, err) == (0, "")
    _, header, *rows = out.splitlines()
    assert header.split() == [
        "queue", "waiting", "callbacks", "longest", "answered", "abandoned", "SL", "arrivals",
        "handle", "needed",
    ]  # fmt: skip
    table = {r.split()[0]: r.split()[1:] for r in rows}
    assert list(table) == ["sales", "support"]
    # 4 calls/h, handle (120+180+240+300)/4 + 30 = 240 s, 2 of 4 within 20 s.
    needed = agents_needed(4.0, 240.0, target_seconds=20, target_level=0.8).agents
    assert table["sales"] == ["0", "0", "-", "4", "0", "50%", "4.0", "4m00s", str(needed)]
    support = table["support"]
    assert support[:2] == ["1", "0"] and support[2] in ("1m15s", "1m16s", "1m17s")
    assert support[3:] == ["0", "0", "-", "0.0", "-", "-"]
    code, out, _ = hotline(capsys, "queues", "stats", "--window", "25")
    assert code == 0 and out.splitlines()[2].split()[4] == "1"  # only the last call answered
