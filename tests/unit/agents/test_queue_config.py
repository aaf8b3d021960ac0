"""Queue settings from ``config/queues.yaml``: defaults, overrides, and each problem reported
at its own line as ``file:line: key: problem``."""

from __future__ import annotations

import textwrap
from dataclasses import fields
from pathlib import Path

import pytest

from agents.queue_config import (
    STRATEGIES,
    QueueCatalog,
    QueueConfig,
    QueueConfigError,
    load_queues,
)

REPO = Path(__file__).resolve().parents[3]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "queues.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(QueueConfigError) as exc:
        load_queues(path)
    message = str(exc.value)
    assert message.startswith(f"{path}:")
    return message.removeprefix(f"{path}:")


def test_the_shipped_file_loads_with_its_settings() -> None:
    catalog = load_queues(REPO / "config" / "queues.yaml")
    # The API menus rely on is unchanged.
    assert catalog.has_queue("operator") and not catalog.has_queue("nope")
    assert catalog.queues["faults"] == {"broadband", "fixed_line", "mobile"}
    assert "vip" in catalog.skills
    assert set(catalog.configs) == set(catalog.queues)
    vip = catalog.config("vip")
    assert (vip.strategy, vip.ring_timeout, vip.max_wait, vip.overflow) == (
        "skill_weighted",
        20,
        180,
        "operator",
    )
    # A queue giving nothing has the issue's defaults.
    assert catalog.config("mobile") == QueueConfig("mobile", frozenset({"mobile"}))
    assert {c.strategy for c in catalog.configs.values()} == set(STRATEGIES)
    with pytest.raises(KeyError):
        catalog.config("nope")


def test_built_in_defaults_are_the_issues() -> None:
    q = QueueConfig("q")
    assert (
        q.strategy,
        q.ring_timeout,
        q.max_wait,
        q.max_length,
        q.wrap_up_seconds,
        q.music_on_hold,
        q.announce_interval,
        q.service_level_seconds,
        q.overflow,
        q.callback_after,
        q.misses_before_away,
        q.external_first,
    ) == ("longest_idle", 15, 600, 50, 30, "default", 30, 15, None, None, 3, True)


def test_a_hand_built_catalog_answers_config_with_defaults() -> None:
    catalog = QueueCatalog({"a": frozenset({"x"})}, frozenset({"x"}))
    assert catalog.config("a") == QueueConfig("a", frozenset({"x"}))


def test_defaults_block_then_queue_overrides(tmp_path: Path) -> None:
    catalog = load_queues(
        write(
            tmp_path,
            """
            skills: [general]
            defaults:
              strategy: round_robin
              wrap_up_seconds: 45
              callback_after: 60
              external_first: false
            queues:
              plain: {skills: [general]}
              own:
                skills: [general]
                strategy: fewest_calls
                wrap_up_seconds: 0
                callback_after: null
                announce_interval: 0
                music_on_hold: calm
                overflow: plain
            """,
        )
    )
    plain, own = catalog.config("plain"), catalog.config("own")
    assert (plain.strategy, plain.wrap_up_seconds, plain.callback_after) == ("round_robin", 45, 60)
    assert plain.external_first is False and plain.ring_timeout == 15
    assert (own.strategy, own.wrap_up_seconds, own.announce_interval) == ("fewest_calls", 0, 0)
    # An explicit null turns off what the defaults switched on.
    assert own.callback_after is None
    assert (own.music_on_hold, own.overflow, own.external_first) == ("calm", "plain", False)


def test_every_setting_can_be_given_per_queue(tmp_path: Path) -> None:
    given = {
        "strategy": "skill_weighted",
        "ring_timeout": 7,
        "max_wait": 70,
        "max_length": 9,
        "wrap_up_seconds": 11,
        "music_on_hold": "jazz",
        "announce_interval": 13,
        "service_level_seconds": 20,
        "callback_after": 40,
        "misses_before_away": 2,
        "external_first": False,
    }
    body = "\n".join(
        f"    {k}: {str(v).lower() if isinstance(v, bool) else v}" for k, v in given.items()
    )
    path = tmp_path / "queues.yaml"
    path.write_text(f"queues:\n  q:\n{body}\n", encoding="utf-8")
    config = load_queues(path).config("q")
    assert {f.name: getattr(config, f.name) for f in fields(config) if f.name in given} == given


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            """
            skills: [general]
            queues:
              a:
                skills: [general]
                strategy: random
            """,
            "5: queues.a.strategy: Input should be 'longest_idle', 'round_robin', "
            "'fewest_calls' or 'skill_weighted' (got 'random')",
            id="unknown strategy",
        ),
        pytest.param(
            """
            queues:
              a: {}
              b:
                overflow: elsewhere
            """,
            "4: queues.b.overflow: unknown queue 'elsewhere'",
            id="overflow to unknown queue",
        ),
        pytest.param(
            """
            queues:
              start:
                overflow: a
              a:
                overflow: b
              b:
                overflow: c
              c:
                overflow: a
            """,
            "5: queues.a.overflow: overflow cycle a → b → c → a",
            id="overflow cycle",
        ),
        pytest.param(
            """
            queues:
              a:
                ring_timeout: 20
                overflow: a
            """,
            "4: queues.a.overflow: a queue cannot overflow to itself",
            id="overflow to itself",
        ),
        pytest.param(
            """
            queues:
              a:
                description: fine
                ring_timeout: -5
            """,
            "4: queues.a.ring_timeout: Input should be greater than or equal to 1 (got -5)",
            id="negative timeout",
        ),
        pytest.param(
            """
            defaults:
              max_wait: 0
            queues:
              a: {}
            """,
            "2: defaults.max_wait: Input should be greater than or equal to 1 (got 0)",
            id="zero in defaults",
        ),
        pytest.param(
            """
            queues:
              a:
                ring_timeout: "15"
            """,
            "3: queues.a.ring_timeout: Input should be a valid integer (got '15')",
            id="quoted number",
        ),
        pytest.param(
            """
            queues:
              a:
                ring_timout: 15
            """,
            "3: queues.a.ring_timout: unknown key",
            id="misspelt key",
        ),
        pytest.param(
            """
            queues:
              a:
                wrap_up_seconds: null
            """,
            "3: queues.a.wrap_up_seconds: needs a value (only callback_after and overflow "
            "may be null)",
            id="null setting",
        ),
        pytest.param(
            """
            skills: [general]
            queues:
              a:
                skills: [general, juggling]
            """,
            "4: queues.a.skills: unknown skill(s) juggling",
            id="unknown skill",
        ),
        pytest.param(
            """
            queues:
              a: {}
              a: {}
            """,
            "3: duplicate key 'a'",
            id="duplicate queue",
        ),
        pytest.param(
            "- a\n- b\n", "1: (top level): must be a mapping (skills:, defaults:, queues:)"
        ),
        pytest.param(
            """
            queues:
              a: {strategy: [}
            """,
            None,
            id="bad yaml",
        ),
    ],
)
def test_problems_are_reported_at_their_line(
    tmp_path: Path, text: str, expected: str | None
) -> None:
    message = error_of(tmp_path, text)
    if expected is None:
        assert message.startswith("2: not valid YAML")
    else:
        assert message == expected


def test_the_earliest_problem_is_reported(tmp_path: Path) -> None:
    message = error_of(
        tmp_path,
        """
        queues:
          a:
            max_length: 0
          b:
            strategy: random
        """,
    )
    assert message.startswith("3: queues.a.max_length:")


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(QueueConfigError, match=r"missing\.yaml:1: cannot read queues file"):
        load_queues(tmp_path / "missing.yaml")
