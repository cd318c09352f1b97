"""The drained log (``drain/log.bin``) in position order, and what can be read from its order alone:
duplicates and reordering."""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from chaos import rundir
from chaos.oracle.keys import I64, SEQ_BITS, SEQ_MASK, Mask, positions, ranges
from chaos.rundir import DRAIN
from chaos.workloads.envelope import Status
from chaos.workloads.ledger import LOG_RECORD, read_records


class Log:
    """Columns of the drained log (``drain/log.bin``, or the read_committed view ``committed.bin``),
    sorted by position (``partition << 40 | offset``).

    ``keys`` is -1 where the record is not a valid record of a producer of this run; ``corrupted``
    and ``foreign`` say what such a record was. ``repeated_positions`` counts positions read twice
    (a drain never does that: the file is not one drain's output).
    """

    def __init__(self, run_dir: Path, tag_to_index: dict[int, int], name: str = rundir.DRAIN_LOG) -> None:
        path = run_dir / DRAIN / name
        n = path.stat().st_size // LOG_RECORD.itemsize if path.exists() else 0
        self.pos: I64 = np.empty(n, dtype=np.int64)
        self.keys: I64 = np.full(n, -1, dtype=np.int64)
        status = np.empty(n, dtype=np.uint8)
        unknown_tag = np.zeros(n, dtype=bool)
        # Each row goes straight to its partition's slice (the drain writes a partition's records in
        # offset order, partitions interleaved): the columns come out in position order without an
        # argsort and a gather of each column, which at 100M records were 16 bytes a record more.
        cursor = _partition_starts(path)
        for rec in read_records(path, LOG_RECORD, reuse=True):
            dest = _placed(rec["partition"], cursor)
            index = map_tags(rec["tag"], tag_to_index)
            known = (rec["status"] == Status.VALID) & (index >= 0) & (rec["seq"] >= 0)
            self.keys[dest[known]] = (index[known] << SEQ_BITS) | rec["seq"][known].astype(np.int64)
            self.pos[dest] = positions(rec["partition"], rec["offset"])
            status[dest] = rec["status"]
            unknown_tag[dest] = (rec["status"] == Status.VALID) & ~known
        if n > 1 and not bool(np.all(self.pos[1:] >= self.pos[:-1])):
            order = np.argsort(self.pos, kind="stable")
            # one column at a time, so at most one extra copy is alive
            self.keys = self.keys[order]
            self.pos = self.pos[order]
            status, unknown_tag = status[order], unknown_tag[order]
            del order
        self.corrupted: Mask = status == Status.CORRUPTED
        self.foreign: Mask = (status == Status.FOREIGN) | unknown_tag
        self.known: Mask = self.keys >= 0
        self.repeated_positions = int(np.count_nonzero(self.pos[1:] == self.pos[:-1])) if n > 1 else 0

    def __len__(self) -> int:
        return len(self.pos)

    def partition(self, i: int) -> int:
        """The partition of record ``i``."""
        return int(self.pos[i] >> SEQ_BITS)

    def offset(self, i: int) -> int:
        """The offset of record ``i``."""
        return int(self.pos[i] & SEQ_MASK)

    def partitions(self) -> dict[int, tuple[int, int]]:
        """Each partition's slice ``[lo, hi)`` of the columns."""
        out: dict[int, tuple[int, int]] = {}
        lo = 0
        while lo < len(self.pos):  # a binary search per partition, no temporaries
            part = int(self.pos[lo] >> SEQ_BITS)
            hi = int(np.searchsorted(self.pos, (part + 1) << SEQ_BITS))
            out[part] = (lo, hi)
            lo = hi
        return out

    def at(self, where: I64) -> I64:
        """Index of the record at each position of ``where``, -1 where the log has none."""
        out: I64 = np.full(len(where), -1, dtype=np.int64)
        if len(self.pos) == 0:
            return out
        idx = np.minimum(np.searchsorted(self.pos, where), len(self.pos) - 1)
        hit = self.pos[idx] == where
        out[hit] = idx[hit]
        return out


def _small(part: np.ndarray[Any, Any]) -> np.ndarray[Any, Any] | None:
    """``part`` as uint16 where every partition fits (a stable argsort of 16-bit values is a radix
    sort, ~7x quicker than one of int32), else None."""
    if len(part) and int(part.min()) >= 0 and int(part.max()) < 1 << 16:
        return part.astype(np.uint16)
    return None


def _placed(part: np.ndarray[Any, Any], cursor: dict[int, int]) -> I64:
    """Where each row of a chunk of the log goes: its partition's next free row (``cursor``, which
    moves on), rows of one partition in file order. The rows themselves are not reordered: only
    their destinations are computed, by a stable argsort of the partitions (gathering the
    29-byte rows into partition order was four fifths of the placement's time)."""
    if len(part) == 0:
        return np.empty(0, np.int64)
    small = _small(part)
    order = np.argsort(part if small is None else small, kind="stable")
    ordered = part[order]
    cuts = np.flatnonzero(ordered[1:] != ordered[:-1]) + 1
    los = [0, *cuts.tolist()]
    his = [*cuts.tolist(), len(part)]
    at = np.empty(len(part), np.int64)  # each row's destination, in partition order
    for lo, hi in zip(los, his, strict=True):
        p = int(ordered[lo])
        at[lo:hi] = np.arange(cursor[p], cursor[p] + hi - lo)
        cursor[p] += hi - lo
    dest: I64 = np.empty(len(part), np.int64)
    dest[order] = at
    return dest


