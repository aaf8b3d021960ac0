"""The ticket rules file (``config/tickets.yaml``): who is told about which tickets,
how fast each kind must move, and where orders go.

Problems are reported as ONE line, ``file:line: key: problem`` (like the other config
loaders), raised as ``TicketRulesError``; the CLI turns it into exit status 2 and a
running node keeps its last good rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from kernel.yamlfile import SourceError, line_of, load

KINDS = ("order", "complaint", "inquiry", "fault", "other")
Kind = Literal["order", "complaint", "inquiry", "fault", "other"]
Severity = Literal["normal", "high", "urgent"]


class TicketRulesError(Exception):
    """A problem in the ticket rules file, phrased as the one line to show the operator."""


@dataclass(frozen=True)
class Department:
    """Who hears about an escalation: e-mail addresses and in-app roles/staff numbers."""

    name: str
    title: str
    email: tuple[str, ...] = ()
    inapp: tuple[str, ...] = ()


@dataclass(frozen=True)
class EscalationRule:
    """When a ticket matches (kind, optional category, optional true detail flag), the
    departments are notified at once and the ticket's severity is raised to ``severity``."""

    name: str
    kind: str
    category: str | None
    flag: str | None
    notify: tuple[str, ...]
    severity: str | None = None
    description: str = ""


@dataclass(frozen=True)
class SlaTargets:
    """One kind's targets. None: no such target for the kind."""

    first_response_minutes: int | None
    callback_days: int | None
    resolution_working_days: int | None


@dataclass(frozen=True)
class SlaPolicy:
    calendar: str
    by_kind: Mapping[str, SlaTargets]
    # Urgent tickets (e.g. the injury flag): first response within this, whatever the kind.
    urgent_first_response_minutes: int


@dataclass(frozen=True)
class DispatchPolicy:
    # An order's customer channel (order field "channel") → the list it goes out on.
    channels: tuple[str, ...]
    # Where we deliver (order field "area"); an order elsewhere is out of area and gets
    # an apology callback instead of a dispatch.
    sales_areas: frozenset[str]


@dataclass(frozen=True)
class TicketRules:
    source: Path | None
    departments: Mapping[str, Department]
    escalation: tuple[EscalationRule, ...]
    sla: SlaPolicy
    dispatch: DispatchPolicy = field(
        default_factory=lambda: DispatchPolicy(("retail", "home_delivery"), frozenset())
    )


# --- the file's schema ------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _address(address: str) -> str:
    if "@" not in address or " " in address.strip():
        raise ValueError(f"not an e-mail address: {address!r}")
    return address


# Checked one by one, so an error names the address's own line (departments.x.email.1).
EmailAddress = Annotated[str, AfterValidator(_address)]


class _Department(_Model):
    title: str = ""
    email: list[EmailAddress] = Field(default_factory=list)
    inapp: list[str] = Field(default_factory=list)


class _When(_Model):
    kind: Kind
    category: str | None = None
    # A boolean detail of the ticket that must be true (e.g. "injury").
    flag: str | None = None


class _Rule(_Model):
    name: str = Field(pattern=r"^[a-z0-9_]+$")
    description: str = ""
    when: _When
    notify: list[str] = Field(min_length=1)
    severity: Severity | None = None


class _Targets(_Model):
    first_response_minutes: int | None = Field(None, ge=1)
    callback_days: int | None = Field(None, ge=1)
    resolution_working_days: int | None = Field(None, ge=1)


class _Sla(_Model):
    calendar: str = "default"
    urgent_first_response_minutes: int = Field(10, ge=1)
    kinds: dict[Kind, _Targets] = Field(default_factory=dict)


class _Dispatch(_Model):
    channels: list[str] = Field(default_factory=lambda: ["retail", "home_delivery"], min_length=1)
    sales_areas: list[str] = Field(default_factory=list)


class _File(_Model):
    departments: dict[str, _Department] = Field(default_factory=dict)
    escalation: list[_Rule] = Field(default_factory=list)
    sla: _Sla = _Sla()
    dispatch: _Dispatch = _Dispatch()


def parse_rules(text: str, source: Path | None = None) -> TicketRules:
    """Validate the rules file's text; TicketRulesError names the line and key."""
    where = str(source) if source is not None else "<tickets>"
    try:
        data, lines = load(text)
    except SourceError as exc:
        raise TicketRulesError(f"{where}:{exc.line}: {exc.message}") from None

    def fail(loc: tuple[object, ...], problem: str) -> TicketRulesError:
        key = ".".join(str(p) for p in loc) or "(top level)"
        return TicketRulesError(f"{where}:{line_of(lines, loc)}: {key}: {problem}")

    if data is not None and not isinstance(data, dict):
        raise fail((), "must be a mapping with departments, escalation, sla, dispatch")
    try:
        parsed = _File.model_validate(data or {})
    except ValidationError as exc:
        err = exc.errors()[0]
        problem = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        problem = problem.removeprefix("Value error, ")
        raise fail(tuple(err["loc"]), problem) from None

    names: set[str] = set()
    for i, rule in enumerate(parsed.escalation):
        if rule.name in names:
            raise fail(("escalation", i, "name"), f"rule {rule.name!r} is defined twice")
        names.add(rule.name)
        for j, dept in enumerate(rule.notify):
            if dept not in parsed.departments:
                known = ", ".join(sorted(parsed.departments)) or "none defined"
                raise fail(
                    ("escalation", i, "notify", j),
                    f"unknown department {dept!r} (departments: {known})",
                )
    departments = {
        name: Department(name, d.title or name, tuple(d.email), tuple(d.inapp))
        for name, d in parsed.departments.items()
    }
    rules = tuple(
        EscalationRule(
            name=r.name,
            kind=r.when.kind,
            category=r.when.category,
            flag=r.when.flag,
            notify=tuple(r.notify),
            severity=r.severity,
            description=r.description,
        )
        for r in parsed.escalation
    )
    sla = SlaPolicy(
        calendar=parsed.sla.calendar,
        by_kind=MappingProxyType(
            {
                kind: SlaTargets(
                    t.first_response_minutes, t.callback_days, t.resolution_working_days
                )
                for kind, t in parsed.sla.kinds.items()
            }
        ),
        urgent_first_response_minutes=parsed.sla.urgent_first_response_minutes,
    )
    dispatch = DispatchPolicy(
        channels=tuple(parsed.dispatch.channels),
        sales_areas=frozenset(a.strip() for a in parsed.dispatch.sales_areas),
    )
    return TicketRules(source, MappingProxyType(departments), rules, sla, dispatch)


def load_rules(path: Path) -> TicketRules:
    """Read and validate the rules file; any problem raises TicketRulesError."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TicketRulesError(f"{path}: cannot read ticket rules: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise TicketRulesError(f"{path}:1: not UTF-8 text") from None
    return parse_rules(text, path)


def default_rules() -> TicketRules:
    """No file: no escalations, no SLA targets, both order channels, no area check."""
    return parse_rules("", None)
