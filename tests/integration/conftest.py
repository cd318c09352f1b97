"""Real Docker, real Kafka. Missing Docker or images is a loud failure, never a skip."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import docker
from chaos.engine import docker_client
from chaos.images.builder import missing_images
from chaos.images.recipes import image_refs
from chaos.labels import RUN_LABEL

logging.getLogger("kafka").setLevel(logging.CRITICAL)


@pytest.fixture(scope="session")
def engine() -> docker.DockerClient:
    """The Docker engine; the test fails (not skips) when none answers."""
    return docker_client()


@pytest.fixture(scope="session", autouse=True)
def images_present(engine: docker.DockerClient) -> None:
    missing = missing_images(engine, image_refs())
    if missing:
        pytest.fail(f"images {missing} are not built: run `kafka-chaos images build` (or scripts/setup)")


def labelled(engine: docker.DockerClient, run_id: str | None = None) -> list[str]:
    """Names of containers and networks carrying the run label (of one run, or any)."""
    label = RUN_LABEL if run_id is None else f"{RUN_LABEL}={run_id}"
    names = [c.name or "" for c in engine.containers.list(all=True, filters={"label": [label]})]
    names += [n.name or "" for n in engine.networks.list(filters={"label": [label]})]
    return names


def cli(*args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``kafka-chaos`` as a user would."""
    proc = subprocess.run(
        [sys.executable, "-m", "chaos.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ},
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"kafka-chaos {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}")
    return proc


@pytest.fixture
def run_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "run"
