"""``hotline tickets check|new|list|search|show|status`` on both back ends, through the
parser as ``hotline/cli/main.py`` registers it (same settings loader and session opener as
``hotline agents``)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from hotline.cli.tickets import add_tickets_parser, parse_fields
from tests.integration.cli.cli_harness import run_cli, write_site_file
from ticketdb.customers import upsert_customer
from ticketdb.models import Call
from tickets.store import create_ticket, get_ticket, history

REPO = Path(__file__).resolve().parents[3]
CALENDAR = """\
timezone: Asia/Shanghai
calendars:
  default:
    weekly: {mon: ["09:30-17:00"]}
"""
RULES = """\
dispatch:
  channels: [retail, supermarket, home_delivery]
"""
ORDER_FIELDS = (
    "--field", "product=Fresh milk 1L", "--field", "quantity=3", "--field", "unit_price=12.5",
    "--field", "channel=supermarket", "--field", "area=Haidian",
)  # fmt: skip


@pytest.fixture
def site(clean_site: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    write_site_file(clean_site, monkeypatch, "tickets", RULES)
    write_site_file(clean_site, monkeypatch, "calendar", CALENDAR)
    return clean_site


def hotline(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    return run_cli(capsys, add_tickets_parser, "tickets", *argv)


def test_check_the_rules_file(
    site: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    shipped = tmp_path / "shipped.yaml"
    shutil.copy(REPO / "config" / "tickets.yaml", shipped)
    code, out, err = hotline(capsys, "check", str(shipped))
    assert (code, err) == (0, "")
    assert out == (
        f"{shipped}: ok (5 department(s), 4 escalation rule(s), 2 dispatch channel(s), "
        "7 sales area(s))\n"
    )
    # No argument: paths.tickets_file.
    code, out, _ = hotline(capsys, "check")
    assert code == 0 and out.startswith(f"{site / 'tickets.yaml'}: ok (0 department(s)")

    broken = tmp_path / "broken.yaml"
    broken.write_text("escalation:\n  - name: x\n    when: {kind: parcel}\n    notify: [a]\n")
    code, out, err = hotline(capsys, "check", str(broken))
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1
    assert err.startswith(f"hotline: error: {broken}:3: escalation.0.when.kind: ")
    code, _, err = hotline(capsys, "check", str(tmp_path / "missing.yaml"))
    assert code == 2 and "cannot read ticket rules" in err


def test_new_show_and_status(
    site_sessions: sessionmaker[Session], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = hotline(
        capsys, "new", "--kind", "order", "--phone", "138-0000-0001", "--name", "Wang Fang",
        "--summary", "weekly milk", "--by", "8001", *ORDER_FIELDS,
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert out == "created ticket 1 (order, new, normal)\n"
    with site_sessions() as s:
        ticket = get_ticket(s, 1)
        # The rules file's channels apply ("supermarket" is only there).
        assert ticket.details["channel"] == "supermarket"
        assert ticket.details["unit_price"] == "12.50"
        assert (ticket.contact_phone, ticket.created_by) == ("13800000001", "8001")

    code, out, err = hotline(capsys, "status", "1", "in_progress", "--by", "8002", "--note", "ok")
    assert (code, out, err) == (0, "ticket 1 (order): new -> in_progress\n", "")
    code, out, err = hotline(capsys, "status", "1", "unfounded", "--by", "8002")
    assert (code, out) == (2, "")
    assert err == (
        "hotline: error: ticket 1: an order ticket cannot go from in_progress to unfounded: "
        "only a complaint can be unfounded; from in_progress it may go to: resolved, "
        "rejected, out_of_area\n"
    )

    code, out, err = hotline(capsys, "show", "1")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert "status      in_progress" in lines
    assert "phone       13800000001" in lines
    assert any(line.split() == ["product", "Fresh", "milk", "1L"] for line in lines)
    assert lines[lines.index("history (Asia/Shanghai)") + 1 :][1].split()[2:] == [
        "8002", "status", "status:", "new", "->", "in_progress;", "ok",
    ]  # fmt: skip

    assert hotline(capsys, "show", "99") == (2, "", "hotline: error: no ticket 99\n")
    assert hotline(capsys, "status", "99", "closed", "--by", "8") == (
        2,
        "",
        "hotline: error: no ticket 99\n",
    )


def test_new_refuses_bad_input_in_one_line(
    site_sessions: sessionmaker[Session], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = hotline(
        capsys, "new", "--kind", "order", "--phone", "1380", "--by", "8001",
        "--field", "product=Milk", "--field", "quantity=-2", "--field", "colour=red",
    )  # fmt: skip
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1
    assert err.startswith("hotline: error: ticket not saved: quantity: must be greater than 0;")
    for problem in ("unit_price: required", "channel: required", "area: required", "colour:"):
        assert problem in err
    code, _, err = hotline(capsys, "new", "--kind", "other", "--field", "description=x")
    assert (code, err) == (
        2,
        "hotline: error: --by STAFF is required (or --call ID: the call's agent)\n",
    )
    code, _, err = hotline(capsys, "new", "--kind", "other", "--by", "1", "--field", "oops")
    assert (code, err) == (2, "hotline: error: --field 'oops': use KEY=VALUE\n")
    code, _, err = hotline(capsys, "new", "--kind", "other", "--by", "1", "--call", "42")
    assert (code, err) == (2, "hotline: error: no call 42\n")
    with site_sessions() as s:
        assert (
            create_ticket(
                s, kind="other", details={"description": "x"}, created_by="1", now=datetime.now(UTC)
            ).id
            == 1
        )  # nothing was saved before


def test_new_from_a_call(
    site_sessions: sessionmaker[Session], capsys: pytest.CaptureFixture[str]
) -> None:
    with site_sessions() as s:
        upsert_customer(s, phone="13900000007", name="Li Na", tier="member", address="8 Rd")
        call = Call(
            node="n1", channel_id="c-1", caller_number="139 0000 0007",
            started_at=datetime.now(UTC), menu_path=["5", "1"], queue="complaints", agent="8003",
        )  # fmt: skip
        s.add(call)
        s.commit()
        call_id = call.id
    code, out, err = hotline(
        capsys, "new", "--kind", "complaint", "--call", str(call_id),
        "--field", "category=service_quality", "--field", "subject=Driver",
        "--field", "reason=Two hours late", "--field", "problem=late_delivery",
    )  # fmt: skip
    assert (code, out, err) == (0, "created ticket 1 (complaint, new, normal)\n", "")
    with site_sessions() as s:
        ticket = get_ticket(s, 1)
        assert (ticket.created_by, ticket.contact_name, ticket.address) == ("8003", "Li Na", "8 Rd")
        assert (ticket.call_id, ticket.queue, ticket.menu_path) == (
            call_id,
            "complaints",
            ["5", "1"],
        )
        assert history(s, 1)[0].actor == "8003"


def test_list_and_search(
    site_sessions: sessionmaker[Session], capsys: pytest.CaptureFixture[str]
) -> None:
    assert hotline(capsys, "list") == (0, "no tickets found\n", "")
    # 17:00 UTC on 6 May is 01:00 on 7 May in Shanghai, the calendar's zone.
    late = datetime(2024, 5, 6, 17, 0, tzinfo=UTC)
    early = datetime(2024, 5, 6, 3, 0, tzinfo=UTC)
    with site_sessions() as s:
        create_ticket(
            s, kind="inquiry", details={"question": "Open on Sunday?", "topic": "other"},
            created_by="8001", now=early, contact_phone="13700000001", contact_name="Zhao",
            summary="opening hours",
        )  # fmt: skip
        create_ticket(
            s, kind="fault", details={"description": "100% packet loss"}, created_by="8001",
            now=late, contact_name="Qian",
        )  # fmt: skip

    code, out, err = hotline(capsys, "list")
    assert (code, err) == (0, "")
    header, *rows = out.splitlines()
    assert header.split()[:4] == ["id", "created", "kind", "status"]
    assert [r.split()[:5] for r in rows] == [
        ["2", "2024-05-07", "01:00", "fault", "new"],
        ["1", "2024-05-06", "11:00", "inquiry", "new"],
    ]
    assert rows[1].endswith("13700000001     Zhao             opening hours")

    def ids(*argv: str) -> list[str]:
        code, out, err = hotline(capsys, *argv)
        assert (code, err) == (0, ""), err
        return [] if out == "no tickets found\n" else [r.split()[0] for r in out.splitlines()[1:]]

    assert ids("list", "--from", "2024-05-07") == ["2"]
    assert ids("list", "--to", "2024-05-06") == ["1"]
    assert ids("list", "--from", "2024-05-06", "--to", "2024-05-06") == ["1"]
    assert ids("list", "--kind", "fault") == ["2"]
    assert ids("list", "--status", "closed") == []
    assert ids("list", "--number", "0000 1") == ["1"]
    assert ids("list", "--name", "QIAN") == ["2"]
    assert ids("list", "--limit", "1", "--offset", "1") == ["1"]
    assert ids("search", "sunday") == ["1"]
    assert ids("search", "100%") == ["2"]
    assert ids("search", "%", "--kind", "inquiry") == []
    assert ids("list", "--text", "hours") == ["1"]

    code, _, err = hotline(capsys, "list", "--from", "7 May")
    assert (code, err) == (2, "hotline: error: --from '7 May': use YYYY-MM-DD\n")
    code, _, err = hotline(capsys, "list", "--limit", "0")
    assert (code, err) == (2, "hotline: error: limit: must be 1-500\n")


def test_parse_fields() -> None:
    assert parse_fields(["a=1", "b = x=y ", "c="]) == {"a": "1", "b": " x=y ", "c": ""}
    with pytest.raises(ValueError, match="given twice"):
        parse_fields(["a=1", "a=2"])
    with pytest.raises(ValueError, match="use KEY=VALUE"):
        parse_fields(["=1"])
