"""``hotline dispatch run|show|csv`` and ``hotline sla sweep|breaches`` on both back ends,
through the parser as ``hotline/cli/main.py`` registers it."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hotline.cli.dispatch import add_dispatch_parser
from tests.integration.cli.cli_harness import run_cli, write_site_file
from ticketdb.models import CallbackRequest, Ticket, TicketSla

RULES = """\
sla:
  kinds:
    complaint: {first_response_minutes: 60, callback_days: 3, resolution_working_days: 3}
dispatch:
  channels: [retail, home_delivery]
  sales_areas: [Chaoyang, Haidian]
"""
CALENDAR = """\
timezone: Asia/Shanghai
calendars:
  default:
    weekly: {mon: ["09:30-17:00"], tue: ["09:30-17:00"], wed: ["09:30-17:00"],
             thu: ["09:30-17:00"], fri: ["09:30-17:00"]}
"""


@pytest.fixture
def site(clean_site: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    write_site_file(clean_site, monkeypatch, "tickets", RULES)
    write_site_file(clean_site, monkeypatch, "calendar", CALENDAR)
    return clean_site


def hotline(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    return run_cli(capsys, add_dispatch_parser, *argv)


def add(s: Session, created: datetime, kind: str = "order", **details: Any) -> int:
    t = Ticket(kind=kind, contact_name="Wang Fang", contact_phone="13800000001",
               address="1 Jianguo Rd", details=details, created_by="8001",
               created_at=created, updated_at=created)  # fmt: skip
    s.add(t)
    s.commit()
    return t.id


# 9 October 2026, 08:00 in Shanghai: before that day's 09:30 cutoff.
MORNING = datetime(2026, 10, 9, 0, 0, tzinfo=UTC)


def test_run_show_and_csv(
    site_sessions: sessionmaker[Session], site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with site_sessions() as s:
        milk = add(s, MORNING, channel="retail", area="Chaoyang", product="Milk", quantity=2,
                   unit_price="6.50")  # fmt: skip
        away = add(s, MORNING, channel="retail", area="Pudong")
        late = add(s, MORNING + timedelta(hours=2), channel="retail", area="Chaoyang")

    code, out, err = hotline(capsys, "dispatch", "run", "--day", "2026-10-09")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "dispatch 2026-10-09: orders created before 09:30 Asia/Shanghai",
        f"  retail: 1 order(s) (#{milk})",
        "  home_delivery: 0 order(s)",
        f"  out of area: 1 order(s) (#{away}), 1 apology callback(s) added",
    ]
    code, out, _ = hotline(capsys, "dispatch", "run", "--day", "2026-10-09")
    assert code == 0 and out.splitlines()[-1] == "  nothing new to dispatch"
    with site_sessions() as s:
        assert len(s.scalars(select(CallbackRequest)).all()) == 1
        assert s.get_one(Ticket, late).dispatch_day is None

    code, out, _ = hotline(capsys, "dispatch", "show", "--day", "2026-10-09")
    assert code == 0
    assert "retail (1 order(s))" in out and "home_delivery (0 order(s))" in out
    assert f"{milk} | Wang Fang | 13800000001 | 1 Jianguo Rd | Chaoyang | Milk | 2 | 6.50" in out

    code, out, _ = hotline(capsys, "dispatch", "csv", "--day", "2026-10-09")
    header, *body = list(csv.reader(io.StringIO(out)))
    assert code == 0 and header[:3] == ["channel", "ticket", "customer"]
    assert body == [["retail", str(milk), "Wang Fang", "13800000001", "1 Jianguo Rd",
                     "Chaoyang", "Milk", "2", "6.50", "2026-10-09 08:00"]]  # fmt: skip

    code, out, _ = hotline(capsys, "dispatch", "csv", "--day", "2026-10-09", "-o", "list.csv")
    assert code == 0 and "list.csv" in out
    written = (site / "list.csv").read_bytes()
    assert written.startswith(b"\xef\xbb\xbf")  # a BOM, for spreadsheets
    assert written.decode("utf-8-sig").replace("\r\n", "\n") == (
        "channel,ticket,customer,phone,address,area,product,quantity,unit price,created (local)\n"
        f"retail,{milk},Wang Fang,13800000001,1 Jianguo Rd,Chaoyang,Milk,2,6.50,2026-10-09 08:00\n"
    )
    code, _, err = hotline(capsys, "dispatch", "csv", "--day", "2026-10-09", "-o", "no/such/x")
    assert code == 1 and "cannot write" in err


@pytest.mark.parametrize("command", ["run", "show", "csv"])
def test_a_bad_day_is_refused(site: Path, command: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = hotline(capsys, "dispatch", command, "--day", "2026-02-30")
    assert (code, out) == (2, "")
    assert err == "hotline: error: --day: not a day '2026-02-30': use YYYY-MM-DD\n"


def test_a_broken_rules_file_is_refused(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (site / "tickets.yaml").write_text("dispatch:\n  channels: []\n", encoding="utf-8")
    code, out, err = hotline(capsys, "dispatch", "run")
    assert (code, out) == (2, "")
    assert err.startswith(f"hotline: error: {site / 'tickets.yaml'}:2: dispatch.channels:")
    assert len(err.splitlines()) == 1


def test_sla_sweep_and_breaches(
    site_sessions: sessionmaker[Session], site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert hotline(capsys, "sla", "breaches") == (0, "no SLA breaches or near breaches\n", "")
    now = datetime.now(UTC)
    with site_sessions() as s:
        old = add(s, now - timedelta(days=30), "complaint")
        add(s, now, "complaint")
    code, out, err = hotline(capsys, "sla", "sweep")
    assert (code, err) == (0, "")
    assert out == (
        "swept 2 open ticket(s): ok 3, near 0, breached 3, met 0, missed 0; "
        "6 row(s) written, 0 stopped ticket(s) settled\n"
    )
    with site_sessions() as s:
        assert len(s.scalars(select(TicketSla)).all()) == 6

    code, out, _ = hotline(capsys, "sla", "breaches")
    header, *lines = out.splitlines()
    assert code == 0 and header.split()[:3] == ["due", "(Asia/Shanghai)", "state"]
    assert len(lines) == 3
    # due date, time, state, severity, ticket, kind, target, contact name, phone
    assert [line.split()[2:] for line in lines] == [
        ["breached", "normal", f"#{old}", "complaint", target, "Wang", "Fang", "13800000001"]
        for target in ("first_response", "callback", "resolution")
    ]
    assert hotline(capsys, "sla", "breaches", "--state", "near")[1] == (
        "no SLA breaches or near breaches\n"
    )


def test_sla_sweep_needs_the_calendar(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (site / "calendar.yaml").unlink()
    code, out, err = hotline(capsys, "sla", "sweep")
    assert (code, out) == (2, "")
    assert "no calendar file" in err
