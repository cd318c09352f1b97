"""Synthetic run directories of a transactional producer, with known transaction endings and
injected anomalies, for testing the transactional oracle (:mod:`chaos.oracle.transactions`).

Each transaction is given an ending as its ledger records it and how many of its records a
read_committed reader finds (``visible``); a value other than the natural one (all of a committed
transaction, none of an aborted one) is an injected anomaly. Records go to partition
``seq % partitions`` at the next offsets, and each transaction leaves one marker offset in every
partition it wrote. A read_uncommitted group processes every record in the log, a read_committed
group every record of the read_committed view.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from chaos import rundir
from chaos.oracle.synthetic import write_drain_meta
from chaos.rundir import DRAIN, LEDGERS
from chaos.workloads.envelope import Status, producer_tag
from chaos.workloads.ledger import EPOCH, LOG_RECORD, PROCESSED, PRODUCER_EVENT, Kind, read_meta, write_meta

Ending = Literal["committed", "aborted", "unknown", "abandoned"]


@dataclass(frozen=True, slots=True)
class SyntheticTxn:
    """One transaction: ``size`` records, how the ledger says it ended, how many of its first
    records the read_committed view holds (``None``: the natural number), and whether its records
    are absent from the log altogether (``dropped``: an aborted transaction's records never sent)."""

    size: int
    ending: Ending
    visible: int | None = None
    dropped: bool = False

    @property
    def shown(self) -> int:
        """How many of its records the read_committed view holds."""
        if self.dropped:
            return 0
        if self.visible is not None:
            return self.visible
        return self.size if self.ending == "committed" else 0


def expected_transactions(txns: list[SyntheticTxn]) -> dict[str, Any]:
    """What the oracle must report for a producer with ``txns``: ``transactions``, the three
    transactional anomalies and the ``aborted`` count."""
    aborted = [t for t in txns if t.ending in ("aborted", "abandoned")]
    return {
        "transactions": {
            "committed": sum(1 for t in txns if t.ending == "committed"),
            "aborted": sum(1 for t in txns if t.ending == "aborted"),
            "unknown": sum(1 for t in txns if t.ending == "unknown"),
            "committed_records": sum(t.size for t in txns if t.ending == "committed"),
            "aborted_records": sum(t.size for t in aborted),
            "unknown_records": sum(t.size for t in txns if t.ending == "unknown"),
            "abandoned_records": sum(t.size for t in txns if t.ending == "abandoned"),
            "aborted_processed": sum(t.size for t in aborted if not t.dropped),
        },
        "anomalies": {
            "aborted_read": sum(t.shown for t in aborted),
            "lost_committed_write": sum(t.size - t.shown for t in txns if t.ending == "committed"),
            "torn_transaction": sum(1 for size, shown in _as_judged(txns) if 0 < shown < size),
        },
        "aborted": sum(t.size for t in aborted if t.dropped),
    }


def _as_judged(txns: list[SyntheticTxn]) -> list[tuple[int, int]]:
    """``(size, shown)`` of each transaction as the oracle sees them: adjacent abandoned ones are one
    run of abandoned records."""
    out: list[tuple[int, int]] = []
    merging = False
    for t in txns:
        if t.ending == "abandoned" and merging:
            size, shown = out[-1]
            out[-1] = (size + t.size, shown + t.shown)
        else:
            out.append((t.size, t.shown))
        merging = t.ending == "abandoned"
    return out


_ENDINGS: dict[str, list[Kind]] = {
    "committed": [Kind.COMMITTING, Kind.COMMITTED],
    "aborted": [Kind.ABORTED],
    "unknown": [Kind.COMMITTING],
    "abandoned": [],
}


def write_transactions(txns: list[SyntheticTxn], run_dir: Path, partitions: int = 3) -> None:
    """Write the ledgers and both drains of one transactional producer ``p0`` with ``txns``."""
    ledgers = run_dir / LEDGERS
    ledgers.mkdir(parents=True, exist_ok=True)
    write_meta(run_dir / rundir.RUN, {"run_id": "txn", "experiment": "synthetic-transactions"})
    write_meta(ledgers / "producer-p0.json", {"producer": "p0", "mode": "transactional", "start_ns": 0})
    tag = producer_tag("p0")
    events: list[tuple[int, int, int, int, int, int, int]] = []
    acks: list[tuple[int, int, int, int, int, int, int]] = []
    log_rows: list[tuple[int, int, int, int, int]] = []
    view_rows: list[tuple[int, int, int, int, int]] = []
    next_offset = [0] * partitions
    markers = [0] * partitions
    seq = 0
    for t in txns:
        events.append((Kind.INTENT, seq, seq + t.size, -1, -1, 0, 0))
        events.append((Kind.RETURNED, seq, seq + t.size, -1, -1, 0, 0))
        touched = set()
        for i in range(t.size):
            s = seq + i
            part = s % partitions
            if t.dropped:
                acks.append((Kind.ERROR_SEEN, s, s + 1, -1, -1, 7, 0))
                continue
            row = (part, next_offset[part], tag, s, int(Status.VALID))
            acks.append((Kind.ACK, s, s + 1, part, next_offset[part], 0, 0))
            log_rows.append(row)
            if i < t.shown:
                view_rows.append(row)
            next_offset[part] += 1
            touched.add(part)
        for kind in _ENDINGS[t.ending]:
            events.append((kind, seq, seq + t.size, -1, -1, 0, 0))
        for part in touched:  # its commit or abort marker
            next_offset[part] += 1
            markers[part] += 1
        seq += t.size
    np.array(events, dtype=PRODUCER_EVENT).tofile(ledgers / "producer-p0.events")
    np.array(acks, dtype=PRODUCER_EVENT).tofile(ledgers / "producer-p0.acks")
    (run_dir / DRAIN).mkdir(parents=True, exist_ok=True)
    np.array(log_rows, dtype=LOG_RECORD).tofile(run_dir / DRAIN / rundir.DRAIN_LOG)
    np.array(view_rows, dtype=LOG_RECORD).tofile(run_dir / DRAIN / rundir.DRAIN_COMMITTED)
    for group, rows, isolation in (("ru", log_rows, "read_uncommitted"), ("rc", view_rows, "read_committed")):
        meta = {"member": f"{group}-0", "group": group, "strategy": "after_process", "start_ns": 0}
        write_meta(ledgers / f"consumer-{group}-0.json", {**meta, "settings": {"isolation.level": isolation}})
        processed = [(*r, 0) for r in sorted(rows)]
        np.array(processed, dtype=PROCESSED).tofile(ledgers / f"consumer-{group}-0.processed")
        np.array([0], dtype=EPOCH).tofile(ledgers / f"consumer-{group}-0.epochs")
    write_drain_meta(run_dir, next_offset, {"ru": next_offset, "rc": next_offset}, len(log_rows))
    drain = read_meta(run_dir / DRAIN / rundir.DRAIN_META)
    drain["markers"] = {str(p): n for p, n in enumerate(markers) if n}
    drain["markers_verified"] = True  # as Kafka's segment dump confirms for a real drain
    drain["transactional_writers"] = 1
    drain["committed_view"] = {"records": len(view_rows), "isolation_level": "read_committed"}
    write_meta(run_dir / DRAIN / rundir.DRAIN_META, drain)
