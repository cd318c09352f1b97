"""What the cluster says about itself: one admin connection per thread, topics, partition state
agreed across brokers, leaders, coordinators, and waits on them.

:class:`~chaos.cluster.cluster.KafkaCluster` delegates here. What a :class:`Metadata` needs of the
cluster it is handed as narrow pieces: a factory of admin clients, the brokers as they are now, and
the spec; kafka-python itself is reached through :mod:`chaos.cluster.admin`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Protocol, TypeVar

from kafka import errors as kafka_errors
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from chaos.cluster.admin import Admin, coordinator_finder, metadata_from, transactions_coordinator
from chaos.cluster.config import ClusterSpec
from chaos.errors import ClusterUnhealthy, UsageError
from chaos.waiting import wait_until

T = TypeVar("T")


class BrokerProcess(Protocol):
    """A broker as metadata lookups need it: its id, its name, and whether it runs (only running
    brokers are asked). A :class:`~chaos.cluster.node.Node`, or an external cluster's broker."""

    @property
    def node_id(self) -> int: ...
    @property
    def host(self) -> str: ...
    @property
    def state(self) -> str: ...


#: The topic whose full ISR means "healthy" (created by the first health check).
HEALTH_TOPIC = "__kafka_chaos_health"

#: Where groups commit, and the group whose coordinator lookup makes Kafka create it.
OFFSETS_TOPIC = "__consumer_offsets"
OFFSETS_PROBE_GROUP = "kafka-chaos-offsets-probe"

#: Kafka's error code UNKNOWN_TOPIC_OR_PARTITION: a metadata answer for a topic the broker does not know.
_UNKNOWN_TOPIC = 3


@dataclass(frozen=True, slots=True)
class PartitionState:
    """Leader, replicas and in-sync replicas of one partition."""

    topic: str
    partition: int
    leader: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]


