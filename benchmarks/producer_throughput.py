"""Producer workload throughput against a bare kafka-python producer, side by side on one cluster.

Both send the same number of records of the same size with the same settings (acks=all,
linger.ms=5 by default) to their own topic and wait for every acknowledgement; both are timed from
creating the client to closing it. The workload also
builds the checksum envelope and writes intent, returned and ack ledger records for every record.
Runs alternate (bare, workload, bare, …) so drift hits both; prints medians and the ratio.

Usage: python3 benchmarks/producer_throughput.py [--records 50000] [--runs 3] [--size 100]
Target: workload / bare >= 0.8.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from kafka import KafkaProducer
from shared import SETTINGS, parser, producer_spec, three_brokers, workload_rate

from chaos.cluster import KafkaCluster
from chaos.workloads.envelope import payload_for
from chaos.workloads.settings import producer_settings


def bare(cluster: KafkaCluster, topic: str, records: int, size: int) -> float:
    kwargs = producer_settings(SETTINGS).kwargs
    value = payload_for(0, size + 40)  # about the envelope's size
    acked = 0

    def on_ack(_: object) -> None:
        nonlocal acked
        acked += 1

    # Timed like the workload: from creating the client to closing it.
    t0 = time.perf_counter()
    producer = KafkaProducer(bootstrap_servers=cluster.bootstrap_servers.split(","), **kwargs)
    for i in range(records):
        producer.send(topic, key=b"%d" % i, value=value).add_callback(on_ack)
    producer.flush()
    producer.close()
    elapsed = time.perf_counter() - t0
    assert acked == records
    return records / elapsed


def workload(cluster: KafkaCluster, topic: str, records: int, size: int, run_dir: Path) -> float:
    spec = producer_spec(cluster.bootstrap_servers, cluster.run_id, topic, records, run_dir, payload_size=size)
    return workload_rate(spec)


def main() -> None:
    options = parser(__doc__)
    options.add_argument("--records", type=int, default=50_000)
    options.add_argument("--runs", type=int, default=3)
    options.add_argument("--size", type=int, default=100)
    args = options.parse_args()
    with three_brokers() as (cluster, tmp):
        b_rates, w_rates = [], []
        for i in range(args.runs):
            topic_b, topic_w = f"bare-{i}", f"workload-{i}"
            for t in (topic_b, topic_w):
                cluster.create_topic(t, partitions=3, replication_factor=3)
            b_rates.append(bare(cluster, topic_b, args.records, args.size))
            w_rates.append(workload(cluster, topic_w, args.records, args.size, tmp / f"run-{i}"))
            print(f"run {i + 1}: bare {b_rates[-1]:8.0f} rec/s   workload {w_rates[-1]:8.0f} rec/s", flush=True)
        b, w = statistics.median(b_rates), statistics.median(w_rates)
        print(f"\n{args.records} records x {args.size} B, {SETTINGS}, median of {args.runs}")
        print(f"bare kafka-python {b:.0f} rec/s, workload {w:.0f} rec/s, ratio {w / b:.2f} (target >= 0.8)")


if __name__ == "__main__":
    main()
