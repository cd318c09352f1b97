"""The transactional producer mode against a bare transactional producer of the same client, side by
side: the same records (values as long as the workload's envelopes), the same settings, the same
transaction size, every transaction committed.

* kafka-python: the workload (``ProducerWorkload``, mode ``transactional``: ledger, envelopes,
  callbacks) against a bare ``KafkaProducer`` with a ``transactional_id`` and a callback per record.
* librdkafka: the same on confluent-kafka.

Both sides run in this process, timed from creating the client to the last commit. Runs alternate
(bare, workload, bare, …) so drift hits both; prints medians and ratios.

Usage: python3 benchmarks/transactional_throughput.py [--records 100000] [--transaction-size 1000] [--runs 3]
Target: workload / bare >= 0.8 for each client.
"""

from __future__ import annotations

import statistics
import time
import uuid
from pathlib import Path
from typing import Any

import confluent_kafka as ck
from kafka import KafkaProducer
from shared import SETTINGS, parser, producer_spec, three_brokers, value_size, workload_rate

from chaos.cluster import KafkaCluster
from chaos.workloads.rdkafka_settings import rdkafka_producer_settings
from chaos.workloads.settings import producer_settings


def bare(client: str, cluster: KafkaCluster, topic: str, records: int, size: int) -> float:
    """A bare transactional producer: ``size`` records per transaction, a callback per record."""
    value = b"x" * value_size(cluster.run_id)
    delivered = 0

    def counted(*_: Any) -> None:
        nonlocal delivered
        delivered += 1

    t0 = time.perf_counter()
    txn_id = f"bare-{uuid.uuid4().hex[:8]}"
    producer: Any
    if client == "librdkafka":
        config = {**rdkafka_producer_settings(SETTINGS).kwargs, "bootstrap.servers": cluster.bootstrap_servers}
        producer = ck.Producer({**config, "transactional.id": txn_id})
        producer.init_transactions(60)
    else:
        kwargs = producer_settings(SETTINGS).kwargs
        producer = KafkaProducer(
            **kwargs, bootstrap_servers=cluster.bootstrap_servers.split(","), transactional_id=txn_id
        )
        producer.init_transactions()
    for start in range(0, records, size):
        producer.begin_transaction()
        for i in range(start, min(records, start + size)):
            if client == "librdkafka":
                while True:
                    try:
                        producer.produce(topic, key=b"%d" % i, value=value, on_delivery=counted)
                        break
                    except BufferError:
                        producer.poll(0.001)
                producer.poll(0)
            else:
                producer.send(topic, key=b"%d" % i, value=value).add_callback(counted)
        producer.commit_transaction()
    elapsed = time.perf_counter() - t0
    if client == "librdkafka":
        producer.flush()
    else:
        producer.close()
    assert delivered == records, (delivered, records)
    return records / elapsed


def workload(client: str, cluster: KafkaCluster, topic: str, records: int, size: int, run_dir: Path) -> float:
    spec = producer_spec(
        cluster.bootstrap_servers,
        cluster.run_id,
        topic,
        records,
        run_dir,
        mode="transactional",
        client=client,
        transaction_size=size,
    )
    return workload_rate(spec)


def main() -> None:
    options = parser(__doc__)
    options.add_argument("--records", type=int, default=100_000)
    options.add_argument("--transaction-size", type=int, default=1000)
    options.add_argument("--runs", type=int, default=3)
    options.add_argument("--clients", default="kafka-python,librdkafka")
    args = options.parse_args()
    clients = args.clients.split(",")
    with three_brokers() as (cluster, tmp):
        rates: dict[str, list[float]] = {f"{c} {side}": [] for c in clients for side in ("bare", "workload")}
        for i in range(args.runs):
            run_dir = tmp / f"run-{i}"
            run_dir.mkdir()
            for c in clients:
                for side in ("bare", "workload"):
                    topic = f"{c[:2]}-{side[0]}-{i}"
                    cluster.create_topic(topic, partitions=3, replication_factor=3)
                    n, size = args.records, args.transaction_size
                    rate = (
                        bare(c, cluster, topic, n, size)
                        if side == "bare"
                        else workload(c, cluster, topic, n, size, run_dir)
                    )
                    rates[f"{c} {side}"].append(rate)
                    print(f"run {i} {c} {side}: {rate:,.0f} records/s", flush=True)
        for c in clients:
            b, w = statistics.median(rates[f"{c} bare"]), statistics.median(rates[f"{c} workload"])
            print(f"{c}: bare {b:,.0f} records/s, workload {w:,.0f} records/s, ratio {w / b:.2f}")


if __name__ == "__main__":
    main()
