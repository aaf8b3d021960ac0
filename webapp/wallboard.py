"""The lead's live wallboard: one JSON document of everything the lead watches, the page
that draws it, its Server-Sent Events stream, the SVG charts, and the decisions on away
requests. Leads and admins only.

- ``GET /wallboard`` — the page;
- ``GET /api/wallboard`` — the document: queues (waiting, longest wait, today's service
  level, ASA, abandonment, calls by kind), agents with state and time in state and their
  phone (ready, offline with the reason, busy), staffing
  and alerts from the shift rules, away requests, urgent tickets, SLA breaches, charts;
- ``GET /live/wallboard`` — the same document as event ``wallboard`` after every change;
- ``GET /wallboard/charts/<name>.svg`` — ``calls_per_hour``, ``by_kind``, ``satisfaction``;
- ``POST /api/wallboard/away_requests/<id>/approve`` | ``…/deny``.

The other actions are the existing API: seat changes with ``override`` (``/api/seats``),
``/api/acting_lead``, ``/api/listen``. Tickets listed on the wallboard are audited once
per request or stream (not on every refresh), as every ticket view is.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint, Flask, Response, abort, url_for
from sqlalchemy import select

from agents import away_requests
from agents.lead_store import open_alerts
from agents.seat_changes import RuleRefused, change_state
from agents.seat_store import StaleState, UnknownAgent
from agents.seats import AWAY_REASONS, IllegalTransition
from kernel.clock import utcnow
from kernel.roles import LEAD_ROLES
from kernel.settings import Settings
from reporting import wallboard as wallboard_stats
from ticketdb.audit import record_access
from ticketdb.models import Agent
from tickets.sla_store import breaches
from webapp import charts
from webapp.auth import login_required, me
from webapp.db import db, queue_catalog, shift_config
from webapp.dispatch import ticket_resources
from webapp.errors import ApiError
from webapp.helpers import when
from webapp.i18n import current_language, translate
from webapp.live import event_stream, watcher
from webapp.pages import page_required, render_page
from webapp.phones import phone_fields, phone_views

log = logging.getLogger(__name__)

bp = Blueprint("wallboard", __name__)

CHARTS = ("calls_per_hour", "by_kind", "satisfaction")
KINDS = ("order", "complaint", "inquiry", "fault", "other")
TREND_DAYS = 14
# A stream ends after this long (the page reconnects at once), so a forgotten tab does
# not hold a server thread for ever.
STREAM_SECONDS = 600.0


def register(app: Flask, settings: Settings) -> None:
    app.register_blueprint(bp)


# --- the document -------------------------------------------------------------------


@dataclass(frozen=True)
class ChartData:
    labels: list[str]
    values: list[float | None]


@dataclass(frozen=True)
class Board:
    document: dict[str, Any]
    ticket_ids: set[int]  # tickets whose details the document shows (to audit)


def _chart_data(now: datetime) -> dict[str, ChartData]:
    s, tz = db(), ticket_resources().site.tz
    day = wallboard_stats.local_day(now, tz)
    hours = wallboard_stats.calls_per_hour(s, day, tz, now)
    kinds = wallboard_stats.calls_by_kind(s, wallboard_stats.day_start(day, tz), now)
    trend = wallboard_stats.satisfaction_trend(s, day, tz, TREND_DAYS)
    return {
        "calls_per_hour": ChartData([f"{h:02d}" for h in range(24)], [float(n) for n in hours]),
        "by_kind": ChartData(
            [translate(f"wallboard.kind.{k}") for k in KINDS],
            [float(kinds.get(k, 0)) for k in KINDS],
        ),
        "satisfaction": ChartData(
            [d.day.strftime("%m-%d") for d in trend], [d.score for d in trend]
        ),
    }


def _chart_svg(name: str, data: ChartData) -> str:
    title = translate(f"wallboard.chart.{name}")
    if name == "satisfaction":
        return charts.line_chart(data.labels, data.values, title=title, y_max=100.0)
    return charts.bar_chart(data.labels, [v or 0.0 for v in data.values], title=title)


def _chart_json(name: str, data: ChartData) -> dict[str, Any]:
    # The URL changes with the data (and language), so the page reloads only a changed chart.
    key = json.dumps([current_language(), data.labels, data.values]).encode()
    version = hashlib.sha256(key).hexdigest()[:12]
    return {
        "url": url_for("wallboard.chart", name=name, v=version),
        "labels": data.labels,
        "values": data.values,
    }


def _alerts(view: wallboard_stats.StaffingView, by_id: dict[int, Agent]) -> list[dict[str, Any]]:
    """The rules' alerts now, then stored ones (e.g. missed calls) not already among them."""

    def who(agent_id: int | None) -> dict[str, Any]:
        agent = by_id.get(agent_id) if agent_id is not None else None
        return {
            "staff_number": agent.staff_number if agent else None,
            "name": agent.name if agent else None,
        }

    out = [
        {
            "kind": a.kind,
            "severity": a.severity,
            "message": a.message,
            "since": None,
            **who(a.agent_id),
        }
        for a in view.alerts
    ]
    seen: set[tuple[str, int | None]] = {(a.kind, a.agent_id) for a in view.alerts}
    for row in open_alerts(db()):
        if row.kind == away_requests.KIND or (row.kind, row.agent_id) in seen:
            continue
        seen.add((row.kind, row.agent_id))
        out.append(
            {
                "kind": row.kind,
                "severity": row.severity,
                "message": row.message,
                "since": when(row.raised_at),
                **who(row.agent_id),
            }
        )
    return out


