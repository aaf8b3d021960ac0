"""Typed ARI errors: what a call handler can act on, not HTTP trivia.

Asterisk answers a request on a channel that has just hung up or left Stasis with 404
or 409; a handler treats those as "the channel is gone", never as a crash. 503 and
connection failures are transient (Asterisk restarting, overloaded, network blip).
"""

from __future__ import annotations


class AriError(Exception):
    """Base of every ARI failure. ``status`` is the HTTP status, 0 without a response."""

    status = 0

    def __init__(self, message: str, *, method: str = "", path: str = "") -> None:
        super().__init__(f"{method} {path}: {message}".strip(": ") if method else message)
        self.method = method
        self.path = path
        self.detail = message


class AriBadRequest(AriError):
    status = 400


class AriAuthError(AriError):
    status = 401


class AriNotFound(AriError):
    """404: the channel/bridge/playback does not exist (any more)."""

    status = 404


class AriConflict(AriError):
    """409: e.g. the channel is not in a Stasis application (it left, or never was)."""

    status = 409


class AriPreconditionFailed(AriError):
    """412: the channel is in a state that forbids the request (e.g. not answered)."""

    status = 412


class AriUnprocessable(AriError):
    """422: a referenced object (channel in a bridge request) is not usable."""

    status = 422


class AriServerError(AriError):
    status = 500


class AriUnavailable(AriError):
    """503: Asterisk cannot serve the request right now. Transient."""

    status = 503


class AriConnectionError(AriError):
    """No response at all: refused, reset, timed out. Transient."""


_BY_STATUS: dict[int, type[AriError]] = {
    400: AriBadRequest,
    401: AriAuthError,
    403: AriAuthError,
    404: AriNotFound,
    409: AriConflict,
    412: AriPreconditionFailed,
    422: AriUnprocessable,
    503: AriUnavailable,
}


def error_for_status(status: int, message: str, *, method: str = "", path: str = "") -> AriError:
    cls = _BY_STATUS.get(status)
    if cls is None:
        cls = AriServerError if status >= 500 else AriBadRequest
    err = cls(message, method=method, path=path)
    err.status = status
    return err
