"""Workloads, drain and oracle on a real cluster: the loss the oracle reports is the loss that happened."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka.errors import KafkaError

from chaos.cluster import KafkaCluster
from chaos.oracle import reconcile
from chaos.scenario import Scenario

pytestmark = pytest.mark.kafka_cluster(brokers=3)

#: A killed member is evicted after 6 s (the broker's minimum) instead of 45 s, so its restarted
#: successor is assigned partitions promptly.
FAST_GROUP = {"session.timeout.ms": "6000", "heartbeat.interval.ms": "1500"}


@pytest.fixture
def run(kafka_cluster: KafkaCluster, tmp_path: Path) -> Iterator[Scenario]:
    """One measured scenario on the shared cluster: its own topic and run directory; a failing test
    does not leave its clients running into the next one."""
    with Scenario(kafka_cluster, tmp_path / "run") as scenario:
        yield scenario


def wait_for(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def ledger_size(run: Scenario, name: str) -> int:
    path = run.run_dir / "ledgers" / name
    return path.stat().st_size if path.exists() else 0


def test_ten_thousand_records_no_faults_everything_consistent(run: Scenario) -> None:
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


def test_fire_and_forget_killed_mid_flight_loses_in_the_producer(run: Scenario) -> None:
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


def test_sync_producer_killed_loses_nothing(run: Scenario) -> None:
    producer = run.producer(mode="sync", settings={"acks": "all"})
    producer.start()
    # intent, ack and returned: three events of 37 bytes per synchronous send
    wait_for(lambda: ledger_size(run, "producer-p0.events") > 3 * 37 * 300, 60, "a few hundred sync sends")
    producer.kill()
    v = run.verdict()
    assert v.loss == {"producer": 0, "broker": 0, "consumer": 0}
    assert v.counts["unknown"] <= 1  # at most the one send the kill interrupted
    assert v.counts["in_log"] >= 300


def test_outbox_producer_killed_and_restarted_loses_nothing(run: Scenario) -> None:
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


def fill_topic(run: Scenario, count: int) -> None:
    producer = run.producer(id="seed", mode="async", count=count, settings={"acks": "all", "linger.ms": "5"})
    producer.start()
    assert producer.wait(300) == 0, producer.log_tail()


def test_auto_commit_consumer_with_batch_buffer_killed_loses_records(
    run: Scenario, kafka_cluster: KafkaCluster
) -> None:
    # A live producer at a steady rate: once the consumer has caught up, its buffer fills over seconds
    # while auto-commit (every 100 ms) commits what was polled.
    # No count: records keep coming until the producer is stopped, however late the member joins.
    producer = run.producer(mode="async", rate=2000, settings={"acks": "all", "linger.ms": "5"})
    consumer = run.consumer(
        strategy="auto",
        batch_size=5000,
        process_ms=2000,  # committed stays a whole batch ahead of processed for 2 s of each cycle
        settings={**FAST_GROUP, "auto.commit.interval.ms": "100", "max.poll.records": "500"},
    )
    producer.start()
    consumer.start()
    group = run.group
    seen: list[str] = []

    def committed_beyond_processed() -> int:
        processed = ledger_size(run, "consumer-c0.processed") // 29
        try:
            # through the harness's admin, which starts afresh after a failure
            offsets = kafka_cluster.admin_call(lambda a: a.list_group_offsets({group: None})).get(group, {})
        except KafkaError as e:  # the group's coordinator is still loading
            seen[:] = [f"processed {processed}, committed offsets unreadable: {e!r}"]
            return 0
        committed = int(sum(om.offset for tp, om in offsets.items() if tp.topic == run.topic and om.offset >= 0))
        seen[:] = [f"processed {processed}, committed {committed}, sent {run.totals().sent}"]
        return committed - processed

    # Kill in the hazard itself: the client has auto-committed over 1000 records the application still
    # holds unprocessed in its buffer (at 2000 records/s the next batch is then still seconds away).
    try:
        wait_for(lambda: committed_beyond_processed() > 1000, 120, "auto-commit to run ahead of processing")
    except AssertionError as e:
        e.add_note(f"last seen: {seen}")
        e.add_note(f"--- consumer ---\n{consumer.log_tail()}\n--- producer ---\n{producer.log_tail()}")
        raise
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


def test_after_process_consumer_killed_and_restarted_loses_nothing(run: Scenario) -> None:
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


def test_reconcile_cli_gives_the_same_answer_every_time(run: Scenario) -> None:
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
