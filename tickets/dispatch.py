"""The day's order dispatch (domain.md §2): which orders go out on which channel's list,
which are outside the sales area, the list as CSV, and the day's cutoff instant.

Pure: no database and no clock. Orders are anything shaped like a ticket
(``OrderTicket``); their own fields are read from ``details`` defensively, since a
missing or odd value must put the order on no list rather than crash the day's run.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any, Generic, Protocol, TypeVar
from zoneinfo import ZoneInfo

from tickets.config import DispatchPolicy

CSV_HEADER = (
    "channel",
    "ticket",
    "customer",
    "phone",
    "address",
    "area",
    "product",
    "quantity",
    "unit price",
    "created (local)",
)
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")


class OrderTicket(Protocol):
    """What dispatch reads of an order ticket (``ticketdb.models.Ticket`` fits)."""

    @property
    def id(self) -> int: ...
    @property
    def contact_name(self) -> str: ...
    @property
    def contact_phone(self) -> str: ...
    @property
    def address(self) -> str: ...
    @property
    def details(self) -> Mapping[str, Any]: ...
    @property
    def created_at(self) -> datetime: ...


OrderT = TypeVar("OrderT", bound=OrderTicket)


@dataclass(frozen=True)
class DispatchPlan(Generic[OrderT]):
    """Where each order goes. ``by_channel`` has every configured channel, in the
    configured order, even when its list is empty (an empty list is still printed)."""

    by_channel: dict[str, list[OrderT]]
    # Outside the sales area: no dispatch, an apology call instead.
    out_of_area: list[OrderT] = field(default_factory=list)
    # In the area but no channel, or one the rules don't list: left for a person to fix,
    # and picked up by the next run once fixed.
    unrouted: list[OrderT] = field(default_factory=list)


def _text(details: Mapping[str, Any], key: str) -> str:
    value = details.get(key)
    return "" if value is None else str(value).strip()


def channel_of(order: OrderTicket) -> str:
    return _text(order.details or {}, "channel")


def area_of(order: OrderTicket) -> str:
    return _text(order.details or {}, "area")


def in_sales_area(area: str, policy: DispatchPolicy) -> bool:
    """An empty ``sales_areas`` means no area check; otherwise case-insensitive."""
    if not policy.sales_areas:
        return True
    return area.casefold() in {a.casefold() for a in policy.sales_areas}


def plan_dispatch(orders: Iterable[OrderT], policy: DispatchPolicy) -> DispatchPlan[OrderT]:
    """Split ``orders`` (in the order given) into the channels' lists, out-of-area and
    unrouted. The area is checked first: an out-of-area order gets its apology whatever
    its channel."""
    plan: DispatchPlan[OrderT] = DispatchPlan({channel: [] for channel in policy.channels})
    for order in orders:
        if not in_sales_area(area_of(order), policy):
            plan.out_of_area.append(order)
        elif (channel := channel_of(order)) in plan.by_channel:
            plan.by_channel[channel].append(order)
        else:
            plan.unrouted.append(order)
    return plan


def local_stamp(at: datetime, tz: ZoneInfo) -> str:
    """``"2026-10-09 08:15"`` in the calendar's zone."""
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def order_row(order: OrderTicket, tz: ZoneInfo) -> tuple[str, ...]:
    """One order as the list shows it: CSV_HEADER's columns after "channel"."""
    details = order.details or {}
    return (
        str(order.id),
        order.contact_name or _text(details, "name"),
        order.contact_phone,
        order.address or _text(details, "address"),
        _text(details, "area"),
        _text(details, "product"),
        _text(details, "quantity"),
        _text(details, "unit_price"),
        local_stamp(order.created_at, tz),
    )


def safe_cell(value: str) -> str:
    """A cell a spreadsheet shows as text: a leading formula character gets a ``'``."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def render_csv(lists: Mapping[str, Sequence[OrderTicket]], tz: ZoneInfo) -> str:
    """The day's lists as one CSV text: the header, then each channel's orders."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for channel, orders in lists.items():
        for order in orders:
            writer.writerow([safe_cell(c) for c in (channel, *order_row(order, tz))])
    return out.getvalue()


def parse_dispatch_time(value: str) -> time:
    m = _HHMM.match(value)
    if not m:
        raise ValueError(f'dispatch time must be "HH:MM" (got {value!r})')
    return time(int(m.group(1)), int(m.group(2)))


def cutoff_instant(day: date, dispatch_time: str, tz: ZoneInfo) -> datetime:
    """The instant (UTC) of ``dispatch_time`` on local ``day``: orders created before it
    go out on that day's lists, later ones on the next day's."""
    local = datetime.combine(day, parse_dispatch_time(dispatch_time), tzinfo=tz)
    return local.astimezone(UTC)


def parse_day(value: str) -> date:
    """``"2026-10-09"`` → a date; ValueError with the one line to show otherwise."""
    try:
        if len(value) != 10:
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not a day {value!r}: use YYYY-MM-DD") from None
