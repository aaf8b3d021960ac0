"""The day's order dispatch lists (a printable page and CSV) and the SLA wallboard feed.
Leads and admins only.

- ``GET /dispatch/<day>`` — one plain table per customer channel, with a print stylesheet;
- ``GET /dispatch/<day>.csv`` — the same lists as a CSV attachment (spreadsheet-safe);
- ``GET /api/sla`` — breached and near-breach targets, urgent first (``?state=breached``
  or ``?state=near`` for one of them).

The lists show customers' names, phones and addresses, so each view and export is written
to the access audit log. The ticket rules and calendar are loaded once, when the app is
made (``init_app``), like the shift rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import Blueprint, Flask, Response, current_app, render_template_string, request

from kernel.clock import utcnow
from kernel.roles import LEAD_ROLES
from tickets.dispatch import CSV_HEADER, cutoff_instant, order_row, parse_day, render_csv
from tickets.dispatch_store import dispatch_list
from tickets.site import TicketSite
from tickets.sla_store import breaches
from webapp.auth import login_required, me
from webapp.db import db
from webapp.errors import ApiError
from webapp.helpers import audit

bp = Blueprint("dispatch", __name__)

_KEY = "hotline.tickets"
SLA_STATES = ("breached", "near")


@dataclass(frozen=True)
class TicketResources:
    site: TicketSite
    dispatch_time: str


def init_app(app: Flask, site: TicketSite, dispatch_time: str) -> TicketResources:
    """Register the views with the site's ticket rules and calendars."""
    found = TicketResources(site, dispatch_time)
    app.extensions[_KEY] = found
    app.register_blueprint(bp)
    return found


def ticket_resources() -> TicketResources:
    found: TicketResources = current_app.extensions[_KEY]
    return found


def _day(value: str) -> date:
    try:
        return parse_day(value)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None


def _audit(action: str, day: date, detail: str) -> None:
    audit(action, "report", f"dispatch:{day}", detail)


_PAGE = """\
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Dispatch lists {{ day }}</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #000; }
  h1 { font-size: 1.4em; margin: 0 0 0.2em; }
  h2 { font-size: 1.15em; margin: 1.2em 0 0.4em; }
  table { border-collapse: collapse; width: 100%; }
  th, td { border: 1px solid #888; padding: 0.2em 0.45em; text-align: left;
           vertical-align: top; }
  th { background: #eee; }
  td.num { text-align: right; white-space: nowrap; }
  .meta { color: #333; margin: 0; }
  @media print {
    body { margin: 0; font-size: 10pt; }
    .screen-only { display: none; }
    th { background: none; }
    section { break-after: page; }
    section:last-of-type { break-after: auto; }
    thead { display: table-header-group; }
    tr { break-inside: avoid; }
  }
</style>
</head>
<body>
<h1>Dispatch lists for {{ day }}</h1>
<p class="meta">Orders taken before {{ cutoff }} ({{ tz }}). Printed {{ printed }} by
{{ who }}.</p>
<p class="screen-only"><a href="{{ csv_url }}">Download as CSV</a></p>
{% for channel, rows in lists %}
<section>
  <h2>{{ channel }} — {{ rows | length }} order(s)</h2>
  {% if rows %}
  <table>
    <thead><tr>{% for h in header %}<th>{{ h }}</th>{% endfor %}</tr></thead>
    <tbody>
    {% for row in rows %}
      <tr>{% for cell in row %}<td{% if loop.index0 in numeric %} class="num"{% endif %}>
        {{- cell -}}</td>{% endfor %}</tr>
    {% endfor %}
    </tbody>
  </table>
  {% else %}
  <p>No orders.</p>
  {% endif %}
</section>
{% endfor %}
</body>
</html>
"""
# Right-aligned columns of order_row: ticket, quantity, unit price.
_NUMERIC = (0, 6, 7)


@bp.get("/dispatch/<day>")
@login_required(roles=LEAD_ROLES)
def dispatch_page(day: str) -> Response:
    """The printable page: one table per channel (every configured one, even if empty)."""
    when = _day(day)
    res = ticket_resources()
    tz = res.site.tz
    lists = dispatch_list(db(), when, res.site.rules.dispatch.channels)
    rows = [(ch, [order_row(t, tz) for t in orders]) for ch, orders in lists.items()]
    _audit("view", when, f"{sum(len(r) for _, r in rows)} order(s)")
    html = render_template_string(
        _PAGE,
        day=when.isoformat(),
        cutoff=cutoff_instant(when, res.dispatch_time, tz).astimezone(tz).strftime("%H:%M"),
        tz=tz.key,
        printed=utcnow().astimezone(tz).strftime("%Y-%m-%d %H:%M"),
        who=f"{me().name} ({me().staff_number})",
        csv_url=f"/dispatch/{when.isoformat()}.csv",
        header=CSV_HEADER[1:],
        numeric=_NUMERIC,
        lists=rows,
    )
    return Response(html, mimetype="text/html", headers={"Cache-Control": "no-store"})


@bp.get("/dispatch/<day>.csv")
@login_required(roles=LEAD_ROLES)
def dispatch_csv(day: str) -> Response:
    when = _day(day)
    res = ticket_resources()
    lists = dispatch_list(db(), when, res.site.rules.dispatch.channels)
    _audit("export", when, f"csv, {sum(len(v) for v in lists.values())} order(s)")
    # With a BOM, so a spreadsheet opens Chinese names as UTF-8.
    body = "\ufeff" + render_csv(lists, res.site.tz)
    return Response(
        body,
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="dispatch-{when.isoformat()}.csv"',
            "Cache-Control": "no-store",
        },
    )


@bp.get("/api/sla")
@login_required(roles=LEAD_ROLES)
def sla() -> dict[str, Any]:
    """Targets in a wallboard state, urgent first, then the most overdue."""
    wanted = request.args.get("state")
    if wanted is not None and wanted not in SLA_STATES:
        raise ApiError(400, f"state: one of {', '.join(SLA_STATES)}")
    now = utcnow()
    found = breaches(db(), (wanted,) if wanted else SLA_STATES)
    return {
        "now": now.isoformat(),
        "breaches": [
            {
                "ticket_id": b.ticket_id,
                "kind": b.kind,
                "category": b.category,
                "severity": b.severity,
                "status": b.status,
                "contact_name": b.contact_name,
                "contact_phone": b.contact_phone,
                "assignee": b.assignee,
                "target": b.target,
                "state": b.state,
                "due_at": b.due_at.isoformat(),
                "since": b.since.isoformat(),
                "overdue_seconds": round(b.overdue_seconds(now)),
            }
            for b in found
        ],
    }
