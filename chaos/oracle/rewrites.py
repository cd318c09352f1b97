"""Positions of the log rewritten under a consumer group: where the group processed a record that
the log no longer holds there (it was truncated and written again after the group read it: an
unclean election, a power cut).

Such a position tells two things apart. A record now there that the group never processed was
written after the group had passed: the broker moved it under the group (``overwritten_unread``),
unless the group was still behind that position after the record was acknowledged, in which case it
passed the record without processing it (consumer loss). And a row at such a position that names
another record than a row before it is a second record read there, not a record processed twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from chaos.oracle.keys import I64, SEQ_BITS, SEQ_MASK, Mask, cat, positions
from chaos.oracle.log import Log, map_tags
from chaos.workloads.envelope import Status
from chaos.workloads.ledger import PROCESSED, read_records


@dataclass(slots=True)
class Rewrites:
    """A group's rewritten positions (sorted unique), how many of its rows there read another
    record than one before them (``other_records``), and per position the latest wall-clock ms at
    which the group processed a row of its partition at a lower offset (``behind_ms``; -1: never)."""

    at: I64 = field(default_factory=lambda: np.empty(0, np.int64))
    other_records: int = 0
    behind_ms: I64 = field(default_factory=lambda: np.empty(0, np.int64))


def rewrites(
    moved_pos: list[I64],
    moved_keys: list[I64],
    view: Log,
    sources: list[tuple[Path, int]],
    tag_to_index: dict[int, int],
) -> Rewrites:
    """The group's :class:`Rewrites`, from the rows that named another record than ``view`` holds at
    their position (``moved_pos``, ``moved_keys``) and a second look at its members' processed
    ledgers (``sources``: path and the wall-clock ms their ``t_ms`` count from), taken only when
    there are such rows."""
    if not moved_pos:
        return Rewrites()
    pos, keys = cat(moved_pos), cat(moved_keys)
    order = np.lexsort((keys, pos))
    pos, keys = pos[order], keys[order]
    distinct = np.ones(len(pos), dtype=bool)
    distinct[1:] = (pos[1:] != pos[:-1]) | (keys[1:] != keys[:-1])
    at, old_records = np.unique(pos[distinct], return_counts=True)
    now = view.keys[view.at(at)]
    read_now: Mask = np.zeros(len(at), dtype=bool)
    behind: I64 = np.full(len(at), -1, dtype=np.int64)
    for path, start_ms in sources:
        for chunk in read_records(path, PROCESSED, reuse=True):
            rows = chunk[(chunk["status"] <= Status.FOREIGN) & (chunk["offset"] >= 0) & (chunk["partition"] >= 0)]
            row_pos = positions(rows["partition"], rows["offset"])
            index = map_tags(rows["tag"], tag_to_index)
            row_keys = np.where(
                (rows["status"] == Status.VALID) & (index >= 0) & (rows["seq"] >= 0),
                (index << SEQ_BITS) | rows["seq"].astype(np.int64),
                -1,
            )
            i = np.minimum(np.searchsorted(at, row_pos), len(at) - 1)
            here = (at[i] == row_pos) & (row_keys == now[i])
            read_now[i[here]] = True
            latest_behind(at, behind, row_pos, start_ms + rows["t_ms"].astype(np.int64))
    # rows at each position beyond one per distinct record: the old ones, and the current one if read
    other = int((old_records + read_now.astype(np.int64) - 1).sum())
    return Rewrites(at, other, behind)


def latest_behind(at: I64, behind: I64, row_pos: I64, row_ms: I64) -> None:
    """Raise ``behind[j]`` to the latest of ``row_ms`` at a lower offset of ``at[j]``'s partition."""
    for part in np.unique(at >> SEQ_BITS):
        mine = (row_pos >> SEQ_BITS) == part
        if not mine.any():
            continue
        offsets, ms = row_pos[mine] & SEQ_MASK, row_ms[mine]
        order = np.argsort(offsets, kind="stable")
        offsets, running = offsets[order], np.maximum.accumulate(ms[order])
        sel = np.flatnonzero((at >> SEQ_BITS) == part)
        below = np.searchsorted(offsets, at[sel] & SEQ_MASK)  # rows at offsets strictly below
        has = below > 0
        latest = np.where(has, running[np.maximum(below - 1, 0)], -1)
        behind[sel] = np.maximum(behind[sel], latest)
