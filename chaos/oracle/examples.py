"""How a record is named in a verdict's examples: producer and sequence number, partition and offset."""

from __future__ import annotations

from typing import Any

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
