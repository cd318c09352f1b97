"""Clusters shared by the runs of a suite: one cluster per shape, reset between runs.

A reset (:func:`reset_cluster`) heals whatever a run left (paused or stopped brokers, failing kcfs
disks, iptables chains, tc qdiscs, toxics), waits until every broker is registered and in sync,
deletes the run's topics and consumer groups and checks that every partition left (Kafka's own
internal topics) has its full ISR. A reset that cannot show all of that raises
:class:`ResetFailed`; the pool then removes that cluster and starts a fresh one, and the run says
so (``RunResult.cluster``, shown in every report). ``docs/cluster-reuse.md`` has the contract.

Runs on one cluster never meet: each has its own run id, which names its consumer groups and
transactional ids and is stamped in every record it writes, and the drain reads only its own.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from kafka.admin import MemberToRemove
from kafka.errors import KafkaError

from chaos.cluster import KafkaCluster
from chaos.cluster.config import ClusterSpec
from chaos.cluster.operations import wait_for_full_isr
from chaos.errors import ChaosError, InfrastructureError, UsageError
from chaos.faults.by_hand import heal_everything
from chaos.labels import new_run_id
from chaos.progress import Progress, silent
from chaos.waiting import WaitTimeout, wait_until

log = logging.getLogger(__name__)


class ResetFailed(ChaosError):
    """A shared cluster could not be shown to be clean; the message says what was wrong."""


def _user_topics(cluster: KafkaCluster) -> list[str]:
    topics: list[str] = cluster.admin_call(lambda a: a.list_topics())
    return sorted(t for t in topics if not t.startswith("__"))


def consumer_groups(cluster: KafkaCluster) -> dict[str, int]:
    """Every group any running broker coordinates, and the broker that lists it.

    Each running broker is named: kafka-python's ``list_groups()`` asks only the brokers in the
    metadata its admin client last got, which can lack the group's coordinator, and then answers
    without that group (a reset would call the cluster clean).

    Raises:
        KafkaError: a broker did not answer.
    """
    running = [b.node_id for b in cluster.brokers if b.state == "running"]
    found: dict[str, int] = {}
    for broker in running:
        listed = cluster.admin_call(lambda a, b=broker: a.list_groups(broker_ids=[b]))  # type: ignore[misc]
        found.update({str(g["group_id"]): broker for g in listed})
    return dict(sorted(found.items()))


def _empty_and_delete_groups(cluster: KafkaCluster, groups: Mapping[str, int]) -> list[str]:
    """Remove every member still in ``groups`` (a SIGKILLed consumer stays a member until its session
    times out), then delete them; returns the groups still there.

    Each group is asked of the broker that lists it, never of the coordinator the admin client
    remembers: kafka-python keeps a group's coordinator for the client's life, so once the group
    moved (its coordinator killed or isolated) every call would go to a broker that answers
    NOT_COORDINATOR, and the group would never be deleted."""
    by_broker: dict[int, list[str]] = {}
    for group, broker in groups.items():
        by_broker.setdefault(broker, []).append(group)
    for broker, ids in sorted(by_broker.items()):
        described = cluster.admin_call(lambda a, i=ids, b=broker: a.describe_groups(i, group_coordinator_id=b))  # type: ignore[misc]
        for group, description in described.items():
            members = [MemberToRemove(member_id=m["member_id"]) for m in description.get("members") or []]
            if members:
                cluster.admin_call(
                    lambda a, g=group, m=members, b=broker: a.remove_group_members(g, m, group_coordinator_id=b)  # type: ignore[misc]
                )
        cluster.admin_call(lambda a, i=ids, b=broker: a.delete_groups(i, group_coordinator_id=b))  # type: ignore[misc]
    return list(consumer_groups(cluster))


def reset_cluster(cluster: KafkaCluster, timeout: float = 120.0) -> list[str]:
    """Make a cluster a previous run used as good as fresh; returns what had to be healed (empty
    when the run had left nothing behind).

    A deleted topic counts as gone once every running broker says so: the next run may create a
    topic of the same name, and a broker still holding the old one would answer for it.

    Raises:
        ResetFailed: healing failed, a broker did not come back or catch up, or a topic or group
            of the previous run could not be deleted within ``timeout``.
    """
    deadline = time.monotonic() + timeout

    def left() -> float:
        return max(1.0, deadline - time.monotonic())

    def no_topics() -> bool:
        return not _user_topics(cluster)

    def no_groups() -> bool:
        return not _empty_and_delete_groups(cluster, consumer_groups(cluster))

    try:
        report = heal_everything(cluster)
        found = {"thawed": report.thawed, "started": report.started, "disk healed": report.disks_healed}
        healed = [f"{what}: {', '.join(hosts)}" for what, hosts in found.items() if hosts]
        cluster.wait_healthy(left())
        topics = _user_topics(cluster)
        if topics:
            cluster.admin_call(lambda a: a.delete_topics(topics, timeout_ms=30_000, raise_errors=False))
        wait_until(
            no_topics, left(), "the run before's topics to be deleted", seen=lambda: ", ".join(_user_topics(cluster))
        )
        if topics:
            cluster.metadata.wait_gone_everywhere(topics, left())
        groups = consumer_groups(cluster)
        wait_until(
            no_groups,
            left(),
            "the run before's consumer groups to be deleted",
            seen=lambda: ", ".join(consumer_groups(cluster)),
        )
        # Internal topics only: a broker still catching up may list a topic just deleted, whose
        # metadata every other broker then answers with UnknownTopicOrPartition.
        listed: list[str] = cluster.admin_call(lambda a: a.list_topics())
        wait_for_full_isr(cluster, sorted(t for t in listed if t.startswith("__")), left())
    except (ChaosError, WaitTimeout, KafkaError, OSError) as e:
        raise ResetFailed(f"{type(e).__name__}: {e}") from e
    log.info("reset cluster %s: deleted %d topics, %d groups", cluster.run_id, len(topics), len(groups))
    return healed


def shape(spec: ClusterSpec) -> str:
    """What makes two clusters interchangeable: every field of the spec. A run's client path is not
    one: every cluster serves both (each broker has a proxied and a direct listener).

    >>> shape(ClusterSpec(brokers=3)) == shape(ClusterSpec(brokers=3)) != shape(ClusterSpec(brokers=1))
    True
    """
    return json.dumps(asdict(spec), sort_keys=True, default=str)


#: Spec fields that say how the harness waits for a cluster, not what the cluster is.
_NOT_SHAPE = ("health_timeout",)


def differences(wanted: ClusterSpec, have: ClusterSpec) -> list[str]:
    """How a running cluster (``have``) differs from the one a run wants, field by field.

    >>> differences(ClusterSpec(brokers=1), ClusterSpec(brokers=3))
    ['brokers 1 (the cluster has 3)']
    >>> differences(ClusterSpec(brokers=3, health_timeout=5), ClusterSpec(brokers=3))
    []
    """
    want, got = asdict(wanted), asdict(have)
    differ = [key for key in want if key not in _NOT_SHAPE and want[key] != got[key]]
    return [f"{key} {want[key]} (the cluster has {got[key]})" for key in differ]


def check_fits(cluster: KafkaCluster, wanted: ClusterSpec, who: str) -> None:
    """Refuse to run ``who`` on a given cluster of another shape.

    Raises:
        UsageError: the cluster differs from ``wanted``; the message says how.
    """
    diff = differences(wanted, cluster.spec)
    if diff:
        raise UsageError(
            f"{who} wants another cluster than {cluster.run_id} ({'; '.join(diff)}): start one with "
            "`kafka-chaos cluster up` and the same settings, or run without --cluster"
        )


@dataclass(slots=True)
class Lease:
    """A cluster for one run, and how it was obtained (``RunResult.cluster``)."""

    cluster: KafkaCluster
    #: ``fresh``, ``reused`` or ``fresh (reset failed: …)``.
    how: str
    #: What the reset found left over by the previous run and healed.
    healed: list[str]


class ClusterPool:
    """One running cluster per shape at a time, shared by consecutive runs of that shape.

    ``fresh=True`` (``--fresh-cluster``) starts a cluster for every run and removes it after, as a
    run on its own does. :meth:`close` removes every cluster the pool holds, idle or still leased
    (a caller that failed before giving its lease back).
    """

    def __init__(
        self,
        make: Callable[[ClusterSpec], KafkaCluster],
        fresh: bool = False,
        progress: Progress = silent,
        reset: Callable[[KafkaCluster], list[str]] = reset_cluster,
    ) -> None:
        self.make = make
        self.fresh = fresh
        self.progress = progress
        self.reset = reset
        self.idle: dict[str, KafkaCluster] = {}
        self.leased: dict[str, KafkaCluster] = {}

    def acquire(self, spec: ClusterSpec) -> Lease:
        """A healthy, clean cluster of ``spec``: the idle one reset, else a new one (started).

        Clusters of other shapes are removed first (one cluster runs at a time).

        Raises:
            InfrastructureError: a new cluster could not start.
        """
        key = shape(spec)
        for other in [s for s in self.idle if s != key]:
            self._remove(self.idle.pop(other))
        cluster = self.idle.pop(key, None)
        how = "fresh"
        healed: list[str] = []
        if cluster is not None:
            try:
                healed = self.reset(cluster)
                self.leased[cluster.run_id] = cluster
                return Lease(cluster, "reused", healed)
            except ResetFailed as e:
                how = f"fresh (reset of {cluster.run_id} failed: {e})"
                self.progress(f"cluster {cluster.run_id} could not be reset ({e}): starting a fresh one")
                self._remove(cluster)
        cluster = self.make(spec)
        try:
            cluster.start()
        except BaseException:
            self._remove(cluster)
            raise
        self.leased[cluster.run_id] = cluster
        return Lease(cluster, how, healed)

    def release(self, lease: Lease, broken: bool = False) -> None:
        """Give a cluster back after its run: kept for the next run of its shape, or removed (fresh
        mode, or ``broken``: the run stopped in a way that leaves its state unknown)."""
        self.leased.pop(lease.cluster.run_id, None)
        if self.fresh or broken:
            self._remove(lease.cluster)
        else:
            self.idle[shape(lease.cluster.spec)] = lease.cluster

    @classmethod
    def under(cls, base: Path, fresh: bool = False, progress: Progress = silent) -> ClusterPool:
        """A pool whose clusters each get a new run id and keep their logs in
        ``<base>/clusters/<run id>/`` (a suite's, a search's or a test session's directory)."""

        def make(spec: ClusterSpec) -> KafkaCluster:
            run_id = new_run_id()
            return KafkaCluster(spec, run_id=run_id, run_dir=Path(base) / "clusters" / run_id, progress=progress)

        return cls(make, fresh=fresh, progress=progress)

    @classmethod
    def given(
        cls,
        cluster: KafkaCluster,
        progress: Progress = silent,
        reset: Callable[[KafkaCluster], list[str]] = reset_cluster,
    ) -> ClusterPool:
        """A pool of one cluster someone else started (``--cluster RUN_ID``): reset before every run,
        since whatever used it last may have left faults, topics or groups; never removed.

        A failed reset is an :class:`~chaos.errors.InfrastructureError`: there is no other cluster to
        fall back to.
        """
        return _GivenPool(cluster, progress, reset)

    def close_idle(self) -> None:
        """Remove every idle cluster; a leased one stays with its holder."""
        while self.idle:
            _, cluster = self.idle.popitem()
            self._remove(cluster)

    def close(self) -> None:
        """Remove every cluster: the idle ones and any never given back (the end of a session or
        suite; between tests use :meth:`close_idle`)."""
        self.close_idle()
        while self.leased:
            _, cluster = self.leased.popitem()
            self._remove(cluster)

    def _remove(self, cluster: KafkaCluster) -> None:
        try:
            cluster.destroy()
        except Exception as e:  # teardown goes on; `kafka-chaos clean` removes what is left
            log.warning("could not remove cluster %s: %s", cluster.run_id, e)


class _GivenPool(ClusterPool):
    """:meth:`ClusterPool.given`: one cluster, reset for each run, left running at the end."""

    def __init__(self, cluster: KafkaCluster, progress: Progress, reset: Callable[[KafkaCluster], list[str]]) -> None:
        super().__init__(lambda spec: cluster, progress=progress, reset=reset)
        self.cluster = cluster

    def acquire(self, spec: ClusterSpec) -> Lease:
        """The given cluster, reset.

        Raises:
            UsageError: it is not of ``spec``'s shape.
            InfrastructureError: it could not be reset.
        """
        check_fits(self.cluster, spec, "this run")
        try:
            healed = self.reset(self.cluster)
        except ResetFailed as e:
            raise InfrastructureError(
                f"cluster {self.cluster.run_id} could not be reset ({e}): see `kafka-chaos cluster status "
                f"{self.cluster.run_id}`, or run without --cluster on a fresh one"
            ) from e
        return Lease(self.cluster, "given", healed)

    def release(self, lease: Lease, broken: bool = False) -> None:
        """Nothing to give back: the cluster stays, and the next run resets it."""

    def close_idle(self) -> None:
        """The given cluster is not the pool's to remove."""

    def close(self) -> None:
        """The given cluster is not the pool's to remove."""
