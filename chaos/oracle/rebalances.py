"""What rebalances cost each consumer group: how often its members' assignments changed, how long a
member processed nothing across a change, and how many positions it processed again after one
(docs/verdict.md, ``rebalances``).

A change is the start of an assignment epoch of a member (``.epochs``, docs/ledgers.md) other than
the first of its ledger: a restart of its process, a new group generation or a new assignment, or a
read again from the committed offsets within one (an exactly-once member's rewind after an abort,
kafka-python's client restarted in its process). A mark greater than a later one is an orphan of a
kill and is dropped. Only valid rows count (status ``VALID``, a real position); an epoch mark on a
row that is not valid moves to the member's next valid row, and an epoch with no valid row merges
with the next (the last, with none after it, is a change never resumed: it counts, without a pause).
A processing is again when the group processed the same (partition, offset) before it: earlier by
absolute time (``start_ns`` of the member's meta plus ``t_ms``), within one millisecond in the order
of the members' ledgers, within one member in file order. Within a member file order is the truth:
its absolute times are made non-decreasing in file order first (a restarted process whose clock is
behind is no earlier than the rows above it). A member whose meta's ``start_ns`` is not an int in
[0, 2**63) is left out: its rows have no time.

Each member's ledger is read twice, one member at a time: first for where the group first processed
each position, then for which rows of the member's later epochs came after that. Peak memory is one
member's rows (16 bytes each, and a sort's temporaries) and the group's distinct positions (24
bytes each), never the whole group's rows; :func:`chaos.oracle.reconcile.reconcile` computes it
before it reads the log, so it does not add to the log's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from chaos.oracle.keys import I64, cat, positions
from chaos.rundir import LEDGERS
from chaos.workloads.envelope import Status
from chaos.workloads.ledger import EPOCH, PROCESSED, read_meta, read_records


class _Frozen(BaseModel):
    """A frozen part of the verdict's contract (as :mod:`chaos.oracle.verdict`'s models)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Spread(_Frozen):
    """The median and the largest of one figure over a group's assignment changes."""

    median: float = Field(ge=0)
    max: int = Field(ge=0)


class Rebalances(_Frozen):
    """One consumer group's assignment changes, the pause across each, and the positions processed
    again after each (docs/verdict.md, ``rebalances``)."""

    group: str
    changes: int = Field(
        ge=0,
        description="starts of a member's assignment epoch other than its ledger's first, summed over the members "
        "(a restart, a new generation or assignment, an exactly-once member's rewind after an abort)",
    )
    never_resumed: int = Field(
        default=0, ge=0, description="of the changes, those after which the member processed no valid row"
    )
    pause_ms: Spread | None = Field(
        description="per change the member resumed after, ms from its last valid row before it that is strictly "
        "earlier than its first after it (one batch's rows share a time; none: 0) to that first row; "
        "null without such a change"
    )
    reprocessed: int = Field(
        ge=0, description="rows of the epochs the changes began at whose position the group had processed before"
    )
    reprocessed_per_change: Spread | None = Field(
        description="per change the member resumed after, the rows of its epoch processed again; "
        "null without such a change"
    )

    def sentence(self) -> str:
        """The group's assignment changes in one line, as every report says them (a change is one
        member's: one rebalance of three members is three changes).

        >>> r = Rebalances(group="g", changes=2, pause_ms=Spread(median=450.0, max=500), reprocessed=5,
        ...     reprocessed_per_change=Spread(median=2.5, max=3))
        >>> for part in r.sentence().split("; "): print(part)
        group g: 2 assignment changes, processing paused median 450 ms, max 500 ms
        5 positions processed again (median 2.5, max 3 per change)
        >>> one = Rebalances(group="g", changes=1, pause_ms=Spread(median=7.0, max=7), reprocessed=1,
        ...     reprocessed_per_change=Spread(median=1.0, max=1))
        >>> for part in one.sentence().split("; "): print(part)
        group g: 1 assignment change, processing paused median 7 ms, max 7 ms
        1 position processed again (median 1, max 1 per change)
        >>> Rebalances(group="g", changes=0, pause_ms=None, reprocessed=0, reprocessed_per_change=None).sentence()
        'group g: 0 assignment changes'
        >>> Rebalances(group="g", changes=1, never_resumed=1, pause_ms=None, reprocessed=0,
        ...     reprocessed_per_change=None).sentence()
        'group g: 1 assignment change (1 never resumed)'
        """
        head = f"group {self.group}: {_count(self.changes, 'assignment change')}"
        if self.never_resumed:
            head += f" ({self.never_resumed} never resumed)"
        if self.pause_ms is None or self.reprocessed_per_change is None:
            return head
        per = self.reprocessed_per_change
        return (
            f"{head}, processing paused median {_number(self.pause_ms.median)} ms, max {self.pause_ms.max} ms; "
            f"{_count(self.reprocessed, 'position')} processed again "
            f"(median {_number(per.median)}, max {per.max} per change)"
        )


