"""A dynamic KRaft quorum (KIP-853) as the harness wires and formats it, and what the voter faults
read of Kafka's quorum tool; the real changes run in Q3 (``experiments/``) and
``tests/integration/test_quorum_voters.py``."""

from __future__ import annotations

import pytest

from chaos.cluster.config import ClusterSpec, server_properties
from chaos.cluster.quorum import directory_id
from chaos.errors import UsageError
from chaos.faults import make_fault
from chaos.faults.base import FaultError
from chaos.faults.voters import described

DYNAMIC = ClusterSpec(brokers=3, controllers=3, quorum="dynamic", spare_controllers=1)


def test_a_spare_controller_is_a_controller_but_no_initial_voter() -> None:
    spare = [n for n in DYNAMIC.nodes() if not n.voter]
    assert [(n.node_id, n.host, n.controller, n.broker) for n in spare] == [(1004, "controller-4", True, False)]
    assert DYNAMIC.voters() == "1001@controller-1:9093,1002@controller-2:9093,1003@controller-3:9093"


def test_every_node_of_a_dynamic_quorum_finds_it_through_the_initial_voters() -> None:
    for node in DYNAMIC.nodes():
        props = server_properties(DYNAMIC, node, "h:1", "h:2")
        assert "controller.quorum.bootstrap.servers=controller-1:9093,controller-2:9093,controller-3:9093" in props
        assert "controller.quorum.voters" not in props
    static = ClusterSpec(brokers=3, controllers=3)
    assert "controller.quorum.voters=1001@controller-1:9093" in server_properties(static, static.nodes()[3], None, None)


def test_the_voters_are_formatted_with_their_directory_ids_and_the_others_with_none() -> None:
    voter = DYNAMIC.format_arguments(1001, "cid")
    expected = ",".join(f"{i}@controller-{i - 1000}:9093:{directory_id('cid', i)}" for i in (1001, 1002, 1003))
    assert voter == f"--initial-controllers {expected}"
    assert DYNAMIC.format_arguments(1003, "cid") == voter  # every voter names them all alike
    assert DYNAMIC.format_arguments(1004, "cid") == DYNAMIC.format_arguments(2, "cid") == "--no-initial-controllers"
    with_feature = ClusterSpec(controllers=3, quorum="dynamic", features={"kraft.version": 1})
    assert with_feature.format_arguments(1001, "cid").startswith("--feature kraft.version=1 --initial-controllers ")
    assert ClusterSpec().format_arguments(1, "cid") == ""


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"quorum": "elastic"}, "quorum 'elastic' is not static or dynamic"),
        ({"quorum": "dynamic"}, "a dynamic quorum is one of dedicated controllers"),
        ({"controllers": 3, "spare_controllers": 1}, "a spare controller can only join a dynamic quorum"),
        ({"controllers": 3, "quorum": "dynamic", "spare_controllers": 3}, "spare_controllers must be 0 to 2"),
    ],
)
def test_an_impossible_quorum_is_refused_in_one_sentence(fields: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        ClusterSpec(**fields)  # type: ignore[arg-type]


def test_the_quorum_tool_s_description_gives_the_leader_and_the_voters() -> None:
    text = (
        "ClusterId: x\nLeaderId: 1003\nLeaderEpoch: 7\nHighWatermark: 90\n"
        'CurrentVoters: [{"id": 1001, "directoryId": "a", "endpoints": ["CONTROLLER://controller-1:9093"]}, '
        '{"id": 1003, "directoryId": "c", "endpoints": ["CONTROLLER://controller-3:9093"]}]\n'
        'CurrentObservers: [{"id": 1002, "directoryId": "b"}, {"id": 1}]\n'
    )
    assert described(text) == (1003, {1001, 1003})
    assert described("LeaderId: 1001\nCurrentVoters: [1001, 1002]\n") == (1001, {1001, 1002})  # before 3.9
    with pytest.raises(FaultError, match="printed no leader or voters on controller-1"):
        described("Error: the quorum has no leader", "controller-1")


def test_a_voter_change_names_a_controller_or_chooses_one() -> None:
    assert make_fault("voter_add", node=1004).p == {"node": 1004}
    assert make_fault("voter_remove").p == {}
    with pytest.raises(UsageError, match="has no parameter 'target'"):
        make_fault("voter_remove", target="controller")
