"""The Java and librdkafka producer workloads against their clients' own bare producers, side by side.

* java: the driver (``KafkaChaosDriver``, mode async) against Apache Kafka's own
  ``kafka-producer-perf-test`` (``org.apache.kafka.tools.ProducerPerformance``), both in a JVM on the
  host with the same options and the cluster's kafka-clients jars, both timed from starting the JVM
  to its exit (JVM start included on both sides).
* librdkafka: the workload on confluent-kafka (in this process, like ``producer_throughput.py``)
  against a bare confluent-kafka producer with a delivery callback, both timed from creating the
  client to the last delivery report.

Both sides send the same number of records of the same size (the bare side's values are as long
as the workload's envelopes) with the same settings to a topic of their own. Runs alternate
(bare, workload, bare, …) so drift hits both; prints medians and ratios.

Usage: python3 benchmarks/client_throughput.py [--java-records 1000000] [--rd-records 200000] [--runs 3]
Target: workload / bare >= 0.8 for each client.
"""

from __future__ import annotations

import statistics
import subprocess
import time
from pathlib import Path

import confluent_kafka as ck
from shared import SETTINGS, SIZE, parser, producer_performance, producer_spec, three_brokers, value_size, workload_rate

from chaos.cluster import KafkaCluster
from chaos.images.java_driver import build_java_driver
from chaos.workloads.rdkafka_settings import rdkafka_producer_settings
from chaos.workloads.spec import ProducerSpec, save_spec


def java_bare(cluster: KafkaCluster, topic: str, records: int, driver_libs: Path, java: str) -> float:
    size = value_size(cluster.run_id)
    cmd = producer_performance(java, driver_libs, cluster.bootstrap_servers, topic, records, size)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return records / (time.perf_counter() - t0)


def java_workload(cluster: KafkaCluster, topic: str, records: int, run_dir: Path) -> float:
    driver = build_java_driver(cluster.spec.kafka_version)
    spec = _spec(cluster, topic, records, run_dir, "java")
    path = run_dir / "producer.json"
    save_spec(spec, path)
    t0 = time.perf_counter()
    out = subprocess.run(driver.command(path), check=True, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    assert f"sent {records}" in out.stdout, out.stdout + out.stderr
    return records / elapsed


def rd_bare(cluster: KafkaCluster, topic: str, records: int) -> float:
    config = {**rdkafka_producer_settings(SETTINGS).kwargs, "bootstrap.servers": cluster.bootstrap_servers}
    value = b"x" * value_size(cluster.run_id)
    delivered = 0

    def on_delivery(err: ck.KafkaError | None, msg: ck.Message) -> None:
        nonlocal delivered
        assert err is None, err
        delivered += 1

    t0 = time.perf_counter()
    producer = ck.Producer(config)
    for i in range(records):
        while True:
            try:
                producer.produce(topic, key=b"%d" % i, value=value, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.001)
        producer.poll(0)
    producer.flush()
    elapsed = time.perf_counter() - t0
    assert delivered == records
    return records / elapsed


def rd_workload(cluster: KafkaCluster, topic: str, records: int, run_dir: Path) -> float:
    return workload_rate(_spec(cluster, topic, records, run_dir, "librdkafka"))


def _spec(cluster: KafkaCluster, topic: str, records: int, run_dir: Path, client: str) -> ProducerSpec:
    return producer_spec(cluster.bootstrap_servers, cluster.run_id, topic, records, run_dir, client=client)


def main() -> None:
    options = parser(__doc__)
    options.add_argument("--java-records", type=int, default=1_000_000)
    options.add_argument("--rd-records", type=int, default=200_000)
    options.add_argument("--runs", type=int, default=3)
    options.add_argument("--clients", default="java,librdkafka", help="Which of java, librdkafka to measure.")
    args = options.parse_args()
    chosen = set(args.clients.split(","))
    with three_brokers() as (cluster, tmp):
        driver = build_java_driver(cluster.spec.kafka_version)
        rates: dict[str, list[float]] = {k: [] for k in ("java bare", "java workload", "rd bare", "rd workload")}
        for i in range(args.runs):
            run_dir = tmp / f"run-{i}"
            run_dir.mkdir()
            for t in ("jb", "jw", "rb", "rw"):
                cluster.create_topic(f"{t}-{i}", partitions=3, replication_factor=3)
            if "java" in chosen:
                rates["java bare"].append(java_bare(cluster, f"jb-{i}", args.java_records, driver.libs, driver.java))
                rates["java workload"].append(java_workload(cluster, f"jw-{i}", args.java_records, run_dir))
            if "librdkafka" in chosen:
                rates["rd bare"].append(rd_bare(cluster, f"rb-{i}", args.rd_records))
                rates["rd workload"].append(rd_workload(cluster, f"rw-{i}", args.rd_records, run_dir))
            print(f"run {i + 1}: " + "   ".join(f"{k} {v[-1]:8.0f} rec/s" for k, v in rates.items() if v), flush=True)
        med = {k: statistics.median(v) for k, v in rates.items() if v}
        print(f"\n{SETTINGS}, {SIZE} B payload, median of {args.runs}")
        if "java" in chosen:
            print(
                f"java ({args.java_records} records): ProducerPerformance {med['java bare']:.0f} rec/s, "
                f"workload {med['java workload']:.0f} rec/s, ratio {med['java workload'] / med['java bare']:.2f}"
            )
        if "librdkafka" in chosen:
            print(
                f"librdkafka ({args.rd_records} records): bare {med['rd bare']:.0f} rec/s, "
                f"workload {med['rd workload']:.0f} rec/s, ratio {med['rd workload'] / med['rd bare']:.2f}"
            )
        print("target: each ratio >= 0.8")


if __name__ == "__main__":
    main()
