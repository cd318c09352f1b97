"""What the log holds at each acknowledged position: the record itself, a damaged copy of it,
another record of the run (the log was rewritten under the ack), a transaction marker, or nothing
(and then why: below the log start, beyond its end, never confirmed)."""

from __future__ import annotations

from typing import Any

import numpy as np

from chaos.oracle.keys import I64, SEQ_BITS, SEQ_MASK, cat, member, unique
from chaos.oracle.log import Log
from chaos.oracle.producers import ProducerSide

#: Why an acknowledged record is not in the log (docs/verdict.md).
BROKER_CAUSES = ("below_log_start", "overwritten", "beyond_log_end", "missing", "unconfirmed")


class AckCheck:
    """One pass over every acknowledgement at a real offset, against what the log holds there.

    * ``damaged``: acked records whose position holds a corrupted or foreign value: the record is
      there, damaged (counted once, as corrupted; such a foreign value is not a phantom).
    * ``inconsistent``: acked records whose position holds a *different* record of this run, or a
      transaction marker (``markers``: sorted positions): the log was truncated and rewritten under
      an acknowledged write (Jepsen's inconsistent offsets). ``inconsistent_at``: those positions.
    """

    def __init__(self, side: ProducerSide, log: Log, markers: I64) -> None:
        damaged: list[I64] = []
        claimed: list[I64] = []
        inconsistent: list[I64] = []
        where: list[I64] = []
        when: list[I64] = []
        for k, pos, t in side.acks():
            idx = log.at(pos)
            found = idx >= 0
            holder = log.keys[idx] if len(log) else idx  # where found; -1 elsewhere, as idx is
            holder = np.where(found, holder, -1)
            bad = found & (holder < 0)
            damaged.append(k[bad])
            claimed.append(idx[bad])
            when.append(t[bad])
            other = (found & (holder >= 0) & (holder != k)) | (~found & member(pos, markers))
            inconsistent.append(k[other])
            where.append(pos[other])
        # One damaged value is the copy of one record: where several were acknowledged at its
        # position (the log was rewritten in between), the one acknowledged last is the one
        # damaged; the earlier ones were overwritten and are broker loss.
        keys_damaged, at_damaged, t_damaged = cat(damaged), cat(claimed), cat(when)
        order = np.lexsort((t_damaged, at_damaged))
        keys_damaged, at_damaged = keys_damaged[order], at_damaged[order]
        last = np.ones(len(order), dtype=bool)
        last[:-1] = at_damaged[1:] != at_damaged[:-1]
        self.damaged = unique(keys_damaged[last], in_place=True)
        self.claimed = unique(at_damaged, in_place=True)
        keys = cat(inconsistent)
        at = cat(where)
        first = np.unique(keys, return_index=True)[1]
        self.inconsistent_keys: I64 = keys[np.sort(first, kind="stable")]
        self.inconsistent_at: I64 = at[np.sort(first, kind="stable")]


def broker_causes(
    lost: I64, at: I64, log: Log, unconfirmed: np.ndarray[Any, Any], drain: dict[str, Any], markers: I64
) -> np.ndarray[Any, Any]:
    """Why each broker-lost record is absent, from its acknowledged position ``at`` (a position
    that now holds a transaction marker, of ``markers``, was rewritten too)."""
    begin = {int(p): int(o) for p, o in drain.get("beginning_offsets", {}).items()}
    end = {int(p): int(o) for p, o in drain.get("end_offsets", {}).items()}
    cause = np.full(len(lost), "missing", dtype=object)
    part, off = at >> SEQ_BITS, at & SEQ_MASK
    known_pos = at >= 0
    starts = np.array([begin.get(int(p), 0) for p in part], dtype=np.int64)
    ends = np.array([end.get(int(p), np.iinfo(np.int64).max) for p in part], dtype=np.int64)
    cause[known_pos & (off >= ends)] = "beyond_log_end"
    held = log.at(at)
    cause[known_pos & ((held >= 0) | member(at, markers))] = "overwritten"
    cause[known_pos & (off < starts)] = "below_log_start"
    cause[unconfirmed] = "unconfirmed"
    return cause
