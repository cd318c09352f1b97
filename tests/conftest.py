"""Test tiers (see README): tests/unit needs nothing; tests/integration needs a Docker engine and
the images, and fails loudly without them. Deselect a tier with ``-m "not integration"``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

TESTS = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _needs_docker(item):
            item.add_marker(pytest.mark.integration)
    items[:] = by_cluster_shape(items)


def _needs_docker(item: pytest.Item) -> bool:
    """A test under tests/integration or tests/experiments (not a doctest of chaos/experiments)."""
    path = Path(item.path)
    return path.is_relative_to(TESTS / "integration") or path.is_relative_to(TESTS / "experiments")


def _shape(item: pytest.Item) -> str:
    marker = item.get_closest_marker("kafka_cluster")
    return json.dumps(marker.kwargs if marker else {}, sort_keys=True)


def by_cluster_shape(items: list[pytest.Item]) -> list[pytest.Item]:
    """The integration modules grouped by the cluster shape they ask for, so that run serially
    (``-n 0``) the plugin's pool starts each shape once; each module's tests stay together and in
    order, and the tiers stay in order. Under xdist each worker has its own pool, and xdist hands
    the modules out most tests first; a worker's pool still reuses its cluster when consecutive
    modules share a shape."""
    modules: dict[str, list[pytest.Item]] = {}
    for item in items:
        modules.setdefault(str(item.path), []).append(item)

    def group(path: str) -> str:
        return _shape(modules[path][0]) if Path(path).is_relative_to(TESTS / "integration") else path

    shapes: dict[str, int] = {}
    for path in modules:
        shapes.setdefault(group(path), len(shapes))
    return [item for path in sorted(modules, key=lambda p: shapes[group(p)]) for item in modules[path]]
