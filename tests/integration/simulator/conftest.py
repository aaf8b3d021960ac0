"""Fixtures for the simulator tests: a recording ``Wire`` to the ``sim`` fixture."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from simulator.server import AriSimulator
from tests.integration.simulator.swagger import API_DOCS, ApiDocs, api_docs
from tests.integration.simulator.wire import Wire


@pytest_asyncio.fixture
async def wire(sim: AriSimulator) -> AsyncIterator[Wire]:
    w = Wire(sim)
    yield w
    await w.close()


@pytest.fixture(scope="session")
def docs() -> ApiDocs:
    if not API_DOCS.is_dir():
        pytest.skip(f"ARI api-docs not found at {API_DOCS} (set HOTLINE_ARI_API_DOCS)")
    return api_docs()
