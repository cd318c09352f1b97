"""Transactions: how each of a transactional producer's transactions ended, and what readers saw of
them (Jepsen's aborted reads, lost writes and torn transactions, for Kafka).

A transaction is a range of one producer's sequence numbers (``docs/ledgers.md``): **committed**
when its commit returned (``COMMITTED``), **aborted** when its abort returned (``ABORTED``) or when
it was never asked to commit (its records intended, no ``COMMITTING``: the coordinator aborts it),
**unknown** when a commit was asked for and no answer recorded (the application died, or the commit
failed and so did the abort). Against the read_committed view of the log (``drain/committed.bin``)
and the consumers' processed ledgers:

* **lost committed write**: a record of a committed transaction a read_committed reader does not
  find;
* **torn transaction**: a transaction of which a read_committed reader finds some records but not
  all (a run of abandoned records counts as one transaction);
* **aborted read**: a record of an aborted transaction that a read_committed reader returned (the
  drain's read_committed pass, or a group reading with ``isolation.level=read_committed``);
* **aborted processed**: records of aborted transactions processed by read_uncommitted groups, which
  is what that isolation level does (a figure, not an anomaly).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from chaos.oracle.consumers import Group
from chaos.oracle.examples import example
from chaos.oracle.keys import I64, SEQ_BITS, Mask, Ranges, cat, keys, member, ranges, union, unique
from chaos.oracle.log import Log
from chaos.oracle.producers import ProducerInfo, ProducerSide, valid_rows
from chaos.workloads.ledger import Kind

COMMITTED, ABORTED, UNKNOWN = 0, 1, 2
OUTCOMES = ("committed", "aborted", "unknown")
TRANSACTIONAL_MODES = frozenset({"transactional"})


@dataclass(slots=True)
class TransactionLog:
    """Every transaction that was asked to end, by outcome, and the records of transactions never
    asked to (``abandoned``). Starts and ends are record keys; rows sorted by start."""

    starts: I64
    ends: I64
    outcome: np.ndarray[Any, np.dtype[np.uint8]]
    abandoned: I64

    def of(self, outcome: int) -> tuple[I64, I64]:
        """``(starts, ends)`` of the transactions with ``outcome``."""
        sel = self.outcome == outcome
        return self.starts[sel], self.ends[sel]

    def records(self, outcome: int) -> I64:
        """Sorted keys of the records of the transactions with ``outcome`` (aborted: with the abandoned)."""
        found = ranges(*self.of(outcome))
        return union(found, self.abandoned) if outcome == ABORTED else found


def load_transactions(side: ProducerSide) -> TransactionLog | None:
    """The transactions of the run's transactional producers (None: it has none).

    A range that has ``COMMITTED`` is committed, else one that has ``ABORTED`` is aborted, else
    (``COMMITTING`` alone) unknown."""
    producers = [p for p in side.producers if p.mode in TRANSACTIONAL_MODES]
    if not producers:
        return None
    starts: list[I64] = []
    ends: list[I64] = []
    kinds: list[np.ndarray[Any, Any]] = []
    for p in producers:
        for chunk in side.chunks(p):
            rows = chunk[valid_rows(chunk)]
            rows = rows[(rows["kind"] >= Kind.COMMITTING) & (rows["kind"] <= Kind.ABORTED)]
            starts.append(keys(p.index, rows["seq"]))
            ends.append(keys(p.index, rows["seq_end"]))
            kinds.append(rows["kind"].astype(np.uint8))
    start, end = cat(starts), cat(ends)
    kind = np.concatenate(kinds) if kinds else np.empty(0, np.uint8)
    rank = np.select([kind == Kind.COMMITTED, kind == Kind.ABORTED], [0, 1], default=2).astype(np.uint8)
    # One row per transaction: its best-known ending (committed over aborted over only asked).
    order = np.lexsort((rank, start))
    start, end, rank = start[order], end[order], rank[order]
    first = np.ones(len(start), dtype=bool)
    first[1:] = start[1:] != start[:-1]
    start, end, rank = start[first], end[first], rank[first]
    in_transaction = Ranges(start, end)
    mine = member(side.sent >> SEQ_BITS, np.array(sorted(p.index for p in producers), dtype=np.int64))
    sent = side.sent[mine]
    abandoned = sent[~in_transaction.contains(sent)]
    return TransactionLog(start, end, rank, abandoned)


@dataclass(slots=True)
class TransactionFindings:
    """What readers saw of the transactions; see the module docstring."""

    counts: dict[str, int]
    lost_committed: I64
    torn: int
    aborted_read: I64
    aborted: I64
    torn_examples: list[tuple[int, int, int]] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        """The verdict's ``transactions`` field."""
        return dict(self.counts)


