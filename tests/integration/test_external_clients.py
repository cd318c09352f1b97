"""The example external clients (``examples/clients/``: franz-go in Go, KafkaJS in Node), written
from docs/clients.md and speaking the line protocol, on a real cluster: the per-driver acceptance
the built-in clients pass in ``test_clients.py`` — a round trip, a SIGKILL in each producer mode they
offer, a consumer kill under each commit strategy they offer — with the same exact verdicts.

The test command runs a round trip and a before_process consumer kill of each (the lines of both
ways, and a kill); the other cases are marked ``extended`` and run with ``-m extended``
(``scripts/setup``'s main job does): 14 cases in about 90 s here.
"""

from __future__ import annotations

import pytest

from chaos.cluster import KafkaCluster
from chaos.rundir import LEDGERS
from chaos.scenario import Scenario
from chaos.waiting import wait_until
from chaos.workloads.external import ExternalClient
from chaos.workloads.ledger import read_meta
from tests.helpers.client_cases import (
    BUFFERING,
    EXAMPLE_CLIENTS,
    committed_ahead,
    committed_total,
    exact,
    fast_group,
    kill_sync,
    kill_while_buffered,
)
from tests.helpers.real_cluster import QUICK

pytestmark = QUICK
EXTENDED = pytest.mark.extended


@pytest.mark.parametrize("name", EXAMPLE_CLIENTS)
def test_round_trip(scenario: Scenario, example_clients: dict[str, ExternalClient], name: str) -> None:
    client = example_clients[name]
    settings = {"acks": "all", "linger.ms": "5"}
    producer = scenario.producer(mode="async", count=3000, client=name, external=client, settings=settings)
    consumer = scenario.consumer(strategy="after_process", batch_size=200, client=name, external=client)
    consumer.start()
    producer.start()
    assert producer.wait(120) == 0, producer.log_tail()
    scenario.wait_for("processed_distinct", 3000)
    assert consumer.stop(60) == 0 and not consumer.escalated, consumer.log_tail()
    v = scenario.verdict()
    assert v.counts.acked == 3000 and v.counts.in_log == 3000 and v.counts.processed == 3000, v.counts
    assert v.loss.model_dump() == {"producer": 0, "broker": 0, "consumer": 0}
    assert all(n == 0 for n in v.anomalies.values()), v.anomalies
    # the meta the harness wrote from the lines: the file's settings, the client's own isolation level
    meta = read_meta(scenario.run_dir / LEDGERS / "producer-p0.json")
    assert meta["mode"] == "async" and meta["client"] == name and meta["settings"] == settings
    member = read_meta(scenario.run_dir / LEDGERS / "consumer-c0.json")
    assert member["isolation_level"] == client.isolation_level
    assert producer.lines is not None and producer.lines.torn == 0


@EXTENDED
@pytest.mark.parametrize("name", EXAMPLE_CLIENTS)
@pytest.mark.parametrize("mode", ["fire_and_forget", "async"])
def test_streaming_producer_killed_loses_what_it_buffered(
    scenario: Scenario, example_clients: dict[str, ExternalClient], name: str, mode: str
) -> None:
    producer = scenario.producer(
        mode=mode, count=6000, rate=2000, client=name, external=example_clients[name], settings=BUFFERING
    )
    kill_while_buffered(scenario, producer)
    v = exact(scenario, 6000)
    # Every send that returned before the kill sat in the client's buffer (KafkaJS: the driver's own,
    # which keeps linger.ms and batch.size as the Java client does); nothing the driver had printed
    # was lost with it, so those records are the producer's loss.
    assert v.figures.producer > 0, v.loss


@EXTENDED
@pytest.mark.parametrize("name", EXAMPLE_CLIENTS)
def test_sync_producer_killed_loses_nothing(
    scenario: Scenario, example_clients: dict[str, ExternalClient], name: str
) -> None:
    producer = scenario.producer(
        mode="sync", count=1000, rate=1500, client=name, external=example_clients[name], settings={"acks": "all"}
    )
    kill_sync(scenario, producer)
    v = exact(scenario, 1000)
    assert v.figures.producer == 0, v.loss
    # What is unknown is the one synchronous send the kill cut before the application went on.
    assert v.counts.in_log + v.counts.unknown == 1000 and v.counts.unknown <= 1, v.counts


@pytest.mark.parametrize("name", EXAMPLE_CLIENTS)
@pytest.mark.parametrize("strategy", [pytest.param("auto", marks=EXTENDED), "before_process"])
def test_consumer_committing_ahead_killed_loses_records(
    scenario: Scenario,
    kafka_cluster: KafkaCluster,
    example_clients: dict[str, ExternalClient],
    name: str,
    strategy: str,
) -> None:
    # As test_clients.py constructs it: the topic is written first, a member whose processing takes a
    # minute commits ahead of it (auto-commit every 100 ms of small, slow fetches; or a commit before
    # each poll of up to 500 records), is killed while it does, and a quick member reads on from the
    # commit: exactly the records committed and not processed are lost.
    client = example_clients[name]
    producer = scenario.producer(
        mode="async", count=5000, rate=2500, client=name, external=client, settings={"acks": "all"}
    )
    settings = {**fast_group(name), "max.poll.records": "500", "max.poll.interval.ms": "70000"}
    poll_timeout_ms = 200
    if strategy == "auto":
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
        client=name,
        external=client,
        settings=settings,
        poll_timeout_ms=poll_timeout_ms,
    )
    quick = scenario.consumer(
        "c1",
        strategy="after_process",
        batch_size=500,
        process_ms=0,
        client=name,
        external=client,
        settings=fast_group(name),
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
    wait_until(lambda: committed_total(scenario, kafka_cluster) == 5000, 120, "the quick member to catch up")
    assert quick.stop(60) == 0, quick.log_tail()
    v = exact(scenario, 5000)
    assert v.loss.model_dump() == {"producer": 0, "broker": 0, "consumer": lost}, (v.loss, seen[0])


@EXTENDED
@pytest.mark.parametrize("name", EXAMPLE_CLIENTS)
def test_consumer_committing_after_processing_killed_loses_nothing(
    scenario: Scenario, example_clients: dict[str, ExternalClient], name: str
) -> None:
    client = example_clients[name]
    producer = scenario.producer(
        mode="async", count=8000, rate=2000, client=name, external=client, settings={"acks": "all"}
    )
    consumer = scenario.consumer(
        strategy="after_process",
        batch_size=500,
        process_ms=200,
        client=name,
        external=client,
        settings=fast_group(name),
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
