"""The hosts of a team's cluster, connected and checked before a run: every node the cluster
reports is named in the SSH config, each host lets the harness in and run as root, and each has
a Kafka process where the config says.
"""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor
from ipaddress import IPv4Address
from pathlib import Path

from chaos.cluster.config import NodeSpec
from chaos.cluster.ssh import SshSession
from chaos.cluster.ssh_config import SshConfig
from chaos.cluster.ssh_node import SshNode
from chaos.errors import UsageError


def connect_hosts(
    config: SshConfig, brokers: set[int], voters: set[int], *, strict: bool = True
) -> tuple[dict[int, SshNode], list[SshSession]]:
    """One :class:`SshNode` per node of ``config``, checked; and their sessions, for closing.

    ``brokers`` are the broker ids the cluster reports, ``voters`` its KRaft voters: every one must
    be named (an isolation cuts a broker off from the controllers too). ``strict=False`` (for
    ``clean``) only connects and checks root: a Kafka the harness killed runs nowhere and is no
    longer reported.

    Raises:
        UsageError: a broker or controller the config does not name, a node that is neither, a
            host that refuses SSH or root, an ``address`` that is not the host's, or no Kafka
            process where the config says (one sentence each, naming the host).
    """
    if strict:
        _check_names(config, brokers, voters)
    sessions = {node_id: SshSession(config, host) for node_id, host in sorted(config.nodes.items())}

    def one(node_id: int) -> SshNode:
        session = sessions[node_id]
        session.connect()
        host = config.nodes[node_id]
        spec = NodeSpec(node_id, host.host, broker=node_id in brokers, controller=node_id in voters)
        node = SshNode(spec, session.run, config, session.where, _address(host.host, host.address))
        _check_root(node, config)
        if strict:
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


def _check_names(config: SshConfig, brokers: set[int], voters: set[int]) -> None:
    """Raises UsageError: a broker or voter not named, or a named node that is neither."""
    missing = sorted((brokers | voters) - set(config.nodes))
    if missing:
        what = "broker" if missing[0] in brokers else "controller"
        raise UsageError(
            f"the cluster has {what} {missing[0]}, which the SSH config {config.source} does not name: "
            "add it under nodes: with its host"
        )
    stray = sorted(set(config.nodes) - brokers - voters)
    if stray:
        raise UsageError(
            f"the SSH config {config.source} names node {stray[0]}, which is neither a broker nor a controller of "
            f"the cluster (brokers {sorted(brokers)}, controllers {sorted(voters)}): remove it, correct its id, or "
            "start it if it is down"
        )


def _address(host: str, address: IPv4Address | None) -> str:
    """Where the other nodes reach a node: ``address``, else what ``host`` resolves to. Raises UsageError."""
    if address is not None:
        return str(address)
    try:
        return socket.gethostbyname(host)
    except OSError:
        raise UsageError(
            f"{host} does not resolve to an IPv4 address: give the node's address: in the SSH config"
        ) from None


def _check_root(node: SshNode, config: SshConfig) -> None:
    """The harness's commands run as root there, and ``address`` is the host's own. Raises UsageError."""
    code, out = node.exec(["id", "-u"])
    if code != 0 or out.strip() != "0":
        how = "sudo -n" if config.sudo else f"user {config.user}"
        raise UsageError(
            f"{node.name} does not run the harness's commands as root through {how} ({out.strip()[:120]}): "
            "iptables, tc and signals to Kafka need root; log in as root or set sudo: true with passwordless sudo"
        )
    code, out = node.exec(["sh", "-c", "ip -o -4 addr show | awk '{print $4}' | cut -d/ -f1"])
    if code == 0 and node.address() not in out.split():
        raise UsageError(
            f"{node.address()} is not an address of {node.name} (it has {', '.join(out.split())}): set the node's "
            "address: in the SSH config to where the other nodes reach it"
        )


def _check_host(node: SshNode, config: SshConfig) -> None:
    """A Kafka process where the config says, which no supervisor restarts. Raises UsageError."""
    unit = config.kafka.systemd_unit
    if unit is not None:
        _, restart = node.exec(["systemctl", "show", "-p", "Restart", "--value", unit])
        if restart.strip() not in ("", "no"):
            raise UsageError(
                f"systemd restarts {unit} on {node.name} by itself (Restart={restart.strip()}), so a killed broker "
                "would not stay down: set Restart=no for the run, or give pid_file and start instead"
            )
    pid = node.pid()
    where = unit or config.kafka.pid_file
    if pid is None:
        raise UsageError(
            f"no Kafka process runs on {node.name} by {where}: check kafka: in {config.source} and that "
            "the broker is up"
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
