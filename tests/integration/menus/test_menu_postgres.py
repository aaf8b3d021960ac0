"""The menu calls that write beyond the call record (customers, callback requests), on
PostgreSQL too: the rest of the menu tests run on SQLite only (see conftest.py)."""

from __future__ import annotations

import pytest

from tests.integration.menus.test_menu_calls import (
    test_closed_hours_callback_request_is_logged as test_callback_request_on_postgresql,
)
from tests.integration.menus.test_menu_calls import (
    test_vip_caller_goes_straight_to_the_dedicated_line as test_vip_on_postgresql,
)

__all__ = ["test_callback_request_on_postgresql", "test_vip_on_postgresql"]


@pytest.fixture
def db_url(pg_url: str) -> str:
    return pg_url
