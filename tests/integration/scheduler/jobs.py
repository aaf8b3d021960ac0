"""A test-only job registry for scheduler processes:
``python -m hotline.scheduler --jobs tests.integration.scheduler.jobs:registry``.

The one job appends a line per run to ``<paths.data_dir>/ticks.log`` — a side effect
outside the database, so a second run of one occurrence would show as a second line.
"""

from __future__ import annotations

from hotline.scheduler import JobContext, JobSpec, every
from kernel.settings import Settings

TICKS_FILE = "ticks.log"


def tick(ctx: JobContext) -> str:
    line = f"{ctx.scheduled_at.isoformat()} {ctx.settings.node.name}\n"
    # One small O_APPEND write: lines from two processes never interleave.
    with (ctx.settings.paths.data_dir / TICKS_FILE).open("a", encoding="utf-8") as f:
        f.write(line)
    return line.strip()


def registry(settings: Settings) -> list[JobSpec]:
    return [JobSpec("tick", every(1), tick, "test: one line per run")]
