"""A cluster spread over engines, without Docker: which engine each node runs on, what is refused,
the spec's round trip through its label, and the addresses fixed on each engine's subnet."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from docker.errors import ImageNotFound

from chaos.cluster.config import ClusterSpec
from chaos.cluster.registry import spec_from_json, spec_to_json
from chaos.cluster.spread import spread_networks
from chaos.errors import ImageMissing, UsageError

A, B = "unix:///var/run/docker.sock", "unix:///run/kafka-chaos/docker2.sock"


@dataclass
class FakeNetwork:
    attrs: dict[str, Any]
    removed: bool = False

    def remove(self) -> None:
        self.removed = True


@dataclass
class FakeNetworks:
    subnet: str
    made: list[dict[str, Any]] = field(default_factory=list)

    def create(self, name: str, **kwargs: Any) -> FakeNetwork:
        self.made.append({"name": name, **kwargs})
        return FakeNetwork({"IPAM": {"Config": [{"Subnet": self.subnet}]}})


@dataclass
class FakeImages:
    present: bool = True

    def get(self, ref: str) -> object:
        if not self.present:
            raise ImageNotFound(ref)
        return object()


@dataclass
class FakeClient:
    networks: FakeNetworks
    images: FakeImages = field(default_factory=FakeImages)


def test_nodes_go_to_the_engines_in_turn_and_the_spec_keeps_them() -> None:
    spec = ClusterSpec(brokers=3, controllers=1, engines=(A, B))
    assert [spec.engine_of(n.node_id) for n in spec.nodes()] == [A, B, A, B]
    assert spec_from_json(spec_to_json(spec)) == spec and ClusterSpec().engine_of(1) is None


@pytest.mark.parametrize(
    ("engines", "said"),
    [
        ((A,), "spreads over 2 to 3 engines (one per node), not 1"),
        ((A, "tcp://build-7:2375"), "engine tcp://build-7:2375 is not on this machine"),
        ((A, A), "names unix:///var/run/docker.sock twice"),
        ((A, "docker2"), "docker2 is not an engine's address"),
    ],
)
def test_a_spread_that_cannot_be_is_refused_in_one_sentence(engines: tuple[str, ...], said: str) -> None:
    with pytest.raises(UsageError, match=said.replace("(", r"\(").replace(")", r"\)")):
        ClusterSpec(brokers=3, engines=engines)


def connecting(client: FakeClient) -> Any:
    """A connect that gives ``client`` whatever the address."""

    def connect(timeout: float = 60, address: str | None = None) -> Any:
        return client

    return connect


def test_each_engine_draws_a_subnet_and_nodes_take_fixed_addresses_below_its_dynamic_half() -> None:
    home, other = FakeClient(FakeNetworks("172.18.0.0/16")), FakeClient(FakeNetworks("10.213.1.0/24"))
    spec = ClusterSpec(brokers=5, engines=(A, B))
    spread = spread_networks(spec, cast(Any, home), A, "net", {"l": "v"}, connecting(other))
    assert spread.addresses == {1: "172.18.0.2", 2: "10.213.1.2", 3: "172.18.0.3", 4: "10.213.1.3", 5: "172.18.0.4"}
    assert spread.hosts()["broker-4"] == "10.213.1.3"
    ipam = other.networks.made[1]["ipam"]["Config"][0]
    assert (ipam["Subnet"], ipam["IPRange"]) == ("10.213.1.0/24", "10.213.1.128/25")
    bare = FakeClient(FakeNetworks("10.213.2.0/24"), FakeImages(present=False))
    with pytest.raises(ImageMissing, match=f"^engine {B}: image kafka-chaos/kafka:.* copy the images there"):
        spread_networks(spec, cast(Any, home), A, "net", {}, connecting(bare))
    assert bare.networks.made == []  # refused before any network was made
    with pytest.raises(UsageError, match="is not one of the cluster's engines"):
        spread_networks(spec, cast(Any, home), "unix:///elsewhere.sock", "net", {}, connecting(other))
