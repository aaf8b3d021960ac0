"""The management reports page (issue #6 item 4), for leads and admins.

- ``GET /reports?period=day|week|month&day=YYYY-MM-DD`` — every section for the local
  day, week (Monday to Sunday) or month containing ``day`` (default: today), in the
  business calendar's time zone, so "today" is the site's today wherever the server is;
- ``GET /reports/<section>.csv?period=…&day=…`` — one section as a CSV file.

Sections: tickets by kind, calls and tickets by origin, queues (offered, answered,
abandoned, service level, ASA), agents, callback satisfaction, callbacks done against
due, and member callback coverage. The page shows customers (the coverage list), so each
view is audited; each CSV download is audited as an export.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request, url_for
from sqlalchemy.orm import Session

from callbacks import coverage
from kernel.clock import utcnow
from kernel.roles import LEAD_ROLES
from kernel.settings import Settings
from reporting import periods
from reporting import reports as q
from reporting.periods import ReportWindow
from webapp import callbacks
from webapp.db import db, queue_catalog
from webapp.helpers import audit
from webapp.i18n import catalog, translate
from webapp.masking import shown_number
from webapp.pages import html_error, page_required, render_page
from webapp.report_csv import Cell, csv_text

bp = Blueprint("reports", __name__, url_prefix="/reports")

KEY = "hotline.reports"


@dataclass(frozen=True)
class ReportsResources:
    tz: tzinfo  # the business calendar's zone: what a day is
    # When a callback without a due time is due (``callbacks.due_days``).
    callback_due: timedelta = q.DEFAULT_DUE
    # The instant "now" (today's default report, overdue callbacks); tests fix it.
    clock: Callable[[], datetime] = utcnow


def register(app: Flask, settings: Settings) -> None:
    # The calendar's zone as the callback rules already read it (no second file read).
    cb: callbacks.CallbackResources = app.extensions[callbacks.KEY]
    due = timedelta(days=settings.callbacks.due_days)
    app.extensions[KEY] = ReportsResources(cb.rules.tz, callback_due=due)
    app.register_blueprint(bp)


def reports_resources() -> ReportsResources:
    found: ReportsResources = current_app.extensions[KEY]
    return found


# --- the sections ---------------------------------------------------------------------


@dataclass(frozen=True)
class Coverage:
    rows: list[dict[str, Any]]
    members: int
    owed: int
    complete: bool


@dataclass(frozen=True)
class Section:
    """One report table: how to fetch its rows, and its columns (attribute names, also
    the CSV header and the key of each column's label)."""

    name: str
    columns: tuple[str, ...]


SECTIONS = (
    Section("kinds", ("kind", "created", "urgent", "resolved", "closed")),
    Section("origins", ("origin", "calls", "answered", "self_service", "tickets")),
    Section(
        "queues",
        (
            "queue",
            "offered",
            "answered",
            "abandoned",
            "abandon_rate",
            "callback_kept",
            "service_level_seconds",
            "answered_in_time",
            "service_level",
            "asa_seconds",
        ),
    ),
    Section(
        "agents",
        (
            "staff_number",
            "name",
            "answered",
            "callbacks_dialled",
            "talk_seconds",
            "mean_talk_seconds",
            "tickets",
            "callbacks_completed",
        ),
    ),
    Section(
        "satisfaction",
        ("source", "satisfied", "neutral", "unsatisfied", "answers", "satisfied_share"),
    ),
    Section(
        "callbacks",
        (
            "source",
            "due",
            "done",
            "done_share",
            "done_on_time",
            "unreachable",
            "open",
            "overdue",
            "completed",
        ),
    ),
    Section(
        "coverage",
        ("name", "phone", "tier", "calls", "done", "open", "unreachable", "missing", "status"),
    ),
)
SECTION_NAMES = tuple(sec.name for sec in SECTIONS)
_BY_NAME = {sec.name: sec for sec in SECTIONS}


def _service_levels() -> dict[str, int]:
    found = queue_catalog()
    if found is None:
        return {}
    return {name: found.config(name).service_level_seconds for name in found.queues}


def _coverage(s: Session, w: ReportWindow) -> Coverage:
    report = coverage.coverage_report(s, w.start, w.end)
    rows = [
        {
            "name": r.name,
            "phone": shown_number(r.phone),
            "tier": r.tier,
            "calls": r.calls,
            "done": r.done,
            "open": r.open,
            "unreachable": r.unreachable,
            "missing": r.missing,
            "status": r.status,
        }
        for r in report.rows
    ]
    return Coverage(rows, len(report.rows), len(report.owed), report.complete)


def _rows(name: str, s: Session, w: ReportWindow, now: datetime) -> Sequence[Any]:
    if name == "kinds":
        return q.by_kind(s, w.start, w.end)
    if name == "origins":
        return q.by_origin(s, w.start, w.end)
    if name == "queues":
        return q.by_queue(s, w.start, w.end, _service_levels())
    if name == "agents":
        return q.by_agent(s, w.start, w.end)
    if name == "satisfaction":
        return q.satisfaction(s, w.start, w.end)
    if name == "callbacks":
        return q.callbacks(s, w.start, w.end, now, reports_resources().callback_due)
    return _coverage(s, w).rows


def _value(row: Any, column: str) -> Cell:
    value = row[column] if isinstance(row, dict) else getattr(row, column)
    return value if isinstance(value, str | int | float) or value is None else str(value)


# --- the period asked for ------------------------------------------------------------


def _window() -> tuple[ReportWindow, date]:
    """The period of the request's ``period`` and ``day``; a 400 page when invalid."""
    res = reports_resources()
    today = periods.local_day(res.clock(), res.tz)
    try:
        period = periods.parse_period(request.args.get("period"))
        day = periods.parse_day(request.args.get("day"), today)
    except periods.PeriodError as exc:
        raise BadPeriod(str(exc)) from None
    return periods.window(period, day, res.tz), day


class BadPeriod(Exception):
    pass


def _bad_period(exc: BadPeriod) -> tuple[str, int]:
    return html_error(400, translate("reports.bad_period", problem=str(exc)))


def _audit(action: str, object_id: str, w: ReportWindow, extra: str = "") -> None:
    detail = f"{w.period} {w.first_day.isoformat()}..{w.last_day.isoformat()}{extra}"
    audit(action, "report", object_id, detail)


# --- formatting for the page ----------------------------------------------------------


def label(prefix: str, value: str) -> str:
    """The translated name of a code (a ticket kind, a callback reason …); the code
    itself when it has none (e.g. a queue name)."""
    key = f"reports.{prefix}.{value}"
    return translate(key) if key in catalog() else value


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f} %"


def seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f} s"


def duration(value: float | None) -> str:
    """h:mm:ss, for talk times."""
    if value is None:
        return "–"
    total = round(value)
    return f"{total // 3600}:{total % 3600 // 60:02d}:{total % 60:02d}"


_RATES = ("abandon_rate", "service_level", "satisfied_share", "done_share")
_DURATIONS = ("talk_seconds", "mean_talk_seconds")
# Columns holding a code with a translated name, by the prefix of its keys.
_CODES = {
    "kind": "kind",
    "origin": "origin",
    "source": "source",
    "tier": "tier",
    "status": "status",
}


def show(row: Any, column: str) -> str:
    """One cell as the page shows it."""
    value = _value(row, column)
    if column in _RATES:
        return percent(value if isinstance(value, float) else None)
    if column in _DURATIONS:
        return duration(float(value) if isinstance(value, int | float) else None)
    if column == "asa_seconds":
        return seconds(value if isinstance(value, float) else None)
    if column in _CODES and isinstance(value, str):
        return label(_CODES[column], value)
    return "" if value is None else str(value)


# --- views ---------------------------------------------------------------------------


@bp.get("")
@page_required(roles=LEAD_ROLES)
def page() -> str | tuple[str, int]:
    try:
        w, day = _window()
    except BadPeriod as exc:
        return _bad_period(exc)
    res = reports_resources()
    now = res.clock()
    s = db()
    tables = {name: _rows(name, s, w, now) for name in SECTION_NAMES if name != "coverage"}
    coverage = _coverage(s, w)
    # The coverage list names member customers: the view is accounted for (domain.md §7).
    _audit("view", "reports", w)
    return render_page(
        "reports.html",
        w=w,
        day=day,
        periods=periods.PERIODS,
        tz_name=str(res.tz),
        tables=tables,
        coverage=coverage,
        sections=_BY_NAME,
        previous_day=periods.previous(w),
        next_day=periods.following(w),
        csv_url=lambda name: url_for(
            "reports.csv", section=name, period=w.period, day=day.isoformat()
        ),
        show=show,
    )


@bp.get("/<section>.csv")
@page_required(roles=LEAD_ROLES)
def csv(section: str) -> Response | tuple[str, int]:
    found = _BY_NAME.get(section)
    if found is None:
        return html_error(404, translate("reports.unknown_section", section=section))
    try:
        w, _ = _window()
    except BadPeriod as exc:
        return _bad_period(exc)
    rows = _rows(section, db(), w, reports_resources().clock())
    _audit("export", section, w, f" ({len(rows)} rows)")
    body = csv_text(found.columns, ([_value(r, c) for c in found.columns] for r in rows))
    filename = f"hotline-{section}-{w.period}-{w.first_day.isoformat()}.csv"
    return Response(
        body,
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            # Customer names and numbers: not for shared caches.
            "Cache-Control": "no-store",
        },
    )
