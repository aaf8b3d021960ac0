"""The config loaders under random input (hypothesis): YAML-ish noise, the shipped files
mutated (lines dropped, doubled, swapped, re-indented, values replaced, cut short), and
raw bytes. Each loader either accepts the text or raises its own error type whose every
message names the file and a line in it — never another exception (a traceback at
start-up, or a reload thread that dies)."""

from __future__ import annotations

import atexit
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agents.queue_config import QueueConfigError, load_queues
from agents.shift_file import ShiftsInvalid, load_shifts
from ivr.menus.loader import load_menu
from ivr.menus.model import MenuInvalid
from kernel.calendar import CalendarError, load_calendars
from kernel.settings import SettingsError, load_settings
from tickets.config import TicketRulesError, load_rules

REPO = Path(__file__).resolve().parents[3]
QUEUES = load_queues(REPO / "config" / "queues.yaml")
CALENDARS = load_calendars(REPO / "config" / "calendar.yaml")

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Hypothesis runs many examples per test: one scratch directory for the module.
SCRATCH = Path(tempfile.mkdtemp(prefix="hotline-loader-fuzz-"))
atexit.register(shutil.rmtree, SCRATCH, True)


@dataclass(frozen=True)
class Loader:
    name: str
    shipped: Path
    load: Callable[[Path], object]
    error: type[Exception]
    messages: Callable[[Exception], list[str]]


def _one(exc: Exception) -> list[str]:
    return [str(exc)]


def _problems(exc: Exception) -> list[str]:
    return [str(p) for p in getattr(exc, "problems", [])]


LOADERS = [
    Loader(
        "menu",
        REPO / "menus" / "telecom.yaml",
        lambda p: load_menu(p, QUEUES, CALENDARS.names),
        MenuInvalid,
        _problems,
    ),
    Loader("menu-unchecked", REPO / "menus" / "dairy.yaml", load_menu, MenuInvalid, _problems),
    Loader("queues", REPO / "config" / "queues.yaml", load_queues, QueueConfigError, _one),
    Loader(
        "shifts",
        REPO / "config" / "shifts.yaml",
        lambda p: load_shifts(p, CALENDARS),
        ShiftsInvalid,
        _problems,
    ),
    Loader("calendar", REPO / "config" / "calendar.yaml", load_calendars, CalendarError, _one),
    Loader("tickets", REPO / "config" / "tickets.yaml", load_rules, TicketRulesError, _one),
    Loader(
        "settings",
        REPO / "config" / "hotline.toml",
        lambda p: load_settings(p, environ={}),
        SettingsError,
        _one,
    ),
]
BY_NAME = {loader.name: loader for loader in LOADERS}


def check(loader: Loader, content: str | bytes) -> None:
    """Load ``content`` as the loader's file: fine, or a clean error naming file and line."""
    path = SCRATCH / f"{loader.name}{loader.shipped.suffix}"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", errors="surrogatepass")
    text = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
    # Lines as YAML counts them (\r, \x85, \u2028 … end a line too), or TOML.
    n_lines = max(text.count("\n"), len(text.splitlines())) + 1
    try:
        loader.load(path)
    except loader.error as exc:
        messages = loader.messages(exc)
        assert messages, f"{loader.name}: an error without a message"
        for message in messages:
            m = re.match(rf"^{re.escape(str(path))}:(\d+): .", message, re.DOTALL)
            assert m is not None, f"{loader.name}: no file:line in {message!r}"
            assert 1 <= int(m.group(1)) <= n_lines + 1, message
            assert "Traceback" not in message


# --- inputs ---------------------------------------------------------------------------

