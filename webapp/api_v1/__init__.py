"""The CRM integration API under /api/v1 (issue #6 item 6): calls, tickets, customers,
agents and callbacks, for a CRM to read and write with a bearer token.

- authentication: ``auth.py`` (``Authorization: Bearer <token>``, tokens from
  ``hotline tokens add``; the token acts as its agent with that agent's role);
- one module per resource (``calls``, ``tickets``, ``customers``, ``agents``,
  ``callbacks``), each a blueprint nested in ``bp`` below;
- the OpenAPI 3.1 document (``openapi.py``) at ``GET /api/v1/openapi.json``, the one
  route needing no token. Tests check every route is in it and every answer matches it.

Errors are JSON ``{"error", "error_id"}`` like the rest of /api (webapp/errors.py), with
the ids listed in ``common.ERROR_IDS``. The same rules as the agents' page apply: an
agent's token sees its own tickets and calls, reads of customer data are audited,
numbers are masked for roles not in ``web.full_number_roles``.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from flask import Blueprint, Flask, Response, request

from kernel.settings import Settings
from webapp.api_v1 import agents, auth, callbacks, calls, customers, openapi, tickets
from webapp.live import watcher

PREFIX = "/api/v1"

bp = Blueprint("api_v1", __name__, url_prefix=PREFIX)
bp.before_request(auth.authenticate)
bp.after_request(auth.challenge)


@bp.after_request
def _poke_live_pages(response: Response) -> Response:
    # A ticket or callback made here shows on the live pages now, not at the next poll.
    if request.method in ("POST", "PATCH") and response.status_code < 400:
        watcher().poke()
    return response


for _resource in (calls, tickets, customers, agents, callbacks):
    bp.register_blueprint(_resource.bp)


@cache
def _document() -> dict[str, Any]:
    return openapi.document()


@bp.get("/openapi.json", endpoint="openapi")
def openapi_json() -> dict[str, Any]:
    return _document()


def register(app: Flask, settings: Settings) -> None:
    """Serve the API on ``app`` (its settings are read per request from the app)."""
    del settings
    app.register_blueprint(bp)
