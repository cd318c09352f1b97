"""A 3-broker cluster: data round trip, leader failover, pause, lookups, evidence."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from contextlib import suppress

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError

import docker
from chaos.cluster import HEALTH_TOPIC, KafkaCluster
from chaos.errors import UsageError
from chaos.waiting import wait_until
from tests.helpers.real_cluster import QUICK, labelled

pytestmark = QUICK  # a follower that stops fetching leaves the ISR after 6 s, so tests see it quickly


def topic_name() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"


def test_cluster_is_labelled_and_healthy(kafka_cluster: KafkaCluster, engine: docker.DockerClient) -> None:
    names = labelled(engine, kafka_cluster.run_id)
    assert len(names) == 5  # 3 brokers, toxiproxy, network
    assert [b.node_id for b in kafka_cluster.brokers] == [1, 2, 3]
    health = kafka_cluster.partitions(HEALTH_TOPIC)
    assert len(health[0].isr) == 3
    status = kafka_cluster.status()
    assert all(b["registered"] and b["state"] == "running" for b in status["brokers"])
    # every client address crosses toxiproxy, one proxy per broker
    proxies = kafka_cluster.toxiproxy.proxies()
    assert sorted(proxies) == ["broker-1", "broker-2", "broker-3"]
    assert {p.upstream for p in proxies.values()} == {"broker-1:9092", "broker-2:9092", "broker-3:9092"}
    # published on loopback only: the proxies are not reachable from other machines
    labels = [f"kafka-chaos.run={kafka_cluster.run_id}", "kafka-chaos.role=toxiproxy"]
    toxiproxy = engine.containers.list(filters={"label": labels})
    bindings = [b for entries in toxiproxy[0].ports.values() for b in entries or []]
    assert len(bindings) == 4 and {b["HostIp"] for b in bindings} == {"127.0.0.1"}


def test_thousand_records_acks_all_are_all_read_back(kafka_cluster: KafkaCluster) -> None:
    topic = topic_name()
    kafka_cluster.create_topic(topic, partitions=3, replication_factor=3, config={"min.insync.replicas": "2"})
    producer = KafkaProducer(bootstrap_servers=kafka_cluster.bootstrap_servers, acks="all", linger_ms=5)
    sent = {f"record-{i}".encode() for i in range(1000)}
    futures = [producer.send(topic, key=str(i).encode(), value=v) for i, v in enumerate(sorted(sent))]
    producer.flush(timeout=60)
    acked = [f.get(timeout=30) for f in futures]  # raises for any record not acknowledged
    producer.close()
    assert len({(m.partition, m.offset) for m in acked}) == 1000  # a position of its own each
    assert {m.partition for m in acked} == {0, 1, 2}

    consumer = KafkaConsumer(
        bootstrap_servers=kafka_cluster.bootstrap_servers,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        consumer_timeout_ms=10_000,
    )
    consumer.assign([TopicPartition(topic, p) for p in range(3)])
    got = [m.value for m in consumer]
    consumer.close()
    assert len(got) == 1000
    assert set(got) == sent


def test_sigkill_leader_elects_new_leader_and_isr_recovers(kafka_cluster: KafkaCluster) -> None:
    topic = topic_name()
    kafka_cluster.create_topic(topic, partitions=1, replication_factor=3)
    leader = kafka_cluster.leader_of(topic, 0)
    brokers = kafka_cluster.admin_call(lambda a: a.describe_cluster()["brokers"])
    address = next((b["host"], b["port"]) for b in brokers if b["broker_id"] == leader.node_id)
    # Traffic to the leader up to its death, as in an experiment: toxiproxy knows its address well.
    stop = threading.Event()
    load = threading.Thread(target=send_until, args=(kafka_cluster.bootstrap_servers, topic, stop), daemon=True)
    load.start()
    time.sleep(2)
    try:
        leader.kill()
        assert leader.state == "exited"
        # A new client of the dead broker is turned away within seconds: toxiproxy's dial to the
        # address the container took with it gives up after 3 s instead of holding that proxy's
        # accept loop, and every later client of that broker, for minutes.
        started = time.monotonic()
        with socket.create_connection(address, timeout=30) as s:
            s.settimeout(30)
            assert s.recv(1) == b""  # closed by the proxy, not timed out
        assert time.monotonic() - started < 6
        new_leader = kafka_cluster.wait_for_leader(topic, 0, not_on=leader.node_id, timeout=60)
        assert new_leader.node_id != leader.node_id
        assert leader.node_id not in kafka_cluster.partition(topic, 0).isr
        leader.start()
        states = kafka_cluster.wait_for_isr(topic, 3, timeout=90)
        assert len(states[0].isr) == 3
    finally:
        stop.set()
        load.join(30)
    kafka_cluster.wait_healthy(60)


def send_until(bootstrap: str, topic: str, stop: threading.Event) -> None:
    """acks=0 records to ``topic`` until ``stop`` (the producer never waits for a broker)."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks=0, linger_ms=5)
    while not stop.is_set():
        producer.send(topic, b"x" * 100)
        time.sleep(0.001)
    with suppress(KafkaError):  # records for the dead leader may still be queued
        producer.close(timeout=1)


