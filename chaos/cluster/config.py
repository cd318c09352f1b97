"""Cluster shape and the broker configuration generated from it (pure: no Docker).

Listeners, per node:

* ``CLIENT`` (9092): the proxied client path (``client_path: proxy``, the default). Advertised as
  ``127.0.0.1:<port>``, a host port published by the toxiproxy container whose proxy forwards to this
  listener, so every client byte crosses toxiproxy and client-side network faults reach it.
* ``DIRECT`` (9094): the direct client path (``client_path: direct``). Advertised as
  ``127.0.0.1:<port>``, a host port the broker's own container publishes, so a client that
  bootstraps here is told only direct addresses and never crosses toxiproxy, also after a metadata
  redirect to another broker. The port is fixed when the container is created (see
  :mod:`chaos.cluster.ports`), so the advertised address stays true across restarts.
* ``SECURE`` (9095), only with ``security="sasl_ssl"``: SASL_SSL with ``PLAIN`` and ``SCRAM-SHA-512``,
  published and advertised like ``DIRECT`` (its own fixed host port), so a harness-started cluster can
  stand in for a secured one. Its certificates, password and client files are
  :mod:`chaos.cluster.secure`'s; server.properties names the secrets' file, never a secret.
* ``INTERNAL`` (9091): replication between brokers, on the run's Docker network, never proxied.
* ``CONTROLLER`` (9093): the KRaft quorum, never proxied.

Every cluster serves both client paths, a property of the run, not of the cluster.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from chaos.cluster import quorum, secure
from chaos.engine import parse_engines
from chaos.errors import UsageError
from chaos.images.recipes import DEFAULT_KAFKA_VERSION, check_kafka_version

CLIENT_PORT = 9092
INTERNAL_PORT = 9091
CONTROLLER_PORT = 9093
DIRECT_PORT = 9094
SECURE_PORT = 9095
#: ``none``: the plaintext listeners only; ``sasl_ssl``: each broker also serves ``SECURE``.
SECURITY = ("none", "sasl_ssl")
#: How a run's clients (workloads and drain) reach the brokers: through toxiproxy's listeners, or
#: the brokers' own ``DIRECT`` listeners.
ClientPath = Literal["proxy", "direct"]
CLIENT_PATHS: tuple[ClientPath, ...] = ("proxy", "direct")
DATA_DIR = "/var/lib/kafka/data"
#: The data disks a cluster can run on: the container's own filesystem, or kcfs (a disk that can
#: lose power and fail: the ``power_loss``, ``disk_full`` and ``disk_error`` faults need it).
DISKS = ("plain", "kcfs")
#: First port toxiproxy listens on inside its container; proxy i listens on PROXY_BASE_PORT + i.
PROXY_BASE_PORT = 20000
TOXIPROXY_API_PORT = 8474
#: Node ids of dedicated controllers start here, so broker ``i`` is always node ``i``.
CONTROLLER_ID_BASE = 1000

#: Keys the harness sets per node; a user value would break the cluster's wiring.
OWNED_KEYS = frozenset(
    {
        "process.roles",
        "node.id",
        "broker.id",
        "controller.quorum.voters",
        "controller.quorum.bootstrap.servers",
        "listeners",
        "advertised.listeners",
        "listener.security.protocol.map",
        "inter.broker.listener.name",
        "controller.listener.names",
        "log.dirs",
        "log.dir",
        "metadata.log.dir",
    }
)


@dataclass(frozen=True, slots=True)
class NodeSpec:
    """One Kafka process: a broker (maybe also a controller) or a dedicated controller."""

    node_id: int
    host: str
    broker: bool
    controller: bool
    #: A controller that is a voter from the start; a spare one (a dynamic quorum's) starts as an
    #: observer, to be added as a voter under load.
    voter: bool = True

    @property
    def role(self) -> str:
        """``broker`` for anything serving clients, else ``controller``."""
        return "broker" if self.broker else "controller"

    @property
    def process_roles(self) -> str:
        """The value of ``process.roles``."""
        return ",".join(r for r, on in (("broker", self.broker), ("controller", self.controller)) if on)


@dataclass(frozen=True, slots=True)
class ClusterSpec:
    """What cluster to build.

    ``brokers`` brokers numbered 1..N; with ``controllers == 0`` every broker is also a KRaft
    controller (combined mode), otherwise that many dedicated controllers form the quorum.
    ``broker_config`` is written verbatim into every node's server.properties after the harness's
    defaults; ``node_config`` adds per-node overrides (e.g. ``{3: {"broker.rack": "b"}}``).

    Raises (from :meth:`validate`, called on construction):
        UsageError: impossible sizes, a malformed Kafka version, a harness-owned config key, an unknown
            security (or, with ``sasl_ssl``, a setting of the secure listener's in the broker config), or
            ``sshd`` with kcfs or an image of the user's, or ``engines`` not 2 or more local ones.

    >>> ClusterSpec(brokers=3).quorum_size
    3
    """

    brokers: int = 3
    controllers: int = 0
    kafka_version: str = DEFAULT_KAFKA_VERSION
    broker_config: Mapping[str, str] = field(default_factory=dict)
    node_config: Mapping[int, Mapping[str, str]] = field(default_factory=dict)
    heap: str = "512m"
    kafka_image: str | None = None
    toxiproxy_image: str | None = None
    health_timeout: float = 120.0
    #: ``kcfs``: every broker's log directories sit on kcfs (see :mod:`chaos.images.kcfs`).
    disk: str = "plain"
    #: Log directories per broker (``log.dirs``); a second one lets a disk fault take one offline
    #: while the broker goes on serving from the other.
    log_dirs: int = 1
    #: Feature levels the storage is formatted with, e.g. ``{"eligible.leader.replicas.version": 0}``.
    features: Mapping[str, int] = field(default_factory=dict)
    #: ``static`` (``controller.quorum.voters``) or ``dynamic`` (KIP-853: voters can be added and
    #: removed, :mod:`chaos.cluster.quorum`); a dynamic quorum may have ``spare_controllers``.
    quorum: str = "static"
    spare_controllers: int = 0
    #: ``sasl_ssl``: every broker also has the ``SECURE`` listener (see the module docstring).
    security: str = "none"
    #: Every node also runs an SSH server, and Kafka runs in it as a process of its own (with a pid
    #: file) that can die while its container lives on: see :mod:`chaos.cluster.sshd`.
    sshd: bool = False
    #: Local Docker engines (``unix://`` addresses) the nodes are spread over, in turn by node order;
    #: toxiproxy runs on the first. Empty: the one engine of ``DOCKER_HOST``.
    engines: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check the spec; see the class docstring for what raises."""
        if not isinstance(self.brokers, int) or self.brokers < 1:
            raise UsageError(f"a cluster needs at least 1 broker, not {self.brokers}: pass --brokers 1 or more")
        if self.brokers > 9:
            raise UsageError(f"{self.brokers} brokers will not fit on this machine: use 9 or fewer")
        if not isinstance(self.controllers, int) or self.controllers < 0 or self.controllers > 5:
            raise UsageError(f"controllers must be 0 (combined mode) to 5, not {self.controllers}")
        check_kafka_version(self.kafka_version)
        self._validate_quorum()
        for where, config in [
            ("broker config", self.broker_config),
            *((f"config of node {n}", c) for n, c in self.node_config.items()),
        ]:
            owned = sorted(OWNED_KEYS.intersection(config))
            if owned:
                raise UsageError(
                    f"{where} sets {', '.join(owned)}, which the harness sets per node to wire the cluster: remove it"
                )
        known = {n.node_id for n in self.nodes()}
        stray = sorted(set(self.node_config) - known)
        if stray:
            raise UsageError(f"node config names node {stray[0]}, but the cluster has nodes {sorted(known)}")
        if self.health_timeout <= 0:
            raise UsageError("health timeout must be positive")
        if self.disk not in DISKS:
            raise UsageError(f"disk {self.disk!r} is not one of {', '.join(DISKS)}")
        if not isinstance(self.log_dirs, int) or not 1 <= self.log_dirs <= 4:
            raise UsageError(f"log_dirs must be 1 to 4, not {self.log_dirs}")
        for name, level in self.features.items():
            if not name.replace(".", "").replace("_", "").isalnum() or not isinstance(level, int) or level < 0:
                raise UsageError(f"feature {name}={level!r} is not a feature name with a level of 0 or more")
        self._validate_security()
        self._validate_sshd()
        self._validate_engines()

    def _validate_engines(self) -> None:
        object.__setattr__(self, "engines", tuple(parse_engines(",".join(self.engines)) if self.engines else ()))
        n, remote = len(self.engines), [e for e in self.engines if not e.startswith("unix://")]
        if n and not 2 <= n <= len(self.nodes()):
            raise UsageError(f"a cluster spreads over 2 to {len(self.nodes())} engines (one per node), not {n}")
        if remote:
            raise UsageError(
                f"engine {remote[0]} is not on this machine: a cluster spreads only over local engines (unix://), "
                "whose published ports all open on this machine's loopback"
            )

    def engine_of(self, node_id: int) -> str | None:
        """The engine node ``node_id`` runs on (None: the one engine of ``DOCKER_HOST``)."""
        ids = [n.node_id for n in self.nodes()]
        return self.engines[ids.index(node_id) % len(self.engines)] if self.engines else None

    def _validate_sshd(self) -> None:
        if not isinstance(self.sshd, bool):
            raise UsageError(f"sshd is true or false, not {self.sshd!r}")
        if self.sshd and self.disk == "kcfs":
            raise UsageError("a node with sshd cannot mount kcfs again when Kafka is restarted in it: use disk plain")
        if self.sshd and self.kafka_image:
            raise UsageError("a node with sshd runs the harness's kafka-sshd image: drop the Kafka image named")

    def _validate_security(self) -> None:
        if self.security not in SECURITY:
            raise UsageError(f"security {self.security!r} is not one of {', '.join(SECURITY)}")
        if self.security == "sasl_ssl":
            for config in (self.broker_config, *self.node_config.values()):
                owned = sorted(set(secure.listener_settings()).intersection(config))
                if owned:
                    raise UsageError(f"broker config sets {', '.join(owned)}, the secure listener's own: remove it")

    def _validate_quorum(self) -> None:
        if self.quorum not in ("static", "dynamic"):
            raise UsageError(f"quorum {self.quorum!r} is not static or dynamic")
        if self.quorum == "dynamic" and not self.controllers:
            raise UsageError("a dynamic quorum is one of dedicated controllers: set controllers to 1 or more")
        if not isinstance(self.spare_controllers, int) or not 0 <= self.spare_controllers <= 2:
            raise UsageError(f"spare_controllers must be 0 to 2, not {self.spare_controllers}")
        if self.spare_controllers and self.quorum != "dynamic":
            raise UsageError("a spare controller can only join a dynamic quorum: set quorum: dynamic")

    def data_dirs(self) -> list[str]:
        """Every broker's log directories, the first one also holding the KRaft metadata log.

        >>> ClusterSpec(log_dirs=2).data_dirs()
        ['/var/lib/kafka/data', '/var/lib/kafka/data-2']
        """
        return [DATA_DIR] + [f"{DATA_DIR}-{i}" for i in range(2, self.log_dirs + 1)]

    def format_arguments(self, node_id: int = 0, cluster_id: str = "") -> str:
        """Extra arguments of ``node_id``'s storage format: ``--feature name=level`` for each feature,
        and a dynamic quorum's voters (:func:`chaos.cluster.quorum.format_arguments`)."""
        features = [f"--feature {name}={level}" for name, level in sorted(self.features.items())]
        if self.quorum == "dynamic":
            voters = [n for n in self.nodes() if n.controller and n.voter]
            features.append(quorum.format_arguments(cluster_id, node_id, voters, CONTROLLER_PORT))
        return " ".join(features)

    @property
    def quorum_size(self) -> int:
        """Number of KRaft voters."""
        return self.controllers or self.brokers

    @property
    def default_replication(self) -> int:
        """Replication factor for internal topics: 3, or fewer on smaller clusters."""
        return min(3, self.brokers)

    def nodes(self) -> list[NodeSpec]:
        """Every node: brokers 1..N, then dedicated controllers (ids from 1001)."""
        combined = self.controllers == 0
        nodes = [NodeSpec(i, f"broker-{i}", broker=True, controller=combined) for i in range(1, self.brokers + 1)]
        nodes += [
            NodeSpec(
                CONTROLLER_ID_BASE + i, f"controller-{i}", broker=False, controller=True, voter=i <= self.controllers
            )
            for i in range(1, self.controllers + self.spare_controllers + 1)
        ]
        return nodes

    def voters(self) -> str:
        """The value of ``controller.quorum.voters``."""
        return ",".join(f"{n.node_id}@{n.host}:{CONTROLLER_PORT}" for n in self.nodes() if n.controller and n.voter)

    def quorum_wiring(self) -> dict[str, str]:
        """How a node finds the quorum: its voters (static), or where to ask for them (dynamic)."""
        if self.quorum == "static":
            return {"controller.quorum.voters": self.voters()}
        voters = (n for n in self.nodes() if n.controller and n.voter)
        return {"controller.quorum.bootstrap.servers": ",".join(f"{n.host}:{CONTROLLER_PORT}" for n in voters)}


def new_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64 without padding (22 characters).

    Never starting with ``-`` (Kafka's ``Uuid.randomUuid`` rejects those too): command-line parsers
    read such an id as an option.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


def _defaults(spec: ClusterSpec) -> dict[str, str]:
    rf = spec.default_replication
    return {
        "num.partitions": "3",
        "default.replication.factor": str(rf),
        "offsets.topic.replication.factor": str(rf),
        "transaction.state.log.replication.factor": str(rf),
        "transaction.state.log.min.isr": str(min(2, rf)),
        # A consumer group should start at once in a test, not after the 3 s production default.
        "group.initial.rebalance.delay.ms": "0",
        # Fewer threads: three brokers share two cores.
        "num.network.threads": "2",
        "num.io.threads": "4",
        "auto.create.topics.enable": "false",
    }


def broker_settings(spec: ClusterSpec) -> dict[str, str]:
    """The broker settings the harness writes for every broker: its own defaults, then the spec's.

    >>> broker_settings(ClusterSpec(brokers=1, broker_config={"min.insync.replicas": "1"}))["min.insync.replicas"]
    '1'
    """
    return {**_defaults(spec), **spec.broker_config}


def server_properties(
    spec: ClusterSpec,
    node: NodeSpec,
    advertised_client: str | None,
    advertised_direct: str | None,
    advertised_secure: str | None = None,
) -> str:
    """server.properties for ``node``.

    ``advertised_client`` is ``host:port`` clients reach this broker at through toxiproxy,
    ``advertised_direct`` the ``host:port`` its container publishes for its ``DIRECT`` listener, and
    ``advertised_secure`` for its ``SECURE`` one (``security="sasl_ssl"`` only); each is required for
    brokers and ignored for dedicated controllers.

    Raises:
        ValueError: a broker without an advertised address for each of its client listeners.
    """
    wiring: dict[str, str] = {
        "process.roles": node.process_roles,
        "node.id": str(node.node_id),
        **spec.quorum_wiring(),
        "controller.listener.names": "CONTROLLER",
        "log.dirs": ",".join(spec.data_dirs()),
        "listener.security.protocol.map": "INTERNAL:PLAINTEXT,CLIENT:PLAINTEXT,DIRECT:PLAINTEXT,CONTROLLER:PLAINTEXT",
    }
    listeners: list[str] = []
    advertised: list[str] = []
    if node.broker:
        if not advertised_client or not advertised_direct:
            raise ValueError(f"broker {node.node_id} needs an advertised address for each client path")
        listeners += [
            f"INTERNAL://0.0.0.0:{INTERNAL_PORT}",
            f"CLIENT://0.0.0.0:{CLIENT_PORT}",
            f"DIRECT://0.0.0.0:{DIRECT_PORT}",
        ]
        advertised += [
            f"INTERNAL://{node.host}:{INTERNAL_PORT}",
            f"CLIENT://{advertised_client}",
            f"DIRECT://{advertised_direct}",
        ]
        wiring["inter.broker.listener.name"] = "INTERNAL"
        if spec.security == "sasl_ssl":
            if not advertised_secure:
                raise ValueError(f"broker {node.node_id} needs an advertised address for its secure listener")
            listeners.append(f"SECURE://0.0.0.0:{SECURE_PORT}")
            advertised.append(f"SECURE://{advertised_secure}")
            wiring["listener.security.protocol.map"] += ",SECURE:SASL_SSL"
            wiring.update(secure.listener_settings())
    if node.controller:
        listeners.append(f"CONTROLLER://0.0.0.0:{CONTROLLER_PORT}")
        if node.broker:
            advertised.append(f"CONTROLLER://{node.host}:{CONTROLLER_PORT}")
    wiring["listeners"] = ",".join(listeners)
    if advertised:
        wiring["advertised.listeners"] = ",".join(advertised)

    merged = {**_defaults(spec), **spec.broker_config, **spec.node_config.get(node.node_id, {})}
    lines = ["# Generated by kafka-chaos; user settings follow the harness defaults verbatim."]
    lines += [f"{k}={v}" for k, v in wiring.items()]
    lines.append("")
    lines += [f"{k}={_escape(v)}" for k, v in merged.items()]
    return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    # Java properties treat a backslash as an escape and a leading space as a separator.
    return value.replace("\\", "\\\\").replace("\n", "\\n")


def jvm_options(spec: ClusterSpec) -> str:
    """JVM flags for a broker: a small fixed heap (several brokers share a few cores), short GC
    pauses, and the client compiler alone with one compiler and one GC thread.

    The JIT and GC threads are what a broker spends its CPU on at the rates a run drives: on two
    cores these flags took a 3-broker cluster's start from 14.7 s and 25 CPU-seconds to 8.5 s and
    13, and halved the CPU of serving a load, leaving it to the workloads. They change how fast
    the broker's code runs, never what it does.
    """
    return (
        f"-Xmx{spec.heap} -Xms{spec.heap} -XX:+UseG1GC -XX:MaxGCPauseMillis=20 "
        "-XX:TieredStopAtLevel=1 -XX:CICompilerCount=1 -XX:ParallelGCThreads=1 -XX:ConcGCThreads=1 "
        "-XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true"
    )
