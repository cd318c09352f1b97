"""Every client driver on a real cluster: a round trip, a SIGKILL mid-flight in each delivery mode,
a consumer kill under each commit strategy. The same ledgers, the same oracle, the same expectations.

kafka-python's fire-and-forget, sync and outbox producer kills and its auto-commit and after-process
consumer kills are in ``test_workloads.py``; here are the rest of its cases and every case of the
Java client and librdkafka.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from chaos.cluster import KafkaCluster
from chaos.images.java_driver import build_java_driver, driver_source
from chaos.rundir import LEDGERS
from chaos.scenario import Scenario
from chaos.waiting import wait_until
from chaos.workloads.ledger import read_meta
from tests.helpers.client_cases import (
    BUFFERING,
    LINGERING,
    committed_ahead,
    committed_total,
    exact,
    fast_group,
    kill_mid_flight,
    kill_sync,
    kill_while_buffered,
)
from tests.helpers.real_cluster import QUICK

#: The brokers let a group evict a killed member after 2 s rather than the 6 s minimum.

pytestmark = QUICK

OTHER_CLIENTS = ("java", "librdkafka")


def test_the_java_driver_is_compiled_once_per_source_and_release() -> None:
    # Against the jars the Kafka image is built from; `kafka-chaos images build` compiled it already.
    first = build_java_driver("4.4.0")
    assert (first.classes / "KafkaChaosDriver.class").is_file()
    assert first.command(Path("spec.json"))[-2:] == ["KafkaChaosDriver", "spec.json"]
    assert (first.libs / "kafka-clients-4.4.0.jar").is_file()
    assert build_java_driver("4.4.0") == first
    assert b"public final class KafkaChaosDriver" in driver_source()
    # Workloads start from the class archive the driver's --train run left; -Xshare:on fails a JVM
    # that cannot map it (another classpath, a damaged file), where workloads would quietly go without.
    command = first.command(Path("spec.json"))
    assert f"-XX:SharedArchiveFile={first.classes / 'driver.jsa'}" in command
    strict = [command[0], "-Xshare:on", *(a for a in command[1:-1] if not a.startswith("-Xlog:cds")), "--train"]
    proc = subprocess.run(strict, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("client", OTHER_CLIENTS)
def test_round_trip(scenario: Scenario, client: str) -> None:
    producer = scenario.producer(mode="async", count=3000, client=client, settings={"acks": "all", "linger.ms": "5"})
    consumer = scenario.consumer(strategy="after_process", batch_size=200, client=client)
    consumer.start()
    producer.start()
    assert producer.wait(120) == 0, producer.log_tail()
    scenario.wait_for("processed_distinct", 3000)
    assert consumer.stop(60) == 0 and not consumer.escalated, consumer.log_tail()
    v = scenario.verdict()
    assert v.counts.acked == 3000 and v.counts.in_log == 3000 and v.counts.processed == 3000, v.counts
    assert v.loss.model_dump() == {"producer": 0, "broker": 0, "consumer": 0}
    assert all(n == 0 for n in v.anomalies.values()), v.anomalies
    meta = read_meta(scenario.run_dir / LEDGERS / "producer-p0.json")
    assert meta["mode"] == "async" and meta["settings"] == {"acks": "all", "linger.ms": "5"}


@pytest.mark.parametrize("client", OTHER_CLIENTS)
@pytest.mark.parametrize("mode", ["fire_and_forget", "async"])
def test_streaming_producer_killed_loses_what_it_buffered(scenario: Scenario, client: str, mode: str) -> None:
    producer = scenario.producer(mode=mode, count=6000, rate=2000, client=client, settings=BUFFERING)
    kill_while_buffered(scenario, producer)
    v = exact(scenario, 6000)
    # Every send that returned before the kill sat in the client's buffer; with 300 intended, at least
    # the first range of them (at most 256 are intended at once) had returned.
    assert v.figures.producer > 0, v.loss


def test_kafka_python_async_producer_killed_loses_what_it_buffered(scenario: Scenario) -> None:
    producer = scenario.producer(mode="async", count=6000, rate=2000, settings=BUFFERING)
    kill_while_buffered(scenario, producer)
    assert exact(scenario, 6000).figures.producer > 0


@pytest.mark.parametrize("client", OTHER_CLIENTS)
@pytest.mark.parametrize("mode", ["sync", "outbox"])
def test_waiting_producer_killed_loses_nothing(scenario: Scenario, client: str, mode: str) -> None:
    # A synchronous send waits for its batch, so it must not linger; the outbox's forwarder streams.
    settings = LINGERING if mode == "outbox" else {"acks": "all"}
    count = 3000 if mode == "outbox" else 1000  # one round trip per synchronous send
    producer = scenario.producer(mode=mode, count=count, rate=1500, client=client, settings=settings)
    kill_mid_flight(scenario, producer) if mode == "outbox" else kill_sync(scenario, producer)
    v = exact(scenario, count)
    assert v.figures.producer == 0, v.loss
    # Everything the application went on from reached the log. What is unknown is what the kill cut
    # before the application went on: the one synchronous send in flight, or the outbox's rows
    # intended but not yet committed to it (never stored, so never sent).
    assert v.counts.in_log + v.counts.unknown == count, v.counts
    if mode == "sync":
        assert v.counts.unknown <= 1, v.counts


@pytest.mark.parametrize(
    ("client", "strategy"),
    [(c, s) for c in OTHER_CLIENTS for s in ("auto", "before_process")] + [("kafka-python", "before_process")],
)
def test_consumer_committing_ahead_killed_loses_records(
    scenario: Scenario, kafka_cluster: KafkaCluster, client: str, strategy: str
) -> None:
    # The hazard is constructed, not hoped for. The whole topic is written before the first member
    # starts, so its polls are full; its processing then takes a minute while its commit already
    # covers what it polled (auto-commit every 100 ms of a 2000-record buffer, or a commit before
    # processing each poll of up to 500 records). It is killed once committed records are observed
    # unprocessed, which stays true for that whole minute. What it had committed but not processed
    # is then fixed, and a second, quick member of the group reads on from the commit: exactly those
    # records are lost.
    producer = scenario.producer(mode="async", count=5000, rate=2500, client=client, settings={"acks": "all"})
    # A poll's processing takes 60 s, so a poll may come 70 s after the last. kafka-python 3.0 can stall
    # in the rejoin of a rebalance right after the first assignment (seen once in four runs: no commit
    # for 120 s): the member's liveness probe restarts such a client after max.poll.interval.ms +
    # session.timeout.ms (76 s here), well inside the wait below.
    settings = {**fast_group(client), "max.poll.records": "500", "max.poll.interval.ms": "70000"}
    poll_timeout_ms = 200
    if strategy == "auto":
        # The Java client auto-commits inside poll() only, once the interval has passed since its last
        # commit, and a member flushes a part-filled buffer on an empty poll. So fetches are made slow
        # (the broker holds each for 300 ms: it never has the 10 MiB asked for) and small, and polls
        # wait longer than that: filling the 2000-record buffer takes many polls over seconds, every
        # one after the first commits what the previous ones returned, and none returns empty while
        # the written topic has records left. Commits run ahead of processing before it starts.
        settings |= {
            "auto.commit.interval.ms": "100",
            "fetch.min.bytes": str(10 << 20),
            "fetch.max.wait.ms": "300",
            "max.partition.fetch.bytes": "8192",
        }
        poll_timeout_ms = 5000
    slow = scenario.consumer(
        "c0",
        strategy=strategy,
        batch_size=2000,
        process_ms=60_000,
        client=client,
        settings=settings,
        poll_timeout_ms=poll_timeout_ms,
    )
    quick = scenario.consumer(
        "c1", strategy="after_process", batch_size=500, process_ms=0, client=client, settings=fast_group(client)
    )
    producer.start()
    assert producer.wait(120) == 0, producer.log_tail()
    slow.start()
    seen = [""]
    ahead = lambda: committed_ahead(scenario, kafka_cluster, "c0", seen)  # noqa: E731
    wait_until(ahead, 150, "commits to run ahead of processing", seen=lambda: seen[0])
    slow.kill()
    lost = wait_until(ahead, 30, "the committed offsets after the kill", seen=lambda: seen[0])
    quick.start()
    # Caught up when the group's commits reach the end of the log (5000 records from offset 0).
    wait_until(lambda: committed_total(scenario, kafka_cluster) == 5000, 120, "the quick member to catch up")
    assert quick.stop(60) == 0, quick.log_tail()
    v = exact(scenario, 5000)
    assert v.loss.model_dump() == {"producer": 0, "broker": 0, "consumer": lost}, (v.loss, seen[0])


@pytest.mark.parametrize(
    ("client", "strategy"),
    [(c, s) for c in OTHER_CLIENTS for s in ("after_process", "per_partition")] + [("kafka-python", "per_partition")],
)
def test_consumer_committing_after_processing_killed_loses_nothing(
    scenario: Scenario, client: str, strategy: str
) -> None:
    producer = scenario.producer(mode="async", count=8000, rate=2000, client=client, settings={"acks": "all"})
    consumer = scenario.consumer(
        strategy=strategy, batch_size=500, process_ms=200, client=client, settings=fast_group(client)
    )
    consumer.start()
    producer.start()
    scenario.wait_for("processed", 1500, timeout=120)
    consumer.kill()
    consumer.start()
    assert producer.wait(120) == 0, producer.log_tail()
    # The restarted member re-reads from its last commit once the group has evicted the killed one.
    scenario.wait_for("processed_distinct", 8000, timeout=120)
    assert consumer.stop(60) == 0, consumer.log_tail()
    v = exact(scenario, 8000)
    assert v.loss.model_dump() == {"producer": 0, "broker": 0, "consumer": 0}
    assert v.counts.processed == 8000, v.counts
