"""Pieces of hand-built run directories the verdict tests share: the drain of one partition, and a
consumer group member that processed given records of producer p0."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from chaos.rundir import DRAIN, LEDGERS
from chaos.workloads.envelope import Status, producer_tag
from chaos.workloads.ledger import EPOCH, LOG_RECORD, PROCESSED, read_meta, write_meta

TAG = producer_tag("p0")


def write_log(run_dir: Path, log: Sequence[tuple[int, int, int]], begin: int = 0) -> None:
    """``log`` is (offset, seq, status) of p0's records in partition 0 as a complete drain read it,
    contiguous from ``begin``; no group has committed anything yet."""
    (run_dir / DRAIN).mkdir(parents=True, exist_ok=True)
    rows = [(0, off, TAG if st == Status.VALID else 0, seq, st) for off, seq, st in log]
    np.array(rows, dtype=LOG_RECORD).tofile(run_dir / DRAIN / "log.bin")
    end = max((off for off, _, _ in log), default=begin - 1) + 1
    drain = {"complete": True, "records": len(rows), "committed": {}}
    write_meta(run_dir / DRAIN / "drain.json", {**drain, "beginning_offsets": {"0": begin}, "end_offsets": {"0": end}})


def write_member(
    run_dir: Path,
    member: str,
    group: str,
    rows: Sequence[tuple[int, ...]],
    committed: int,
    epochs: Sequence[int] = (),
    **meta: object,
) -> None:
    """A member of ``group`` (Java client, ``after_process`` unless ``meta`` says otherwise) that
    processed ``rows`` ((offset, seq) of partition 0, valid records of p0, or (offset, seq, t_ms)),
    and the group's committed offset of partition 0 in ``drain.json``."""
    base = {"member": member, "group": group, "strategy": "after_process", "client": "java", "start_ns": 0}
    write_meta(run_dir / LEDGERS / f"consumer-{member}.json", {**base, **meta})
    processed = [(0, r[0], TAG, r[1], Status.VALID, r[2] if len(r) > 2 else 0) for r in rows]
    np.array(processed, dtype=PROCESSED).tofile(run_dir / LEDGERS / f"consumer-{member}.processed")
    np.array([0, *epochs], dtype=EPOCH).tofile(run_dir / LEDGERS / f"consumer-{member}.epochs")
    drain = read_meta(run_dir / DRAIN / "drain.json")
    drain["committed"][group] = {"0": committed}
    write_meta(run_dir / DRAIN / "drain.json", drain)
