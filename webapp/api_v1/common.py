"""What every /api/v1 resource shares: reading query parameters and JSON bodies strictly
(400 ``invalid`` naming each bad field), paging, instants, the access audit, masked
numbers, and the stable error ids an integration branches on.

Views raise ``ApiError`` (webapp/errors.py), so errors have the one JSON shape
``{"error", "error_id", …}`` documented as the ``Error`` schema of the OpenAPI document.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, NoReturn, TypeVar

from flask import request

from kernel.roles import LEAD_ROLES
from ticketdb.audit import record_access
from ticketdb.models import Agent
from tickets.site import TicketSite
from webapp.auth import me
from webapp.db import db
from webapp.dispatch import ticket_resources
from webapp.errors import ApiError

# Every error id this API answers with; the OpenAPI document lists them (Error schema).
ERROR_IDS = (
    "token_missing",  # 401: no "Authorization: Bearer …" header
    "token_invalid",  # 401: unknown or revoked token, or its agent is disabled
    "forbidden",  # 403: the token's role may not do this
    "not_found",  # 404: no such object (or route)
    "invalid",  # 400: bad parameters or body; ``errors`` names each field
    "stale",  # 409: the object changed since the version given
    "transition_refused",  # 409: the workflow forbids the status; ``allowed`` lists others
    "method_not_allowed",  # 405
    "too_large",  # 413: body over the size limit
    "internal_error",  # 500
)

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_OFFSET = 100_000

T = TypeVar("T")


def invalid(errors: Mapping[str, str]) -> NoReturn:
    """400 ``invalid`` naming every bad field."""
    message = "; ".join(f"{field}: {problem}" for field, problem in errors.items())
    raise ApiError(400, message, error_id="invalid", errors=dict(errors))


def forbidden(message: str) -> NoReturn:
    raise ApiError(403, message, error_id="forbidden")


def not_found(message: str) -> NoReturn:
    raise ApiError(404, message, error_id="not_found")


def is_lead(agent: Agent) -> bool:
    return agent.role in LEAD_ROLES


def ticket_site() -> TicketSite:
    """The site's ticket rules and calendars, as loaded once by the app."""
    return ticket_resources().site


def site_tz() -> tzinfo:
    """The calendar file's zone: what a day given as YYYY-MM-DD means."""
    return ticket_site().tz


# --- input --------------------------------------------------------------------------


def arg(key: str) -> str:
    """A query parameter, stripped ("" when absent)."""
    return (request.args.get(key) or "").strip()


def unknown_params(allowed: Collection[str]) -> dict[str, str]:
    """A problem for each query parameter this view does not know (a typo would
    otherwise be silently ignored and return everything): start a view's errors with it."""
    return {
        key: f"unknown parameter (allowed: {', '.join(allowed)})"
        for key in sorted(set(request.args) - set(allowed))
    }


def body(allowed: Collection[str], required: Collection[str] = ()) -> dict[str, Any]:
    """The request's JSON object with only ``allowed`` keys and every ``required`` one."""
    found = request.get_json(silent=True)
    if not isinstance(found, dict):
        invalid({"body": "expected a JSON object (Content-Type: application/json)"})
    errors = {key: "unknown field" for key in sorted(set(found) - set(allowed))}
    errors.update({key: "required" for key in required if found.get(key) is None})
    if errors:
        invalid(errors)
    return found


def text_field(
    values: Mapping[str, Any], key: str, limit: int, errors: dict[str, str]
) -> str | None:
    """A text field (None when absent), stripped; a problem goes into ``errors``."""
    value = values.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        errors[key] = "must be text"
        return None
    value = value.strip()
    if len(value) > limit:
        errors[key] = f"at most {limit} characters"
        return None
    return value


def int_field(values: Mapping[str, Any], key: str, errors: dict[str, str]) -> int | None:
    value = values.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        errors[key] = "must be a positive whole number"
        return None
    return value


@dataclass(frozen=True)
class Page:
    limit: int
    offset: int

    def cut(self, rows: Sequence[T]) -> tuple[list[T], int | None]:
        """The page of ``rows`` fetched with ``limit + 1`` and the next offset (None: last)."""
        more = len(rows) > self.limit
        return list(rows[: self.limit]), self.offset + self.limit if more else None


def page(errors: dict[str, str]) -> Page:
    """``limit`` (1-200, default 50) and ``offset`` (default 0) from the query string."""
    numbers = {}
    for key, default, low, high in (
        ("limit", DEFAULT_LIMIT, 1, MAX_LIMIT),
        ("offset", 0, 0, MAX_OFFSET),
    ):
        text = request.args.get(key)
        try:
            value = int(text) if text else default
        except ValueError:
            errors[key] = "must be a whole number"
            continue
        if not low <= value <= high:
            errors[key] = f"must be {low}-{high}"
        numbers[key] = value
    return Page(numbers.get("limit", DEFAULT_LIMIT), numbers.get("offset", 0))


def instant(key: str, tz: tzinfo, errors: dict[str, str], *, end: bool = False) -> datetime | None:
    """A query parameter as an instant: an ISO 8601 instant with its zone, or a local day
    YYYY-MM-DD in ``tz`` (its start; with ``end`` the start of the next day, so a day
    given as an upper bound is included)."""
    text = request.args.get(key)
    if not text:
        return None
    return parse_instant(key, text, tz, errors, end=end)


def parse_instant(
    key: str, text: str, tz: tzinfo, errors: dict[str, str], *, end: bool = False
) -> datetime | None:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        pass
    else:
        start = datetime.combine(day + timedelta(days=1 if end else 0), time(), tz)
        return start.astimezone(UTC)
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        errors[key] = "a date YYYY-MM-DD or an ISO 8601 instant with its zone"
        return None
    if at.tzinfo is None or at.utcoffset() is None:
        errors[key] = "give the time zone (e.g. +08:00 or Z)"
        return None
    return at.astimezone(UTC)


# --- output -------------------------------------------------------------------------


def when(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


# --- the audit log ------------------------------------------------------------------


def audit(action: str, object_type: str, object_id: str | int, detail: str | None = None) -> None:
    """One access of the token's agent in the audit log, noting it came over the API."""
    agent = me()
    record_access(
        db(),
        actor=agent.staff_number,
        role=agent.role,
        action=action,
        object_type=object_type,
        object_id=object_id,
        detail=f"api: {detail}" if detail else "api",
    )


def query_text() -> str:
    """The query string as given (for the audit of a search)."""
    return "&".join(f"{k}={v}" for k, v in request.args.items(multi=True) if v) or "(no filter)"
