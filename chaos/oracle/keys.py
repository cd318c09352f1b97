"""Record keys and the sorted-array set operations the oracle is built from.

A record is identified by ``(producer, seq)``, packed into one int64 key: ``producer index << 40 |
seq``. A log position is packed the same way: ``partition << 40 | offset``. Sets are sorted numpy
arrays of unique keys; membership is a binary search, so memory stays at eight bytes a record.
"""

from __future__ import annotations

from typing import Any

import numpy as np

SEQ_BITS = 40
SEQ_MASK = (1 << SEQ_BITS) - 1

I64 = np.ndarray[Any, np.dtype[np.int64]]
Mask = np.ndarray[Any, np.dtype[np.bool_]]


def keys(index: int, seqs: np.ndarray[Any, Any]) -> I64:
    """Keys of producer ``index``'s records ``seqs``."""
    return (np.int64(index) << SEQ_BITS) | seqs.astype(np.int64)


def positions(partitions: np.ndarray[Any, Any], offsets: np.ndarray[Any, Any]) -> I64:
    """Packed log positions (offsets below 2^40, partitions below 2^23)."""
    out: I64 = (partitions.astype(np.int64) << SEQ_BITS) | offsets.astype(np.int64)
    return out


def ranges(starts: np.ndarray[Any, Any], ends: np.ndarray[Any, Any]) -> I64:
    """All integers of the half-open ranges [start, end), vectorised."""
    starts = starts.astype(np.int64)
    lengths = np.maximum(ends.astype(np.int64) - starts, 0)
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, np.int64)
    shifts = np.repeat(starts - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
    out: I64 = shifts + np.arange(total, dtype=np.int64)
    return out


def cat(parts: list[I64]) -> I64:
    """Concatenation of ``parts`` (empty: an empty array)."""
    return np.concatenate(parts) if parts else np.empty(0, np.int64)


def unique(a: I64, in_place: bool = False) -> I64:
    """Sorted unique values. Sorting beats numpy 2's hash-based ``np.unique`` by ~10x on int64 keys,
    and a stable sort (timsort, which finds the sorted runs a ledger's keys come in) beats quicksort
    by ~100x on keys made of a few sorted runs (0.004 s against 0.6 s on 10M here), at a 20% cost
    on random ones.

    ``in_place`` sorts ``a`` itself instead of a copy.
    """
    if len(a) == 0:
        return a
    if in_place:
        a.sort(kind="stable")
    else:
        a = np.sort(a, kind="stable")
    keep = np.empty(len(a), dtype=bool)
    keep[0] = True
    np.not_equal(a[1:], a[:-1], out=keep[1:])
    out: I64 = a[keep]
    return out


def member(a: I64, b: I64, chunk: int = 1 << 21) -> Mask:
    """Mask of elements of ``a`` present in sorted unique ``b`` (in chunks, to bound temporaries)."""
    mask = np.zeros(len(a), dtype=bool)
    if len(b) == 0:
        return mask
    for lo in range(0, len(a), chunk):
        part = a[lo : lo + chunk]
        idx = np.searchsorted(b, part)
        idx[idx == len(b)] = 0
        mask[lo : lo + chunk] = b[idx] == part
    return mask


def union(a: I64, b: I64) -> I64:
    """Sorted unique union of two sorted unique arrays (``a`` returned as is when ``b`` adds nothing)."""
    extra = b[~member(b, a)]
    if len(extra) == 0:
        return a
    out: I64 = np.sort(np.concatenate((a, extra)), kind="stable")
    return out


class Ranges:
    """Sorted, merged half-open ranges of keys: membership without materialising every key."""

    def __init__(self, starts: I64, ends: I64) -> None:
        keep = ends > starts
        starts, ends = starts[keep], ends[keep]
        order = np.argsort(starts, kind="stable")
        starts, ends = starts[order], ends[order]
        if len(starts):
            # Merge overlapping or touching ranges: a new run begins where a start passes every end before it.
            reach = np.maximum.accumulate(ends)
            new = np.empty(len(starts), dtype=bool)
            new[0] = True
            new[1:] = starts[1:] > reach[:-1]
            run = np.cumsum(new) - 1
            self.starts: I64 = starts[new]
            self.ends: I64 = np.zeros(len(self.starts), dtype=np.int64)
            np.maximum.at(self.ends, run, ends)
        else:
            self.starts = np.empty(0, np.int64)
            self.ends = np.empty(0, np.int64)

    def contains(self, a: I64) -> Mask:
        """Mask of elements of ``a`` inside some range."""
        idx = np.searchsorted(self.starts, a, side="right") - 1
        inside = idx >= 0
        inside[inside] = a[inside] < self.ends[idx[inside]]
        return inside

    def materialise(self) -> I64:
        """Every key of the ranges, sorted and unique (the ranges are merged)."""
        return ranges(self.starts, self.ends)
