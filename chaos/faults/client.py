"""Client faults: SIGKILL a producer or consumer workload, and restart it when healed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from chaos import rundir
from chaos.errors import UsageError
from chaos.faults.base import Fault, FaultContext, FaultError, register
from chaos.faults.client_pause import WithRunDir
from chaos.faults.commits_ahead import freeze_when_ahead


@register
class ClientKill(Fault):
    """SIGKILL a workload (``workload``: ``producer-p0``, ``consumer-c0`` or the bare id); heal restarts
    it unless ``restart`` is false. ``committed_ahead: true`` (a consumer member) waits, freezing the
    member to look, until its group has committed records no member has processed, and kills it
    frozen: a commit of what was polled rather than processed then certainly loses them."""

    kind = "client_kill"
    params: ClassVar[Mapping[str, Any]] = {"workload": str, "restart": bool, "committed_ahead": bool}

    def validate(self) -> None:
        if "workload" not in self.p:
            raise UsageError("fault client_kill needs a workload: the one to kill, e.g. producer-p0")

    def _workload_name(self, ctx: FaultContext) -> str:
        wanted = str(self.p["workload"])
        names = [n for n in ctx.workloads if n == wanted or n.split("-", 1)[-1] == wanted]
        if len(names) != 1:
            raise UsageError(f"client_kill workload {wanted!r} matches {len(names)} workloads: {sorted(ctx.workloads)}")
        return names[0]

    def _inject(self, ctx: FaultContext) -> None:
        name = self._workload_name(ctx)
        self.targets = [name]
        workload = ctx.workloads[name]
        if self.p.get("committed_ahead"):
            if not name.startswith("consumer-") or not isinstance(workload, WithRunDir):
                raise UsageError(f"client_kill committed_ahead needs a consumer workload, not {name}")

            def committed(group: str, topic: str) -> dict[int, int]:
                answer = ctx.cluster.admin_call(lambda admin: admin.list_group_offsets({group: None}))
                offsets = answer.get(group, {})
                return {
                    tp.partition: int(om.offset) for tp, om in offsets.items() if tp.topic == topic and om.offset >= 0
                }

            try:
                freeze_when_ahead(name, workload.run_dir / rundir.LEDGERS, committed, workload.pause, workload.resume)
            except (TimeoutError, ValueError) as e:
                raise FaultError(str(e)) from e
        workload.kill()

    def _verify(self, ctx: FaultContext) -> None:
        if ctx.workloads[self.targets[0]].alive:
            raise FaultError(f"{self.targets[0]} still running after SIGKILL")

    def _heal(self, ctx: FaultContext) -> None:
        process = ctx.workloads[self.targets[0]]
        if self.p.get("restart", True) and not process.alive:
            process.start()
