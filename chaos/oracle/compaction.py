"""A compacted topic (``cleanup.policy=compact``): Kafka's cleaner removes a record once a later
record of the same key is in the same partition, and a reader is never given it again. An
acknowledged record missing from such a log, at a position inside it, whose key has a later record
in that partition was **superseded**: what compaction promises, not loss.

A record's key is not in the drain's rows; it follows from its producer's key strategy
(:meth:`chaos.workloads.producer.ProducerWorkload.key_for`): ``spread`` keys record ``seq`` with
its decimal digits (so records of two producers with one sequence number share a key), ``pinned``
with the producer's id, ``none`` with no key (Kafka refuses those on a compacted topic). Keys are
compared as int64 identities: a decimal key as its number, any other as the negated CRC-32 of its
bytes (two producer ids with one CRC-32 would be taken for one key: 1 in 2^32).
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np

from chaos.oracle.keys import I64, SEQ_BITS, SEQ_MASK, Mask
from chaos.oracle.log import Log
from chaos.oracle.producers import ProducerInfo


def key_identities(keys: I64, producers: list[ProducerInfo]) -> tuple[I64, Mask]:
    """Each record's key identity, and which records have a key the oracle knows (a producer of
    strategy ``none``, or one whose strategy the run did not keep, has none)."""
    producer = keys >> SEQ_BITS
    ids: I64 = np.zeros(len(keys), dtype=np.int64)
    keyed: Mask = np.zeros(len(keys), dtype=bool)
    for p in producers:
        mine = producer == p.index
        if p.keys == "spread":
            ids[mine] = keys[mine] & SEQ_MASK
        elif p.keys == "pinned":
            ids[mine] = int(p.id) if p.id.isdigit() else -(1 + zlib.crc32(p.id.encode()))
        else:
            continue
        keyed |= mine
    return ids, keyed


def unknown_strategies(producers: list[ProducerInfo]) -> list[str]:
    """The producers whose key strategy the run did not keep."""
    return [p.id for p in producers if p.keys is None]


def superseded(lost: I64, lost_at: I64, log: Log, producers: list[ProducerInfo]) -> Mask:
    """Which of the ``lost`` records (acknowledged at ``lost_at``, absent) have a later record of
    their key, at a higher offset of their partition, in ``log``."""
    out: Mask = np.zeros(len(lost), dtype=bool)
    ids, keyed = key_identities(lost, producers)
    if not keyed.any() or not len(log):
        return out
    held = np.flatnonzero(log.known)
    log_ids, log_keyed = key_identities(log.keys[held], producers)
    pos = log.pos[held][log_keyed]
    log_ids = log_ids[log_keyed]
    part, off = pos >> SEQ_BITS, pos & SEQ_MASK
    lost_part, lost_off = lost_at >> SEQ_BITS, lost_at & SEQ_MASK
    for p in np.unique(lost_part[keyed & (lost_at >= 0)]):
        last = _last_offset_by_key(log_ids[part == p], off[part == p])
        if last is None:
            continue
        known_ids, last_off = last
        sel = np.flatnonzero(keyed & (lost_part == p) & (lost_at >= 0))
        at = np.minimum(np.searchsorted(known_ids, ids[sel]), len(known_ids) - 1)
        out[sel] = (known_ids[at] == ids[sel]) & (last_off[at] > lost_off[sel])
    return out


def key_in_log(keys: I64, log: Log, producers: list[ProducerInfo]) -> Mask:
    """Which of ``keys`` share their key with some record the log holds (any partition)."""
    ids, keyed = key_identities(keys, producers)
    log_ids, log_keyed = key_identities(log.keys[log.known], producers)
    present = np.unique(log_ids[log_keyed])
    if not len(present):
        return np.zeros(len(keys), dtype=bool)
    at = np.minimum(np.searchsorted(present, ids), len(present) - 1)
    found: Mask = keyed & (present[at] == ids)
    return found


def _last_offset_by_key(ids: I64, offsets: np.ndarray[Any, Any]) -> tuple[I64, I64] | None:
    """Sorted distinct key identities and the highest offset each has."""
    if not len(ids):
        return None
    order = np.lexsort((offsets, ids))
    ids, offsets = ids[order], offsets[order]
    last = np.ones(len(ids), dtype=bool)
    last[:-1] = ids[1:] != ids[:-1]
    return ids[last], offsets[last].astype(np.int64)
