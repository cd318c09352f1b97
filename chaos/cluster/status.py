"""A plain description of a running cluster for ``cluster status``: nodes, states, addresses,
whether brokers are registered, and (on request) whether it is healthy."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kafka.errors import KafkaError

from chaos.errors import ChaosError

if TYPE_CHECKING:
    from chaos.cluster.cluster import KafkaCluster


def describe(cluster: KafkaCluster, check_health: bool = False, ask: bool = True) -> dict[str, Any]:
    """A plain description for ``cluster status --json``: nodes, states, addresses, bootstrap;
    ``check_health`` adds ``healthy`` (healthy within 5 s).

    Brokers carry ``registered``: known to the controller and not fenced, asked of the cluster
    (``ask=False``: what Docker alone knows, and ``registered`` is None).
    """
    registered: set[int] | None = None
    if ask and cluster._api_port is not None:
        try:
            brokers = cluster.metadata.admin().describe_cluster()["brokers"]
            registered = {int(b["broker_id"]) for b in brokers if not b.get("is_fenced", False)}
        except (KafkaError, OSError):
            cluster.metadata.drop_admin()
    nodes: list[dict[str, Any]] = []
    for n in cluster.nodes:
        entry: dict[str, Any] = {
            "node_id": n.node_id,
            "host": n.host,
            "role": n.spec.role,
            "container": n.name,
            "state": n.state,
        }
        if n.spec.broker:
            entry["registered"] = (registered is not None and n.node_id in registered) if ask else None
            entry["address"] = (
                f"{cluster.host}:{cluster._proxy_ports[n.node_id]}" if n.node_id in cluster._proxy_ports else None
            )
            entry["direct_address"] = (
                f"{cluster.host}:{cluster._direct_ports[n.node_id]}" if n.node_id in cluster._direct_ports else None
            )
        nodes.append(entry)
    status: dict[str, Any] = {
        "run_id": cluster.run_id,
        "kafka_version": cluster.spec.kafka_version,
        "bootstrap_servers": cluster.bootstrap_servers,
        "direct_bootstrap_servers": cluster.direct_bootstrap_servers,
        "toxiproxy_api": cluster.toxiproxy.url if cluster._api_port else None,
        "brokers": [n for n in nodes if n["role"] == "broker"],
        "controllers": [n for n in nodes if n["role"] == "controller"],
    }
    if check_health:
        try:
            cluster.wait_healthy(timeout=5)
            status["healthy"] = True
        except ChaosError:
            status["healthy"] = False
    return status