class Metadata:
    """Admin calls and metadata lookups of one cluster.

    ``connect`` makes a new admin client (see :func:`chaos.cluster.admin.connect`); ``brokers``
    answers the cluster's brokers as they are at the time of the call; ``spec`` is the cluster's.
    """

    def __init__(
        self, connect: Callable[[], Admin], brokers: Callable[[], Sequence[BrokerProcess]], spec: ClusterSpec
    ) -> None:
        self._connect = connect
        self._brokers = brokers
        self.spec = spec
        # One admin client per thread (the ISR watch asks while the run's own thread does): a thread
        # that drops its client after a failure must not close one another thread is using.
        # ``drop_admin`` bumps the generation, so every thread makes a fresh one at its next call.
        self._admins: dict[int, tuple[int, Admin]] = {}
        self._generation = 0
        self._lock = threading.Lock()
        self.health_topic_created = False

    def admin(self) -> Admin:
        """This thread's kafka-python admin client, made by ``connect`` once and reused until
        :meth:`drop_admin`.

        Raises:
            KafkaError: a new client's bootstrap servers did not answer.
        """
        me = threading.get_ident()
        with self._lock:
            held = self._admins.get(me)
            if held is not None and held[0] == self._generation:
                return held[1]
            alive = {t.ident for t in threading.enumerate()}
            stale = [a for tid, (_, a) in self._admins.items() if tid == me or tid not in alive]
            self._admins = {tid: h for tid, h in self._admins.items() if tid != me and tid in alive}
            generation = self._generation
        for old in stale:
            with suppress(Exception):
                old.close()
        admin = self._connect()
        with self._lock:
            self._admins[me] = (generation, admin)
        return admin

    def admin_call(self, fn: Callable[[Admin], T], attempts: int = 3) -> T:
        """Run ``fn(admin)``, on a fresh admin client after a failure (kafka-python's admin can keep
        stale broker metadata after brokers come and go).

        Raises:
            KafkaError: every attempt failed.
        """
        for attempt in range(attempts):
            try:
                return fn(self.admin())
            except (KafkaError, OSError):
                self.drop_admin()
                if attempt == attempts - 1:
                    raise
                time.sleep(0.2)
        raise AssertionError("unreachable")

    def drop_admin(self) -> None:
        """Close this thread's admin client; every thread's next call makes a fresh one (another
        thread's client is closed by that thread, never under a call it has in flight)."""
        with self._lock:
            self._generation += 1
            held = self._admins.pop(threading.get_ident(), None)
        if held is not None:
            with suppress(Exception):
                held[1].close()

    def close(self) -> None:
        """Close every thread's admin client; the cluster keeps running."""
        with self._lock:
            held, self._admins = list(self._admins.values()), {}
            self._generation += 1
        for _, admin in held:
            with suppress(Exception):
                admin.close()

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
            for broker in self._brokers():
                if broker.state != "running":
                    continue
                try:
                    answer = metadata_from(self.admin(), broker.node_id, topic)
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
            self.drop_admin()
        raise last or kafka_errors.KafkaConnectionError(f"no broker answered for the metadata of {topic}")

    def coordinator(self, kind: str, key: str) -> int:
        """The broker id coordinating group ``key`` (``kind`` ``group``) or transactional id ``key``
        (``transaction``), as FindCoordinator answers now.

        Raises:
            UsageError: ``kind`` is neither.
            KafkaError: no broker answered, or there is no coordinator yet.
        """
        return self.admin_call(coordinator_finder(kind, key))

    def transactions_coordinator(self, prefix: str) -> int | None:
        """The broker id coordinating the first transactional id starting with ``prefix`` (None:
        no such transaction is known yet).

        Raises:
            KafkaError: no broker answered.
        """
        return self.admin_call(transactions_coordinator(prefix))

    def partition(self, topic: str, partition: int) -> PartitionState:
        """State of one partition.

        Raises:
            UsageError: the topic has no such partition.
        """
        for p in self.partitions(topic):
            if p.partition == partition:
                return p
        raise UsageError(f"topic {topic!r} has no partition {partition}")

    def create_topic(
        self,
        name: str,
        partitions: int = 3,
        replication_factor: int | None = None,
        config: dict[str, str] | None = None,
        timeout: float = 60.0,
    ) -> None:
        """Create ``name`` and wait until every partition has a leader and its full ISR, and every
        running broker's own metadata knows all of them.

        Raises:
            UsageError: replication factor above the broker count.
            ClusterUnhealthy: the topic did not become fully replicated in time.
        """
        rf = replication_factor or self.spec.default_replication
        if rf > self.spec.brokers:
            raise UsageError(f"replication factor {rf} needs {rf} brokers, the cluster has {self.spec.brokers}")
        tries = 0

        def create(admin: Admin) -> None:
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
        self.wait_known_everywhere(name, partitions, timeout)

    def wait_known_everywhere(self, topic: str, partitions: int, timeout: float = 60.0) -> None:
        """Wait until every running broker answers metadata for ``topic`` with all ``partitions``,
        each with a leader. A client that hears about a new topic from a broker still behind (no such
        topic, fewer partitions) and then from one that is not sees the topic change under it: a
        consumer group leader then rebalances at once, and kafka-python 3.0.12 can stall in that
        rebalance.

        Raises:
            ClusterUnhealthy: some broker still did not know it within ``timeout``.
        """

        def check() -> bool:
            for broker in self._brokers():
                if broker.state != "running":
                    continue
                answer = metadata_from(self.admin(), broker.node_id, topic)
                known = [
                    p
                    for t in answer.get("topics", [])
                    if not int(t.get("error_code", 0) or 0)
                    for p in t["partitions"]
                    if int(p["leader_id"]) >= 0
                ]
                if len(known) < partitions:
                    return False
            return True

        self._await(check, timeout, f"every broker to know {topic}'s {partitions} partitions")

    def wait_offsets_ready(self, timeout: float = 60.0) -> None:
        """Wait until groups can commit: Kafka creates ``__consumer_offsets`` (50 partitions) when a
        group first looks for its coordinator, and a group that commits while those are being
        created, replicated and loaded has its commits refused for seconds (``NOT_COORDINATOR``,
        ``COORDINATOR_LOAD_IN_PROGRESS``): an auto-committing consumer killed then has committed
        nothing. Returns at once on a cluster whose groups have committed before.

        Raises:
            ClusterUnhealthy: no group coordinator, or ``__consumer_offsets`` short of its full ISR,
                within ``timeout``.
        """

        def ready() -> bool:
            self.admin_call(coordinator_finder("group", OFFSETS_PROBE_GROUP), attempts=1)  # creates the topic
            return all(p.leader >= 0 and set(p.isr) == set(p.replicas) for p in self.partitions(OFFSETS_TOPIC, 1))

        self._await(ready, timeout, f"{OFFSETS_TOPIC} to be created and in sync")

    def wait_gone_everywhere(self, topics: list[str], timeout: float = 60.0) -> None:
        """Wait until every running broker answers that each of ``topics`` does not exist. A deleted
        topic leaves each broker's metadata cache when that broker has applied the deletion: one
        broker saying it is gone does not mean the next asked agrees.

        Raises:
            ClusterUnhealthy: some broker still knew one of them within ``timeout``.
        """

        def gone_on(node_id: int, topic: str) -> bool:
            answer = metadata_from(self.admin(), node_id, topic)
            codes = [int(t.get("error_code", 0) or 0) for t in answer.get("topics", [])]
            return all(code == _UNKNOWN_TOPIC for code in codes)

        def check() -> bool:
            running = [b.node_id for b in self._brokers() if b.state == "running"]
            return all(gone_on(node_id, topic) for node_id in running for topic in topics)

        self._await(check, timeout, f"every broker to forget {', '.join(topics)}")

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

    def wait_for_leader(self, topic: str, partition: int, not_on: int | None = None, timeout: float = 60.0) -> int:
        """Wait until ``topic``-``partition`` has a leader (other than node ``not_on``); return its id.

        Raises:
            ClusterUnhealthy: none within ``timeout``.
        """

        def check() -> int | None:
            leader = self.partition(topic, partition).leader
            return leader if leader >= 0 and leader != not_on else None

        return self._await(check, timeout, f"a new leader of {topic}-{partition}")

    def _await(self, check: Callable[[], T | None], timeout: float, what: str) -> T:
        last = [""]

        def attempt() -> T | None:
            try:
                return check()
            except (KafkaError, OSError, UsageError) as e:
                # Metadata is briefly incomplete around failovers: "no such partition" may mean "not yet".
                last[0] = f"{type(e).__name__}: {e}"
                return None

        return wait_until(attempt, timeout, what, seen=lambda: last[0], error=ClusterUnhealthy)

    def health_problem(self, rf: int) -> str:
        """What keeps the cluster from being healthy now (empty: nothing): unregistered brokers, a
        running broker that does not answer, or a health topic without its full ISR.

        Registration alone is not enough: a broker killed and started again within its session
        timeout is still registered, unfenced and in the ISR while its new process is starting.
        """
        admin = self.admin()
        brokers = [b for b in admin.describe_cluster()["brokers"] if not b.get("is_fenced", False)]
        if len(brokers) < self.spec.brokers:
            return f"{len(brokers)} of {self.spec.brokers} brokers registered"
        for node in self._brokers():
            if node.state != "running":
                continue
            try:
                metadata_from(self.admin(), node.node_id, HEALTH_TOPIC)
            except (KafkaError, OSError) as e:
                return f"{node.host} does not answer ({type(e).__name__})"
        if not self.health_topic_created:
            with suppress(TopicAlreadyExistsError):
                admin.create_topics([NewTopic(HEALTH_TOPIC, 1, rf)])
            self.health_topic_created = True
        for p in self.partitions(HEALTH_TOPIC):
            if p.leader < 0 or len(p.isr) < rf:
                return f"health topic has ISR {list(p.isr)} of {rf} replicas"
        return ""

    def registered_brokers(self) -> set[int] | None:
        """The ids of the brokers the controller knows and has not fenced (None: no answer; the
        admin client is dropped then)."""
        try:
            brokers = self.admin().describe_cluster()["brokers"]
        except (KafkaError, OSError):
            self.drop_admin()
            return None
        return {int(b["broker_id"]) for b in brokers if not b.get("is_fenced", False)}
