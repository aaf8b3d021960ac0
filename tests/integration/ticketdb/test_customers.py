"""Customers on both back ends: normalised numbers, tiers, upserts, all-or-nothing import."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ticketdb import call_log
from ticketdb.customers import (
    CustomerImportError,
    count_customers,
    find_by_phone,
    import_csv,
    normalise_phone,
    tier_for,
    upsert_customer,
)
from ticketdb.models import Call, Customer

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+8613800000001", "+8613800000001"),
        ("+86 138-0000-0001", "+8613800000001"),
        ("0086 138 0000 0001", "+8613800000001"),
        ("(010) 6552-1234", "01065521234"),
        ("13800000001", "13800000001"),
        ("  6000 ", "6000"),
        ("＋８６ １３８００００００01", "+8613800000001"),  # full-width input method
        ("0044 20 7946 0000", "+442079460000"),
    ],
)
def test_normalise_phone(raw: str, expected: str) -> None:
    assert normalise_phone(raw) == expected


@pytest.mark.parametrize(
    "raw", ["", "   ", "+", "anonymous", "138x0000", "++86138", "86+138", "00", "1" * 33]
)
def test_normalise_phone_refuses_non_numbers(raw: str) -> None:
    with pytest.raises(ValueError):
        normalise_phone(raw)


def test_model_round_trip_and_defaults(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        s.add(Customer(phone="+8613800000001"))
        s.add(
            Customer(
                phone="+8613900000002",
                name="李娜",
                tier="member",
                company="Acme",
                address="1 Road",
                notes="prefers mornings",
            )
        )
        s.commit()
    with sessions() as s:
        bare, full = s.scalars(sa.select(Customer).order_by(Customer.phone)).all()
    assert (bare.name, bare.tier, bare.company, bare.address, bare.notes) == (
        "",
        "general",
        None,
        None,
        None,
    )
    assert bare.created_at.tzinfo is UTC and bare.updated_at.tzinfo is UTC
    assert (full.name, full.tier, full.company, full.address, full.notes) == (
        "李娜",
        "member",
        "Acme",
        "1 Road",
        "prefers mornings",
    )


def test_database_refuses_unknown_tier_and_duplicate_phone(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        s.add(Customer(phone="+1", tier="gold"))
        with pytest.raises(IntegrityError):
            s.commit()
        s.rollback()
        s.add(Customer(phone="+1"))
        s.commit()
        s.add(Customer(phone="+1"))
        with pytest.raises(IntegrityError):
            s.commit()


def test_call_data_defaults_to_empty_and_is_updatable(sessions: sessionmaker[Session]) -> None:
    t = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
    with sessions() as s:
        s.add(Call(node="n", channel_id="c", started_at=t))
        s.commit()
        # Written by plain SQL too (no ORM default), so the server default fills it.
        s.execute(
            sa.text(
                "insert into calls (node, channel_id, caller_number, caller_name,"
                " dialled_number, language, started_at, menu_path, updated_at)"
                " values ('n', 'raw', '', '', '', '', :t, '[]', :t)"
            ),
            {"t": "2026-11-02 10:00:00+00:00"},
        )
        s.commit()
        call_log.update_call(s, node="n", channel_id="c", data={"member_no": "M-001", "n": 2})
    with sessions() as s:
        rows = {c.channel_id: c.data for c in s.scalars(sa.select(Call))}
    assert rows == {"c": {"member_no": "M-001", "n": 2}, "raw": {}}


def test_upsert_find_and_tier(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        assert tier_for(s, "+8613800000001") == "general"
        created = upsert_customer(
            s, phone="0086 138 0000 0001", name="Zhang Wei", tier="VIP", company="Acme"
        )
        assert (created.phone, created.tier, created.company) == ("+8613800000001", "vip", "Acme")
        first_update = created.updated_at
    with sessions() as s:
        found = find_by_phone(s, "+86 138-0000-0001")
        assert found is not None and found.name == "Zhang Wei"
        assert tier_for(s, "+8613800000001") == "vip"
        # Unknown, withheld and garbage caller IDs are simply general callers.
        assert tier_for(s, "+8613800009999") == "general"
        assert tier_for(s, "anonymous") == "general"
        assert tier_for(s, "") == "general"
        assert find_by_phone(s, "anonymous") is None

        updated = upsert_customer(s, phone="+8613800000001", name="Zhang Wei", tier="member")
        assert updated.tier == "member"
        assert updated.company == "Acme"  # not given: kept
        assert updated.created_at == created.created_at
        assert updated.updated_at >= first_update
        assert count_customers(s) == 1


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"phone": "+1", "name": "x", "tier": "gold"}, "tier must be one of"),
        ({"phone": "nobody", "name": "x", "tier": "vip"}, "not a phone number"),
        ({"phone": "+1", "name": "x" * 129, "tier": "vip"}, "name longer than 128"),
        ({"phone": "+1", "name": "x", "tier": "vip", "address": "a" * 257}, "address longer"),
    ],
)
def test_upsert_validates(
    sessions: sessionmaker[Session], kwargs: dict[str, str], problem: str
) -> None:
    with sessions() as s:
        with pytest.raises(ValueError, match=problem):
            upsert_customer(s, **kwargs)
        assert count_customers(s) == 0


def test_import_csv(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text(
        "\ufeffPhone,Name,Tier,Company\n"  # BOM and capitals, as spreadsheets write them
        "+86 138 0000 0001,Zhang Wei,vip,Acme\n"
        "\n"
        '13900000002,"Li, Na",member,\n'
        "+8613700000003,Wang Fang,,\n",
        encoding="utf-8",
    )
    with sessions() as s:
        upsert_customer(s, phone="13900000002", name="old", tier="general", company="Keep Ltd")
        assert import_csv(s, path) == 3
    with sessions() as s:
        got = {c.phone: (c.name, c.tier, c.company) for c in s.scalars(sa.select(Customer))}
    assert got == {
        "+8613800000001": ("Zhang Wei", "vip", "Acme"),
        "13900000002": ("Li, Na", "member", "Keep Ltd"),
        "+8613700000003": ("Wang Fang", "general", None),
    }


def test_shipped_sample_imports(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        count = import_csv(s, REPO / "config" / "customers.sample.csv")
        assert count >= 6
        assert tier_for(s, "+8613800000001") == "vip"
        assert tier_for(s, "+8613900000002") == "member"


@pytest.mark.parametrize(
    ("body", "line", "problem"),
    [
        ("phone,name,tier\n+1,A,vip\n+2,B,gold\n", 3, "tier must be one of"),
        ("phone,name,tier\n+1,A,vip\n\nnot-a-number,B,vip\n", 4, "not a phone number"),
        ("phone,name,tier\n+1,A,vip\n+2,B\n", 3, "expected 3 fields, got 2"),
        ("phone,name,tier\n+1,A,vip\n+2,B,vip\n001,C,vip\n", 4, "+1 is already on line 2"),
        ("phone,name,level\n+1,A,vip\n", 1, "header must be phone,name,tier"),
        ("+1,A,vip\n", 1, "header must be phone,name,tier"),
        ('phone,name,tier\n+1,"A\nB",vip\n+2,C,bad\n', 4, "tier must be one of"),
    ],
)
def test_import_csv_is_all_or_nothing_and_names_the_line(
    sessions: sessionmaker[Session], tmp_path: Path, body: str, line: int, problem: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(body, encoding="utf-8")
    with sessions() as s:
        with pytest.raises(CustomerImportError) as info:
            import_csv(s, path)
        assert str(info.value).startswith(f"{path}:{line}: ")
        assert problem in str(info.value)
        assert count_customers(s) == 0  # not even the good lines before it


def test_import_csv_unreadable(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    latin = tmp_path / "latin.csv"
    latin.write_bytes("phone,name,tier\n+1,Jos\xe9,vip\n".encode("latin-1"))
    empty = tmp_path / "empty.csv"
    empty.write_text("\n")
    with sessions() as s:
        with pytest.raises(CustomerImportError, match="not UTF-8"):
            import_csv(s, latin)
        with pytest.raises(CustomerImportError, match="empty file"):
            import_csv(s, empty)
        with pytest.raises(CustomerImportError, match="cannot read"):
            import_csv(s, tmp_path / "absent.csv")
