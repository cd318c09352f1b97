"""Client pause: freeze a workload (SIGSTOP, or ``docker pause`` for an application's container) and
let it run again when healed, as a long GC pause or a stalled host would."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from chaos import rundir
from chaos.errors import UsageError
from chaos.faults.base import Fault, FaultContext, register, workload_named
from chaos.waiting import wait_until
from chaos.workloads.ledger import PRODUCER_EVENT, Kind

#: Records a transactional producer must have sent in its open transaction before ``in_transaction``
#: freezes it: enough that its first batch, and with it the transaction, reached the coordinator
#: (a batch leaves after linger.ms; 100 records are 0.1 s at 1,000 records/s).
OPEN_RECORDS = 100
#: Seconds ``in_transaction`` waits for such a transaction.
OPEN_WAIT = 30.0


@runtime_checkable
class WithRunDir(Protocol):
    """A workload whose ledgers are in its run directory (a producer or consumer process)."""

    @property
    def run_dir(self) -> Path: ...


def open_records(events: Path) -> int:
    """Records sent in the transaction a producer's ``.events`` ledger shows open: those intended
    after its last ``COMMITTING``, ``COMMITTED`` or ``ABORTED`` (0 when it is committing or none was
    intended since). Reads the whole ledger: a run's is small.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "p0.events"
    >>> rows = np.zeros(3, PRODUCER_EVENT)
    >>> rows["kind"] = [Kind.COMMITTED, Kind.INTENT, Kind.INTENT]
    >>> rows["seq"], rows["seq_end"] = [0, 200, 260], [200, 260, 330]
    >>> rows.tofile(path); open_records(path)
    130
    """
    if not events.exists():
        return 0
    rows = np.fromfile(events, dtype=PRODUCER_EVENT, count=events.stat().st_size // PRODUCER_EVENT.itemsize)
    ends = np.flatnonzero(np.isin(rows["kind"], (Kind.COMMITTING, Kind.COMMITTED, Kind.ABORTED)))
    after = rows[int(ends[-1]) + 1 :] if len(ends) else rows
    intents = after[after["kind"] == Kind.INTENT]
    return int((intents["seq_end"] - intents["seq"]).sum())


@register
class ClientPause(Fault):
    """Freeze a workload (``workload``: ``producer-p0``, ``consumer-c0``, ``application-0`` or the
    bare id); heal lets it run again. Its group may evict it meanwhile: that is the point.
    ``in_transaction: true`` (a transactional producer) waits until it has sent
    :data:`OPEN_RECORDS` records in a transaction it has not begun to commit, so the freeze holds a
    transaction open at its coordinator."""

    kind = "client_pause"
    params: ClassVar[Mapping[str, Any]] = {"workload": str, "in_transaction": bool}

    def validate(self) -> None:
        if "workload" not in self.p:
            raise UsageError("fault client_pause needs a workload: the one to freeze, e.g. consumer-c0")

    def _inject(self, ctx: FaultContext) -> None:
        names = [workload_named(ctx.workloads, str(self.p["workload"]), self.kind)]
        self.targets = names
        workload = ctx.workloads[names[0]]
        if self.p.get("in_transaction"):
            if not names[0].startswith("producer-") or not isinstance(workload, WithRunDir):
                raise UsageError(f"client_pause in_transaction needs a producer workload, not {names[0]}")
            events = workload.run_dir / rundir.LEDGERS / f"{names[0]}.events"
            wait_until(
                lambda: open_records(events) >= OPEN_RECORDS,
                OPEN_WAIT,
                f"{names[0]} to have {OPEN_RECORDS} records in an open transaction",
                interval=0.01,
            )
        workload.pause()

    def _heal(self, ctx: FaultContext) -> None:
        ctx.workloads[self.targets[0]].resume()
