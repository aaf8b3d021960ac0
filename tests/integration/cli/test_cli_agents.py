"""``hotline agents add|import|list|state|history|passwd`` as an operator runs them, on both
back ends; ``state`` under the shift rules of config/shifts.yaml when there is one."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from werkzeug.security import check_password_hash

from agents import phone_store
from agents.phone_store import PhoneSeen
from hotline.cli.base import in_state_for
from ticketdb.engine import make_engine, make_sessionmaker
from ticketdb.models import Agent

REPO = Path(__file__).resolve().parents[3]


def hotline(
    db_url: str, cwd: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env["HOTLINE_DATABASE_URL"] = db_url
    return subprocess.run(
        [sys.executable, "-m", "hotline.cli", "agents", *args],
        cwd=cwd,
        env=env,
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=60,
    )


def table(stdout: str) -> dict[str, list[str]]:
    """``agents list`` rows by staff number (first column)."""
    lines = stdout.splitlines()[1:]
    return {line.split()[0]: line.split() for line in lines}


def test_add_list_state_history(db_url: str, tmp_path: Path) -> None:
    assert "no agents yet" in hotline(db_url, tmp_path, "list").stdout
    added = hotline(
        db_url,
        tmp_path,
        "add",
        "8002",
        "--name",
        "Zhao Lei",
        "--team",
        "hotline",
        "--endpoint",
        "PJSIP/8002",
        "--skill",
        "mobile:3",
        "--skill",
        "general",
        "--language",
        "zh",
    )
    assert added.returncode == 0, added.stderr
    assert "saved 8002 Zhao Lei (agent) at PJSIP/8002" in added.stdout
    lead = hotline(
        db_url, tmp_path, "add", "8001", "--name", "Chen", "--role", "lead",
        "--endpoint", "PJSIP/8001",
    )  # fmt: skip
    assert lead.returncode == 0, lead.stderr

    row = table(hotline(db_url, tmp_path, "list").stdout)["8002"]
    assert row[row.index("agent") :][:3] == ["agent", "hotline", "offline"]
    assert "general:1 mobile:3" in " ".join(row)

    ok = hotline(db_url, tmp_path, "state", "8002", "available")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == "8002 Zhao Lei: available"
    away = hotline(db_url, tmp_path, "state", "8002", "away", "--reason", "toilet")
    assert away.returncode == 0, away.stderr
    assert "away (toilet)" in " ".join(table(hotline(db_url, tmp_path, "list").stdout)["8002"])

    # Illegal: one line on stderr, exit 1, nothing recorded.
    again = hotline(db_url, tmp_path, "state", "8002", "away", "--reason", "break")
    assert again.returncode == 1
    assert again.stderr.splitlines() == ["hotline: error: agent 8002: the seat is already away"]
    peer = hotline(db_url, tmp_path, "add", "8003", "--name", "Sun", "--endpoint", "PJSIP/8003")
    assert peer.returncode == 0
    refused = hotline(db_url, tmp_path, "state", "8002", "offline", "--by", "8003")
    assert refused.returncode == 1
    assert "only a lead" in refused.stderr and len(refused.stderr.splitlines()) == 1
    no_leave = hotline(db_url, tmp_path, "state", "8002", "on_leave")
    assert no_leave.returncode == 1 and "only a lead" in no_leave.stderr

    leave = hotline(db_url, tmp_path, "state", "8002", "on_leave", "--by", "8001", "--note", "sick")
    assert leave.returncode == 0, leave.stderr

    shown = hotline(db_url, tmp_path, "history", "8002")
    assert shown.returncode == 0, shown.stderr
    rows = [line.split() for line in shown.stdout.splitlines()[1:]]
    # date, time, from, to, reason, by, node[, note]
    assert [r[2:7] for r in rows] == [
        ["offline", "available", "-", "8002", "-"],
        ["available", "away", "toilet", "8002", "-"],
        ["away", "on_leave", "-", "8001", "-"],
    ]
    assert rows[-1][-1] == "sick"
    stamp = datetime.fromisoformat(f"{rows[0][0]}T{rows[0][1]}+00:00")
    assert abs(datetime.now(UTC) - stamp) < timedelta(minutes=5)
    future = hotline(db_url, tmp_path, "history", "8002", "--since", "2999-01-01")
    assert "no seat changes for 8002" in future.stdout


def test_unknown_agents_and_bad_input(db_url: str, tmp_path: Path) -> None:
    missing = hotline(db_url, tmp_path, "state", "9999", "available")
    assert missing.returncode == 1
    assert missing.stderr.strip() == "hotline: error: no agent with staff number 9999"
    assert hotline(db_url, tmp_path, "history", "9999").returncode == 1
    bad_state = hotline(db_url, tmp_path, "state", "8001", "on_call")
    assert bad_state.returncode == 2 and "invalid choice" in bad_state.stderr
    bad_endpoint = hotline(db_url, tmp_path, "add", "8001", "--name", "A", "--endpoint", "8001")
    assert bad_endpoint.returncode == 2
    assert "endpoint must look like PJSIP/8001" in bad_endpoint.stderr
    bad_level = hotline(
        db_url, tmp_path, "add", "8001", "--name", "A", "--endpoint", "PJSIP/8001",
        "--skill", "mobile:7",
    )  # fmt: skip
    assert bad_level.returncode == 2 and "1-5" in bad_level.stderr


def test_skills_are_checked_against_the_queues_file(db_url: str, tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    shutil.copy(REPO / "config" / "queues.yaml", tmp_path / "config" / "queues.yaml")
    unknown = hotline(
        db_url, tmp_path, "add", "8001", "--name", "A", "--endpoint", "PJSIP/8001",
        "--skill", "juggling:3",
    )  # fmt: skip
    assert unknown.returncode == 2
    assert "unknown skill(s) juggling" in unknown.stderr
    bad = tmp_path / "agents.csv"
    bad.write_text("staff_number,name,role,team,endpoint,skills\n8001,A,agent,t,PJSIP/8001,x:2\n")
    failed = hotline(db_url, tmp_path, "import", str(bad))
    assert failed.returncode == 1
    assert "agent 8001: unknown skill(s) x" in failed.stderr and "nothing imported" in failed.stderr


def test_import_the_sample(db_url: str, tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    shutil.copy(REPO / "config" / "queues.yaml", tmp_path / "config" / "queues.yaml")
    sample = REPO / "config" / "agents.sample.csv"
    imported = hotline(db_url, tmp_path, "import", str(sample))
    assert imported.returncode == 0, imported.stderr
    assert f"imported 6 agent(s) from {sample}" in imported.stdout
    rows = table(hotline(db_url, tmp_path, "list").stdout)
    assert sorted(rows) == [f"800{i}" for i in range(1, 7)]
    assert sum("lead" in r for r in rows.values()) == 1
    bad = tmp_path / "bad.csv"
    bad.write_text("staff_number,name\n8009,X\n")
    failed = hotline(db_url, tmp_path, "import", str(bad))
    assert failed.returncode == 1 and "header must be" in failed.stderr


# On post around the clock, no minimum on duty: only max_away_at_once decides.
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
  min_normal_on_duty_open: 0
  min_normal_on_duty_outside: 0
  max_away_at_once: 1
"""


