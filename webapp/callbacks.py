"""The callback worklist over the JSON API (domain.md §5, decision 0013).

- ``GET /api/callbacks/mine`` — the agent's open items, due first, with whether it is
  quiet hours now and when each item may be dialled;
- ``POST /api/callbacks/<id>/dial`` — "call": the queue engine rings the agent's phone,
  then the customer. 202 when queued; 409 with the reason in quiet hours, before the
  item's next time slot, when the seat is not free or a dial is already on its way;
- ``DELETE /api/callbacks/<id>/dial`` — withdraw a dial not yet started;
- ``POST /api/callbacks/<id>/outcome`` — ``{"outcome": "reached", "satisfaction": …,
  "remarks": …}`` or ``{"outcome": "not_reached"}``;
- ``GET /api/callbacks/coverage?since=&until=`` — leads and admins: member customers
  still owed a callback, and items closed as unreachable (audited: it lists customers).

Quiet hours are read in the calendar file's time zone, like the queue engine's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from flask import Blueprint, Flask, current_app, request

from callbacks import coverage as callback_reports
from callbacks import worklist
from callbacks.plan import CallbackRules
from kernel.clock import utcnow
from kernel.roles import LEAD_ROLES
from kernel.settings import Settings
from ticketdb.audit import record_access
from webapp.auth import is_lead, json_body, login_required, me
from webapp.db import db
from webapp.errors import ApiError
from webapp.helpers import when

bp = Blueprint("callbacks", __name__, url_prefix="/api/callbacks")

KEY = "hotline.callbacks"
DEFAULT_REPORT_DAYS = 7
MAX_REPORT_DAYS = 366


@dataclass(frozen=True)
class CallbackResources:
    rules: CallbackRules
    # The instant "now" (tests pass a fixed one: quiet hours depend on it).
    clock: Callable[[], datetime] = utcnow


def init_app(app: Flask, settings: Settings, tz: tzinfo) -> CallbackResources:
    """Register the views with the callback rules in the calendar's zone ``tz``."""
    found = CallbackResources(worklist.rules_for(settings.callbacks, tz))
    app.extensions[KEY] = found
    app.register_blueprint(bp)
    return found


def callback_resources() -> CallbackResources:
    found: CallbackResources = current_app.extensions[KEY]
    return found


def _item(item: worklist.WorkItem) -> dict[str, Any]:
    out = asdict(item)
    for key, value in out.items():
        if isinstance(value, datetime):
            out[key] = value.isoformat()
    return out


@bp.get("/mine")
@login_required()
def mine() -> dict[str, Any]:
    res = callback_resources()
    now = res.clock()
    items = worklist.worklist(db(), me().id, now, res.rules)
    return {
        "now": now.isoformat(),
        "quiet_now": res.rules.is_quiet(now),
        "quiet_hours": list(res.rules.quiet_hours),
        "next_dial_at": res.rules.next_dial_time(now).isoformat(),
        "items": [_item(i) for i in items],
    }


@bp.post("/<int:item_id>/dial")
@login_required()
def dial(item_id: int) -> tuple[dict[str, Any], int]:
    res = callback_resources()
    try:
        found = worklist.request_dial(db(), item_id, me().id, res.clock(), res.rules)
    except worklist.NotFound as exc:
        raise ApiError(404, str(exc)) from None
    except worklist.Refused as exc:
        raise ApiError(409, str(exc)) from None
    return {"id": found.request_id, "dial": "waiting", "entry_id": found.entry_id}, 202


@bp.delete("/<int:item_id>/dial")
@login_required()
def cancel(item_id: int) -> dict[str, Any]:
    return {"id": item_id, "cancelled": worklist.cancel_dial(db(), item_id, me().id)}


_OUTCOME_FIELDS = ("outcome", "satisfaction", "remarks")


@bp.post("/<int:item_id>/outcome")
@login_required()
def outcome(item_id: int) -> dict[str, Any]:
    body = json_body()
    extra = sorted(set(body) - set(_OUTCOME_FIELDS))
    if extra:
        raise ApiError(400, f"unknown field(s) {', '.join(extra)}")
    values = {k: body.get(k) for k in _OUTCOME_FIELDS}
    for key, value in values.items():
        if value is not None and not isinstance(value, str):
            raise ApiError(400, f"{key}: a string")
    agent = me()
    res = callback_resources()
    s = db()
    try:
        item = worklist.get_item(s, item_id)
        if item.assigned_to not in (None, agent.id) and not is_lead(agent):
            raise ApiError(403, f"callback {item_id} is on another agent's worklist")
        result = worklist.record_attempt(
            s,
            item_id,
            str(values["outcome"] or ""),
            agent.staff_number,
            res.clock(),
            rules=res.rules,
            agent_id=agent.id,
            satisfaction=values["satisfaction"],
            remarks=values["remarks"],
        )
    except worklist.NotFound as exc:
        raise ApiError(404, str(exc)) from None
    except worklist.Refused as exc:
        raise ApiError(409, str(exc)) from None
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    return {
        "id": item_id,
        "status": result.status,
        "attempts": result.attempts,
        "not_before": when(result.not_before),
    }


def _instant(name: str, value: str | None, tz: tzinfo, *, end: bool) -> datetime | None:
    """``YYYY-MM-DD`` (a local day; ``until`` includes it) or an ISO instant with a zone."""
    if value is None:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        pass
    else:
        start = datetime.combine(day + timedelta(days=1 if end else 0), time(), tz)
        return start.astimezone(UTC)
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise ApiError(400, f"{name}: a date YYYY-MM-DD or an ISO 8601 instant") from None
    if at.tzinfo is None:
        raise ApiError(400, f"{name}: give a time zone (e.g. +08:00 or Z)")
    return at


@bp.get("/coverage")
@login_required(roles=LEAD_ROLES)
def coverage() -> dict[str, Any]:
    res = callback_resources()
    now = res.clock()
    tz = res.rules.tz
    until = _instant("until", request.args.get("until"), tz, end=True) or now
    since = _instant("since", request.args.get("since"), tz, end=False) or (
        until - timedelta(days=DEFAULT_REPORT_DAYS)
    )
    if since >= until:
        raise ApiError(400, "since must be before until")
    if until - since > timedelta(days=MAX_REPORT_DAYS):
        raise ApiError(400, f"at most {MAX_REPORT_DAYS} days at once")
    s = db()
    report = callback_reports.coverage_report(s, since, until)
    unreachable = callback_reports.unreachable_report(s, since, until)
    agent = me()
    record_access(
        s,
        actor=agent.staff_number,
        role=agent.role,
        action="view",
        object_type="report",
        object_id="callback_coverage",
        detail=f"{since.isoformat()} to {until.isoformat()}",
    )
    rows = [{**asdict(r), "status": r.status} for r in report.rows]
    return {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "members": len(report.rows),
        "owed": len(report.owed),
        "complete": report.complete,
        "rows": rows,
        "unreachable": [_item_row(u) for u in unreachable],
    }


def _item_row(row: callback_reports.UnreachableRow) -> dict[str, Any]:
    out = asdict(row)
    out["last_attempt_at"] = when(row.last_attempt_at)
    out["closed_at"] = when(row.closed_at)
    return out
