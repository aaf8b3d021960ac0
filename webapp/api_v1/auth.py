"""Bearer-token authentication for /api/v1.

Every request but the OpenAPI document needs ``Authorization: Bearer <token>`` (made by
``hotline tokens add``); the token acts as its agent, with that agent's role. The
session cookie is not looked at: a browser's login never authorises the CRM API, so
the API needs no CSRF token (webapp/auth.py exempts /api/v1/).
"""

from __future__ import annotations

from flask import Response, g, request

from agents.api_tokens import verify
from kernel.clock import utcnow
from webapp.db import db
from webapp.errors import ApiError

# Endpoints anyone may read (the document describing the API).
PUBLIC_ENDPOINTS = frozenset({"api_v1.openapi"})
_SCHEME = "bearer"
_CHALLENGE = 'Bearer realm="hotline"'


def _unauthorised(message: str, error_id: str) -> ApiError:
    return ApiError(401, message, error_id=error_id)


def authenticate() -> None:
    """``before_request`` of the API: the token's agent becomes this request's agent
    (``webapp.auth.me()``); 401 ``token_missing`` or ``token_invalid`` otherwise."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    # Whatever a session cookie says, only the token counts.
    g.agent = None
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise _unauthorised("send 'Authorization: Bearer <token>'", "token_missing")
    if scheme.lower() != _SCHEME or not token.strip():
        raise _unauthorised("the Authorization header must be 'Bearer <token>'", "token_missing")
    agent = verify(db(), token.strip(), utcnow())
    if agent is None:
        raise _unauthorised("unknown or revoked token, or its agent is disabled", "token_invalid")
    g.agent = agent
    g.ui_language = agent.ui_language


def challenge(response: Response) -> Response:
    """``after_request``: a 401 says which scheme to use (RFC 6750)."""
    if response.status_code == 401:
        response.headers["WWW-Authenticate"] = _CHALLENGE
    return response
