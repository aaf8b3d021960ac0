"""The lead's view in JSON: live queue figures with the Erlang C staffing estimate, open
alerts, handover notes. Leads and admins only."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from flask import Blueprint, request

from agents import lead_store
from kernel.clock import utcnow
from kernel.roles import LEAD_ROLES
from ticketdb.models import HandoverNote, LeadAlert
from webapp.auth import json_body, login_required, me
from webapp.db import db, queue_catalog
from webapp.errors import ApiError
from webapp.helpers import when

bp = Blueprint("lead", __name__, url_prefix="/api")

MAX_WINDOW_MINUTES = 24 * 60
MAX_NOTE = 4000


@bp.get("/queues")
@login_required(roles=LEAD_ROLES)
def queues() -> dict[str, Any]:
    """Every queue now and over the last ``window`` minutes (default 60), with the agents
    Erlang C says it needs for its service level."""
    catalog = queue_catalog()
    if catalog is None:
        raise ApiError(404, "no queues file is configured (paths.queues_file)")
    try:
        window = int(request.args.get("window", "60"))
    except ValueError:
        raise ApiError(400, "window: a whole number of minutes") from None
    if not 1 <= window <= MAX_WINDOW_MINUTES:
        raise ApiError(400, f"window: between 1 and {MAX_WINDOW_MINUTES} minutes")
    stats = lead_store.queue_stats(db(), catalog, utcnow(), window)
    return {"window_minutes": window, "queues": [asdict(q) for q in stats]}


def _alert(a: LeadAlert) -> dict[str, Any]:
    return {
        "id": a.id,
        "kind": a.kind,
        "severity": a.severity,
        "agent_id": a.agent_id,
        "message": a.message,
        "raised_at": when(a.raised_at),
        "cleared_at": when(a.cleared_at),
    }


@bp.get("/alerts")
@login_required(roles=LEAD_ROLES)
def alerts() -> dict[str, Any]:
    """Open alerts; with ``?since=ISO`` also those raised or cleared since then."""
    since = request.args.get("since")
    if since is None:
        return {"alerts": [_alert(a) for a in lead_store.open_alerts(db())]}
    try:
        at = datetime.fromisoformat(since)
    except ValueError:
        raise ApiError(400, "since: an ISO 8601 instant") from None
    if at.tzinfo is None:
        raise ApiError(400, "since: give a time zone (e.g. +08:00 or Z)")
    return {"alerts": [_alert(a) for a in lead_store.alerts_since(db(), at)]}


def _note(n: HandoverNote) -> dict[str, Any]:
    return {
        "id": n.id,
        "team": n.team,
        "at": when(n.at),
        "author": n.author,
        "shift_ending": n.shift_ending,
        "shift_starting": n.shift_starting,
        "text": n.text,
        "summary": n.summary,
    }


@bp.get("/handover")
@login_required(roles=LEAD_ROLES)
def handover_notes() -> dict[str, Any]:
    team = request.args.get("team") or None
    return {"notes": [_note(n) for n in lead_store.handover_notes(db(), team=team)]}


@bp.post("/handover")
@login_required(roles=LEAD_ROLES)
def add_handover_note() -> tuple[dict[str, Any], int]:
    body = json_body()
    unknown = set(body) - {"team", "text", "shift_ending", "shift_starting"}
    if unknown:
        raise ApiError(400, f"unknown field(s): {', '.join(sorted(unknown))}")
    team, text = body.get("team"), body.get("text")
    if not isinstance(team, str) or not isinstance(text, str) or not text.strip():
        raise ApiError(400, "team and text are required")
    if len(text) > MAX_NOTE:
        raise ApiError(400, f"text: at most {MAX_NOTE} characters")
    ending, starting = body.get("shift_ending"), body.get("shift_starting")
    for key, value in (("shift_ending", ending), ("shift_starting", starting)):
        if value is not None and not isinstance(value, str):
            raise ApiError(400, f"{key}: a shift name")
    try:
        note = lead_store.add_handover_note(
            db(),
            team=team,
            author=me().staff_number,
            text=text.strip(),
            now=utcnow(),
            shift_ending=ending,
            shift_starting=starting,
        )
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    return _note(note), 201
