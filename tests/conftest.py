"""Test tiers (see README): tests/unit needs nothing; tests/integration needs a Docker engine and
the images, and fails loudly without them. Deselect a tier with ``-m "not integration"``."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "/integration/" in str(item.path) or "/experiments/" in str(item.path):
            item.add_marker(pytest.mark.integration)
