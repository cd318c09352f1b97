"""Each broker's direct listener without Docker: the port it publishes is fixed before it is created
(so a restart binds the address it advertises again), found again by ``attach``, and the bootstrap
address of each client path. A real cluster's direct path is tests/integration/test_client_path.py."""

from __future__ import annotations

import io
import random
import tarfile
from pathlib import Path
from typing import Any, cast

import docker.errors
import pytest

import docker
from chaos.cluster import ClusterSpec, KafkaCluster
from chaos.cluster.config import DIRECT_PORT
from chaos.cluster.containers import create_node
from chaos.cluster.node import Node
from chaos.cluster.ports import ATTEMPTS, draw_ports, ephemeral_floor, port_span, published_port, reserve_ports
from chaos.cluster.registry import spec_to_json
from chaos.errors import InfrastructureError, UsageError
from chaos.labels import NODE_LABEL, ROLE_LABEL, SPEC_LABEL


class FakeContainer:
    def __init__(self, attrs: dict[str, Any] | None = None, labels: dict[str, str] | None = None) -> None:
        self.attrs = attrs or {}
        self.labels = labels or {}
        self.status = "running"
        self.removed = False
        self.archives: list[bytes] = []

    def reload(self) -> None:
        pass

    def remove(self, force: bool = False) -> None:
        self.removed = force

    def start(self) -> None:
        pass

    def put_archive(self, path: str, data: bytes) -> None:
        self.archives.append(data)


class FakeContainers:
    """``containers.run`` publishes what ``publish`` says for the ports asked; ``create`` records."""

    def __init__(self, publish: Any = None, listed: list[FakeContainer] | None = None) -> None:
        self.publish = publish
        self.listed = listed or []
        self.runs: list[dict[str, Any]] = []
        self.created: list[dict[str, Any]] = []
        self.last = FakeContainer()

    def run(self, image: str, command: list[str], **kwargs: Any) -> FakeContainer:
        self.runs.append({"image": image, "command": command, **kwargs})
        self.last = FakeContainer({"NetworkSettings": {"Ports": self.publish(kwargs["ports"])}})
        return self.last

    def create(self, image: str, command: list[str], **kwargs: Any) -> FakeContainer:
        if "ports" in kwargs and self.publish is not None:  # the reservation: published at its start
            self.runs.append({"image": image, "command": command, **kwargs})
            self.last = FakeContainer({"NetworkSettings": {"Ports": self.publish(kwargs["ports"])}})
            return self.last
        self.created.append(kwargs)
        return FakeContainer()

    def list(self, **kwargs: Any) -> list[FakeContainer]:
        return self.listed


class FakeClient:
    def __init__(self, containers: FakeContainers, networks: list[Any] | None = None) -> None:
        self.containers = containers
        self.networks = type("Networks", (), {"list": lambda _self, **kw: networks or []})()
        self.api = type("Api", (), {"create_endpoint_config": lambda _self, **kw: kw})()


def engine_publishes(taken: set[int] | None = None) -> Any:
    """An engine that publishes the host ports asked, refusing (as Docker does) any in ``taken``."""

    def publish(asked: dict[str, tuple[str, int]]) -> dict[str, list[dict[str, str]]]:
        return {port: [{"HostIp": bind, "HostPort": str(host)}] for port, (bind, host) in asked.items()}

    return publish


class Refusing(FakeContainer):
    def start(self) -> None:
        raise docker.errors.APIError("Bind for 127.0.0.1:20001 failed: port is already allocated")


def reserve(containers: FakeContainers, count: int = 3, seed: int = 7) -> list[int]:
    client = cast("docker.DockerClient", FakeClient(containers))
    return reserve_ports(
        client,
        "toxiproxy:x",
        count,
        bind="127.0.0.1",
        name="r-ports",
        network="r-net",
        labels={},
        rng=random.Random(seed),
    )


