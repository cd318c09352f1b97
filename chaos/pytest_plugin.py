"""pytest plugin (entry point ``pytest11``): markers, options and a cluster fixture.

Cheap to import: nothing of Docker or Kafka loads until a fixture is used.

Fixtures:
    kafka_cluster: a healthy 3-broker cluster for the test module, removed afterwards. Brokers,
        Kafka version and broker settings come from ``@pytest.mark.kafka_cluster(brokers=…,
        broker_config={…})`` on the module or from the command-line options.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from chaos.cluster import KafkaCluster


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kafka-chaos", "kafka-chaos: Kafka clusters in Docker")
    group.addoption("--kafka-version", default=None, help="Kafka release for the kafka_cluster fixture.")
    group.addoption(
        "--kafka-chaos-reports",
        default="reports",
        help="Directory for run directories (broker logs, verdicts). Default: reports.",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "integration: needs a Docker engine and the kafka-chaos images.")
    config.addinivalue_line("markers", "kafka_cluster(**spec): ClusterSpec fields for the kafka_cluster fixture.")


@pytest.fixture(scope="module")
def kafka_cluster(request: pytest.FixtureRequest) -> Iterator[KafkaCluster]:
    """A healthy cluster for the module; broker logs land in ``<reports>/<run-id>/logs``."""
    from pathlib import Path

    from chaos.cluster import ClusterSpec, KafkaCluster
    from chaos.images.recipes import DEFAULT_KAFKA_VERSION
    from chaos.labels import new_run_id

    marker = request.node.get_closest_marker("kafka_cluster")
    fields: dict[str, Any] = dict(marker.kwargs) if marker else {}
    fields.setdefault("kafka_version", request.config.getoption("--kafka-version") or DEFAULT_KAFKA_VERSION)
    run_id = new_run_id()
    run_dir = Path(request.config.getoption("--kafka-chaos-reports")) / run_id
    with KafkaCluster(ClusterSpec(**fields), run_id=run_id, run_dir=run_dir) as cluster:
        yield cluster
