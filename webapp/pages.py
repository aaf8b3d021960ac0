"""The HTML pages' frame: log in / out, the home page by role, the language switch, and
``page_required`` for the pages of every area (agent desk, wallboard, reports, admin).

Pages are server-rendered Jinja templates extending ``base.html``; their live parts are
small scripts using ``static/hotline.js`` (JSON API calls with the CSRF header, Server-Sent
Events with reconnect). The JSON API stays the one place that changes state.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from functools import wraps
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response as WerkzeugResponse

from kernel.roles import ALL_ROLES, LEAD_ROLES
from ticketdb.models import Agent
from webapp.auth import LoginRefused, authenticate, csrf_token, current_agent
from webapp.db import db
from webapp.i18n import LANGUAGE_NAMES, LANGUAGES, current_language, strings_for, translate

bp = Blueprint("pages", __name__)

P = ParamSpec("P")
R = TypeVar("R")


def home_for(agent: Agent) -> str:
    """Where a user lands after logging in: the first area of the menu open to them
    (agents at their desk, leads and admins on the wallboard)."""
    endpoints = current_app.view_functions
    order = (
        ("wallboard.page", "agent_page.page") if agent.role in LEAD_ROLES else ("agent_page.page",)
    )
    for endpoint in (*order, "admin.page"):
        if endpoint in endpoints:
            return url_for(endpoint)
    return url_for("pages.welcome")


def page_required(
    roles: Collection[str] | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R | WerkzeugResponse]]:
    """An HTML page for a logged-in user (else a redirect to the login form) of one of
    ``roles`` (else 403, shown as a page)."""

    def decorate(view: Callable[P, R]) -> Callable[P, R | WerkzeugResponse]:
        @wraps(view)
        def wrapped(*args: P.args, **kwargs: P.kwargs) -> R | WerkzeugResponse:
            agent = current_agent()
            if agent is None:
                return redirect(url_for("pages.login", next=request.full_path.rstrip("?")))
            if roles is not None and agent.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorate


def render_page(template: str, *, i18n_prefixes: Collection[str] = (), **context: Any) -> str:
    """``template`` with the frame's context; ``i18n_prefixes`` select the strings the
    page's script needs (``window.HOTLINE_I18N``)."""
    strings = strings_for("common.", *i18n_prefixes)
    return render_template(template, i18n_strings=strings, **context)


def _safe_next(target: str | None) -> str | None:
    # Only a path on this site: an open redirect would let a phishing link use our login.
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


# The main menu: (key, endpoint, roles). An area appears once its blueprint is registered
# (the softphone only in demo mode).
NAV = (
    ("agent", "agent_page.page", ("agent", "lead")),
    ("wallboard", "wallboard.page", LEAD_ROLES),
    ("reports", "reports.page", LEAD_ROLES),
    ("admin", "admin.page", ("admin",)),
    ("softphone", "softphone.page", ALL_ROLES),
)


def nav_items() -> list[tuple[str, str]]:
    agent = current_agent()
    if agent is None:
        return []
    endpoints = current_app.view_functions
    return [(key, ep) for key, ep, roles in NAV if agent.role in roles and ep in endpoints]


@bp.app_context_processor
def _frame() -> dict[str, Any]:
    return {
        "_": translate,
        "me": current_agent(),
        "csrf_token": csrf_token,
        "lang": current_language(),
        "languages": [(code, LANGUAGE_NAMES[code]) for code in LANGUAGES],
        "nav_items": nav_items,
    }


@bp.get("/")
def index() -> WerkzeugResponse:
    agent = current_agent()
    if agent is None:
        return redirect(url_for("pages.login"))
    return redirect(home_for(agent))


@bp.get("/welcome")
def welcome() -> str | WerkzeugResponse:
    """The landing page when no area is open to the user's role."""
    if current_agent() is None:
        return redirect(url_for("pages.login"))
    return render_page("welcome.html")


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | WerkzeugResponse | tuple[str, int]:
    target = _safe_next(request.values.get("next"))
    if request.method == "GET":
        agent = current_agent()
        if agent is not None:
            return redirect(target or home_for(agent))
        return render_page("login.html", next=target or "", error=None)
    staff_number = request.form.get("staff_number", "")
    password = request.form.get("password", "")
    try:
        agent = authenticate(staff_number, password)
    except LoginRefused as refused:
        error = translate(refused.key, **refused.values)
        return render_page("login.html", next=target or "", error=error), refused.status
    return redirect(target or home_for(agent))


@bp.post("/logout")
def logout() -> WerkzeugResponse:
    session.clear()
    return redirect(url_for("pages.login"))


@bp.post("/language")
def set_language() -> WerkzeugResponse:
    """Switch the page language: stored on the user (so it follows them to any browser),
    or in the session before login."""
    chosen = request.form.get("language", "")
    if chosen not in LANGUAGES:
        abort(400)
    agent = current_agent()
    if agent is not None:
        agent.ui_language = chosen
        db().commit()
    session["lang"] = chosen
    back = _safe_next(request.form.get("next")) or url_for("pages.index")
    return redirect(back)


def html_error(status: int, message: str) -> tuple[str, int]:
    """An error as a page (for browsers on the HTML pages; the API answers JSON)."""
    return render_page("error.html", status=status, message=message), status
