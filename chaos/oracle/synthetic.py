"""Synthetic run directories with known outcomes, for testing and measuring the oracle.

Each record of each producer is given a *fate*; the files a real run would leave (ledgers, drain)
are written accordingly, and :func:`expected` says exactly what the oracle must report.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np

from chaos import rundir
from chaos.rundir import DRAIN, LEDGERS
from chaos.workloads.envelope import Status, producer_tag
from chaos.workloads.ledger import EPOCH, LOG_RECORD, PROCESSED, PRODUCER_EVENT, Kind, write_meta


class Fate(Enum):
    """What happens to one record."""

    OK = "ok"  # acked, in the log once, processed once
    PRODUCER_LOST = "producer_lost"  # send returned, never acked, not in the log (goes-on modes only)
    SWALLOWED = "swallowed"  # failed, error never looked at, not in the log
    BROKER_LOST = "broker_lost"  # acked at an offset past the log's end, not in the log
    BELOW_START = "below_start"  # acked at an offset below the log start (retention, DeleteRecords)
    OVERWRITTEN = "overwritten"  # acked at the offset its partition's next record now holds
    UNCONFIRMED = "unconfirmed"  # "acked" with no offset (acks=0), not in the log
    DAMAGED = "damaged"  # acked; its position holds a value that fails its checksum
    MANGLED = "mangled"  # acked; its position holds a value that is not this run's (magic/run id hit)
    SEEN_ERROR = "seen_error"  # failed, the application saw it, not in the log
    UNKNOWN = "unknown"  # intended, send never returned, not in the log
    CONSUMER_LOST = "consumer_lost"  # in the log below the committed offset, never processed
    DUPLICATE_IN_LOG = "duplicate_in_log"  # in the log twice
    DUPLICATE_PROCESSED = "duplicate_processed"  # processed twice
    REORDERED = "reordered"  # written after the record that follows it in its partition


IN_LOG = frozenset({Fate.OK, Fate.CONSUMER_LOST, Fate.DUPLICATE_IN_LOG, Fate.DUPLICATE_PROCESSED, Fate.REORDERED})
#: In the log at their acknowledged position, but not as a valid record of theirs.
AT_POSITION_DAMAGED = frozenset({Fate.DAMAGED, Fate.MANGLED})
BROKER = frozenset({Fate.BROKER_LOST, Fate.BELOW_START, Fate.OVERWRITTEN, Fate.UNCONFIRMED})
ACKED = IN_LOG | AT_POSITION_DAMAGED | (BROKER - {Fate.UNCONFIRMED})
#: Fates that need the next record of their partition (seq + partitions) to be OK and unshared.
NEEDS_SUCCESSOR = frozenset({Fate.REORDERED, Fate.OVERWRITTEN})
#: Offsets of every partition start here; BELOW_START records were acked below it.
LOG_START = 1000


@dataclass(frozen=True, slots=True)
class SyntheticProducer:
    """One producer's records: ``fates[seq]``."""

    id: str
    mode: str
    fates: Sequence[Fate]


@dataclass(frozen=True, slots=True)
class History:
    """A whole synthetic run."""

    run_id: str
    producers: Sequence[SyntheticProducer]
    partitions: int = 3
    corrupted: int = 0
    phantom: int = 0
    group: str = "g"
    extra: dict[str, Any] = field(default_factory=dict)


