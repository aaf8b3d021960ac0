"""The menu file format (``menus/*.yaml``) as typed models.

A menu is a set of nodes. A ``menu`` node plays a prompt and maps DTMF keys to
actions; a ``branch`` node decides at once (business hours, caller tier, language).
An action is a mapping with exactly one of these keys, plus its parameters::

    {menu: consult}                                  go to another node
    {queue: complaints, skill: quality, priority: 1} wait for a person
    {info: {en: "...", zh: "..."}, then: back}       a self-service message
    {collect: member_number, prompt: {...}, min_length: 6, max_length: 10,
     pattern: "^[0-9]+$", confirm: true, then: {menu: main}}
    {transfer: "+8610123456"}                        dial out (dialplan context)
    {callback_request: true}                         confirm/key a number, log a request
    {hangup: true, prompt: {...}}                    goodbye (default: system goodbye)
    {language: zh, then: {menu: main}}               switch the call's language
    {operator: true} / {back: true} / {repeat: true}

Any ``then`` may also be the words ``back``, ``repeat`` or ``hangup``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

DTMF = re.compile(r"^[0-9*#]$")
NODE_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def _dtmf_key(key: str) -> str:
    if not DTMF.match(key):
        raise ValueError(f"option key '{key}' is not a DTMF key (0-9, *, #)")
    return key


# Validated per key, so a bad key is reported together with the options' other errors.
DtmfKey = Annotated[str, AfterValidator(_dtmf_key)]

ACTION_KINDS = (
    "menu",
    "queue",
    "info",
    "collect",
    "transfer",
    "callback_request",
    "hangup",
    "language",
    "operator",
    "back",
    "repeat",
)
# Parameters each kind accepts besides its own key.
ACTION_PARAMS: dict[str, set[str]] = {
    "menu": set(),
    "queue": {"skill", "priority", "injury"},
    "info": {"then"},
    "collect": {
        "prompt",
        "length",
        "min_length",
        "max_length",
        "terminator",
        "first_digit_timeout",
        "inter_digit_timeout",
        "pattern",
        "confirm",
        "max_tries",
        "then",
    },
    "transfer": {"prompt"},
    "callback_request": {"then"},
    "hangup": {"prompt"},
    "language": {"then"},
    "operator": set(),
    "back": set(),
    "repeat": set(),
}
TERMINAL_KINDS = {"queue", "transfer", "callback_request", "hangup", "operator"}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Prompt(_Model):
    """Text per language and/or recorded audio (one file for all, or per language)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    audio: dict[str, str] = Field(default_factory=dict)
    # "all": play every language's version, each in its own voice (a language menu:
    # "普通话请按1。For English, press 2."), whatever the call's language is.
    play: Literal["language", "all"] = "language"
    _key: str = PrivateAttr(default="")

    @model_validator(mode="before")
    @classmethod
    def _shape(cls, data: Any) -> Any:
        if isinstance(data, str):
            raise ValueError("a prompt needs a language, e.g. {en: 'text', zh: '文本'}")
        if isinstance(data, dict) and isinstance(data.get("audio"), str):
            data = {**data, "audio": {"*": data["audio"]}}
        return data

    @model_validator(mode="after")
    def _texts(self) -> Prompt:
        for lang, text in (self.model_extra or {}).items():
            if not re.match(r"^[a-z]{2,3}$", lang):
                raise ValueError(f"'{lang}' is not a language code")
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"the {lang} text must be a non-empty string")
        if not self.model_extra and not self.audio:
            raise ValueError("a prompt needs text or audio")
        return self

    @property
    def texts(self) -> dict[str, str]:
        return {k: str(v) for k, v in (self.model_extra or {}).items()}

    @property
    def key(self) -> str:
        return self._key

    def audio_for(self, language: str) -> str | None:
        return self.audio.get(language) or self.audio.get("*")

    def covers(self, language: str) -> bool:
        return language in self.texts or self.audio_for(language) is not None


