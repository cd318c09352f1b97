"""``KafkaCluster``: a real multi-broker KRaft cluster in Docker, behind a toxiproxy.

Lifecycle: :meth:`KafkaCluster.start` creates a network, a toxiproxy container (one proxy per
broker, published on 127.0.0.1, or on a remote engine's host) and one container per node, each broker
also publishing its own direct listener (and with ``security="sasl_ssl"`` its secure one) on a port fixed
for the cluster's life, then waits
until the cluster is healthy: every broker registered and a topic replicated to ``min(3, brokers)``
nodes has its full ISR. With ``sshd`` every node also runs an SSH server, and once the cluster is
healthy ``ssh.yaml`` and ``known_hosts`` say how to reach each node (:mod:`chaos.cluster.sshd`).
A start that fails half-way removes everything it made before re-raising.
:meth:`KafkaCluster.destroy` copies every node's log into the run directory, then removes every
resource labelled with the run id. Addresses, health, metadata and status are
:class:`~chaos.cluster.handle.ClusterHandle`'s.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from docker.errors import APIError

import docker
from chaos.cluster import logs
from chaos.cluster.config import DIRECT_PORT, SECURE_PORT, new_cluster_id
from chaos.cluster.containers import create_node, required_images
from chaos.cluster.handle import ClusterHandle
from chaos.cluster.node import Node
from chaos.cluster.ports import by_broker, published_port, reserve_ports
from chaos.cluster.proxy import create_proxies, proxy_ports, start_toxiproxy, toxiproxy_ports
from chaos.cluster.registry import spec_from_json, spec_to_json
from chaos.cluster.secure import SecureMaterial, new_material, write_client_files
from chaos.cluster.spread import Spread, spread_networks, sweep_everywhere
from chaos.cluster.sshd import SshMaterial, write_config, write_identity
from chaos.cluster.sshd import new_material as new_ssh_material
from chaos.cluster.sweeper import SweepResult
from chaos.engine import bind_address, docker_client, engine_address
from chaos.errors import ClusterUnhealthy, UsageError
from chaos.images.kcfs import no_fuse
from chaos.labels import NODE_LABEL, ROLE_LABEL, SPEC_LABEL, resource_name, run_filter, run_labels
from chaos.signals import deferred_signals, sigterm_raises

log = logging.getLogger(__name__)


class KafkaCluster(ClusterHandle):
    """A Kafka cluster in Docker. Use it as a context manager, or call start/destroy yourself.

    Raises (from :meth:`start`):
        ImageMissing: an image is not on the engine; the message names the build command.
        ClusterUnhealthy: not healthy within ``spec.health_timeout``; node log tails are attached
            as notes.
        DockerUnavailable: no engine answers.

    Example::

        with KafkaCluster(ClusterSpec(brokers=3)) as cluster:
            cluster.create_topic("orders", partitions=3, replication_factor=3)
            cluster.leader_of("orders", 0).kill()
            cluster.wait_for_leader("orders", 0)
    """

    #: The engines of a cluster spread over several (``spec.engines``), once started or attached.
    _spread: Spread | None = None

    # -- context manager ----------------------------------------------------------------------
    def __enter__(self) -> Self:
        self._signals = sigterm_raises()
        self._signals.__enter__()
        try:
            self.start()
        except BaseException:
            self._signals.__exit__(None, None, None)
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self.destroy()
        finally:
            self._signals.__exit__(None, None, None)

    # -- start ----------------------------------------------------------------------------------
    def start(self) -> None:
        """Create every resource and wait for health; on any failure remove what was made, re-raise.

        Raises: see the class docstring.
        """
        client = self.client  # no engine: nothing was made, nothing to undo
        try:
            self._start()
        except BaseException as e:
            if isinstance(e, ClusterUnhealthy | APIError):
                self._attach_evidence(e)
            if client.containers.list(all=True, filters=run_filter(self.run_id)) or client.networks.list(
                filters=run_filter(self.run_id)
            ):
                self.progress("start failed; removing what was created")
                self.destroy()
            raise

    def _start(self) -> None:
        refs = required_images(self.client, self.spec)
        t0 = time.monotonic()
        self.progress(f"run {self.run_id}: creating network")
        name, labels = (
            resource_name(self.run_id, "net"),
            {**run_labels(self.run_id, "network"), SPEC_LABEL: spec_to_json(self.spec)},
        )
        if self.spec.engines:
            self._spread = spread_networks(self.spec, self.client, engine_address(), name, labels, docker_client)
        else:
            self.client.networks.create(name, driver="bridge", check_duplicate=True, labels=labels)
        spread = self._spread
        self.progress("starting toxiproxy")
        self._toxiproxy = start_toxiproxy(
            self.client,
            refs.toxiproxy,
            name=resource_name(self.run_id, "toxiproxy"),
            network=name,
            labels=run_labels(self.run_id, "toxiproxy"),
            ports=toxiproxy_ports(self.spec.brokers),
            host=self.host,
            hosts=spread.hosts() if spread is not None else None,
        )
        self._api_port, self._proxy_ports = proxy_ports(self._toxiproxy, self.spec.brokers)
        create_proxies(self.toxiproxy, self.spec.brokers)
        # Fixed before the brokers' properties are written: a restarted broker binds what it advertises.
        brokers = self.spec.brokers
        secured = self.spec.security == "sasl_ssl"
        reserved = reserve_ports(
            self.client,
            refs.toxiproxy,
            brokers * 2 if secured else brokers,
            bind=bind_address(self.host),
            name=resource_name(self.run_id, "ports"),
            network=name,
            labels=run_labels(self.run_id, "ports"),
        )
        self._direct_ports, self._secure_ports = by_broker(reserved, brokers)
        material: SecureMaterial | None = None
        if secured:
            material = new_material([n.host for n in self.spec.nodes() if n.broker], self.host)
            # Written after the network exists, so a failed start's teardown (the sweep) removes them.
            self.progress(f"client properties in {write_client_files(self.run_id, material)}")
        ssh: SshMaterial | None = None
        if self.spec.sshd:
            ssh = new_ssh_material([n.host for n in self.spec.nodes()])
            self.progress(f"SSH client key in {write_identity(self.run_id, ssh)}")  # the sweep removes it too
        cluster_id = new_cluster_id()
        for node_spec in self.spec.nodes():
            self._nodes[node_spec.node_id] = create_node(
                spread.client_of(node_spec.node_id) if spread is not None else self.client,
                refs.kafka,
                name,
                spec=self.spec,
                node=node_spec,
                run_id=self.run_id,
                cluster_id=cluster_id,
                host=self.host,
                proxy_port=self._proxy_ports[node_spec.node_id] if node_spec.broker else None,
                direct_port=self._direct_ports[node_spec.node_id] if node_spec.broker else None,
                secure_port=self._secure_ports.get(node_spec.node_id),
                secure=material,
                ssh=ssh,
                progress=self.progress,
                address=spread.addresses[node_spec.node_id] if spread is not None else None,
                peers=spread.hosts() if spread is not None else None,
            )
        for node in self._nodes.values():
            try:
                node.container.start()
            except APIError as e:
                refusal = no_fuse(e) if self.spec.disk == "kcfs" else None
                if refusal is None:
                    raise
                raise refusal from e
            self.progress(f"started {node.host}")
        self.wait_healthy(self.spec.health_timeout)
        if ssh is not None:
            self._write_ssh_config(name, ssh)
        self.progress(
            f"healthy after {time.monotonic() - t0:.1f}s; bootstrap {self.bootstrap_servers} "
            f"(direct, no proxy: {self.direct_bootstrap_servers})"
            + (f" (SASL_SSL: {self.secure_bootstrap_servers})" if secured else "")
        )

    def _write_ssh_config(self, network: str, ssh: SshMaterial) -> None:
        """Write ``known_hosts`` and ``ssh.yaml`` with each node's address on ``network``, read now."""
        addresses: dict[int, tuple[str, str]] = {}
        for node_id, node in self._nodes.items():
            node.container.reload()
            ip = str(node.container.attrs["NetworkSettings"]["Networks"][network]["IPAddress"])
            addresses[node_id] = (node.host, ip)
        self.progress(f"SSH to the nodes with {write_config(self.run_id, ssh, addresses)}")

    # -- teardown -------------------------------------------------------------------------------
    def node_logs(
        self, hosts: Sequence[str] = (), tail: int | None = None, since: float | None = None
    ) -> dict[str, str]:
        """The logs of this run's containers (every restart), by node name (``broker-2``,
        ``toxiproxy``); see :func:`chaos.cluster.logs.node_logs`.

        Raises:
            UsageError: a name in ``hosts`` is not a node of this run (the message names those there are).
        """
        return logs.node_logs(self.client, self.run_id, hosts, tail, since)

    def collect_logs(self, into: Path | None = None, since: float | None = None) -> list[Path]:
        """Copy every node's log (and toxiproxy's) into ``<into or run_dir>/logs`` (``since``: only
        what was logged from that Unix time on); returns the files written."""
        others = self._spread.others(engine_address()) if self._spread is not None else ()
        return [
            p for c in (self.client, *others) for p in logs.collect_logs(c, self.run_id, into or self.run_dir, since)
        ]

    def destroy(self, collect_logs: bool = True) -> SweepResult:
        """Copy logs, then remove every container and network of this run. Safe to call twice.

        Ctrl-C and SIGTERM are held until it finishes, so a teardown is never cut in half.
        """
        with deferred_signals():
            self.metadata.close()
            if collect_logs:
                try:
                    self.collect_logs()
                except Exception as e:  # evidence is precious but never blocks the teardown
                    log.warning("could not collect logs of run %s: %s", self.run_id, e)
            result = sweep_everywhere(self.client, self.run_id, docker_client)  # a spread cluster's other engines too
            self._nodes.clear()
            self._toxiproxy = None
            if result.containers or result.networks:
                self.progress(f"removed {len(result.containers)} containers, {len(result.networks)} networks")
            return result

    def _attach_evidence(self, error: BaseException) -> None:
        for node in self._nodes.values():
            tail = node.logs(tail=30).strip()
            if tail:
                error.add_note(f"--- last lines of {node.host} ({node.state}) ---\n{tail}")

    # -- attach to a running cluster (CLI) --------------------------------------------------------
    @classmethod
    def attach(
        cls, run_id: str, client: docker.DockerClient | None = None, run_dir: Path | None = None
    ) -> KafkaCluster:
        """Rebuild the handle of a cluster started earlier (e.g. by ``kafka-chaos cluster up``).

        Raises:
            UsageError: no cluster with that run id runs on this engine.
        """
        client = client or docker_client()
        networks = client.networks.list(filters=run_filter(run_id, role="network"))
        if not networks:
            raise UsageError(
                f"no cluster with run id {run_id!r} on this engine: `kafka-chaos cluster status` lists them"
            )
        spec = spec_from_json(networks[0].attrs["Labels"][SPEC_LABEL])
        cluster = cls(spec, run_id=run_id, client=client, run_dir=run_dir)
        by_id = {n.node_id: n for n in spec.nodes()}
        others = [docker_client(address=e) for e in spec.engines if e != engine_address()]
        everywhere = [
            c for engine in (client, *others) for c in engine.containers.list(all=True, filters=run_filter(run_id))
        ]
        for container in everywhere:
            role = container.labels.get(ROLE_LABEL)
            if role == "toxiproxy":
                cluster._toxiproxy = container
                if container.status == "running":
                    cluster._api_port, cluster._proxy_ports = proxy_ports(container, spec.brokers)
            elif role in ("broker", "controller"):
                node_id = int(container.labels[NODE_LABEL])
                cluster._nodes[node_id] = Node(by_id[node_id], container)
                for port, found in ((DIRECT_PORT, cluster._direct_ports), (SECURE_PORT, cluster._secure_ports)):
                    published = published_port(container, port) if role == "broker" else None
                    if published is not None:
                        found[node_id] = published
        cluster._nodes = dict(sorted(cluster._nodes.items()))
        cluster._direct_ports = dict(sorted(cluster._direct_ports.items()))
        cluster._secure_ports = dict(sorted(cluster._secure_ports.items()))
        return cluster
