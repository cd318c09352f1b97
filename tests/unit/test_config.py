from __future__ import annotations

import pytest

from chaos.cluster.config import ClusterSpec, jvm_options, new_cluster_id, server_properties
from chaos.cluster.registry import spec_from_json, spec_to_json
from chaos.errors import UsageError


def props(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            assert key not in out, f"{key} written twice"
            out[key] = value
    return out


def test_combined_mode_wires_listeners_and_quorum() -> None:
    spec = ClusterSpec(brokers=3)
    node = spec.nodes()[1]
    p = props(server_properties(spec, node, "127.0.0.1:40002", "127.0.0.1:41002"))
    assert p["process.roles"] == "broker,controller"
    assert p["node.id"] == "2"
    assert p["controller.quorum.voters"] == "1@broker-1:9093,2@broker-2:9093,3@broker-3:9093"
    assert p["advertised.listeners"] == (
        "INTERNAL://broker-2:9091,CLIENT://127.0.0.1:40002,DIRECT://127.0.0.1:41002,CONTROLLER://broker-2:9093"
    )
    assert p["inter.broker.listener.name"] == "INTERNAL"
    assert p["offsets.topic.replication.factor"] == "3"
    assert p["transaction.state.log.min.isr"] == "2"


def test_dedicated_controllers_have_their_own_ids_and_no_client_listener() -> None:
    spec = ClusterSpec(brokers=2, controllers=3)
    nodes = spec.nodes()
    assert [n.node_id for n in nodes] == [1, 2, 1001, 1002, 1003]
    controller = props(server_properties(spec, nodes[2], None, None))
    assert controller["process.roles"] == "controller"
    assert controller["listeners"] == "CONTROLLER://0.0.0.0:9093"
    assert "advertised.listeners" not in controller
    broker = props(server_properties(spec, nodes[0], "127.0.0.1:1", "127.0.0.1:11"))
    assert broker["process.roles"] == "broker"
    assert broker["controller.quorum.voters"] == "1001@controller-1:9093,1002@controller-2:9093,1003@controller-3:9093"
    assert broker["offsets.topic.replication.factor"] == "2"


def test_user_overrides_win_verbatim_and_appear_once() -> None:
    spec = ClusterSpec(
        brokers=3,
        broker_config={"num.partitions": "12", "unclean.leader.election.enable": "true", "x.custom": "a b"},
        node_config={3: {"broker.rack": "rack-b", "num.partitions": "7"}},
    )
    p1 = props(server_properties(spec, spec.nodes()[0], "127.0.0.1:1", "127.0.0.1:11"))
    p3 = props(server_properties(spec, spec.nodes()[2], "127.0.0.1:3", "127.0.0.1:13"))
    assert p1["num.partitions"] == "12"
    assert p1["unclean.leader.election.enable"] == "true"
    assert p1["x.custom"] == "a b"
    assert "broker.rack" not in p1
    assert p3["broker.rack"] == "rack-b"
    assert p3["num.partitions"] == "7"


def test_backslashes_and_newlines_cannot_break_the_properties_file() -> None:
    spec = ClusterSpec(brokers=1, broker_config={"a": "x\\y\nnode.id=9"})
    p = props(server_properties(spec, spec.nodes()[0], "127.0.0.1:1", "127.0.0.1:11"))
    assert p["node.id"] == "1"
    assert p["a"] == "x\\\\y\\nnode.id=9"


def test_single_broker_scales_replication_down() -> None:
    spec = ClusterSpec(brokers=1)
    p = props(server_properties(spec, spec.nodes()[0], "127.0.0.1:1", "127.0.0.1:11"))
    assert p["offsets.topic.replication.factor"] == "1"
    assert p["transaction.state.log.min.isr"] == "1"
    assert spec.quorum_size == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"brokers": 0}, "at least 1 broker"),
        ({"brokers": -2}, "at least 1 broker"),
        ({"brokers": 40}, "will not fit"),
        ({"controllers": 7}, "controllers must be"),
        ({"kafka_version": "4.x"}, "not a release number"),
        ({"kafka_version": "2.8.0"}, "too old"),
        ({"broker_config": {"node.id": "5"}}, "node.id, which the harness sets"),
        ({"broker_config": {"listeners": "PLAINTEXT://:1"}}, "listeners"),
        ({"node_config": {9: {"a": "b"}}}, "names node 9"),
        ({"health_timeout": 0}, "health timeout"),
    ],
)
def test_impossible_specs_are_refused_with_a_fix(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        ClusterSpec(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(("client", "direct"), [(None, "127.0.0.1:2"), ("127.0.0.1:1", None)])
def test_broker_needs_an_advertised_address_for_each_client_path(client: str | None, direct: str | None) -> None:
    spec = ClusterSpec(brokers=1)
    with pytest.raises(ValueError, match="advertised address for each client path"):
        server_properties(spec, spec.nodes()[0], client, direct)


def test_each_broker_has_a_direct_listener_of_its_own_beside_the_proxied_one() -> None:
    # The direct path is a listener of its own: a client that bootstraps on it is told only DIRECT
    # addresses (Kafka answers metadata with the listener a request came in on), so a redirect to
    # another broker never leads it back through toxiproxy.
    spec = ClusterSpec(brokers=3)
    p = props(server_properties(spec, spec.nodes()[2], "127.0.0.1:40003", "127.0.0.1:41003"))
    assert p["listeners"] == (
        "INTERNAL://0.0.0.0:9091,CLIENT://0.0.0.0:9092,DIRECT://0.0.0.0:9094,CONTROLLER://0.0.0.0:9093"
    )
    assert "DIRECT://127.0.0.1:41003" in p["advertised.listeners"].split(",")
    assert "DIRECT:PLAINTEXT" in p["listener.security.protocol.map"].split(",")
    assert p["inter.broker.listener.name"] == "INTERNAL"  # replication never takes a client path


def test_cluster_ids_are_kraft_shaped_and_unique() -> None:
    ids = {new_cluster_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(len(i) == 22 and "=" not in i and not i.startswith("-") for i in ids)


def test_heap_is_bounded() -> None:
    assert "-Xmx512m" in jvm_options(ClusterSpec())
    assert "-Xmx256m" in jvm_options(ClusterSpec(heap="256m"))
    # C1 only, one compiler and one GC thread: a broker's CPU goes to serving, not to the JIT.
    assert "-XX:TieredStopAtLevel=1" in jvm_options(ClusterSpec()) and "-XX:ParallelGCThreads=1" in jvm_options(
        ClusterSpec()
    )


def test_spec_survives_the_label_round_trip() -> None:
    spec = ClusterSpec(brokers=2, controllers=1, broker_config={"a": "1"}, node_config={2: {"b": "2"}})
    assert spec_from_json(spec_to_json(spec)) == spec
