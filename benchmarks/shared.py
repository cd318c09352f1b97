"""What the benchmarks share: the producer settings and record size they compare at, the 3-broker
cluster they run on, the workload spec and its timing, and Kafka's own ``ProducerPerformance``
command line. A benchmark imports it as ``shared`` (``python3 benchmarks/X.py`` puts this directory
first on the path)."""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from chaos.cluster import ClusterSpec, KafkaCluster
from chaos.images.java_driver import JVM_OPTIONS
from chaos.workloads.envelope import Encoder
from chaos.workloads.producer import ProducerWorkload
from chaos.workloads.spec import ProducerSpec

#: The producer settings every throughput comparison uses on both sides.
SETTINGS = {"acks": "all", "linger.ms": "5", "batch.size": "65536"}
#: The workload's payload size, in bytes.
SIZE = 100


def parser(doc: str | None) -> argparse.ArgumentParser:
    """An argument parser whose ``--help`` prints the benchmark's docstring as written."""
    return argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)


@contextmanager
def three_brokers(quiet: bool = True) -> Iterator[tuple[KafkaCluster, Path]]:
    """A 3-broker cluster and a scratch directory, both removed on exit; kafka-python's own logging
    silenced unless ``quiet`` is false.

    Raises:
        ChaosError: the cluster did not start (its subclasses say why: Docker, images, health).
    """
    if quiet:
        logging.getLogger("kafka").setLevel(logging.CRITICAL)
    with tempfile.TemporaryDirectory() as tmp, KafkaCluster(ClusterSpec(brokers=3), run_dir=Path(tmp) / "c") as cluster:
        yield cluster, Path(tmp)


def value_size(run_id: str) -> int:
    """The length of a workload's value (envelope + ``SIZE`` B payload) for a six-digit sequence number."""
    return len(Encoder(run_id, "p000000", SIZE).encode(123456, b"123456"))


def producer_spec(
    bootstrap_servers: str, run_id: str, topic: str, records: int, run_dir: Path, **fields: Any
) -> ProducerSpec:
    """An async producer workload of ``records`` records with ``SETTINGS`` and ``SIZE`` B payloads,
    under a producer id of its own; ``fields`` override any other spec field (mode, client, …)."""
    base: dict[str, Any] = {"mode": "async", "settings": SETTINGS, "payload_size": SIZE}
    return ProducerSpec(
        id=f"p{uuid.uuid4().hex[:6]}",
        topic=topic,
        bootstrap_servers=bootstrap_servers,
        run_id=run_id,
        run_dir=str(run_dir),
        count=records,
        **{**base, **fields},
    )


def workload_rate(spec: ProducerSpec) -> float:
    """Run the producer workload of ``spec`` in this process; records/s from creating its client to
    its last acknowledgement.

    Raises:
        AssertionError: it sent fewer records than ``spec.count``.
    """
    w = ProducerWorkload(spec)
    t0 = time.perf_counter()
    sent = w.run()
    elapsed = time.perf_counter() - t0
    assert sent == spec.count, (sent, spec.count)
    return sent / elapsed


def producer_performance(
    java: str, libs: Path, bootstrap: str, topic: str, records: int, record_size: int, throughput: int = -1
) -> list[str]:
    """The command line of Apache Kafka's ``ProducerPerformance`` with ``SETTINGS``, run with ``java``
    on the jars in ``libs``; ``throughput`` -1 sends as fast as it can."""
    props = [f"{k}={v}" for k, v in SETTINGS.items()] + [f"bootstrap.servers={bootstrap}"]
    cmd = [java, *JVM_OPTIONS, "-cp", f"{libs}/*", "org.apache.kafka.tools.ProducerPerformance"]
    cmd += ["--topic", topic, "--num-records", str(records), "--record-size", str(record_size)]
    return [*cmd, "--throughput", str(throughput), "--producer-props", *props]


def side_by_side(seen: dict[str, dict[str, set[str]]], a: str, b: str) -> None:
    """Print each experiment's verdict classes under suite kinds ``a`` and ``b``, then whether any differ."""
    differ = {n: k for n, k in seen.items() if k.get(a) != k.get(b)}
    for name, kinds in sorted(seen.items()):
        print(f"  {name:48} {a} {sorted(kinds.get(a, []))}  {b} {sorted(kinds.get(b, []))}")
    print("verdict classes: " + ("the same both ways" if not differ else f"DIFFER for {', '.join(sorted(differ))}"))


def machine_busy() -> float:
    """CPU seconds this machine's cores have spent busy since boot (every process, containers
    included: ``/proc/stat``'s first line less idle and iowait)."""
    with open("/proc/stat") as f:
        ticks = [int(t) for t in f.readline().split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")
