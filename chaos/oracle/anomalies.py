"""The anomalies: one function each, from the evidence of one run to its cases.

Each function returns :class:`Cases`: how many there are and a few of them as examples, both from
the same records (a count is never built apart from its cases, as in Jepsen's checkers). The
registry :data:`ANOMALIES` is what the verdict's ``anomalies`` and ``examples`` are made of and what
the reporters iterate, so a new anomaly is one function here, one entry in the registry, and its test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from chaos.oracle.acked import AckCheck
from chaos.oracle.consumers import Group
from chaos.oracle.epochs import Seen, epoch_regressions, hw_regressions
from chaos.oracle.examples import example, log_example, position_example
from chaos.oracle.keys import I64, SEQ_BITS, SEQ_MASK, Mask
from chaos.oracle.log import Log, Reordering, duplicate_indexes
from chaos.oracle.producers import ProducerInfo
from chaos.oracle.transactions import TransactionFindings
from chaos.oracle.transform import Outputs

#: At most this many examples of each anomaly.
EXAMPLES = 5

Example = dict[str, Any]  # a record as reports show it: producer, seq, partition, offset, and what fits the case


@dataclass(frozen=True, slots=True)
class Cases:
    """One anomaly's cases in a run: their number and a few of them."""

    count: int
    examples: list[Example]


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the anomaly functions look at, computed once by the oracle."""

    log: Log
    producers: list[ProducerInfo]
    groups: list[Group]
    checked: AckCheck
    #: log records that are phantoms (of no producer's intent, and no acknowledged record's damaged copy)
    phantom: Mask
    order: Reordering
    #: copies in the log beyond the first of each record
    duplicate_copies: int
    transactions: TransactionFindings | None
    outputs: Outputs | None
    #: what each broker said of its leader epochs and high watermarks while faults acted (none: an older run)
    progress: list[Seen]


@dataclass(frozen=True, slots=True)
class Anomaly:
    """A named kind of wrong history, what it means, and how to find its cases."""

    name: str
    meaning: str
    find: Callable[[Evidence], Cases]


def _indexes(ev: Evidence, indexes: I64) -> Cases:
    return Cases(len(indexes), [log_example(ev.log, ev.producers, int(i)) for i in indexes[:EXAMPLES]])


def duplicates_in_log(ev: Evidence) -> Cases:
    """Copies of a record in the log beyond its first."""
    shown = duplicate_indexes(ev.log, EXAMPLES) if ev.duplicate_copies else []
    return Cases(ev.duplicate_copies, [log_example(ev.log, ev.producers, i) for i in shown])


def duplicates_processed(ev: Evidence) -> Cases:
    """Records a group processed more than once."""
    return Cases(sum(g.duplicates for g in ev.groups), [])


def reordered(ev: Evidence) -> Cases:
    """Records that, moved, would leave each producer's records of a partition in sequence order."""
    return Cases(ev.order.count, [log_example(ev.log, ev.producers, i) for i in ev.order.examples])


def corrupted(ev: Evidence) -> Cases:
    """Values that fail their checksum, and foreign values at an acknowledged record's position."""
    damaged = ev.log.foreign & ~ev.phantom
    return Cases(
        int(ev.log.corrupted.sum()) + int(damaged.sum()),
        [log_example(ev.log, ev.producers, int(i)) for i in np.flatnonzero(ev.log.corrupted)[:EXAMPLES]],
    )


def phantom(ev: Evidence) -> Cases:
    """Records in the log nobody of this run intended to send."""
    return _indexes(ev, np.flatnonzero(ev.phantom))


def inconsistent_offsets(ev: Evidence) -> Cases:
    """Acknowledged records whose position holds another record or a transaction marker."""
    keys, at = ev.checked.inconsistent_keys, ev.checked.inconsistent_at
    shown = [
        {**position_example(ev.log, ev.producers, int(p)), "acked": example(ev.producers, int(k))}
        for k, p in zip(keys[:EXAMPLES], at[:EXAMPLES], strict=True)
    ]
    return Cases(len(keys), shown)


def _polls(ev: Evidence, count: Callable[[Group], int], kind: Callable[[Group], list[tuple[str, int, int]]]) -> Cases:
    shown: list[Example] = [
        {
            "group": g.name,
            "member": who,
            "partition": before >> SEQ_BITS,
            "offset": before & SEQ_MASK,
            "next_offset": after & SEQ_MASK,
        }
        for g in ev.groups
        for who, before, after in kind(g)
    ]
    return Cases(sum(count(g) for g in ev.groups), shown[:EXAMPLES])


def poll_skips(ev: Evidence) -> Cases:
    """Polls that went past offsets a member never received."""
    return _polls(ev, lambda g: g.skips, lambda g: g.skip_examples)


def nonmonotonic_polls(ev: Evidence) -> Cases:
    """Polls that went back to offsets a member had already received, outside a rebalance."""
    return _polls(ev, lambda g: g.steps_back, lambda g: g.back_examples)


def _keys(ev: Evidence, keys: I64) -> Cases:
    return Cases(len(keys), [example(ev.producers, int(k)) for k in keys[:EXAMPLES]])


def aborted_read(ev: Evidence) -> Cases:
    """Records of aborted transactions a read_committed group processed."""
    return _keys(ev, ev.transactions.aborted_read) if ev.transactions else Cases(0, [])


def lost_committed_write(ev: Evidence) -> Cases:
    """Records of committed transactions that a read_committed reader cannot see."""
    return _keys(ev, ev.transactions.lost_committed) if ev.transactions else Cases(0, [])


def torn_transaction(ev: Evidence) -> Cases:
    """Committed transactions of which a reader sees some records but not all."""
    found = ev.transactions
    if found is None:
        return Cases(0, [])
    shown: list[Example] = [
        {**example(ev.producers, start), "records": size, "visible": seen} for start, size, seen in found.torn_examples
    ]
    return Cases(found.torn, shown)


def duplicate_outputs(ev: Evidence) -> Cases:
    """Outputs of a transformer beyond one per copy of its input it read."""
    out = ev.outputs
    if out is None:
        return Cases(0, [])
    return Cases(out.duplicates, [log_example(out.log, ev.producers, i) for i in out.duplicate_examples])


def epoch_regression(ev: Evidence) -> Cases:
    """Times a broker's leader epoch of a partition went below one it had given before."""
    return Cases(*epoch_regressions(ev.progress, EXAMPLES))


def hw_regression(ev: Evidence) -> Cases:
    """Times a leader's high watermark went below one it had given before at the same leader epoch."""
    return Cases(*hw_regressions(ev.progress, EXAMPLES))


#: Every anomaly, in the order reports list them.
ANOMALIES: tuple[Anomaly, ...] = tuple(
    Anomaly(fn.__name__, (fn.__doc__ or "").strip(), fn)
    for fn in (
        duplicates_in_log,
        duplicates_processed,
        reordered,
        corrupted,
        phantom,
        inconsistent_offsets,
        poll_skips,
        nonmonotonic_polls,
        aborted_read,
        lost_committed_write,
        torn_transaction,
        duplicate_outputs,
        epoch_regression,
        hw_regression,
    )
)

#: Their names.
ANOMALY_NAMES: tuple[str, ...] = tuple(a.name for a in ANOMALIES)


def find_all(ev: Evidence) -> dict[str, Cases]:
    """Every anomaly's cases in the run, by name, in registry order."""
    return {a.name: a.find(ev) for a in ANOMALIES}
