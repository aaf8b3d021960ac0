"""Customers: looked up by caller ID to find their tier (general, member, VIP).

Phone numbers are stored normalised (``normalise_phone``) so that the caller ID of a
call and a number typed by staff meet on the same row. Writes are upserts on the phone
number (``INSERT … ON CONFLICT DO UPDATE``), so re-importing a list or adding a number
twice updates the customer instead of failing or duplicating it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kernel.clock import utcnow
from kernel.csvfile import csv_rows
from ticketdb.models import CUSTOMER_TIERS, Customer
from ticketdb.sql import insert, transaction

MAX_PHONE = 32
MAX_NAME = 128
MAX_COMPANY = 128
MAX_ADDRESS = 256

CSV_REQUIRED = ("phone", "name", "tier")
CSV_OPTIONAL = ("company", "address")

# Separators people write inside numbers: "+86 138-0000-0001", "(010) 6552.1234".
_SEPARATORS = re.compile(r"[\s\-().]")
_DIGITS = re.compile(r"^[0-9]+$")


class CustomerImportError(ValueError):
    """A bad customer file; the message names the file and line."""


def normalise_phone(raw: str) -> str:
    """Digits only, with a leading + kept; the international prefix 00 becomes +.

    ``"0086 138-0000-0001"`` → ``"+8613800000001"``. Full-width characters (typed with
    a Chinese input method) count as their ASCII forms. Raises ValueError for anything
    that is not a phone number.
    """
    text = _SEPARATORS.sub("", unicodedata.normalize("NFKC", raw))
    plus = text.startswith("+")
    digits = text[1:] if plus else text
    if not _DIGITS.match(digits):
        raise ValueError(f"not a phone number: {raw!r}")
    if not plus and digits.startswith("00"):
        plus, digits = True, digits[2:]
        if not digits:
            raise ValueError(f"not a phone number: {raw!r}")
    number = f"+{digits}" if plus else digits
    if len(number) > MAX_PHONE:
        raise ValueError(f"phone number longer than {MAX_PHONE} characters: {raw!r}")
    return number


def find_by_phone(s: Session, phone: str) -> Customer | None:
    """The customer with this number (in any notation); None when unknown or not a number."""
    try:
        number = normalise_phone(phone)
    except ValueError:
        return None
    return s.scalars(select(Customer).where(Customer.phone == number)).one_or_none()


def tier_for(s: Session, phone: str) -> str:
    """The caller's tier; "general" for unknown, withheld or malformed caller IDs."""
    customer = find_by_phone(s, phone)
    return customer.tier if customer is not None else "general"


def count_customers(s: Session) -> int:
    return s.scalar(select(func.count()).select_from(Customer)) or 0


def _text(value: str | None, field: str, limit: int) -> str | None:
    if value is None:
        return None
    value = " ".join(value.split())
    if len(value) > limit:
        raise ValueError(f"{field} longer than {limit} characters")
    return value


def _validated(
    *, phone: str, name: str, tier: str, company: str | None, address: str | None
) -> dict[str, Any]:
    clean_tier = tier.strip().lower()
    if clean_tier not in CUSTOMER_TIERS:
        raise ValueError(f"tier must be one of {', '.join(CUSTOMER_TIERS)} (got {tier!r})")
    return {
        "phone": normalise_phone(phone),
        "name": _text(name, "name", MAX_NAME) or "",
        "tier": clean_tier,
        "company": _text(company, "company", MAX_COMPANY),
        "address": _text(address, "address", MAX_ADDRESS),
    }


def _upsert(s: Session, values: Mapping[str, Any]) -> None:
    now = utcnow()
    stmt = insert(s, Customer).values(**{**values, "created_at": now, "updated_at": now})
    changes = {
        "name": stmt.excluded.name,
        "tier": stmt.excluded.tier,
        # None means "not given": keep what is on file.
        "company": func.coalesce(stmt.excluded.company, Customer.company),
        "address": func.coalesce(stmt.excluded.address, Customer.address),
        # ON CONFLICT DO UPDATE skips the model's onupdate.
        "updated_at": now,
    }
    s.execute(stmt.on_conflict_do_update(index_elements=["phone"], set_=changes))


def upsert_customer(
    s: Session,
    *,
    phone: str,
    name: str,
    tier: str,
    company: str | None = None,
    address: str | None = None,
) -> Customer:
    """Add the customer, or update the one with this number; commits.

    ``company`` and ``address`` left as None keep the values on file. Raises ValueError
    for a bad number, tier or over-long text.
    """
    values = _validated(phone=phone, name=name, tier=tier, company=company, address=address)
    with transaction(s):
        _upsert(s, values)
    stmt = (
        select(Customer)
        .where(Customer.phone == values["phone"])
        .execution_options(populate_existing=True)
    )
    return s.scalars(stmt).one()


def _read_csv(path: Path) -> list[dict[str, Any]]:
    """Every customer row of the file, validated; the first problem raises, naming its line."""

    def fail(line: int, problem: str) -> CustomerImportError:
        return CustomerImportError(f"{path}:{line}: {problem}")

    rows: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for line, cells in csv_rows(
        path,
        CSV_REQUIRED,
        CSV_OPTIONAL,
        CustomerImportError,
        "expected a phone,name,tier header",
        header_text="phone,name,tier[,company,address]",
    ):
        try:
            values = _validated(
                phone=cells["phone"],
                name=cells["name"],
                tier=cells["tier"] or "general",
                company=cells.get("company") or None,
                address=cells.get("address") or None,
            )
        except ValueError as exc:
            raise fail(line, str(exc)) from None
        first = seen.setdefault(values["phone"], line)
        if first != line:
            raise fail(line, f"{values['phone']} is already on line {first}")
        rows.append(values)
    return rows


def import_csv(s: Session, path: Path) -> int:
    """Add or update every customer in a CSV file; all or nothing. Returns the row count.

    Columns: ``phone,name,tier`` and optionally ``company,address``, with a header line.
    An empty tier means general; empty company or address keep what is on file.
    """
    rows = _read_csv(path)
    with transaction(s):
        for values in rows:
            _upsert(s, values)
    return len(rows)
