"""The fields each kind of ticket records (domain.md §2), as validating models.

The fields every kind shares (contact name and phone, address, summary) are columns of
the ticket; these models are the kind's own fields, stored in ``Ticket.details``. Every
write goes through ``validate_details``, so ``details`` never holds a free-form blob.

Problems come back as ``TicketInvalid`` with ONE message per field, keyed by the field
name, so a form can show each next to its input and the CLI can print them in a line.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from tickets.config import KINDS

# Dispatch channels when no rules file says otherwise (tickets.config's default).
DEFAULT_CHANNELS = ("retail", "home_delivery")
ServiceProblem = Literal[
    "late_delivery", "short_delivery", "staff_skill", "staff_attitude", "billing_error", "other"
]
InquiryTopic = Literal["product_range", "prices", "delivery", "payment", "promotions", "other"]
COMPLAINT_CATEGORIES = ("product_quality", "service_quality")
SERVICE_PROBLEMS: tuple[str, ...] = get_args(ServiceProblem)
INQUIRY_TOPICS: tuple[str, ...] = get_args(InquiryTopic)

# Text as typed into a form: surrounding blanks dropped, bounded.
Line = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
RequiredLine = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
]
RequiredText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)
]


def _not_bool(value: object) -> object:
    # Lax int parsing takes True as 1; a count or rating given as true/false is a mistake.
    if isinstance(value, bool):
        raise ValueError("must be a whole number")
    return value


Count = Annotated[int, BeforeValidator(_not_bool), Field(gt=0)]
Rating = Annotated[int, BeforeValidator(_not_bool), Field(ge=1, le=5)]
Price = Annotated[
    Decimal,
    Field(ge=0, max_digits=12, decimal_places=2),
    AfterValidator(lambda value: value.quantize(Decimal("0.01"))),
]


class TicketInvalid(ValueError):
    """Bad ticket input: ``errors`` maps each field to its problem (one per field)."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{field}: {problem}" for field, problem in self.errors.items()))


