"""Transactions on a real cluster: a transactional producer committing and aborting on purpose, read
by a read_uncommitted and a read_committed group; the producer killed mid-transaction. The oracle
must count each transaction's ending, see the aborted records the read_uncommitted group processed
(claim T2) and none in the read_committed group (T3), and never call an aborted record lost."""

from __future__ import annotations

import pytest

from chaos.oracle import Verdict
from chaos.scenario import Scenario
from chaos.waiting import wait_until
from chaos.workloads.ledger import LEDGERS, PROCESSED, PRODUCER_EVENT, Kind, read_records

pytestmark = pytest.mark.kafka_cluster(brokers=3)

TXN = {"acks": "all", "transaction.timeout.ms": "10000", "linger.ms": "5"}
TRANSACTIONAL_CLIENTS = ("kafka-python", "librdkafka")


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
    assert v.loss == {"producer": 0, "broker": 0, "consumer": 0}, (v.counts, v.examples)
    assert v.anomalies["aborted_read"] == 0, v.examples["aborted_read"]
    assert v.anomalies["lost_committed_write"] == 0, v.examples["lost_committed_write"]
    assert v.anomalies["torn_transaction"] == 0
    assert v.anomalies["duplicates_in_log"] == 0 and v.anomalies["poll_skips"] == 0


@pytest.mark.parametrize("client", TRANSACTIONAL_CLIENTS)
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
    t = v.transactions
    assert (t["committed"], t["aborted"], t["unknown"]) == (21, 9, 0), t
    assert t["committed_records"] == 2100 and t["aborted_records"] == 900
    assert t["aborted_processed"] == 900, t  # T2: read_uncommitted hands aborted records to the application
    assert v.counts["in_log"] == 3000 and v.counts["aborted"] == 0  # an aborted record stays in the log
    drain = v.details
    assert drain["log_records"] == 3000


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
    t = v.transactions
    assert t["abandoned_records"] >= abandoned and (t["committed"], t["unknown"]) == (1, 0), t
    assert t["aborted_processed"] >= abandoned, t  # read_uncommitted took the abandoned records too
    assert v.counts["processed"] >= acked and v.counts["in_log"] >= acked
