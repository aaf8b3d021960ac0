"""Menu integration fixtures: a controller node running a menu file against the simulator.

Prompts are real: the menu's texts are spoken by espeak-ng into the session's prompts
directory (cached across tests), and the simulator plays them for their real lengths.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select

from hotline.node import ControllerNode
from ivr.menus.live import make_registry
from ivr.prompts.library import PromptLibrary
from kernel.calendar import load_calendars
from simulator.server import AriSimulator
from tests.integration.conftest import make_settings
from ticketdb.engine import make_sessionmaker
from ticketdb.models import Call

REPO = Path(__file__).parents[3]
MONDAY_10 = datetime.fromisoformat("2026-11-23T10:00:00+08:00")  # open
SATURDAY_10 = datetime.fromisoformat("2026-11-28T10:00:00+08:00")  # closed


@dataclass
class MenuNode:
    node: ControllerNode
    menu_file: Path

    def records(self) -> list[Call]:
        with make_sessionmaker(self.node.engine)() as s:
            return list(s.scalars(select(Call).order_by(Call.id)))

    def record(self, channel_id: str) -> Call:
        (rec,) = [r for r in self.records() if r.channel_id == channel_id]
        return rec

    def has_complete_record(self, channel_id: str) -> bool:
        """For waiting on: the record may not be written yet (the writer is behind)."""
        found = [r for r in self.records() if r.channel_id == channel_id]
        return len(found) == 1 and found[0].is_complete


MenuFactory = Callable[..., Awaitable[MenuNode]]


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """Menu behaviour does not depend on the database: SQLite here, and the calls that
    write more than the call record run on PostgreSQL too (test_menu_postgres.py)."""
    return sqlite_url


@pytest_asyncio.fixture
async def menu_node(
    db_url: str, prompts_dir: Path, built_prompts: Any, sim: AriSimulator, tmp_path: Path
) -> AsyncIterator[MenuFactory]:
    nodes: list[ControllerNode] = []

    async def start(
        menu_text: str | None = None,
        menu_file: Path | None = None,
        at: datetime = MONDAY_10,
        reload_interval: float = 0.2,
    ) -> MenuNode:
        menus_dir = tmp_path / "menus"
        menus_dir.mkdir(exist_ok=True)
        live = menus_dir / "live.yaml"
        live.write_text(menu_text if menu_text is not None else (menu_file or Path()).read_text())
        settings = make_settings(db_url, prompts_dir, sim.base_url).model_copy(deep=True)
        settings = settings.model_validate(
            {
                **settings.model_dump(),
                "paths": {
                    **settings.paths.model_dump(),
                    "menus_dir": str(menus_dir),
                    "queues_file": str(REPO / "config" / "queues.yaml"),
                    "calendar_file": str(REPO / "config" / "calendar.yaml"),
                },
                "ivr": {
                    **settings.ivr.model_dump(),
                    "menu": "live",
                    "reload_interval": reload_interval,
                },
            }
        )
        registry = make_registry(settings, PromptLibrary.from_settings(settings))
        registry.load()
        node = ControllerNode(
            settings,
            built_prompts,
            menus=registry,
            calendars=load_calendars(settings.paths.calendar_file),
            caller_tiers=True,
            menu_clock=lambda: at,
        )
        await node.start()
        nodes.append(node)
        await node.wait_connected()
        return MenuNode(node, live)

    yield start
    for node in nodes:
        await node.stop()
