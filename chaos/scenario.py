"""A scenario: one topic on a running cluster, workloads on it, faults against it, and its verdict —
the building block for fault scenarios written in Python (and the pytest fixtures).

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
"""

from __future__ import annotations

import json
import random
import time
import uuid
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from chaos.cluster import KafkaCluster
from chaos.errors import InfrastructureError
from chaos.experiments.model import expand_targets
from chaos.faults.base import Fault, FaultContext, Timeline, make_fault
from chaos.faults.schedule import Nemesis
from chaos.oracle import Verdict, reconcile_and_write
from chaos.oracle.verdict import parse_expectations
from chaos.reports.series import Totals, totals
from chaos.workloads.drain import drain
from chaos.workloads.ledger import write_meta
from chaos.workloads.process import WorkloadProcess
from chaos.workloads.spec import ConsumerSpec, ProducerSpec


class Scenario:
    """A topic of its own (created now), workloads, faults and a run directory on ``cluster``.

    Raises (on construction):
        ClusterUnhealthy: the topic did not reach its full ISR.
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
    ) -> None:
        self.cluster = cluster
        self.topic = topic or f"s-{uuid.uuid4().hex[:8]}"
        self.run_dir = Path(run_dir)
        self.name = name or self.topic
        self.group = f"g-{self.topic}"
        self.processes: dict[str, WorkloadProcess] = {}
        cluster.create_topic(self.topic, partitions, replication_factor, topic_config or {"min.insync.replicas": "2"})
        write_meta(self.run_dir / "run.json", {"run_id": cluster.run_id, "experiment": self.name, "topic": self.topic})
        self.ctx = FaultContext(
            cluster, workloads=self.processes, rng=random.Random(seed), timeline=Timeline(self.run_dir)
        )
        self.nemesis = Nemesis(self.ctx)

    def __enter__(self) -> Self:
        self.nemesis.__enter__()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self.nemesis.__exit__(exc_type, exc, tb)
        finally:
            self.kill_all()

    def _common(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "bootstrap_servers": self.cluster.bootstrap_servers,
            "run_id": self.cluster.run_id,
            "run_dir": str(self.run_dir),
        }

    def producer(self, id: str = "p0", **spec: Any) -> WorkloadProcess:
        """A producer process (not started); ``spec`` takes :class:`ProducerSpec` fields."""
        process = WorkloadProcess(ProducerSpec(id=id, **spec, **self._common()))
        self.processes[process.name] = process
        return process

    def consumer(self, id: str = "c0", **spec: Any) -> WorkloadProcess:
        """A consumer group member (not started) of the scenario's group unless ``group`` is given."""
        spec.setdefault("group", self.group)
        process = WorkloadProcess(ConsumerSpec(id=id, **spec, **self._common()))
        self.processes[process.name] = process
        return process

    def inject(self, kind: str, **params: Any) -> Fault:
        """Inject a fault now (healed by :meth:`heal_all` or on exit). ``leader``, ``followers:1``
        and the like name partitions of the scenario's topic.

        Raises:
            UsageError: unknown kind or bad parameters.
            FaultError: it could not be applied or did not take effect.
        """
        fault = make_fault(kind, **expand_targets(params, self.topic))
        self.nemesis.inject(fault)
        return fault

    def heal_all(self) -> list[str]:
        """Heal every active fault; returns the errors of heals that failed."""
        return self.nemesis.heal_all()

    def totals(self) -> Totals:
        """Records sent, acknowledged, failed and processed so far (from the ledgers)."""
        return totals(self.run_dir)

    def wait_for(self, what: str, at_least: int, timeout: float = 120.0) -> int:
        """Wait until the ``sent``, ``acked``, ``errors`` or ``processed`` total reaches ``at_least``.

        Raises:
            InfrastructureError: not reached within ``timeout`` (the workloads' log tails attached).
        """
        deadline = time.monotonic() + timeout
        while (now := int(getattr(self.totals(), what))) < at_least:
            if time.monotonic() > deadline:
                error = InfrastructureError(f"{what} reached {now}, not {at_least}, within {timeout:.0f} s")
                for process in self.processes.values():
                    error.add_note(f"--- {process.name} ---\n{process.log_tail()}")
                raise error
            time.sleep(0.2)
        return now

    def kill_all(self) -> None:
        """SIGKILL every workload still running."""
        for process in self.processes.values():
            process.kill()

    def verdict(self, expect: dict[str, object] | None = None, timeout: float = 180.0) -> Verdict:
        """Drain the topic, reconcile and judge ``expect`` (e.g. ``{"broker_loss": 0}``).

        Raises:
            InfrastructureError: the drain could not read the topic to its end.
            UsageError: a malformed expectation.
        """
        if expect is not None:
            parse_expectations(expect)
            (self.run_dir / "expectations.json").write_text(json.dumps(expect))
        groups = sorted({p.spec.group for p in self.processes.values() if isinstance(p.spec, ConsumerSpec)})
        drain(self.cluster.bootstrap_servers, self.topic, self.cluster.run_id, self.run_dir, groups, timeout=timeout)
        return reconcile_and_write(self.run_dir)
