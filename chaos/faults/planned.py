"""Planned operations as faults: what operators do on purpose, which moves partition leadership.

* ``partition_reassign``: move a partition's replicas off the target brokers (``target`` names them
  through a partition selector, e.g. ``leader:orders:0``) onto brokers that hold none; healing waits
  until Kafka finished the move and every replica is in sync.
* ``preferred_election``: give a partition back to its preferred replica (``target: leader:T:P``
  names the partition and its leader now); healing waits for the full ISR.

A controlled shutdown of a leader is ``broker_stop`` with ``target: leader``; a rolling restart with
controlled shutdown is ``rolling_bounce``. (Kafka's replication quota cannot hold an in-sync follower
back — it only throttles replicas outside the ISR — so a follower that lags inside the ISR is made by
freezing it, ``broker_pause``, for less than ``replica.lag.time.max.ms`` and the broker session.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from chaos.cluster import operations
from chaos.errors import UsageError
from chaos.faults.base import Fault, FaultContext, FaultError, register
from chaos.faults.targets import PARTITION_SELECTORS

#: How long a healing waits for replicas to be back in sync.
SETTLE_TIMEOUT = 180.0


def _partition(fault: Fault) -> tuple[str, int]:
    head, _, rest = fault.target.partition(":")
    if head not in PARTITION_SELECTORS or ":" not in rest:
        raise UsageError(
            f"fault {fault.kind}: target {fault.target!r} names no partition: use a partition selector such as "
            "leader (the experiment's partition 0) or leader:TOPIC:PARTITION"
        )
    topic, part = rest.rsplit(":", 1)
    return topic, int(part)


@register
class PartitionReassign(Fault):
    """Move a partition's replicas off the target brokers, onto brokers that hold none of it."""

    kind = "partition_reassign"
    params: ClassVar[Mapping[str, Any]] = {"target": str, "timeout": (int, float)}
    default_target = "leader"

    def validate(self) -> None:
        _partition(self)

    def _inject(self, ctx: FaultContext) -> None:
        topic, part = _partition(self)
        leaving = {n.node_id for n in self.target_nodes(ctx)}
        state = ctx.cluster.partition(topic, part)
        spare = [b.node_id for b in ctx.cluster.brokers if b.node_id not in state.replicas]
        staying = [r for r in state.replicas if r not in leaving]
        moved = [r for r in state.replicas if r in leaving]
        if len(spare) < len(moved):
            raise FaultError(
                f"{self.kind}: moving {topic}-{part} off broker(s) {moved} needs {len(moved)} broker(s) without a "
                f"replica, and the cluster has {len(spare)}: add brokers or lower the topic's replication factor"
            )
        self._replicas = [*staying, *spare[: len(moved)]]
        operations.reassign(ctx.cluster, topic, part, self._replicas)
        assert ctx.timeline is not None
        ctx.timeline.record("reassigning", self, partition=f"{topic}-{part}", replicas=self._replicas)

    def _heal(self, ctx: FaultContext) -> None:
        topic, _ = _partition(self)
        timeout = float(self.p.get("timeout", SETTLE_TIMEOUT))
        operations.wait_for_reassignment(ctx.cluster, topic, timeout)
        operations.wait_for_full_isr(ctx.cluster, [topic], timeout)


@register
class PreferredElection(Fault):
    """Give a partition's leadership back to its preferred replica (Kafka's preferred-leader election)."""

    kind = "preferred_election"
    params: ClassVar[Mapping[str, Any]] = {"target": str}
    default_target = "leader"

    def validate(self) -> None:
        _partition(self)

    def _inject(self, ctx: FaultContext) -> None:
        topic, part = _partition(self)
        self.target_nodes(ctx)  # records the leader before the election
        operations.elect_preferred(ctx.cluster, topic, part)

    def _verify(self, ctx: FaultContext) -> None:
        topic, part = _partition(self)
        operations.wait_for_preferred_leader(ctx.cluster, topic, part, SETTLE_TIMEOUT)

    def _heal(self, ctx: FaultContext) -> None:
        topic, _ = _partition(self)
        operations.wait_for_full_isr(ctx.cluster, [topic], SETTLE_TIMEOUT)
