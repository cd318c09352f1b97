"""What kcfs costs: a broker's write throughput with its data on kcfs against the container's own
filesystem, side by side.

Two single-broker clusters run at once, one ``disk: plain`` and one ``disk: kcfs``; Apache Kafka's
own ``ProducerPerformance`` runs inside each broker's container against that broker's internal
listener (no proxy, no host network), acks=1, 100-byte records, to a topic of its own. Runs
alternate (plain, kcfs, plain, …) so drift hits both; prints the medians and their ratio. With
``--flush`` the topics fsync every append (``flush.messages=1``), the B6b setting.

Usage: python3 benchmarks/kcfs_throughput.py [--records 1000000] [--runs 3] [--flush]
"""

from __future__ import annotations

import argparse
import re
import statistics
import uuid

from chaos.cluster import ClusterSpec, KafkaCluster
from chaos.cluster.config import INTERNAL_PORT

PERF = "org.apache.kafka.tools.ProducerPerformance"
RATE = re.compile(r"(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\)")


def run_once(cluster: KafkaCluster, records: int, flush: bool) -> float:
    """Records per second of one ProducerPerformance run on ``cluster``'s only broker."""
    topic = f"bench-{uuid.uuid4().hex[:8]}"
    cluster.create_topic(topic, partitions=1, replication_factor=1, config={"flush.messages": "1"} if flush else None)
    node = cluster.brokers[0]
    code, out = node.exec(
        [
            "java",
            "-Xmx256m",
            "-cp",
            "/opt/kafka/libs/*",
            PERF,
            "--topic",
            topic,
            "--num-records",
            str(records),
            "--record-size",
            "100",
            "--throughput",
            "-1",
            "--producer-props",
            f"bootstrap.servers={node.host}:{INTERNAL_PORT}",
            "acks=1",
            "linger.ms=5",
            "batch.size=65536",
        ]
    )
    match = RATE.findall(out)
    if code != 0 or not match:
        raise RuntimeError(f"ProducerPerformance failed (exit {code}): {out[-500:]}")
    return float(match[-1][1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--flush", action="store_true", help="fsync every append (flush.messages=1)")
    args = parser.parse_args()
    with (
        KafkaCluster(ClusterSpec(brokers=1, heap="1g")) as plain,
        KafkaCluster(ClusterSpec(brokers=1, heap="1g", disk="kcfs")) as kcfs,
    ):
        results: dict[str, list[float]] = {"plain": [], "kcfs": []}
        for i in range(args.runs):
            for name, cluster in (("plain", plain), ("kcfs", kcfs)):
                rate = run_once(cluster, args.records, args.flush)
                results[name].append(rate)
                print(f"run {i + 1} {name:5s} {rate:12,.0f} records/s", flush=True)
    plain_median, kcfs_median = (statistics.median(results[k]) for k in ("plain", "kcfs"))
    print(f"median plain {plain_median:,.0f} records/s, kcfs {kcfs_median:,.0f} records/s")
    print(f"kcfs / plain = {kcfs_median / plain_median:.2f}" + (" (flush.messages=1)" if args.flush else ""))


if __name__ == "__main__":
    main()