def _partition_starts(path: Path) -> dict[int, int]:
    """Where each partition's rows of the log file ``path`` begin, partitions in order."""
    counts: dict[int, int] = {}
    for rec in read_records(path, LOG_RECORD, reuse=True):
        small = _small(rec["partition"])
        if small is not None:
            bins = np.bincount(small)
            parts = np.flatnonzero(bins)
            count = bins[parts]
        else:
            parts, count = np.unique(rec["partition"], return_counts=True)
        for part, c in zip(parts.tolist(), count.tolist(), strict=True):
            counts[part] = counts.get(part, 0) + c
    starts: dict[int, int] = {}
    at = 0
    for part in sorted(counts):
        starts[part] = at
        at += counts[part]
    return starts


def marker_positions(drain: dict[str, Any]) -> I64:
    """Sorted positions of the offsets a transactional topic's drain skipped as commit and abort
    markers (``drain.json``'s ``skipped``: ``[start, end)`` runs per partition)."""
    runs = [(int(p), int(a), int(b)) for p, spans in (drain.get("skipped") or {}).items() for a, b in spans]
    if not runs:
        return np.empty(0, np.int64)
    parts = np.array([p for p, _, _ in runs], dtype=np.int64)
    out: I64 = np.sort(
        ranges(
            positions(parts, np.array([a for _, a, _ in runs], dtype=np.int64)),
            positions(parts, np.array([b for _, _, b in runs], dtype=np.int64)),
        ),
        kind="stable",
    )
    return out


def map_tags(tags: np.ndarray[Any, Any], tag_to_index: dict[int, int]) -> I64:
    """The producer index of each ledger ``tag`` (-1 for a tag of no producer of this run)."""
    out: I64 = np.full(len(tags), -1, dtype=np.int64)
    for tag, idx in tag_to_index.items():
        out[tags == tag] = idx
    return out


def duplicate_indexes(log: Log, limit: int) -> list[int]:
    """Log indexes of up to ``limit`` second (and later) copies of records found more than once."""
    known_idx = np.flatnonzero(log.known)
    _, first = np.unique(log.keys[known_idx], return_index=True)
    repeat = np.ones(len(known_idx), dtype=bool)
    repeat[first] = False
    return [int(i) for i in known_idx[repeat][:limit]]


@dataclass(frozen=True, slots=True)
class Reordering:
    """Records out of their producer's order, and the log indexes of a few."""

    count: int
    examples: list[int]


def reordered(log: Log, limit: int) -> Reordering:
    """Per producer and partition, the fewest records that, moved, would leave the rest in sequence
    order: n minus the longest increasing subsequence of sequence numbers in offset order (first
    copies only: a duplicate counts as a duplicate, not again as reordered). One record written
    early is one reordered record, however many follow it."""
    total = 0
    examples: list[int] = []
    for lo, hi in log.partitions().values():
        sel = lo + np.flatnonzero(log.known[lo:hi])
        if len(sel) < 2:
            continue
        _, first = np.unique(log.keys[sel], return_index=True)
        sel = sel[np.sort(first, kind="stable")]
        keys = log.keys[sel]
        order = np.argsort(keys >> SEQ_BITS, kind="stable")  # by producer, offset order kept inside
        sel, keys = sel[order], keys[order]
        producer = keys >> SEQ_BITS
        cuts = np.flatnonzero(producer[1:] != producer[:-1]) + 1
        for idx, seqs in zip(np.split(sel, cuts), np.split(keys & SEQ_MASK, cuts), strict=True):
            out = out_of_order(seqs)
            total += len(out)
            examples += [int(i) for i in idx[out][: limit - len(examples)]]
    return Reordering(total, examples[:limit])


def out_of_order(seqs: I64) -> I64:
    """Indexes (into ``seqs``, distinct values) of the elements outside one longest increasing
    subsequence. Elements above everything before them and below everything after them are in
    every such subsequence, so only the others go through the O(k log k) search."""
    n = len(seqs)
    if n < 2 or bool(np.all(seqs[1:] > seqs[:-1])):
        return np.empty(0, np.int64)
    before = np.empty(n, dtype=np.int64)
    before[0] = -1
    before[1:] = np.maximum.accumulate(seqs)[:-1]
    after = np.empty(n, dtype=np.int64)
    after[-1] = np.iinfo(np.int64).max
    after[:-1] = np.minimum.accumulate(seqs[::-1])[::-1][1:]
    pivot = (seqs > before) & (seqs < after)
    rest = np.flatnonzero(~pivot)
    values = seqs[rest].tolist()
    tails: list[int] = []  # smallest tail value of an increasing run of each length
    tail_at: list[int] = []  # its position in ``values``
    back = [-1] * len(values)
    for i, v in enumerate(values):
        j = bisect.bisect_left(tails, v)
        back[i] = tail_at[j - 1] if j else -1
        if j == len(tails):
            tails.append(v)
            tail_at.append(i)
        else:
            tails[j] = v
            tail_at[j] = i
    keep = np.zeros(len(values), dtype=bool)
    i = tail_at[-1] if tail_at else -1
    while i >= 0:
        keep[i] = True
        i = back[i]
    out: I64 = rest[~keep]
    return out
