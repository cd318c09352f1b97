"""When a consumer member's group has committed records nobody has processed: the state in which
``client_kill``'s ``committed_ahead: true`` kills it, so that an application which commits what it
polled rather than what it processed (auto-commit with a batch buffer) is certain to lose them.

The member is frozen (SIGSTOP) to look: frozen, it can neither process nor commit, so what the
broker answers and what its ledger holds describe the moment of the kill. When nothing is ahead it
runs again and the look is repeated.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from chaos.workloads.ledger import PROCESSED, read_meta

#: Seconds ``committed_ahead`` looks before it gives up.
AHEAD_WAIT = 60.0
#: Seconds between two looks, while the member runs.
LOOK_EVERY = 0.2

#: ``(group, topic)`` → committed offset per partition, as the group coordinator answers now.
CommittedOffsets = Callable[[str, str], Mapping[int, int]]


def processed_ends(ledgers: Path, group: str, topic: str) -> dict[int, int]:
    """Per partition of ``topic``, one past the highest offset any member of ``group`` has processed
    (partitions none has processed are absent). Members are the ``consumer-*`` ledgers whose meta
    names the group and topic.

    Raises:
        ValueError: a member's meta file is not a JSON object.
    """
    ends: dict[int, int] = {}
    for meta_path in sorted(ledgers.glob("consumer-*.json")):
        meta = read_meta(meta_path)
        processed = meta_path.with_suffix(".processed")
        if meta.get("group") != group or meta.get("topic") != topic or not processed.exists():
            continue
        rows = np.fromfile(processed, dtype=PROCESSED, count=processed.stat().st_size // PROCESSED.itemsize)
        for partition in np.unique(rows["partition"]):
            end = int(rows["offset"][rows["partition"] == partition].max()) + 1
            ends[int(partition)] = max(end, ends.get(int(partition), 0))
    return ends


def unprocessed_commits(committed: Mapping[int, int], processed: Mapping[int, int]) -> int:
    """Records committed but processed by no member: per partition, the committed offset less one
    past the highest processed offset (the partition's start, 0, where nothing was processed).

    >>> unprocessed_commits({0: 120, 1: 40, 2: 7}, {0: 100, 1: 55})
    27
    >>> unprocessed_commits({0: 100}, {0: 100})
    0
    """
    return sum(max(0, offset - processed.get(partition, 0)) for partition, offset in committed.items())


def freeze_when_ahead(
    member: str,
    ledgers: Path,
    committed: CommittedOffsets,
    pause: Callable[[], None],
    resume: Callable[[], None],
    timeout: float = AHEAD_WAIT,
) -> int:
    """Freeze ``member`` (``consumer-c0``) at a moment its group has committed records no member has
    processed, and leave it frozen; returns how many.

    Raises:
        TimeoutError: no such moment within ``timeout`` seconds (the member is left running).
        Exception: whatever ``committed`` raises (the member is left running).
        ValueError: the member's ledger meta is missing or not a JSON object.
    """
    meta_path = ledgers / f"{member}.json"
    deadline = time.monotonic() + timeout
    while not meta_path.exists():
        if time.monotonic() > deadline:
            raise ValueError(f"{member} has no ledger meta at {meta_path}: is it a consumer that started?")
        time.sleep(LOOK_EVERY)
    meta = read_meta(meta_path)
    group, topic = str(meta.get("group", "")), str(meta.get("topic", ""))
    while True:
        pause()
        try:
            ahead = unprocessed_commits(committed(group, topic), _settled_ends(ledgers, group, topic))
        except BaseException:
            resume()  # a look that failed must not leave the member frozen
            raise
        if ahead > 0:
            return ahead
        resume()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{member}'s group {group} committed nothing it had not processed in {timeout:.0f} s")
        time.sleep(LOOK_EVERY)


def _settled_ends(ledgers: Path, group: str, topic: str) -> dict[int, int]:
    """:func:`processed_ends` once two reads 50 ms apart agree: a driver of the line protocol has its
    ledger written by the harness, which may still be catching up with what it printed."""
    ends = processed_ends(ledgers, group, topic)
    while True:
        time.sleep(0.05)
        again = processed_ends(ledgers, group, topic)
        if again == ends:
            return ends
        ends = again
