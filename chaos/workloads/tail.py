"""A soak's tail reader (docs/soak.md, "Judged in windows"): one group-less reader that follows the
topic from its beginning while the soak runs and appends every record it reads, as the drain does
(``drain/log.bin``'s rows), to a segment file of the window it was read in:
``drain/tail/segment-<n>.bin``. Segments are rotated by :meth:`TailReader.rotate` and removed by
whoever judged them.

It reads with librdkafka (confluent-kafka) rather than the drain's kafka-python: it runs for the
whole soak beside the workloads, and at 1M records it spent 4.3 s of CPU where kafka-python spent
9.7 s (most of the rest is the envelope's check, shared with the drain). Like the drain it never
guesses: an offset out of range (the log was cut below what it read: an unclean election,
retention, a power loss) stops it (``auto.offset.reset=error``), and :attr:`TailReader.problem`
says why, so the windows judged from it are unsure. It reads what every reader may read: records
below each partition's high watermark, committed to the in-sync replicas.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import cast

import confluent_kafka as ck

from chaos.workloads.envelope import RowDecoder
from chaos.workloads.ledger import LOG_STRUCT, AppendFile
from chaos.workloads.security import Brokers, brokers_of
from chaos.workloads.shape import header_value

log = logging.getLogger(__name__)

#: How often the reader asks where the partitions end, in seconds.
ASK_EVERY_S = 1.0
#: Errors that mean the log no longer holds what the reader was to read next.
CUT = frozenset({ck.KafkaError._AUTO_OFFSET_RESET, ck.KafkaError.OFFSET_OUT_OF_RANGE})  # noqa: SLF001  # its public name


def _skipped(partition: int | None, offset: int | None, expected: dict[int, int]) -> str | None:
    """Why the record at ``offset`` of ``partition`` is not the next one (None: it is), and the next
    expected offset moved past it. A topic judged in windows has no transaction markers and no
    compaction, and the run created it: its offsets run from 0 without a gap."""
    if partition is None or offset is None or partition not in expected:
        return f"the tail reader read a record of no partition it was following ({partition}, {offset})"
    want, expected[partition] = expected[partition], offset + 1
    if offset == want:
        return None
    how = "skipped" if offset > want else "read again"
    return f"the tail reader {how} offsets of partition {partition}: expected {want}, read {offset}"


def segment_path(directory: Path, n: int) -> Path:
    """The file of segment ``n``."""
    return directory / f"segment-{n:06d}.bin"


class _ClientLog:
    """Where librdkafka's own log lines go: this module's debug log, not the terminal (a broker
    killed by the soak is a disconnect the client reports, every period)."""

    def log(self, level: int, msg: str, *args: object) -> None:
        log.debug(msg, *args)


def new_reader(bootstrap_servers: Brokers | str) -> ck.Consumer:
    """A group-less librdkafka reader that never jumps and reads damaged batches."""
    brokers = brokers_of(bootstrap_servers)
    return ck.Consumer(
        {
            "bootstrap.servers": brokers.servers,
            **brokers.security.librdkafka(),
            "group.id": "kafka-chaos-tail",  # required by the client; assign() joins no group
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "error",
            "check.crcs": False,
            "isolation.level": "read_uncommitted",
            "client.id": "kafka-chaos-tail",
            "fetch.max.bytes": 16 << 20,
            "max.partition.fetch.bytes": 4 << 20,
            "logger": _ClientLog(),
        }
    )


def row(m: ck.Message, rows: RowDecoder) -> bytes:
    """One record read, as ``drain/log.bin`` holds it."""
    value = m.value()
    headers = m.headers()  # a list of (name, value) as a consumer gives them
    tag_head = header_value(cast("list[tuple[str, bytes | None]]", headers) if isinstance(headers, list) else None)
    return LOG_STRUCT.pack(m.partition(), m.offset(), *rows(tag_head + (value or b"") if tag_head else value, m.key()))


class TailReader:
    """Follows ``topic`` into segments under ``directory`` on a thread of its own while started.

    :attr:`caught_up_at` is the latest time (``clock()``) at which it asked where every partition
    ended and has since read up to there: every record committed by then is in its segments.
    """

    def __init__(
        self,
        bootstrap_servers: Brokers | str,
        topic: str,
        run_id: str,
        directory: Path,
        clock: Callable[[], float] = time.time,
        reader: Callable[[], ck.Consumer] | None = None,
    ) -> None:
        self.topic = topic
        self.run_id = run_id
        self.directory = directory
        self.clock = clock
        self._new_reader = reader or (lambda: new_reader(bootstrap_servers))
        self.segment = 1
        self.records = 0
        self.caught_up_at = 0.0
        self.problem: str | None = None
        self._lock = threading.Lock()
        self._file: AppendFile | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Open the first segment and start reading."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self._file = AppendFile(segment_path(self.directory, self.segment))
        self._thread = threading.Thread(target=self._run, name="kafka-chaos-tail", daemon=True)
        self._thread.start()

    def rotate(self) -> int:
        """Start a new segment; returns its number (what is read from now on goes there)."""
        with self._lock:
            if self._file is not None:
                self._file.close()
            self.segment += 1
            self._file = AppendFile(segment_path(self.directory, self.segment))
            return self.segment

    def stop(self, timeout: float = 30.0) -> None:
        """Stop reading and close the segment."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def _run(self) -> None:
        consumer: ck.Consumer | None = None
        try:
            consumer = self._new_reader()
            tps = self._partitions(consumer)
            consumer.assign([ck.TopicPartition(self.topic, p, ck.OFFSET_BEGINNING) for p in tps])
            self._follow(consumer, tps)
        except Exception as e:  # the soak goes on; its windows are unsure
            self.problem = self.problem or f"the tail reader stopped: {type(e).__name__}: {e}"
        finally:
            if self.problem:
                log.warning("%s", self.problem)
            if consumer is not None:
                consumer.close()

    def _partitions(self, consumer: ck.Consumer) -> list[int]:
        """The topic's partitions, asked until it has some.

        Raises:
            RuntimeError: none within two minutes.
        """
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not self._stop.is_set():
            try:
                topic = consumer.list_topics(self.topic, timeout=5).topics.get(self.topic)
            except ck.KafkaException as e:
                log.debug("tail partitions: %s", e)
                continue
            if topic is not None and topic.error is None and topic.partitions:
                return sorted(topic.partitions)
            time.sleep(0.5)
        raise RuntimeError(f"no partitions of {self.topic!r} found")

    def _ends(self, consumer: ck.Consumer, tps: Sequence[int]) -> dict[int, int] | None:
        """Where each partition ends now (its high watermark), None while one cannot say."""
        try:
            return {p: consumer.get_watermark_offsets(ck.TopicPartition(self.topic, p), 5, False)[1] for p in tps}
        except ck.KafkaException as e:  # a partition without a leader now: asked again
            log.debug("tail end offsets: %s", e)
            return None

    def _follow(self, consumer: ck.Consumer, tps: list[int]) -> None:
        # Every ask of where the partitions end waits here until the reader has read that far, so a
        # reader that stays behind still says, of each moment it asked, once it has caught up with it.
        asks: deque[tuple[float, dict[int, int]]] = deque()
        decoder = RowDecoder(self.run_id)
        done = {p: -1 for p in tps}  # the next offset to read, once known
        expected = dict.fromkeys(tps, 0)  # the offset the next record read must have
        last_ask = 0.0
        while not self._stop.is_set():
            if self.clock() - last_ask >= ASK_EVERY_S:
                at = self.clock()
                if (found := self._ends(consumer, tps)) is not None:
                    asks.append((at, found))
                    last_ask = at
            rows = []
            for m in consumer.consume(num_messages=10_000, timeout=0.2):
                if (err := m.error()) is not None:
                    if err.code() in CUT:
                        self.problem = f"the log was cut below what the tail reader had read ({err.str()})"
                        return
                    log.debug("tail: %s", err.str())
                    continue
                if (gap := _skipped(m.partition(), m.offset(), expected)) is not None:
                    self.problem = gap
                    return
                rows.append(row(m, decoder))
            with self._lock:
                if rows and self._file is not None:
                    self._file.write(b"".join(rows))
            self.records += len(rows)
            for tp in consumer.position([ck.TopicPartition(self.topic, p) for p in tps]):
                if tp.offset >= 0:
                    done[tp.partition] = tp.offset
            while asks and all(end <= 0 or done[p] >= end for p, end in asks[0][1].items()):
                self.caught_up_at = max(self.caught_up_at, asks.popleft()[0])