def expected(history: History) -> dict[str, dict[str, Any]]:
    """What the oracle must report for ``history``."""
    fates: Counter[Fate] = Counter()
    outbox_errors = 0
    for p in history.producers:
        fates.update(p.fates)
        if p.mode == "outbox":
            outbox_errors += sum(1 for f in p.fates if f is Fate.SEEN_ERROR)
    in_log = sum(fates[f] for f in IN_LOG)
    damaged = sum(fates[f] for f in AT_POSITION_DAMAGED)
    return {
        "counts": {
            "sent": sum(fates.values()),
            "acked": sum(fates[f] for f in ACKED),
            "unconfirmed": fates[Fate.UNCONFIRMED],
            "send_errors": fates[Fate.SEEN_ERROR],
            "failed": fates[Fate.SEEN_ERROR] - outbox_errors,
            "unknown": fates[Fate.UNKNOWN] + outbox_errors,  # the outbox still holds them
            "in_log": in_log,
            "damaged": damaged,
            "aborted": 0,
            "expired": 0,
            "superseded": 0,
            "processed": in_log - fates[Fate.CONSUMER_LOST],
            "unprocessed": 0,
            "overwritten_unread": 0,
        },
        "loss": {
            "producer": fates[Fate.PRODUCER_LOST] + fates[Fate.SWALLOWED],
            "broker": sum(fates[f] for f in BROKER),
            "consumer": fates[Fate.CONSUMER_LOST],
        },
        "causes": {
            "broker": {
                "below_log_start": fates[Fate.BELOW_START],
                "overwritten": fates[Fate.OVERWRITTEN],
                "beyond_log_end": fates[Fate.BROKER_LOST],
                "missing": 0,
                "unconfirmed": fates[Fate.UNCONFIRMED],
            }
        },
        "anomalies": {
            "duplicates_in_log": fates[Fate.DUPLICATE_IN_LOG],
            "duplicates_processed": fates[Fate.DUPLICATE_PROCESSED],
            "reordered": fates[Fate.REORDERED],
            "corrupted": history.corrupted + damaged,
            "phantom": history.phantom,
            "inconsistent_offsets": fates[Fate.OVERWRITTEN],
            "poll_skips": 0,
            "nonmonotonic_polls": 0,
            "aborted_read": 0,
            "lost_committed_write": 0,
            "torn_transaction": 0,
            "duplicate_outputs": 0,
            "epoch_regression": 0,
            "hw_regression": 0,
        },
    }


def _place(
    fates: Sequence[Fate],
    partitions: int,
    tag: int,
    next_offset: list[int],
    log_rows: list[tuple[int, int, int, int, int]],
) -> dict[int, int]:
    """Append one producer's records in the log to ``log_rows``: per partition in sequence order, a
    REORDERED record swapped with its (OK) successor, a damaged record's position holding a corrupted
    or foreign value. Returns each record's acknowledged offset by seq."""
    positions: dict[int, int] = {}
    by_partition: dict[int, list[int]] = {}
    for seq, fate in enumerate(fates):
        if fate in IN_LOG or fate in AT_POSITION_DAMAGED:
            by_partition.setdefault(seq % partitions, []).append(seq)
    for part, seqs in by_partition.items():
        order = list(seqs)
        i = 0
        while i < len(order) - 1:
            if fates[order[i]] is Fate.REORDERED and fates[order[i + 1]] is Fate.OK:
                order[i], order[i + 1] = order[i + 1], order[i]
                i += 2
            else:
                i += 1
        for seq in order:
            positions[seq] = next_offset[part]
            if fates[seq] is Fate.DAMAGED:
                log_rows.append((part, next_offset[part], 0, -1, Status.CORRUPTED))
            elif fates[seq] is Fate.MANGLED:
                log_rows.append((part, next_offset[part], 0, -1, Status.FOREIGN))
            else:
                log_rows.append((part, next_offset[part], tag, seq, Status.VALID))
            next_offset[part] += 1
    for seq, fate in enumerate(fates):
        if fate is Fate.OVERWRITTEN:
            positions[seq] = positions[seq + partitions]  # its successor took its offset
        elif fate is Fate.BELOW_START:
            positions[seq] = seq % LOG_START
    return positions


