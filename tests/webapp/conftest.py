from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated(isolated_services: None) -> None:
    """Every webapp test runs with the unit-test settings of tests/conftest.py."""
