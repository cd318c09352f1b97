"""End-to-end experiment runs: real Docker, real Kafka, one cluster per experiment."""

from __future__ import annotations

import logging

import pytest

logging.getLogger("kafka").setLevel(logging.CRITICAL)


@pytest.fixture(scope="session", autouse=True)
def images_checked(images_present: None) -> None:
    """Every test here fails, before any cluster starts, when Docker or the images are missing."""
