"""Client network faults on a real cluster: a producer in a network namespace of its own is cut off
from every broker (no record is acknowledged while it lasts, and they flow again once healed, with
no loss), then slowed. Nothing of the namespace, its veth or this machine's rules is left after the
scenario, and the brokers never saw a rule."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest

from chaos.cluster import KafkaCluster
from chaos.scenario import Scenario
from chaos.workloads import netns
from tests.helpers.real_cluster import eventually

pytestmark = pytest.mark.kafka_cluster(brokers=3)


def host_rules(run_id: str) -> list[str]:
    """This machine's rules labelled with ``run_id``."""
    out = []
    for table, chain in netns.HOST_CHAINS:
        argv = ["iptables", "-w", "-t", table, "-S", chain]
        listed = subprocess.run(argv, capture_output=True, text=True, check=True)
        out += [line for line in listed.stdout.splitlines() if f"{netns.COMMENT}={run_id}" in line]
    return out


def shaped_bytes(ns: netns.Netns) -> int:
    """Bytes sent through the limit's htb class on the namespace's end of its veth."""
    shown = ns.run(["tc", "-s", "class", "show", "dev", ns.ns_if], "the classes")
    found = re.search(r"class htb 4b43:1 .*?Sent (\d+) bytes", shown, re.S)
    return int(found.group(1)) if found else 0


@pytest.mark.parametrize("scenario", [{"client_namespaces": True}], indirect=True)
def test_a_cut_client_gets_no_acks_and_loses_nothing_once_healed(
    scenario: Scenario, kafka_cluster: KafkaCluster
) -> None:
    producer = scenario.producer(mode="async", rate=200, duration_s=60, settings={"acks": "all"})
    assert producer.netns is not None and producer.netns.name in netns.listed()
    assert len(host_rules(scenario.run_id)) == 5
    producer.start()
    scenario.wait_for("acked", 100, timeout=60)

    cut = scenario.inject("client_cut", workload="p0")  # verified: a new connection to broker 1 times out
    assert sorted(cut.targets) == [f"producer-p0 <-> broker-{i}" for i in (1, 2, 3)]
    time.sleep(1.5)  # answers already on their way are written down
    before = scenario.totals().acked
    time.sleep(4)
    assert scenario.totals().acked == before, "records were acknowledged through the cut"
    scenario.heal_all()
    scenario.wait_for("acked", before + 100, timeout=60)

    ns = producer.netns
    assert ns is not None
    slow = scenario.inject("client_bandwidth", workload="p0", rate="64kbit", direction="to_brokers")
    assert slow.active
    # The producer's requests to every broker cross the limit's class (its filters match them).
    eventually(lambda: shaped_bytes(ns) > 10_000, 30, "the producer's bytes to cross the limit")
    scenario.heal_all()
    assert "htb" not in ns.run(["tc", "qdisc", "show", "dev", ns.ns_if], "qdiscs")

    assert producer.stop(60) == 0, producer.log_tail()
    v = scenario.verdict(expect={"broker_loss": 0, "producer_loss": 0})
    assert v.passed and v.loss.producer == 0 and v.loss.broker == 0, (v.loss, v.expectations)
    assert v.counts.acked >= before + 100, v.counts
    for node in kafka_cluster.nodes:  # nothing was done to the brokers
        assert "kc-" not in node.exec(["iptables", "-S"])[1]


def test_namespaces_and_their_rules_go_with_the_scenario(kafka_cluster: KafkaCluster, tmp_path: Path) -> None:
    with Scenario(kafka_cluster, tmp_path, client_namespaces=True) as s:
        s.producer(count=10)
        run_id = s.run_id
        assert any(name.startswith(netns.namespace_name(run_id, "")) for name in netns.listed())
    assert not [name for name in netns.listed() if name.startswith(netns.namespace_name(run_id, ""))]
    assert host_rules(run_id) == []
