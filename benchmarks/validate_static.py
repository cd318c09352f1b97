"""Wall time of ``kafka-chaos validate --static-only`` per file set, median of N runs each, as a user
runs it (a new process each time: CLI start, parsing, Kafka's own check in a JVM, the rules, the
four reports). The release's definitions are read once per machine beforehand (``images build``
does that), so this is the time of every later review.

File sets: examples/settings/' safe files; its risky files; Kafka's own example configuration with
every file kind.

Usage: python3 benchmarks/validate_static.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from chaos.images.kafka_configs import kafka_configs
from chaos.images.recipes import DEFAULT_KAFKA_VERSION

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "settings"
KAFKA = ROOT / "tests" / "fixtures" / "kafka-config"

SETS: dict[str, dict[str, Path]] = {
    "examples safe": {
        "producer": EXAMPLES / "producer-safe.properties",
        "consumer": EXAMPLES / "consumer-manual-commit.properties",
        "topic": EXAMPLES / "topic-min-isr-2.properties",
    },
    "examples risky": {
        "producer": EXAMPLES / "producer-acks1.properties",
        "consumer": EXAMPLES / "consumer-auto-commit.properties",
    },
    "kafka's own": {
        "producer": KAFKA / "producer.properties",
        "consumer": KAFKA / "consumer.properties",
        "topic": EXAMPLES / "topic-min-isr-2.properties",
        "broker": KAFKA / "server.properties",
    },
}


def one(files: dict[str, Path], reports: Path) -> float:
    args = [a for kind, path in files.items() for a in (f"--{kind}-config", str(path))]
    t0 = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "chaos.cli", "validate", *args, "--static-only", "-q", "--reports", str(reports)],
        stdout=subprocess.DEVNULL,
        check=False,
    )
    return time.monotonic() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    kafka_configs(DEFAULT_KAFKA_VERSION)  # once per machine, as `images build` does
    print(f"validate --static-only, Kafka {DEFAULT_KAFKA_VERSION}, median of {args.runs} runs")
    with tempfile.TemporaryDirectory() as tmp:
        for name, files in SETS.items():
            times = [one(files, Path(tmp)) for _ in range(args.runs)]
            print(f"  {name:12} {statistics.median(times):5.2f} s  (min {min(times):.2f}, max {max(times):.2f})")


if __name__ == "__main__":
    main()
