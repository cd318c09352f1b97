"""The cluster package's seams without Docker or Kafka: the admin client bootstraps from running
brokers only and knows every broker, metadata asks only through what it is handed, ``cluster status``
is built from values, and the kafka-python internals the admin module reaches are still there."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest
from docker.models.containers import Container
from kafka import KafkaAdminClient

import docker
from chaos.cluster import ClusterSpec, KafkaCluster, Node
from chaos.cluster import handle as handle_module
from chaos.cluster.admin import Admin
from chaos.cluster.metadata import Metadata
from chaos.cluster.status import ClusterStatus, describe
from chaos.errors import UsageError


class FakeContainer:
    def __init__(self, name: str, status: str) -> None:
        self.name = name
        self.status = status

    def reload(self) -> None:
        pass


def nodes(spec: ClusterSpec, states: dict[int, str]) -> dict[int, Node]:
    return {
        n.node_id: Node(n, cast("Container", FakeContainer(f"r-{n.host}", states.get(n.node_id, "running"))))
        for n in spec.nodes()
    }


def test_the_admin_client_bootstraps_from_running_brokers_and_knows_every_broker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[tuple[str, dict[int, tuple[str, int]]]] = []
    monkeypatch.setattr(handle_module, "connect", lambda servers, brokers: asked.append((servers, dict(brokers))))
    spec = ClusterSpec(brokers=3)
    cluster = KafkaCluster(spec, run_id="r", run_dir=tmp_path, client=cast("docker.DockerClient", object()))
    cluster._proxy_ports = {1: 30001, 2: 30002, 3: 30003}
    cluster._nodes = nodes(spec, {2: "paused"})
    cluster.metadata.admin()
    # a frozen broker's proxy accepts and never answers: not a bootstrap server, still a known broker
    assert asked == [("127.0.0.1:30001,127.0.0.1:30003", {i: ("127.0.0.1", 30000 + i) for i in (1, 2, 3)})]
    cluster.metadata.admin()
    assert len(asked) == 1  # one client per thread, reused
    cluster.metadata.drop_admin()
    cluster._nodes = nodes(spec, dict.fromkeys((1, 2, 3), "paused"))
    cluster.metadata.admin()
    assert asked[-1][0] == cluster.bootstrap_servers  # none running: every broker rather than none


def test_a_coordinator_of_neither_kind_is_refused_before_anything_is_asked() -> None:
    connected: list[int] = []

    def connect() -> Admin:
        connected.append(1)
        raise AssertionError("nothing should be asked")

    metadata = Metadata(connect, list, ClusterSpec(brokers=1))
    with pytest.raises(UsageError, match="a coordinator is of a group or a transaction, not 'broker'"):
        metadata.coordinator("broker", "g")
    assert connected == []


def status_of(spec: ClusterSpec, states: dict[int, str], registered: set[int] | None, ask: bool) -> ClusterStatus:
    return describe(
        run_id="r",
        kafka_version=spec.kafka_version,
        nodes=list(nodes(spec, states).values()),
        host="127.0.0.1",
        bootstrap_servers="127.0.0.1:30001,127.0.0.1:30002",
        direct_bootstrap_servers="127.0.0.1:40001",
        proxy_ports={1: 30001, 2: 30002},
        direct_ports={1: 40001},
        toxiproxy_api=None,
        registered=registered,
        ask=ask,
    )


def test_status_is_built_from_values() -> None:
    spec = ClusterSpec(brokers=2, controllers=1)
    status = status_of(spec, {2: "exited"}, registered={1}, ask=True)
    assert [(b["host"], b["state"], b["registered"]) for b in status["brokers"]] == [
        ("broker-1", "running", True),
        ("broker-2", "exited", False),
    ]
    assert [b["address"] for b in status["brokers"]] == ["127.0.0.1:30001", "127.0.0.1:30002"]
    assert [b["direct_address"] for b in status["brokers"]] == ["127.0.0.1:40001", None]
    assert [c["host"] for c in status["controllers"]] == ["controller-1"] and "address" not in status["controllers"][0]
    assert "healthy" not in status
    # not asked (several clusters listed): Docker's view only, nobody's registration claimed
    assert {b["registered"] for b in status_of(spec, {}, registered=None, ask=False)["brokers"]} == {None}
    # asked, no answer: no broker is registered
    assert {b["registered"] for b in status_of(spec, {}, registered=None, ask=True)["brokers"]} == {False}


def test_the_kafka_python_internals_the_admin_module_reaches_are_there() -> None:
    # chaos.cluster.admin reaches them by name; a kafka-python release without them fails here first
    assert callable(getattr(KafkaAdminClient, "_find_coordinator_id", None))
    from kafka.cluster import ClusterMetadata

    assert "_bootstrap_brokers" in vars(ClusterMetadata(bootstrap_servers="127.0.0.1:1"))
