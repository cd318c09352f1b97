"""Client faults: SIGKILL a producer or consumer workload, and restart it when healed."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from chaos import rundir
from chaos.errors import UsageError
from chaos.faults.base import Fault, FaultContext, FaultError, register, workload_named
from chaos.faults.client_pause import WithRunDir
from chaos.faults.moments import committed_ahead, freeze_when, holding, member_meta
from chaos.oracle.share import DEFAULT_LIMIT
from chaos.oracle.share_run import broker_limit
from chaos.workloads.share_ledger import delivery_limit

#: The moments ``when`` waits for (:mod:`chaos.faults.moments`).
WHEN = ("committed_ahead", "holding")


@register
class ClientKill(Fault):
    """SIGKILL a workload (``workload``: ``producer-p0``, ``consumer-c0`` or the bare id); heal restarts
    it unless ``restart`` is false. ``when`` (a consumer member) waits, freezing the member for each
    look, for a moment (:mod:`chaos.faults.moments`) and kills it frozen: ``committed_ahead``, its
    group has committed records no member has processed; ``holding``, a share group member holds
    records it has not decided on."""

    kind = "client_kill"
    params: ClassVar[Mapping[str, Any]] = {"workload": str, "restart": bool, "when": str}

    def validate(self) -> None:
        if "workload" not in self.p:
            raise UsageError("fault client_kill needs a workload: the one to kill, e.g. producer-p0")
        if self.p.get("when", WHEN[0]) not in WHEN:
            raise UsageError(f"client_kill when {self.p['when']!r} is not one of {', '.join(WHEN)}")

    def _inject(self, ctx: FaultContext) -> None:
        name = workload_named(ctx.workloads, str(self.p["workload"]), self.kind)
        self.targets = [name]
        workload = ctx.workloads[name]
        moment = self.p.get("when")
        if moment:
            if not name.startswith("consumer-") or not isinstance(workload, WithRunDir):
                raise UsageError(f"client_kill when: {moment} needs a consumer workload, not {name}")
            try:
                freeze_when(
                    str(moment),
                    self._look(ctx, str(moment), name, workload.run_dir / rundir.LEDGERS),
                    workload.pause,
                    workload.resume,
                )
            except (TimeoutError, ValueError) as e:
                raise FaultError(f"{name}: {e}") from e
        workload.kill()

    @staticmethod
    def _look(ctx: FaultContext, moment: str, name: str, ledgers: Path) -> Callable[[], int]:
        """The look of ``moment`` at member ``name``.

        Raises:
            ValueError: the member wrote no meta within a minute of the fault.
        """
        meta = member_meta(ledgers, name)
        if moment == "holding":
            return holding(ledgers, name, delivery_limit(meta) or broker_limit(ledgers.parent) or DEFAULT_LIMIT)

        def committed(group: str, topic: str) -> dict[int, int]:
            answer = ctx.cluster.admin_call(lambda admin: admin.list_group_offsets({group: None}))
            offsets = answer.get(group, {})
            return {tp.partition: int(om.offset) for tp, om in offsets.items() if tp.topic == topic and om.offset >= 0}

        return committed_ahead(ledgers, str(meta.get("group", "")), str(meta.get("topic", "")), committed)

    def _verify(self, ctx: FaultContext) -> None:
        if ctx.workloads[self.targets[0]].alive:
            raise FaultError(f"{self.targets[0]} still running after SIGKILL")

    def _heal(self, ctx: FaultContext) -> None:
        process = ctx.workloads[self.targets[0]]
        if self.p.get("restart", True) and not process.alive:
            process.start()
