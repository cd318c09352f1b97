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
#: At most this many ranges are filled one by one (:meth:`Ranges.materialise`, :func:`runs`).
FEW_RANGES = 4096


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


def unique(a: I64, in_place: bool = False, chunk: int = 1 << 21) -> I64:
    """Sorted unique values. Sorting beats numpy 2's hash-based ``np.unique`` by ~10x on int64 keys,
    and a stable sort (timsort, which finds the sorted runs a ledger's keys come in) beats quicksort
    by ~100x on keys made of a few sorted runs (0.004 s against 0.6 s on 10M here), at a 20% cost
    on random ones.

    ``in_place`` sorts ``a`` itself instead of a copy and packs the unique values at its front: the
    result is then a view of ``a`` (whose contents are no longer meaningful), so no second array of
    ``a``'s size is ever alive (at 100M keys, 800 MB less at the oracle's peak). Packing goes a chunk
    at a time: each chunk's kept values are copied out before being written, at or below where they
    were, so no value is overwritten before it is read.
    """
    if len(a) == 0:
        return a
    if not in_place:
        a = np.sort(a, kind="stable")
        keep = np.empty(len(a), dtype=bool)
        keep[0] = True
        np.not_equal(a[1:], a[:-1], out=keep[1:])
        out: I64 = a[keep]
        return out
    a.sort(kind="stable")
    written = 0
    prev: int | None = None  # the last value of the chunk before, as it was before any write
    for lo in range(0, len(a), chunk):
        part = a[lo : lo + chunk]
        keep = np.empty(len(part), dtype=bool)
        keep[0] = prev is None or int(part[0]) != prev
        np.not_equal(part[1:], part[:-1], out=keep[1:])
        prev = int(part[-1])
        kept = part[keep]  # a copy: the write below may overlap ``part``
        a[written : written + len(kept)] = kept
        written += len(kept)
    packed: I64 = a[:written]
    # Many duplicates: a copy, so the rest of ``a``'s buffer can be freed.
    return packed.copy() if written < len(a) // 2 else packed


#: ``member`` looks a key up in bitmaps where they take at most this many bits a key (a key of
#: the sorted array takes 64), and there are this many needles.
DENSE = 8
BITMAP_FROM = 1 << 16
#: More groups than this keep the binary search (a partition's offsets are dense, but thousands of
#: partitions' bitmaps cost their rounding and their build).
BITMAP_GROUPS = 1024


