"""The hosts of a team's cluster, connected and checked before a run: every node the cluster
reports is named in the SSH config, each host lets the harness in and run as root, and each has
a Kafka process where the config says.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from chaos.cluster.config import NodeSpec
from chaos.cluster.ssh import SshSession
from chaos.cluster.ssh_config import SshConfig
from chaos.cluster.ssh_node import SshNode
from chaos.errors import UsageError


def connect_hosts(
    config: SshConfig, brokers: set[int], voters: set[int]
) -> tuple[dict[int, SshNode], list[SshSession]]:
    """One :class:`SshNode` per node of ``config``, checked; and their sessions, for closing.

    ``brokers`` are the broker ids the cluster reports, ``voters`` its KRaft voters.

    Raises:
        UsageError: a broker the config does not name, a node that is neither broker nor voter,
            a host that refuses SSH or root, or no Kafka process where the config says (one
            sentence each, naming the host).
    """
    missing = sorted(brokers - set(config.nodes))
    if missing:
        raise UsageError(
            f"the cluster has broker {missing[0]}, which the SSH config {config.source} does not name: "
            "add it under nodes: with its host"
        )
    stray = sorted(set(config.nodes) - brokers - voters)
    if stray:
        raise UsageError(
            f"the SSH config {config.source} names node {stray[0]}, which is neither a broker nor a controller of "
            f"the cluster (brokers {sorted(brokers)}, controllers {sorted(voters)}): remove it or correct its id"
        )
    sessions = {node_id: SshSession(config, host) for node_id, host in sorted(config.nodes.items())}

    def one(node_id: int) -> SshNode:
        session = sessions[node_id]
        session.connect()
        host = config.nodes[node_id]
        spec = NodeSpec(node_id, host.host, broker=node_id in brokers, controller=node_id in voters)
        node = SshNode(spec, session.run, config, session.where, host.address or host.host)
        _check_host(node, config)
        return node

    try:
        with ThreadPoolExecutor(max_workers=min(8, len(sessions))) as pool:
            nodes = dict(zip(sessions, pool.map(one, sessions), strict=True))
    except BaseException:
        for session in sessions.values():
            session.close()
        raise
    return nodes, list(sessions.values())


def _check_host(node: SshNode, config: SshConfig) -> None:
    """Root, and a Kafka process where the config says. Raises UsageError."""
    code, out = node.exec(["id", "-u"])
    if code != 0 or out.strip() != "0":
        how = "sudo -n" if config.sudo else f"user {config.user}"
        raise UsageError(
            f"{node.name} does not run the harness's commands as root through {how} ({out.strip()[:120]}): "
            "iptables, tc and signals to Kafka need root; log in as root or set sudo: true with passwordless sudo"
        )
    pid = node.pid()
    where = config.kafka.systemd_unit or config.kafka.pid_file
    if pid is None:
        raise UsageError(
            f"no Kafka process runs on {node.name} by {where}: check kafka: in {config.source} and that "
            "the broker is up"
        )
    code, out = node.exec(["sh", "-c", f"tr '\\0' ' ' < /proc/{pid}/cmdline"])
    if code != 0 or "kafka" not in out.lower():
        raise UsageError(
            f"process {pid} on {node.name}, which {where} names, is not Kafka ({out.strip()[:80]!r}): "
            f"check kafka: in {config.source}"
        )


def collect_host_logs(nodes: dict[int, SshNode], into: Path) -> list[Path]:
    """Copy each node's log file (``kafka.log_file``) into ``<into>/logs``; returns the files written."""
    written = []
    for node in nodes.values():
        text = node.logs()
        if text:
            path = into / "logs" / f"{node.host}.log"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            written.append(path)
    return written
