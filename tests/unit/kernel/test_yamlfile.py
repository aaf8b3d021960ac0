"""The kernel's YAML reading: every problem at its line, and one checked load for any model."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict

from kernel import yamlfile


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    size: int = 1


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "f.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_load_checked_names_file_line_and_key(tmp_path: Path) -> None:
    ok, lines = yamlfile.load_checked(write(tmp_path, "name: a\nsize: 3\n"), _Model)
    assert (ok.name, ok.size, lines[("size",)]) == ("a", 3, 2)
    bad = write(tmp_path, "name: a\nsize: many\ncolour: red\n")
    with pytest.raises(yamlfile.CheckedError) as raised:
        yamlfile.load_checked(bad, _Model)
    # The first problem by line: the size on line 2, with what was given.
    assert str(raised.value).startswith(f"{bad}:2: size: Input should be a valid integer")
    assert str(raised.value).endswith("(got 'many')")


def test_read_problems_are_source_errors_with_a_line(tmp_path: Path) -> None:
    with pytest.raises(yamlfile.SourceError) as raised:
        yamlfile.read(tmp_path / "absent.yaml", "thing file")
    assert raised.value.at("x") == "x:1: cannot read thing file: No such file or directory"
    with pytest.raises(yamlfile.SourceError) as raised:
        yamlfile.read(tmp_path / "absent.yaml", unreadable_line=None)
    assert raised.value.at("x") == "x: cannot read: No such file or directory"
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("name: caf\xe9".encode("latin-1"))
    with pytest.raises(yamlfile.SourceError, match="not UTF-8 text"):
        yamlfile.read(latin)
    with pytest.raises(yamlfile.SourceError) as raised:
        yamlfile.read(write(tmp_path, "a: 1\na: 2\n"))
    assert (raised.value.line, raised.value.message) == (2, "duplicate key 'a'")


def test_pydantic_problems_in_our_words() -> None:
    missing = {"loc": ("name",), "msg": "Field required", "type": "missing", "input": {}}
    extra = {"loc": ("x", "[key]"), "msg": "Extra inputs", "type": "extra_forbidden"}
    value = {"loc": ("a",), "msg": "Value error, too big", "type": "value_error", "input": 9}
    assert yamlfile.pydantic_problem(missing) == (("name",), "required")
    assert yamlfile.pydantic_problem(extra) == (("x",), "unknown key")
    assert yamlfile.pydantic_problem(value) == (("a",), "too big")
