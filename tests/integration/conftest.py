"""Real Docker, real Kafka. Missing Docker or images is a loud failure, never a skip."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaos.cluster import KafkaCluster
from chaos.faults import FaultContext, Timeline
from chaos.workloads.external import ExternalClient
from tests.helpers.client_cases import EXAMPLE_CLIENTS, example_client

logging.getLogger("kafka").setLevel(logging.CRITICAL)


@pytest.fixture(scope="session")
def example_clients() -> dict[str, ExternalClient]:
    """The example external clients (examples/clients/), each built once (a no-op when its cache has it)."""
    clients = {name: example_client(name) for name in EXAMPLE_CLIENTS}
    for client in clients.values():
        client.build_now(print)
    return clients


@pytest.fixture(scope="session", autouse=True)
def images_checked(images_present: None) -> None:
    """Every test here fails, before any cluster starts, when Docker or the images are missing."""


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
