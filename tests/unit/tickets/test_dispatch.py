"""The dispatch plan (channels, sales area), the CSV list and the day's cutoff, pure."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tickets.config import DispatchPolicy, parse_rules
from tickets.dispatch import (
    CSV_HEADER,
    DispatchPlan,
    cutoff_instant,
    parse_day,
    plan_dispatch,
    render_csv,
    safe_cell,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
POLICY = DispatchPolicy(("retail", "home_delivery"), frozenset({"Chaoyang", "Haidian"}))


@dataclass
class Order:
    id: int
    details: dict[str, Any]
    contact_name: str = "Wang Fang"
    contact_phone: str = "13800000001"
    address: str = "1 Jianguo Rd"
    created_at: datetime = field(default_factory=lambda: datetime(2026, 10, 9, 0, 15, tzinfo=UTC))


def order(id: int, channel: object = "retail", area: object = "Chaoyang", **extra: Any) -> Order:
    return Order(id, {"channel": channel, "area": area, **extra})


def test_orders_are_grouped_by_channel_and_every_channel_has_a_list() -> None:
    orders = [order(1), order(2, "home_delivery", "Haidian"), order(3, area="haidian")]
    plan = plan_dispatch(orders, POLICY)
    assert list(plan.by_channel) == ["retail", "home_delivery"]
    assert [o.id for o in plan.by_channel["retail"]] == [1, 3]  # area compared ignoring case
    assert [o.id for o in plan.by_channel["home_delivery"]] == [2]
    assert plan.out_of_area == [] and plan.unrouted == []

    empty: DispatchPlan[Order] = plan_dispatch([], POLICY)
    assert empty.by_channel == {"retail": [], "home_delivery": []}


def test_out_of_area_orders_are_set_apart_whatever_their_channel() -> None:
    orders = [order(1, area="Pudong"), order(2, "wholesale", "Pudong"), order(3, area=None)]
    plan = plan_dispatch(orders, POLICY)
    assert [o.id for o in plan.out_of_area] == [1, 2, 3]
    assert plan.by_channel == {"retail": [], "home_delivery": []}


def test_no_sales_areas_means_no_area_check() -> None:
    rules = parse_rules("dispatch: {channels: [retail]}")
    plan = plan_dispatch([order(1, area="Anywhere"), order(2, area=None)], rules.dispatch)
    assert [o.id for o in plan.by_channel["retail"]] == [1, 2]
    assert plan.out_of_area == []


def test_orders_without_a_known_channel_are_left_for_a_person() -> None:
    odd = Order(4, {"area": "Chaoyang"})  # no channel at all
    plan = plan_dispatch([order(1, "wholesale"), order(2, None), odd, order(3)], POLICY)
    assert [o.id for o in plan.unrouted] == [1, 2, 4]
    assert [o.id for o in plan.by_channel["retail"]] == [3]


def rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_csv_has_a_header_and_one_row_per_order_in_local_time() -> None:
    first = order(7, product="Fresh milk 1L", quantity=12, unit_price="6.50")
    second = order(9, "home_delivery", "Haidian", product="Yoghurt, plain", quantity=3)
    second.created_at = datetime(2026, 10, 8, 16, 5, tzinfo=UTC)  # 00:05 on the 9th locally
    text = render_csv({"retail": [first], "home_delivery": [second]}, SHANGHAI)
    header, *body = rows(text)
    assert tuple(header) == CSV_HEADER
    assert body == [
        ["retail", "7", "Wang Fang", "13800000001", "1 Jianguo Rd", "Chaoyang",
         "Fresh milk 1L", "12", "6.50", "2026-10-09 08:15"],
        ["home_delivery", "9", "Wang Fang", "13800000001", "1 Jianguo Rd", "Haidian",
         "Yoghurt, plain", "3", "", "2026-10-09 00:05"],
    ]  # fmt: skip
    assert rows(render_csv({"retail": []}, SHANGHAI)) == [list(CSV_HEADER)]


def test_csv_cells_cannot_become_formulas() -> None:
    bad = order(1, product='=HYPERLINK("http://evil")', quantity="-1+2")
    bad.contact_name = "@SUM(A1)"
    bad.contact_phone = "+8613800000001"
    bad.address = "\t=1+1"
    (_, row) = rows(render_csv({"retail": [bad]}, SHANGHAI))
    assert row[2] == "'@SUM(A1)"
    assert row[3] == "'+8613800000001"
    assert row[4] == "'\t=1+1"
    assert row[6] == '\'=HYPERLINK("http://evil")'
    assert row[7] == "'-1+2"
    assert safe_cell("Chaoyang = east") == "Chaoyang = east"  # only a leading character counts


def test_cutoff_is_the_dispatch_time_in_the_calendars_zone() -> None:
    assert cutoff_instant(date(2026, 10, 9), "09:30", SHANGHAI) == datetime(
        2026, 10, 9, 1, 30, tzinfo=UTC
    )
    assert cutoff_instant(date(2026, 10, 9), "08:00", ZoneInfo("UTC")) == datetime(
        2026, 10, 9, 8, 0, tzinfo=UTC
    )
    with pytest.raises(ValueError, match="HH:MM"):
        cutoff_instant(date(2026, 10, 9), "9.30", SHANGHAI)


@pytest.mark.parametrize("bad", ["2026-13-01", "yesterday", "2026-1-5", "20261009", ""])
def test_parse_day_refuses_anything_but_an_iso_date(bad: str) -> None:
    with pytest.raises(ValueError, match="use YYYY-MM-DD"):
        parse_day(bad)
    assert parse_day("2026-10-09") == date(2026, 10, 9)
