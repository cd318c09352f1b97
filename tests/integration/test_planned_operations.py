"""Planned operations as faults against a real cluster: each completes and the cluster returns to a
full ISR."""

from __future__ import annotations

import uuid

import pytest
from kafka import KafkaProducer

from chaos.cluster import KafkaCluster
from chaos.cluster.kafka_tools import get_offsets
from chaos.cluster.operations import wait_for_full_isr
from chaos.faults import FaultContext, Nemesis, make_fault
from tests.helpers.real_cluster import QUICK_WITH_CONTROLLER

pytestmark = [QUICK_WITH_CONTROLLER, pytest.mark.usefixtures("brokers_back")]


def new_topic(cluster: KafkaCluster, rf: int = 3) -> str:
    name = f"op-{uuid.uuid4().hex[:8]}"
    cluster.create_topic(name, partitions=1, replication_factor=rf)
    return name


def produce(cluster: KafkaCluster, topic: str, count: int, acks: int | str = "all") -> None:
    producer = KafkaProducer(bootstrap_servers=cluster.bootstrap_servers, acks=acks, linger_ms=5, retries=20)
    try:
        for f in [producer.send(topic, b"x" * 100, partition=0) for _ in range(count)]:
            f.get(timeout=60)
    finally:
        producer.close(timeout=10)


def test_reassignment_moves_the_leader_off_and_completes(kafka_cluster: KafkaCluster, ctx: FaultContext) -> None:
    topic = new_topic(kafka_cluster, rf=2)  # a spare broker to move to
    produce(kafka_cluster, topic, 500)
    before = kafka_cluster.partition(topic, 0)
    with Nemesis(ctx) as nemesis:
        nemesis.inject(make_fault("partition_reassign", target=f"leader:{topic}:0"))
    after = kafka_cluster.partition(topic, 0)
    assert before.leader not in after.replicas, (before, after)
    assert sorted(after.isr) == sorted(after.replicas) and len(after.replicas) == 2
    assert get_offsets(kafka_cluster.brokers, topic)["end"] == {0: 500}


def test_preferred_election_gives_leadership_back(kafka_cluster: KafkaCluster, ctx: FaultContext) -> None:
    topic = new_topic(kafka_cluster)
    preferred = kafka_cluster.partition(topic, 0).replicas[0]
    with Nemesis(ctx) as nemesis:
        # A controlled shutdown of the preferred leader moves leadership away; it stays away after the
        # broker is back (automatic rebalancing only runs every 5 minutes).
        nemesis.inject(make_fault("broker_stop", target=f"broker:{preferred}"))
        nemesis.heal_all()
        wait_for_full_isr(kafka_cluster, [topic])
        assert kafka_cluster.partition(topic, 0).leader != preferred
        nemesis.inject(make_fault("preferred_election", target=f"leader:{topic}:0"))
        assert kafka_cluster.partition(topic, 0).leader == preferred
    assert sorted(kafka_cluster.partition(topic, 0).isr) == [1, 2, 3]


def test_rolling_restart_with_controlled_shutdown_returns_to_full_isr(
    kafka_cluster: KafkaCluster, ctx: FaultContext
) -> None:
    topic = new_topic(kafka_cluster)
    produce(kafka_cluster, topic, 200)
    with Nemesis(ctx) as nemesis:
        nemesis.inject(make_fault("rolling_bounce"))
    assert [e["target"] for e in ctx.timeline.events() if e["event"] == "restarted"] == [  # type: ignore[union-attr]
        "broker-1",
        "broker-2",
        "broker-3",
    ]
    wait_for_full_isr(kafka_cluster, [topic])
    assert get_offsets(kafka_cluster.brokers, topic)["end"] == {0: 200}
