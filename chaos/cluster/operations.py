"""What an operator does to a running cluster, through Kafka's Admin API: move replicas, elect
preferred leaders, and ask which log directories are offline.

Each call returns once Kafka accepted it; the ``wait_*`` helpers observe the outcome. Each takes
what it asks through: :class:`AdminCalls` (a :class:`~chaos.cluster.cluster.KafkaCluster`, or its
:class:`~chaos.cluster.metadata.Metadata`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from kafka import TopicPartition

from chaos.cluster.admin import Admin
from chaos.cluster.metadata import PartitionState
from chaos.errors import ClusterUnhealthy
from chaos.waiting import wait_until

T = TypeVar("T")


class AdminCalls(Protocol):
    """Admin calls with retries, and partition state as the brokers agree on it."""

    def admin_call(self, fn: Callable[[Admin], T], attempts: int = 3) -> T: ...
    def partitions(self, topic: str, attempts: int = 3) -> list[PartitionState]: ...
    def partition(self, topic: str, partition: int) -> PartitionState: ...


def reassign(cluster: AdminCalls, topic: str, partition: int, replicas: Sequence[int]) -> None:
    """Start moving ``topic``/``partition`` to ``replicas`` (the first is the preferred leader).

    Raises:
        KafkaError: Kafka refused the reassignment.
    """
    tp = TopicPartition(topic, partition)
    cluster.admin_call(lambda a: a.alter_partition_reassignments({tp: list(replicas)}))


def reassignments_pending(cluster: AdminCalls, topic: str) -> list[int]:
    """Partitions of ``topic`` whose reassignment is still under way."""
    ongoing = cluster.admin_call(lambda a: a.list_partition_reassignments())
    return sorted(tp.partition for tp in ongoing if tp.topic == topic)


def wait_for_reassignment(cluster: AdminCalls, topic: str, timeout: float = 120.0) -> None:
    """Wait until no partition of ``topic`` is being reassigned.

    Raises:
        ClusterUnhealthy: a move is still under way after ``timeout``.
    """
    pending: list[int] = []

    def done() -> bool:
        pending[:] = reassignments_pending(cluster, topic)
        return not pending

    wait_until(
        done,
        timeout,
        f"the reassignment of {topic} to finish",
        seen=lambda: f"partitions {pending} moving",
        error=ClusterUnhealthy,
    )


def elect_preferred(cluster: AdminCalls, topic: str, partition: int) -> None:
    """Move the leadership of ``topic``/``partition`` to its preferred replica, if that is in sync
    (Kafka's preferred-leader election; a partition already led by it is left alone).

    Raises:
        KafkaError: the request failed as a whole.
    """
    cluster.admin_call(lambda a: a.elect_leaders(0, {topic: [partition]}, raise_errors=False))


def wait_for_preferred_leader(cluster: AdminCalls, topic: str, partition: int, timeout: float = 60.0) -> None:
    """Wait until ``topic``/``partition`` is led by its preferred (first) replica.

    Raises:
        ClusterUnhealthy: not within ``timeout``.
    """
    seen = [""]

    def preferred() -> bool:
        p = cluster.partition(topic, partition)
        seen[0] = f"leader {p.leader}, replicas {list(p.replicas)}"
        return bool(p.replicas) and p.leader == p.replicas[0]

    wait_until(
        preferred,
        timeout,
        f"{topic}-{partition} led by its preferred replica",
        seen=lambda: seen[0],
        error=ClusterUnhealthy,
    )


def offline_log_dirs(cluster: AdminCalls, broker_id: int) -> list[str]:
    """The log directories broker ``broker_id`` reports offline (Kafka's KAFKA_STORAGE_ERROR)."""
    answer = cluster.admin_call(lambda a: a.describe_log_dirs(brokers=[broker_id]))
    offline = []
    for response in answer:  # kafka-python: [{"broker": id, "log_dirs": [{"error_code", "log_dir", ...}]}]
        for entry in response["log_dirs"]:
            if entry["error_code"] != 0:
                offline.append(str(entry["log_dir"]))
    return offline


def wait_for_full_isr(cluster: AdminCalls, topics: Sequence[str], timeout: float = 120.0) -> None:
    """Wait until every partition of ``topics`` has a leader and all its replicas in sync.

    Raises:
        ClusterUnhealthy: not within ``timeout``; the message names a partition still short.
    """
    short: list[str] = []

    def full() -> bool:
        short.clear()
        for topic in topics:
            for p in cluster.partitions(topic):
                if p.leader < 0 or set(p.isr) != set(p.replicas):
                    short.append(f"{topic}-{p.partition} ISR {list(p.isr)} of {list(p.replicas)}")
        return not short

    wait_until(full, timeout, "every replica back in sync", seen=lambda: "; ".join(short[:3]), error=ClusterUnhealthy)
