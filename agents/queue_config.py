"""Queue definitions (``config/queues.yaml``): names, required skills and ACD settings.

Menus validate their ``queue`` actions against the names and skills here; the queue
engine reads each queue's ``QueueConfig`` (strategy, timers, limits, overflow). Every
setting is optional: a queue takes the file's ``defaults:`` block, then the built-in
defaults of the issue (``QueueConfig``'s field defaults).

A problem is reported as ONE line, ``file:line: key: problem``, the line taken from the
YAML node marks like the other config loaders (``kernel.yamlfile``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, ValidationError

from kernel import yamlfile

Strategy = Literal["longest_idle", "round_robin", "fewest_calls", "skill_weighted"]
STRATEGIES: tuple[str, ...] = get_args(Strategy)

_Loc = tuple[object, ...]


class QueueConfigError(Exception):
    """One line naming the file, the line and what is wrong."""


@dataclass(frozen=True)
class QueueConfig:
    """One queue's settings; the defaults are the shipped ones (issue 4, domain.md §6)."""

    name: str
    skills: frozenset[str] = frozenset()  # an agent needs every one of them (level ≥ 1)
    description: str = ""
    strategy: Strategy = "longest_idle"
    ring_timeout: int = 15  # s an agent's phone rings before the next agent is tried
    max_wait: int = 600  # s in the queue before overflow (or the "no one free" path)
    max_length: int = 50  # callers waiting; the next one is refused (callback / self-service)
    wrap_up_seconds: int = 30  # after-call work before the agent is offered again
    music_on_hold: str = "default"  # Asterisk MOH class
    announce_interval: int = 30  # s between position/wait announcements; 0 = none
    service_level_seconds: int = 15  # "three rings": answered within this counts as on time
    overflow: str | None = None  # queue that takes callers past max_wait; None = none
    callback_after: int | None = None  # s of waiting before callback is offered; None = off
    misses_before_away: int = 3  # ring-no-answers in a row before the agent is set away
    external_first: bool = True  # external callers ahead of internal ones (domain.md §6)
    record: bool = False  # record the conversation once an agent is bridged (ARI bridge record)


@dataclass(frozen=True)
class QueueCatalog:
    queues: dict[str, frozenset[str]]  # queue → skills it needs
    skills: frozenset[str]
    configs: Mapping[str, QueueConfig] = field(default_factory=lambda: MappingProxyType({}))

    def has_queue(self, name: str) -> bool:
        return name in self.queues

    def config(self, name: str) -> QueueConfig:
        """The queue's full settings; ``KeyError`` for an unknown queue."""
        if name in self.configs:
            return self.configs[name]
        if name in self.queues:  # a catalog built by hand: defaults apply
            return QueueConfig(name, self.queues[name])
        raise KeyError(f"no queue named {name!r}")


# --- the file -----------------------------------------------------------------------

Seconds = Annotated[StrictInt, Field(ge=1)]


class _Settings(BaseModel):
    """Settings a queue may give and the ``defaults:`` block may set for every queue."""

    model_config = ConfigDict(extra="forbid")
    strategy: Strategy | None = None
    ring_timeout: Seconds | None = None
    max_wait: Seconds | None = None
    max_length: Seconds | None = None
    wrap_up_seconds: Annotated[StrictInt, Field(ge=0)] | None = None
    music_on_hold: Annotated[str, Field(min_length=1)] | None = None
    announce_interval: Annotated[StrictInt, Field(ge=0)] | None = None
    service_level_seconds: Seconds | None = None
    callback_after: Seconds | None = None
    misses_before_away: Seconds | None = None
    external_first: StrictBool | None = None
    record: StrictBool | None = None


class _Queue(_Settings):
    skills: list[str] = Field(default_factory=list)
    description: str = ""
    overflow: str | None = None


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")
    skills: list[str] = Field(default_factory=list)
    defaults: _Settings = Field(default_factory=_Settings)
    queues: dict[str, _Queue]


# Settings where null means "off"; for the others a null would silently mean "default".
_NULLABLE = frozenset({"callback_after", "overflow"})


def _nulls(at: _Loc, settings: _Settings) -> list[tuple[_Loc, str]]:
    return [
        ((*at, key), "needs a value (only callback_after and overflow may be null)")
        for key in sorted(settings.model_fields_set - _NULLABLE)
        if getattr(settings, key) is None
    ]


def _cross_checks(parsed: _File) -> list[tuple[_Loc, str]]:
    found = _nulls(("defaults",), parsed.defaults)
    skills = set(parsed.skills)
    for name, queue in parsed.queues.items():
        found.extend(_nulls(("queues", name), queue))
        unknown = sorted(set(queue.skills) - skills)
        if unknown:
            found.append((("queues", name, "skills"), f"unknown skill(s) {', '.join(unknown)}"))
        if queue.overflow is None:
            continue
        if queue.overflow == name:
            found.append((("queues", name, "overflow"), "a queue cannot overflow to itself"))
        elif queue.overflow not in parsed.queues:
            found.append((("queues", name, "overflow"), f"unknown queue {queue.overflow!r}"))
    if not found:
        found.extend(_overflow_cycles(parsed))
    return found


def _overflow_cycles(parsed: _File) -> list[tuple[_Loc, str]]:
    """Each cycle once, at the overflow line of its first queue in file order."""
    names = list(parsed.queues)
    seen: set[str] = set()
    found: list[tuple[_Loc, str]] = []
    for start in names:
        path: list[str] = []
        at: str | None = start
        while at is not None and at not in seen and at not in path:
            path.append(at)
            at = parsed.queues[at].overflow
        if at is not None and at in path:
            cycle = path[path.index(at) :]
            first = min(cycle, key=names.index)
            i = cycle.index(first)
            shown = [*cycle[i:], *cycle[:i], first]
            found.append((("queues", first, "overflow"), f"overflow cycle {' → '.join(shown)}"))
        seen.update(path)
    return found


def _build(parsed: _File) -> QueueCatalog:
    # Set keys only: an explicit `callback_after: null` on a queue turns off a default.
    base = parsed.defaults.model_dump(exclude_unset=True)
    configs = {}
    for name, q in parsed.queues.items():
        own = q.model_dump(exclude_unset=True, exclude={"skills", "description", "overflow"})
        configs[name] = QueueConfig(
            name=name,
            skills=frozenset(q.skills),
            description=q.description,
            overflow=q.overflow,
            **{**base, **own},
        )
    return QueueCatalog(
        {n: c.skills for n, c in configs.items()},
        frozenset(parsed.skills),
        MappingProxyType(configs),
    )


def load_queues(path: Path) -> QueueCatalog:
    """Read and check the queues file; the first problem (by line) raises ``QueueConfigError``."""

    try:
        data, lines = yamlfile.read(path, "queues file")
    except yamlfile.SourceError as exc:
        raise QueueConfigError(exc.at(path)) from None

    def first(found: list[tuple[_Loc, str]]) -> QueueConfigError:
        loc, problem = min(found, key=lambda f: yamlfile.line_of(lines, f[0]))
        key = ".".join(str(p) for p in loc) or "(top level)"
        return QueueConfigError(f"{path}:{yamlfile.line_of(lines, loc)}: {key}: {problem}")

    if not isinstance(data, dict):
        raise first([((), "must be a mapping (skills:, defaults:, queues:)")])
    try:
        parsed = _File.model_validate(data)
    except ValidationError as exc:
        raise first([yamlfile.pydantic_problem(e) for e in exc.errors()]) from None
    found = _cross_checks(parsed)
    if found:
        raise first(found)
    return _build(parsed)
