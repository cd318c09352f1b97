"""Pieces of hand-built run directories the verdict tests share: the drain of one partition, a
consumer group member that processed given records of producer p0, and a whole one-partition run of
p0's ledgers and drain."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from chaos.oracle.synthetic import write_drain_meta
from chaos.rundir import DRAIN, LEDGERS
from chaos.workloads.envelope import Status, producer_tag
from chaos.workloads.ledger import EPOCH, LOG_RECORD, PROCESSED, PRODUCER_EVENT, read_meta, write_meta

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


def one_partition_run(
    run_dir: Path,
    mode: str,
    events: Sequence[tuple[int, int, int, int, int]],
    acks: Sequence[tuple[int, int, int, int, int]],
    log: Sequence[tuple[int, int, int]],
    begin: int = 0,
) -> Path:
    """Producer p0 in ``mode`` writing to partition 0; rows are (kind, seq, seq_end, partition,
    offset); ``log`` is (offset, seq, status) of what the drain found, [begin, end) contiguous."""
    ledgers = run_dir / LEDGERS
    ledgers.mkdir(parents=True, exist_ok=True)
    write_meta(run_dir / "run.json", {"run_id": "r1", "experiment": "truth"})
    write_meta(ledgers / "producer-p0.json", {"producer": "p0", "mode": mode, "start_ns": 0})
    np.array([(*e, 0, 0) for e in events], dtype=PRODUCER_EVENT).tofile(ledgers / "producer-p0.events")
    np.array([(*a, 0, 0) for a in acks], dtype=PRODUCER_EVENT).tofile(ledgers / "producer-p0.acks")
    (run_dir / DRAIN).mkdir(exist_ok=True)
    rows = [(0, off, TAG if st == Status.VALID else 0, seq, st) for off, seq, st in log]
    np.array(rows, dtype=LOG_RECORD).tofile(run_dir / DRAIN / "log.bin")
    end = max((off for off, _, _ in log), default=begin - 1) + 1
    write_drain_meta(run_dir, [end], {}, len(rows), [begin])
    return run_dir
