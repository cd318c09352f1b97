"""The soak's tail reader, on a fake consumer: what it reads goes to the segment of its window, it is
caught up only once it has read to where the partitions ended when it asked, and a log cut below
what it read stops it with the reason (the real reader: tests/integration/test_soak.py)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import SimpleNamespace

import confluent_kafka as ck
import numpy as np
import pytest

from chaos.waiting import wait_until
from chaos.workloads.envelope import encode
from chaos.workloads.ledger import LOG_RECORD
from chaos.workloads.tail import TailReader, segment_path

TOPIC = "t"


class FakeMessage:
    def __init__(self, offset: int, value: bytes | None, error: ck.KafkaError | None = None) -> None:
        self._offset, self._value, self._error = offset, value, error

    def error(self) -> ck.KafkaError | None:
        return self._error

    def value(self) -> bytes | None:
        return self._value

    def key(self) -> bytes | None:
        return None

    def headers(self) -> None:
        return None

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset


class FakeConsumer:
    """One partition whose log the test appends to; consume() gives what is below its end."""

    def __init__(self) -> None:
        self.log: list[bytes] = []
        self.pos = 0
        self.fail: ck.KafkaError | None = None
        self.closed = False
        self.slow = False
        #: Offsets the fake does not deliver (a gap), or delivers twice.
        self.skip: set[int] = set()
        self.twice: set[int] = set()

    def list_topics(self, topic: str, timeout: float) -> SimpleNamespace:
        return SimpleNamespace(topics={topic: SimpleNamespace(error=None, partitions={0: None})})

    def assign(self, tps: list[ck.TopicPartition]) -> None:
        assert [tp.offset for tp in tps] == [ck.OFFSET_BEGINNING]

    def get_watermark_offsets(self, tp: ck.TopicPartition, timeout: float, cached: bool) -> tuple[int, int]:
        return 0, len(self.log)

    def position(self, tps: list[ck.TopicPartition]) -> list[ck.TopicPartition]:
        return [ck.TopicPartition(TOPIC, 0, self.pos if self.pos else ck.OFFSET_INVALID)]

    def consume(self, num_messages: int, timeout: float) -> list[FakeMessage]:
        if self.fail is not None:
            return [FakeMessage(-1, None, self.fail)]
        if self.slow:  # one record a call, 50 ms each: a reader slower than the writer
            time.sleep(0.05)
            num_messages = 1
        got = [FakeMessage(i, v) for i, v in enumerate(self.log) if i >= self.pos][:num_messages]
        self.pos += len(got)
        got = [m for m in got if m.offset() not in self.skip]
        got = [c for m in got for c in ([m, m] if m.offset() in self.twice else [m])]
        if not got:
            time.sleep(timeout)
        return got

    def close(self) -> None:
        self.closed = True


def _rows(path: Path) -> np.ndarray:
    return np.fromfile(path, dtype=LOG_RECORD) if path.exists() else np.empty(0, LOG_RECORD)


def test_records_go_to_the_segment_they_were_read_in_and_catching_up_is_told(tmp_path: Path) -> None:
    consumer = FakeConsumer()
    consumer.log = [encode("r1", "p0", seq, b"xy") for seq in range(3)]
    tail = TailReader("b", TOPIC, "r1", tmp_path, reader=lambda: consumer)  # type: ignore[arg-type,return-value]  # a fake of its calls
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


def _stopped(consumer: FakeConsumer, directory: Path) -> TailReader:
    """A reader of ``consumer``, once it has stopped with a problem."""
    tail = TailReader("b", TOPIC, "r1", directory, reader=lambda: consumer)  # type: ignore[arg-type,return-value]  # a fake of its calls
    tail.start()
    try:
        wait_until(lambda: tail.problem, 10, "the reader to stop")
    finally:
        tail.stop()
    return tail


def test_a_log_cut_below_what_it_read_stops_it_with_the_reason(tmp_path: Path) -> None:
    consumer = FakeConsumer()
    consumer.fail = ck.KafkaError(ck.KafkaError._AUTO_OFFSET_RESET)
    tail = _stopped(consumer, tmp_path)
    assert "cut below what the tail reader had read" in str(tail.problem)
    assert tail.caught_up_at == 0.0


def test_a_reader_that_stays_behind_still_says_which_moments_it_caught_up_with(tmp_path: Path) -> None:
    """Where the partitions ended at each ask is kept until the reader gets there: one that never
    reaches the newest end still says it has read everything up to an earlier moment."""
    consumer = FakeConsumer()
    consumer.slow = True  # 30 records: 1.5 s to read, past the second ask
    consumer.log = [encode("r1", "p0", seq, b"xy") for seq in range(30)]
    stop = threading.Event()

    def write() -> None:  # 40 records a second against the reader's 20
        seq = 30
        while not stop.wait(0.025):
            consumer.log.append(encode("r1", "p0", seq, b"xy"))
            seq += 1

    writer = threading.Thread(target=write, daemon=True)
    started = time.time()
    tail = TailReader("b", TOPIC, "r1", tmp_path, reader=lambda: consumer)  # type: ignore[arg-type,return-value]  # a fake of its calls
    writer.start()
    tail.start()
    try:
        wait_until(lambda: tail.caught_up_at >= started or None, 10, "caught up with the first ask")
        assert len(consumer.log) > consumer.pos  # still behind the newest records
    finally:
        stop.set()
        tail.stop()


@pytest.mark.parametrize(("skip", "twice", "said"), [({2}, set(), "skipped"), (set(), {1}, "read again")])
def test_a_record_skipped_or_read_twice_stops_it_with_the_reason(
    tmp_path: Path, skip: set[int], twice: set[int], said: str
) -> None:
    """A gap in the offsets it read would be records the windows call lost; a record read twice, a
    duplicate that is not in the log: either makes its windows unsure, not judged on a bad copy."""
    consumer = FakeConsumer()
    consumer.log = [encode("r1", "p0", seq, b"xy") for seq in range(5)]
    consumer.skip, consumer.twice = skip, twice
    tail = _stopped(consumer, tmp_path)
    assert f"the tail reader {said} offsets of partition 0" in str(tail.problem)
