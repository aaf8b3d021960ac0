"""Customers over /api/v1:

- ``GET /api/v1/customers?phone=`` — the customer with this number (in any notation), as
  a list of none or one;
- ``GET /api/v1/customers/<id>``;
- ``POST /api/v1/customers`` — ``{phone, name, tier, company, address}``: add, or update
  the customer with this number (201 added, 200 updated);
- ``PATCH /api/v1/customers/<id>`` — ``{name, tier, company, address}``, each optional.

Any role may look a customer up (agents talk to them); only leads and admins change the
customer file, like ``hotline customers``. Customer data is confidential (domain.md §7):
every lookup, view and refused change is in the access audit log, and the phone number
is masked unless the role sees full numbers.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from ticketdb.customers import (
    MAX_ADDRESS,
    MAX_COMPANY,
    MAX_NAME,
    find_by_phone,
    normalise_phone,
    upsert_customer,
)
from ticketdb.models import CUSTOMER_TIERS, Customer
from webapp.api_v1.common import (
    arg,
    audit,
    body,
    forbidden,
    invalid,
    is_lead,
    not_found,
    text_field,
    unknown_params,
    when,
)
from webapp.auth import me
from webapp.db import db
from webapp.masking import shown_number

bp = Blueprint("customers", __name__)

WRITE_FIELDS = ("phone", "name", "tier", "company", "address")
CHANGE_FIELDS = ("name", "tier", "company", "address")


def customer_json(customer: Customer) -> dict[str, Any]:
    return {
        "id": customer.id,
        "phone": shown_number(customer.phone),
        "name": customer.name,
        "tier": customer.tier,
        "company": customer.company,
        "address": customer.address,
        "notes": customer.notes,
        "created_at": when(customer.created_at),
        "updated_at": when(customer.updated_at),
    }


def _may_change(doing: str, object_id: str | int) -> None:
    if not is_lead(me()):
        audit("refused", "customer", object_id, f"{doing}: the customer file is for leads")
        forbidden("only a lead's or admin's token changes customers")


def _fields(values: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    """The given fields of a customer body, checked."""
    out: dict[str, Any] = {}
    for key, limit in (("name", MAX_NAME), ("company", MAX_COMPANY), ("address", MAX_ADDRESS)):
        if key in values:
            # null company or address keeps what is on file; a name cannot be cleared.
            out[key] = text_field(values, key, limit, errors)
    if "name" in values and values["name"] is None:
        errors["name"] = "must be text"
    if "tier" in values:
        if values["tier"] in CUSTOMER_TIERS:
            out["tier"] = values["tier"]
        else:
            errors["tier"] = f"must be one of {', '.join(CUSTOMER_TIERS)}"
    return out


@bp.get("/customers")
def lookup() -> dict[str, Any]:
    errors = unknown_params(("phone",))
    phone = arg("phone")
    if not phone:
        errors["phone"] = "required (the number to look up)"
    else:
        try:
            normalise_phone(phone)
        except ValueError:
            errors["phone"] = "not a phone number"
    if errors:
        invalid(errors)
    customer = find_by_phone(db(), phone)
    found = str(customer.id) if customer is not None else "none"
    audit("search", "customer", "*", f"phone={phone}; found: {found}")
    return {"customers": [customer_json(customer)] if customer is not None else []}


@bp.get("/customers/<int:customer_id>")
def get_one(customer_id: int) -> dict[str, Any]:
    customer = db().get(Customer, customer_id)
    if customer is None:
        not_found(f"no customer {customer_id}")
    audit("view", "customer", customer_id)
    return {"customer": customer_json(customer)}


@bp.post("/customers")
def save() -> tuple[dict[str, Any], int]:
    _may_change("save", "*")
    values = body(WRITE_FIELDS, required=("phone", "name", "tier"))
    errors: dict[str, str] = {}
    fields = _fields(values, errors)
    phone = values["phone"]
    if not isinstance(phone, str):
        errors["phone"] = "must be text"
    else:
        try:
            normalise_phone(phone)
        except ValueError:
            errors["phone"] = "not a phone number"
    if errors:
        invalid(errors)
    existed = find_by_phone(db(), phone) is not None
    try:
        customer = upsert_customer(db(), phone=phone, **fields)
    except ValueError as exc:
        invalid({"customer": str(exc)})
    return {"customer": customer_json(customer)}, 200 if existed else 201


@bp.patch("/customers/<int:customer_id>")
def change(customer_id: int) -> dict[str, Any]:
    _may_change("change", customer_id)
    values = body(CHANGE_FIELDS)
    errors: dict[str, str] = {}
    fields = _fields(values, errors)
    if not values:
        errors["body"] = f"give at least one of {', '.join(CHANGE_FIELDS)}"
    if errors:
        invalid(errors)
    customer = db().get(Customer, customer_id)
    if customer is None:
        not_found(f"no customer {customer_id}")
    merged = {"name": customer.name, "tier": customer.tier, **fields}
    try:
        saved = upsert_customer(db(), phone=customer.phone, **merged)
    except ValueError as exc:
        invalid({"customer": str(exc)})
    return {"customer": customer_json(saved)}
