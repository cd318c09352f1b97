"""Time-to-healthy of a 3-broker cluster, cold and warm, median of N runs each.

cold: the kernel's page cache is dropped before each start (needs root), so image layers and jars
      are read from disk again, as on the first run after a reboot.
warm: started again right away, files cached.

Usage: python3 benchmarks/time_to_healthy.py [--runs 5] [--brokers 3] [--kafka-version 4.4.0]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from chaos.cluster import ClusterSpec, KafkaCluster
from chaos.images.recipes import DEFAULT_KAFKA_VERSION


def drop_caches() -> bool:
    if os.geteuid() != 0:
        return False
    subprocess.run(["sync"], check=True)
    Path("/proc/sys/vm/drop_caches").write_text("3\n")
    return True


def one_start(spec: ClusterSpec, root: Path) -> float:
    t0 = time.monotonic()
    cluster = KafkaCluster(spec, run_dir=root / f"run-{time.monotonic_ns()}")
    cluster.start()
    elapsed = time.monotonic() - t0
    cluster.destroy(collect_logs=False)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--brokers", type=int, default=3)
    parser.add_argument("--kafka-version", default=DEFAULT_KAFKA_VERSION)
    args = parser.parse_args()
    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    spec = ClusterSpec(brokers=args.brokers, kafka_version=args.kafka_version)
    cold: list[float] = []
    warm: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):
            if not drop_caches():
                raise SystemExit("cold starts drop the page cache, which needs root: run with sudo")
            cold.append(one_start(spec, Path(tmp)))
            warm.append(one_start(spec, Path(tmp)))
            print(f"run {i + 1}/{args.runs}: cold {cold[-1]:.1f}s  warm {warm[-1]:.1f}s", flush=True)
    cm, wm = statistics.median(cold), statistics.median(warm)
    print(f"\n{args.brokers} brokers, Kafka {args.kafka_version}, {os.cpu_count()} cores, {args.runs} runs each")
    print(f"time-to-healthy median: cold {cm:.1f}s  warm {wm:.1f}s  (cold/warm {cm / wm:.2f})")
    print(f"min/max: cold {min(cold):.1f}/{max(cold):.1f}s  warm {min(warm):.1f}/{max(warm):.1f}s  target <= 20s")


if __name__ == "__main__":
    main()
