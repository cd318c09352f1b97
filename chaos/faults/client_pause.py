"""Client pause: freeze a workload (SIGSTOP, or ``docker pause`` for an application's container) and
let it run again when healed, as a long GC pause or a stalled host would."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from chaos.errors import UsageError
from chaos.faults.base import Fault, FaultContext, register


@register
class ClientPause(Fault):
    """Freeze a workload (``workload``: ``producer-p0``, ``consumer-c0``, ``application-0`` or the
    bare id); heal lets it run again. Its group may evict it meanwhile: that is the point."""

    kind = "client_pause"
    params: ClassVar[Mapping[str, Any]] = {"workload": str}

    def validate(self) -> None:
        if "workload" not in self.p:
            raise UsageError("fault client_pause needs a workload: the one to freeze, e.g. consumer-c0")

    def _inject(self, ctx: FaultContext) -> None:
        wanted = str(self.p["workload"])
        names = [n for n in ctx.workloads if n == wanted or n.split("-", 1)[-1] == wanted]
        if len(names) != 1:
            raise UsageError(
                f"client_pause workload {wanted!r} matches {len(names)} workloads: {sorted(ctx.workloads)}"
            )
        self.targets = names
        ctx.workloads[names[0]].pause()

    def _heal(self, ctx: FaultContext) -> None:
        ctx.workloads[self.targets[0]].resume()
