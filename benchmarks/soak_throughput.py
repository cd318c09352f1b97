"""A soak at the client's full rate against the client's bare rate, side by side on one cluster.

* bare: Apache Kafka's own ``ProducerPerformance`` (``kafka-producer-perf-test``) in a JVM on the
  host, as fast as it can, with the benchmarks' settings, timed from starting the JVM to its exit.
* soak: ``kafka-chaos soak`` of the Java workload with no ``rate`` (as fast as the client goes) and
  the same settings, direct to the brokers (no toxiproxy, as the bare side), with everything a soak
  runs: the ledgers, the watch, the tail reader and the judge of its windows. A broker is paused for
  1 s every 30 s (a soak needs faults); its rate is the median of its windows' acknowledged
  records a second, and its windows say where the CPU went (brokers, the workload, the harness).

Runs alternate (bare, soak, bare, …) so drift hits both; prints medians and the ratio.

Usage: python3 benchmarks/soak_throughput.py [--seconds 90] [--records 3000000] [--runs 2]
Target (issue: a night, not a minute): soak / bare >= 0.8.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml
from shared import SETTINGS, SIZE, parser, producer_performance, three_brokers, value_size

from chaos.cluster import KafkaCluster
from chaos.images.java_driver import build_java_driver


def soak_file(path: Path, seconds: float) -> Path:
    """The soak's experiment file: the Java workload at full rate, a broker paused 1 s every 30 s."""
    experiment = {
        "name": "soak-throughput",
        "client_path": "direct",
        "topic": {"partitions": 3, "replication_factor": 3},
        "producer": {"client": "java", "mode": "async", "payload_size": SIZE, "settings": SETTINGS},
        "soak": {
            "duration": seconds,
            "every": 30,
            "schedule": "draw",
            "kinds": [{"kind": "broker_pause", "target": "random"}],
            "hold": 1,
        },
    }
    path.write_text(yaml.safe_dump(experiment))
    return path


def bare(cluster: KafkaCluster, topic: str, records: int) -> float:
    driver = build_java_driver(cluster.spec.kafka_version)
    cmd = producer_performance(
        driver.java, driver.libs, cluster.bootstrap_servers, topic, records, value_size(cluster.run_id)
    )
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return records / (time.perf_counter() - t0)


def soak(
    cluster: KafkaCluster, file: Path, seconds: float, reports: Path
) -> tuple[float, dict[str, float], dict[str, object]]:
    """The soak's median acknowledged records a second over its full windows, the median cores of
    its parts, and its judging."""
    command = [sys.executable, "-m", "chaos.cli", "soak", str(file), "--cluster", cluster.run_id]
    command += ["--duration", f"{seconds:g}s", "--every", "30s", "--schedule", "draw", "--hold", "1s"]
    proc = subprocess.run([*command, "--reports", str(reports)], check=False, capture_output=True, text=True)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"the soak failed ({proc.returncode}): {proc.stderr[-2000:]}")
    (run,) = [p.parent for p in reports.glob("*/*/run.json")]
    summary = json.loads((run / "soak" / "soak.json").read_text())
    full = summary["windows"][:-1] or summary["windows"]  # the last is the heal's, shorter
    cores = {
        part: statistics.median(w["cores"][part] for w in full if part in w["cores"])
        for part in ("brokers", "workloads", "harness")
    }
    return statistics.median(w["acked_per_s"] for w in full), cores, summary["judged"]


def main() -> None:
    options = parser(__doc__)
    options.add_argument("--seconds", type=float, default=90.0, help="the soak's length")
    options.add_argument("--records", type=int, default=3_000_000, help="records of each bare run")
    options.add_argument("--runs", type=int, default=2)
    args = options.parse_args()
    with three_brokers() as (cluster, tmp):
        file = soak_file(tmp / "soak.yaml", args.seconds)
        rates: dict[str, list[float]] = {"bare": [], "soak": []}
        for i in range(args.runs):
            cluster.create_topic(f"bare-{i}", partitions=3, replication_factor=3)
            rates["bare"].append(bare(cluster, f"bare-{i}", args.records))
            rate, cores, judged = soak(cluster, file, args.seconds, tmp / f"reports-{i}")
            rates["soak"].append(rate)
            print(
                f"run {i + 1}: bare {rates['bare'][-1]:,.0f} rec/s, soak {rate:,.0f} rec/s; soak cores "
                + ", ".join(f"{k} {v:g}" for k, v in cores.items())
                + f"; judged: {judged}",
                flush=True,
            )
        med = {k: statistics.median(v) for k, v in rates.items()}
        print(f"\n{SETTINGS}, {SIZE} B payload, median of {args.runs}")
        print(f"bare {med['bare']:,.0f} rec/s, soak {med['soak']:,.0f} rec/s, ratio {med['soak'] / med['bare']:.2f}")
        print("target: ratio >= 0.8")


if __name__ == "__main__":
    main()
