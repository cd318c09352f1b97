"""Share groups (KIP-932, queues for Kafka): what each record of the log became for a share group,
from its members' delivery ledgers (:mod:`chaos.workloads.share_ledger`), and what the broker did
that it must not.

A member writes a ``DELIVERED`` row for each record a poll gives it, with the broker's delivery count
(0: its client did not say), then one decision row (``ACCEPT``, ``RELEASE`` or ``REJECT``, the same
count) before it acknowledges it; a delivery with no decision is one it held when it was killed. The
broker gives a released or expired record again with its count one higher, and archives it instead
once that count has reached the group's limit (``group.share.delivery.count.limit``).

A record is a position, (partition, offset). Its **reach** is the highest delivery count any row of
it gives; where a row of it does not say its count, its number of deliveries where that is more
(each such delivery is one acquisition). Two deliveries of one count are one acquisition given
twice (a double delivery), so they do not raise the reach. Figures, over the records judged (those
of the run in the log):

* **delivered**: records with a ``DELIVERED`` row; **deliveries**: ``DELIVERED`` rows;
  **redelivered**: records with more than one; **held**: deliveries no decision of the same
  member, position and count follows (the member was killed holding them).
* **accepted**: records with an ``ACCEPT``; **accepted_twice**: with more than one (processed twice,
  by one member or two: an acceptance that never reached the broker, whose lock expired).
* **rejected**: never accepted, and rejected at least once (the application's choice: not loss).
* **archived_at_limit**: neither, and its reach is at least the limit: each of its deliveries was
  released or held, so the broker archived it at the last. Lost to the application, but a cause of
  its own (the limit), not consumer loss.
* **lost** (the share group's consumer loss): none of the above, and below its partition's
  share-partition start offset (SPSO) as Kafka's own share group tool reported it after the run:
  the broker counts everything below it done. **never_delivered** of them with no row at all,
  **abandoned** with some (given fewer times than the limit, never accepted or rejected, and never
  given again). **unreached**: none of the above at or past the SPSO (or where Kafka did not say
  it): still to be delivered, or in flight, when the run stopped; not loss, as a classic group's
  records past its committed offset are not.
* **unseen_deliveries**: over records every row of which gives its count, the counts below the
  record's highest that no row shows: acquisitions no ledger recorded.
* **orphan_decisions**: decision rows no earlier delivery of the same member, position and count
  explains (a damaged ledger: a decision is written after its delivery, and only a last row can be
  torn). The decision still counts. **invalid_rows**: rows no member writes (an unknown ``ack``, a
  position that does not pack), left out of everything (the run's verdict is then inconclusive: a
  damaged ledger can hide an acceptance).

Anomalies, over every valid row, of a record judged or not:

* **double_delivery**: ``DELIVERED`` rows repeating an earlier one's position and known count (> 0):
  the broker gave one acquisition to two consumers, or twice to one.
* **past_limit**: ``DELIVERED`` rows with a count above the limit.
* **count_regression**: ``DELIVERED`` rows whose known count is below one an earlier row of the
  same member gave the same record (a member's ledger is in its own time order, across restarts;
  an equal count is a double delivery, not counted again here).
* **phantom**: positions delivered or decided on that the log does not hold.

What a legitimate history produces, and none of these counts: a member killed holding deliveries
(held, redelivered later with a higher count, or archived); a decision that never reached the broker
(the member killed after its row, or an acknowledgement refused once the lock had expired: its
record is given again, so one record can be accepted twice, and rejected then accepted); a count of
0 (never compared, never a double delivery or a regression); a torn last row (dropped by the reader
and cut by a restarted writer, :class:`chaos.workloads.ledger.AppendFile`: a decision is never left
without its delivery).

What the ledgers cannot show, and a reader of these figures must keep in mind:

* An acquisition no member recorded: a member killed with records its client had fetched but its
  poll had not returned (their locks expire, their counts stay raised). One that takes a record to
  the limit leaves it ``abandoned`` here while the broker archived it. ``unseen_deliveries`` says
  whether the run had any.
* A share-partition leader change: KIP-932 says the delivery count is not exact (its updates are
  not exactly-once). A new leader, starting from the persisted state, can give a record again with
  a count the old one already gave (a double delivery; in one member's ledger, a regression). In
  a run whose faults move share-partition leadership these two are what KIP-932 allows; elsewhere
  they are the broker's fault.
* The Kafka version: from KAFKA-17541 (4.1) until KAFKA-19972 (December 2025) a broker that released
  a share session (a member's close, the end of its connection: a kill) gave its acquired records
  back with their counts lowered by one, so a record held, or decided without its acknowledgement
  landing, came again with the same count (a double delivery), and one held at the limit was not
  archived. Against those versions a double delivery after a member's end is what Kafka did.
* A delivery is judged by its position alone: a record the log holds at a position rewritten after
  the delivery (an unclean election) is taken for the one delivered. Records a drain could not read
  (removed by retention or compaction, an incomplete drain) make their deliveries phantoms: the
  verdict's trust says when the drain is not to be believed.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from chaos.oracle.keys import I64, SEQ_BITS, SEQ_MASK, Mask, cat, member, positions, unique
from chaos.workloads.ledger import Records
from chaos.workloads.share_ledger import Ack

#: A consumer member's meta ``strategy`` that makes it a share group member.
SHARE_STRATEGY = "share"
#: The broker's ``group.share.delivery.count.limit`` unless set.
DEFAULT_LIMIT = 5
#: A delivery count lifted by its group's number keeps groups apart in one running maximum.
_LIFT = 1 << 17

Position = tuple[int, int]


class _Frozen(BaseModel):
    """A frozen part of the findings (as :mod:`chaos.oracle.verdict`'s models)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ShareAnomalies(_Frozen):
    """What the broker must not do; see the module docstring."""

    double_delivery: int = Field(default=0, ge=0)
    past_limit: int = Field(default=0, ge=0)
    count_regression: int = Field(default=0, ge=0)
    phantom: int = Field(default=0, ge=0)


class ShareFindings(_Frozen):
    """One share group's records, deliveries and anomalies (module docstring); ``examples``: a few
    (partition, offset) of each figure that is not 0 (``deliveries`` and ``records`` have none)."""

    group: str = ""
    limit: int = Field(ge=1)
    records: int = Field(ge=0)
    delivered: int = Field(ge=0)
    deliveries: int = Field(ge=0)
    redelivered: int = Field(ge=0)
    held: int = Field(ge=0)
    accepted: int = Field(ge=0)
    accepted_twice: int = Field(ge=0)
    rejected: int = Field(ge=0)
    archived_at_limit: int = Field(ge=0)
    lost: int = Field(ge=0)
    unreached: int = Field(default=0, ge=0)
    never_delivered: int = Field(ge=0)
    abandoned: int = Field(ge=0)
    unseen_deliveries: int = Field(ge=0)
    orphan_decisions: int = Field(ge=0)
    invalid_rows: int = Field(ge=0)
    anomalies: ShareAnomalies = ShareAnomalies()
    examples: dict[str, list[Position]] = Field(default_factory=dict)


def _where(pos: I64, limit: int) -> list[Position]:
    """The first ``limit`` distinct positions of ``pos``, as (partition, offset)."""
    return [(int(p >> SEQ_BITS), int(p & SEQ_MASK)) for p in unique(pos)[:limit]]


def _starts(*columns: I64) -> Mask:
    """Where a run of equal values of sorted ``columns`` (all of them together) begins."""
    new = np.zeros(len(columns[0]), dtype=bool)
    new[:1] = True
    for col in columns:
        new[1:] |= col[1:] != col[:-1]
    return new


def _by(pos: I64, count: I64) -> I64:
    """The order of rows by position, then count, then as given (two stable sorts: faster than
    ``np.lexsort`` on unsorted int64 keys)."""
    by_count = np.argsort(count.astype(np.uint16), kind="stable")
    order: I64 = by_count[np.argsort(pos[by_count], kind="stable")]
    return order


def _regressions(pos: I64, count: I64, ack: I64) -> I64:
    """Positions of one member's ``DELIVERED`` rows (file order) whose known count is below the
    highest an earlier one of the same record gave.

    >>> rows = lambda *v: np.array(v, dtype=np.int64)
    >>> _regressions(rows(7, 7, 7, 9), rows(2, 3, 1, 1), rows(0, 0, 0, 0)).tolist()
    [7]
    >>> _regressions(rows(7, 7, 7), rows(2, 0, 2), rows(0, 0, 0)).tolist()  # unknown, and equal: neither
    []
    """
    d = np.flatnonzero((ack == Ack.DELIVERED) & (count > 0))
    order = d[np.argsort(pos[d], kind="stable")]
    p = pos[order]
    new = _starts(p)
    lifted = (np.cumsum(new) - 1) * _LIFT + count[order]
    before = np.maximum.accumulate(lifted)
    back = np.zeros(len(p), dtype=bool)
    back[1:] = ~new[1:] & (lifted[1:] < before[:-1])
    out: I64 = p[back]
    return out


def _pairing(pos: I64, count: I64, ack: I64) -> tuple[I64, I64]:
    """Positions of one member's held deliveries and of its orphan decisions, one per row: per
    (position, count) in file order, a decision pairs with an unpaired delivery before it.

    >>> rows = lambda *v: np.array(v, dtype=np.int64)
    >>> held, orphan = _pairing(rows(5, 5, 5, 5, 6), rows(0, 0, 0, 0, 1), rows(0, 2, 0, 1, 1))
    >>> held.tolist(), orphan.tolist()
    ([], [6])
    """
    order = _by(pos, count)
    p, c = pos[order], count[order]
    step = np.where(ack[order] == Ack.DELIVERED, 1, -1)
    first = np.flatnonzero(_starts(p, c))
    if len(first) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    run = np.cumsum(step)
    within = run - np.repeat((run - step)[first], np.diff(np.append(first, len(p))))
    orphans = np.maximum(0, -np.minimum.reduceat(within, first))
    held = np.add.reduceat(step, first) + orphans
    return np.repeat(p[first], held), np.repeat(p[first], orphans)


def _below(judged: I64, start: Mapping[int, int] | None) -> Mask:
    """Which judged positions lie below their partition's start offset (all, where ``start`` is
    ``None``; none of a partition it does not name)."""
    if start is None:
        return np.ones(len(judged), dtype=bool)
    parts, offsets = judged >> SEQ_BITS, judged & SEQ_MASK
    limits = np.array([start.get(int(p), -1) for p in range(int(parts.max()) + 1)] if len(judged) else [-1])
    below: Mask = offsets < limits[parts]
    return below


def _valid(rows: Records) -> Mask:
    """Rows a member can have written: a known ``ack`` and a position that packs into a key."""
    part, off = rows["partition"], rows["offset"]
    ok: Mask = (rows["ack"] <= Ack.REJECT) & (part >= 0) & (part < (1 << 23)) & (off >= 0) & (off < (1 << SEQ_BITS))
    return ok


def _gather(members: Mapping[str, Records]) -> tuple[dict[str, list[I64]], int]:
    """Every valid row of ``members`` (``pos``, ``count``, ``ack``), the positions of what each
    member's own order shows (``back``: regressions, ``held``, ``orphan``: orphan decisions), and
    how many rows were not valid."""
    cols: dict[str, list[I64]] = {k: [] for k in ("pos", "count", "ack", "back", "held", "orphan")}
    invalid = 0
    for rows in members.values():
        ok = _valid(rows)
        invalid += len(rows) - int(ok.sum())
        mine = rows[ok]
        pos = positions(mine["partition"], mine["offset"])
        count, ack = mine["count"].astype(np.int64), mine["ack"].astype(np.int64)
        held, orphan = _pairing(pos, count, ack)
        for name, col in zip(cols, (pos, count, ack, _regressions(pos, count, ack), held, orphan), strict=True):
            cols[name].append(col)
    return cols, invalid


def judge_share(
    log: I64,
    members: Mapping[str, Records],
    limit: int = DEFAULT_LIMIT,
    examples: int = 10,
    present: I64 | None = None,
    group: str = "",
    start: Mapping[int, int] | None = None,
) -> ShareFindings:
    """Judge one share group: ``log``, the positions (``partition << 40 | offset``) of the records to
    judge (those of the run in the log); ``members``, each member's ``SHARE_DELIVERY`` rows in its
    file order; ``limit``, the group's delivery count limit; ``present``, every position the log
    holds, the judged and others (default: ``log``): a delivery elsewhere is a phantom; ``start``,
    each partition's share-partition start offset as Kafka reported it after the run (``None``:
    every record is judged as below it): a record at or past it that the group never accepted,
    rejected or archived is ``unreached`` (still to be delivered, or in flight), not lost.

    >>> from chaos.workloads.share_ledger import SHARE_DELIVERY
    >>> rows = np.array([(0, 0, 0, 0, 0, 1, Ack.DELIVERED, 0), (0, 0, 0, 0, 0, 1, Ack.RELEASE, 1),
    ...     (0, 0, 0, 0, 0, 2, Ack.DELIVERED, 2), (0, 0, 0, 0, 0, 2, Ack.ACCEPT, 3),
    ...     (0, 1, 0, 1, 0, 1, Ack.DELIVERED, 4)], dtype=SHARE_DELIVERY)
    >>> found = judge_share(np.array([0, 1, 2]), {"m1": rows}, limit=5)
    >>> found.accepted, found.redelivered, found.held, found.abandoned, found.never_delivered, found.lost
    (1, 1, 1, 1, 1, 2)
    >>> found.examples["abandoned"], found.anomalies.double_delivery
    ([(0, 1)], 0)

    Raises:
        ValueError: ``limit`` is below 1.
    """
    if limit < 1:
        raise ValueError(f"a delivery count limit is at least 1, not {limit}")
    judged = unique(np.asarray(log, dtype=np.int64))
    there = judged if present is None else unique(np.asarray(present, dtype=np.int64))
    cols, invalid = _gather(members)
    pos, count, ack = cat(cols["pos"]), cat(cols["count"]), cat(cols["ack"])
    at = np.minimum(np.searchsorted(judged, pos), max(len(judged) - 1, 0))
    inside = judged[at] == pos if len(judged) else np.zeros(len(pos), dtype=bool)
    idx: I64 = at[inside].astype(np.int64)
    c, a, n = count[inside], ack[inside], len(judged)

    def tally(sel: Mask) -> I64:
        out: I64 = np.bincount(idx[sel], minlength=n).astype(np.int64)
        return out

    deliveries, accepts, rejects = (tally(a == kind) for kind in (Ack.DELIVERED, Ack.ACCEPT, Ack.REJECT))
    rows_of, unknown = tally(np.ones(len(idx), dtype=bool)), tally(c == 0)
    highest: I64 = np.zeros(n, dtype=np.int64)
    np.maximum.at(highest, idx, c)
    accepted = accepts > 0
    rejected = ~accepted & (rejects > 0)
    # where every row says its count, the highest is how far the broker's count went (two rows of one
    # count are a double delivery, not two acquisitions); else each delivery is one acquisition
    reach = np.where(unknown == 0, highest, np.maximum(highest, deliveries))
    archived = ~accepted & ~rejected & (reach >= limit)
    below = _below(judged, start)
    lost = ~accepted & ~rejected & ~archived & below
    known = np.sort((idx[c > 0] << 16) | c[c > 0], kind="stable")  # counts are u2
    distinct = known[_starts(known)] >> 16
    gaps = np.where((rows_of > 0) & (unknown == 0), highest - np.bincount(distinct, minlength=n), 0)
    d = (ack == Ack.DELIVERED) & (count > 0)
    order = _by(pos[d], count[d])
    dp, dc = pos[d][order], count[d][order]
    held_pos, orphan_pos = cat(cols["held"]), cat(cols["orphan"])
    sets: dict[str, I64] = {
        "delivered": judged[deliveries > 0],
        "redelivered": judged[deliveries > 1],
        "held": held_pos[member(held_pos, judged)],
        "accepted": judged[accepted],
        "accepted_twice": judged[accepts > 1],
        "rejected": judged[rejected],
        "archived_at_limit": judged[archived],
        "lost": judged[lost],
        "unreached": judged[~accepted & ~rejected & ~archived & ~below],
        "never_delivered": judged[lost & (rows_of == 0)],
        "abandoned": judged[lost & (rows_of > 0)],
        "unseen_deliveries": judged[gaps > 0],
        "orphan_decisions": orphan_pos,
    }
    wrong: dict[str, I64] = {
        "double_delivery": dp[~_starts(dp, dc)],
        "past_limit": pos[(ack == Ack.DELIVERED) & (count > limit)],
        "count_regression": cat(cols["back"]),
        "phantom": unique(pos[~member(pos, there)]),
    }
    return ShareFindings(
        group=group,
        limit=limit,
        records=n,
        deliveries=int(deliveries.sum()),
        unseen_deliveries=int(gaps.sum()),
        invalid_rows=invalid,
        **{name: len(keys) for name, keys in sets.items() if name != "unseen_deliveries"},
        anomalies=ShareAnomalies(**{name: len(keys) for name, keys in wrong.items()}),
        examples={name: _where(keys, examples) for name, keys in {**sets, **wrong}.items() if len(keys)},
    )