class Action(_Model):
    menu: str | None = None
    queue: str | None = None
    info: Prompt | None = None
    collect: str | None = None
    transfer: str | None = None
    callback_request: bool | None = None
    hangup: bool | None = None
    language: str | None = None
    operator: bool | None = None
    back: bool | None = None
    repeat: bool | None = None
    # parameters
    skill: str | None = None
    priority: int = Field(0, ge=0, le=100)
    # A complaint about an injury: served before every other call (domain.md, issue 4).
    injury: bool = False
    then: Action | None = None
    prompt: Prompt | None = None
    length: int | None = Field(None, ge=1, le=32)
    min_length: int = Field(1, ge=1, le=32)
    max_length: int = Field(16, ge=1, le=32)
    terminator: str = "#"
    first_digit_timeout: float = Field(8.0, gt=0, le=120)
    inter_digit_timeout: float = Field(3.0, gt=0, le=60)
    pattern: str | None = None
    confirm: bool = False
    max_tries: int = Field(3, ge=1, le=10)

    @model_validator(mode="before")
    @classmethod
    def _words(cls, data: Any) -> Any:
        if data in ("back", "repeat", "hangup", "operator"):
            return {data: True}
        if isinstance(data, str):
            raise ValueError(
                f"'{data}' is not an action; use a mapping like {{menu: {data}}} or one of "
                "back, repeat, hangup, operator"
            )
        return data

    @model_validator(mode="after")
    def _one_kind(self) -> Action:
        given = [k for k in ACTION_KINDS if getattr(self, k) not in (None, False)]
        if len(given) != 1:
            raise ValueError(
                "an action needs exactly one of "
                + ", ".join(ACTION_KINDS)
                + (f" (got {', '.join(given)})" if given else "")
            )
        kind = given[0]
        extra = {
            name
            for name in self.model_fields_set
            if name not in ACTION_KINDS and name not in ACTION_PARAMS[kind]
        }
        if extra:
            raise ValueError(f"'{', '.join(sorted(extra))}' does not apply to a {kind} action")
        if kind == "collect":
            if self.min_length > self.max_length:
                raise ValueError("min_length is greater than max_length")
            if self.terminator not in ("#", "*", ""):
                raise ValueError("terminator must be '#', '*' or empty")
            if self.prompt is None:
                raise ValueError("a collect action needs a prompt")
            if self.pattern is not None:
                try:
                    re.compile(self.pattern)
                except re.error as exc:
                    raise ValueError(f"pattern is not a valid regular expression: {exc}") from None
        if kind == "transfer" and not re.match(
            r"^(\+?[0-9]{2,20}|[A-Z]+/[\w.@+-]+)$", str(self.transfer)
        ):
            raise ValueError("transfer needs a phone number or an endpoint like PJSIP/8001")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ACTION_KINDS if getattr(self, k) not in (None, False))


class Keys(_Model):
    """Reserved keys; null switches one off for a node."""

    repeat: str | None = "9"
    back: str | None = "*"
    operator: str | None = "0"

    @field_validator("repeat", "back", "operator")
    @classmethod
    def _dtmf(cls, value: str | None) -> str | None:
        if value is not None and not DTMF.match(str(value)):
            raise ValueError(f"'{value}' is not a DTMF key (0-9, *, #)")
        return None if value is None else str(value)


class Condition(_Model):
    hours: Literal["open", "closed"] | None = None
    tier: list[Literal["general", "member", "vip"]] | None = None
    language: str | None = None

    @model_validator(mode="after")
    def _something(self) -> Condition:
        if self.hours is None and self.tier is None and self.language is None:
            raise ValueError("a condition needs hours, tier or language")
        return self


class Rule(_Model):
    if_: Condition = Field(alias="if")
    then: Action


class Node(_Model):
    type: Literal["menu", "branch"] = "menu"
    prompt: Prompt | None = None
    options: dict[DtmfKey, Action] = Field(default_factory=dict)
    timeout: float | None = Field(None, gt=0, le=120)
    max_tries: int | None = Field(None, ge=1, le=10)
    invalid_prompt: Prompt | None = None
    no_input_prompt: Prompt | None = None
    after_max_tries: Action | None = None
    keys: Keys | None = None
    rules: list[Rule] = Field(default_factory=list)
    else_: Action | None = Field(None, alias="else")

    @model_validator(mode="after")
    def _shape(self) -> Node:
        if self.type == "menu":
            if self.prompt is None:
                raise ValueError("a menu node needs a prompt")
            if self.rules or self.else_ is not None:
                raise ValueError("rules/else belong to a branch node (type: branch)")
        else:
            if self.else_ is None:
                raise ValueError("a branch node needs an else action")
            if self.options or self.prompt is not None:
                raise ValueError("a branch node has rules and else, not a prompt or options")
        return self


class Defaults(_Model):
    timeout: float = Field(5.0, gt=0, le=120)
    max_tries: int = Field(3, ge=1, le=10)
    keys: Keys = Field(default_factory=Keys)
    operator_queue: str = "operator"
    invalid_prompt: Prompt | None = None
    no_input_prompt: Prompt | None = None
    after_max_tries: Action | None = None
    transfer_context: str = "hotline-transfer"


class MenuFile(_Model):
    menu: str = Field(pattern=NODE_ID.pattern)
    title: Prompt | None = None
    languages: list[str] = Field(min_length=1)
    default_language: str | None = None
    calendar: str = "default"
    start: str
    defaults: Defaults = Field(default_factory=Defaults)
    nodes: dict[str, Node] = Field(min_length=1)

    @field_validator("nodes")
    @classmethod
    def _ids(cls, nodes: dict[str, Node]) -> dict[str, Node]:
        for node_id in nodes:
            if not NODE_ID.match(node_id):
                raise ValueError(
                    f"node id '{node_id}' must start with a letter (letters, digits, _)"
                )
        return nodes

    @model_validator(mode="after")
    def _languages(self) -> MenuFile:
        if self.default_language is None:
            self.default_language = self.languages[0]
        elif self.default_language not in self.languages:
            raise ValueError("default_language must be one of languages")
        return self
