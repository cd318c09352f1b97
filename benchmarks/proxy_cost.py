"""What toxiproxy costs a client: throughput and acknowledgement latency through the proxied client
path against the brokers' own listeners (``client_path: direct``), side by side on one cluster.

Apache Kafka's own ``ProducerPerformance`` (the cluster's kafka-clients, in a JVM on the host) sends
the same records both ways, acks=all, to a topic of its own each time:

* **throughput**: as fast as it can (``--throughput -1``), records/s;
* **latency**: paced at ``--rate`` records/s, so no queue builds up: the tool's own p50 and p99 of
  the time from send to acknowledgement.

Runs alternate (proxy, direct, direct, proxy, …) so drift hits both paths; prints medians and the
ratio direct / proxy of each figure.

Usage: python3 benchmarks/proxy_cost.py [--records 500000] [--latency-records 20000] [--rate 2000] [--runs 3]
"""

from __future__ import annotations

import re
import statistics
import subprocess
from pathlib import Path

from shared import SETTINGS, parser, producer_performance, three_brokers

from chaos.cluster.config import ClientPath
from chaos.images.java_driver import build_java_driver

SIZE = 130  # about a workload record: envelope and 100 B payload
#: ProducerPerformance's closing line: "N records sent, R records/sec (…), A ms avg latency, M ms max
#: latency, P50 ms 50th, P95 ms 95th, P99 ms 99th, P999 ms 99.9th."
SUMMARY = re.compile(r"records sent, ([\d.]+) records/sec .*?, (\d+) ms 50th, \d+ ms 95th, (\d+) ms 99th")


def perf(bootstrap: str, topic: str, records: int, rate: int, libs: Path, java: str) -> tuple[float, int, int]:
    """One ProducerPerformance run: records/s, p50 and p99 latency in ms.

    Raises:
        subprocess.CalledProcessError: the tool failed.
        ValueError: its output had no summary line.
    """
    cmd = producer_performance(java, libs, bootstrap, topic, records, SIZE, rate)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=600).stdout
    found = SUMMARY.findall(out)
    if not found:
        raise ValueError(f"no summary in ProducerPerformance's output: {out[-500:]}")
    per_s, p50, p99 = found[-1]
    return float(per_s), int(p50), int(p99)


def main() -> None:
    options = parser(__doc__)
    options.add_argument("--records", type=int, default=500_000, help="records of each throughput run")
    options.add_argument("--latency-records", type=int, default=20_000, help="records of each paced run")
    options.add_argument("--rate", type=int, default=2000, help="records/s of the paced (latency) runs")
    options.add_argument("--runs", type=int, default=3)
    args = options.parse_args()
    figures: dict[tuple[str, str], list[float]] = {}
    with three_brokers(quiet=False) as (cluster, _):
        driver = build_java_driver(cluster.spec.kafka_version)
        for i in range(args.runs):
            order: tuple[ClientPath, ClientPath] = ("proxy", "direct") if i % 2 == 0 else ("direct", "proxy")
            for path in order:
                bootstrap = cluster.bootstrap(path)
                for kind, records, rate in (("tp", args.records, -1), ("lat", args.latency_records, args.rate)):
                    topic = f"{kind}-{path}-{i}"
                    cluster.create_topic(topic, partitions=3, replication_factor=3)
                    per_s, p50, p99 = perf(bootstrap, topic, records, rate, driver.libs, driver.java)
                    if kind == "tp":
                        figures.setdefault((path, "records/s"), []).append(per_s)
                    else:
                        figures.setdefault((path, "p50 ms"), []).append(p50)
                        figures.setdefault((path, "p99 ms"), []).append(p99)
            print(
                f"run {i + 1}: " + "   ".join(f"{p} {m} {v[-1]:.0f}" for (p, m), v in sorted(figures.items())),
                flush=True,
            )
    print(f"\nProducerPerformance, {SETTINGS}, {SIZE} B records, 3 brokers, median of {args.runs}")
    for metric in ("records/s", "p50 ms", "p99 ms"):
        proxy = statistics.median(figures[("proxy", metric)])
        direct = statistics.median(figures[("direct", metric)])
        ratio = f"{direct / proxy:.2f}" if proxy else "n/a"
        print(f"{metric:>10}: proxy {proxy:9.0f}   direct {direct:9.0f}   direct/proxy {ratio}")


if __name__ == "__main__":
    main()