def test_the_direct_ports_are_drawn_below_the_ephemeral_range_and_the_reservation_is_removed() -> None:
    containers = FakeContainers(engine_publishes())
    ports = reserve(containers)
    (run,) = containers.runs
    # exactly the drawn ports on the bind address, below the range outgoing connections take theirs from
    assert sorted(run["ports"].values()) == sorted(("127.0.0.1", p) for p in ports) and len(set(ports)) == 3
    assert all(ephemeral_floor() - 12768 <= p < ephemeral_floor() for p in ports)
    assert run["command"] == ["-host=127.0.0.1"]
    assert containers.last.removed
    # never a seeded draw by default: two harnesses seeded alike must not pick the same ports
    client = cast("docker.DockerClient", FakeClient(FakeContainers(engine_publishes())))
    drawn = {tuple(reserve_ports(client, "t", 3, bind="127.0.0.1", name="n", network="x", labels={})) for _ in range(5)}
    assert len(drawn) > 1


def test_ports_the_engine_reports_taken_are_drawn_again_and_each_refused_container_removed() -> None:
    containers = FakeContainers(engine_publishes())
    refused: list[FakeContainer] = []
    create = containers.create

    def refuse_twice(image: str, command: list[str], **kwargs: Any) -> FakeContainer:
        if len(refused) < 2:
            refused.append(Refusing())
            return refused[-1]
        return create(image, command, **kwargs)

    containers.create = refuse_twice  # type: ignore[method-assign]
    ports = reserve(containers)
    assert len(ports) == 3 and all(r.removed for r in refused) and containers.last.removed


def test_an_engine_that_refuses_every_draw_gives_one_sentence_and_any_other_refusal_is_raised() -> None:
    containers = FakeContainers(engine_publishes())
    made: list[FakeContainer] = []

    def always_taken(image: str, command: list[str], **kwargs: Any) -> FakeContainer:
        made.append(Refusing())
        return made[-1]

    containers.create = always_taken  # type: ignore[method-assign]
    with pytest.raises(InfrastructureError, match=r"r-ports taken 8 times: free some ports in \d+-\d+ on"):
        reserve(containers)
    assert len(made) == ATTEMPTS and all(c.removed for c in made)

    class Broken(FakeContainer):
        def start(self) -> None:
            raise docker.errors.APIError("no such image")

    containers.create = lambda *a, **k: Broken()  # type: ignore[method-assign]
    with pytest.raises(docker.errors.APIError, match="no such image"):
        reserve(containers)


def test_the_ephemeral_floor_is_read_from_the_kernel_and_defaults_to_linuxs(tmp_path: Path) -> None:
    (tmp_path / "range").write_text("40000\t60999\n")
    assert ephemeral_floor(tmp_path / "range") == 40000
    assert ephemeral_floor(tmp_path / "missing") == 32768
    assert all(27232 <= p < 40000 for p in draw_ports(100, random.Random(3), port_span(40000, {})))


def test_kafka_chaos_ports_gives_the_draws_a_range_of_their_own_and_a_malformed_one_is_one_sentence() -> None:
    span = port_span(32768, {"KAFKA_CHAOS_PORTS": "26384-32767"})
    assert span == range(26384, 32768)
    assert all(26384 <= p <= 32767 for p in draw_ports(200, random.Random(4), span))
    for bad in ("26384", "9-80", "30000-20000", "a-b", "20000-70000"):
        with pytest.raises(UsageError, match=f"KAFKA_CHAOS_PORTS={bad} is not a range of ports"):
            port_span(32768, {"KAFKA_CHAOS_PORTS": bad})


def test_a_port_the_engine_did_not_publish_fails_the_start_and_still_removes_the_reservation() -> None:
    containers = FakeContainers(lambda asked: {})
    with pytest.raises(InfrastructureError, match="did not publish a port of r-ports"):
        reserve(containers)
    assert containers.last.removed


def test_a_published_port_is_read_from_the_containers_configuration_also_while_it_is_stopped() -> None:
    pinned = FakeContainer(
        {"HostConfig": {"PortBindings": {"9094/tcp": [{"HostIp": "127.0.0.1", "HostPort": "40001"}]}}}
    )
    picked_each_start = FakeContainer({"HostConfig": {"PortBindings": {"9094/tcp": [{"HostPort": ""}]}}})
    older = FakeContainer({"HostConfig": {"PortBindings": None}})
    assert published_port(cast("Any", pinned), DIRECT_PORT) == 40001
    assert published_port(cast("Any", picked_each_start), DIRECT_PORT) is None
    assert published_port(cast("Any", older), DIRECT_PORT) is None


