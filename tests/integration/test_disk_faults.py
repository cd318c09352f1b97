"""The data disk as a fault: power loss, a full disk and a failing one, on kcfs, against real brokers.

What survives is read back with Kafka's own ``DumpLogSegments`` from the segment files on each
broker's disk: no broker, no client and no harness code sits between the fault and the count.
"""

from __future__ import annotations

import uuid

import pytest
from kafka import KafkaProducer
from kafka.admin import ConfigResource, ConfigResourceType

from chaos.cluster import KafkaCluster
from chaos.cluster.kafka_tools import segment_offsets
from chaos.cluster.operations import offline_log_dirs, wait_for_full_isr
from chaos.faults import FaultContext, Nemesis, make_fault
from chaos.faults.disk import kcfs_command
from tests.helpers.real_cluster import cli, eventually

#: A follower whose log directory failed stops fetching; its leader goes on holding the high
#: watermark for it while it counts as caught up (``replica.lag.time.max.ms``) and looks again only
#: when the partition next moves (docs/disks.md), so an acks=all write waits for its producer's
#: retry. By default both are 30 s, and a retry that came first waited again until the delivery
#: timeout. Here the replica counts as caught up for 6 s and the producer retries after 10 s.
pytestmark = [
    pytest.mark.kafka_cluster(brokers=3, disk="kcfs", log_dirs=2, broker_config={"replica.lag.time.max.ms": "6000"}),
    pytest.mark.usefixtures("brokers_back"),
]


def produce(cluster: KafkaCluster, topic: str, prefix: str, count: int, partitions: int = 1) -> None:
    """``count`` records, each acknowledged by every in-sync replica before this returns, each once.

    A failing log directory answers KAFKA_STORAGE_ERROR until the controller moves its partitions'
    leadership away, which can take longer than a retry count covers: the producer retries until
    its delivery timeout instead, idempotent so that a retry never writes a record twice. A request
    times out after 10 s, past the 6 s a failed follower holds the high watermark (``pytestmark``).
    """
    producer = KafkaProducer(
        bootstrap_servers=cluster.bootstrap_servers,
        acks="all",
        linger_ms=5,
        enable_idempotence=True,
        request_timeout_ms=10_000,
        delivery_timeout_ms=60_000,
    )
    try:
        futures = [producer.send(topic, f"{prefix}{i}".encode(), partition=i % partitions) for i in range(count)]
        producer.flush(timeout=70)  # past the delivery timeout: every future is done
        for f in futures:
            f.get(timeout=1)
    finally:
        producer.close(timeout=10)


def topic_in(cluster: KafkaCluster, log_dir: str, prefix: str) -> str:
    """A new topic of six partitions, some of whose replicas on broker 1 are in ``log_dir``.

    Kafka puts a new partition in the directory holding fewest, and the tests before this one (in
    any order) may have left the second directory holding more: each topic that lands wholly in the
    other one narrows the gap by six, so one of a few topics is certain to land in it.
    """
    listing = ""
    for _ in range(10):
        topic = f"{prefix}-{uuid.uuid4().hex[:8]}"
        cluster.create_topic(topic, partitions=6, replication_factor=3)
        code, listing = cluster.broker(1).exec(["ls", log_dir])
        assert code == 0, listing
        if f"{topic}-" in listing:
            return topic
    raise AssertionError(f"ten topics and none in broker 1's {log_dir}: {listing}")


def offsets_everywhere(cluster: KafkaCluster, topic: str) -> dict[str, list[int] | None]:
    return {n.host: segment_offsets(n, topic, 0, cluster.spec.data_dirs()) for n in cluster.brokers}


def test_power_loss_keeps_exactly_what_was_fsynced(kafka_cluster: KafkaCluster, ctx: FaultContext) -> None:
    topic = f"pl-{uuid.uuid4().hex[:8]}"
    # Certain by construction: the first 500 records are written with flush.messages=1 (Kafka fsyncs
    # every append), the next 500 after the topic is set back to the default (never fsynced until a
    # segment rolls, and a 1 GiB segment does not roll here).
    kafka_cluster.create_topic(topic, partitions=1, replication_factor=3, config={"flush.messages": "1"})
    produce(kafka_cluster, topic, "synced-", 500)
    kafka_cluster.admin_call(
        lambda a: a.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, configs={"flush.messages": ("DELETE", None)})],
            incremental=True,
        )
    )
    produce(kafka_cluster, topic, "cached-", 500)
    before = offsets_everywhere(kafka_cluster, topic)
    assert before == {n.host: list(range(1000)) for n in kafka_cluster.brokers}

    fault = make_fault("power_loss", target="all")
    with Nemesis(ctx) as nemesis:
        nemesis.inject(fault)
        assert all(not n.is_running for n in kafka_cluster.brokers)
    wait_for_full_isr(kafka_cluster, [topic], 180)

    after = offsets_everywhere(kafka_cluster, topic)
    assert after == {n.host: list(range(500)) for n in kafka_cluster.brokers}, after
    cuts = [e for e in ctx.timeline.events() if e["event"] == "power_cut"] if ctx.timeline else []
    assert len(cuts) == 3 and all(e["bytes_dropped"] > 0 for e in cuts), cuts


