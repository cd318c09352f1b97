"""A partition log with transactions, read through kafka-python's consumer interface, for running
the real :func:`chaos.workloads.drain.drain` without a cluster.

Each partition is a list of entries at consecutive offsets from its log start: a record (with the
transaction that wrote it, if any) or a commit/abort marker. A read_uncommitted reader is given
every record; a read_committed one the records of no transaction or of a committed one, and only
below the last stable offset (the first offset of a transaction still open). Neither is given a
marker: its offset is simply not returned, as Kafka does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from kafka import TopicPartition

from chaos.rundir import LEDGERS
from chaos.workloads.envelope import encode
from chaos.workloads.ledger import PRODUCER_EVENT, Kind, write_meta


@dataclass
class Entry:
    """One offset: a record (``value``) of transaction ``txn`` (None: none), or a marker."""

    value: bytes | None = None
    txn: int | None = None
    marker: bool = False


@dataclass
class FakeRecord:
    partition: int
    offset: int
    value: bytes | None
    key: bytes | None = None
    headers: list[tuple[str, bytes]] | None = None


@dataclass
class FakeLog:
    """``partitions[p]``: entries from offset ``start[p]``; ``outcome[txn]``: committed, aborted or
    None (still open)."""

    run_id: str = "r1"
    partitions: dict[int, list[Entry]] = field(default_factory=dict)
    start: dict[int, int] = field(default_factory=dict)
    outcome: dict[int, str | None] = field(default_factory=dict)

    def write(self, partition: int, producer: str, seq: int, txn: int | None = None) -> int:
        """Append record ``seq`` of ``producer``; returns its offset."""
        entries = self.partitions.setdefault(partition, [])
        entries.append(Entry(encode(self.run_id, producer, seq, b"x"), txn))
        return self.start.get(partition, 0) + len(entries) - 1

    def end_txn(self, txn: int, outcome: str, partitions: list[int]) -> None:
        """Decide ``txn`` and write its marker in each of ``partitions``."""
        self.outcome[txn] = outcome
        for p in partitions:
            self.partitions.setdefault(p, []).append(Entry(marker=True))

    def markers(self, partition: int) -> set[int]:
        """The offsets of ``partition`` that hold markers (what Kafka's segment dump would say)."""
        base = self.start.get(partition, 0)
        return {base + i for i, e in enumerate(self.partitions.get(partition, [])) if e.marker}

    def visible(self, e: Entry, committed: bool) -> bool:
        if e.marker:
            return False
        return not committed or e.txn is None or self.outcome.get(e.txn) == "committed"

    def stable_end(self, partition: int) -> int:
        entries = self.partitions.get(partition, [])
        base = self.start.get(partition, 0)
        for i, e in enumerate(entries):
            if e.txn is not None and self.outcome.get(e.txn) is None:
                return base + i
        return base + len(entries)

    def consumer(self, **kwargs: Any) -> FakeConsumer:
        """What ``KafkaConsumer(**kwargs)`` gives."""
        return FakeConsumer(self, kwargs.get("isolation_level", "read_uncommitted") == "read_committed")


class FakeConsumer:
    """The part of kafka-python's ``KafkaConsumer`` the drain uses."""

    def __init__(self, log: FakeLog, committed: bool) -> None:
        self.log, self.committed = log, committed
        self.next: dict[int, int] = {}

    def partitions_for_topic(self, topic: str) -> set[int]:
        return set(self.log.partitions)

    def assign(self, tps: list[TopicPartition]) -> None:
        self.next = {tp.partition: self.log.start.get(tp.partition, 0) for tp in tps}

    def seek_to_beginning(self, *tps: TopicPartition) -> None:
        for tp in tps:
            self.next[tp.partition] = self.log.start.get(tp.partition, 0)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.next[tp.partition] = offset

    def _end(self, p: int) -> int:
        if self.committed:
            return self.log.stable_end(p)
        return self.log.start.get(p, 0) + len(self.log.partitions.get(p, []))

    def end_offsets(self, tps: list[TopicPartition], timeout_ms: int | None = None) -> dict[TopicPartition, int]:
        return {tp: self._end(tp.partition) for tp in tps}

    def beginning_offsets(self, tps: list[TopicPartition], timeout_ms: int | None = None) -> dict[TopicPartition, int]:
        return {tp: self.log.start.get(tp.partition, 0) for tp in tps}

    def position(self, tp: TopicPartition, timeout_ms: int | None = None) -> int:
        return self.next[tp.partition]

    def poll(self, timeout_ms: int = 0, max_records: int = 500) -> dict[TopicPartition, list[FakeRecord]]:
        out: dict[TopicPartition, list[FakeRecord]] = {}
        for p, at in self.next.items():
            base, entries, end = self.log.start.get(p, 0), self.log.partitions.get(p, []), self._end(p)
            got = [
                FakeRecord(p, o, entries[o - base].value)
                for o in range(at, end)
                if self.log.visible(entries[o - base], self.committed)
            ]
            if got:
                out[TopicPartition("t", p)] = got
            self.next[p] = max(at, end)  # past markers and aborted records, as Kafka's fetch moves on
        return out

    def close(self) -> None:
        pass


def write_transactional(run_dir: Path, fake: FakeLog, txns: list[tuple[int, str]], partitions: int = 1) -> None:
    """Transactional producer p0 writes ``txns`` (size, ``committed`` or ``aborted``) through
    ``fake``, record ``seq`` to partition ``seq % partitions``, and its ledger says so."""
    ledgers = run_dir / LEDGERS
    ledgers.mkdir(parents=True, exist_ok=True)
    write_meta(run_dir / "run.json", {"run_id": "r1", "experiment": "truth"})
    write_meta(ledgers / "producer-p0.json", {"producer": "p0", "mode": "transactional", "start_ns": 0})
    events, acks, seq = [], [], 0
    for txn, (size, outcome) in enumerate(txns):
        events += [(Kind.INTENT, seq, seq + size, -1, -1, 0, 0), (Kind.RETURNED, seq, seq + size, -1, -1, 0, 0)]
        for s in range(seq, seq + size):
            acks.append((Kind.ACK, s, s + 1, s % partitions, fake.write(s % partitions, "p0", s, txn), 0, 0))
        ends = [Kind.COMMITTING, Kind.COMMITTED] if outcome == "committed" else [Kind.ABORTED]
        events += [(k, seq, seq + size, -1, -1, 0, 0) for k in ends]
        fake.end_txn(txn, outcome, sorted({s % partitions for s in range(seq, seq + size)}))
        seq += size
    np.array(events, dtype=PRODUCER_EVENT).tofile(ledgers / "producer-p0.events")
    np.array(acks, dtype=PRODUCER_EVENT).tofile(ledgers / "producer-p0.acks")
