"""Broker loss, as the oracle judges it: which acknowledged records are missing and why, and which of
them were not lost after all: delivered before retention removed them (``expired``), or superseded
by a later record of their key on a compacted topic (``superseded``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from chaos.oracle.acked import BROKER_CAUSES
from chaos.oracle.compaction import key_in_log, superseded, unknown_strategies
from chaos.oracle.consumers import Group
from chaos.oracle.keys import I64, SEQ_BITS, SEQ_MASK, Mask, member
from chaos.oracle.log import Log
from chaos.oracle.producers import ProducerInfo

StrArray = np.ndarray[Any, np.dtype[np.str_]]


@dataclass(slots=True)
class Compaction:
    """What a compacted topic's cleaner explains: broker-lost records ``superseded`` by a later
    record of their key (a mask of them), sends never acknowledged whose key the log holds
    (``doubtful``: written and cleaned, or never written; no one can tell, so unknown), and why the
    verdict cannot judge the rest."""

    superseded: Mask
    doubtful_mask: Mask
    doubtful: I64
    reasons: list[str]


def _compaction(
    drain: dict[str, Any], producers: list[ProducerInfo], log: Log, broker: I64, at: I64, cause: Any, unacked: I64
) -> Compaction:
    """See :class:`Compaction` (nothing, for a topic that is not compacted)."""
    none = Compaction(np.zeros(len(broker), dtype=bool), np.zeros(len(unacked), dtype=bool), unacked[:0], [])
    if not drain.get("compacted"):
        return none
    missing = np.flatnonzero(cause == "missing")
    unknown = unknown_strategies(producers)
    if unknown and len(missing):
        none.reasons.append(
            f"the topic is compacted and the run kept no key strategy of producers {unknown}: records missing "
            "inside the log cannot be told superseded or lost"
        )
        return none
    none.superseded[missing] = superseded(broker[missing], at[missing], log, producers)
    none.doubtful_mask = key_in_log(unacked, log, producers)
    none.doubtful = unacked[none.doubtful_mask]
    return none


def _delivered(groups: list[Group], committed: dict[str, dict[str, int]], keys: I64, at: I64) -> Mask:
    """Which of ``keys`` (acknowledged at ``at``) were delivered before retention removed them: some
    group processed each, and so did every group whose committed offset is past it (a group that
    passed one without processing it lost it). Before the groups' keys are released."""
    some = np.zeros(len(keys), dtype=bool)
    every = np.ones(len(keys), dtype=bool)
    part, off = at >> SEQ_BITS, at & SEQ_MASK
    for g in groups:
        processed = member(keys, g.keys)
        offsets = committed.get(g.name, {})
        commit = np.full(len(keys), -1, dtype=np.int64)
        for p in np.unique(part):
            commit[part == p] = int(offsets.get(str(int(p)), -1))
        some |= processed
        every &= processed | (off >= commit)
    return some & every


@dataclass(slots=True)
class BrokerLoss:
    """The broker-lost records (key, acknowledged position, cause) once retention's deliveries and
    compaction's supersessions are set aside."""

    keys: I64
    at: I64
    cause: StrArray
    counts: dict[str, int]
    expired: int
    superseded: int


def broker_loss(
    missing: tuple[I64, I64, StrArray],
    producers: list[ProducerInfo],
    producer_lost: I64,
    log: Log,
    drain: dict[str, Any],
    groups: list[Group],
) -> tuple[BrokerLoss, Compaction]:
    """Which broker-lost records (keys, acknowledged positions, causes) were not lost after all:
    delivered before retention removed them (expired) or superseded by a later record of their key."""
    broker, at, cause = missing
    below_start = cause == "below_log_start"
    committed: dict[str, dict[str, int]] = drain.get("committed", {})
    delivered = below_start.copy()
    delivered[below_start] = _delivered(groups, committed, broker[below_start], at[below_start])
    broker, at, cause = broker[~delivered], at[~delivered], cause[~delivered]
    compaction = _compaction(drain, producers, log, broker, at, cause, producer_lost)
    keep = ~compaction.superseded
    broker, at, cause = broker[keep], at[keep], cause[keep]
    counts = {c: int(np.count_nonzero(cause == c)) for c in BROKER_CAUSES}
    lost = BrokerLoss(broker, at, cause, counts, int(delivered.sum()), int(compaction.superseded.sum()))
    return lost, compaction