def _visible(starts: I64, ends: I64, view: I64) -> I64:
    """How many keys of each range ``[start, end)`` the sorted unique ``view`` holds."""
    found: I64 = np.searchsorted(view, ends) - np.searchsorted(view, starts)
    return found


def judge_transactions(
    txns: TransactionLog,
    committed_view: I64,
    read_committed: I64,
    read_uncommitted: I64,
    limit: int,
    damaged: I64 | None = None,
) -> TransactionFindings:
    """Judge ``txns`` against the sorted unique keys of the read_committed view of the log
    (``committed_view``) and of what read_committed and read_uncommitted groups processed.

    A ``damaged`` record (its position holds a value that fails its checksum) is there: counted
    once, as corrupted, it is neither a lost committed write nor a hole that tears its transaction."""
    size = txns.ends - txns.starts
    there = union(committed_view, damaged) if damaged is not None and len(damaged) else committed_view
    seen = _visible(txns.starts, txns.ends, there)
    committed = txns.outcome == COMMITTED
    # A run of abandoned records is one transaction (a producer abandons the one open at its kill).
    runs = Ranges(txns.abandoned, txns.abandoned + 1)
    all_starts, all_sizes = np.concatenate((txns.starts, runs.starts)), np.concatenate((size, runs.ends - runs.starts))
    all_seen = np.concatenate((seen, _visible(runs.starts, runs.ends, there)))
    torn_mask: Mask = (all_seen > 0) & (all_seen < all_sizes)
    committed_keys = txns.records(COMMITTED)
    lost = committed_keys[~member(committed_keys, there)]
    aborted = txns.records(ABORTED)
    readers = unique(cat([committed_view, read_committed]), in_place=True)
    aborted_read = aborted[member(aborted, readers)]
    counts = {
        **{f"{name}": int(np.count_nonzero(txns.outcome == i)) for i, name in enumerate(OUTCOMES)},
        "abandoned_records": len(txns.abandoned),
        "committed_records": int(size[committed].sum()),
        "aborted_records": len(aborted),
        "unknown_records": int(size[txns.outcome == UNKNOWN].sum()),
        "aborted_processed": int(member(aborted, read_uncommitted).sum()),
    }
    torn_idx = np.flatnonzero(torn_mask)[:limit]
    examples = [(int(all_starts[i]), int(all_sizes[i]), int(all_seen[i])) for i in torn_idx]
    return TransactionFindings(counts, lost, int(torn_mask.sum()), aborted_read, aborted, examples)


def judge_run(
    txns: TransactionLog, groups: list[Group], committed_log: Log | None, limit: int, damaged: I64 | None = None
) -> TransactionFindings:
    """The transactions against the read_committed view and the groups' processing (before the
    oracle releases the groups' keys); ``damaged``: sorted keys of records there but damaged."""
    view = unique(committed_log.keys[committed_log.known]) if committed_log is not None else np.empty(0, np.int64)
    by_level: dict[bool, list[I64]] = {True: [], False: []}
    for g in groups:
        by_level[g.read_committed].append(g.keys)
    rc, ru = (unique(cat(by_level[level])) for level in (True, False))
    return judge_transactions(txns, view, rc, ru, limit, damaged)


def transaction_examples(
    found: TransactionFindings, producers: list[ProducerInfo], limit: int
) -> dict[str, list[dict[str, Any]]]:
    """The verdict's examples of the three transactional anomalies."""
    return {
        "aborted_read": [example(producers, int(k)) for k in found.aborted_read[:limit]],
        "lost_committed_write": [example(producers, int(k)) for k in found.lost_committed[:limit]],
        "torn_transaction": [
            {**example(producers, start), "records": size, "visible": seen} for start, size, seen in found.torn_examples
        ],
    }