def cluster_with_ports(tmp_path: Path, containers: FakeContainers | None = None, direct: bool = True) -> KafkaCluster:
    client = cast("docker.DockerClient", FakeClient(containers or FakeContainers()))
    cluster = KafkaCluster(ClusterSpec(brokers=3), run_id="r-direct", run_dir=tmp_path, client=client)
    cluster._proxy_ports = {1: 30001, 2: 30002, 3: 30003}
    cluster._direct_ports = {1: 40001, 2: 40002, 3: 40003} if direct else {}
    return cluster


def test_each_client_path_has_its_own_bootstrap_address(tmp_path: Path) -> None:
    cluster = cluster_with_ports(tmp_path)
    assert cluster.bootstrap("proxy") == cluster.bootstrap_servers == "127.0.0.1:30001,127.0.0.1:30002,127.0.0.1:30003"
    assert cluster.bootstrap("direct") == "127.0.0.1:40001,127.0.0.1:40002,127.0.0.1:40003"
    with pytest.raises(UsageError, match="client path 'sideways' is not one of proxy, direct"):
        cluster.bootstrap("sideways")  # type: ignore[arg-type]


def test_the_direct_path_on_a_cluster_without_direct_listeners_says_what_to_do(tmp_path: Path) -> None:
    cluster = cluster_with_ports(tmp_path, direct=False)
    assert cluster.bootstrap("proxy")  # the proxied path is there as ever
    with pytest.raises(InfrastructureError, match=r"no direct listeners .*`kafka-chaos cluster up`"):
        cluster.bootstrap("direct")


def _properties(archive: bytes) -> str:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        member = tar.extractfile("kafka-chaos/server.properties")
        assert member is not None
        return member.read().decode()


def create(containers: FakeContainers, spec: ClusterSpec, node_id: int, proxy: int | None, direct: int | None) -> Node:
    client = cast("docker.DockerClient", FakeClient(containers))
    (node,) = (n for n in spec.nodes() if n.node_id == node_id)
    return create_node(
        client,
        "kafka:x",
        "r-net",
        spec=spec,
        node=node,
        run_id="r-direct",
        cluster_id="cluster-id",
        host="127.0.0.1",
        proxy_port=proxy,
        direct_port=direct,
    )


def test_a_broker_publishes_its_fixed_port_and_advertises_it() -> None:
    containers = FakeContainers()
    broker = create(containers, ClusterSpec(brokers=3), 2, 30002, 40002)
    (created,) = containers.created
    # the port fixed for broker 2, not one the engine picks at each start
    assert created["ports"] == {f"{DIRECT_PORT}/tcp": ("127.0.0.1", 40002)}
    properties = _properties(cast("FakeContainer", broker.container).archives[0])
    assert "CLIENT://127.0.0.1:30002,DIRECT://127.0.0.1:40002," in properties


def test_a_dedicated_controller_publishes_nothing() -> None:
    containers = FakeContainers()
    spec = ClusterSpec(brokers=1, controllers=1)
    (controller,) = (n for n in spec.nodes() if not n.broker)
    create(containers, spec, controller.node_id, None, None)
    assert "ports" not in containers.created[0]


def test_attach_finds_each_brokers_direct_port_again(tmp_path: Path) -> None:
    spec = ClusterSpec(brokers=2)

    def broker(i: int) -> FakeContainer:
        bindings = {"9094/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(40000 + i)}]}
        container = FakeContainer(
            {"HostConfig": {"PortBindings": bindings}}, {ROLE_LABEL: "broker", NODE_LABEL: str(i)}
        )
        container.status = "exited"  # a killed broker still says where it will listen again
        return container

    network = type("Network", (), {"attrs": {"Labels": {SPEC_LABEL: spec_to_json(spec)}}})()
    client = FakeClient(FakeContainers(listed=[broker(2), broker(1)]), networks=[network])
    cluster = KafkaCluster.attach("r-attach", client=cast("docker.DockerClient", client), run_dir=tmp_path)
    assert cluster.direct_bootstrap_servers == "127.0.0.1:40001,127.0.0.1:40002"
