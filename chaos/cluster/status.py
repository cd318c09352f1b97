"""A plain description of a running cluster for ``cluster status``: nodes, states, addresses,
whether brokers are registered. Built from values the cluster hands over, so it can be read
(and tested) without a cluster."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NotRequired, TypedDict

from chaos.cluster.node import Node


class NodeStatus(TypedDict):
    """One node in ``cluster status --json``; the last three keys are a broker's only."""

    node_id: int
    host: str
    role: str
    container: str
    state: str
    registered: NotRequired[bool | None]
    address: NotRequired[str | None]
    direct_address: NotRequired[str | None]


class ClusterStatus(TypedDict):
    """``cluster status --json`` of one cluster; ``healthy`` only when health was checked."""

    run_id: str
    kafka_version: str
    bootstrap_servers: str
    direct_bootstrap_servers: str
    toxiproxy_api: str | None
    brokers: list[NodeStatus]
    controllers: list[NodeStatus]
    healthy: NotRequired[bool]
    #: The brokers' SASL_SSL listeners (a cluster started with ``security="sasl_ssl"`` only).
    secure_bootstrap_servers: NotRequired[str]


def describe(
    *,
    run_id: str,
    kafka_version: str,
    nodes: Sequence[Node],
    host: str,
    bootstrap_servers: str,
    direct_bootstrap_servers: str,
    proxy_ports: Mapping[int, int],
    direct_ports: Mapping[int, int],
    toxiproxy_api: str | None,
    registered: set[int] | None,
    ask: bool = True,
    secure_bootstrap_servers: str = "",
) -> ClusterStatus:
    """A plain description for ``cluster status --json``: nodes, states, addresses, bootstrap.

    Brokers carry ``registered``: in ``registered`` (the brokers known to the controller and not
    fenced; None: the cluster did not answer), or None when the cluster was not asked (``ask=False``).
    """
    entries: list[NodeStatus] = []
    for n in nodes:
        entry: NodeStatus = {
            "node_id": n.node_id,
            "host": n.host,
            "role": n.spec.role,
            "container": n.name,
            "state": n.state,
        }
        if n.spec.broker:
            entry["registered"] = (registered is not None and n.node_id in registered) if ask else None
            entry["address"] = f"{host}:{proxy_ports[n.node_id]}" if n.node_id in proxy_ports else None
            entry["direct_address"] = f"{host}:{direct_ports[n.node_id]}" if n.node_id in direct_ports else None
        entries.append(entry)
    status: ClusterStatus = {
        "run_id": run_id,
        "kafka_version": kafka_version,
        "bootstrap_servers": bootstrap_servers,
        "direct_bootstrap_servers": direct_bootstrap_servers,
        "toxiproxy_api": toxiproxy_api,
        "brokers": [n for n in entries if n["role"] == "broker"],
        "controllers": [n for n in entries if n["role"] == "controller"],
    }
    if secure_bootstrap_servers:
        status["secure_bootstrap_servers"] = secure_bootstrap_servers
    return status
