"""Workloads, drain and oracle on a real cluster: the loss the oracle reports is the loss that happened.

Every test runs on the ``scenario`` fixture, the same executor ``kafka-chaos run`` uses.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from kafka.errors import KafkaError

from chaos.cluster import KafkaCluster
from chaos.errors import InfrastructureError, UsageError
from chaos.oracle import reconcile
from chaos.scenario import Scenario
from chaos.waiting import wait_until
from chaos.workloads.drain import committed_offsets
from chaos.workloads.ledger import PROCESSED, read_records

pytestmark = pytest.mark.kafka_cluster(brokers=3)

#: A killed member is evicted after 6 s (the broker's minimum) instead of 45 s, so its restarted
#: successor is assigned partitions promptly. A rebalance completes within 20 s instead of 300 s:
#: the broker holds a JoinGroup open for up to max.poll.interval.ms waiting for every member it
#: knows to rejoin, and meanwhile a kafka-python member keeps fetching on its old assignment without
#: auto-committing (the client only auto-commits while its group is stable). Seen in CI: a rejoin
#: 1 s after the first join never completed within the test's 120 s, committed offsets stayed put
#: while 230,000 records were processed. The consumer's log now shows every join and rebalance.
FAST_GROUP = {"session.timeout.ms": "6000", "heartbeat.interval.ms": "1500", "max.poll.interval.ms": "20000"}


def test_ten_thousand_records_no_faults_everything_consistent(scenario: Scenario) -> None:
    producer = scenario.producer(mode="async", count=10_000, settings={"acks": "all", "linger.ms": "5"})
    consumer = scenario.consumer(strategy="after_process", batch_size=200)
    producer.start()
    consumer.start()
    assert producer.wait(300) == 0, producer.log_tail()
    scenario.wait_for("processed_distinct", 10_000)
    assert consumer.stop(60) == 0 and not consumer.escalated, consumer.log_tail()
    v = scenario.verdict()
    assert v.counts.model_dump() == {
        "sent": 10_000,
        "acked": 10_000,
        "unconfirmed": 0,
        "send_errors": 0,
        "failed": 0,
        "unknown": 0,
        "in_log": 10_000,
        "damaged": 0,
        "aborted": 0,
        "expired": 0,
        "superseded": 0,
        "processed": 10_000,
        "unprocessed": 0,
        "overwritten_unread": 0,
    }
    assert v.conclusive and v.trust.drain_contiguous, v.trust
    assert v.loss.model_dump() == {"producer": 0, "broker": 0, "consumer": 0}
    assert all(n == 0 for n in v.anomalies.values()), v.anomalies
    assert json.loads((scenario.run_dir / "verdict.json").read_text())["counts"]["in_log"] == 10_000


def test_fire_and_forget_killed_mid_flight_loses_in_the_producer(scenario: Scenario) -> None:
    # A long linger and large batches keep thousands of records in the client's buffer at any time.
    producer = scenario.producer(
        mode="fire_and_forget", rate=5000, settings={"acks": "all", "linger.ms": "3000", "batch.size": "1048576"}
    )
    producer.start()
    scenario.wait_for("acked", 1, timeout=60)
    time.sleep(1.0)
    producer.kill()
    v = scenario.verdict()
    assert v.figures.producer > 0, v.counts
    assert v.figures.broker == 0
    assert v.counts.in_log >= v.counts.acked  # a batch in flight at the kill may be written, never acked
    assert v.figures.producer + v.counts.in_log + v.counts.unknown == v.counts.sent
    assert v.examples["producer"] and v.examples["producer"][0]["producer"] == "p0"


def test_sync_producer_killed_loses_nothing(scenario: Scenario) -> None:
    producer = scenario.producer(mode="sync", settings={"acks": "all"})
    producer.start()
    scenario.wait_for("acked", 300, timeout=60)
    producer.kill()
    v = scenario.verdict()
    assert v.loss.model_dump() == {"producer": 0, "broker": 0, "consumer": 0}
    assert v.counts.unknown <= 1  # at most the one send the kill interrupted
    assert v.counts.in_log >= 300


def test_outbox_producer_killed_and_restarted_loses_nothing(scenario: Scenario) -> None:
    producer = scenario.producer(mode="outbox", count=3000, rate=3000, settings={"acks": "all", "linger.ms": "500"})
    producer.start()
    scenario.wait_for("acked", 1, timeout=60)
    producer.kill()
    producer.start()
    assert producer.wait(180) == 0, producer.log_tail()
    v = scenario.verdict()
    assert v.counts.sent == 3000
    assert v.loss.model_dump() == {"producer": 0, "broker": 0, "consumer": 0}
    # A kill between the intent and the outbox commit leaves that batch unknown (never stored, so the
    # application never went on); everything stored reached the log.
    assert v.counts.in_log + v.counts.unknown == 3000
    assert v.counts.in_log > 0


def fill_topic(scenario: Scenario, count: int) -> None:
    producer = scenario.producer(id="seed", mode="async", count=count, settings={"acks": "all", "linger.ms": "5"})
    producer.start()
    assert producer.wait(300) == 0, producer.log_tail()


def test_auto_commit_consumer_with_batch_buffer_killed_loses_records(
    scenario: Scenario, kafka_cluster: KafkaCluster
) -> None:
    # A live producer at a steady rate: once the consumer has caught up, its buffer fills over seconds
    # while auto-commit (every 100 ms) commits what was polled.
    producer = scenario.producer(mode="async", rate=2000, settings={"acks": "all", "linger.ms": "5"})
    consumer = scenario.consumer(
        strategy="auto",
        batch_size=5000,
        process_ms=2000,  # committed stays a whole batch ahead of processed for 2 s of each cycle
        settings={**FAST_GROUP, "auto.commit.interval.ms": "100", "max.poll.records": "500"},
    )
    producer.start()
    consumer.start()
    seen = [""]

    def processed_high() -> dict[int, int]:
        high: dict[int, int] = {}
        for chunk in read_records(scenario.run_dir / "ledgers" / "consumer-c0.processed", PROCESSED):
            for part in np.unique(chunk["partition"]).tolist():
                top = int(chunk["offset"][chunk["partition"] == part].max())
                high[part] = max(high.get(part, -1), top)
        return high

    def committed_beyond_processed() -> bool:
        # By position, not by count: records committed above the highest offset processed in their
        # partition (a member restarted by its liveness check re-reads, which counts cannot tell).
        # Committed offsets only grow, so they are read first and the processed ledger after them.
        try:
            committed = committed_offsets(kafka_cluster.bootstrap_servers, scenario.topic.name, [scenario.group])
        except KafkaError as e:  # the group's coordinator is still loading
            seen[0] = f"committed offsets unreadable: {e!r}"
            return False
        offsets = committed.get(scenario.group, {})
        high = processed_high()
        ahead = sum(max(0, off - (high.get(part, -1) + 1)) for part, off in offsets.items())
        seen[0] = f"processed up to {high}, committed {offsets}, {ahead} committed and unprocessed"
        return ahead > 1000

    # Kill in the hazard itself: the client has auto-committed over 1000 records the application still
    # holds unprocessed in its buffer. The batch may finish between the look and the kill, so the
    # hazard is checked again once the member is dead (its ledger is then final); if the batch won
    # that race, the member is restarted and the kill tried again.
    for attempt in range(1, 4):
        try:
            wait_until(committed_beyond_processed, 120, "auto-commit to run ahead of processing", seen=lambda: seen[0])
        except Exception as e:
            e.add_note(f"--- consumer ---\n{consumer.log_tail(40)}\n--- producer ---\n{producer.log_tail()}")
            raise
        consumer.kill()
        if committed_beyond_processed():
            break
        assert attempt < 3, f"the batch finished before every kill: {seen[0]}"
        consumer.start()
    at_kill = scenario.totals().processed
    consumer.start()
    # Stop only once the restarted member has been assigned and processed from the committed offsets;
    # until the dead member is evicted the group has no assignment for it.
    scenario.wait_for("processed", at_kill + 1)
    assert consumer.stop(60) == 0 and not consumer.escalated, consumer.log_tail()
    assert producer.stop(60) == 0 and not producer.escalated, producer.log_tail()
    v = scenario.verdict()
    assert v.figures.consumer > 1000, (v.counts, v.details)
    assert v.figures.producer == 0 and v.figures.broker == 0
    example = v.examples["consumer"][0]
    end = json.loads((scenario.run_dir / "drain" / "drain.json").read_text())["end_offsets"][str(example["partition"])]
    assert 0 <= example["offset"] < end


def test_after_process_consumer_killed_and_restarted_loses_nothing(scenario: Scenario) -> None:
    fill_topic(scenario, 20_000)
    consumer = scenario.consumer(
        strategy="after_process", batch_size=5000, process_ms=300, settings={**FAST_GROUP, "max.poll.records": "500"}
    )
    consumer.start()
    scenario.wait_for("processed", 1)
    time.sleep(0.5)
    consumer.kill()
    consumer.start()
    # Distinct records: a batch processed before the kill but not committed is processed again, and
    # counting every processing would end the wait before the last records were reached.
    scenario.wait_for("processed_distinct", 20_000)
    assert consumer.stop(60) == 0 and not consumer.escalated, consumer.log_tail()
    processings = scenario.totals().processed
    v = scenario.verdict()
    assert v.loss.model_dump() == {"producer": 0, "broker": 0, "consumer": 0}
    assert v.counts.processed == 20_000
    # commitSync after processing: what was processed before the kill and not committed comes again.
    assert v.anomalies["duplicates_processed"] == processings - 20_000


def test_reconcile_cli_gives_the_same_answer_every_time(scenario: Scenario) -> None:
    fill_topic(scenario, 500)
    judged = scenario.verdict()
    # reconcile recomputes from files alone: what the run knew besides them (workload restarts,
    # recovery) is not part of its answer, everything else is.
    again = reconcile(scenario.run_dir)
    assert (again.counts, again.loss, again.anomalies) == (judged.counts, judged.loss, judged.anomalies)
    assert again.counts.in_log == 500
    first = again.model_dump(mode="json")
    for _ in range(2):
        proc = subprocess.run(
            [sys.executable, "-m", "chaos.cli", "reconcile", str(scenario.run_dir), "--json"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout) == first
    assert reconcile(scenario.run_dir).model_dump(mode="json") == first


def test_a_drain_that_cannot_read_a_partition_fails_within_its_timeout(
    kafka_cluster: KafkaCluster, tmp_path: Path
) -> None:
    """A partition without a leader: the drain says so within its own timeout (never hangs on the
    client's), writes no completed drain, and the oracle refuses to judge rather than report loss."""
    with Scenario(kafka_cluster, tmp_path / "offline", partitions=1, replication_factor=1, topic_config={}) as s:
        fill_topic(s, 200)
        only = kafka_cluster.leader_of(s.topic.name, 0)
        only.kill()
        try:
            started = time.monotonic()
            with pytest.raises(InfrastructureError, match="drain"):
                s.drain([], timeout=5)
            # bounded by the drain's 5 s, not the client's 305 s request timeout
            assert time.monotonic() - started < 120
            assert not (s.run_dir / "drain" / "drain.json").exists()
            with pytest.raises(UsageError, match="no completed drain"):
                reconcile(s.run_dir)
        finally:
            only.start()
            kafka_cluster.wait_healthy(120)
            kafka_cluster.wait_for_isr(s.topic.name, 1, timeout=120)  # its one replica leads again
        s.drain([], timeout=60)  # with its leader back, the same partition drains completely
        assert reconcile(s.run_dir).counts.in_log == 200
