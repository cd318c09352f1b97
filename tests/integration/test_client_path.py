"""The direct client path on a real cluster: with every toxiproxy proxy disabled, clients given the
brokers' own listeners still produce, consume, commit and drain, while a client given the proxied
addresses reaches nothing. So a direct client never crosses the proxy, also after metadata sends
it on to the other brokers: it bootstraps at one broker's direct address only, and the partitions it
writes and the group it joins are led by others."""

from __future__ import annotations

import pytest
from kafka import KafkaProducer
from kafka.errors import KafkaError

from chaos.cluster import KafkaCluster
from chaos.scenario import Scenario
from chaos.workloads.clients import CLIENTS

pytestmark = pytest.mark.kafka_cluster(brokers=3)

RECORDS = 300


def send_through(bootstrap: str, topic: str) -> None:
    """One acknowledged record through ``bootstrap``, within the client's own few-second bounds.

    Raises:
        KafkaError: no broker answered there (kafka-python's NoBrokersAvailable or KafkaTimeoutError).
    """
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        max_block_ms=3000,
        request_timeout_ms=3000,
        bootstrap_timeout_ms=3000,
    )
    try:
        producer.send(topic, b"through the proxy").get(timeout=10)
    finally:
        producer.close(timeout=1)


@pytest.mark.parametrize("scenario", [{"client_path": "direct"}], indirect=True)
@pytest.mark.parametrize("client", CLIENTS)
def test_a_direct_client_never_crosses_the_proxy(scenario: Scenario, kafka_cluster: KafkaCluster, client: str) -> None:
    topic = scenario.topic.name
    leaders = {p.leader for p in kafka_cluster.partitions(topic)}  # asked now: the admin goes through the proxy
    assert leaders - {1}, f"every partition of {topic} is led by broker 1: nothing would redirect"
    # Broker 1's direct address alone: every other broker is reached at the address metadata gives.
    scenario.bootstrap = kafka_cluster.bootstrap("direct").split(",")[0]

    down = scenario.inject("proxy_down", target="all")  # verified: every proxy reports itself disabled
    assert sorted(down.targets) == ["broker-1", "broker-2", "broker-3"]
    with pytest.raises(KafkaError):
        send_through(kafka_cluster.bootstrap_servers, topic)

    consumer = scenario.consumer(strategy="after_process", batch_size=10, client=client)
    producer = scenario.producer(mode="async", count=RECORDS, settings={"acks": "all"}, client=client)
    assert producer.spec.bootstrap_servers == consumer.spec.bootstrap_servers == scenario.bootstrap
    consumer.start()
    producer.start()
    assert producer.wait(120) == 0, producer.log_tail()
    scenario.wait_for("processed_distinct", RECORDS, timeout=120)  # its group's coordinator answered too
    assert consumer.stop(60) == 0, consumer.log_tail()

    v = scenario.verdict()  # the drain and the group's committed offsets, read through broker 1's direct address
    # toxiproxy's API has a port of its own: every proxy was still off when the drain had read it all
    assert not any(p.enabled for p in kafka_cluster.toxiproxy.proxies().values())
    assert (v.counts.acked, v.counts.in_log, v.counts.processed) == (RECORDS, RECORDS, RECORDS), v.counts
    assert v.conclusive and v.loss.model_dump() == {"producer": 0, "broker": 0, "consumer": 0}, v.trust
    assert v.details.client_path == "direct"
