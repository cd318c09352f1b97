"""Faults by hand on a running cluster (``kafka-chaos cluster fault`` / ``cluster heal``): one fault
held for a while, and healing everything a harness may have left, also one that was SIGKILLed.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any

from chaos.cluster import KafkaCluster
from chaos.errors import UsageError
from chaos.faults.base import Fault, FaultContext, FaultError, make_fault
from chaos.faults.disk import kcfs_command, restore_disk
from chaos.faults.network import flush_all_chains, harness_chains
from chaos.signals import sigterm_raises


def fault_by_hand(kind: str, params: dict[str, Any]) -> Fault:
    """The fault ``kind`` for a cluster without workloads.

    Raises:
        UsageError: unknown kind, bad parameters, or a fault that acts on a run's workloads.
    """
    fault = make_fault(kind, **params)
    if "workload" in type(fault).params:
        raise UsageError(f"{kind} acts on a run's workloads: use it in an experiment file's faults")
    return fault


def hold_fault(cluster: KafkaCluster, fault: Fault, duration: float | None, seed: int = 0) -> dict[str, Any]:
    """Inject ``fault``; with a ``duration``, hold it that long (Ctrl-C ends it early; SIGTERM heals
    and propagates) and heal it. Returns what happened: targets, inject/heal ms, how long it lasted.

    Raises:
        FaultError: it could not be applied or did not take effect.
    """
    ctx = FaultContext(cluster, rng=random.Random(seed))
    took = fault.inject(ctx)
    result: dict[str, Any] = {
        "run_id": cluster.run_id,
        "fault": fault.describe(),
        "targets": fault.targets,
        "inject_ms": round(took, 1),
        "healed": False,
    }
    if duration is None:
        return result
    started = time.monotonic()
    with sigterm_raises():
        try:
            time.sleep(duration)
        except KeyboardInterrupt:
            pass  # Ctrl-C ends the fault early; SIGTERM heals and exits
        finally:
            healed = fault.heal(ctx)
    result.update(healed=True, heal_ms=round(healed, 1), lasted_s=round(time.monotonic() - started, 2))
    return result


@dataclass(slots=True)
class HealReport:
    """What :func:`heal_everything` did."""

    run_id: str
    thawed: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    #: Brokers whose kcfs disk was failing: the failure ended and the broker restarted.
    disks_healed: list[str] = field(default_factory=list)
    chains_left: dict[str, list[str]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """For ``--json``."""
        return {
            "run_id": self.run_id,
            "thawed": self.thawed,
            "started": self.started,
            "disks_healed": self.disks_healed,
            "chains_left": self.chains_left,
        }


def heal_everything(cluster: KafkaCluster) -> HealReport:
    """Remove every fault from ``cluster``: thaw paused brokers, start stopped ones (a power cut
    included), end kcfs disk failures and restart those brokers (Kafka brings an offline log
    directory back only at start-up), remove every harness iptables chain and tc qdisc, reset
    toxiproxy (enable proxies, remove toxics).

    Raises:
        FaultError: harness chains are still there afterwards, or could not be listed.
    """
    report = HealReport(cluster.run_id)
    for node in cluster.nodes:
        if node.state == "paused":
            node.unpause()
            report.thawed.append(node.host)
        elif node.state in ("exited", "dead"):
            node.start()
            report.started.append(node.host)
    if cluster.spec.disk == "kcfs":
        failing = [n for n in cluster.brokers if n.is_running and kcfs_command(n, "stats").get("failure")]
        for node in failing:
            restore_disk(node)
            report.disks_healed.append(node.host)
        if failing:
            cluster.wait_healthy()
    flush_all_chains(cluster.nodes)
    cluster.toxiproxy.reset()
    left = {n.host: harness_chains(n) for n in cluster.nodes if n.is_running}
    report.chains_left = {h: c for h, c in left.items() if c}
    if report.chains_left:
        raise FaultError(f"chains still present after healing: {report.chains_left}")
    return report
