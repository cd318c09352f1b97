"""Where each sent record ended (docs/verdict.md): in the log, damaged, failed, unknown, producer
loss or broker loss, from the producers' sets, the log and what it holds at each acknowledged
position. The whole run's reconcile and a soak's windows (:mod:`chaos.oracle.window`) both judge
with :func:`judge_fates`, so a window's figures are the whole run's, restricted to the window's keys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from chaos.oracle.acked import AckCheck
from chaos.oracle.keys import I64, SEQ_BITS, Mask, cat, member, unique
from chaos.oracle.log import Log
from chaos.oracle.producers import ProducerSide

#: An empty key set, for a released one (an empty slice would be a view keeping its array alive).
NONE: I64 = np.empty(0, np.int64)


@dataclass(slots=True)
class Fates:
    """Where the sent records ended: in the log (a count), damaged, failed, unknown, lost."""

    in_log: int
    duplicates: int
    acked: int
    damaged: I64
    broker: I64
    broker_unconfirmed: np.ndarray[Any, np.dtype[np.bool_]]
    failed: I64
    producer_lost: I64
    unknown: I64
    aborted: int = 0


def judge_fates(side: ProducerSide, log: Log, checked: AckCheck) -> Fates:
    """Every sent record in exactly one place (docs/verdict.md). Frees the largest sets as soon as
    they are used: the oracle's peak memory is their sum."""
    found, copies, distinct_phantoms = logged(log, side.sent)
    in_log_count = int(found.sum())  # a record nobody sent is a phantom, not in_log
    duplicates, missing = copies - in_log_count - distinct_phantoms, side.sent[~found]
    damaged = missing[member(missing, checked.damaged)]
    missing = missing[~member(missing, checked.damaged)]
    confirmed = member(missing, side.acked)
    unconfirmed = member(missing, side.unconfirmed)
    broker = missing[confirmed | unconfirmed]
    broker_unconfirmed = member(broker, side.unconfirmed) & ~member(broker, side.acked)
    acked = len(side.acked)
    side.acked = NONE  # not side.acked[:0]: a view would keep the whole array alive
    rest = missing[~(confirmed | unconfirmed)]
    del missing
    producer_of = rest >> SEQ_BITS
    # An error the application saw is final, except for a mode that keeps the record and resends it.
    final_error = member(rest, side.seen) & ~side.retries[producer_of]
    went_on = side.goes_on[producer_of] & side.returned.contains(rest)
    swallowed = member(rest, side.swallowed)
    return Fates(
        in_log=in_log_count,
        duplicates=duplicates,
        acked=acked,
        damaged=damaged,
        broker=broker,
        broker_unconfirmed=broker_unconfirmed,
        failed=rest[final_error],
        producer_lost=rest[~final_error & (went_on | swallowed)],
        unknown=rest[~final_error & ~(went_on | swallowed)],
    )


def logged(log: Log, sent: I64, chunk: int = 1 << 21) -> tuple[Mask, int, int]:
    """Which of ``sent`` the log holds, how many copies of records of this run it holds, and how
    many distinct keys of no sent record. A pass over the log a chunk at a time, marking ``sent``:
    no sorted copy of the log's keys (16 bytes a record with its sort, at the oracle's peak)."""
    found = np.zeros(len(sent), dtype=bool)
    copies = 0
    strays: list[I64] = []
    for lo in range(0, len(log), chunk):
        keys = log.keys[lo : lo + chunk]
        keys = keys[keys >= 0]
        copies += len(keys)
        idx = np.minimum(np.searchsorted(sent, keys), max(len(sent) - 1, 0))
        hit = sent[idx] == keys if len(sent) else np.zeros(len(keys), dtype=bool)
        found[idx[hit]] = True
        strays.append(keys[~hit])
    return found, copies, len(unique(cat(strays), in_place=True))
