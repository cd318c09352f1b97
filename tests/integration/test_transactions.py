"""Transactions on a real cluster: a transactional producer committing and aborting on purpose, read
by a read_uncommitted and a read_committed group; the producer killed mid-transaction. The oracle
must count each transaction's ending, see the aborted records the read_uncommitted group processed
(claim T2) and none in the read_committed group (T3), and never call an aborted record lost.
Consume-transform-produce members: exactly once, killed mid-transaction, outputs each input once
(T1); at least once, killed before its commit, writes outputs again (T4)."""

from __future__ import annotations

import json
import time

import pytest
from kafka import KafkaConsumer, TopicPartition

from chaos.cluster import KafkaCluster
from chaos.oracle import Verdict
from chaos.rundir import LEDGERS
from chaos.scenario import Scenario
from chaos.waiting import wait_until
from chaos.workloads.ledger import PROCESSED, PRODUCER_EVENT, Kind, read_records
from chaos.workloads.spec import ProducerSpec

pytestmark = pytest.mark.kafka_cluster(brokers=3)

TXN = {"acks": "all", "transaction.timeout.ms": "10000", "linger.ms": "5"}
TRANSACTIONAL_CLIENTS = ("kafka-python", "librdkafka", "java")


def readers(scenario: Scenario, client: str) -> None:
    """One member reading every record (read_uncommitted), one in another group reading committed ones."""
    for isolation in ("read_uncommitted", "read_committed"):
        scenario.consumer(
            id=f"c-{isolation.split('_')[1]}",
            group=f"{scenario.group}-{isolation}",
            client=client,
            strategy="after_process",
            settings={"isolation.level": isolation},
        ).start()


def clean(v: Verdict) -> None:
    """Conclusive, nothing lost anywhere, no transactional anomaly."""
    assert v.conclusive, v.trust
    assert v.loss.model_dump() == {"producer": 0, "broker": 0, "consumer": 0}, (v.counts, v.examples)
    assert v.anomalies["aborted_read"] == 0, v.examples["aborted_read"]
    assert v.anomalies["lost_committed_write"] == 0, v.examples["lost_committed_write"]
    assert v.anomalies["torn_transaction"] == 0
    assert v.anomalies["duplicates_in_log"] == 0 and v.anomalies["poll_skips"] == 0


#: kafka-python's case runs under ``-m extended`` (the claims suite's T2 and T3 show it on every client):
#: the test command keeps the two others within its time.
@pytest.mark.parametrize("client", [pytest.param("kafka-python", marks=pytest.mark.extended), "librdkafka", "java"])
def test_aborted_transactions_reach_read_uncommitted_readers_only(scenario: Scenario, client: str) -> None:
    producer = scenario.producer(
        mode="transactional", client=client, count=3000, transaction_size=100, abort_ratio=0.3, settings=TXN
    )
    readers(scenario, client)
    producer.start()
    assert producer.wait(180) == 0, producer.log_tail()
    # every committed record once by the read_committed member, every record once by the other
    scenario.wait_for("processed", 3000 + 2100, timeout=120)
    v = scenario.verdict()
    clean(v)
    t = v.transaction_figures.model_dump()
    assert (t["committed"], t["aborted"], t["unknown"]) == (21, 9, 0), t
    assert t["committed_records"] == 2100 and t["aborted_records"] == 900
    assert t["aborted_processed"] == 900, t  # T2: read_uncommitted hands aborted records to the application
    assert v.counts.in_log == 3000 and v.counts.aborted == 0  # an aborted record stays in the log
    assert v.details.log_records == 3000
    # every offset the drain skipped is a commit or abort marker in the leader's segment files
    drain = json.loads((scenario.run_dir / "drain" / "drain.json").read_text())
    assert drain["markers_verified"] is True and sum(drain["markers"].values()) >= 30, drain


def test_producer_killed_mid_transaction_leaves_it_aborted_and_nothing_lost(scenario: Scenario) -> None:
    # 5000 records a transaction at 1000/s: the first commit is 5 s away when the kill comes.
    producer = scenario.producer(mode="transactional", rate=1000, transaction_size=5000, settings=TXN)
    readers(scenario, "kafka-python")
    producer.start()
    scenario.wait_for("acked", 1000, timeout=60)
    producer.kill()  # a transaction is open: its records are in the log, its commit never asked for
    ledger = scenario.run_dir / LEDGERS / "producer-p0.events"
    endings = sum(int((c["kind"] >= Kind.COMMITTING).sum()) for c in read_records(ledger, PRODUCER_EVENT))
    assert endings == 0, "the kill came after the first transaction ended"
    abandoned = scenario.totals().acked
    producer.start()  # init_transactions() fences the dead one; the coordinator aborts its transaction
    scenario.wait_for("acked", abandoned + 500, timeout=60)
    assert producer.stop(60) == 0, producer.log_tail()  # a clean stop commits the open transaction
    acked = scenario.totals().acked
    uncommitted = scenario.run_dir / LEDGERS / "consumer-c-uncommitted.processed"
    wait_until(
        lambda: uncommitted.stat().st_size // PROCESSED.itemsize >= acked,
        60,
        "the read_uncommitted member to process every record in the log",
    )
    v = scenario.verdict()
    clean(v)
    t = v.transaction_figures.model_dump()
    assert t["abandoned_records"] >= abandoned and (t["committed"], t["unknown"]) == (1, 0), t
    assert t["aborted_processed"] >= abandoned, t  # read_uncommitted took the abandoned records too
    assert v.counts.processed >= acked and v.counts.in_log >= acked


