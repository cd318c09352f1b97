"""The consumers' side of a run: what each group processed, what it processed twice, and what it
skipped below its committed offsets (consumer loss)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from chaos.oracle.keys import I64, SEQ_BITS, cat, member, positions, unique
from chaos.oracle.log import Log, _map_tags
from chaos.workloads.envelope import Status
from chaos.workloads.ledger import LEDGERS, PROCESSED, read_meta, read_records


@dataclass(slots=True)
class Group:
    """One consumer group's processing: distinct records, repeated positions, members, bad rows."""

    name: str
    keys: I64
    duplicates: int
    members: list[str]
    invalid_rows: int


def load_groups(run_dir: Path, tag_to_index: dict[int, int]) -> list[Group]:
    """Every group of the run, from ``ledgers/consumer-*.json`` and the members' processed ledgers."""
    parts: dict[str, tuple[list[I64], list[I64], list[str], list[int]]] = {}
    for meta_path in sorted((run_dir / LEDGERS).glob("consumer-*.json")):
        meta = read_meta(meta_path)
        keys, where, members, invalid = parts.setdefault(str(meta["group"]), ([], [], [], [0]))
        members.append(str(meta["member"]))
        for rows in read_records(meta_path.with_suffix(".processed"), PROCESSED):
            bad = (rows["status"] > Status.FOREIGN) | (rows["offset"] < 0) | (rows["partition"] < 0)
            invalid[0] += int(bad.sum())
            chunk = rows[~bad]
            index = _map_tags(chunk["tag"], tag_to_index)
            ok = (chunk["status"] == Status.VALID) & (index >= 0) & (chunk["seq"] >= 0)
            keys.append((index[ok] << SEQ_BITS) | chunk["seq"][ok].astype(np.int64))
            where.append(positions(chunk["partition"], chunk["offset"]))
    groups = []
    for name, (keys, where, members, invalid) in parts.items():
        pos = cat(where)
        where.clear()
        pos.sort()
        duplicates = int(np.count_nonzero(pos[1:] == pos[:-1]))
        del pos
        all_keys = cat(keys)
        keys.clear()
        groups.append(Group(name, unique(all_keys, in_place=True), duplicates, members, invalid[0]))
    return groups


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
