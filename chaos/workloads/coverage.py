"""What offsets a drain read, partition by partition: whether they follow one another from the log
start to its end, and which runs of offsets were skipped and why (commit and abort markers of a
transactional topic, checked against Kafka's own segments afterwards; records a compacted topic's
cleaner removed)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from chaos import rundir
from chaos.rundir import DRAIN
from chaos.workloads.ledger import read_meta, write_meta


class Coverage:
    """Per partition, the offsets read so far must follow one another from the log start; the
    first break is kept. A topic without transactions or compaction has no legitimate gap; in one
    with transactions, a run of at most ``markers`` skipped offsets is taken as commit and abort
    markers and counted.

    >>> c = Coverage({0: 0}, markers=2)
    >>> for offset in (0, 1, 3, 4, 7, 8):
    ...     c.add(0, offset)
    >>> c.gaps({0: 10}), c.markers, c.skipped
    ({}, {0: 4}, {0: [[2, 3], [5, 7], [9, 10]]})
    >>> c.add(0, 12)
    >>> c.gaps({0: 13})
    {'0': [9, 12]}
    """

    def __init__(self, beginning: dict[int, int], markers: int = 0) -> None:
        self.next = dict(beginning)
        self.breaks: dict[int, list[int]] = {}
        self.allowed = markers
        self.markers: dict[int, int] = {}
        #: ``[start, end)`` of each run of offsets taken as markers, per partition.
        self.skipped: dict[int, list[list[int]]] = {}

    def _skip(self, partition: int, start: int, end: int) -> None:
        self.markers[partition] = self.markers.get(partition, 0) + end - start
        self.skipped.setdefault(partition, []).append([start, end])

    def add(self, partition: int, offset: int) -> None:
        """The drain read ``offset`` of ``partition``."""
        expected = self.next.get(partition, offset)
        if offset != expected and partition not in self.breaks:
            if expected < offset <= expected + self.allowed:
                self._skip(partition, expected, offset)
            else:
                self.breaks[partition] = [expected, offset]
        self.next[partition] = offset + 1

    def gaps(self, end: dict[int, int]) -> dict[str, list[int]]:
        """Partition -> ``[expected, found]`` at its first break (found = end when it stopped short;
        markers may close a partition too)."""
        out = {str(p): pair for p, pair in self.breaks.items()}
        for p, stop in end.items():
            short = stop - self.next.get(p, stop)
            if str(p) in out or short == 0:
                continue
            if 0 < short <= self.allowed:
                self._skip(p, self.next[p], stop)
            else:
                out[str(p)] = [self.next[p], stop]
        return out


#: In a transactional topic every run of skipped offsets is listed, then checked against the segments.
MARKERS_UNBOUNDED = 1 << 40


def verify_markers(run_dir: Path, control: Callable[[int], set[int] | None]) -> None:
    """Check the offsets a transactional topic's drain skipped against ``control(partition)`` (the
    offsets Kafka's segment dump says are control records; None: it could not say) and record the
    outcome in ``drain.json``: ``markers_verified``, and an incomplete drain naming the offsets that
    are not markers."""
    meta_path = run_dir / DRAIN / rundir.DRAIN_META
    meta = read_meta(meta_path)
    unexplained: dict[str, list[int]] = {}
    unknown: list[str] = []
    for part, runs in (meta.get("skipped") or {}).items():
        controls = control(int(part))
        if controls is None:
            unknown.append(part)
            continue
        missing = [o for start, end in runs for o in range(start, end) if o not in controls]
        if missing:
            unexplained[part] = missing[:10]
    if unexplained:
        meta["complete"] = False
        meta["incomplete"] = f"offsets skipped that Kafka's segments do not hold as markers: {unexplained}"
    meta["markers_verified"] = not unexplained and not unknown
    meta["markers_unverified_partitions"] = unknown
    write_meta(meta_path, meta)
