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
from chaos.cluster import KafkaCluster
from chaos.engine import docker_client
from chaos.faults import FaultContext, Timeline
from chaos.images.builder import missing_images
from chaos.images.recipes import image_refs
from chaos.labels import RUN_LABEL

logging.getLogger("kafka").setLevel(logging.CRITICAL)

#: The shape of the modules that watch replicas, groups and the log cleaner react: a follower that
#: stops fetching leaves the ISR after 6 s instead of 30 s, a group may evict a killed member after
#: 2 s rather than the 6 s minimum, and an idle log cleaner looks for work every second instead of
#: every 15. Modules of one shape share one cluster (the plugin's pool resets it between them), so a
#: module picks an existing shape unless it needs its own.
QUICK = pytest.mark.kafka_cluster(
    brokers=3,
    broker_config={
        "replica.lag.time.max.ms": "6000",
        "group.min.session.timeout.ms": "2000",
        "log.cleaner.backoff.ms": "1000",
    },
)
#: The same with a dedicated KRaft controller, so killing or stopping any broker keeps the quorum.
QUICK_WITH_CONTROLLER = pytest.mark.kafka_cluster(
    brokers=3, controllers=1, broker_config={"replica.lag.time.max.ms": "6000"}
)


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


@pytest.fixture
def ctx(kafka_cluster: KafkaCluster, tmp_path: Path) -> FaultContext:
    """A fault context with a timeline of the test's own (the cluster is shared by the module)."""
    return FaultContext(kafka_cluster, timeline=Timeline(tmp_path))


@pytest.fixture
def brokers_back(kafka_cluster: KafkaCluster) -> Iterator[None]:
    """For modules sharing one cluster through faults that stop brokers: after each test every
    broker runs again and the cluster is healthy. Used with ``pytest.mark.usefixtures``."""
    yield
    for node in kafka_cluster.brokers:
        if not node.is_running:
            node.start()
    kafka_cluster.wait_healthy(180)
