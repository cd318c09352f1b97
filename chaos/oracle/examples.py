"""How a record is named in a verdict's examples: producer and sequence number, partition and offset."""

from __future__ import annotations

from typing import Any

import numpy as np

from chaos.oracle.keys import SEQ_BITS, SEQ_MASK
from chaos.oracle.log import Log
from chaos.oracle.producers import ProducerInfo


def example(producers: list[ProducerInfo], key: int, pos: int = -1) -> dict[str, Any]:
    return {
        "producer": producers[key >> SEQ_BITS].id,
        "seq": key & SEQ_MASK,
        "partition": pos >> SEQ_BITS if pos >= 0 else None,
        "offset": pos & SEQ_MASK if pos >= 0 else None,
    }


def log_example(log: Log, producers: list[ProducerInfo], i: int) -> dict[str, Any]:
    key = int(log.keys[i])
    entry = example(producers, key) if key >= 0 else {"producer": None, "seq": None}
    return {**entry, "partition": log.partition(i), "offset": log.offset(i)}


def position_example(log: Log, producers: list[ProducerInfo], pos: int) -> dict[str, Any]:
    """The record the log holds at ``pos``; where it holds none the drain read, a transaction marker
    (``marker``: true)."""
    i = int(log.at(np.array([pos], dtype=np.int64))[0])
    if i >= 0:
        return log_example(log, producers, i)
    return {"producer": None, "seq": None, "partition": pos >> SEQ_BITS, "offset": pos & SEQ_MASK, "marker": True}