def write(history: History, run_dir: Path) -> None:
    """Write the ledgers and drain ``history`` implies into ``run_dir``.

    Placement: record ``seq`` goes to partition ``seq % partitions``, records in the log take the
    next offsets of their partition in sequence order; a REORDERED record swaps places with the
    next record of its partition (which must be OK); duplicate copies go to the end of the partition.
    """
    ledgers = run_dir / LEDGERS
    ledgers.mkdir(parents=True, exist_ok=True)
    write_meta(run_dir / rundir.RUN, {"run_id": history.run_id, "experiment": "synthetic"})
    write_meta(
        ledgers / f"consumer-{history.group}-0.json",
        {"member": f"{history.group}-0", "group": history.group, "strategy": "after_process", "start_ns": 0},
    )
    log_rows: list[tuple[int, int, int, int, int]] = []
    unprocessed: set[tuple[int, int]] = set()  # (partition, offset) of consumer-lost records
    twice: list[tuple[int, int]] = []  # (partition, offset) of records processed twice
    next_offset = [LOG_START] * history.partitions
    tail: list[tuple[int, int, int]] = []  # duplicate copies: (partition, tag, seq)
    for p in history.producers:
        tag = producer_tag(p.id)
        write_meta(ledgers / f"producer-{p.id}.json", {"producer": p.id, "mode": p.mode, "start_ns": 0})
        n = len(p.fates)
        events: list[tuple[int, int, int, int, int, int, int]] = [(Kind.INTENT, 0, n, -1, -1, 0, 0)]
        acks: list[tuple[int, int, int, int, int, int, int]] = []
        positions = _place(p.fates, history.partitions, tag, next_offset, log_rows)
        for seq, fate in enumerate(p.fates):
            part = seq % history.partitions
            if fate is not Fate.UNKNOWN:
                events.append((Kind.RETURNED, seq, seq + 1, -1, -1, 0, 0))
            if fate in ACKED:
                acks.append((Kind.ACK, seq, seq + 1, part, positions.get(seq, 10**9 + seq), 0, 0))
            elif fate is Fate.UNCONFIRMED:
                acks.append((Kind.ACK, seq, seq + 1, part, -1, 0, 0))
            elif fate is Fate.SEEN_ERROR:
                acks.append((Kind.ERROR_SEEN, seq, seq + 1, -1, -1, 7, 0))
            elif fate is Fate.SWALLOWED:
                acks.append((Kind.ERROR_SWALLOWED, seq, seq + 1, -1, -1, 7, 0))
            if fate is Fate.CONSUMER_LOST:
                unprocessed.add((part, positions[seq]))
            elif fate is Fate.DUPLICATE_PROCESSED:
                twice.append((part, positions[seq]))
            if fate is Fate.DUPLICATE_IN_LOG:
                tail.append((part, tag, seq))
        np.array(events, dtype=PRODUCER_EVENT).tofile(ledgers / f"producer-{p.id}.events")
        np.array(acks, dtype=PRODUCER_EVENT).tofile(ledgers / f"producer-{p.id}.acks")
    for part, tag, seq in tail:
        log_rows.append((part, next_offset[part], tag, seq, Status.VALID))
        next_offset[part] += 1
    for i in range(history.corrupted):
        part = i % history.partitions
        log_rows.append((part, next_offset[part], 0, -1, Status.CORRUPTED))
        next_offset[part] += 1
    for i in range(history.phantom):
        part = i % history.partitions
        # Alternate the two kinds of phantom: a record of no producer of this run, and a sequence
        # number a known producer never intended.
        if i % 2 == 0 or not history.producers:
            log_rows.append((part, next_offset[part], 0, -1, Status.FOREIGN))
        else:
            known = history.producers[0]
            log_rows.append((part, next_offset[part], producer_tag(known.id), len(known.fates) + i, Status.VALID))
        next_offset[part] += 1
    (run_dir / DRAIN).mkdir(parents=True, exist_ok=True)
    np.array(log_rows, dtype=LOG_RECORD).tofile(run_dir / DRAIN / rundir.DRAIN_LOG)
    _write_processed(ledgers / f"consumer-{history.group}-0", log_rows, unprocessed, twice)
    write_drain_meta(
        run_dir, next_offset, {history.group: next_offset}, len(log_rows), [LOG_START] * history.partitions
    )


