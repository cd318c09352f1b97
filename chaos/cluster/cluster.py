"""``KafkaCluster``: a real multi-broker KRaft cluster in Docker, behind a toxiproxy.

Lifecycle: :meth:`KafkaCluster.start` creates a network, a toxiproxy container (one proxy per
broker, published on 127.0.0.1, or on a remote engine's host) and one container per node, then waits
until the cluster is healthy: every broker registered and a topic replicated to ``min(3, brokers)``
nodes has its full ISR. A start that fails half-way removes everything it made before re-raising.
:meth:`KafkaCluster.destroy` copies every node's log into the run directory, then removes every
resource labelled with the run id.
"""

from __future__ import annotations

import io
import json
import logging
import tarfile
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

from docker.errors import APIError, ImageNotFound, NotFound
from docker.models.containers import Container
from kafka import KafkaAdminClient
from kafka import errors as kafka_errors
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError
from kafka.protocol.metadata import MetadataRequest, MetadataResponse

import docker
from chaos.cluster.config import (
    CLIENT_PORT,
    PROXY_BASE_PORT,
    TOXIPROXY_API_PORT,
    ClusterSpec,
    NodeSpec,
    jvm_options,
    new_cluster_id,
    server_properties,
)
from chaos.cluster.node import Node
from chaos.cluster.proxy import start_toxiproxy
from chaos.cluster.sweeper import SweepResult, sweep
from chaos.engine import docker_client, published_host
from chaos.errors import ChaosError, ClusterUnhealthy, ImageMissing, InfrastructureError, UsageError
from chaos.images.recipes import image_refs, kafka_tag, toxiproxy_tag
from chaos.labels import (
    NODE_LABEL,
    ROLE_LABEL,
    RUN_LABEL,
    SPEC_LABEL,
    new_run_id,
    resource_name,
    run_filter,
    run_labels,
)
from chaos.progress import Progress, silent
from chaos.signals import deferred_signals, sigterm_raises
from chaos.toxiproxy import ToxiproxyClient

log = logging.getLogger(__name__)

HEALTH_TOPIC = "__kafka_chaos_health"
T = TypeVar("T")


def default_reports_dir() -> Path:
    """``./reports``: where run directories go unless told otherwise."""
    return Path("reports")


