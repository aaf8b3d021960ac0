"""Process logging: plain text for people, or JSON lines for log shippers; either way every
line written while a call is handled names that call.

The call id comes from ``ivr.runtime.callctx`` (set by the controller for each step of a
call), so nothing that logs needs to pass it along. ``hotline run --log-format json``
(or ``node.log_format = "json"``) writes one JSON object per line::

    {"ts": "2026-11-25T10:00:00.123Z", "level": "INFO", "logger": "ivr.runtime.controller",
     "msg": "…", "call_id": "1732528800.17", "node": "node1"}
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import IO, Literal

from ivr.runtime import callctx

LogFormat = Literal["text", "json"]

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s%(call_tag)s: %(message)s"

# Attributes every LogRecord has; anything else was passed with ``extra=`` and is kept.
_STANDARD = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "call_id", "call_tag", "node", "taskName"}
)


class CallContextFilter(logging.Filter):
    """Adds ``call_id`` (None outside a call), ``call_tag`` and ``node`` to each record."""

    def __init__(self, node: str = "") -> None:
        super().__init__()
        self.node = node

    def filter(self, record: logging.LogRecord) -> bool:
        call_id = getattr(record, "call_id", None) or callctx.call_id.get()
        record.call_id = call_id
        record.call_tag = f" [call {call_id}]" if call_id else ""
        record.node = self.node
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (newlines inside values are escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        call_id = getattr(record, "call_id", None)
        if call_id:
            out["call_id"] = call_id
        node = getattr(record, "node", "")
        if node:
            out["node"] = node
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in out:
                out[key] = value
        return json.dumps(out, ensure_ascii=False, default=str)


def make_handler(
    fmt: LogFormat = "text", node: str = "", stream: IO[str] | None = None
) -> logging.Handler:
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.addFilter(CallContextFilter(node))
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    return handler


def setup_logging(
    verbose: bool = False,
    fmt: LogFormat = "text",
    node: str = "",
    stream: IO[str] | None = None,
    level: int | None = None,
) -> logging.Handler:
    """Configure the root logger (replacing handlers set before); returns the handler."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    handler = make_handler(fmt, node, stream)
    root.addHandler(handler)
    root.setLevel(level if level is not None else logging.DEBUG if verbose else logging.INFO)
    return handler
