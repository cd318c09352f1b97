"""A real multi-broker Kafka cluster in Docker: spec, lifecycle, lookups, sweeper.

The names are loaded on first use, so importing :mod:`chaos.cluster.config` (a spec, no Docker)
does not bring in the Docker and Kafka clients.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chaos.cluster.cluster import KafkaCluster
    from chaos.cluster.config import ClusterSpec, NodeSpec
    from chaos.cluster.metadata import HEALTH_TOPIC, PartitionState
    from chaos.cluster.node import Node
    from chaos.cluster.registry import running_runs
    from chaos.cluster.sweeper import SweepResult, sweep

#: Each exported name → the module that defines it.
_HOMES = {
    "HEALTH_TOPIC": "metadata",
    "ClusterSpec": "config",
    "KafkaCluster": "cluster",
    "Node": "node",
    "NodeSpec": "config",
    "PartitionState": "metadata",
    "SweepResult": "sweeper",
    "running_runs": "registry",
    "sweep": "sweeper",
}

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


def __getattr__(name: str) -> object:
    """An exported name, imported from its module on first use (type checkers see the imports above).

    Raises:
        AttributeError: a name the package does not export.
    """
    if name in _HOMES:
        value = getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
