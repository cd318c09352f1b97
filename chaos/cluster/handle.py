"""``ClusterHandle``: a cluster's addresses, health, metadata verbs and status, without its lifecycle.

It holds where each part of a cluster is reached from this machine: each node's container, toxiproxy's
API, each broker's proxied listener, its own direct listener and (``security="sasl_ssl"``) its secure
one. What the cluster says about itself it asks through :class:`~chaos.cluster.metadata.Metadata`,
which it hands only what that needs (an admin factory, the brokers, the spec).
:class:`~chaos.cluster.cluster.KafkaCluster` starts, attaches and destroys clusters and fills these in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from docker.models.containers import Container
from kafka.errors import KafkaError

import docker
from chaos.cluster.admin import Admin, connect
from chaos.cluster.broker_views import broker_views
from chaos.cluster.config import CLIENT_PATHS, ClientPath, ClusterSpec
from chaos.cluster.metadata import Metadata, PartitionState
from chaos.cluster.node import Node
from chaos.cluster.secure import client_config_path
from chaos.cluster.sshd import ssh_config_path
from chaos.cluster.status import ClusterStatus, describe
from chaos.cluster.toolbox import ToolAccess, in_a_broker
from chaos.engine import docker_client, published_host
from chaos.errors import ChaosError, ClusterUnhealthy, InfrastructureError, UsageError
from chaos.labels import new_run_id
from chaos.progress import Progress, silent
from chaos.toxiproxy import ToxiproxyClient
from chaos.waiting import WaitTimeout, wait_until
from chaos.watched import BrokerView
from chaos.workloads.security import PLAINTEXT, ClientSecurity

T = TypeVar("T")


def default_reports_dir() -> Path:
    """``./reports``: where run directories go unless told otherwise."""
    return Path("reports")


class ClusterHandle:
    """Where a cluster's parts are (its nodes, toxiproxy's API, each broker's proxied and direct
    listener) and what the cluster says about itself: health, metadata, admin calls, status.
    :class:`~chaos.cluster.cluster.KafkaCluster` adds the lifecycle that fills it in.
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
        #: Host port of each broker's SECURE (SASL_SSL) listener, by node id (empty: ``security: none``).
        self._secure_ports: dict[int, int] = {}
        self._api_port: int | None = None
        #: Where this process reaches the published proxy ports (and what brokers advertise).
        self.host = published_host()
        #: Admin calls and metadata lookups (see :mod:`chaos.cluster.metadata`).
        self.metadata = Metadata(self._connect_admin, lambda: self.brokers, self.spec)

    @property
    def client(self) -> docker.DockerClient:
        """The Docker client (connected on first use)."""
        if self._client is None:
            self._client = docker_client()
        return self._client

    def _connect_admin(self) -> Admin:
        """A new admin client through toxiproxy, bootstrapping from running brokers only: a frozen
        broker's proxy accepts connections but never answers, and a client bootstrapping there would
        wait for nothing."""
        running = [
            f"{self.host}:{port}"
            for node_id, port in self._proxy_ports.items()
            if node_id not in self._nodes or self._nodes[node_id].state == "running"
        ]
        return connect(",".join(running) or self.bootstrap_servers, self.client_addresses())

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
    def security(self) -> ClientSecurity:
        """The security settings its clients connect with: PLAINTEXT (an external cluster's are the team's)."""
        return PLAINTEXT

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

    @property
    def secure_bootstrap_servers(self) -> str:
        """``host:port,…`` of the brokers' SASL_SSL listeners (empty: a cluster without ``security="sasl_ssl"``);
        a client also needs :meth:`client_config_path`'s properties."""
        return ",".join(f"{self.host}:{port}" for port in self._secure_ports.values())

    def client_config_path(self, mechanism: str = "SCRAM-SHA-512") -> Path:
        """The Java client properties reaching :attr:`secure_bootstrap_servers` with ``mechanism``
        (``SCRAM-SHA-512`` or ``PLAIN``): protocol, mechanism, the user's JAAS line and the CA's path.
        The file is outside the run directory (under the cache) and removed with the cluster.

        Raises:
            UsageError: an unknown mechanism.
            InfrastructureError: the cluster has no secure listener, or its client files are gone.
        """
        path = client_config_path(self.run_id, mechanism)
        if not self._secure_ports:
            raise InfrastructureError(
                f"cluster {self.run_id} has no SASL_SSL listener: start one with "
                "`kafka-chaos cluster up --security sasl_ssl`"
            )
        if not path.is_file():
            raise InfrastructureError(
                f"the client properties of cluster {self.run_id} are not at {path} (written on another machine, "
                "or removed): start a new cluster with `kafka-chaos cluster up --security sasl_ssl`"
            )
        return path

    def ssh_config_path(self) -> Path:
        """``ssh.yaml`` of a cluster started with ``sshd``: how to reach each node over SSH (user, port,
        key, ``known_hosts``, addresses, Kafka's pid file and start command; :mod:`chaos.cluster.sshd`).
        The file is outside the run directory (under the cache) and removed with the cluster.

        Raises:
            UsageError: the cluster was not started with ``sshd``.
            InfrastructureError: its SSH files are gone (removed, or written on another machine).
        """
        if not self.spec.sshd:
            raise UsageError(
                f"cluster {self.run_id} has no SSH servers: start one with `kafka-chaos cluster up --sshd`"
            )
        path = ssh_config_path(self.run_id)
        if not path.is_file():
            raise InfrastructureError(
                f"the SSH config of cluster {self.run_id} is not at {path} (written on another machine, "
                "or removed): start a new cluster with `kafka-chaos cluster up --sshd`"
            )
        return path

    def client_addresses(self, client_path: ClientPath = "proxy") -> dict[int, tuple[str, int]]:
        """Each broker's (host, port) as a client of ``client_path`` dials it: its proxy's, or its own."""
        ports = self._proxy_ports if client_path == "proxy" else self._direct_ports
        return {node_id: (self.host, port) for node_id, port in ports.items()}

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

    def data_dirs(self) -> list[str]:
        """Every broker's log directories (``log.dirs``), where Kafka's segment dump reads."""
        return self.spec.data_dirs()

    @contextmanager
    def tools(self) -> Iterator[ToolAccess]:
        """Where Kafka's own tools run against this cluster: in its first running broker.

        Raises:
            InfrastructureError: no broker is running.
        """
        yield in_a_broker(self.brokers)

    # -- metadata (delegated to :class:`~chaos.cluster.metadata.Metadata`) ----------------------
    def admin(self) -> Admin:
        """The admin client connected through toxiproxy (made once, reused)."""
        return self.metadata.admin()

    def admin_call(self, fn: Callable[[Admin], T], attempts: int = 3) -> T:
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

    def broker_views(self, topic: str) -> list[BrokerView]:
        """Every partition of ``topic`` as each running broker sees it now, asked of that broker itself
        (leader, leader epoch, and the high watermark of the partitions it says it leads).

        Raises:
            KafkaError: no running broker answered (this thread's admin client is dropped then).
        """
        running = [b.node_id for b in self.brokers if b.state == "running"]
        return self.metadata.admin_call(lambda admin: broker_views(admin, running, topic), attempts=1)

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

    def wait_offsets_ready(self, timeout: float = 60.0) -> None:
        """Wait until groups can commit (``__consumer_offsets`` created and in sync); see
        :meth:`~chaos.cluster.metadata.Metadata.wait_offsets_ready`.

        Raises:
            ClusterUnhealthy: not within ``timeout``.
        """
        self.metadata.wait_offsets_ready(timeout)

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

    def status(self, check_health: bool = False, ask: bool = True) -> ClusterStatus:
        """Nodes, their states, addresses and bootstrap (``cluster status --json``); ``check_health``
        adds ``healthy`` (healthy within 5 s); ``ask=False`` asks Docker only. See
        :func:`chaos.cluster.status.describe`."""
        status = describe(
            run_id=self.run_id,
            kafka_version=self.spec.kafka_version,
            nodes=self.nodes,
            host=self.host,
            bootstrap_servers=self.bootstrap_servers,
            direct_bootstrap_servers=self.direct_bootstrap_servers,
            proxy_ports=self._proxy_ports,
            direct_ports=self._direct_ports,
            toxiproxy_api=self.toxiproxy.url if self._api_port else None,
            registered=self.metadata.registered_brokers() if ask and self._api_port is not None else None,
            ask=ask,
            secure_bootstrap_servers=self.secure_bootstrap_servers,
        )
        if check_health:
            try:
                self.wait_healthy(timeout=5)
                status["healthy"] = True
            except ChaosError:
                status["healthy"] = False
        return status
