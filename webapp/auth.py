"""Login for the agents' web page: password check, the signed session cookie, roles, CSRF.

The session cookie (signed with ``web.secret_key``, HttpOnly, SameSite=Lax) holds the
agent's id and a CSRF token. Every state-changing request under /api (POST, PUT, PATCH,
DELETE) from a logged-in session must echo that token in the ``X-CSRF-Token`` header:
another site can make the browser send the cookie, but cannot read the token.
``/api/login`` is exempt (there is no session yet); it only takes a JSON body, which a
cross-site form cannot send.

The agent is re-read on every request, so deactivating an account ends its sessions.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Collection
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from flask import Blueprint, g, request, session
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from ticketdb.models import Agent
from ticketdb.seats import LEAD_ROLES
from webapp.db import db
from webapp.errors import ApiError

bp = Blueprint("auth", __name__, url_prefix="/api")

CSRF_HEADER = "X-CSRF-Token"
_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_CSRF_EXEMPT = frozenset({"/api/login"})
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


@bp.before_app_request
def _check_csrf() -> None:
    if request.method not in _UNSAFE_METHODS or not request.path.startswith("/api/"):
        return
    if request.path in _CSRF_EXEMPT or "agent_id" not in session:
        return  # not logged in: the view answers 401
    expected = session.get("csrf")
    given = request.headers.get(CSRF_HEADER, "")
    if not isinstance(expected, str) or not hmac.compare_digest(expected.encode(), given.encode()):
        raise ApiError(403, f"missing or wrong {CSRF_HEADER} header")


def _profile(agent: Agent) -> dict[str, Any]:
    return {
        "staff_number": agent.staff_number,
        "name": agent.name,
        "role": agent.role,
        "csrf_token": session["csrf"],
    }


@bp.post("/login")
def login() -> dict[str, Any]:
    body = json_body()
    staff_number, password = body.get("staff_number"), body.get("password")
    if not isinstance(staff_number, str) or not isinstance(password, str):
        raise ApiError(400, "staff_number and password are required (strings)")
    agent = (
        db().scalars(select(Agent).where(Agent.staff_number == staff_number.strip())).one_or_none()
    )
    stored = agent.password_hash if agent is not None else None
    # Always one hash check, so timing does not tell unknown staff numbers apart.
    matches = check_password_hash(stored or _dummy(), password)
    if agent is None or stored is None or not matches:
        raise ApiError(401, _BAD_LOGIN)
    if not agent.active:
        raise ApiError(403, "this account is disabled")
    session.clear()
    session["agent_id"] = agent.id
    session["csrf"] = secrets.token_urlsafe(32)
    g.agent = agent
    return _profile(agent)


@bp.post("/logout")
def logout() -> dict[str, Any]:
    session.clear()
    return {"logged_out": True}


@bp.get("/me")
@login_required()
def whoami() -> dict[str, Any]:
    return _profile(me())
