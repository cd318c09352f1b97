"""A soak's tail reader (docs/soak.md, "Judged in windows"): one group-less reader that follows the
topic from its beginning while the soak runs and appends every record it reads, as the drain does
(``drain/log.bin``'s rows), to a segment file of the window it was read in:
``drain/tail/segment-<n>.bin``. Segments are rotated by :meth:`TailReader.rotate` and removed by
whoever judged them.

Like the drain it never guesses: an offset out of range (the log was cut below what it read: an
unclean election, retention, a power loss) stops it, and :attr:`TailReader.problem` says why, so the
windows judged from it are unsure. It reads what every reader may read: records below each
partition's high watermark, committed to the in-sync replicas.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError, OffsetOutOfRangeError

from chaos.workloads.drain import log_row, read_position, reader, topic_partitions
from chaos.workloads.ledger import LOG_STRUCT, AppendFile
from chaos.workloads.security import Brokers

log = logging.getLogger(__name__)

#: How often the reader asks where the partitions end, in seconds.
ASK_EVERY_S = 1.0


def segment_path(directory: Path, n: int) -> Path:
    """The file of segment ``n``."""
    return directory / f"segment-{n:06d}.bin"


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
        new_reader: Callable[[], KafkaConsumer] | None = None,
    ) -> None:
        self.topic = topic
        self.run_id = run_id
        self.directory = directory
        self.clock = clock
        self._new_reader = new_reader or (lambda: reader(bootstrap_servers, "read_uncommitted"))
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
        consumer: KafkaConsumer | None = None
        try:
            consumer = self._new_reader()
            deadline = time.monotonic() + 120
            tps = [TopicPartition(self.topic, p) for p in sorted(topic_partitions(consumer, self.topic, deadline))]
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            self._follow(consumer, tps)
        except OffsetOutOfRangeError as e:
            self.problem = f"the log was cut below what the tail reader had read ({e}): an unclean election or loss"
        except Exception as e:  # the soak goes on; its windows are unsure
            self.problem = f"the tail reader stopped: {type(e).__name__}: {e}"
        finally:
            if self.problem:
                log.warning("%s", self.problem)
            if consumer is not None:
                consumer.close()

    def _follow(self, consumer: KafkaConsumer, tps: list[TopicPartition]) -> None:
        asked_at, ends = 0.0, None
        while not self._stop.is_set():
            if ends is None or self.clock() - asked_at >= ASK_EVERY_S:
                at = self.clock()
                try:
                    answer = consumer.end_offsets(tps, timeout_ms=5000)
                    ends, asked_at = {tp: int(o) for tp, o in answer.items()}, at
                except KafkaError as e:  # a partition without a leader now: asked again
                    log.debug("tail end offsets: %s", e)
            try:
                batches = consumer.poll(timeout_ms=200, max_records=10_000)
            except OffsetOutOfRangeError:
                raise
            except KafkaError as e:
                log.debug("tail poll: %s", e)
                self._stop.wait(0.5)
                continue
            rows = [
                LOG_STRUCT.pack(tp.partition, int(r.offset), *log_row(r, self.run_id))
                for tp, batch in batches.items()
                for r in batch
            ]
            with self._lock:
                if rows and self._file is not None:
                    self._file.write(b"".join(rows))
            self.records += len(rows)
            if ends is not None and all(read_position(consumer, tp) >= end for tp, end in ends.items()):
                self.caught_up_at = max(self.caught_up_at, asked_at)
