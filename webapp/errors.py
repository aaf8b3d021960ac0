"""Every error as JSON ``{"error": "..."}`` with its status code.

Views raise ``ApiError``; unknown routes, wrong methods and unexpected failures get the
same shape, so the page never has to parse an HTML error page.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException, InternalServerError


class ApiError(Exception):
    """An error answer: ``status`` and a one-line ``message``, plus extra JSON fields."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


def _api_error(exc: ApiError) -> tuple[Response, int]:
    return jsonify({"error": exc.message, **exc.extra}), exc.status


def _http_error(exc: HTTPException) -> tuple[Response, int]:
    status = exc.code or 500
    return jsonify({"error": exc.description or exc.name}), status


def _unexpected(exc: InternalServerError) -> tuple[Response, int]:
    # The traceback is logged by Flask; the page gets no internals.
    return jsonify({"error": "internal error"}), 500


def register(app: Flask) -> None:
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(InternalServerError, _unexpected)
    app.register_error_handler(HTTPException, _http_error)
