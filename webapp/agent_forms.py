"""The agent desk's ticket forms, generated from the per-kind models of ``tickets.kinds``.

One place describes the forms: each kind's (and complaint category's) fields come from
its validating model's JSON schema, so a field added to a model appears on the page
with the right input, and the API's per-field errors land next to it. Labels are the
i18n keys ``agent.field.<name>``; choices ``agent.option.<value>`` (a unit test checks
every field and choice has both).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from tickets.kinds import COMPLAINT_CATEGORIES, model_for

# The kinds in the order the form offers them; a complaint's category picks its model.
FORM_KINDS = ("complaint", "order", "inquiry", "fault", "other")
# The fields every ticket shares (columns of the ticket, not details): name, widget.
COMMON_FIELDS: tuple[tuple[str, str], ...] = (
    ("contact_name", "text"),
    ("contact_phone", "tel"),
    ("address", "text"),
    ("summary", "text"),
    ("note", "textarea"),
)
# Longer than this is written in a text area.
_LINE = 200


def form_keys() -> list[str]:
    """Every form: a kind, or ``complaint:<category>``."""
    keys: list[str] = []
    for kind in FORM_KINDS:
        if kind == "complaint":
            keys.extend(f"complaint:{c}" for c in COMPLAINT_CATEGORIES)
        else:
            keys.append(kind)
    return keys


def _plain(prop: dict[str, Any]) -> tuple[dict[str, Any], bool, bool]:
    """The property's own schema, whether it may be null, and whether it is a decimal
    (given as a number or an exact string)."""
    options = prop.get("anyOf")
    if not options:
        return prop, False, False
    nullable = any(o.get("type") == "null" for o in options)
    rest = [o for o in options if o.get("type") != "null"]
    types = {o.get("type") for o in rest}
    if types == {"number", "string"}:
        number = next(o for o in rest if o.get("type") == "number")
        return {**number, "title": prop.get("title")}, nullable, True
    return rest[0], nullable, False


def _field(
    name: str, prop: dict[str, Any], required: bool, channels: Collection[str]
) -> dict[str, Any]:
    own, nullable, decimal = _plain(prop)
    out: dict[str, Any] = {"name": name, "required": required}
    kind = own.get("type")
    if name == "channel":
        # Validated against the rules file's dispatch channels: offer exactly those.
        out.update(widget="select", options=list(channels))
    elif "enum" in own:
        out.update(widget="select", options=list(own["enum"]))
    elif kind == "boolean":
        # Unknown is a real answer for a judgement not made yet (well_founded).
        out.update(widget="tristate" if nullable else "checkbox")
    elif decimal:
        out.update(widget="decimal", min=own.get("minimum"))
    elif kind == "integer":
        low = own.get("ge", own.get("minimum"))
        if low is None and "gt" in own:
            low = own["gt"] + 1
        out.update(widget="number", min=low, max=own.get("le", own.get("maximum")))
    elif own.get("format") == "date":
        out.update(widget="date")
    else:
        length = own.get("maxLength")
        widget = "textarea" if length is not None and length > _LINE else "text"
        out.update(widget=widget, max_length=length)
    return out


def details_fields(form: str, channels: Collection[str]) -> list[dict[str, Any]]:
    """The detail fields of one form (see ``form_keys``), in the model's order."""
    kind, _, category = form.partition(":")
    model = model_for(kind, category or None)
    schema = model.model_json_schema()
    required = set(schema.get("required", ()))
    return [
        _field(name, prop, name in required, channels)
        for name, prop in schema["properties"].items()
        if "const" not in prop  # the complaint category: chosen by the category select
    ]


def ticket_forms(channels: Collection[str]) -> dict[str, Any]:
    """What the page's script builds the ticket forms from."""
    return {
        "kinds": list(FORM_KINDS),
        "categories": list(COMPLAINT_CATEGORIES),
        "common": [{"name": n, "widget": w, "required": False} for n, w in COMMON_FIELDS],
        "forms": {key: details_fields(key, channels) for key in form_keys()},
    }
