"""The consumers' side of a run: what each group processed, what it processed twice, and what it
skipped below its committed offsets (consumer loss)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from chaos.oracle.keys import I64, SEQ_BITS, Mask, Members, cat, member, positions, unique
from chaos.oracle.log import Log, map_tags
from chaos.oracle.rewrites import Rewrites, rewrites
from chaos.rundir import LEDGERS
from chaos.workloads.clients import DEFAULT_CLIENT, isolation_level
from chaos.workloads.envelope import Status
from chaos.workloads.ledger import EPOCH, PROCESSED, read_meta, read_records


@dataclass(slots=True)
class Group:
    """One consumer group's processing: distinct records, repeated positions, members, bad rows,
    and the poll anomalies of its members (log indexes of a few of each)."""

    name: str
    keys: I64
    duplicates: int
    members: list[str]
    invalid_rows: int
    read_committed: bool = False
    #: A consume-transform-produce group: its processing is judged by its committed outputs.
    transformer: bool = False
    skips: int = 0
    steps_back: int = 0
    skip_examples: list[tuple[str, int, int]] = field(default_factory=list)
    back_examples: list[tuple[str, int, int]] = field(default_factory=list)
    #: Where the log was rewritten under the group (:mod:`chaos.oracle.rewrites`).
    rewritten: Rewrites = field(default_factory=Rewrites)
    #: Each member's processed ledger and the wall-clock ms its ``t_ms`` count from.
    sources: list[tuple[Path, int]] = field(default_factory=list)
    #: A transformer's inputs (sorted unique keys) and at how many distinct positions it read each.
    read_copies: tuple[I64, I64] | None = None


def epoch_starts(path: Path, rows: int) -> list[int]:
    """Where each assignment epoch of a member's ``rows`` processed rows begins (``.epochs``)."""
    starts = {0}
    for chunk in read_records(path, EPOCH):
        starts.update(int(i) for i in chunk if int(i) < rows)
    return sorted(starts)


def _poll_anomalies(member: str, where: I64, starts: list[int], log: Log, group: Group, limit: int) -> None:
    """Within one epoch of one member, a partition's processed offsets must follow one another:
    a later one that jumps over records the log holds is a skip, one at or below the previous a
    step back (Jepsen's poll-skip and nonmonotonic-poll). One epoch and one partition at a time,
    so the temporaries stay a fraction of the ledger."""
    for lo, hi in zip(starts, [*starts[1:], len(where)], strict=True):
        segment = where[lo:hi]
        if len(segment) < 2:
            continue
        part = _partitions(segment)
        for p in {*log.partitions(), int(part[0]), int(part[-1])}:
            pos = segment[part == p]  # file order
            step = pos[1:] - pos[:-1]
            back = np.flatnonzero(step <= 0)
            jump = np.flatnonzero(step > 1)
            # a jump is a skip only where the log holds a record strictly between the two offsets
            between = np.searchsorted(log.pos, pos[jump + 1]) - np.searchsorted(log.pos, pos[jump] + 1)
            skipped = jump[between > 0]
            group.skips += len(skipped)
            group.steps_back += len(back)
            for i in skipped[: max(0, limit - len(group.skip_examples))]:
                group.skip_examples.append((member, int(pos[i]), int(pos[i + 1])))
            for i in back[: max(0, limit - len(group.back_examples))]:
                group.back_examples.append((member, int(pos[i]), int(pos[i + 1])))


def _partitions(where: I64, chunk: int = 1 << 21) -> np.ndarray[Any, Any]:
    """The partition of each position of ``where`` (all >= 0), in the narrowest unsigned dtype that
    holds the largest, filled a chunk at a time: one epoch's worth of bytes, not a column of int32
    kept beside the member's positions for the whole read."""
    part = np.empty(len(where), np.min_scalar_type(int(where.max()) >> SEQ_BITS))
    for lo in range(0, len(where), chunk):
        part[lo : lo + chunk] = where[lo : lo + chunk] >> SEQ_BITS
    return part


def reads_committed(meta: dict[str, Any]) -> bool:
    """Whether a consumer member reads with ``isolation.level=read_committed``: the level its meta
    records it used (``isolation_level``), or, in a meta without it, its setting in any case, or
    else its client's default (librdkafka's is read_committed)."""
    level = meta.get("isolation_level")
    if level is None:
        level = isolation_level(str(meta.get("client") or DEFAULT_CLIENT), meta.get("settings") or {})
    return str(level).lower() == "read_committed"