class _Bitmaps:
    """The keys of a sorted unique array as a bit per value. A group (one value above
    :data:`SEQ_BITS`: a producer, a partition) is a slot of ``width`` bits, from the lowest first
    value of any group; slots follow one another from the lowest group's, so a key's bit is
    arithmetic on the key alone: no search for its group and no gathers from a table of groups,
    which made a lookup among four producers' keys twice as slow as among one's. A dense group
    takes a bit a key, not eight bytes. Built a window of values at a time, so its only temporary
    is a window's bytes."""

    WINDOW = 1 << 23

    def __init__(self, groups: list[tuple[int, I64]], first: int, width: int) -> None:
        low = groups[0][0]
        #: The key of bit 0 (slot 0's ``first``), how many slots, and each one's bits (a multiple of 8).
        self.base = (low << SEQ_BITS) | first
        self.slots = groups[-1][0] - low + 1
        self.width = width
        self.bits = np.zeros(self.slots * width // 8, dtype=np.uint8)
        for high, g in groups:
            at = (high - low) * width  # the slot's first bit: a multiple of 8
            key0 = high << SEQ_BITS
            # Windows from the byte that holds g's first value; each a whole number of bytes.
            start = first + ((int(g[0]) & SEQ_MASK) - first) // 8 * 8
            for w in range(start, (int(g[-1]) & SEQ_MASK) + 1, self.WINDOW):
                i, j = np.searchsorted(g, [key0 + w, key0 + w + self.WINDOW])
                hit = np.zeros(min(self.WINDOW, first + width - w), dtype=bool)
                hit[g[i:j] - (key0 + w)] = True
                packed = np.packbits(hit, bitorder="little")
                lo = (at + w - first) // 8
                self.bits[lo : lo + len(packed)] = packed

    def contains(self, a: I64) -> Mask:
        """Mask of the elements of ``a`` that are keys (any value >= -1: another group's, -1).

        A value below the base borrows from its group: its offset in the slot comes out at least
        2^SEQ_BITS - first, past the slot's width (:func:`_bitmaps` makes sure of it)."""
        bit = a - self.base
        if self.slots == 1:
            inside = bit.view(np.uint64) < self.width
        else:
            slot = bit >> SEQ_BITS
            bit &= SEQ_MASK
            inside = bit < self.width
            inside &= slot.view(np.uint64) < self.slots
            slot *= self.width
            bit += slot
        bit *= inside  # a value outside reads bit 0, and is masked out below
        byte = self.bits[bit >> 3]
        bit &= 7
        byte >>= bit.astype(np.uint8)
        byte &= 1
        out: Mask = byte.view(bool)
        out &= inside
        return out


def _groups(b: I64) -> list[tuple[int, I64]]:
    """``b``'s groups (the value above :data:`SEQ_BITS`: a producer, a partition), each its slice,
    found by a search per group (no temporary of ``b``'s size), at most :data:`BITMAP_GROUPS` + 1."""
    out: list[tuple[int, I64]] = []
    at = 0
    while at < len(b) and len(out) <= BITMAP_GROUPS:
        high = int(b[at]) >> SEQ_BITS
        end = int(np.searchsorted(b, (high + 1) << SEQ_BITS))
        out.append((high, b[at:end]))
        at = end
    return out


def _bitmaps(b: I64) -> _Bitmaps | None:
    """``b`` (sorted unique, every key >= 0) as bitmaps, or None where they would take more than
    :data:`DENSE` bits a key (sparse groups, or groups far apart) or there are many groups (a binary
    search is kept)."""
    if len(b) == 0 or int(b[0]) < 0:
        return None
    groups = _groups(b)
    if len(groups) > BITMAP_GROUPS:
        return None
    first = min((int(g[0]) & SEQ_MASK) for _, g in groups)
    width = (max((int(g[-1]) & SEQ_MASK) for _, g in groups) - first + 8) // 8 * 8
    slots = groups[-1][0] - groups[0][0] + 1
    # A slot wider than 2^SEQ_BITS - first would take in a value below the base (see ``contains``).
    if slots * width > DENSE * len(b) or width > (1 << SEQ_BITS) - first:
        return None
    return _Bitmaps(groups, first, width)


class Members:
    """Sorted unique ``keys`` made ready for many lookups (:meth:`of`): its bitmaps are built once,
    at the first lookup of many needles, not at every :func:`member` call (at 100M keys a build
    is a third of a second, and a group's consumer loss looks up every partition's records)."""

    def __init__(self, keys: I64) -> None:
        self.keys = keys
        self._bitmaps: _Bitmaps | None = None
        self._built = False

    def of(self, a: I64, chunk: int = 1 << 18) -> Mask:
        """Mask of elements of ``a`` present in the keys, in chunks small enough that a lookup's
        temporaries stay in the cache (2 MB each: with 16 MB ones, a lookup among four producers'
        keys took three times as long).

        A binary search per element; or, for many elements and keys whose groups are dense (a
        producer's sequence numbers, a partition's offsets), a bit per value: at 100M keys the
        binary searches' random reads over 800 MB were a quarter of the oracle's time."""
        b = self.keys
        mask = np.zeros(len(a), dtype=bool)
        if len(b) == 0:
            return mask
        if not self._built and len(a) >= BITMAP_FROM and len(b) >= BITMAP_FROM:
            self._bitmaps, self._built = _bitmaps(b), True
        bitmaps = self._bitmaps
        for lo in range(0, len(a), chunk):
            part = a[lo : lo + chunk]
            if bitmaps is not None:
                mask[lo : lo + chunk] = bitmaps.contains(part)
                continue
            idx = np.searchsorted(b, part)
            idx[idx == len(b)] = 0
            mask[lo : lo + chunk] = b[idx] == part
        return mask


def member(a: I64, b: I64, chunk: int = 1 << 18) -> Mask:
    """Mask of elements of ``a`` present in sorted unique ``b`` (:meth:`Members.of`; for lookups
    in the same ``b`` again and again, make a :class:`Members` of it once)."""
    return Members(b).of(a, chunk)


def union(a: I64, b: I64) -> I64:
    """Sorted unique union of two sorted unique arrays (``a`` returned as is when ``b`` adds nothing)."""
    extra = b[~member(b, a)]
    if len(extra) == 0:
        return a
    out: I64 = np.concatenate((a, extra))
    out.sort(kind="stable")  # in place: np.sort would copy the concatenation once more (8 bytes a key)
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

    def materialise(self, chunk: int = 1 << 21) -> I64:
        """Every key of the ranges, sorted and unique (the ranges are merged). A few ranges (a
        producer's intents) are filled in place a chunk at a time: :func:`ranges`' temporaries would
        be three times the result's size."""
        if len(self.starts) > FEW_RANGES:
            return ranges(self.starts, self.ends)
        out: I64 = np.empty(int((self.ends - self.starts).sum()), np.int64)
        at = 0
        for start, end in zip(self.starts.tolist(), self.ends.tolist(), strict=True):
            for lo in range(start, end, chunk):
                n = min(chunk, end - lo)
                out[at : at + n] = np.arange(lo, lo + n, dtype=np.int64)
                at += n
        return out


def runs(a: I64, chunk: int = 1 << 21) -> Ranges | None:
    """Sorted unique ``a`` as the ranges of its consecutive values, or None where it has more than
    :data:`FEW_RANGES` of them (it would not be much smaller). Found a chunk at a time."""
    cuts: list[I64] = []
    found = 0
    for lo in range(0, max(len(a) - 1, 0), chunk):
        hi = min(lo + chunk, len(a) - 1)
        cut = lo + 1 + np.flatnonzero(a[lo + 1 : hi + 1] - a[lo:hi] != 1)
        found += len(cut)
        if found >= FEW_RANGES:
            return None
        cuts.append(cut)
    first = cat([np.zeros(1 if len(a) else 0, np.int64), *cuts])
    last = cat([*cuts, np.array([len(a)] if len(a) else [], np.int64)]) - 1
    return Ranges(a[first], a[last] + 1)
