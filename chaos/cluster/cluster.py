"""``KafkaCluster``: a real multi-broker KRaft cluster in Docker, behind a toxiproxy.

Lifecycle: :meth:`KafkaCluster.start` creates a network, a toxiproxy container (one proxy per
broker, published on 127.0.0.1, or on a remote engine's host) and one container per node, each broker
also publishing its own direct listener on a port fixed for the cluster's life, then waits
until the cluster is healthy: every broker registered and a topic replicated to ``min(3, brokers)``
nodes has its full ISR. A start that fails half-way removes everything it made before re-raising.
:meth:`KafkaCluster.destroy` copies every node's log into the run directory, then removes every
resource labelled with the run id.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

from docker.errors import APIError, ImageNotFound, NotFound
from docker.models.containers import Container
from kafka import KafkaAdminClient
from kafka.errors import KafkaError

import docker
from chaos.cluster.config import (
    CLIENT_PATHS,
    CLIENT_PORT,
    DIRECT_PORT,
    PROXY_BASE_PORT,
    TOXIPROXY_API_PORT,
    ClientPath,
    ClusterSpec,
    NodeSpec,
    jvm_options,
    new_cluster_id,
    server_properties,
)
from chaos.cluster.metadata import Metadata, PartitionState
from chaos.cluster.node import Node
from chaos.cluster.node_files import packaged, tar_dir
from chaos.cluster.ports import published_port, reserve_ports
from chaos.cluster.proxy import start_toxiproxy
from chaos.cluster.registry import spec_from_json, spec_to_json
from chaos.cluster.sweeper import SweepResult, sweep
from chaos.engine import bind_address, docker_client, published_host
from chaos.errors import ClusterUnhealthy, ImageMissing, InfrastructureError, UsageError
from chaos.images.kcfs import kcfs_binary, kcfs_container_options, no_fuse
from chaos.images.recipes import image_refs, kafka_tag, toxiproxy_tag
from chaos.labels import (
    NODE_LABEL,
    ROLE_LABEL,
    SPEC_LABEL,
    new_run_id,
    resource_name,
    run_filter,
    run_labels,
)
from chaos.progress import Progress, silent
from chaos.signals import deferred_signals, sigterm_raises
from chaos.toxiproxy import ToxiproxyClient
from chaos.waiting import WaitTimeout, wait_until

log = logging.getLogger(__name__)

T = TypeVar("T")


def default_reports_dir() -> Path:
    """``./reports``: where run directories go unless told otherwise."""
    return Path("reports")


class KafkaCluster:
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

    def __init__(
        self,
        spec: ClusterSpec | None = None,
        *,
        run_id: str | None = None,
        run_dir: Path | None = None,
        client: docker.DockerClient | None = None,
        progress: Progress = silent,
    ) -> None:
        self.spec = spec or ClusterSpec()
        self.run_id = run_id or new_run_id()
        self.run_dir = run_dir or default_reports_dir() / self.run_id
        self.progress = progress
        self._client = client
        self._nodes: dict[int, Node] = {}
        self._toxiproxy: Container | None = None
        self._proxy_ports: dict[int, int] = {}
        #: Host port of each broker's own DIRECT listener (the direct client path), by node id.
        self._direct_ports: dict[int, int] = {}
        self._api_port: int | None = None
        #: Admin calls and metadata lookups (see :mod:`chaos.cluster.metadata`).
        self.metadata = Metadata(self)
        #: Where this process reaches the published proxy ports (and what brokers advertise).
        self.host = published_host()

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

    @property
    def client(self) -> docker.DockerClient:
        """The Docker client (connected on first use)."""
        if self._client is None:
            self._client = docker_client()
        return self._client

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
        refs = image_refs(self.spec.kafka_version, self.spec.kafka_image, self.spec.toxiproxy_image)
        built = (kafka_tag(self.spec.kafka_version), toxiproxy_tag())
        for ref in (refs.kafka, refs.toxiproxy):
            try:
                self.client.images.get(ref)
            except ImageNotFound:
                if ref in built:
                    fix = f"run `kafka-chaos images build --kafka-version {self.spec.kafka_version}` first"
                else:
                    fix = f"`docker pull {ref}` or `docker load` it first (the harness never pulls)"
                raise ImageMissing(f"image {ref} is not on this Docker engine: {fix}") from None
        t0 = time.monotonic()
        self.progress(f"run {self.run_id}: creating network")
        network = self.client.networks.create(
            resource_name(self.run_id, "net"),
            driver="bridge",
            check_duplicate=True,
            labels={**run_labels(self.run_id, "network"), SPEC_LABEL: spec_to_json(self.spec)},
        )
        self._start_toxiproxy(refs.toxiproxy, network.name or "")
        self._reserve_direct_ports(refs.toxiproxy, network.name or "")
        cluster_id = new_cluster_id()
        for node_spec in self.spec.nodes():
            self._nodes[node_spec.node_id] = self._create_node(refs.kafka, network.name or "", node_spec, cluster_id)
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
        self.progress(
            f"healthy after {time.monotonic() - t0:.1f}s; bootstrap {self.bootstrap_servers} "
            f"(direct, no proxy: {self.direct_bootstrap_servers})"
        )

    def _start_toxiproxy(self, image: str, network: str) -> None:
        self.progress("starting toxiproxy")
        self._toxiproxy = start_toxiproxy(
            self.client,
            image,
            name=resource_name(self.run_id, "toxiproxy"),
            network=network,
            labels=run_labels(self.run_id, "toxiproxy"),
            ports=[TOXIPROXY_API_PORT, *(PROXY_BASE_PORT + i for i in range(1, self.spec.brokers + 1))],
            host=self.host,
        )
        self._read_toxiproxy_ports()
        api = self.toxiproxy
        api.reset()
        existing = api.proxies()
        for i in range(1, self.spec.brokers + 1):
            name = f"broker-{i}"
            if name not in existing:
                api.create_proxy(name, listen=f"0.0.0.0:{PROXY_BASE_PORT + i}", upstream=f"broker-{i}:{CLIENT_PORT}")

    def _reserve_direct_ports(self, image: str, network: str) -> None:
        """Fix the host port of each broker's direct listener before its properties are written."""
        ports = reserve_ports(
            self.client,
            image,
            self.spec.brokers,
            bind=bind_address(self.host),
            name=resource_name(self.run_id, "ports"),
            network=network,
            labels=run_labels(self.run_id, "ports"),
        )
        self._direct_ports = dict(zip(range(1, self.spec.brokers + 1), ports, strict=True))

    def _read_toxiproxy_ports(self) -> None:
        assert self._toxiproxy is not None
        self._toxiproxy.reload()
        bound = self._toxiproxy.attrs["NetworkSettings"]["Ports"] or {}

        def host_port(port: int) -> int:
            entries = bound.get(f"{port}/tcp") or []
            if not entries:
                raise InfrastructureError(f"Docker did not publish toxiproxy port {port}")
            return int(entries[0]["HostPort"])

        self._api_port = host_port(TOXIPROXY_API_PORT)
        self._proxy_ports = {i: host_port(PROXY_BASE_PORT + i) for i in range(1, self.spec.brokers + 1)}

    def _create_node(self, image: str, network: str, node: NodeSpec, cluster_id: str) -> Node:
        advertised = f"{self.host}:{self._proxy_ports[node.node_id]}" if node.broker else None
        direct = f"{self.host}:{self._direct_ports[node.node_id]}" if node.broker else None
        files = {
            "server.properties": server_properties(self.spec, node, advertised, direct).encode(),
            "start.sh": packaged("start.sh"),
            "log4j2.properties": packaged("log4j2.properties"),
            "log4j.properties": packaged("log4j.properties"),
        }
        environment = {
            "KAFKA_CHAOS_CLUSTER_ID": cluster_id,
            "KAFKA_CHAOS_JVM_OPTS": jvm_options(self.spec),
            "KAFKA_CHAOS_DISK": self.spec.disk,
            "KAFKA_CHAOS_FORMAT_ARGS": self.spec.format_arguments(),
        }
        # Network faults run iptables and tc inside the node's own namespace.
        extra: dict[str, Any] = {"cap_add": ["NET_ADMIN"]}
        if self.spec.disk == "kcfs":
            files["kcfs"] = kcfs_binary(progress=self.progress).read_bytes()
            kcfs = kcfs_container_options()
            extra = {**kcfs, "cap_add": ["NET_ADMIN", *kcfs["cap_add"]]}
        if node.broker:
            # The port fixed for this broker, not one the engine picks: a restart must bind the
            # address the broker advertises again.
            extra["ports"] = {f"{DIRECT_PORT}/tcp": (bind_address(self.host), self._direct_ports[node.node_id])}
        container = self.client.containers.create(
            image,
            ["sh", "/kafka-chaos/start.sh"],
            name=resource_name(self.run_id, node.host),
            hostname=node.host,
            labels=run_labels(self.run_id, node.role, node.node_id),
            environment=environment,
            network=network,
            networking_config={network: self.client.api.create_endpoint_config(aliases=[node.host])},
            **extra,
        )
        container.put_archive("/", tar_dir("kafka-chaos", files))
        return Node(node, container)

    # -- health ---------------------------------------------------------------------------------
    def wait_healthy(self, timeout: float | None = None) -> None:
        """Wait until every broker is registered and the health topic has its full ISR.

        Raises:
            ClusterUnhealthy: a node exited, or ``timeout`` passed; the message says which check failed.
        """
        budget = timeout or self.spec.health_timeout
        rf = self.spec.default_replication
        reason = ["no broker answered yet"]

        def healthy() -> bool:
            for node in self._nodes.values():
                state = node.state
                if state not in ("running", "paused"):
                    raise ClusterUnhealthy(f"{node.host} {state} while the cluster started: see its log below")
            try:
                reason[0] = self.metadata.health_problem(rf)
            except (KafkaError, OSError) as e:
                reason[0] = f"{type(e).__name__}: {e}"
                self.metadata.drop_admin()
            return reason[0] == ""

        try:
            wait_until(healthy, budget, f"cluster {self.run_id} to be healthy", interval=0.25)
        except WaitTimeout:
            raise ClusterUnhealthy(
                f"cluster {self.run_id} not healthy after {budget:.0f}s "
                f"({reason[0]}): see the node logs below, or raise the health timeout"
            ) from None

    # -- lookups --------------------------------------------------------------------------------
    @property
    def bootstrap_servers(self) -> str:
        """``host:port,…`` for clients on this machine (every address crosses toxiproxy)."""
        return ",".join(f"{self.host}:{port}" for port in self._proxy_ports.values())

    @property
    def direct_bootstrap_servers(self) -> str:
        """``host:port,…`` of the brokers' own direct listeners: a client bootstrapping here is told
        only direct addresses, so none of its bytes cross toxiproxy (empty: a cluster started before
        brokers had direct listeners)."""
        return ",".join(f"{self.host}:{port}" for port in self._direct_ports.values())

    def bootstrap(self, client_path: ClientPath = "proxy") -> str:
        """The bootstrap address of ``client_path``: toxiproxy's listeners or the brokers' own.

        Raises:
            UsageError: an unknown client path.
            InfrastructureError: ``direct`` on a cluster whose brokers have no direct listener.
        """
        if client_path not in CLIENT_PATHS:
            raise UsageError(f"client path {client_path!r} is not one of {', '.join(CLIENT_PATHS)}")
        if client_path == "proxy":
            return self.bootstrap_servers
        if not self._direct_ports:
            raise InfrastructureError(
                f"cluster {self.run_id} has no direct listeners (started by an older kafka-chaos): "
                "start one with `kafka-chaos cluster up`, or run through the proxy"
            )
        return self.direct_bootstrap_servers

    @property
    def toxiproxy(self) -> ToxiproxyClient:
        """Client of this cluster's toxiproxy API."""
        if self._api_port is None:
            raise InfrastructureError(f"cluster {self.run_id} has no toxiproxy running")
        return ToxiproxyClient(f"http://{self.host}:{self._api_port}")

    @property
    def nodes(self) -> list[Node]:
        """Every node, brokers first."""
        return list(self._nodes.values())

    @property
    def brokers(self) -> list[Node]:
        """The brokers, 1..N."""
        return [n for n in self._nodes.values() if n.spec.broker]

    def broker(self, i: int) -> Node:
        """Broker ``i`` (1-based, equal to its node id).

        Raises:
            UsageError: no such broker.
        """
        node = self._nodes.get(i)
        if node is None or not node.spec.broker:
            raise UsageError(f"there is no broker {i}: brokers are 1..{self.spec.brokers}")
        return node

    def node(self, node_id: int) -> Node:
        """The node with ``node_id`` (broker or controller).

        Raises:
            UsageError: no such node.
        """
        if node_id not in self._nodes:
            raise UsageError(f"there is no node {node_id}: nodes are {sorted(self._nodes)}")
        return self._nodes[node_id]

    # -- metadata (delegated to :class:`~chaos.cluster.metadata.Metadata`) ----------------------
    def admin(self) -> KafkaAdminClient:
        """The admin client connected through toxiproxy (made once, reused)."""
        return self.metadata.admin()

    def admin_call(self, fn: Callable[[KafkaAdminClient], T], attempts: int = 3) -> T:
        """Run ``fn(admin)``, on a fresh admin client after a failure.

        Raises:
            KafkaError: every attempt failed.
        """
        return self.metadata.admin_call(fn, attempts)

    def close(self) -> None:
        """Close the admin connections this handle holds; the cluster keeps running (see :meth:`destroy`)."""
        self.metadata.close()

    def partitions(self, topic: str, attempts: int = 3) -> list[PartitionState]:
        """Leader, replicas and ISR of each partition of ``topic``, as the cluster agrees now.

        Raises:
            KafkaError: no broker answered, or the topic's metadata carries an error.
        """
        return self.metadata.partitions(topic, attempts)

    def partition(self, topic: str, partition: int) -> PartitionState:
        """State of one partition.

        Raises:
            UsageError: the topic has no such partition.
        """
        return self.metadata.partition(topic, partition)

    def leader_of(self, topic: str, partition: int) -> Node:
        """The broker leading ``topic``-``partition`` now.

        Raises:
            InfrastructureError: the partition has no leader at the moment.
        """
        leader = self.metadata.partition(topic, partition).leader
        if leader < 0:
            raise InfrastructureError(f"{topic}-{partition} has no leader right now")
        return self.node(leader)

    def controller(self) -> Node:
        """The active KRaft controller (leader of the metadata quorum)."""
        quorum = self.metadata.admin_call(lambda a: a.describe_metadata_quorum())
        leader = int(quorum["topics"][0]["partitions"][0]["leader_id"])
        return self.node(leader)

    def create_topic(
        self,
        name: str,
        partitions: int = 3,
        replication_factor: int | None = None,
        config: dict[str, str] | None = None,
        timeout: float = 60.0,
    ) -> None:
        """Create ``name`` and wait until every partition has a leader and its full ISR.

        Raises:
            UsageError: replication factor above the broker count, or the topic exists.
            ClusterUnhealthy: the topic did not become fully replicated in time.
        """
        self.metadata.create_topic(name, partitions, replication_factor, config, timeout)

    def wait_for_isr(self, topic: str, size: int | None = None, timeout: float = 60.0) -> list[PartitionState]:
        """Wait until every partition of ``topic`` has a leader and ``size`` in-sync replicas.

        Raises:
            ClusterUnhealthy: not reached within ``timeout``.
        """
        return self.metadata.wait_for_isr(topic, size, timeout)

    def wait_for_leader(self, topic: str, partition: int, not_on: int | None = None, timeout: float = 60.0) -> Node:
        """Wait until ``topic``-``partition`` has a leader (other than node ``not_on``) and return it.

        Raises:
            ClusterUnhealthy: none within ``timeout``.
        """
        return self.node(self.metadata.wait_for_leader(topic, partition, not_on, timeout))

    # -- teardown -------------------------------------------------------------------------------
    def node_logs(
        self, hosts: Sequence[str] = (), tail: int | None = None, since: float | None = None
    ) -> dict[str, str]:
        """The logs of this run's containers (every restart), by node name (``broker-2``,
        ``toxiproxy``), all of them or only ``hosts``; ``tail``: only the last lines of each;
        ``since``: only what was logged from that Unix time on.

        Raises:
            UsageError: a name in ``hosts`` is not a node of this run (the message names those there are).
        """
        containers = self.client.containers.list(all=True, filters=run_filter(self.run_id))
        prefix = resource_name(self.run_id, "")
        by_host = {(c.name or c.id or "unknown").removeprefix(prefix): c for c in containers}
        unknown = sorted(set(hosts) - set(by_host))
        if unknown:
            raise UsageError(f"cluster {self.run_id} has no node {unknown[0]!r}: it has {', '.join(sorted(by_host))}")
        out: dict[str, str] = {}
        for host in sorted(hosts or by_host):
            try:
                text = by_host[host].logs(tail=tail if tail is not None else "all", since=since)
                out[host] = text.decode(errors="replace")
            except (NotFound, APIError):
                continue
        return out

    def collect_logs(self, into: Path | None = None, since: float | None = None) -> list[Path]:
        """Copy every node's log (and toxiproxy's) into ``<into or run_dir>/logs`` (``since``: only
        what was logged from that Unix time on); returns the files written."""
        written: list[Path] = []
        logs = (into or self.run_dir) / "logs"
        for host, text in self.node_logs(since=since).items():
            logs.mkdir(parents=True, exist_ok=True)
            path = logs / f"{host}.log"
            path.write_text(text)
            written.append(path)
        return written

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
            result = sweep(self.client, self.run_id)
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
        for container in client.containers.list(all=True, filters=run_filter(run_id)):
            role = container.labels.get(ROLE_LABEL)
            if role == "toxiproxy":
                cluster._toxiproxy = container
                if container.status == "running":
                    cluster._read_toxiproxy_ports()
            elif role in ("broker", "controller"):
                node_id = int(container.labels[NODE_LABEL])
                cluster._nodes[node_id] = Node(by_id[node_id], container)
                direct = published_port(container, DIRECT_PORT) if role == "broker" else None
                if direct is not None:
                    cluster._direct_ports[node_id] = direct
        cluster._nodes = dict(sorted(cluster._nodes.items()))
        cluster._direct_ports = dict(sorted(cluster._direct_ports.items()))
        return cluster

    def status(self, check_health: bool = False, ask: bool = True) -> dict[str, Any]:
        """Nodes, their states, addresses and bootstrap (``cluster status --json``); ``check_health``
        adds ``healthy``; ``ask=False`` asks Docker only. See :func:`chaos.cluster.status.describe`."""
        from chaos.cluster.status import describe

        return describe(self, check_health, ask)
