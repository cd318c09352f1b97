"""A real multi-broker Kafka cluster in Docker: spec, lifecycle, lookups, sweeper."""

from chaos.cluster.cluster import KafkaCluster
from chaos.cluster.config import ClusterSpec, NodeSpec
from chaos.cluster.metadata import HEALTH_TOPIC, PartitionState
from chaos.cluster.node import Node
from chaos.cluster.registry import running_runs
from chaos.cluster.sweeper import SweepResult, sweep

__all__ = [
    "HEALTH_TOPIC",
    "ClusterSpec",
    "KafkaCluster",
    "Node",
    "NodeSpec",
    "PartitionState",
    "SweepResult",
    "running_runs",
    "sweep",
]
