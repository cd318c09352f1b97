"""For tests on real clusters (the ``docker`` tier): the shared cluster shapes, the harness's
labelled resources, the CLI run as a user runs it, and waits that ride out Kafka's transient errors
while a fault moves metadata."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable

import pytest
from kafka.errors import KafkaError

import docker
from chaos.cluster import KafkaCluster
from chaos.faults.network import harness_chains
from chaos.labels import RUN_LABEL
from chaos.waiting import wait_until

#: The shape of the modules that watch replicas, groups and the log cleaner react: a follower that
#: stops fetching leaves the ISR after 6 s instead of 30 s, a group may evict a killed member after
#: 2 s rather than the 6 s minimum, and an idle log cleaner looks for work every second instead of
#: every 15. Modules of one shape share one cluster (the plugin's pool resets it between them), so a
#: module picks an existing shape unless it needs its own.
QUICK = pytest.mark.kafka_cluster(
    brokers=3,
    broker_config={
        "replica.lag.time.max.ms": "6000",
        "group.min.session.timeout.ms": "2000",
        "log.cleaner.backoff.ms": "1000",
    },
)
#: The same with a dedicated KRaft controller, so killing or stopping any broker keeps the quorum.
QUICK_WITH_CONTROLLER = pytest.mark.kafka_cluster(
    brokers=3, controllers=1, broker_config={"replica.lag.time.max.ms": "6000"}
)


def labelled(engine: docker.DockerClient, run_id: str | None = None) -> list[str]:
    """Names of containers and networks carrying the run label (of one run, or any)."""
    label = RUN_LABEL if run_id is None else f"{RUN_LABEL}={run_id}"
    names = [c.name or "" for c in engine.containers.list(all=True, filters={"label": [label]})]
    names += [n.name or "" for n in engine.networks.list(filters={"label": [label]})]
    return names


def cli(*args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``kafka-chaos`` as a user would.

    Raises:
        AssertionError: ``check`` and the command exited non-zero (its stderr in the message).
    """
    proc = subprocess.run(
        [sys.executable, "-m", "chaos.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ},
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"kafka-chaos {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}")
    return proc


def topic(cluster: KafkaCluster) -> str:
    """A new one-partition topic replicated on three brokers; its name."""
    name = f"f-{uuid.uuid4().hex[:8]}"
    cluster.create_topic(name, partitions=1, replication_factor=3)
    return name


def eventually(check: Callable[[], bool], timeout: float, what: str, seen: Callable[[], object] | None = None) -> None:
    """Wait for ``check`` through transient Kafka errors (metadata moves during faults); a timeout
    says what ``seen`` last returned (the partition's state, say).

    Raises:
        WaitTimeout: ``check`` did not hold within ``timeout`` seconds.
    """
    last = [""]

    def attempt() -> bool:
        try:
            return check()
        except KafkaError as e:
            last[0] = f"{type(e).__name__}: {e}"
            return False
        finally:
            if seen is not None:
                try:
                    last[0] = str(seen())
                except KafkaError as e:
                    last[0] = f"{type(e).__name__}: {e}"

    wait_until(attempt, timeout, what, interval=0.3, seen=lambda: last[0])


def recovered(cluster: KafkaCluster, name: str) -> None:
    """Topic ``name`` is fully in sync again, the cluster healthy, and no node keeps a harness chain.

    Raises:
        WaitTimeout: the ISR or the cluster did not recover within 120 s.
        AssertionError: a node kept a harness chain.
    """
    cluster.wait_for_isr(name, 3, timeout=120)
    cluster.wait_healthy(120)
    for node in cluster.nodes:
        assert harness_chains(node) == [], f"{node.host} kept harness chains"
