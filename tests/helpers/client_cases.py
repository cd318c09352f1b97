"""The per-driver acceptance's shared parts (``tests/integration/test_clients.py`` for the built-in
clients, ``test_external_clients.py`` for the example external ones): settings, kills, what every
verdict of a run without broker faults must hold, and the group's committed offsets against what a
member processed. Also the example external clients' descriptions (``examples/clients/``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from kafka.errors import KafkaError

from chaos.cluster import KafkaCluster
from chaos.oracle import Verdict
from chaos.rundir import LEDGERS
from chaos.scenario import Scenario
from chaos.workloads.drain import committed_offsets
from chaos.workloads.external import ExternalClient
from chaos.workloads.ledger import PROCESSED, read_records
from chaos.workloads.process import WorkloadProcess

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "clients"
#: The example external clients, one folder each under examples/clients/.
EXAMPLE_CLIENTS = ("franz-go", "kafkajs")


def example_client(name: str) -> ExternalClient:
    """The description an example driver ships in its ``client.json``, its paths from its folder.

    Raises:
        UsageError: a malformed description.
    """
    folder = EXAMPLES / name
    return ExternalClient.from_json(json.loads((folder / "client.json").read_text())).anchored(folder)


def fast_group(client: str) -> dict[str, str]:
    """A killed member is evicted within seconds and a rebalance completes within 20 s (see
    test_workloads). kafka-python keeps the 6 s session: its heartbeat thread shares the GIL with
    the workload, and a shorter session on two busy cores evicts live members."""
    session, heartbeat = ("6000", "1500") if client == "kafka-python" else ("2000", "500")
    return {"session.timeout.ms": session, "heartbeat.interval.ms": heartbeat, "max.poll.interval.ms": "20000"}


#: Records sit in the client's buffer for a second before they are sent (the outbox's forwarder).
LINGERING = {"acks": "all", "linger.ms": "1000", "batch.size": "1048576"}
#: Records sit in the client's buffer until the producer closes: a batch (1 MiB) holds more than
#: these tests send, and the linger outlasts them. A kill after the first sends always finds some,
#: however late it comes (a second's linger did not: a producer that started slowly sent all its
#: records in one burst, and they were acknowledged before the kill).
BUFFERING = {"acks": "all", "linger.ms": "60000", "batch.size": "1048576"}


def exact(scenario: Scenario, sent: int) -> Verdict:
    """The verdict of a run without broker faults, checked for what must hold whatever the client:
    conclusive, intact ledgers, every sent record in exactly one place, nothing lost by the broker,
    nothing in the log that was not sent."""
    v = scenario.verdict()
    c = v.counts.model_dump()
    assert v.conclusive and v.trust.ledgers_intact, v.trust
    assert c["sent"] == sent, c
    assert v.figures.broker == 0, (v.loss, v.examples)
    assert v.anomalies["phantom"] == 0 and v.anomalies["corrupted"] == 0, v.anomalies
    assert v.anomalies["inconsistent_offsets"] == 0, v.anomalies
    placed = c["in_log"] + c["damaged"] + c["failed"] + c["unknown"] + v.figures.producer + v.figures.broker
    assert placed == c["sent"], (c, v.loss)
    return v


def kill_while_buffered(scenario: Scenario, producer: WorkloadProcess) -> None:
    """Kill a BUFFERING producer once it has sent 300 records (none of them can have left the client),
    then let it finish: its close sends the rest."""
    producer.start()
    scenario.wait_for("sent", 300, timeout=90)
    producer.kill()
    producer.start()  # continues after the last sequence number it intended
    assert producer.wait(120) == 0, producer.log_tail()


def kill_mid_flight(scenario: Scenario, producer: WorkloadProcess) -> None:
    """Kill a producer once 300 of its records are acknowledged, then let it finish."""
    producer.start()
    scenario.wait_for("acked", 300, timeout=90)
    producer.kill()
    producer.start()  # continues after the last sequence number it intended
    assert producer.wait(120) == 0, producer.log_tail()


def kill_sync(scenario: Scenario, producer: WorkloadProcess) -> None:
    """Kill a synchronous producer after its first acknowledgements, then let it finish."""
    producer.start()
    scenario.wait_for("acked", 3, timeout=90)
    producer.kill()
    producer.start()
    assert producer.wait(240) == 0, producer.log_tail()


def committed_ahead(scenario: Scenario, cluster: KafkaCluster, member: str, seen: list[str]) -> int:
    """Records committed above the highest offset the member processed in their partition."""
    high: dict[int, int] = {}
    for chunk in read_records(scenario.run_dir / LEDGERS / f"consumer-{member}.processed", PROCESSED):
        for part in np.unique(chunk["partition"]).tolist():
            high[part] = max(high.get(part, -1), int(chunk["offset"][chunk["partition"] == part].max()))
    try:
        offsets = committed_offsets(cluster.bootstrap_servers, scenario.topic.name, [scenario.group])
    except KafkaError as e:
        seen[0] = f"committed offsets unreadable: {e!r}"
        return 0
    committed = offsets.get(scenario.group, {})
    seen[0] = f"processed up to {high}, committed {committed}"
    return sum(max(0, off - (high.get(part, -1) + 1)) for part, off in committed.items())


def committed_total(scenario: Scenario, cluster: KafkaCluster) -> int:
    """The group's committed offsets summed over the partitions (0 while they cannot be read)."""
    try:
        offsets = committed_offsets(cluster.bootstrap_servers, scenario.topic.name, [scenario.group])
    except KafkaError:
        return 0
    return sum(offsets.get(scenario.group, {}).values())