def open_transactions(bootstrap: str, topic: str) -> int:
    """How many partitions of ``topic`` have an open transaction (last stable offset below the end)."""
    ends = []
    for isolation in ("read_uncommitted", "read_committed"):
        reader = KafkaConsumer(bootstrap_servers=bootstrap.split(","), isolation_level=isolation)
        tps = [TopicPartition(topic, p) for p in sorted(reader.partitions_for_topic(topic) or [])]
        ends.append(reader.end_offsets(tps))
        reader.close()
    return sum(1 for tp, end in ends[0].items() if ends[1][tp] != end)


def output_of(scenario: Scenario) -> str:
    return f"{scenario.topic.name}-out"


#: Java's case in the command; the others under ``-m extended`` (the claims suite's T1 runs every client).
@pytest.mark.parametrize(
    "client", [pytest.param(c, marks=pytest.mark.extended) if c != "java" else c for c in TRANSACTIONAL_CLIENTS]
)
def test_exactly_once_transformer_killed_mid_transaction_outputs_each_input_once(
    scenario: Scenario, kafka_cluster: KafkaCluster, client: str
) -> None:
    producer = scenario.producer(rate=2000, count=12_000, settings={"acks": "all", "linger.ms": "5"})
    # A transaction stays open for the 1.5 s each poll's records are "processed": the kill finds one.
    member = scenario.consumer(
        client=client,
        strategy="transactional",
        process_ms=1500,
        output_topic=output_of(scenario),
        output_settings={"transaction.timeout.ms": "10000"},
        settings={"session.timeout.ms": "6000", "heartbeat.interval.ms": "1500", "max.poll.records": "2000"},
    )
    member.start()
    producer.start()
    for attempt in range(1, 4):
        scenario.wait_for("processed", 1 + scenario.totals().processed, timeout=60)
        time.sleep(0.5)  # into the next transaction's processing
        member.kill()
        if open_transactions(kafka_cluster.bootstrap_servers, output_of(scenario)):
            break
        assert attempt < 3, "no transaction was open at any of three kills"
        member.start()
    member.start()  # its init_transactions() fences the dead member's transaction, which is aborted
    assert producer.wait(120) == 0, producer.log_tail()
    scenario.wait_for("processed_distinct", 12_000, timeout=120)
    assert member.stop(60) == 0, member.log_tail()
    v = scenario.verdict()
    assert v.conclusive, v.trust
    assert v.loss.model_dump() == {"producer": 0, "broker": 0, "consumer": 0}, (v.counts, v.examples)
    assert v.anomalies["duplicate_outputs"] == 0, v.examples["duplicate_outputs"]  # T1
    assert v.transform_figures.inputs_with_output == 12_000 and v.transform_figures.records == 12_000, v.transform
    assert v.counts.processed == 12_000


@pytest.mark.parametrize("client", ["kafka-python", "java"])
def test_at_least_once_transformer_killed_writes_duplicate_outputs(
    scenario: Scenario, kafka_cluster: KafkaCluster, client: str
) -> None:
    producer = scenario.producer(rate=2000, count=8000, settings={"acks": "all", "linger.ms": "5"})
    # Outputs go out as records are polled; offsets are committed every 100,000 records (never,
    # before the kill): every output written so far is of an uncommitted input.
    member = scenario.consumer(
        client=client,
        strategy="after_process",
        batch_size=100_000,
        output_topic=output_of(scenario),
        settings={"session.timeout.ms": "6000", "heartbeat.interval.ms": "1500"},
    )
    member.start()
    producer.start()
    reader = KafkaConsumer(bootstrap_servers=kafka_cluster.bootstrap_servers.split(","))
    outputs = [TopicPartition(output_of(scenario), p) for p in range(3)]

    def written() -> int:
        return int(sum(reader.end_offsets(outputs).values()))

    wait_until(lambda: written() >= 1000, 60, "the member to write 1000 outputs")
    member.kill()
    before_kill = written()
    reader.close()
    member.start()  # reads again from the committed offsets (none): every output is written again
    assert producer.wait(120) == 0, producer.log_tail()
    scenario.wait_for("processed_distinct", 8000, timeout=120)
    assert member.stop(60) == 0, member.log_tail()
    v = scenario.verdict()
    assert v.conclusive, v.trust
    assert v.loss.model_dump() == {"producer": 0, "broker": 0, "consumer": 0}, (v.counts, v.examples)
    assert v.anomalies["duplicate_outputs"] >= before_kill, v.transform  # T4
    assert v.transform_figures.inputs_with_output == 8000


def test_the_transaction_coordinator_target_kills_the_broker_coordinating_the_producer(
    scenario: Scenario, kafka_cluster: KafkaCluster
) -> None:
    producer = scenario.producer(
        mode="transactional", client="librdkafka", rate=1000, transaction_size=200, settings=TXN
    )
    readers(scenario, "librdkafka")
    producer.start()
    scenario.wait_for("acked", 1000, timeout=60)
    spec = producer.spec
    assert isinstance(spec, ProducerSpec)
    coordinator = kafka_cluster.metadata.coordinator("transaction", spec.transactional_id)
    fault = scenario.inject("broker_kill", target="transaction_coordinator")
    assert fault.targets == [kafka_cluster.node(coordinator).host]
    assert kafka_cluster.node(coordinator).state != "running"
    scenario.heal_all()
    scenario.recover(120)
    at_heal = scenario.totals().acked
    scenario.wait_for("acked", at_heal + 1000, timeout=90)  # the producer found its new coordinator
    assert producer.stop(60) == 0, producer.log_tail()
    v = scenario.verdict()
    clean(v)
    assert v.transaction_figures.committed >= 5, v.transactions