def _write_processed(
    base: Path,
    log_rows: list[tuple[int, int, int, int, int]],
    unprocessed: set[tuple[int, int]],
    twice: list[tuple[int, int]],
) -> None:
    """A member that reads the log in offset order, processing what it polls; it restarts (a new
    epoch, from later offsets) past each consumer-lost record, and processes each record of
    ``twice`` again, alone, in an epoch of its own (a redelivery after a rebalance)."""
    rows: list[tuple[int, int, int, int, int, int]] = []
    epochs = [0]
    by_position = {(r[0], r[1]): r for r in log_rows}
    for part, offset, tag, seq, status in sorted(log_rows):
        if (part, offset) in unprocessed:
            epochs.append(len(rows))
            continue
        rows.append((part, offset, tag, seq, status, 0))
    for position in twice:
        epochs.append(len(rows))
        rows.append((*by_position[position], 0))
    np.array(rows, dtype=PROCESSED).tofile(base.with_suffix(".processed"))
    np.array(epochs, dtype=EPOCH).tofile(base.with_suffix(".epochs"))


def write_drain_meta(
    run_dir: Path, end: Sequence[int], committed: dict[str, Sequence[int]], records: int, begin: Sequence[int] = ()
) -> None:
    """The ``drain.json`` of a complete drain of partitions ``0..len(end)-1``."""
    write_meta(
        run_dir / DRAIN / rundir.DRAIN_META,
        {
            "complete": True,
            "records": records,
            "beginning_offsets": {str(p): int(begin[p]) if begin else 0 for p in range(len(end))},
            "end_offsets": {str(p): int(o) for p, o in enumerate(end)},
            "committed": {g: {str(p): int(o) for p, o in enumerate(offs)} for g, offs in committed.items()},
        },
    )


def write_large(run_dir: Path, records: int, producers: int = 4, partitions: int = 12, loss_every: int = 1000) -> None:
    """A big clean-ish run written with numpy alone (for timing the oracle): every ``loss_every``-th
    record of each producer is lost by the broker, everything else is acked, logged and processed."""
    ledgers = run_dir / LEDGERS
    ledgers.mkdir(parents=True, exist_ok=True)
    write_meta(run_dir / rundir.RUN, {"run_id": "large", "experiment": "synthetic-large"})
    write_meta(ledgers / "consumer-c0.json", {"member": "c0", "group": "g", "start_ns": 0})
    per = records // producers
    log_path = run_dir / DRAIN / rundir.DRAIN_LOG
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.unlink(missing_ok=True)
    (ledgers / "consumer-c0.processed").unlink(missing_ok=True)
    offsets = np.zeros(partitions, dtype=np.int64)
    for i in range(producers):
        pid = f"p{i}"
        write_meta(ledgers / f"producer-{pid}.json", {"producer": pid, "mode": "async", "start_ns": 0})
        seq = np.arange(per, dtype=np.uint64)
        part = (seq % partitions).astype(np.int32)
        kept = (seq % loss_every) != 0
        ev = np.zeros(2, dtype=PRODUCER_EVENT)
        ev["kind"] = [Kind.INTENT, Kind.RETURNED]
        ev["seq_end"] = per
        ev.tofile(ledgers / f"producer-{pid}.events")
        # offsets within each partition, continuing where the previous producer stopped
        off = np.empty(per, dtype=np.int64)
        for p in range(partitions):
            idx = np.flatnonzero((part == p) & kept)
            off[idx] = offsets[p] + np.arange(len(idx))
            offsets[p] += len(idx)
            off[(part == p) & ~kept] = 10**12
        acks = np.zeros(per, dtype=PRODUCER_EVENT)
        acks["kind"], acks["seq"], acks["seq_end"] = Kind.ACK, seq, seq + 1
        acks["partition"], acks["offset"] = part, off
        acks.tofile(ledgers / f"producer-{pid}.acks")
        log = np.zeros(int(kept.sum()), dtype=LOG_RECORD)
        log["partition"], log["offset"] = part[kept], off[kept]
        log["tag"], log["seq"], log["status"] = producer_tag(pid), seq[kept].astype(np.int64), Status.VALID
        with log_path.open("ab") as f:
            log.tofile(f)
        proc = np.zeros(len(log), dtype=PROCESSED)
        for name in ("partition", "offset", "tag", "seq", "status"):
            proc[name] = log[name]
        with (ledgers / "consumer-c0.processed").open("ab") as f:
            proc.tofile(f)
    write_drain_meta(run_dir, offsets.tolist(), {"g": offsets.tolist()}, int(offsets.sum()))
