"""Queue definitions (``config/queues.yaml``): names and the skills they need.

Only what menus need to be validated against for now; the queue engine adds ring
timeouts, strategies and the rest to the same file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError


class QueueConfigError(Exception):
    """One line naming the file and what is wrong."""


class _Queue(BaseModel):
    model_config = ConfigDict(extra="forbid")
    skills: list[str] = Field(default_factory=list)
    description: str = ""


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")
    skills: list[str] = Field(default_factory=list)
    queues: dict[str, _Queue]


@dataclass(frozen=True)
class QueueCatalog:
    queues: dict[str, frozenset[str]]  # queue → skills it needs
    skills: frozenset[str]

    def has_queue(self, name: str) -> bool:
        return name in self.queues


def load_queues(path: Path) -> QueueCatalog:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise QueueConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise QueueConfigError(f"{path}: not valid YAML: {exc}") from None
    try:
        parsed = _File.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise QueueConfigError(f"{path}: {where}: {err['msg']}") from None
    skills = frozenset(parsed.skills)
    for name, queue in parsed.queues.items():
        unknown = set(queue.skills) - skills
        if unknown:
            raise QueueConfigError(
                f"{path}: queues.{name}.skills: unknown skill(s) {', '.join(sorted(unknown))}"
            )
    return QueueCatalog({n: frozenset(q.skills) for n, q in parsed.queues.items()}, skills)
