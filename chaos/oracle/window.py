"""A soak's window judged on its own (docs/soak.md, "Judged in windows").

A window is, for each producer, a range of its sequence numbers ``[lo, hi)``: the records it
intended while the window lasted. Its ledgers' rows are read from where the window began (the rows
of a record are never written before its intent), clipped to the range; the log is the tail
reader's rows of those records. The fates are :func:`chaos.oracle.fates.judge_fates`, the whole
run's own, so the windows of a run add up to what one reconcile of the whole run says of the same
records, as long as each window was judged once its records' fate was settled.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from chaos.oracle.acked import AckCheck
from chaos.oracle.examples import example
from chaos.oracle.fates import Fates, judge_fates
from chaos.oracle.keys import SEQ_BITS
from chaos.oracle.log import Log, map_tags
from chaos.oracle.producers import ProducerInfo, ProducerSide, load_producers, valid_rows
from chaos.rundir import DRAIN, LEDGERS, TAIL
from chaos.workloads.envelope import Status
from chaos.workloads.ledger import LOG_RECORD, PRODUCER_EVENT, AppendFile, read_records

#: Where a window's log is written while it is judged (under ``drain/``), and removed after.
JUDGING = f"{TAIL}/judging.bin"
#: Rows read at a time: a window's sets are a few million keys, and a chunk's temporaries (the rows,
#: their valid copy, each kind's, the clipped copy) would otherwise be as large as its sets.
CHUNK = 1 << 18
#: Records a window keeps of each loss stage, of the unknown and of the damaged, as examples.
EXAMPLES = 5


@dataclass(frozen=True, slots=True)
class Bound:
    """One producer's part of a window: its sequence numbers ``[lo, hi)`` (``hi`` None: no end, the
    last window), and the rows of its ``.events`` and ``.acks`` ledgers the window's rows start at
    and those the next window's start at (None: the last window). Rows about the window's records
    may come after the next window's start; the rows *between* the two are the window's to check,
    so the windows check every row of a ledger once."""

    lo: int
    hi: int | None
    events_row: int = 0
    acks_row: int = 0
    events_stop: int | None = None
    acks_stop: int | None = None

    def clip(self, rows: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """The rows about this window's records, each range cut to the window's."""
        hi = np.uint64(self.hi if self.hi is not None else 1 << 63)
        lo = np.uint64(self.lo)
        seq, end = rows["seq"], rows["seq_end"]
        start, stop = np.maximum(seq, lo), np.minimum(end, hi)
        keep = (stop > start) | ((end == seq) & (seq >= lo) & (seq < hi))
        out: np.ndarray[Any, Any] = rows[keep].copy()
        out["seq"], out["seq_end"] = np.maximum(out["seq"], lo), np.maximum(np.minimum(out["seq_end"], hi), out["seq"])
        return out


@dataclass(frozen=True, slots=True)
class WindowFates:
    """What became of a window's records (the names of the verdict's counts, docs/verdict.md)."""

    sent: int
    in_log: int
    duplicates: int
    damaged: int
    failed: int
    unknown: int
    lost_producer: int
    lost_broker: int
    acked: int = 0
    unconfirmed: int = 0
    send_errors: int = 0
    #: Rows of the window's ledgers no producer writes (a damaged ledger: the window is unsure).
    invalid_rows: int = 0
    #: A few records of each fate that is not ``in_log`` (``broker`` with where it was acknowledged),
    #: the verdict's ``examples`` shape.
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: One record the window's log holds, per partition (``"partition": "producer;seq"``): a
    #: control for Kafka's segment dump, which must find it.
    controls: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The fields by name."""
        return asdict(self)


class _WindowSide(ProducerSide):
    """A :class:`ProducerSide` of the window's rows only."""

    def __init__(self, run_dir: Path, producers: list[ProducerInfo], bounds: Mapping[str, Bound]) -> None:
        self.bounds = bounds
        super().__init__(run_dir, producers)

    def chunks(self, p: ProducerInfo) -> Iterator[np.ndarray[Any, Any]]:
        """The valid rows about the window's records, clipped to its range; the invalid rows of the
        window's own span are counted (:attr:`invalid_rows`), before any clipping could hide one."""
        bound = self.bounds.get(p.id)
        if bound is None:  # a producer that had not begun: none of its records are the window's
            return
        base = self.run_dir / LEDGERS / f"producer-{p.id}"
        spans = ((".events", bound.events_row, bound.events_stop), (".acks", bound.acks_row, bound.acks_stop))
        for suffix, start, stop in spans:
            at = start
            for rows in read_records(base.with_suffix(suffix), PRODUCER_EVENT, CHUNK, start):
                ok = valid_rows(rows)
                mine = len(rows) if stop is None else max(0, min(len(rows), stop - at))
                self.invalid_rows += int(mine - ok[:mine].sum())
                at += len(rows)
                yield bound.clip(rows[ok])


