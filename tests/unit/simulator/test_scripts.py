"""Caller scripts: the little language of ``hotline simulate`` and ``POST /_sim/calls``."""

from __future__ import annotations

import pytest

from simulator.callers import ScriptError, Step, parse_call_line, parse_script


def test_every_step_kind() -> None:
    steps = parse_script(
        "wait 2, wait 0.5 s, wait 1 seconds, wait for prompt, wait until silence, "
        "wait for answer, press 12#, press 4 * d, hang up after 20 s, hangup, hang up"
    )
    assert steps == [
        Step("wait", seconds=2.0),
        Step("wait", seconds=0.5),
        Step("wait", seconds=1.0),
        Step("wait_for", arg="prompt"),
        Step("wait_for", arg="silence"),
        Step("wait_for", arg="answer"),
        Step("press", arg="12#"),
        Step("press", arg="4*D"),
        Step("hangup_after", seconds=20.0),
        Step("hangup"),
        Step("hangup"),
    ]


def test_separators_case_and_spacing() -> None:
    assert parse_script("WAIT  3 SEC;Press 9\n  hang   up  ") == [
        Step("wait", seconds=3.0),
        Step("press", arg="9"),
        Step("hangup"),
    ]


@pytest.mark.parametrize("text", ["", "   ", ",,;", "\n"])
def test_an_empty_script_has_no_steps(text: str) -> None:
    assert parse_script(text) == []


@pytest.mark.parametrize(
    ("text", "step", "quoted"),
    [
        ("jump", 1, "'jump'"),
        ("wait 1, press X", 2, "'press X'"),
        ("wait 1; wait 2 minutes", 2, "'wait 2 minutes'"),
        ("wait 1, wait, hang up", 2, "'wait'"),
        ("press", 1, "'press'"),
        ("hang up after soon", 1, "'hang up after soon'"),
        ("wait for godot", 1, "'wait for godot'"),
        ("wait -1", 1, "'wait -1'"),
    ],
)
def test_errors_name_the_step(text: str, step: int, quoted: str) -> None:
    with pytest.raises(ScriptError) as info:
        parse_script(text)
    message = str(info.value)
    assert message.startswith(f"step {step} {quoted}:")
    assert "expected" in message  # says what would have been understood


def test_a_call_line() -> None:
    line = "call 6000 from +8613800000001, wait 0.5 s, press 2, hang up after 3 s"
    assert parse_call_line(line) == (
        "6000",
        "+8613800000001",
        "",
        [Step("wait", seconds=0.5), Step("press", arg="2"), Step("hangup_after", seconds=3.0)],
    )


def test_a_call_line_with_a_name_and_no_steps() -> None:
    assert parse_call_line('call  6000   from 8001 as "Li Lei"') == ("6000", "8001", "Li Lei", [])


@pytest.mark.parametrize(
    "line", ["dial 6000, wait 1", "call 6000", "call from 8001", "call 6000 from", ""]
)
def test_a_bad_call_line_quotes_its_head(line: str) -> None:
    with pytest.raises(ScriptError) as info:
        parse_call_line(line)
    assert repr(line.partition(",")[0].strip()) in str(info.value)
    assert "call <number> from <caller>" in str(info.value)


def test_a_bad_step_after_a_good_call_line() -> None:
    with pytest.raises(ScriptError, match=r"^step 2 'shout':"):
        parse_call_line("call 6000 from 8001, wait 1, shout")
