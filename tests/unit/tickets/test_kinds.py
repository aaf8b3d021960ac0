"""Each kind's fields (domain.md §2) as validated models: what is accepted, how values
are normalised and stored, and one clear message per bad field."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from tickets.kinds import (
    FaultDetails,
    InquiryDetails,
    OrderDetails,
    OtherDetails,
    ProductComplaintDetails,
    ServiceComplaintDetails,
    TicketInvalid,
    category_of,
    details_json,
    field_names,
    validate_details,
)

ORDER = {
    "product": "Fresh milk 1L",
    "quantity": 3,
    "unit_price": "12.5",
    "channel": "retail",
    "area": "Haidian",
}
PRODUCT = {
    "category": "product_quality",
    "subject": "Yoghurt 200g",
    "reason": "Tasted sour",
    "symptom": "odd smell",
}
SERVICE = {
    "category": "service_quality",
    "subject": "Driver",
    "reason": "Two hours late",
    "problem": "late_delivery",
}


def problems(kind: str, data: dict[str, Any], **kw: Any) -> dict[str, str]:
    with pytest.raises(TicketInvalid) as caught:
        validate_details(kind, data, **kw)
    return caught.value.errors


def test_an_order() -> None:
    order = validate_details("order", {**ORDER, "delivery_date": "2024-05-08"})
    assert isinstance(order, OrderDetails)
    assert order.unit_price == Decimal("12.50") and order.delivery_date == date(2024, 5, 8)
    assert details_json(order) == {
        "product": "Fresh milk 1L",
        "quantity": 3,
        "unit_price": "12.50",  # exact, as text
        "channel": "retail",
        "area": "Haidian",
        "delivery_date": "2024-05-08",
    }
    # Text from a form or the command line converts; blanks around text go.
    typed = validate_details("order", {**ORDER, "quantity": "2", "product": "  Milk  "})
    assert isinstance(typed, OrderDetails)
    assert (typed.quantity, typed.product) == (2, "Milk")
    assert category_of(order) is None


def test_order_problems_one_per_field() -> None:
    assert problems(
        "order",
        {"product": " ", "quantity": 0, "unit_price": "-1", "channel": "post",
         "area": "", "delivery_date": "soon", "colour": "red"},
    ) == {
        "product": "required",
        "quantity": "must be greater than 0",
        "unit_price": "must be at least 0",
        "channel": "must be one of retail, home_delivery",
        "area": "required",
        "delivery_date": "must be a date YYYY-MM-DD",
        "colour": "unknown field (fields: product, quantity, unit_price, channel, area, "
        "delivery_date)",
    }  # fmt: skip
    assert problems("order", {**ORDER, "quantity": "1.5", "unit_price": "1.234"}) == {
        "quantity": "must be a whole number",
        "unit_price": "at most 2 decimal places",
    }
    assert problems("order", {**ORDER, "quantity": True, "unit_price": "lots"}) == {
        "quantity": "must be a whole number",
        "unit_price": "must be a number",
    }
    assert problems("order", {}) == {
        field: "required" for field in ("product", "quantity", "unit_price", "channel", "area")
    }


def test_order_channels_come_from_the_rules() -> None:
    shop = {**ORDER, "channel": "supermarket"}
    assert problems("order", shop)["channel"] == "must be one of retail, home_delivery"
    accepted = validate_details("order", shop, channels=("retail", "supermarket"))
    assert isinstance(accepted, OrderDetails) and accepted.channel == "supermarket"
    assert problems("order", ORDER, channels=("supermarket",)) == {
        "channel": "must be one of supermarket"
    }


def test_complaints_by_category() -> None:
    product = validate_details("complaint", {**PRODUCT, "injury": "yes", "well_founded": "no",
                                             "production_date": "2024-05-01"})  # fmt: skip
    assert isinstance(product, ProductComplaintDetails)
    assert (product.injury, product.well_founded, product.complaint_type) == (True, False, None)
    assert category_of(product) == "product_quality"
    service = validate_details("complaint", {**SERVICE, "forward_to_marketing": True})
    assert isinstance(service, ServiceComplaintDetails)
    assert service.forward_to_marketing and service.problem == "late_delivery"
    assert category_of(service) == "service_quality"
    # Defaults: no injury, not forwarded, not judged yet.
    assert details_json(validate_details("complaint", PRODUCT))["injury"] is False
    assert details_json(validate_details("complaint", SERVICE))["well_founded"] is None


def test_complaint_problems() -> None:
    assert problems("complaint", {"subject": "x"}) == {
        "category": "required: product_quality or service_quality"
    }
    assert problems("complaint", {**PRODUCT, "category": "food"}) == {
        "category": "must be one of product_quality, service_quality"
    }
    # A service complaint has no batch number; the problem is one of the listed kinds.
    errors = problems("complaint", {**SERVICE, "problem": "rude", "batch_number": "B1"})
    assert errors["problem"] == (
        "must be one of late_delivery, short_delivery, staff_skill, staff_attitude, "
        "billing_error, other"
    )
    assert errors["batch_number"].startswith("unknown field (fields: subject, reason")
    assert problems("complaint", {**PRODUCT, "symptom": "", "injury": "perhaps",
                                  "complaint_type": "angry"}) == {
        "symptom": "required",
        "injury": "must be true or false",
        "complaint_type": "must be one of valid, communication",
    }  # fmt: skip


def test_inquiry_fault_other() -> None:
    inquiry = validate_details(
        "inquiry", {"question": "Any offers?", "topic": "promotions", "potential_order": "1"}
    )
    assert isinstance(inquiry, InquiryDetails)
    assert inquiry.potential_order and inquiry.answer == ""
    assert category_of(inquiry) == "promotions"
    assert problems("inquiry", {"question": "?", "topic": "weather"}) == {
        "topic": "must be one of product_range, prices, delivery, payment, promotions, other"
    }

    fault = validate_details("fault", {"description": "Line dead", "rating_speed": "5"})
    assert isinstance(fault, FaultDetails) and fault.rating_speed == 5
    assert fault.rating_result is None
    assert problems("fault", {"description": "x", "rating_speed": 0, "rating_result": 6}) == {
        "rating_speed": "must be at least 1",
        "rating_result": "must be at most 5",
    }
    other = validate_details("other", {"description": "Lost umbrella"})
    assert isinstance(other, OtherDetails)
    assert problems("other", {"description": "x" * 2001}) == {
        "description": "at most 2000 characters"
    }


def test_empty_values_count_as_not_given() -> None:
    form = {**ORDER, "delivery_date": "", "product": None}
    assert problems("order", form) == {"product": "required"}
    assert validate_details("fault", {"description": "x", "rating_speed": ""}) == FaultDetails(
        description="x"
    )


def test_unknown_kind_and_field_names() -> None:
    assert problems("parcel", {}) == {
        "kind": "must be one of order, complaint, inquiry, fault, other (got 'parcel')"
    }
    assert field_names("order") == {
        "product", "quantity", "unit_price", "channel", "area", "delivery_date",
    }  # fmt: skip
    # Complaints: the fields of both categories.
    assert {"symptom", "injury", "problem", "forward_to_marketing"} <= field_names("complaint")


def test_message_of_the_exception() -> None:
    exc = TicketInvalid({"quantity": "must be greater than 0", "area": "required"})
    assert str(exc) == "quantity: must be greater than 0; area: required"