def _window_log(
    run_dir: Path, segments: Iterable[Path], producers: list[ProducerInfo], bounds: Mapping[str, Bound]
) -> None:
    """Write the rows of ``segments`` that are the window's records (and every damaged or foreign
    value, which may sit where one of them was acknowledged) to ``drain/`` :data:`JUDGING`."""
    tags = {p.tag: p.index for p in producers}
    lows = np.full(len(producers) + 1, -1, dtype=np.int64)  # producer index -1 (no producer) stays out
    highs = np.full(len(producers) + 1, -1, dtype=np.int64)
    for p in producers:
        if (b := bounds.get(p.id)) is not None:
            lows[p.index] = b.lo
            highs[p.index] = b.hi if b.hi is not None else np.iinfo(np.int64).max
    out = AppendFile(run_dir / DRAIN / JUDGING)
    try:
        for segment in segments:
            for rows in read_records(segment, LOG_RECORD, CHUNK):
                index = map_tags(rows["tag"], tags)
                seq = rows["seq"]
                mine = (index >= 0) & (seq >= lows[index]) & (seq < highs[index])
                keep = np.where(rows["status"] == Status.VALID, mine, True)
                out.write(rows[keep].tobytes())
    finally:
        out.close()


def judge_window(run_dir: Path, bounds: Mapping[str, Bound], segments: Iterable[Path]) -> WindowFates:
    """The fates of the window ``bounds`` describes, against the tail reader's ``segments`` (every
    segment that can hold a row of its records). Reads only the window's part of the ledgers."""
    producers = load_producers(run_dir)
    (run_dir / DRAIN / JUDGING).unlink(missing_ok=True)
    _window_log(run_dir, segments, producers, bounds)
    try:
        side = _WindowSide(run_dir, producers, bounds)
        log = Log(run_dir, {p.tag: p.index for p in producers}, JUDGING)
    finally:
        (run_dir / DRAIN / JUDGING).unlink(missing_ok=True)
    sent, unconfirmed, send_errors = len(side.sent), len(side.unconfirmed), len(side.seen)
    invalid = side.invalid_rows  # read before the examples' pass over the acks adds to it
    fates = judge_fates(side, log, AckCheck(side, log, np.empty(0, np.int64)))
    return WindowFates(
        sent=sent,
        in_log=fates.in_log,
        duplicates=fates.duplicates,
        damaged=len(fates.damaged),
        failed=len(fates.failed),
        unknown=len(fates.unknown),
        lost_producer=len(fates.producer_lost),
        lost_broker=len(fates.broker),
        acked=fates.acked,
        unconfirmed=unconfirmed,
        send_errors=send_errors,
        invalid_rows=invalid,
        examples=_examples(side, fates),
        controls=_controls(log, producers),
    )


def _examples(side: ProducerSide, fates: Fates) -> dict[str, list[dict[str, Any]]]:
    """The first :data:`EXAMPLES` records of each fate that is not ``in_log``."""
    producers = side.producers
    broker = fates.broker[:EXAMPLES]
    at = side.ack_positions(broker) if len(broker) else broker
    out = {"broker": [example(producers, int(k), int(pos)) for k, pos in zip(broker, at, strict=True)]}
    for name, keys in (("producer", fates.producer_lost), ("unknown", fates.unknown), ("damaged", fates.damaged)):
        out[name] = [example(producers, int(k)) for k in keys[:EXAMPLES]]
    return {name: found for name, found in out.items() if found}


def _controls(log: Log, producers: list[ProducerInfo]) -> dict[str, str]:
    """The first record of a producer the window's log holds in each partition."""
    known = np.flatnonzero(log.known)
    parts = log.pos[known] >> SEQ_BITS
    _, first = np.unique(parts, return_index=True)
    out: dict[str, str] = {}
    for i in known[first]:
        entry = example(producers, int(log.keys[i]))
        out[str(log.partition(int(i)))] = f"{entry['producer']};{entry['seq']}"
    return out
