"""Workloads, drain and oracle on a real cluster: the loss the oracle reports is the loss that happened."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaAdminClient
from kafka.errors import KafkaError

from chaos.cluster import KafkaCluster
from chaos.oracle import Verdict, reconcile, reconcile_and_write
from chaos.workloads.drain import drain
from chaos.workloads.ledger import write_meta
from chaos.workloads.process import WorkloadProcess
from chaos.workloads.spec import ConsumerSpec, ProducerSpec

pytestmark = pytest.mark.kafka_cluster(brokers=3)

RUNS: list[Run] = []

#: A killed member is evicted after 6 s (the broker's minimum) instead of 45 s, so its restarted
#: successor is assigned partitions promptly.
FAST_GROUP = {"session.timeout.ms": "6000", "heartbeat.interval.ms": "1500"}


@pytest.fixture(autouse=True)
def stop_workloads() -> Iterator[None]:
    """A failing test must not leave its clients running into the next one."""
    yield
    while RUNS:
        for process in RUNS.pop().processes:
            process.kill()


class Run:
    """One measured scenario on the shared cluster: its own topic and run directory."""

    def __init__(self, cluster: KafkaCluster, tmp_path: Path, partitions: int = 3) -> None:
        self.processes: list[WorkloadProcess] = []
        self.cluster = cluster
        self.topic = f"w-{uuid.uuid4().hex[:8]}"
        self.run_dir = tmp_path / self.topic
        cluster.create_topic(self.topic, partitions, 3, {"min.insync.replicas": "2"})
        write_meta(self.run_dir / "run.json", {"run_id": cluster.run_id, "experiment": self.topic})
        self.groups: list[str] = []
        RUNS.append(self)

    def common(self) -> dict[str, str]:
        return {
            "topic": self.topic,
            "bootstrap_servers": self.cluster.bootstrap_servers,
            "run_id": self.cluster.run_id,
            "run_dir": str(self.run_dir),
        }

    def producer(self, **kw: object) -> WorkloadProcess:
        process = WorkloadProcess(ProducerSpec(**{"id": "p0", **kw, **self.common()}))  # type: ignore[arg-type]
        self.processes.append(process)
        return process

    def consumer(self, **kw: object) -> WorkloadProcess:
        spec = ConsumerSpec(**{"id": "c0", "group": f"g-{self.topic}", **kw, **self.common()})  # type: ignore[arg-type]
        self.groups.append(spec.group)
        process = WorkloadProcess(spec)
        self.processes.append(process)
        return process

    def verdict(self) -> Verdict:
        drain(self.cluster.bootstrap_servers, self.topic, self.cluster.run_id, self.run_dir, sorted(set(self.groups)))
        return reconcile_and_write(self.run_dir)


def wait_for(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def ledger_size(run: Run, name: str) -> int:
    path = run.run_dir / "ledgers" / name
    return path.stat().st_size if path.exists() else 0


def test_ten_thousand_records_no_faults_everything_consistent(kafka_cluster: KafkaCluster, tmp_path: Path) -> None:
    run = Run(kafka_cluster, tmp_path)
    producer = run.producer(mode="async", count=10_000, settings={"acks": "all", "linger.ms": "5"})
    consumer = run.consumer(strategy="after_process", batch_size=200)
    producer.start()
    consumer.start()
    assert producer.wait(300) == 0, producer.log_tail()
    wait_for(lambda: ledger_size(run, "consumer-c0.processed") >= 10_000 * 29, 120, "consumer to catch up")
    assert consumer.stop(60) == 0, consumer.log_tail()
    v = run.verdict()
    assert v.counts == {
        "sent": 10_000,
        "acked": 10_000,
        "send_errors": 0,
        "unknown": 0,
        "in_log": 10_000,
        "processed": 10_000,
    }
    assert v.loss == {"producer": 0, "broker": 0, "consumer": 0}
    assert all(n == 0 for n in v.anomalies.values()), v.anomalies
    assert json.loads((run.run_dir / "verdict.json").read_text())["counts"]["in_log"] == 10_000


def test_fire_and_forget_killed_mid_flight_loses_in_the_producer(kafka_cluster: KafkaCluster, tmp_path: Path) -> None:
    run = Run(kafka_cluster, tmp_path)
    # A long linger and large batches keep thousands of records in the client's buffer at any time.
    producer = run.producer(
        mode="fire_and_forget", rate=5000, settings={"acks": "all", "linger.ms": "3000", "batch.size": "1048576"}
    )
    producer.start()
    wait_for(lambda: ledger_size(run, "producer-p0.acks") > 0, 60, "first acks")
    time.sleep(1.0)
    producer.kill()
    v = run.verdict()
    assert v.loss["producer"] > 0, v.counts
    assert v.loss["broker"] == 0
    assert v.counts["in_log"] >= v.counts["acked"]  # a batch in flight at the kill may be written, never acked
    assert v.loss["producer"] + v.counts["in_log"] + v.counts["unknown"] == v.counts["sent"]
    assert v.examples["producer"] and v.examples["producer"][0]["producer"] == "p0"


def test_sync_producer_killed_loses_nothing(kafka_cluster: KafkaCluster, tmp_path: Path) -> None:
    run = Run(kafka_cluster, tmp_path)
    producer = run.producer(mode="sync", settings={"acks": "all"})
    producer.start()
    # intent, ack and returned: three events of 37 bytes per synchronous send
    wait_for(lambda: ledger_size(run, "producer-p0.events") > 3 * 37 * 300, 60, "a few hundred sync sends")
    producer.kill()
    v = run.verdict()
    assert v.loss == {"producer": 0, "broker": 0, "consumer": 0}
    assert v.counts["unknown"] <= 1  # at most the one send the kill interrupted
    assert v.counts["in_log"] >= 300


def test_outbox_producer_killed_and_restarted_loses_nothing(kafka_cluster: KafkaCluster, tmp_path: Path) -> None:
    run = Run(kafka_cluster, tmp_path)
    producer = run.producer(mode="outbox", count=3000, rate=3000, settings={"acks": "all", "linger.ms": "500"})
    producer.start()
    wait_for(lambda: ledger_size(run, "producer-p0.acks") > 0, 60, "first acks")
    producer.kill()
    producer.start()
    assert producer.wait(180) == 0, producer.log_tail()
    v = run.verdict()
    assert v.counts["sent"] == 3000
    assert v.loss == {"producer": 0, "broker": 0, "consumer": 0}
    # A kill between the intent and the outbox commit leaves that batch unknown (never stored, so the
    # application never went on); everything stored reached the log.
    assert v.counts["in_log"] + v.counts["unknown"] == 3000
    assert v.counts["in_log"] > 0


def fill_topic(run: Run, count: int) -> None:
    producer = run.producer(id="seed", mode="async", count=count, settings={"acks": "all", "linger.ms": "5"})
    producer.start()
    assert producer.wait(300) == 0, producer.log_tail()


def test_auto_commit_consumer_with_batch_buffer_killed_loses_records(
    kafka_cluster: KafkaCluster, tmp_path: Path
) -> None:
    run = Run(kafka_cluster, tmp_path)
    # A live producer at a steady rate: once the consumer has caught up, its buffer fills over seconds
    # while auto-commit (every 100 ms) commits what was polled.
    producer = run.producer(mode="async", count=40_000, rate=2000, settings={"acks": "all", "linger.ms": "5"})
    consumer = run.consumer(
        strategy="auto",
        batch_size=5000,
        process_ms=300,
        settings={**FAST_GROUP, "auto.commit.interval.ms": "100", "max.poll.records": "500"},
    )
    producer.start()
    consumer.start()
    group = run.groups[0]
    admin = KafkaAdminClient(bootstrap_servers=kafka_cluster.bootstrap_servers.split(","))

    def committed_beyond_processed() -> int:
        try:
            offsets = admin.list_group_offsets({group: None}).get(group, {})
        except KafkaError:  # the group's coordinator is still loading
            return 0
        committed = sum(om.offset for tp, om in offsets.items() if tp.topic == run.topic and om.offset >= 0)
        return int(committed) - ledger_size(run, "consumer-c0.processed") // 29

    # Kill in the hazard itself: the client has auto-committed over 1000 records the application still
    # holds unprocessed in its buffer (at 2000 records/s the next batch is then still seconds away).
    try:
        wait_for(lambda: committed_beyond_processed() > 1000, 120, "auto-commit to run ahead of processing")
    finally:
        admin.close()
    consumer.kill()
    at_kill = ledger_size(run, "consumer-c0.processed")
    consumer.start()
    # Stop only once the restarted member has been assigned and processed from the committed offsets;
    # until the dead member is evicted the group has no assignment for it.
    wait_for(lambda: ledger_size(run, "consumer-c0.processed") > at_kill, 120, "the restarted member to process")
    consumer.stop(60)
    assert producer.stop(60) == 0, producer.log_tail()
    v = run.verdict()
    assert v.loss["consumer"] > 1000, (v.counts, v.details)
    assert v.loss["producer"] == 0 and v.loss["broker"] == 0
    assert v.examples["consumer"][0]["offset"] is not None


def test_after_process_consumer_killed_and_restarted_loses_nothing(kafka_cluster: KafkaCluster, tmp_path: Path) -> None:
    run = Run(kafka_cluster, tmp_path)
    fill_topic(run, 20_000)
    consumer = run.consumer(
        strategy="after_process", batch_size=5000, process_ms=300, settings={"max.poll.records": "500"}
    )
    consumer.start()
    wait_for(lambda: ledger_size(run, "consumer-c0.processed") > 0, 120, "a first processed batch")
    time.sleep(0.5)
    consumer.kill()
    consumer.start()
    wait_for(lambda: ledger_size(run, "consumer-c0.processed") >= 20_000 * 29, 120, "the restarted member")
    consumer.stop(60)
    v = run.verdict()
    assert v.loss == {"producer": 0, "broker": 0, "consumer": 0}
    assert v.counts["processed"] == 20_000
    assert v.anomalies["duplicates_processed"] >= 0


def test_reconcile_cli_gives_the_same_answer_every_time(kafka_cluster: KafkaCluster, tmp_path: Path) -> None:
    run = Run(kafka_cluster, tmp_path)
    fill_topic(run, 500)
    first = run.verdict().as_dict()
    for _ in range(2):
        proc = subprocess.run(
            [sys.executable, "-m", "chaos.cli", "reconcile", str(run.run_dir), "--json"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout) == first
    assert reconcile(run.run_dir).as_dict() == first
