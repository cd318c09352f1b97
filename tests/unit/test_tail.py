"""The soak's tail reader, on a fake consumer: what it reads goes to the segment of its window, it is
caught up only once it has read to where the partitions ended when it asked, and a log cut below
what it read stops it with the reason (the real reader: tests/integration/test_soak.py)."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
from kafka import TopicPartition
from kafka.errors import OffsetOutOfRangeError

from chaos.waiting import wait_until
from chaos.workloads.envelope import encode
from chaos.workloads.ledger import LOG_RECORD
from chaos.workloads.tail import TailReader, segment_path

TOPIC = "t"


class FakeConsumer:
    """One partition whose log the test appends to; polls give what is below its end."""

    def __init__(self) -> None:
        self.log: list[bytes] = []
        self.pos = 0
        self.fail: Exception | None = None
        self.closed = False

    def partitions_for_topic(self, topic: str) -> set[int]:
        return {0}

    def assign(self, tps: list[TopicPartition]) -> None:
        self.tp = tps[0]

    def seek_to_beginning(self, *tps: TopicPartition) -> None:
        self.pos = 0

    def end_offsets(self, tps: list[TopicPartition], timeout_ms: int | None = None) -> dict[TopicPartition, int]:
        return {self.tp: len(self.log)}

    def position(self, tp: TopicPartition, timeout_ms: int | None = None) -> int:
        return self.pos

    def poll(self, timeout_ms: int = 0, max_records: int = 0) -> dict[TopicPartition, list[Any]]:
        if self.fail is not None:
            raise self.fail
        got = [
            SimpleNamespace(offset=i, value=v, key=None, headers=[]) for i, v in enumerate(self.log) if i >= self.pos
        ]
        self.pos = len(self.log)
        if not got:
            time.sleep(timeout_ms / 1000)
        return {self.tp: got} if got else {}

    def close(self) -> None:
        self.closed = True


def _rows(path: Path) -> np.ndarray:
    return np.fromfile(path, dtype=LOG_RECORD) if path.exists() else np.empty(0, LOG_RECORD)


def test_records_go_to_the_segment_they_were_read_in_and_catching_up_is_told(tmp_path: Path) -> None:
    consumer = FakeConsumer()
    consumer.log = [encode("r1", "p0", seq, b"xy") for seq in range(3)]
    tail = TailReader("b", TOPIC, "r1", tmp_path, new_reader=lambda: consumer)
    tail.start()
    try:
        wait_until(lambda: tail.caught_up_at > 0 or None, 10, "caught up")
        assert tail.rotate() == 2
        asked = time.time()
        consumer.log += [encode("r1", "p0", seq, b"xy") for seq in range(3, 5)]
        wait_until(lambda: tail.caught_up_at >= asked or None, 10, "caught up again")
    finally:
        tail.stop()
    first, second = _rows(segment_path(tmp_path, 1)), _rows(segment_path(tmp_path, 2))
    assert first["seq"].tolist() == [0, 1, 2] and second["seq"].tolist() == [3, 4]
    assert second["offset"].tolist() == [3, 4] and tail.records == 5 and tail.problem is None
    assert consumer.closed


def test_a_log_cut_below_what_it_read_stops_it_with_the_reason(tmp_path: Path) -> None:
    consumer = FakeConsumer()
    consumer.fail = OffsetOutOfRangeError({"t-0": 7})
    tail = TailReader("b", TOPIC, "r1", tmp_path, new_reader=lambda: consumer)
    tail.start()
    try:
        wait_until(lambda: tail.problem, 10, "the reader to stop")
    finally:
        tail.stop()
    assert "cut below what the tail reader had read" in str(tail.problem)
    assert tail.caught_up_at == 0.0