def build_board() -> Board:
    """The wallboard document now, as the logged-in lead may see it."""
    s, now = db(), utcnow()
    tz = ticket_resources().site.tz
    day = wallboard_stats.local_day(now, tz)
    start = wallboard_stats.day_start(day, tz)
    config = shift_config()
    view = wallboard_stats.staffing_view(s, config, now)
    ids = [a.agent_id for a in view.agents]
    by_id = {row.id: row for row in s.scalars(select(Agent).where(Agent.id.in_(ids)))}
    acting = by_id.get(view.acting_lead_id) if view.acting_lead_id is not None else None
    urgent = wallboard_stats.urgent_tickets(s)
    sla = breaches(s)
    lead = me()
    phones = phone_views()
    staffing = None
    if view.staffing is not None:
        staffing = {
            "on_duty": view.staffing.on_duty,
            "required": view.staffing.required,
            "below_minimum": view.staffing.below_minimum,
            "hours": view.staffing.hours,
        }
    document = {
        "now": now.isoformat(),
        "day": day.isoformat(),
        "me": {
            "staff_number": lead.staff_number,
            "role": lead.role,
            # Who the rules let override a refusal: leads and the acting lead.
            "may_override": lead.role == "lead" or lead.id == view.acting_lead_id,
        },
        "away_reasons": list(AWAY_REASONS),
        "queues": [
            {
                "queue": q.queue,
                "threshold_seconds": q.threshold_seconds,
                "waiting": q.waiting,
                "oldest_waiting_since": when(q.oldest_waiting_since),
                "longest_wait_seconds": q.longest_wait_seconds,
                "offered": q.offered,
                "answered": q.answered,
                "answered_on_time": q.answered_on_time,
                "abandoned": q.abandoned,
                "service_level": q.service_level,
                "asa_seconds": q.asa_seconds,
                "abandonment_rate": q.abandonment_rate,
                "by_kind": q.by_kind,
            }
            for q in wallboard_stats.queue_day(s, queue_catalog(), start, now)
        ],
        "agents": [
            {
                "staff_number": a.staff_number,
                "name": a.name,
                "role": a.role,
                "team": a.team,
                "state": a.state,
                "since": when(a.since),
                "seconds_in_state": max(0.0, (now - a.since).total_seconds()),
                "reason": a.reason,
                "acting_lead": a.agent_id == view.acting_lead_id,
                "away_limit_minutes": a.away_limit_minutes or view.default_away_limit,
                "overdue_minutes": a.overdue_minutes,
                **phone_fields(phones, a.agent_id),
            }
            for a in view.agents
        ],
        "staffing": staffing,
        "acting_lead": acting.staff_number if acting is not None else None,
        "alerts": _alerts(view, by_id),
        "away_requests": [
            {
                "id": r.id,
                "staff_number": by_id[r.agent_id].staff_number,
                "name": by_id[r.agent_id].name,
                "reason": r.reason,
                "rule": r.rule,
                "message": r.message,
                "raised_at": when(r.raised_at),
            }
            for r in away_requests.pending(s)
            if r.agent_id in by_id
        ],
        "urgent": [
            {
                "ticket_id": t.ticket_id,
                "kind": t.kind,
                "category": t.category,
                "severity": t.severity,
                "status": t.status,
                "injury": t.injury,
                "summary": t.summary,
                "created_at": when(t.created_at),
                "created_by": t.created_by,
                "assignee": t.assignee,
            }
            for t in urgent
        ],
        "sla": [
            {
                "ticket_id": b.ticket_id,
                "kind": b.kind,
                "severity": b.severity,
                "status": b.status,
                "assignee": b.assignee,
                "target": b.target,
                "state": b.state,
                "due_at": when(b.due_at),
                "overdue_seconds": round(b.overdue_seconds(now)),
            }
            for b in sla
        ],
        "charts": {name: _chart_json(name, data) for name, data in _chart_data(now).items()},
    }
    shown = {t.ticket_id for t in urgent} | {b.ticket_id for b in sla}
    return Board(document, shown)


