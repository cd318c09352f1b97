"""The moments ``client_kill``'s ``when`` waits for, so that what a kill does is certain rather than likely:

* ``committed_ahead`` — a consumer member's group has committed records no member has processed, so
  an application that commits what it polled rather than what it processed (auto-commit with a
  batch buffer) is certain to lose them;
* ``holding`` — a share group member holds records a poll gave it and it has not decided on
  (its ``.deliveries`` ledger ends with :attr:`~chaos.workloads.share_ledger.Ack.DELIVERED` rows its
  running process wrote) below the delivery count limit, so the broker is certain to deliver them
  again once their acquisition lock expires (one at the limit it archives instead).

The member is frozen (SIGSTOP) to look: frozen, it can neither process, commit nor acknowledge, so
what the broker answers and what its ledgers hold describe the moment of the kill. When the moment
has not come it runs again and the look is repeated.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from chaos.workloads.ledger import PROCESSED, read_meta
from chaos.workloads.share_ledger import DELIVERIES, SHARE_DELIVERY, Ack

#: Seconds a ``when`` looks before it gives up.
MOMENT_WAIT = 90.0
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


def freeze_when(
    what: str,
    look: Callable[[], int],
    pause: Callable[[], None],
    resume: Callable[[], None],
    timeout: float = MOMENT_WAIT,
) -> int:
    """Freeze a member at a moment ``look`` (called while it is frozen) finds something (a count > 0)
    and leave it frozen; returns the count. ``what`` names the moment for the timeout's message.

    Raises:
        TimeoutError: no such moment within ``timeout`` seconds (the member is left running).
        Exception: whatever ``look`` raises (the member is left running).
    """
    deadline = time.monotonic() + timeout
    while True:
        pause()
        try:
            found = look()
        except BaseException:
            resume()  # a look that failed must not leave the member frozen
            raise
        if found > 0:
            return found
        resume()
        if time.monotonic() > deadline:
            raise TimeoutError(f"no moment when {what} came in {timeout:.0f} s")
        time.sleep(LOOK_EVERY)


def member_meta(ledgers: Path, member: str, timeout: float = MOMENT_WAIT) -> dict[str, object]:
    """The meta of ``member`` (``consumer-c0``), once its process has written it.

    Raises:
        ValueError: none within ``timeout`` seconds, or it is not a JSON object.
    """
    meta_path = ledgers / f"{member}.json"
    deadline = time.monotonic() + timeout
    while not meta_path.exists():
        if time.monotonic() > deadline:
            raise ValueError(f"{member} has no ledger meta at {meta_path}: is it a consumer that started?")
        time.sleep(LOOK_EVERY)
    return dict(read_meta(meta_path))


def committed_ahead(ledgers: Path, group: str, topic: str, committed: CommittedOffsets) -> Callable[[], int]:
    """A look: records ``group`` has committed that no member has processed."""
    return lambda: unprocessed_commits(committed(group, topic), _settled_ends(ledgers, group, topic))


def holding(ledgers: Path, member: str, limit: int) -> Callable[[], int]:
    """A look: records the share group ``member`` was given and has not decided on, whose delivery
    count is below ``limit`` (the trailing :attr:`Ack.DELIVERED` rows of its ledger: a member writes a
    poll's deliveries in one write, and its decisions on them in the next; a count of 0, unknown, is
    taken as below). Only rows written after the look was made count: rows a killed process of the
    member left undecided are no longer held by the one that runs now."""
    path = (ledgers / member).with_suffix(DELIVERIES)
    before = path.stat().st_size // SHARE_DELIVERY.itemsize if path.exists() else 0

    def look() -> int:
        if not path.exists():
            return 0
        rows = path.stat().st_size // SHARE_DELIVERY.itemsize
        tail = np.fromfile(path, dtype=SHARE_DELIVERY, count=rows)[before:][::-1]
        decided = np.flatnonzero(tail["ack"] != Ack.DELIVERED)
        held = tail[: decided[0] if len(decided) else len(tail)]
        return int(np.count_nonzero(held["count"] < limit))

    return look


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