@pytest.mark.timeout(180)  # a second cut that waits for the first one's lock never answers
def test_a_cut_asked_for_twice_is_one_cut_with_one_answer(kafka_cluster: KafkaCluster) -> None:
    """A caller whose answer Docker lost asks again: the second cut answers at once, with the first
    one's figures, and puts nothing more back."""
    topic = f"twice-{uuid.uuid4().hex[:8]}"
    kafka_cluster.create_topic(topic, partitions=1, replication_factor=3)
    produce(kafka_cluster, topic, "cached-", 200)
    node = kafka_cluster.broker(3)  # the brokers_back fixture starts it again
    try:
        first = kcfs_command(node, "cut")
        again = kcfs_command(node, "cut")
    finally:
        node.kill()
    assert first["cut"] is True and first["bytes_dropped"] > 0, first
    assert again == first


def test_a_crash_on_kcfs_keeps_what_was_not_fsynced(kafka_cluster: KafkaCluster, ctx: FaultContext) -> None:
    """kcfs loses nothing on a plain SIGKILL: the machine stays up and so does its page cache."""
    topic = f"crash-{uuid.uuid4().hex[:8]}"
    kafka_cluster.create_topic(topic, partitions=1, replication_factor=3)
    produce(kafka_cluster, topic, "cached-", 500)
    with Nemesis(ctx) as nemesis:
        nemesis.inject(make_fault("broker_kill", target="all"))
    wait_for_full_isr(kafka_cluster, [topic], 180)
    assert offsets_everywhere(kafka_cluster, topic) == {n.host: list(range(500)) for n in kafka_cluster.brokers}


def test_failing_log_dir_goes_offline_and_heals(kafka_cluster: KafkaCluster, ctx: FaultContext) -> None:
    """EIO here; ENOSPC (disk_full) takes the same path, by hand, in the test below."""
    kind = "disk_error"
    broker = kafka_cluster.broker(1)
    second = kafka_cluster.spec.data_dirs()[1]
    topic = topic_in(kafka_cluster, second, kind)

    with Nemesis(ctx) as nemesis:
        nemesis.inject(make_fault(kind, target="broker:1", log_dir=2))
        # Writes to every partition reach broker 1's failing directory (as leader or follower).
        produce(kafka_cluster, topic, "during-", 600, partitions=6)
        eventually(
            lambda: offline_log_dirs(kafka_cluster, 1) == [second],
            60,
            f"broker 1 to report {second} offline",
            seen=lambda: offline_log_dirs(kafka_cluster, 1),
        )
        # The broker goes on serving from its first directory, which also holds the metadata log.
        assert broker.is_running
    # Healing ended the failure and restarted the broker: the directory is back, every replica in sync.
    assert offline_log_dirs(kafka_cluster, 1) == []
    wait_for_full_isr(kafka_cluster, [topic], 180)
    counts = [len(segment_offsets(n, topic, 0, kafka_cluster.spec.data_dirs()) or []) for n in kafka_cluster.brokers]
    assert counts == [100, 100, 100], counts


@pytest.mark.extended  # the CLI's parsing and hints are unit-tested; the faults themselves are above
def test_disk_faults_by_hand_from_the_cli(kafka_cluster: KafkaCluster) -> None:
    """`cluster fault` injects them into a running cluster: a full disk under broker 1's second log
    directory stays until `cluster heal` (the command its output names), which ends it and restarts
    the broker; a power cut held for a second powers back on."""
    run_id = kafka_cluster.run_id
    second = kafka_cluster.spec.data_dirs()[1]
    topic = topic_in(kafka_cluster, second, "byhand")

    out = cli("cluster", "fault", "disk_full", run_id, "-p", "target=broker:1", "-p", "log_dir=2").stdout
    assert f"it stays until `kafka-chaos cluster heal {run_id}`" in out
    produce(kafka_cluster, topic, "by-hand-", 600, partitions=6)
    eventually(lambda: offline_log_dirs(kafka_cluster, 1) == [second], 60, f"{second} offline on broker 1")
    healed = cli("cluster", "heal", run_id).stdout
    assert "ended disk failures on broker-1 and restarted them" in healed
    eventually(lambda: offline_log_dirs(kafka_cluster, 1) == [], 60, f"{second} back on broker 1")

    out = cli("cluster", "fault", "power_loss", run_id, "-p", "target=broker:2", "--duration", "1").stdout
    assert "injected power_loss on broker-2" in out and "healed after" in out
    wait_for_full_isr(kafka_cluster, [topic], 180)