def _count(n: int, noun: str) -> str:
    """``n`` and ``noun``, plural unless ``n`` is 1."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _number(x: float) -> str:
    """A median as a report writes it: whole, or with one decimal (a median of whole numbers is one or a half)."""
    return f"{x:.0f}" if x == int(x) else f"{x:.1f}"


def rebalance_metric(groups: Sequence[Rebalances], key: str) -> int:
    """An expectation metric over every group (:data:`chaos.oracle.expectations.METRICS`): ``changes``
    or ``never_resumed`` summed, or the largest ``pause_ms`` / ``reprocessed_per_change`` of any
    change (``<field>_max``; 0 where no group changed).

    >>> rebalance_metric([], "pause_ms_max"), rebalance_metric([], "changes")
    (0, 0)
    """
    if key in ("changes", "never_resumed"):
        return sum(int(getattr(g, key)) for g in groups)
    spreads: list[Spread | None] = [getattr(g, key.removesuffix("_max")) for g in groups]
    return max((s.max for s in spreads if s is not None), default=0)


#: Rows of a member classified at once in the second pass (bounds its temporaries).
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class _Member:
    """One member's valid rows in file order: position, and when and by whom each was processed as
    one sortable key (ms since the group's first start, shifted left by ``bits``, or'd with the
    member's index); where its changes begin (indexes into these rows, ascending, each above 0 and
    below their number); and whether it changed after its last valid row (a change never resumed)."""

    pos: I64
    key: I64
    starts: I64
    bits: int
    never_resumed: bool

    def ms(self, rows: I64) -> I64:
        """ms since the group's first start of ``rows``."""
        out: I64 = self.key[rows] >> self.bits
        return out

    def pauses(self) -> I64:
        """Per change, ms from the member's last processing before the batch that crosses it (the
        latest row above the change's first that is strictly earlier: one batch's rows share a
        time) to the change's first row; 0 where no row above is earlier. The keys ascend (one
        member, times non-decreasing), so the first row as late as the change's is a search away."""
        first = np.searchsorted(self.key, self.key[self.starts])
        out: I64 = np.where(first > 0, self.ms(self.starts) - self.ms(np.maximum(first - 1, 0)), 0)
        return out


def _rows(path: Path) -> int:
    """Whole rows in a member's ``.processed`` (0: none written)."""
    return path.stat().st_size // PROCESSED.itemsize if path.exists() else 0


def _marks(path: Path) -> I64:
    """The row indexes in ``path`` (``.processed``) where an epoch begins after its first, ascending.

    A batch's marks are written before its rows: a process killed in between leaves marks past the
    rows it wrote, and its restart marks its own start below them. So, in file order, a mark
    greater than a later one is such an orphan and is dropped. A mark at or past the last row (a
    change after which nothing was written) is the number of rows."""
    marks = np.concatenate([np.empty(0, EPOCH), *read_records(path.with_suffix(".epochs"), EPOCH)])
    marks = marks[marks <= np.minimum.accumulate(marks[::-1])[::-1]]  # each at most every later one
    kept: I64 = np.unique(np.minimum(marks[marks > 0], _rows(path))).astype(np.int64)
    return kept


def _member(path: Path, ms_after_first_start: int, k: int, bits: int) -> _Member:
    """Member ``k``'s valid rows and its changes, from ``path`` (``.processed``) and its ``.epochs``;
    its ``t_ms`` count from ``ms_after_first_start`` after the group's first member started."""
    size = _rows(path)
    marks = _marks(path)
    pos: I64 = np.empty(size, np.int64)
    key: I64 = np.empty(size, np.int64)
    starts: list[I64] = []
    n = read = 0
    latest = ms_after_first_start
    for chunk in read_records(path, PROCESSED, reuse=True):
        ok = np.flatnonzero((chunk["status"] == Status.VALID) & (chunk["offset"] >= 0) & (chunk["partition"] >= 0))
        pos[n : n + len(ok)] = positions(chunk["partition"][ok], chunk["offset"][ok])
        # within a member file order is the truth: a clock stepped back (a restart's) never goes before a row above it
        ms = np.maximum.accumulate(np.maximum(chunk["t_ms"][ok].astype(np.int64) + ms_after_first_start, latest))
        latest = int(ms[-1]) if len(ms) else latest
        key[n : n + len(ok)] = (ms << bits) | k
        here = marks[(marks >= read) & (marks < read + len(chunk))] - read
        starts.append(n + np.searchsorted(ok, here))  # a mark on a row that is not valid: the next valid one
        n, read = n + len(ok), read + len(chunk)
    at = np.unique(cat([*starts, np.full(np.count_nonzero(marks >= read), n)]))  # past the rows: after the last
    return _Member(pos[:n], key[:n], at[(at > 0) & (at < n)], bits, n > 0 and n in at)


def _first_of_runs(sorted_values: I64) -> np.ndarray[tuple[int], np.dtype[np.bool_]]:
    """Where each run of equal values of a sorted array begins."""
    first = np.ones(len(sorted_values), dtype=bool)
    np.not_equal(sorted_values[1:], sorted_values[:-1], out=first[1:])
    return first


