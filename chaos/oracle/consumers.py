"""The consumers' side of a run: what each group processed, what it processed twice, and what it
skipped below its committed offsets (consumer loss)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from chaos.oracle.keys import I64, SEQ_BITS, cat, member, positions, unique
from chaos.oracle.log import Log, _map_tags
from chaos.workloads.envelope import Status
from chaos.workloads.ledger import EPOCH, LEDGERS, PROCESSED, read_meta, read_records


@dataclass(slots=True)
class Group:
    """One consumer group's processing: distinct records, repeated positions, members, bad rows,
    and the poll anomalies of its members (log indexes of a few of each)."""

    name: str
    keys: I64
    duplicates: int
    members: list[str]
    invalid_rows: int
    skips: int = 0
    steps_back: int = 0
    skip_examples: list[tuple[str, int, int]] = field(default_factory=list)
    back_examples: list[tuple[str, int, int]] = field(default_factory=list)


def _epochs(path: Path, rows: int) -> I64:
    """The epoch of each of ``rows`` processed rows, from the member's ``.epochs`` file."""
    starts = np.concatenate([chunk.astype(np.int64) for chunk in read_records(path, EPOCH)] or [np.zeros(0, np.int64)])
    out: I64 = np.searchsorted(np.sort(starts), np.arange(rows, dtype=np.int64), side="right")
    return out


def _poll_anomalies(member: str, where: I64, epoch: I64, log: Log, group: Group, limit: int) -> None:
    """Within one epoch of one member, a partition's processed offsets must follow one another:
    a later one that jumps over records the log holds is a skip, one at or below the previous a
    step back (Jepsen's poll-skip and nonmonotonic-poll)."""
    if len(where) < 2:
        return
    part = where >> SEQ_BITS
    order = np.argsort((epoch << 23) | part, kind="stable")  # file order kept inside each (epoch, partition)
    pos, ep, pt = where[order], epoch[order], part[order]
    same = (ep[1:] == ep[:-1]) & (pt[1:] == pt[:-1])
    step = pos[1:] - pos[:-1]
    back = same & (step <= 0)
    jump = np.flatnonzero(same & (step > 1))
    # a jump is a skip only where the log holds a record strictly between the two offsets
    between = np.searchsorted(log.pos, pos[jump + 1]) - np.searchsorted(log.pos, pos[jump] + 1)
    skipped = jump[between > 0]
    group.skips += len(skipped)
    group.steps_back += int(back.sum())
    for i in skipped[: max(0, limit - len(group.skip_examples))]:
        group.skip_examples.append((member, int(pos[i]), int(pos[i + 1])))
    for i in np.flatnonzero(back)[: max(0, limit - len(group.back_examples))]:
        group.back_examples.append((member, int(pos[i]), int(pos[i + 1])))


def load_groups(run_dir: Path, tag_to_index: dict[int, int], log: Log, limit: int) -> list[Group]:
    """Every group of the run, from ``ledgers/consumer-*.json`` and the members' processed ledgers."""
    groups: dict[str, Group] = {}
    parts: dict[str, tuple[list[I64], list[I64]]] = {}
    for meta_path in sorted((run_dir / LEDGERS).glob("consumer-*.json")):
        meta = read_meta(meta_path)
        name, member = str(meta["group"]), str(meta["member"])
        group = groups.setdefault(name, Group(name, np.empty(0, np.int64), 0, [], 0))
        keys, where = parts.setdefault(name, ([], []))
        group.members.append(member)
        mine: list[I64] = []
        for rows in read_records(meta_path.with_suffix(".processed"), PROCESSED):
            bad = (rows["status"] > Status.FOREIGN) | (rows["offset"] < 0) | (rows["partition"] < 0)
            group.invalid_rows += int(bad.sum())
            chunk = rows[~bad]
            index = _map_tags(chunk["tag"], tag_to_index)
            ok = (chunk["status"] == Status.VALID) & (index >= 0) & (chunk["seq"] >= 0)
            keys.append((index[ok] << SEQ_BITS) | chunk["seq"][ok].astype(np.int64))
            mine.append(positions(chunk["partition"], chunk["offset"]))
        member_pos = cat(mine)
        epoch = _epochs(meta_path.with_suffix(".epochs"), len(member_pos))
        _poll_anomalies(member, member_pos, epoch, log, group, limit)
        where.append(member_pos)
    for name, group in groups.items():
        keys, where = parts[name]
        pos = cat(where)
        where.clear()
        pos.sort()
        group.duplicates = int(np.count_nonzero(pos[1:] == pos[:-1]))
        del pos
        all_keys = cat(keys)
        keys.clear()
        group.keys = unique(all_keys, in_place=True)
    return list(groups.values())


@dataclass(slots=True)
class ConsumerLoss:
    """Consumer loss summed over groups, and the log indexes (with their group) of a few."""

    lost: int
    examples: list[tuple[int, str]]


def consumer_loss(
    groups: list[Group], committed: dict[str, dict[str, int]], log: Log, sent: I64, limit: int
) -> ConsumerLoss:
    """Per group: records of this run in the log below the group's committed offset that the group
    never processed (a phantom below it is reported as a phantom, not as loss)."""
    lost = 0
    examples: list[tuple[int, str]] = []
    for group in groups:
        lost_keys: list[I64] = []
        for part, off in committed.get(group.name, {}).items():
            lo = int(np.searchsorted(log.pos, int(part) << SEQ_BITS))
            hi = int(np.searchsorted(log.pos, (int(part) << SEQ_BITS) | int(off)))
            idx = lo + np.flatnonzero(log.known[lo:hi])
            idx = idx[member(log.keys[idx], sent)]
            idx = idx[~member(log.keys[idx], group.keys)]
            lost_keys.append(log.keys[idx])
            examples += [(int(i), group.name) for i in idx[: max(0, limit - len(examples))]]
        lost += len(unique(cat(lost_keys), in_place=True))
    return ConsumerLoss(lost, examples)
