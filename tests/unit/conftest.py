"""The unit tier never reaches a Docker engine: ``DOCKER_HOST`` points nowhere for every test, so
a regression in input checking fails with exit 3 (Docker unreachable) instead of starting
containers."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def no_docker_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/kafka-chaos-unit-tier.sock")