@dataclass(frozen=True, slots=True)
class PartitionState:
    """Leader, replicas and in-sync replicas of one partition, by node id (leader -1: none)."""

    topic: str
    partition: int
    leader: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]


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
        self._api_port: int | None = None
        self._admin: KafkaAdminClient | None = None
        self._health_topic_created = False
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
            labels={**run_labels(self.run_id, "network"), SPEC_LABEL: _spec_to_json(self.spec)},
        )
        self._start_toxiproxy(refs.toxiproxy, network.name or "")
        cluster_id = new_cluster_id()
        for node_spec in self.spec.nodes():
            self._nodes[node_spec.node_id] = self._create_node(refs.kafka, network.name or "", node_spec, cluster_id)
        for node in self._nodes.values():
            node.container.start()
            self.progress(f"started {node.host}")
        self.wait_healthy(self.spec.health_timeout)
        self.progress(f"healthy after {time.monotonic() - t0:.1f}s; bootstrap {self.bootstrap_servers}")

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
        files = {
            "server.properties": server_properties(self.spec, node, advertised).encode(),
            "start.sh": _packaged("start.sh"),
            "log4j2.properties": _packaged("log4j2.properties"),
            "log4j.properties": _packaged("log4j.properties"),
        }
        container = self.client.containers.create(
            image,
            ["sh", "/kafka-chaos/start.sh"],
            name=resource_name(self.run_id, node.host),
            hostname=node.host,
            labels=run_labels(self.run_id, node.role, node.node_id),
            environment={"KAFKA_CHAOS_CLUSTER_ID": cluster_id, "KAFKA_CHAOS_JVM_OPTS": jvm_options(self.spec)},
            network=network,
            networking_config={network: self.client.api.create_endpoint_config(aliases=[node.host])},
            # Network faults run iptables and tc inside the node's own namespace.
            cap_add=["NET_ADMIN"],
        )
        container.put_archive("/", _tar_dir("kafka-chaos", files))
        return Node(node, container)

    # -- health ---------------------------------------------------------------------------------
    def wait_healthy(self, timeout: float | None = None) -> None:
        """Wait until every broker is registered and the health topic has its full ISR.

        Raises:
            ClusterUnhealthy: a node exited, or ``timeout`` passed; the message says which check failed.
        """
        deadline = time.monotonic() + (timeout or self.spec.health_timeout)
        rf = self.spec.default_replication
        reason = "no broker answered yet"
        while True:
            for node in self._nodes.values():
                state = node.state
                if state not in ("running", "paused"):
                    raise ClusterUnhealthy(f"{node.host} {state} while the cluster started: see its log below")
            try:
                reason = self._health_problem(rf)
            except (KafkaError, OSError) as e:
                reason = f"{type(e).__name__}: {e}"
                self._drop_admin()
            if reason == "":
                return
            if time.monotonic() > deadline:
                raise ClusterUnhealthy(
                    f"cluster {self.run_id} not healthy after {timeout or self.spec.health_timeout:.0f}s "
                    f"({reason}): see the node logs below, or raise the health timeout"
                )
            time.sleep(0.25)

    def _health_problem(self, rf: int) -> str:
        admin = self.admin()
        brokers = [b for b in admin.describe_cluster()["brokers"] if not b.get("is_fenced", False)]
        if len(brokers) < self.spec.brokers:
            return f"{len(brokers)} of {self.spec.brokers} brokers registered"
        if not self._health_topic_created:
            with suppress(TopicAlreadyExistsError):
                admin.create_topics([NewTopic(HEALTH_TOPIC, 1, rf)])
            self._health_topic_created = True
        for p in self.partitions(HEALTH_TOPIC):
            if p.leader < 0 or len(p.isr) < rf:
                return f"health topic has ISR {list(p.isr)} of {rf} replicas"
        return ""

    # -- lookups --------------------------------------------------------------------------------
    @property
    def bootstrap_servers(self) -> str:
        """``host:port,…`` for clients on this machine (every address crosses toxiproxy)."""
        return ",".join(f"{self.host}:{port}" for port in self._proxy_ports.values())

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

    def admin(self) -> KafkaAdminClient:
        """A kafka-python admin client connected through toxiproxy (made once, reused).

        It bootstraps from running brokers only: a frozen broker's proxy accepts connections but
        never answers, and a client bootstrapping there would wait for nothing.
        """
        if self._admin is None:
            running = [
                f"{self.host}:{port}"
                for node_id, port in self._proxy_ports.items()
                if node_id not in self._nodes or self._nodes[node_id].state == "running"
            ]
            self._admin = KafkaAdminClient(
                bootstrap_servers=",".join(running) or self.bootstrap_servers,
                client_id="kafka-chaos-admin",
                request_timeout_ms=5_000,
                retry_backoff_ms=100,
                reconnect_backoff_max_ms=500,
            )
            # Every broker's address is known here: register it as a fallback, so a broker missing from
            # the metadata the client last got (a cut-off broker answers with a stale, partial view)
            # can still be asked directly by :meth:`partitions`.
            fallback = self._admin._manager.cluster._bootstrap_brokers
            for node_id, port in self._proxy_ports.items():
                fallback[node_id] = MetadataResponse.MetadataResponseBroker(node_id, self.host, port, None)
        return self._admin

    def admin_call(self, fn: Callable[[KafkaAdminClient], T], attempts: int = 3) -> T:
        """Run ``fn(admin)``, on a fresh admin client after a failure (kafka-python's admin can keep
        stale broker metadata after brokers come and go).

        Raises:
            KafkaError: every attempt failed.
        """
        for attempt in range(attempts):
            try:
                return fn(self.admin())
            except (KafkaError, OSError):
                self._drop_admin()
                if attempt == attempts - 1:
                    raise
                time.sleep(0.2)
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Close the admin connection this handle holds; the cluster keeps running (see :meth:`destroy`)."""
        self._drop_admin()

    def _drop_admin(self) -> None:
        if self._admin is not None:
            with suppress(Exception):
                self._admin.close()
            self._admin = None

    def partitions(self, topic: str, attempts: int = 3) -> list[PartitionState]:
        """Leader, replicas and ISR of each partition of ``topic``, as the cluster agrees now.

        Every running broker is asked and, per partition, the answer with the highest leader epoch
        wins, and among those the leader's own: a broker cut off from the others keeps answering
        with its stale view (in which it may still lead, or still be in the ISR), and a single
        answer may come from it. Frozen brokers are not asked.

        Raises:
            KafkaError: no broker answered in ``attempts`` rounds, or the topic's metadata carries an error.
        """
        last: Exception | None = None
        for _ in range(attempts):
            best: dict[int, tuple[tuple[int, int], PartitionState]] = {}
            errors: list[int] = []
            for broker in self.brokers:
                if broker.state != "running":
                    continue
                try:
                    answer = self._metadata_from(broker.node_id, topic)
                except (KafkaError, OSError) as e:
                    last = e
                    continue
                for t in answer.get("topics", []):
                    code = int(t.get("error_code", 0) or 0)
                    if code:
                        errors.append(code)
                        continue
                    for p in t["partitions"]:
                        state = PartitionState(
                            topic=topic,
                            partition=int(p["partition_index"]),
                            leader=int(p["leader_id"]),
                            replicas=tuple(p["replica_nodes"]),
                            isr=tuple(p["isr_nodes"]),
                        )
                        # Rank by leader epoch, then by whether the answer comes from the leader itself:
                        # an ISR change keeps the epoch, and the leader's view of its ISR is current
                        # while a cut-off broker's is not.
                        rank = (int(p.get("leader_epoch", -1)), int(state.leader == broker.node_id))
                        if state.partition not in best or rank > best[state.partition][0]:
                            best[state.partition] = (rank, state)
            if best:
                return [state for _, (_, state) in sorted(best.items())]
            if errors:
                raise kafka_errors.for_code(errors[0])(f"metadata of {topic}")
            self._drop_admin()
        raise last or kafka_errors.KafkaConnectionError(f"no broker answered for the metadata of {topic}")

    def _metadata_from(self, node_id: int, topic: str) -> dict[str, Any]:
        """One broker's own metadata answer for ``topic`` (kafka-python's connection manager, pinned)."""
        admin = self.admin()
        request = MetadataRequest(
            topics=[MetadataRequest.MetadataRequestTopic(name=topic)], allow_auto_topic_creation=False
        )

        async def fetch() -> dict[str, Any]:
            response = await admin._manager.send(request, node_id=node_id, request_timeout_ms=3000)
            answer: dict[str, Any] = response.to_dict()
            return answer

        result: dict[str, Any] = admin._manager.run(fetch)
        return result

    def partition(self, topic: str, partition: int) -> PartitionState:
        """State of one partition.

        Raises:
            UsageError: the topic has no such partition.
        """
        for p in self.partitions(topic):
            if p.partition == partition:
                return p
        raise UsageError(f"topic {topic!r} has no partition {partition}")

    def leader_of(self, topic: str, partition: int) -> Node:
        """The broker leading ``topic``-``partition`` now.

        Raises:
            InfrastructureError: the partition has no leader at the moment.
        """
        leader = self.partition(topic, partition).leader
        if leader < 0:
            raise InfrastructureError(f"{topic}-{partition} has no leader right now")
        return self.node(leader)

    def controller(self) -> Node:
        """The active KRaft controller (leader of the metadata quorum)."""
        quorum = self.admin_call(lambda a: a.describe_metadata_quorum())
        leader = int(quorum["topics"][0]["partitions"][0]["leader_id"])
        return self.node(leader)

    # -- topics ---------------------------------------------------------------------------------
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
            UsageError: replication factor above the broker count.
            ClusterUnhealthy: the topic did not become fully replicated in time.
        """
        rf = replication_factor or self.spec.default_replication
        if rf > self.spec.brokers:
            raise UsageError(f"replication factor {rf} needs {rf} brokers, the cluster has {self.spec.brokers}")
        tries = 0

        def create(admin: KafkaAdminClient) -> None:
            nonlocal tries
            tries += 1
            try:
                admin.create_topics([NewTopic(name, partitions, rf, topic_configs=config or {})])
            except TopicAlreadyExistsError:
                if tries == 1:  # it was there before we asked: the caller's mistake
                    raise UsageError(f"topic {name!r} already exists: pick another name") from None
                # else an earlier attempt created it and only its answer was lost

        self.admin_call(create)
        self.wait_for_isr(name, rf, timeout)

    def wait_for_isr(self, topic: str, size: int | None = None, timeout: float = 60.0) -> list[PartitionState]:
        """Wait until every partition of ``topic`` has a leader and ``size`` in-sync replicas
        (default: all its replicas).

        Raises:
            ClusterUnhealthy: not reached within ``timeout``.
        """

        def check() -> list[PartitionState] | None:
            states = self.partitions(topic)
            ok = states and all(p.leader >= 0 and len(p.isr) >= (size or len(p.replicas)) for p in states)
            return states if ok else None

        return self._await(check, timeout, f"{topic} to reach ISR {size or 'full'}")

    def wait_for_leader(self, topic: str, partition: int, not_on: int | None = None, timeout: float = 60.0) -> Node:
        """Wait until ``topic``-``partition`` has a leader (other than node ``not_on``) and return it.

        Raises:
            ClusterUnhealthy: none within ``timeout``.
        """

        def check() -> Node | None:
            leader = self.partition(topic, partition).leader
            return self.node(leader) if leader >= 0 and leader != not_on else None

        return self._await(check, timeout, f"a new leader of {topic}-{partition}")

    def _await(self, check: Callable[[], T | None], timeout: float, what: str) -> T:
        deadline = time.monotonic() + timeout
        last = ""
        while True:
            try:
                result = check()
                if result is not None:
                    return result
            except (KafkaError, OSError, UsageError) as e:
                # Metadata is briefly incomplete around failovers: "no such partition" may mean "not yet".
                last = f" (last error {type(e).__name__}: {e})"
            if time.monotonic() > deadline:
                raise ClusterUnhealthy(f"waited {timeout:.0f}s for {what}{last}")
            time.sleep(0.2)

    # -- teardown -------------------------------------------------------------------------------
    def node_logs(self, hosts: Sequence[str] = (), tail: int | None = None) -> dict[str, str]:
        """The logs of this run's containers (every restart), by node name (``broker-2``,
        ``toxiproxy``), all of them or only ``hosts``; ``tail``: only the last lines of each.

        Raises:
            UsageError: a name in ``hosts`` is not a node of this run (the message names those there are).
        """
        containers = self.client.containers.list(all=True, filters={"label": [f"{RUN_LABEL}={self.run_id}"]})
        prefix = resource_name(self.run_id, "")
        by_host = {(c.name or c.id or "unknown").removeprefix(prefix): c for c in containers}
        unknown = sorted(set(hosts) - set(by_host))
        if unknown:
            raise UsageError(f"cluster {self.run_id} has no node {unknown[0]!r}: it has {', '.join(sorted(by_host))}")
        out: dict[str, str] = {}
        for host in sorted(hosts or by_host):
            try:
                out[host] = by_host[host].logs(tail=tail if tail is not None else "all").decode(errors="replace")
            except (NotFound, APIError):
                continue
        return out

    def collect_logs(self) -> list[Path]:
        """Copy every node's log (and toxiproxy's) into ``<run_dir>/logs``; returns the files written."""
        written: list[Path] = []
        logs = self.run_dir / "logs"
        for host, text in self.node_logs().items():
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
            self._drop_admin()
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
        networks = client.networks.list(filters={"label": [f"{RUN_LABEL}={run_id}", f"{ROLE_LABEL}=network"]})
        if not networks:
            raise UsageError(
                f"no cluster with run id {run_id!r} on this engine: `kafka-chaos cluster status` lists them"
            )
        spec = _spec_from_json(networks[0].attrs["Labels"][SPEC_LABEL])
        cluster = cls(spec, run_id=run_id, client=client, run_dir=run_dir)
        by_id = {n.node_id: n for n in spec.nodes()}
        for container in client.containers.list(all=True, filters={"label": [f"{RUN_LABEL}={run_id}"]}):
            role = container.labels.get(ROLE_LABEL)
            if role == "toxiproxy":
                cluster._toxiproxy = container
                if container.status == "running":
                    cluster._read_toxiproxy_ports()
            elif role in ("broker", "controller"):
                node_id = int(container.labels[NODE_LABEL])
                cluster._nodes[node_id] = Node(by_id[node_id], container)
        cluster._nodes = dict(sorted(cluster._nodes.items()))
        return cluster

    def status(self, check_health: bool = False) -> dict[str, Any]:
        """A plain description for ``cluster status --json``: nodes, their states, bootstrap;
        ``check_health`` adds ``healthy`` (healthy within 5 s, see :meth:`wait_healthy`).

        Brokers carry ``registered``: known to the controller and not fenced, asked of the cluster.
        """
        registered: set[int] | None = None
        if self._api_port is not None:
            try:
                brokers = self.admin().describe_cluster()["brokers"]
                registered = {int(b["broker_id"]) for b in brokers if not b.get("is_fenced", False)}
            except (KafkaError, OSError):
                self._drop_admin()
        nodes: list[dict[str, Any]] = []
        for n in self.nodes:
            entry: dict[str, Any] = {
                "node_id": n.node_id,
                "host": n.host,
                "role": n.spec.role,
                "container": n.name,
                "state": n.state,
            }
            if n.spec.broker:
                entry["registered"] = registered is not None and n.node_id in registered
                entry["address"] = (
                    f"{self.host}:{self._proxy_ports[n.node_id]}" if n.node_id in self._proxy_ports else None
                )
            nodes.append(entry)
        status: dict[str, Any] = {
            "run_id": self.run_id,
            "kafka_version": self.spec.kafka_version,
            "bootstrap_servers": self.bootstrap_servers,
            "toxiproxy_api": self.toxiproxy.url if self._api_port else None,
            "brokers": [n for n in nodes if n["role"] == "broker"],
            "controllers": [n for n in nodes if n["role"] == "controller"],
        }
        if check_health:
            try:
                self.wait_healthy(timeout=5)
                status["healthy"] = True
            except ChaosError:
                status["healthy"] = False
        return status


def running_runs(client: docker.DockerClient) -> list[str]:
    """Run ids of every cluster on the engine, oldest first."""
    networks = client.networks.list(filters={"label": [RUN_LABEL, f"{ROLE_LABEL}=network"]})
    return sorted({n.attrs["Labels"][RUN_LABEL] for n in networks})


def _spec_to_json(spec: ClusterSpec) -> str:
    raw = asdict(spec)
    raw["node_config"] = {str(k): dict(v) for k, v in spec.node_config.items()}
    raw["broker_config"] = dict(spec.broker_config)
    return json.dumps(raw, sort_keys=True)


def _spec_from_json(text: str) -> ClusterSpec:
    raw = json.loads(text)
    raw["node_config"] = {int(k): v for k, v in raw.get("node_config", {}).items()}
    return ClusterSpec(**raw)


def _packaged(name: str) -> bytes:
    return (resources.files("chaos.cluster") / "files" / name).read_bytes()


def _tar_dir(directory: str, files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(directory)
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)
        for name, data in files.items():
            info = tarfile.TarInfo(f"{directory}/{name}")
            info.size, info.mode, info.mtime = len(data), 0o755 if name.endswith(".sh") else 0o644, int(time.time())
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()