TOKENS = [
    ":",
    ": ",
    "- ",
    "-",
    "  ",
    "    ",
    "\t",
    "#",
    "'",
    '"',
    "[",
    "]",
    "{",
    "}",
    ",",
    "&a ",
    "*a",
    "!!str ",
    "!!int ",
    "!!binary ",
    "!!python/object:os.system ",
    "!!timestamp ",
    "? ",
    "|",
    ">",
    "---",
    "...",
    "%YAML 1.1",
    "null",
    "~",
    "true",
    "no",
    "0x1F",
    "1e999",
    ".inf",
    ".nan",
    "2026-13-45",
    "2026-02-29",
    "24:00",
    "25:61",
    "09:30-11:30",
    "-1",
    "0",
    "99999999999999999999",
    "=",
    "[x]",
    "key",
    "nodes",
    "menu",
    "queues",
    "skills",
    "calendars",
    "teams",
    "shifts",
    "timezone",
    "Asia/Shanghai",
    "Mars/Base",
    "weekly",
    "periods",
    "at",
    "kind",
    "departments",
    "escalation",
    "[node]",
    "[ari]",
    "url",
    "port",
    '"',
    "\\",
    "\u00e9",
    "电话",
    "\x00",
    "\ufeff",
    "\r",
    "\n",
]
yamlish = st.lists(st.one_of(st.sampled_from(TOKENS), st.text(max_size=8)), max_size=60).map(
    "".join
)


@st.composite
def mutated(draw: st.DrawFn, loader_name: str) -> str:
    """The shipped file with a few random edits."""
    lines = BY_NAME[loader_name].shipped.read_text(encoding="utf-8").splitlines()
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            lines = [""]
        i = draw(st.integers(0, len(lines) - 1))
        edit = draw(
            st.sampled_from(
                ["drop", "double", "swap", "indent", "dedent", "value", "insert", "cut", "char"]
            )
        )
        line = lines[i]
        if edit == "drop":
            del lines[i]
        elif edit == "double":
            lines.insert(i, line)
        elif edit == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif edit == "indent":
            lines[i] = draw(st.sampled_from([" ", "  ", "\t", "      "])) + line
        elif edit == "dedent":
            lines[i] = line.lstrip()
        elif edit == "value":
            head, sep, _ = line.partition(":" if ":" in line else "=")
            lines[i] = head + (sep or ":") + " " + draw(yamlish)
        elif edit == "insert":
            lines.insert(i, draw(yamlish))
        elif edit == "cut":
            lines = lines[: i + 1]
            lines[-1] = line[: draw(st.integers(0, len(line)))]
        else:
            at = draw(st.integers(0, len(line)))
            lines[i] = line[:at] + draw(st.sampled_from(TOKENS)) + line[at:]
    return "\n".join(lines) + draw(st.sampled_from(["\n", ""]))


@pytest.mark.parametrize("loader_name", sorted(BY_NAME))
def test_the_shipped_files_load(loader_name: str) -> None:
    loader = BY_NAME[loader_name]
    loader.load(loader.shipped)


@pytest.mark.parametrize("loader_name", sorted(BY_NAME))
@FUZZ
@given(text=yamlish)
def test_yamlish_noise_is_refused_cleanly(loader_name: str, text: str) -> None:
    check(BY_NAME[loader_name], text)


@pytest.mark.parametrize("loader_name", sorted(BY_NAME))
@FUZZ
@given(data=st.data())
def test_mutated_shipped_files_are_refused_cleanly(loader_name: str, data: st.DataObject) -> None:
    check(BY_NAME[loader_name], data.draw(mutated(loader_name), label="file"))


@pytest.mark.parametrize("loader_name", sorted(BY_NAME))
@FUZZ
@given(raw=st.binary(max_size=200))
def test_raw_bytes_are_refused_cleanly(loader_name: str, raw: bytes) -> None:
    check(BY_NAME[loader_name], raw)


@pytest.mark.parametrize(
    "text",
    [
        "a: &a [*a]",  # an alias inside itself
        "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
        "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
        "e: [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n",  # "billion laughs"
        "[" * 5000,
        "- " * 3000 + "x",
        "a: !!python/object/apply:os.system [echo pwned]",
        "a: !!binary not-base64",
        "a: !!int twelve",
        "a: !!timestamp yesterday",
        "a: 2026-13-45",
        "\udcff: 1",
        "\ufeffmenu: x",
    ],
)
@pytest.mark.parametrize("loader_name", sorted(BY_NAME))
def test_hostile_yaml_is_refused_cleanly(loader_name: str, text: str) -> None:
    check(BY_NAME[loader_name], text)