def _firsts(m: _Member) -> tuple[I64, I64, I64]:
    """A member's first processing of each distinct position it processed: the position (sorted),
    its key, its row (the least key, then the first in file order)."""
    order = np.lexsort((m.key, m.pos))  # stable: rows of one key stay in file order
    first = order[_first_of_runs(m.pos[order])]
    return m.pos[first], m.key[first], first


class _Firsts:
    """Where the group first processed each position it processed: sorted distinct positions, and
    the key (time and member) and row of that processing; merged in one member at a time, in place
    but for the positions it adds."""

    def __init__(self) -> None:
        self.pos: I64 = np.empty(0, np.int64)
        self.key: I64 = np.empty(0, np.int64)
        self.row: I64 = np.empty(0, np.int64)

    def add(self, m: _Member) -> None:
        """Merge in a member's rows (two members' keys always differ: no tie to break)."""
        pos, key, row = _firsts(m)
        if len(self.pos) == 0:
            self.pos, self.key, self.row = pos, key, row
            return
        i = np.searchsorted(self.pos, pos)
        known = i < len(self.pos)
        known[known] = self.pos[i[known]] == pos[known]
        at = i[known]
        earlier = key[known] < self.key[at]
        self.key[at[earlier]] = key[known][earlier]
        self.row[at[earlier]] = row[known][earlier]
        fresh = ~known
        where = i[fresh]  # np.insert keeps the order of equal indexes: the positions stay sorted
        self.pos = np.insert(self.pos, where, pos[fresh])
        self.key = np.insert(self.key, where, key[fresh])
        self.row = np.insert(self.row, where, row[fresh])

    def repeated(self, m: _Member, lo: int) -> np.ndarray[tuple[int], np.dtype[np.bool_]]:
        """Which of member ``m``'s rows from ``lo`` on are not the group's first processing of
        their position (in slices, so the temporaries stay small)."""
        out = np.empty(len(m.pos) - lo, dtype=bool)
        for a in range(lo, len(m.pos), _CHUNK):
            b = min(a + _CHUNK, len(m.pos))
            i = np.searchsorted(self.pos, m.pos[a:b])
            out[a - lo : b - lo] = (self.key[i] != m.key[a:b]) | (self.row[i] != np.arange(a, b))
        return out


def group_rebalances(name: str, members: Sequence[tuple[Path, int]]) -> Rebalances:
    """The rebalances of group ``name`` from its members' ledgers (``.processed`` path and the
    wall-clock ms its ``t_ms`` count from, in the order ties go by)."""
    none = Rebalances(group=name, changes=0, pause_ms=None, reprocessed=0, reprocessed_per_change=None)
    if not any(len(_marks(path)) for path, _ in members):
        return none  # no change to measure: the ledgers need not be read
    first_start = min(start for _, start in members)
    bits = len(members).bit_length()
    firsts = _Firsts()
    for k, (path, start_ms) in enumerate(members):
        firsts.add(_member(path, start_ms - first_start, k, bits))
    pauses: list[I64] = []
    again: list[I64] = []
    never = 0
    for k, (path, start_ms) in enumerate(members):
        m = _member(path, start_ms - first_start, k, bits)
        never += m.never_resumed
        if len(m.starts) == 0:
            continue
        pauses.append(m.pauses())
        lo = int(m.starts[0])
        again.append(np.add.reduceat(firsts.repeated(m, lo).astype(np.int64), m.starts - lo))
    pause, per_change = cat(pauses), cat(again)
    return Rebalances(
        group=name,
        changes=len(pause) + never,
        never_resumed=never,
        pause_ms=_spread(pause),
        reprocessed=int(per_change.sum()),
        reprocessed_per_change=_spread(per_change),
    )


def _spread(values: I64) -> Spread | None:
    """The median and the largest of ``values``; None when there are none."""
    return Spread(median=float(np.median(values)), max=int(values.max())) if len(values) else None


def rebalances(run_dir: Path) -> list[Rebalances]:
    """Each consumer group of the run (``ledgers/consumer-*.json``), in the order of its first
    member's ledger; its members in the order of theirs. An application judged as a black box keeps
    no member ledger, and has none.

    Raises:
        OSError: a ledger cannot be read.
        ValueError: a meta file is not a JSON object.
    """
    groups: dict[str, list[tuple[Path, int]]] = {}
    for meta_path in sorted((run_dir / LEDGERS).glob("consumer-*.json")):
        meta = read_meta(meta_path)
        if meta.get("strategy") == "share":
            continue  # a share group has no assignment epochs: records are acquired, not assigned
        members = groups.setdefault(str(meta["group"]), [])
        start_ns = meta.get("start_ns") or 0
        if type(start_ns) is int and 0 <= start_ns < 1 << 63:  # else no time to put its rows at: left out
            members.append((meta_path.with_suffix(".processed"), start_ns // 1_000_000))
    return [group_rebalances(name, members) for name, members in groups.items()]
