"""Structured logs: JSON lines with the call id of whatever call is being handled."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import pytest

from hotline.cli.main import build_parser
from hotline.logsetup import make_handler
from ivr.runtime import callctx


@pytest.fixture
def logger() -> Iterator[tuple[logging.Logger, io.StringIO, io.StringIO]]:
    """A logger writing to a JSON handler and a text handler at once."""
    as_json, as_text = io.StringIO(), io.StringIO()
    log = logging.getLogger("hotline.test.logsetup")
    log.setLevel(logging.DEBUG)
    log.propagate = False
    handlers = [make_handler("json", "node7", as_json), make_handler("text", "node7", as_text)]
    for h in handlers:
        log.addHandler(h)
    yield log, as_json, as_text
    for h in handlers:
        log.removeHandler(h)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def test_every_line_of_a_call_carries_its_id_and_calls_do_not_mix(logger) -> None:  # type: ignore[no-untyped-def]
    log, as_json, as_text = logger

    async def handle(call: str, steps: int) -> None:
        callctx.call_id.set(call)
        for i in range(steps):
            log.info("step %d of %s", i, call)
            await asyncio.sleep(0)  # let the other call run in between

    log.info("before any call")
    # Each call in its own task, as the dispatcher runs them, interleaved.
    await asyncio.gather(handle("chan-a", 5), handle("chan-b", 5))
    log.info("after the calls")

    records = lines(as_json)
    assert len(records) == 12
    assert "call_id" not in records[0] and "call_id" not in records[-1]
    for rec in records[1:-1]:
        assert isinstance(rec["msg"], str)
        assert rec["call_id"] == rec["msg"].rsplit(" ", 1)[1], rec
        assert rec["node"] == "node7"
        assert rec["level"] == "INFO"
        assert rec["logger"] == "hotline.test.logsetup"
        assert isinstance(rec["ts"], str) and rec["ts"].endswith("Z")
    text = as_text.getvalue().splitlines()
    assert "[call chan-a]" in text[1] and "step 0 of chan-a" in text[1]
    assert "[call" not in text[0]


def test_exceptions_and_extra_fields_stay_on_one_json_line(logger) -> None:  # type: ignore[no-untyped-def]
    log, as_json, _ = logger
    token = callctx.call_id.set("chan-x")
    try:
        try:
            raise ValueError("bad\nthing")
        except ValueError:
            log.exception("handling failed", extra={"queue": "sales"})
    finally:
        callctx.call_id.reset(token)
    (line,) = as_json.getvalue().splitlines()  # one line, newlines escaped
    rec = json.loads(line)
    assert rec["call_id"] == "chan-x"
    assert rec["queue"] == "sales"
    assert rec["level"] == "ERROR"
    assert isinstance(rec["exc"], str) and "ValueError: bad" in rec["exc"]


def test_the_cli_takes_a_log_format() -> None:
    args = build_parser().parse_args(["--log-format", "json", "run"])
    assert args.log_format == "json"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--log-format", "xml", "run"])