class _Details(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OrderDetails(_Details):
    """An order call: what, how many, at what price, and where it goes out from."""

    product: RequiredLine  # the product specification
    quantity: Count
    unit_price: Price  # per unit, exact (stored as a decimal string, e.g. "12.50")
    # The dispatch list it goes out on (the rules' dispatch channels).
    channel: RequiredLine
    # The district delivered to: the dispatch decides in / out of the sales area by it.
    area: RequiredLine
    delivery_date: date | None = None

    @field_validator("channel")
    @classmethod
    def _known_channel(cls, value: str, info: ValidationInfo) -> str:
        context = info.context if isinstance(info.context, Mapping) else {}
        channels: Collection[str] = context.get("channels") or DEFAULT_CHANNELS
        if value not in channels:
            raise ValueError(f"must be one of {', '.join(channels)}")
        return value


class _Complaint(_Details):
    subject: RequiredLine  # what or whom the complaint is about
    reason: RequiredText
    # The operator's judgement; None until made.
    well_founded: bool | None = None
    # valid: a service failure, wrong charge, broken equipment; communication: a question,
    # a request for help, venting (which, handled badly, becomes a valid one).
    complaint_type: Literal["valid", "communication"] | None = None


class ProductComplaintDetails(_Complaint):
    category: Literal["product_quality"] = "product_quality"
    symptom: RequiredText  # odd smell, spoiled, spec not met …
    purchase_how: Line = ""
    purchase_where: Line = ""
    batch_number: Line = ""
    production_date: date | None = None
    # Physically harmed or hospitalised: the highest severity (escalation flag "injury").
    injury: bool = False


class ServiceComplaintDetails(_Complaint):
    category: Literal["service_quality"] = "service_quality"
    problem: ServiceProblem
    staff_name_or_id: Line = ""
    where_how: Text = ""
    # The customer-service center passes it on to the marketing director.
    forward_to_marketing: bool = False


class InquiryDetails(_Details):
    question: RequiredText
    answer: Text = ""
    topic: InquiryTopic
    # The caller may order: handed on as an order lead.
    potential_order: bool = False


class FaultDetails(_Details):
    description: RequiredText
    location: Line = ""
    cause: Text = ""
    engineer: Line = ""  # who was dispatched (staff number or name)
    # The user's ratings at the end, 1 (worst) to 5.
    rating_speed: Rating | None = None
    rating_attitude: Rating | None = None
    rating_result: Rating | None = None


class OtherDetails(_Details):
    description: RequiredText


Details = (
    OrderDetails
    | ProductComplaintDetails
    | ServiceComplaintDetails
    | InquiryDetails
    | FaultDetails
    | OtherDetails
)

_MODELS: dict[str, type[Details]] = {
    "order": OrderDetails,
    "inquiry": InquiryDetails,
    "fault": FaultDetails,
    "other": OtherDetails,
}
_COMPLAINTS: dict[str, type[Details]] = {
    "product_quality": ProductComplaintDetails,
    "service_quality": ServiceComplaintDetails,
}


def model_for(kind: str, category: object = None) -> type[Details]:
    """The details model of a kind (for complaints: of the category). TicketInvalid if none."""
    if kind == "complaint":
        if category in (None, ""):
            raise TicketInvalid({"category": f"required: {' or '.join(COMPLAINT_CATEGORIES)}"})
        model = _COMPLAINTS.get(str(category))
        if model is None:
            raise TicketInvalid({"category": f"must be one of {', '.join(COMPLAINT_CATEGORIES)}"})
        return model
    model = _MODELS.get(kind)
    if model is None:
        raise TicketInvalid({"kind": f"must be one of {', '.join(KINDS)} (got {kind!r})"})
    return model


def field_names(kind: str) -> frozenset[str]:
    """Every details field a kind may have (complaints: of either category)."""
    models = _COMPLAINTS.values() if kind == "complaint" else [model_for(kind)]
    return frozenset(name for model in models for name in model.model_fields)


def _problem(err: Mapping[str, Any], allowed: Collection[str]) -> str:
    """One short problem text for a pydantic error, phrased to follow ``field: ``."""
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind == "missing":
        return "required"
    if kind == "extra_forbidden":
        return f"unknown field (fields: {', '.join(allowed)})"
    if kind == "string_too_short":
        return "required"
    if kind == "string_too_long":
        return f"at most {ctx.get('max_length')} characters"
    if kind == "greater_than":
        return f"must be greater than {ctx.get('gt')}"
    if kind == "greater_than_equal":
        return f"must be at least {ctx.get('ge')}"
    if kind == "less_than_equal":
        return f"must be at most {ctx.get('le')}"
    if kind in ("int_parsing", "int_from_float", "int_type"):
        return "must be a whole number"
    if kind in ("decimal_parsing", "decimal_type"):
        return "must be a number"
    if kind == "decimal_max_places":
        return f"at most {ctx.get('decimal_places')} decimal places"
    if kind in ("decimal_max_digits", "decimal_whole_digits"):
        return "too large"
    if kind in ("bool_parsing", "bool_type"):
        return "must be true or false"
    if kind.startswith("date"):
        return "must be a date YYYY-MM-DD"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected', '').replace(' or ', ', ')}".replace("'", "")
    if kind == "string_type":
        return "must be text"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    message = str(err["msg"])
    return message[:1].lower() + message[1:]


def validate_details(
    kind: str, data: Mapping[str, Any], *, channels: Collection[str] | None = None
) -> Details:
    """The kind's details model for ``data``; TicketInvalid naming every bad field.

    Empty values ("" or None) count as not given, so an empty form input falls back to
    the field's default, or is reported as required. ``channels``: the dispatch
    channels an order may name (default: retail, home_delivery).
    """
    given = {k: v for k, v in data.items() if v is not None and v != ""}
    model = model_for(kind, given.get("category"))
    try:
        return model.model_validate(given, context={"channels": channels or DEFAULT_CHANNELS})
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "details"
            errors.setdefault(field, _problem(err, tuple(model.model_fields)))
        raise TicketInvalid(errors) from None


def details_json(details: Details) -> dict[str, Any]:
    """What ``Ticket.details`` stores: every field, as JSON (prices as exact strings)."""
    return details.model_dump(mode="json")


def category_of(details: Details) -> str | None:
    """``Ticket.category``: a complaint's category, an inquiry's topic; else None."""
    if isinstance(details, ProductComplaintDetails | ServiceComplaintDetails):
        return details.category
    if isinstance(details, InquiryDetails):
        return details.topic
    return None
