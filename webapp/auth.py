"""Login for the agents' web page: password check, the signed session cookie, roles, CSRF.

The session cookie (signed with ``web.secret_key``, HttpOnly, SameSite=Lax) holds the
agent's id and a CSRF token. Every state-changing request (POST, PUT, PATCH, DELETE) from
a session holding a token must echo it, in the ``X-CSRF-Token`` header (scripts) or the
``csrf_token`` form field (HTML forms): another site can make the browser send the
cookie, but cannot read the token. A missing token is 400, a wrong one 403.
``/api/login`` is exempt (there is no session yet); it only takes a JSON body, which a
cross-site form cannot send. ``/api/v1`` uses bearer tokens, not the cookie.

Failed logins are throttled per staff number and per address (``web.login_*``), stored
in the database so every worker and restart sees them.

The agent is re-read on every request, so deactivating an account ends its sessions.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Collection
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from flask import Blueprint, current_app, g, request, session
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from kernel.roles import LEAD_ROLES
from ticketdb import logins
from ticketdb.models import Agent
from webapp.db import db
from webapp.errors import ApiError

bp = Blueprint("auth", __name__, url_prefix="/api")

CSRF_HEADER = "X-CSRF-Token"
_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_FIELD = "csrf_token"
_CSRF_EXEMPT = frozenset({"/api/login"})
_CSRF_EXEMPT_PREFIXES = ("/api/v1/", "/_sim/")
_BAD_LOGIN = "unknown staff number or wrong password"

P = ParamSpec("P")
R = TypeVar("R")

# Checked when the staff number is unknown (or has no password), so that answer takes as
# long as a wrong password and does not tell which staff numbers exist.
_dummy_hash: str | None = None


def _dummy() -> str:
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = generate_password_hash(secrets.token_urlsafe(16))
    return _dummy_hash


def json_body() -> dict[str, Any]:
    """The request's JSON object; 400 for anything else."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "expected a JSON object (Content-Type: application/json)")
    return body


def current_agent() -> Agent | None:
    """The logged-in, still active agent of this request, or None."""
    if "agent" in g:
        found: Agent | None = g.agent
        return found
    agent_id = session.get("agent_id")
    agent = None
    if isinstance(agent_id, int):
        agent = db().scalars(select(Agent).where(Agent.id == agent_id)).one_or_none()
        if agent is not None and not agent.active:
            agent = None
    g.agent = agent
    if agent is not None:
        g.ui_language = agent.ui_language
    return agent


def is_lead(agent: Agent) -> bool:
    return agent.role in LEAD_ROLES


def login_required(
    roles: Collection[str] | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Only for a logged-in agent (401), and one of ``roles`` when given (403)."""

    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        @wraps(view)
        def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
            agent = current_agent()
            if agent is None:
                raise ApiError(401, "not logged in")
            if roles is not None and agent.role not in roles:
                raise ApiError(403, f"needs the role {' or '.join(roles)}")
            return view(*args, **kwargs)

        return wrapped

    return decorate


def me() -> Agent:
    """The agent of a ``login_required`` view."""
    agent = current_agent()
    if agent is None:  # only reachable from a view without login_required
        raise ApiError(401, "not logged in")
    return agent


def csrf_token() -> str:
    """This session's CSRF token, made on first use (the login form needs one too)."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


@bp.before_app_request
def _check_csrf() -> None:
    if request.method not in _UNSAFE_METHODS:
        return
    path = request.path
    if path in _CSRF_EXEMPT or path.startswith(_CSRF_EXEMPT_PREFIXES):
        return
    expected = session.get("csrf")
    if not isinstance(expected, str):
        if "agent_id" in session:
            raise ApiError(400, f"missing {CSRF_HEADER} header", error_id="csrf_missing")
        return  # no session at all: the view answers 401 (or shows the login form)
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.mimetype in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        given = request.form.get(CSRF_FIELD)
    if not given:
        raise ApiError(
            400,
            f"missing {CSRF_HEADER} header (or {CSRF_FIELD} form field)",
            error_id="csrf_missing",
        )
    if not hmac.compare_digest(expected.encode(), given.encode()):
        raise ApiError(
            403, f"wrong {CSRF_HEADER} header (or {CSRF_FIELD} form field)", error_id="csrf_wrong"
        )


class LoginRefused(Exception):
    """A refused login: ``status`` (401 wrong, 403 disabled, 429 throttled), a message
    key of the i18n catalog, and its values."""

    def __init__(self, status: int, message: str, key: str, **values: object) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.key = key
        self.values = values


def client_address() -> str:
    return request.remote_addr or "unknown"


def authenticate(staff_number: str, password: str) -> Agent:
    """The agent with these credentials, logged in to this session; raises LoginRefused.

    Throttled: ``web.login_max_failures`` failures within ``web.login_window_minutes``
    lock the staff number (and five times as many lock the address) until the window
    has passed; a locked login is refused without checking the password.
    """
    staff_number = staff_number.strip()
    address = client_address()
    limit = int(current_app.config["HOTLINE_LOGIN_MAX_FAILURES"])
    window = timedelta(minutes=int(current_app.config["HOTLINE_LOGIN_WINDOW_MINUTES"]))
    now = datetime.now(UTC)
    s = db()
    by_user, oldest_user = logins.failures_since(s, now - window, staff_number=staff_number)
    by_address, oldest_address = logins.failures_since(s, now - window, address=address)
    if by_user >= limit or by_address >= limit * 5:
        oldest = oldest_user if by_user >= limit else oldest_address
        wait = window - (now - oldest) if oldest is not None else window
        minutes = max(1, int(wait.total_seconds() // 60) + 1)
        raise LoginRefused(
            429,
            f"too many failed logins; try again in {minutes} minutes",
            "login.throttled",
            minutes=minutes,
        )
    agent = s.scalars(select(Agent).where(Agent.staff_number == staff_number)).one_or_none()
    stored = agent.password_hash if agent is not None else None
    # Always one hash check, so timing does not tell unknown staff numbers apart.
    matches = check_password_hash(stored or _dummy(), password)
    if agent is None or stored is None or not matches:
        logins.record_attempt(s, staff_number, address, now, succeeded=False)
        raise LoginRefused(401, _BAD_LOGIN, "login.bad")
    if not agent.active:
        raise LoginRefused(403, "this account is disabled", "login.disabled")
    logins.record_attempt(s, staff_number, address, now, succeeded=True)
    session.clear()
    session["agent_id"] = agent.id
    session["csrf"] = secrets.token_urlsafe(32)
    g.agent = agent
    g.ui_language = agent.ui_language
    return agent


def _profile(agent: Agent) -> dict[str, Any]:
    return {
        "staff_number": agent.staff_number,
        "name": agent.name,
        "role": agent.role,
        "language": agent.ui_language,
        "csrf_token": csrf_token(),
    }


@bp.post("/login")
def login() -> dict[str, Any]:
    body = json_body()
    staff_number, password = body.get("staff_number"), body.get("password")
    if not isinstance(staff_number, str) or not isinstance(password, str):
        raise ApiError(400, "staff_number and password are required (strings)")
    try:
        agent = authenticate(staff_number, password)
    except LoginRefused as refused:
        raise ApiError(refused.status, refused.message) from None
    return _profile(agent)


@bp.post("/logout")
def logout() -> dict[str, Any]:
    session.clear()
    return {"logged_out": True}


@bp.get("/me")
@login_required()
def whoami() -> dict[str, Any]:
    return _profile(me())
