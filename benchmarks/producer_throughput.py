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

import argparse
import logging
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from kafka import KafkaProducer

from chaos.cluster import ClusterSpec, KafkaCluster
from chaos.workloads.envelope import payload_for
from chaos.workloads.producer import ProducerWorkload
from chaos.workloads.settings import producer_settings
from chaos.workloads.spec import ProducerSpec

SETTINGS = {"acks": "all", "linger.ms": "5", "batch.size": "65536"}


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
    spec = ProducerSpec(
        id=f"p{uuid.uuid4().hex[:6]}",
        topic=topic,
        bootstrap_servers=cluster.bootstrap_servers,
        run_id=cluster.run_id,
        run_dir=str(run_dir),
        mode="async",
        settings=SETTINGS,
        count=records,
        payload_size=size,
    )
    w = ProducerWorkload(spec)
    t0 = time.perf_counter()
    sent = w.run()
    elapsed = time.perf_counter() - t0
    assert sent == records
    return records / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--size", type=int, default=100)
    args = parser.parse_args()
    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    with tempfile.TemporaryDirectory() as tmp, KafkaCluster(ClusterSpec(brokers=3), run_dir=Path(tmp) / "c") as cluster:
        b_rates, w_rates = [], []
        for i in range(args.runs):
            topic_b, topic_w = f"bare-{i}", f"workload-{i}"
            for t in (topic_b, topic_w):
                cluster.create_topic(t, partitions=3, replication_factor=3)
            b_rates.append(bare(cluster, topic_b, args.records, args.size))
            w_rates.append(workload(cluster, topic_w, args.records, args.size, Path(tmp) / f"run-{i}"))
            print(f"run {i + 1}: bare {b_rates[-1]:8.0f} rec/s   workload {w_rates[-1]:8.0f} rec/s", flush=True)
        b, w = statistics.median(b_rates), statistics.median(w_rates)
        print(f"\n{args.records} records x {args.size} B, {SETTINGS}, median of {args.runs}")
        print(f"bare kafka-python {b:.0f} rec/s, workload {w:.0f} rec/s, ratio {w / b:.2f} (target >= 0.8)")


if __name__ == "__main__":
    main()