def add(db_url: str, cwd: Path, staff: str, role: str = "agent") -> None:
    added = hotline(
        db_url, cwd, "add", staff, "--name", f"Agent {staff}", "--role", role,
        "--team", "hotline", "--endpoint", f"PJSIP/{staff}",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr


def test_state_follows_the_shift_rules_and_a_lead_overrides(db_url: str, tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "shifts.yaml").write_text(SHIFTS, encoding="utf-8")
    for staff, role in (("8001", "lead"), ("8002", "agent"), ("8003", "agent")):
        add(db_url, tmp_path, staff, role)
    for staff in ("8002", "8003"):
        assert hotline(db_url, tmp_path, "state", staff, "available").returncode == 0
    first = hotline(db_url, tmp_path, "state", "8002", "away", "--reason", "break")
    assert first.returncode == 0, first.stderr

    refused = hotline(db_url, tmp_path, "state", "8003", "away", "--reason", "toilet")
    assert refused.returncode == 1
    [line] = refused.stderr.splitlines()
    assert line.startswith("hotline: error: agent 8003: refused by max_away_at_once: Agent 8002")
    assert line.endswith("(a lead may override: --by LEAD --override)")
    own = hotline(db_url, tmp_path, "state", "8003", "away", "--reason", "toilet", "--override")
    assert own.returncode == 1 and "max_away_at_once" in own.stderr

    lead = hotline(
        db_url, tmp_path, "state", "8003", "away", "--reason", "toilet", "--by", "8001",
        "--override",
    )  # fmt: skip
    assert lead.returncode == 0, lead.stderr
    out = lead.stdout.splitlines()
    assert out[0] == "8003 Agent 8003: away (toilet)"
    assert out[1].startswith("override: ") and "overrode max_away_at_once" in out[1]
    shown = hotline(db_url, tmp_path, "history", "8003").stdout.splitlines()
    assert shown[-1].endswith(out[1].removeprefix("override: "))

    (tmp_path / "config" / "shifts.yaml").write_text("timezone: Nowhere/Else\n")
    broken = hotline(db_url, tmp_path, "state", "8002", "available")
    assert broken.returncode == 2 and "shifts.yaml:1:" in broken.stderr


def test_list_shows_each_agents_phone(db_url: str, tmp_path: Path) -> None:
    """The phone column: what the controllers' Asterisks see of each agent's phone."""
    for staff in ("8001", "8002", "8003", "8004"):
        add(db_url, tmp_path, staff)
    engine = make_engine(db_url)
    try:
        with make_sessionmaker(engine)() as s:
            ids = {a.staff_number: a.id for a in s.scalars(sa.select(Agent))}
            now = datetime.now(UTC)
            phone_store.record(s, "node-a", [
                PhoneSeen(ids["8001"], "PJSIP/8001", False, reason="not registered (offline)"),
                PhoneSeen(ids["8002"], "PJSIP/8002", True, channels=1),
                PhoneSeen(ids["8004"], "PJSIP/8004", False, reason="refused"),
            ], now)  # fmt: skip
            # Another node reaches 8004's phone: it can still be rung, so it is ready.
            phone_store.record(s, "node-b", [PhoneSeen(ids["8004"], "PJSIP/8004", True)], now)
    finally:
        engine.dispose()

    listed = hotline(db_url, tmp_path, "list")
    assert listed.returncode == 0, listed.stderr
    header = listed.stdout.splitlines()[0].split()
    assert header[header.index("for") + 1 :][:2] == ["phone", "endpoint"]
    rows = table(listed.stdout)

    def phone(staff: str) -> str:
        row = rows[staff]
        return row[row.index(f"PJSIP/{staff}") - 1]  # the column before the endpoint

    # 8003: no node said anything about it, so nothing is known against it.
    assert {staff: phone(staff) for staff in rows} == {
        "8001": "offline", "8002": "busy", "8003": "ready", "8004": "ready",
    }  # fmt: skip


def test_passwd(db_url: str, tmp_path: Path) -> None:
    add(db_url, tmp_path, "8001")
    short = hotline(db_url, tmp_path, "passwd", "8001", stdin="seven77\n")
    assert short.returncode == 2 and "8-256 characters" in short.stderr
    unknown = hotline(db_url, tmp_path, "passwd", "9999", stdin="long enough\n")
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == "hotline: error: no agent with staff number 9999"
    ok = hotline(db_url, tmp_path, "passwd", "8001", stdin="long enough pass\nignored\n")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == "password of 8001 set"
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            stored = conn.execute(
                sa.text("select password_hash from agents where staff_number = '8001'")
            ).scalar_one()
    finally:
        engine.dispose()
    assert "long enough pass" not in stored
    assert check_password_hash(stored, "long enough pass")
    assert not check_password_hash(stored, "long enough pass\n")


def test_time_in_state() -> None:
    t = datetime(2026, 1, 1, tzinfo=UTC)
    assert in_state_for(t, t + timedelta(seconds=45)) == "45s"
    assert in_state_for(t, t + timedelta(minutes=12, seconds=3)) == "12m03s"
    assert in_state_for(t, t + timedelta(hours=1, minutes=5, seconds=9)) == "1h05m"
    assert in_state_for(t, t - timedelta(seconds=3)) == "0s"  # clocks of two hosts


def agent_row(db_url: str, staff: str) -> dict[str, object]:
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                sa.text(
                    "select name, role, team, endpoint, languages, away_limit_minutes, active, "
                    "password_hash from agents where staff_number = :staff"
                ),
                {"staff": staff},
            ).one_or_none()
            if row is None:
                return {}
            skills = conn.execute(
                sa.text(
                    "select skill, level from agent_skills join agents "
                    "on agents.id = agent_skills.agent_id where staff_number = :staff"
                ),
                {"staff": staff},
            ).all()
    finally:
        engine.dispose()
    values = dict(row._mapping)
    if isinstance(values["languages"], str):  # SQLite hands the JSON column back as text
        values["languages"] = json.loads(values["languages"])
    values["active"] = bool(values["active"])
    values["skills"] = dict(skills)
    return values


