"""Every error of the JSON API as JSON ``{"error": "...", "error_id": "..."}`` with its
status code; the HTML pages get an error page instead.

Views raise ``ApiError``; unknown routes, wrong methods and unexpected failures get the
same shape, so a script never has to parse an HTML error page. ``error_id`` is stable
per kind of error (``not_found``, ``csrf_missing`` …) for integrations to branch on;
the message is for people and may change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException, InternalServerError

# An error as a page: (status, message) -> (HTML, status).
HtmlError = Callable[[int, str], tuple[str, int]]
_HTML_ERROR = "hotline.html_error"

# The stable error id of a status, when the view gives none.
_IDS = {
    400: "bad_request",
    401: "not_logged_in",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "invalid",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}


class ApiError(Exception):
    """An error answer: ``status`` and a one-line ``message``, plus extra JSON fields
    (``error_id`` among them to name the error more precisely than its status)."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


def error_id(status: int) -> str:
    return _IDS.get(status, f"http_{status}")


def _wants_html() -> bool:
    # Pages are everything outside the machine interfaces; a browser asks for HTML.
    if request.path.startswith(("/api/", "/live/", "/_sim/", "/healthz", "/metrics")):
        return False
    return request.accept_mimetypes.accept_html


def _answer(status: int, message: str, extra: dict[str, Any]) -> tuple[Response | str, int]:
    if _wants_html():
        html_error: HtmlError = current_app.extensions[_HTML_ERROR]
        return html_error(status, message)
    body = {"error": message, "error_id": error_id(status), **extra}
    return jsonify(body), status


def _api_error(exc: ApiError) -> tuple[Response | str, int]:
    return _answer(exc.status, exc.message, exc.extra)


def _http_error(exc: HTTPException) -> tuple[Response | str, int]:
    return _answer(exc.code or 500, exc.description or exc.name, {})


def _unexpected(exc: InternalServerError) -> tuple[Response | str, int]:
    # The traceback is logged by Flask; the page gets no internals.
    return _answer(500, "internal error", {})


def register(app: Flask, html_error: HtmlError) -> None:
    """Answer errors as JSON, or as ``html_error``'s page where a browser asks for HTML
    (passed in: the pages import this module)."""
    app.extensions[_HTML_ERROR] = html_error
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(InternalServerError, _unexpected)
    app.register_error_handler(HTTPException, _http_error)