def load_groups(
    run_dir: Path, tag_to_index: dict[int, int], log: Log, limit: int, committed_log: Log | None = None
) -> list[Group]:
    """Every group of the run, from ``ledgers/consumer-*.json`` and the members' processed ledgers.

    A group reading with ``isolation.level=read_committed`` is judged against ``committed_log`` (the
    read_committed view of a transactional topic) where there is one: records of aborted
    transactions and markers are not skipped records for it."""
    groups: dict[str, Group] = {}
    readings: dict[str, _Reading] = {}
    for meta_path in sorted((run_dir / LEDGERS).glob("consumer-*.json")):
        meta = read_meta(meta_path)
        if meta.get("strategy") == "share":
            continue  # a share group acknowledges records, in no order: chaos.oracle.share judges it
        name, member = str(meta["group"]), str(meta["member"])
        group = groups.setdefault(name, Group(name, np.empty(0, np.int64), 0, [], 0, reads_committed(meta)))
        group.transformer |= bool(meta.get("output_topic"))
        reading = readings.setdefault(
            name, _Reading(committed_log if group.read_committed and committed_log is not None else log)
        )
        group.members.append(member)
        path = meta_path.with_suffix(".processed")
        group.sources.append((path, int(meta.get("start_ns") or 0) // 1_000_000))
        member_pos = _read_member(path, tag_to_index, group, reading)
        starts = epoch_starts(meta_path.with_suffix(".epochs"), len(member_pos))
        _poll_anomalies(member, member_pos, starts, reading.view, group, limit)
        reading.where.append(member_pos)
    for name, group in groups.items():
        r = readings.pop(name)
        pos = r.where[0] if len(r.where) == 1 else cat(r.where)  # one member: sort its own array in place
        r.where.clear()
        pos.sort(kind="stable")
        repeated_positions = int(np.count_nonzero(pos[1:] == pos[:-1]))
        del pos
        all_keys = r.keys[0] if len(r.keys) == 1 else cat(r.keys)
        r.keys.clear()
        group.keys = unique(all_keys, in_place=True)
        group.rewritten = rewrites(r.moved_pos, r.moved_keys, r.view, group.sources, tag_to_index)
        if group.transformer:
            group.read_copies = _copies(r.read_keys, r.read_pos)
        # a position read again holding another record (after a rewrite) is not a record processed twice
        group.duplicates = repeated_positions - group.rewritten.other_records
    return list(groups.values())


@dataclass(slots=True)
class ConsumerLoss:
    """Consumer loss summed over groups, and a few of them: the log view, index in it, and group."""

    lost: int
    examples: list[tuple[Log, int, str]]
    #: Records in the log above a group's committed offset it never processed (summed over groups).
    unprocessed: int = 0
    #: Records below a group's committed offset at positions it processed while they held another
    #: record: the log was rewritten under the group after it passed (summed over groups).
    overwritten_unread: int = 0


def consumer_loss(
    groups: list[Group],
    committed: dict[str, dict[str, int]],
    log: Log,
    sent: I64,
    limit: int,
    committed_log: Log | None = None,
    acked_ms: Callable[[I64], I64] | None = None,
) -> ConsumerLoss:
    """Per group: records of this run in the log below the group's committed offset that the group
    never processed (a phantom below it is reported as a phantom, not as loss), and those at or
    above it it never processed (``unprocessed``). A read_committed group is judged against
    ``committed_log`` where there is one.

    A record at a position the group processed while it held another record was written there
    after the group read it (the log was truncated and rewritten under the committed offset: an
    unclean election, a power cut). Unless the group processed a lower offset of that partition
    after the record was acknowledged (``acked_ms``: wall-clock ms of each sorted unique key's first
    ack, -1 for none; it was still behind it then, and passed it), the group did not skip it: the
    broker moved it under the group. It is ``overwritten_unread``, not consumer loss (broker loss
    and inconsistent offsets say what happened). Counted in records, once each: a record with a
    skipped copy elsewhere is loss."""
    lost = unprocessed = overwritten = 0
    examples: list[tuple[Log, int, str]] = []
    in_sent = Members(sent)  # looked up for every partition of every group: its bitmaps built once
    for group in groups:
        view = committed_log if group.read_committed and committed_log is not None else log
        lost_keys: list[I64] = []
        moved_keys: list[I64] = []
        processed = Members(group.keys)
        for part, off in committed.get(group.name, {}).items():
            lo = int(np.searchsorted(view.pos, int(part) << SEQ_BITS))
            hi = int(np.searchsorted(view.pos, (int(part) << SEQ_BITS) | int(off)))
            idx = lo + np.flatnonzero(view.known[lo:hi])
            idx = idx[in_sent.of(view.keys[idx])]
            idx = idx[~processed.of(view.keys[idx])]
            rewritten = _moved_under(group.rewritten, view.pos[idx], view.keys[idx], acked_ms)
            moved_keys.append(view.keys[idx[rewritten]])
            idx = idx[~rewritten]
            lost_keys.append(view.keys[idx])
            examples += [(view, int(i), group.name) for i in idx[: max(0, limit - len(examples))]]
        group.rewritten = Rewrites()
        group_lost = unique(cat(lost_keys), in_place=True)
        moved = unique(cat(moved_keys), in_place=True)
        overwritten += int((~member(moved, group_lost)).sum())  # records, each once; a skipped copy is loss
        lost += len(group_lost)
        unprocessed += _unprocessed(view, committed.get(group.name, {}), in_sent, processed)
    return ConsumerLoss(lost, examples, unprocessed, overwritten)


@dataclass(slots=True)
class _Reading:
    """What :func:`load_groups` gathers of one group while reading its members' ledgers: the log
    view it judges the group by, the keys and positions of every row, the rows that name another
    record than the view holds at their position, and (a transformer) every valid row's key and
    position."""

    view: Log
    keys: list[I64] = field(default_factory=list)
    where: list[I64] = field(default_factory=list)
    moved_pos: list[I64] = field(default_factory=list)
    moved_keys: list[I64] = field(default_factory=list)
    read_keys: list[I64] = field(default_factory=list)
    read_pos: list[I64] = field(default_factory=list)


def _read_member(path: Path, tag_to_index: dict[int, int], group: Group, r: _Reading) -> I64:
    """One member's processed rows: their positions in file order; their keys, the
    rows that name another record than ``r.view`` holds there, and a transformer's rows go to ``r``."""
    # Filled in place, sized from the file: no list of chunks to concatenate.
    rows_in_file = path.stat().st_size // PROCESSED.itemsize if path.exists() else 0
    member_pos: I64 = np.empty(rows_in_file, np.int64)
    member_keys: I64 = np.empty(rows_in_file, np.int64)
    at = nkeys = 0
    for rows in read_records(path, PROCESSED, reuse=True):
        bad = (rows["status"] > Status.FOREIGN) | (rows["offset"] < 0) | (rows["partition"] < 0)
        group.invalid_rows += int(bad.sum())
        chunk = rows[~bad] if bad.any() else rows
        index = map_tags(chunk["tag"], tag_to_index)
        ok = (chunk["status"] == Status.VALID) & (index >= 0) & (chunk["seq"] >= 0)
        found = int(ok.sum())
        row_keys = (index[ok] << SEQ_BITS) | chunk["seq"][ok].astype(np.int64)
        member_keys[nkeys : nkeys + found] = row_keys
        nkeys += found
        member_pos[at : at + len(chunk)] = positions(chunk["partition"], chunk["offset"])
        row_pos = member_pos[at : at + len(chunk)][ok]
        there = r.view.at(row_pos)
        holder = np.where(there >= 0, r.view.keys[np.maximum(there, 0)] if len(r.view) else -1, -1)
        moved = (holder >= 0) & (holder != row_keys)
        if moved.any():
            r.moved_pos.append(row_pos[moved])
            r.moved_keys.append(row_keys[moved])
        if group.transformer:
            r.read_keys.append(row_keys)
            r.read_pos.append(row_pos)
        at += len(chunk)
    r.keys.append(member_keys[:nkeys])
    return member_pos[:at]


def _copies(keys: list[I64], where: list[I64]) -> tuple[I64, I64]:
    """Sorted unique ``keys`` and at how many distinct positions (``where``) each was read."""
    k, pos = cat(keys), cat(where)
    order = np.lexsort((pos, k))
    k, pos = k[order], pos[order]
    distinct = np.ones(len(k), dtype=bool)
    distinct[1:] = (k[1:] != k[:-1]) | (pos[1:] != pos[:-1])
    found, counts = np.unique(k[distinct], return_counts=True)
    return found, counts.astype(np.int64)


def _moved_under(rw: Rewrites, pos: I64, keys: I64, acked_ms: Callable[[I64], I64] | None) -> Mask:
    """Which records (at ``pos``, never processed by the group) the broker wrote under the group:
    at a rewritten position, acknowledged after the group last processed a lower offset there."""
    moved = member(pos, rw.at)
    if not moved.any():
        return moved
    sel = np.flatnonzero(moved)
    wanted = np.unique(keys[sel])
    ack = acked_ms(wanted) if acked_ms is not None else np.full(len(wanted), -1, dtype=np.int64)
    ack_of = ack[np.searchsorted(wanted, keys[sel])]
    behind = rw.behind_ms[np.searchsorted(rw.at, pos[sel])]
    moved[sel] = (ack_of >= 0) & (behind <= ack_of)
    return moved


def _unprocessed(view: Log, committed: dict[str, int], sent: Members, processed: Members) -> int:
    """Sent records in ``view`` at or above the committed offset of their partition (all of a
    partition without one) that the group never processed: it had not got there."""
    unprocessed: list[I64] = []
    for part, (start, hi) in view.partitions().items():
        off = committed.get(str(part))
        lo = start if off is None else max(start, int(np.searchsorted(view.pos, (part << SEQ_BITS) | int(off))))
        idx = lo + np.flatnonzero(view.known[lo:hi])
        keys = view.keys[idx]
        keys = keys[sent.of(keys)]
        unprocessed.append(keys[~processed.of(keys)])
    return len(unique(cat(unprocessed), in_place=True))
