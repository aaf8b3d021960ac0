"""Check JSON against ARI's own API description (Swagger 1.2, ``ari-api-docs/*.json``).

Asterisk validates its own output the same way in developer mode (its generated
``ari_model_validators.c``): required fields present, declared types, ``LIST`` enums,
and no field the description does not document. Events are ``Message`` subtypes picked
by their ``type`` discriminator; a subtype also carries its ancestors' fields
(``Event``: ``application``, ``timestamp``; ``Message``: ``type``, ``asterisk_id``).

``find_operation`` maps a concrete request (``POST /ari/channels/1.2/play``) to the
operation documented for it, with its ``responseClass`` and documented error codes.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

API_DOCS = Path(os.environ.get("HOTLINE_ARI_API_DOCS", "/work/shared/ari-api-docs"))

# ``ast_json_timeval`` output: 2013-10-10T11:20:30.123-0500 (fraction optional here).
_DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d{4}$")
_LIST = re.compile(r"^List\[(.+)\]$")
_PLACEHOLDER = re.compile(r"\{[^}]*\}")


@dataclass(frozen=True, slots=True)
class Problem:
    path: str  # where in the value: $.channel.state
    what: str

    def __str__(self) -> str:
        return f"{self.path}: {self.what}"


@dataclass(frozen=True, slots=True)
class Operation:
    resource: str  # the api-docs file, e.g. channels.json
    method: str
    path: str  # the documented template, e.g. /channels/{channelId}/play
    nickname: str
    response_class: str
    error_codes: frozenset[int]


class ApiDocs:
    """The models and operations of every ``*.json`` file in one api-docs directory."""

    def __init__(self, directory: Path = API_DOCS) -> None:
        self.models: dict[str, dict[str, Any]] = {}
        self.operations: list[Operation] = []
        for file in sorted(directory.glob("*.json")):
            doc = json.loads(file.read_text(encoding="utf-8"))
            for model_id, model in doc.get("models", {}).items():
                if model_id in self.models:
                    raise ValueError(f"model {model_id} defined twice ({file.name})")
                self.models[model_id] = model
            for api in doc.get("apis", []):
                for op in api.get("operations", []):
                    self.operations.append(
                        Operation(
                            resource=file.name,
                            method=op["httpMethod"].upper(),
                            path=api["path"],
                            nickname=op.get("nickname", ""),
                            response_class=op.get("responseClass", "void"),
                            # Some files write the codes as strings ("404").
                            error_codes=frozenset(
                                int(e["code"]) for e in op.get("errorResponses", [])
                            ),
                        )
                    )
        if not self.models or not self.operations:
            raise FileNotFoundError(f"no ARI api-docs in {directory}")
        self._parent: dict[str, str] = {}
        for model_id, model in self.models.items():
            for sub in model.get("subTypes", []):
                self._parent[sub] = model_id

    # -- models --------------------------------------------------------------------------

    def ancestors(self, model_id: str) -> list[str]:
        """``model_id`` and the models it derives from, nearest first."""
        chain = [model_id]
        while chain[-1] in self._parent:
            chain.append(self._parent[chain[-1]])
        return chain

    def is_subtype(self, model_id: str, of: str) -> bool:
        return of in self.ancestors(model_id)

    def properties(self, model_id: str) -> dict[str, dict[str, Any]]:
        """Own and inherited properties of a model."""
        props: dict[str, dict[str, Any]] = {}
        for mid in reversed(self.ancestors(model_id)):
            props.update(self.models[mid].get("properties", {}))
        return props

    def _discriminator(self, model_id: str) -> str | None:
        for mid in self.ancestors(model_id):
            disc = self.models[mid].get("discriminator")
            if isinstance(disc, str):
                return disc
        return None

    def validate(self, value: Any, type_name: str, path: str = "$") -> list[Problem]:
        """Problems of ``value`` as an instance of ``type_name`` (a model or Swagger type)."""
        problems: list[Problem] = []
        self._check(value, type_name, path, problems)
        return problems

    def validate_event(self, event: Any) -> list[Problem]:
        return self.validate(event, "Message")

    def _check(self, value: Any, type_name: str, path: str, out: list[Problem]) -> None:
        m = _LIST.match(type_name)
        if m:
            if not isinstance(value, list):
                out.append(Problem(path, f"expected a list ({type_name}), got {_kind(value)}"))
                return
            for i, item in enumerate(value):
                self._check(item, m.group(1), f"{path}[{i}]", out)
            return
        if type_name in _PRIMITIVES:
            if not _PRIMITIVES[type_name](value):
                out.append(Problem(path, f"expected {type_name}, got {_kind(value)} {value!r}"))
            return
        if type_name not in self.models:
            out.append(Problem(path, f"unknown type {type_name!r} in the API description"))
            return
        if not isinstance(value, dict):
            out.append(Problem(path, f"expected a {type_name} object, got {_kind(value)}"))
            return
        model_id = type_name
        disc = self._discriminator(type_name)
        if disc is not None:
            actual = value.get(disc)
            if not isinstance(actual, str) or actual not in self.models:
                out.append(Problem(f"{path}.{disc}", f"unknown {type_name} type {actual!r}"))
                return
            if not self.is_subtype(actual, type_name):
                out.append(Problem(f"{path}.{disc}", f"{actual} is not a {type_name}"))
                return
            model_id = actual
        props = self.properties(model_id)
        for name, spec in props.items():
            if spec.get("required") is True and name not in value:
                out.append(Problem(f"{path}.{name}", f"required by {model_id}, missing"))
        for name, item in value.items():
            prop = props.get(name)
            if prop is None:
                out.append(Problem(f"{path}.{name}", f"not documented in {model_id}"))
                continue
            self._check(item, prop["type"], f"{path}.{name}", out)
            allowed = prop.get("allowableValues")
            if (
                isinstance(allowed, dict)
                and allowed.get("valueType") == "LIST"
                and item not in allowed.get("values", [])
            ):
                out.append(Problem(f"{path}.{name}", f"{item!r} not one of {allowed['values']}"))

    # -- operations ------------------------------------------------------------------------

    def find_operation(self, method: str, path: str) -> Operation | None:
        """The documented operation for a concrete request path (``/ari`` prefix optional).

        Literal segments win over placeholders: ``POST /channels/create`` is ``create``,
        not ``originateWithId``.
        """
        path = path.split("?", 1)[0]
        if path.startswith("/ari/"):
            path = path[4:]
        segments = path.strip("/").split("/")
        best: tuple[int, Operation] | None = None
        for op in self.operations:
            if op.method != method.upper():
                continue
            tmpl = op.path.strip("/").split("/")
            if len(tmpl) != len(segments):
                continue
            literal = 0
            for t, s in zip(tmpl, segments, strict=True):
                if _PLACEHOLDER.fullmatch(t):
                    if not s:
                        break
                elif t == s:
                    literal += 1
                else:
                    break
            else:
                if best is None or literal > best[0]:
                    best = (literal, op)
        return best[1] if best else None

    def template_paths(self) -> set[str]:
        """Every documented path with its placeholders reduced to ``{}``."""
        return {normalise_template(op.path) for op in self.operations}

    def has_template(self, method: str, template: str) -> bool:
        want = normalise_template(template)
        return any(
            op.method == method.upper() and normalise_template(op.path) == want
            for op in self.operations
        )


def normalise_template(template: str) -> str:
    """``/channels/{id}/play/{pid}`` and ``/channels/{channelId}/play/{playbackId}`` alike."""
    if template.startswith("/ari/"):
        template = template[4:]
    return _PLACEHOLDER.sub("{}", template)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


_PRIMITIVES: Mapping[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "int": _is_int,
    "long": _is_int,
    "double": lambda v: _is_int(v) or isinstance(v, float),
    "boolean": lambda v: isinstance(v, bool),
    "Date": lambda v: isinstance(v, str) and _DATE.match(v) is not None,
    "object": lambda v: isinstance(v, dict),
}


def _kind(value: Any) -> str:
    return type(value).__name__


@cache
def api_docs() -> ApiDocs:
    """Loaded once per test session."""
    return ApiDocs()


def format_problems(problems: Iterable[tuple[str, Problem]]) -> str:
    """One line per (what was checked, problem) for an assertion message."""
    return "\n".join(f"{where}: {p}" for where, p in problems)