def test_paused_follower_leaves_isr_and_returns_after_unpause(kafka_cluster: KafkaCluster) -> None:
    topic = topic_name()
    kafka_cluster.create_topic(topic, partitions=1, replication_factor=3)
    state = kafka_cluster.partition(topic, 0)
    follower = next(kafka_cluster.node(n) for n in state.replicas if n != state.leader)
    follower.pause()
    try:
        assert follower.state == "paused"

        def left_the_isr() -> bool:
            try:
                return follower.node_id not in kafka_cluster.partition(topic, 0).isr
            except KafkaError:
                return False  # a request may land on the frozen broker and time out

        wait_until(left_the_isr, 60, "the frozen follower to leave the ISR", interval=0.5)
    finally:
        follower.unpause()
    assert follower.state == "running"
    kafka_cluster.wait_for_isr(topic, 3, timeout=90)
    kafka_cluster.wait_healthy(60)


def test_clean_stop_and_start(kafka_cluster: KafkaCluster) -> None:
    broker = kafka_cluster.broker(2)
    broker.stop()
    assert broker.state == "exited"
    broker.start()
    kafka_cluster.wait_healthy(90)
    assert broker.is_running


def test_a_broker_started_again_is_healthy_only_once_it_answers(kafka_cluster: KafkaCluster) -> None:
    """Killed and started at once, a broker is still registered, unfenced and in the ISR (its session
    has not timed out) while its new process starts: health waits until it answers."""
    broker = kafka_cluster.broker(3)
    broker.kill()
    broker.start()  # the container runs; the JVM needs seconds before it listens
    problem = kafka_cluster.metadata.health_problem(kafka_cluster.spec.default_replication)
    assert problem.startswith("broker-3 does not answer"), problem
    kafka_cluster.wait_healthy(90)
    kafka_cluster.create_topic(f"answers-{uuid.uuid4().hex[:8]}", partitions=3, replication_factor=3)


def test_one_thread_dropping_its_admin_client_leaves_another_threads_calls_alone(kafka_cluster: KafkaCluster) -> None:
    """A run's ISR watch asks for partitions while the run's own thread drops a failed admin client:
    each thread has its own, so the watch's call in flight is never closed under it."""
    errors: list[BaseException] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            try:
                kafka_cluster.partitions(HEALTH_TOPIC)
            except BaseException as e:  # what must not happen, whatever it is
                errors.append(e)
                return

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for _ in range(60):
            assert len(kafka_cluster.partitions(HEALTH_TOPIC)) == 1
            kafka_cluster.metadata.drop_admin()
    finally:
        stop.set()
        watcher.join(30)
    assert errors == []


def test_lookups(kafka_cluster: KafkaCluster) -> None:
    controller = kafka_cluster.controller()
    assert controller.node_id in (1, 2, 3)
    assert kafka_cluster.broker(1).host == "broker-1"
    with pytest.raises(UsageError, match="there is no broker 4"):
        kafka_cluster.broker(4)
    with pytest.raises(UsageError, match="no partition 7"):
        kafka_cluster.partition(HEALTH_TOPIC, 7)
    with pytest.raises(UsageError, match="replication factor 4"):
        kafka_cluster.create_topic(topic_name(), replication_factor=4)


def test_logs_are_collected_into_the_run_directory(kafka_cluster: KafkaCluster) -> None:
    written = kafka_cluster.collect_logs()
    names = sorted(p.name for p in written)
    assert names == ["broker-1.log", "broker-2.log", "broker-3.log", "toxiproxy.log"]
    text = (kafka_cluster.run_dir / "logs" / "broker-1.log").read_text()
    assert "Kafka Server started" in text  # the log4j2 binding works: brokers really log