def test_add_for_an_existing_agent_keeps_what_is_not_given(db_url: str, tmp_path: Path) -> None:
    full = hotline(
        db_url, tmp_path, "add", "8002", "--name", "Zhao Lei", "--role", "lead",
        "--team", "hotline", "--endpoint", "PJSIP/8002", "--skill", "mobile:3",
        "--language", "zh", "--language", "en", "--away-limit", "20",
    )  # fmt: skip
    assert full.returncode == 0, full.stderr
    assert hotline(db_url, tmp_path, "passwd", "8002", stdin="long enough pass\n").returncode == 0
    before = agent_row(db_url, "8002")
    assert before["team"] == "hotline" and before["role"] == "lead"

    # Without --team (and --role, --language, --skill, --away-limit): only the endpoint
    # changes. It used to empty the team (the agent then off every shift) and reset the rest.
    moved = hotline(
        db_url, tmp_path, "add", "8002", "--name", "Zhao Lei", "--endpoint", "PJSIP/8012"
    )
    assert moved.returncode == 0, moved.stderr
    assert moved.stdout.strip() == "saved 8002 Zhao Lei (lead) at PJSIP/8012"
    assert agent_row(db_url, "8002") == {**before, "endpoint": "PJSIP/8012"}

    # One option alone is enough for an existing agent.
    team = hotline(db_url, tmp_path, "add", "8002", "--team", "evening")
    assert team.returncode == 0, team.stderr
    after = agent_row(db_url, "8002")
    assert after == {**before, "endpoint": "PJSIP/8012", "team": "evening"}
    assert after["skills"] == {"mobile": 3} and after["languages"] == ["zh", "en"]
    assert after["away_limit_minutes"] == 20 and after["password_hash"]

    # A disabled account stays disabled when its details are updated.
    engine = sa.create_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("update agents set active = false where staff_number = '8002'"))
    finally:
        engine.dispose()
    assert hotline(db_url, tmp_path, "add", "8002", "--skill", "data:2").returncode == 0
    assert agent_row(db_url, "8002") == {**after, "active": False, "skills": {"data": 2}}

    # A new agent still needs a name and an endpoint; nothing is stored without them.
    new = hotline(db_url, tmp_path, "add", "8009", "--team", "hotline")
    assert new.returncode == 2
    assert new.stderr.strip() == (
        "hotline: error: no agent with staff number 8009 yet: "
        "a new agent needs --name and --endpoint"
    )
    no_endpoint = hotline(db_url, tmp_path, "add", "8009", "--name", "Qian")
    assert no_endpoint.returncode == 2 and "needs --endpoint" in no_endpoint.stderr
    assert agent_row(db_url, "8009") == {}
    fresh = hotline(db_url, tmp_path, "add", "8009", "--name", "Qian", "--endpoint", "PJSIP/8009")
    assert fresh.returncode == 0, fresh.stderr
    assert agent_row(db_url, "8009") | {"password_hash": None} == {
        "name": "Qian", "role": "agent", "team": "", "endpoint": "PJSIP/8009",
        "languages": [], "away_limit_minutes": None, "active": True, "password_hash": None,
        "skills": {},
    }  # fmt: skip