def _audit_tickets(ids: set[int]) -> None:
    lead = me()
    for ticket_id in sorted(ids):
        record_access(
            db(),
            actor=lead.staff_number,
            role=lead.role,
            action="view",
            object_type="ticket",
            object_id=ticket_id,
            detail="wallboard",
        )


# --- views --------------------------------------------------------------------------


@bp.get("/wallboard")
@page_required(roles=LEAD_ROLES)
def page() -> str:
    return render_page("wallboard.html", i18n_prefixes=("wallboard.",))


@bp.get("/api/wallboard")
@login_required(roles=LEAD_ROLES)
def document() -> dict[str, Any]:
    board = build_board()
    _audit_tickets(board.ticket_ids)
    return board.document


@bp.get("/live/wallboard")
@login_required(roles=LEAD_ROLES)
def live() -> Response:
    audited: set[int] = set()

    def render() -> list[tuple[str, Any]]:
        board = build_board()
        new = board.ticket_ids - audited
        _audit_tickets(new)
        audited.update(new)
        return [("wallboard", board.document)]

    return event_stream(render, max_seconds=STREAM_SECONDS)


@bp.get("/wallboard/charts/<name>.svg")
@login_required(roles=LEAD_ROLES)
def chart(name: str) -> Response:
    if name not in CHARTS:
        abort(404)
    svg = _chart_svg(name, _chart_data(utcnow())[name])
    response = Response(svg, mimetype="image/svg+xml")
    # Opened on its own, the image may still run nothing and load nothing.
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


# --- away requests ------------------------------------------------------------------


@contextmanager
def _refusals() -> Iterator[None]:
    try:
        yield
    except RuleRefused as exc:
        raise ApiError(409, str(exc), rule=exc.decision.rule) from None
    except (IllegalTransition, StaleState) as exc:
        raise ApiError(409, str(exc)) from None
    except (UnknownAgent, away_requests.NoSuchRequest) as exc:
        raise ApiError(404, str(exc)) from None


def _request_agent(request_id: int) -> tuple[away_requests.AwayRequest, Agent]:
    s = db()
    with _refusals():
        request = away_requests.get(s, request_id)
    agent = s.get(Agent, request.agent_id)
    if agent is None:
        raise ApiError(404, f"the agent of away request {request_id} is gone")
    return request, agent


@bp.post("/api/wallboard/away_requests/<int:request_id>/approve")
@login_required(roles=LEAD_ROLES)
def approve_away(request_id: int) -> dict[str, Any]:
    """Send the agent away as asked: the lead overrides the rule that refused it (logged
    in the seat's history); 409 when it is no longer possible (e.g. now on a call)."""
    request, agent = _request_agent(request_id)
    lead = me().staff_number
    with _refusals():
        result = change_state(
            db(),
            config=shift_config(),
            staff_number=agent.staff_number,
            to_state="away",
            by=lead,
            reason=request.reason,
            note=f"override by {lead}: away request {request.id} approved",
            override=True,
            now=utcnow(),
        )
    away_requests.close(db(), request.id, decision=f"approved by {lead}", now=utcnow())
    watcher().poke()
    return {"approved": request.id, "state": result.seat.state, "override": result.override_line}


@bp.post("/api/wallboard/away_requests/<int:request_id>/deny")
@login_required(roles=LEAD_ROLES)
def deny_away(request_id: int) -> dict[str, Any]:
    """Refuse the request; the decision stays on the request's row (and in the log)."""
    request, agent = _request_agent(request_id)
    lead = me().staff_number
    away_requests.close(db(), request.id, decision=f"denied by {lead}", now=utcnow())
    log.info("away request %s of agent %s denied by %s", request.id, agent.staff_number, lead)
    watcher().poke()
    return {"denied": request.id}
