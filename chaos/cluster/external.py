"""``ExternalCluster``: a team's running Kafka cluster, reached at its bootstrap servers with its
client security settings, that the harness neither started nor may stop.

The workloads, the drain and the oracle run on this machine; the brokers are the team's. The
harness touches only what carries its prefix (``kafka-chaos-``): each run creates its topics and
groups under ``kafka-chaos-<run id>-`` and deletes them when it ends (:meth:`ExternalCluster.remove_own`),
and ``kafka-chaos clean --bootstrap-servers …`` deletes whatever is left under the prefix. Its nodes
are the hosts reached over SSH (``--ssh-config``, with consent); without, a process lookup says why.

It is a :class:`~chaos.cluster.cluster.KafkaCluster` for everything a run asks of a cluster
(topics, partition state, admin calls, bootstrap addresses); its lifecycle verbs connect and
check, or refuse. ``docs/external-clusters.md`` has the contract.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from kafka.admin import ConfigResource, ConfigResourceType, MemberToRemove
from kafka.errors import KafkaError

from chaos.cluster.admin import Admin, connect, finalized_levels
from chaos.cluster.broker_views import broker_views
from chaos.cluster.cluster import KafkaCluster
from chaos.cluster.config import ClientPath, ClusterSpec
from chaos.cluster.metadata import BrokerProcess, Metadata
from chaos.cluster.node import Node
from chaos.cluster.ssh import SshSession
from chaos.cluster.ssh_config import SshConfig
from chaos.cluster.ssh_hosts import collect_host_logs, connect_hosts
from chaos.cluster.ssh_node import SshNode
from chaos.cluster.sweeper import SweepResult
from chaos.cluster.toolbox import ToolAccess, on_this_machine
from chaos.errors import ClusterUnhealthy, InfrastructureError, UsageError
from chaos.progress import Progress, silent
from chaos.waiting import WaitTimeout, wait_until
from chaos.watched import BrokerView
from chaos.workloads.security import PLAINTEXT, ClientSecurity

#: What every topic and group the harness creates on an external cluster starts with.
PREFIX = "kafka-chaos-"


def namespace(run_id: str) -> str:
    """What a run's topics and groups on an external cluster start with.

    >>> namespace("20261205-120000-ab12")
    'kafka-chaos-20261205-120000-ab12-'
    """
    return f"{PREFIX}{run_id}-"


@dataclass(frozen=True, slots=True)
class ExternalTarget:
    """Where a team's cluster is and what the harness may do to it: ``bootstrap`` servers, the
    clients' ``security``, and the cluster id the team consented to faults on (``--allow-faults-on``;
    None: client faults only)."""

    bootstrap: str
    security: ClientSecurity = PLAINTEXT
    allow_faults_on: str | None = None
    #: Its hosts, reached over SSH (``--ssh-config``): the ``ssh`` backend, with consent.
    ssh: SshConfig | None = None

    def __post_init__(self) -> None:
        addresses = [a.strip() for a in self.bootstrap.split(",") if a.strip()]
        # A stray comma or space is dropped: kafka-python reads an empty entry as localhost:9092.
        object.__setattr__(self, "bootstrap", ",".join(addresses))
        if not addresses or any(not _address(a) for a in addresses):
            raise UsageError(
                f"bootstrap servers {self.bootstrap!r} are not a list of host:port: pass e.g. kafka-1:9092,kafka-2:9092"
            )


def _address(text: str) -> tuple[str, int] | None:
    host, _, port = text.rpartition(":")
    ok = host and port.isascii() and port.isdecimal() and 0 < int(port) < 65536
    return (host.strip("[]"), int(port)) if ok else None


@dataclass(frozen=True, slots=True)
class RemoteBroker:
    """A broker of an external cluster, as it describes itself: always asked (``state`` running)."""

    node_id: int
    host: str
    port: int
    state: str = "running"


class ExternalCluster(KafkaCluster):
    """A team's running cluster (see the module docstring).

    Raises (from :meth:`start`):
        UsageError: nothing listens at the bootstrap servers, the brokers refuse the client
            settings (TLS, SASL), or faults were consented to on another cluster than this one.
    """

    def __init__(
        self,
        target: ExternalTarget,
        *,
        kafka_version: str | None = None,
        run_id: str | None = None,
        run_dir: Path | None = None,
        progress: Progress = silent,
    ) -> None:
        spec = ClusterSpec(brokers=1, kafka_version=kafka_version) if kafka_version else ClusterSpec(brokers=1)
        super().__init__(spec, run_id=run_id, run_dir=run_dir, progress=progress)
        self.target = target
        self.remote: list[RemoteBroker] = []
        #: The id the cluster reports (known after :meth:`start`).
        self.cluster_id: str | None = None
        #: Its nodes reached over SSH (with ``target.ssh`` and consent, after :meth:`start`).
        self.hosts: dict[int, SshNode] = {}
        self._sessions: list[SshSession] = []
        self.metadata = Metadata(self._connect_admin, self._processes, self.spec)

    def _processes(self) -> list[BrokerProcess]:
        """The brokers as metadata lookups ask them: a host's by its process's state (a frozen
        broker is not asked; it would answer nothing), else as always running."""
        return [self.hosts.get(b.node_id, b) for b in self.remote]

    def _connect_admin(self) -> Admin:
        """A new admin client; with the hosts known, bootstrapping from the running brokers only."""
        running = [
            f"{b.host}:{b.port}" for b in self.remote if b.node_id in self.hosts and self.hosts[b.node_id].is_running
        ]
        every = self.client_addresses()
        return connect(",".join(running) or self.target.bootstrap, every, self.target.security.kafka_python())

    # -- lifecycle: connect and check, never start or stop ---------------------------------------
    def start(self, *, check_hosts: bool = True) -> None:
        """Connect, learn the brokers and the cluster id, and check the consent to faults; with the
        hosts over SSH and consent, connect them too (``check_hosts=False``, for ``clean``: without
        requiring each to run a Kafka the cluster reports).

        Raises:
            UsageError: see the class docstring.
        """
        if not self._listening():
            raise UsageError(
                f"nothing answers at {self.target.bootstrap}: check --bootstrap-servers and that the cluster is up"
            )
        try:
            described = self.metadata.admin_call(lambda a: a.describe_cluster(), attempts=1)
        except (KafkaError, OSError) as e:
            raise UsageError(
                f"the brokers at {self.target.bootstrap} accept connections but did not answer the harness's "
                f"client ({type(e).__name__}): check --client-config (security.protocol, the SASL user and "
                "password, the CA certificate)"
            ) from None
        self.remote = sorted(
            (RemoteBroker(int(b["broker_id"]), str(b["host"]), int(b["port"])) for b in described["brokers"]),
            key=lambda b: b.node_id,
        )
        self.cluster_id = str(described.get("cluster_id") or "")
        # A spec of as many brokers as it has (a replication factor is checked against it); at most
        # the 9 a started cluster may have, which no experiment's replication factor exceeds.
        size = max(1, min(9, len(self.remote)))
        self.spec = self.metadata.spec = ClusterSpec(brokers=size, kafka_version=self.spec.kafka_version)
        consent = self.target.allow_faults_on
        if consent is not None and consent != self.cluster_id:
            raise UsageError(
                f"--allow-faults-on {consent} does not name the cluster at {self.target.bootstrap}, whose id is "
                f"{self.cluster_id}: check you are pointing at the cluster you meant"
            )
        if self.target.ssh is not None and self.faults_allowed and not self.hosts:
            quorum = self.metadata.admin_call(lambda a: a.describe_metadata_quorum())["topics"][0]["partitions"][0]
            ids = {int(v["replica_id"]) for v in quorum.get("current_voters", [])}
            brokers = {b.node_id for b in self.remote}
            self.hosts, self._sessions = connect_hosts(self.target.ssh, brokers, ids, strict=check_hosts)

    def _listening(self) -> bool:
        """Whether any bootstrap address accepts a TCP connection (within 3 s)."""
        for address in self.target.bootstrap.split(","):
            host_port = _address(address.strip())
            try:
                if host_port is not None:
                    socket.create_connection(host_port, timeout=3).close()
                    return True
            except OSError:
                continue
        return False

    def broker_settings(self) -> dict[str, str]:
        """The effective settings of the first broker the cluster described (``DescribeConfigs``),
        each key with its value; a secret's has none and is left out.

        Raises:
            KafkaError: the cluster did not answer.
        """
        first = str(self.remote[0].node_id) if self.remote else "0"
        resource = ConfigResource(ConfigResourceType.BROKER, first)
        found = self.admin_call(lambda a: a.describe_configs([resource], config_filter="all"))
        entries = found.get("broker", {}).get(first, {})
        return {k: str(e["value"]) for k, e in entries.items() if e.get("value") is not None}

    def data_dirs(self) -> list[str]:
        """The log directories the first broker reports (``log.dirs``, else ``log.dir``), where Kafka's
        segment dump reads on a host reached over SSH.

        Raises:
            InfrastructureError: the cluster did not say.
        """
        try:
            settings = self.broker_settings()
        except KafkaError as e:
            raise InfrastructureError(f"the cluster did not give its brokers' log.dirs: {type(e).__name__}") from None
        dirs = settings.get("log.dirs") or settings.get("log.dir") or ""
        return [d.strip() for d in dirs.split(",") if d.strip()]

    def feature_levels(self) -> dict[str, int]:
        """Each finalized feature's level (``metadata.version`` among them). Raises KafkaError."""
        return finalized_levels(self.admin_call(lambda a: a.describe_features()))

    @property
    def faults_allowed(self) -> bool:
        """Whether the team consented to faults on this cluster (``--allow-faults-on`` its id)."""
        return self.target.allow_faults_on is not None and self.target.allow_faults_on == self.cluster_id

    def destroy(self, collect_logs: bool = True) -> SweepResult:
        """Close the admin and SSH connections: the cluster is the team's, and keeps running."""
        if collect_logs and self.hosts:
            self.collect_logs()
        self.close()
        return SweepResult([], [])

    def close(self) -> None:
        """Close the admin and SSH connections."""
        self.metadata.close()
        for session in self._sessions:
            session.close()

    def collect_logs(self, into: Path | None = None, since: float | None = None) -> list[Path]:
        """Each host's Kafka log file (``kafka.log_file`` of the SSH config), if named; else nothing."""
        del since
        return collect_host_logs(self.hosts, into or self.run_dir)

    @property
    def nodes(self) -> list[Node]:
        """The nodes reached over SSH (none without ``--ssh-config`` and consent)."""
        return list(self.hosts.values())

    @property
    def brokers(self) -> list[Node]:
        """The brokers reached over SSH."""
        return [n for n in self.hosts.values() if n.spec.broker]

    def broker(self, i: int) -> Node:
        """Broker ``i`` on its host. Raises UsageError: no such broker, or its host is not reached."""
        node = self.node(i)
        if not node.spec.broker:
            raise UsageError(f"node {i} of the cluster at {self.target.bootstrap} is a controller, not a broker")
        return node

    def clean_hosts(self) -> dict[str, list[str]]:
        """Undo whatever the harness left on each host (:meth:`SshNode.clean`); by host, what it found."""
        return {node.name: node.clean() for node in self.hosts.values()}

    def wait_healthy(self, timeout: float | None = None) -> None:
        """Wait until every broker the cluster described is registered and unfenced.

        Raises:
            ClusterUnhealthy: not within ``timeout``.
        """
        want = {b.node_id for b in self.remote}

        def registered() -> bool:
            return want <= (self.metadata.registered_brokers() or set())

        try:
            wait_until(registered, timeout or 60.0, f"the brokers of {self.target.bootstrap} to be registered")
        except WaitTimeout as e:
            raise ClusterUnhealthy(str(e)) from None

    # -- addresses --------------------------------------------------------------------------------
    @property
    def security(self) -> ClientSecurity:
        """The team's client security settings (``--client-config``)."""
        return self.target.security

    @property
    def bootstrap_servers(self) -> str:
        """The team's bootstrap servers."""
        return self.target.bootstrap

    @property
    def direct_bootstrap_servers(self) -> str:
        """The team's bootstrap servers (no proxy stands between)."""
        return self.target.bootstrap

    def bootstrap(self, client_path: ClientPath = "proxy") -> str:
        """The team's bootstrap servers, whatever the client path: no proxy stands between."""
        del client_path
        return self.target.bootstrap

    def client_addresses(self, client_path: ClientPath = "proxy") -> dict[int, tuple[str, int]]:
        """Each broker's (host, port) as it describes itself to the team's clients, whatever the path."""
        del client_path
        return {b.node_id: (b.host, b.port) for b in self.remote}

    def node(self, node_id: int) -> Node:
        """Node ``node_id`` on its host (``--ssh-config``, with consent).

        Raises:
            UsageError: the harness reaches no process of this cluster, or not that node's.
        """
        if node_id in self.hosts:
            return self.hosts[node_id]
        if self.hosts:
            raise UsageError(f"there is no node {node_id}: the SSH config names {sorted(self.hosts)}")
        raise UsageError(
            f"node {node_id} of the cluster at {self.target.bootstrap} is the team's: the harness reaches its brokers "
            "only through Kafka's protocol, so it cannot act on their processes, disks or networks"
        )

    def broker_views(self, topic: str) -> list[BrokerView]:
        """Every partition of ``topic`` as each broker sees it now (see the base class)."""
        ids = [b.node_id for b in self.remote if b.node_id not in self.hosts or self.hosts[b.node_id].is_running]
        return self.metadata.admin_call(lambda admin: broker_views(admin, ids, topic), attempts=1)

    @contextmanager
    def tools(self) -> Iterator[ToolAccess]:
        """Where Kafka's own tools run against the team's cluster: this machine's JVM with the
        release's jars (fetched from Maven Central once, as for the Java client), connecting with
        the team's client properties.

        Raises:
            InfrastructureError: no JDK on this machine.
            ImageBuildError: the release's jars could not be fetched.
        """
        from chaos.images.builder import default_cache_dir, resolve_kafka_jars
        from chaos.images.java_driver import find_jdk

        java, _ = find_jdk()
        libs = resolve_kafka_jars(default_cache_dir(), self.spec.kafka_version)
        yield on_this_machine(java, libs, self.target.bootstrap, self.target.security.path)

    # -- what the harness leaves ------------------------------------------------------------------
    def remove_own(self, prefix: str, timeout: float = 90.0) -> list[str]:
        """Delete every topic and consumer group whose name starts with ``prefix`` (one of the harness's:
        :data:`PREFIX` or a run's :func:`namespace`), asking again until the cluster lists none of
        them (a group keeps a killed member until its session times out, and is not empty till
        then); returns what was deleted.

        Raises:
            UsageError: ``prefix`` is not under the harness's own.
            InfrastructureError: some were still listed after ``timeout`` (the message names them).
        """
        if not prefix.startswith(PREFIX):
            raise UsageError(f"the harness deletes only names under {PREFIX}, not {prefix}")
        found: set[str] = set()
        left = [""]

        def gone() -> bool:
            topics = sorted(t for t in self.admin_call(lambda a: a.list_topics()) if t.startswith(prefix))
            listed = self.admin_call(lambda a: a.list_groups())
            groups = sorted({str(g["group_id"]) for g in listed if str(g["group_id"]).startswith(prefix)})
            found.update(topics, groups)
            left[0] = ", ".join([*topics, *groups])
            try:
                if topics:
                    self.admin_call(lambda a: a.delete_topics(topics, timeout_ms=30_000, raise_errors=False))
                if groups:
                    _delete_groups(self.admin_call, groups)
            except KafkaError:
                return False  # refused this time (a group not empty yet): asked again
            return not topics and not groups

        try:
            wait_until(gone, timeout, f"the harness's topics and groups under {prefix} to be deleted", interval=2.0)
        except WaitTimeout:
            raise InfrastructureError(
                f"the cluster at {self.target.bootstrap} still lists {left[0]} after {timeout:.0f}s: delete them "
                f"by hand, or run `kafka-chaos clean --bootstrap-servers {self.target.bootstrap}` (with the same "
                "--client-config) again later"
            ) from None
        return sorted(found)


def _delete_groups(call: Callable[[Callable[[Admin], object]], object], groups: Sequence[str]) -> None:
    """Remove the members still in ``groups`` (a killed consumer stays one until its session times
    out), then delete the groups."""

    def members(admin: Admin) -> dict[str, list[MemberToRemove]]:
        described = admin.describe_groups(list(groups))
        return {
            g: [MemberToRemove(member_id=m["member_id"]) for m in d.get("members") or []] for g, d in described.items()
        }

    for group, gone in dict(call(members)).items():  # type: ignore[call-overload]
        if gone:
            call(lambda a, g=group, m=gone: a.remove_group_members(g, m))  # type: ignore[misc]
    call(lambda a: a.delete_groups(list(groups)))
