"""A scenario: one topic on a running cluster, workloads on it, faults against it, and its verdict —
the building block for fault scenarios written in Python (and the pytest fixtures). It drives the
same :class:`~chaos.experiments.executor.Execution` that ``kafka-chaos run`` drives from a plan.

Example::

    with KafkaCluster() as cluster, Scenario(cluster, run_dir) as s:
        producer = s.producer(mode="async", rate=1000, settings={"acks": "1"})
        producer.start()
        s.wait_for("acked", 100)
        s.inject("broker_kill", target="leader")        # the scenario's topic, partition 0
        ...
        s.heal_all()
        producer.stop()
        verdict = s.verdict(expect={"broker_loss": 0})

Leaving the ``with`` block heals every fault and kills every workload still running.

``Scenario(..., client_path="direct")`` puts its workloads and drain on the brokers' own listeners,
past toxiproxy. Faults are not checked against the path here, unlike in experiment files: a
scenario may inject ``proxy_down`` on purpose, to show its clients never cross the proxy.

``Scenario(..., client_namespaces=True)`` runs each workload in a network namespace of its own, so
``client_cut`` and ``client_bandwidth`` can act on its traffic (:mod:`chaos.faults.client_network`).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from chaos import rundir
from chaos.cluster import KafkaCluster
from chaos.cluster.config import ClientPath
from chaos.cluster.external import ExternalCluster
from chaos.errors import UsageError
from chaos.experiments.executor import Execution
from chaos.experiments.plan import TopicPlan
from chaos.faults.base import Fault, make_fault
from chaos.faults.targets import expand_targets
from chaos.oracle import Verdict
from chaos.oracle.expectations import parse_expectations
from chaos.oracle.files import write_verdict
from chaos.workloads.ledger import write_meta
from chaos.workloads.netns import check_can
from chaos.workloads.process import WorkloadProcess
from chaos.workloads.spec import ConsumerSpec, ProducerSpec


class Scenario(Execution):
    """A topic of its own (created now), workloads, faults and a run directory on ``cluster``.

    Raises (on construction):
        ClusterUnhealthy: the topic did not reach its full ISR, or the offsets topic was not ready.
        InfrastructureError: ``client_path="direct"`` on a cluster whose brokers have no direct listener.
        UsageError: a team's cluster (:class:`~chaos.cluster.external.ExternalCluster`); namespaces
            on a machine that cannot make them (not root, no iproute2 or iptables).
    """

    def __init__(
        self,
        cluster: KafkaCluster,
        run_dir: Path,
        *,
        topic: str | None = None,
        partitions: int = 3,
        replication_factor: int = 3,
        topic_config: dict[str, str] | None = None,
        seed: int = 0,
        name: str | None = None,
        client_path: ClientPath = "proxy",
        client_namespaces: bool = False,
    ) -> None:
        if client_namespaces:
            check_can()
        if isinstance(cluster, ExternalCluster):
            raise UsageError(
                "a Scenario injects any fault on its cluster and names topics freely: run it on a cluster the harness "
                "starts, and a team's cluster through `kafka-chaos run --bootstrap-servers`"
            )
        plan = TopicPlan(
            topic or f"s-{uuid.uuid4().hex[:8]}",
            partitions,
            replication_factor,
            topic_config if topic_config is not None else {"min.insync.replicas": "2"},
        )
        super().__init__(
            cluster, run_dir, plan, seed=seed, label=name, client_path=client_path, namespaces=client_namespaces
        )
        self.name = name or plan.name
        self.group = f"g-{plan.name}"
        self.create_topic(groups=True)  # before any consumer it may add: none races the offsets topic
        meta = {"run_id": self.run_id, "experiment": self.name, "topic": plan.name, "client_path": client_path}
        write_meta(self.run_dir / rundir.RUN, meta)

    def _common(self) -> dict[str, Any]:
        return {
            "topic": self.topic.name,
            "bootstrap_servers": self.bootstrap,
            "run_id": self.run_id,
            "run_dir": str(self.run_dir),
        }

    def producer(self, id: str = "p0", **spec: Any) -> WorkloadProcess:
        """A producer process (not started); ``spec`` takes :class:`ProducerSpec` fields."""
        return self.add(ProducerSpec(id=id, **spec, **self._common()))

    def consumer(self, id: str = "c0", **spec: Any) -> WorkloadProcess:
        """A consumer group member (not started) of the scenario's group unless ``group`` is given."""
        spec.setdefault("group", self.group)
        return self.add(ConsumerSpec(id=id, **spec, **self._common()))

    def inject(self, fault: str | Fault, **params: Any) -> Fault:
        """Inject a fault now (healed by :meth:`heal_all` or on exit): a :class:`Fault`, or a kind and
        its parameters. ``leader``, ``followers:1`` and the like name partitions of the scenario's topic.

        Raises:
            UsageError: unknown kind or bad parameters.
            FaultError: it could not be applied or did not take effect.
        """
        if isinstance(fault, str):
            fault = make_fault(fault, **expand_targets(params, self.topic.name, self.group, self._transactional_id()))
        return super().inject(fault)

    def _transactional_id(self) -> str | None:
        """The transactional id of the first transactional producer or exactly-once member."""
        for p in self.processes.values():
            spec = p.spec
            if (isinstance(spec, ProducerSpec) and spec.mode == "transactional") or (
                isinstance(spec, ConsumerSpec) and spec.strategy == "transactional"
            ):
                return spec.transactional_id
        return None

    @property
    def groups(self) -> list[str]:
        """The consumer groups of the scenario's consumers."""
        return sorted({p.spec.group for p in self.processes.values() if isinstance(p.spec, ConsumerSpec)})

    def verdict(self, expect: dict[str, object] | None = None, timeout: float = 180.0) -> Verdict:
        """Drain the topic, reconcile and judge ``expect`` (e.g. ``{"broker_loss": 0}``).

        Raises:
            InfrastructureError: the drain could not read the topic to its end.
            UsageError: a malformed expectation.
        """
        if expect is not None:
            parse_expectations(expect)
            (self.run_dir / rundir.EXPECTATIONS).write_text(json.dumps(expect))
        self.drain(self.groups, timeout=timeout)
        verdict = self.judge(self.name)
        write_verdict(self.run_dir, verdict)
        return verdict
