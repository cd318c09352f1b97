"""Durable, append-only ledgers in the run directory, written so that killing the writer never makes
the oracle claim a loss that did not happen.

* Fixed-width binary records, appended with ``os.write`` on an ``O_APPEND`` descriptor: a SIGKILL
  leaves at most a torn record at the end, which readers drop and which a restarted writer cuts off
  before it appends (so its records stay aligned). Producer acks are grouped as the spec's
  ``protocol`` says (see :class:`ProducerLedger`); nothing else waits in the process.
* Every file has one writer thread. A producer has two files: ``events`` (the application thread:
  intents, returned sends, errors it saw) and ``acks`` (the client's callback thread).
* Sends are sequential, so intents and returned sends are written as ranges ``[seq, seq_end)``:
  INTENT before ``send()`` is called, RETURNED after it returned. Only a record whose send had
  provably returned can be counted as lost by the producer; a record that was only intended is
  ``unknown`` at worst.

Layout of a run directory::

    ledgers/producer-<id>.json      meta: mode, settings, start time
    ledgers/producer-<id>.events    ProducerEvent records
    ledgers/producer-<id>.acks      ProducerEvent records (ACK / ERROR_* from callbacks)
    ledgers/producer-<id>.returned  two u64: [start, upto) of the current range whose sends returned
    ledgers/producer-<id>.errors    one line per distinct error class: <code>\t<name>\t<message>
    ledgers/consumer-<id>.json      meta: group, strategy, start time
    ledgers/consumer-<id>.processed Processed records
    ledgers/consumer-<id>.epochs    <u8 row indexes of .processed where an assignment epoch begins
    ledgers/consumer-<id>.polled    records the member's polls gave it, as decimal text
    drain/log.bin                   LogRecord records, every record found in the log
    drain/committed.bin             LogRecord records a read_committed reader finds (transactional runs)
    drain/drain.json                end offsets, committed offsets, completeness
    drain/output.bin                LogRecord records of the output topic (consume-transform-produce runs)
    drain/output.json               the output topic's drain: records, end offsets, completeness
    drain/witness.json              what Kafka's DumpLogSegments found on the brokers' disks (broker loss)
    drain/kafka-offsets.json        beginning and end offsets per partition as Kafka's own tooling reports
    outbox/producer-<id>.sqlite     the outbox mode's rows: seq, done (Python clients)

The workloads' specs and output (``workloads/<kind>-<id>.json``, ``.log``) and the rest of a run
directory are in docs/run-directory.md.
"""

from __future__ import annotations

import json
import os
import struct
import threading
import zlib
from collections.abc import Iterator, Mapping
from enum import IntEnum
from pathlib import Path
from typing import Any

import numpy as np

from chaos.rundir import LEDGERS
from chaos.workloads.clocks import SYSTEM_CLOCKS, Clock, Clocks
from chaos.workloads.jsonvalue import JsonObject
from chaos.workloads.polled import PollCount
from chaos.workloads.protocol import DriverProtocol
from chaos.workloads.released import released
from chaos.workloads.returned import ReturnedMark


class Kind(IntEnum):
    """Producer event kinds."""

    INTENT = 1  # the application is about to call send() for [seq, seq_end)
    RETURNED = 2  # send() returned for [seq, seq_end): the application went on
    ACK = 3  # the client reported the record written at (partition, offset)
    ERROR_SEEN = 4  # the send failed and the application saw the error (code: error class)
    ERROR_SWALLOWED = 5  # the send failed and the application never looked (fire-and-forget)
    COMMITTING = 6  # the application is about to commit the transaction of [seq, seq_end)
    COMMITTED = 7  # the commit of the transaction of [seq, seq_end) returned
    ABORTED = 8  # the abort of the transaction of [seq, seq_end) returned


#: One producer event: kind, [seq, seq_end), partition, offset, error class code, ms since start.
PRODUCER_EVENT = np.dtype(
    [
        ("kind", "u1"),
        ("seq", "<u8"),
        ("seq_end", "<u8"),
        ("partition", "<i4"),
        ("offset", "<i8"),
        ("code", "<i4"),
        ("t_ms", "<u4"),
    ]
)
#: One processed record of a consumer: where it was, whose it was, when (ms since start).
PROCESSED = np.dtype(
    [("partition", "<i4"), ("offset", "<i8"), ("tag", "<u4"), ("seq", "<i8"), ("status", "u1"), ("t_ms", "<u4")]
)
#: Where an assignment epoch of a consumer member begins: the index of its first processed row.
EPOCH = np.dtype("<u8")
#: One record found in the log by the drain.
LOG_RECORD = np.dtype([("partition", "<i4"), ("offset", "<i8"), ("tag", "<u4"), ("seq", "<i8"), ("status", "u1")])

_PRODUCER_STRUCT = struct.Struct("<BQQiqiI")
_PROCESSED_STRUCT = struct.Struct("<iqIqBI")
#: How the drain packs one LOG_RECORD (chaos.workloads.drain.LogWriter).
LOG_STRUCT = struct.Struct("<iqIqB")
#: ``drain/output-times.bin``: each application output's position and the time the brokers appended it.
OUTPUT_TIME = np.dtype([("partition", "<i4"), ("offset", "<i8"), ("t_ms", "<i8")])
assert _PRODUCER_STRUCT.size == PRODUCER_EVENT.itemsize
assert _PROCESSED_STRUCT.size == PROCESSED.itemsize
assert LOG_STRUCT.size == LOG_RECORD.itemsize


class AppendFile:
    """An ``O_APPEND`` file written with one ``os.write`` per call (no process-side buffer).

    With ``record_size``, a torn tail left by a writer that was killed mid-write is cut off when the
    file is opened, so what is appended next starts on a record boundary.
    """

    def __init__(self, path: Path, record_size: int | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        if record_size:
            size = os.fstat(self._fd).st_size
            if size % record_size:
                os.ftruncate(self._fd, size - size % record_size)

    def write(self, data: bytes) -> None:
        """Append ``data`` whole (retrying a short write)."""
        view = memoryview(data)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]

    def close(self) -> None:
        """Close the descriptor; later writes raise."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def error_code(name: str) -> int:
    """A stable 31-bit code for an error class name (the names are kept in ``.errors``).

    >>> error_code("KafkaTimeoutError") == zlib.crc32(b"KafkaTimeoutError") & 0x7FFFFFFF
    True
    """
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


def _clock_of(meta_path: Path, clocks: Clocks) -> Clock:
    # A restarted writer keeps its first start time: every row's t_ms is on one clock.
    start = read_meta(meta_path).get("start_ns") if meta_path.exists() else None
    return Clock(start if isinstance(start, int) else None, clocks.wall_ns)


class ProducerLedger:
    """The files of one producer plus its meta; see the module docstring.

    ``events`` is written by the application thread, ``acks`` by the client's callback thread.
    Acks are grouped as ``protocol`` says (:class:`~chaos.workloads.protocol.DriverProtocol`:
    ``ack_batch`` records, ``ack_flush_ms`` while acks keep coming, a timer every ``ack_timer_ms``
    once they stop). A writer that acts on an ack (the outbox) flushes first. ``.errors`` names each
    distinct error class once.

    Raises:
        OSError: the ledger directory cannot be written.
    """

    def __init__(
        self,
        run_dir: Path,
        producer: str,
        meta: Mapping[str, object],
        protocol: DriverProtocol | None = None,
        clocks: Clocks = SYSTEM_CLOCKS,
    ) -> None:
        protocol = protocol or DriverProtocol()
        self._batch = protocol.ack_batch
        self._flush_ns = protocol.ack_flush_ms * 1_000_000
        self._monotonic_ns = clocks.monotonic_ns
        base = run_dir / LEDGERS / f"producer-{producer}"
        meta_path = base.with_suffix(".json")
        self.clock = _clock_of(meta_path, clocks)
        write_meta(meta_path, {**meta, "producer": producer, "start_ns": self.clock.start_ns})
        self._events = AppendFile(base.with_suffix(".events"), PRODUCER_EVENT.itemsize)
        self._acks = AppendFile(base.with_suffix(".acks"), PRODUCER_EVENT.itemsize)
        self._errors = AppendFile(base.with_suffix(".errors"))
        self._known_errors: set[int] = set()
        self._errors_lock = threading.Lock()
        self.returned_mark = ReturnedMark(base.with_suffix(".returned"))
        if (left := self.returned_mark.left_over()) is not None:
            self.returned(*left)
        self.returned_mark.begin(0)
        self._ack_buffer: list[bytes] = []
        self._ack_oldest = 0
        self._ack_lock = threading.Lock()
        self._closed = threading.Event()
        # Grouped acks reach the file within a tick of the timer even when no further ack arrives.
        tick_s = protocol.ack_timer_ms / 1000
        self._flusher = threading.Thread(target=self._flush_loop, args=(tick_s,), name="ack-flusher", daemon=True)
        self._flusher.start()

    def _flush_loop(self, tick_s: float) -> None:
        while not self._closed.wait(tick_s):
            self.flush_acks(only_if_stale=True)

    def _stale(self) -> bool:
        return self._monotonic_ns() - self._ack_oldest > self._flush_ns

    def _pack(self, kind: Kind, seq: int, seq_end: int, partition: int = -1, offset: int = -1, code: int = 0) -> bytes:
        return _PRODUCER_STRUCT.pack(kind, seq, seq_end, partition, offset, code, self.clock.ms())

    def intent(self, seq: int, seq_end: int | None = None) -> None:
        """Before send() is called for ``[seq, seq_end)`` (default: one record)."""
        self._events.write(self._pack(Kind.INTENT, seq, seq_end if seq_end is not None else seq + 1))

    def returned(self, seq: int, seq_end: int | None = None) -> None:
        """After send() returned for ``[seq, seq_end)``."""
        self._events.write(self._pack(Kind.RETURNED, seq, seq_end if seq_end is not None else seq + 1))

    def transaction(self, kind: Kind, seq: int, seq_end: int) -> None:
        """The transaction of ``[seq, seq_end)`` is about to be committed, or its commit or abort
        returned (``kind``: ``COMMITTING``, ``COMMITTED`` or ``ABORTED``)."""
        self._events.write(self._pack(kind, seq, seq_end))

    def ack(self, seq: int, partition: int, offset: int) -> None:
        """From the delivery callback: the record is at ``partition``/``offset`` (grouped, see above)."""
        record = self._pack(Kind.ACK, seq, seq + 1, partition, offset)
        with self._ack_lock:
            if not self._ack_buffer:
                self._ack_oldest = self._monotonic_ns()
            self._ack_buffer.append(record)
            if len(self._ack_buffer) >= self._batch or self._stale():
                self._write_acks()

    def flush_acks(self, only_if_stale: bool = False) -> None:
        """Write grouped acks now (or, as the timer does, only if the oldest has waited ``ack_flush_ms``)."""
        with self._ack_lock:
            if self._ack_buffer and (not only_if_stale or self._stale()):
                self._write_acks()

    def _write_acks(self) -> None:
        self._acks.write(b"".join(self._ack_buffer))
        self._ack_buffer.clear()

    def ack_in_thread(self, seq: int, partition: int, offset: int) -> None:
        """An ack the application thread observed itself (sync mode): written to ``events``."""
        self._events.write(self._pack(Kind.ACK, seq, seq + 1, partition, offset))

    def note_error(self, exc: BaseException) -> int:
        """The code of ``exc``'s class (:meth:`note_named_error` with its name and message)."""
        return self.note_named_error(type(exc).__name__, str(exc))

    def note_named_error(self, name: str, message: str) -> int:
        """The code of error class ``name``; the first time the class is seen,
        ``<code>\\t<name>\\t<message>`` goes to ``.errors`` as one line (a newline in the message
        becomes a space)."""
        code = error_code(name)
        with self._errors_lock:
            if code not in self._known_errors:
                self._known_errors.add(code)
                message = message.replace("\n", " ")
                self._errors.write(f"{code}\t{name}\t{message}\n".encode(errors="replace"))
        return code

    def error(self, seq: int, exc: BaseException, seen: bool, from_callback: bool) -> None:
        """A failed send of ``seq``: :meth:`named_error` with ``exc``'s class name and message."""
        self.named_error(seq, type(exc).__name__, str(exc), seen, from_callback)

    def named_error(self, seq: int, name: str, message: str, seen: bool, from_callback: bool) -> None:
        """A failed send of ``seq``, its class ``name`` noted in ``.errors``. ``seen``: the application
        observed the failure; ``from_callback``: the client reported it on its own thread (written to
        ``acks`` at once, after the acks waiting there)."""
        code = self.note_named_error(name, message)
        kind = Kind.ERROR_SEEN if seen else Kind.ERROR_SWALLOWED
        if from_callback:
            with self._ack_lock:
                self._ack_buffer.append(self._pack(kind, seq, seq + 1, code=code))
                self._write_acks()
        else:
            self._events.write(self._pack(kind, seq, seq + 1, code=code))

    def close(self) -> None:
        """Write grouped acks and close the files."""
        self._closed.set()
        self._flusher.join()
        self.flush_acks()
        self._events.close()
        self._acks.close()
        self._errors.close()
        self.returned_mark.close()


class ConsumerLedger:
    """The processed-records file of one consumer member plus its meta, and where its assignment
    epochs begin: each start of the process, and each change of its group generation or assignment,
    after which the client may rightly read a partition from another offset (``.epochs``: the index
    of the first processed row of each epoch). Within one epoch a partition's offsets must follow one
    another; the oracle reports skips and steps back. ``.polled`` is rewritten at most every
    ``protocol.polled_every_ms``.

    Raises:
        OSError: the ledger directory cannot be written.
    """

    def __init__(
        self,
        run_dir: Path,
        member: str,
        meta: Mapping[str, object],
        protocol: DriverProtocol | None = None,
        clocks: Clocks = SYSTEM_CLOCKS,
    ) -> None:
        protocol = protocol or DriverProtocol()
        base = run_dir / LEDGERS / f"consumer-{member}"
        meta_path = base.with_suffix(".json")
        self.clock = _clock_of(meta_path, clocks)
        write_meta(meta_path, {**meta, "member": member, "start_ns": self.clock.start_ns})
        self._file = AppendFile(base.with_suffix(".processed"), PROCESSED.itemsize)
        self._epochs = AppendFile(base.with_suffix(".epochs"), EPOCH.itemsize)
        self._rows = base.with_suffix(".processed").stat().st_size // PROCESSED.itemsize
        self._mark_epochs([0])  # a (re)started process reads from its committed offsets
        every_ns = protocol.polled_every_ms * 1_000_000
        self._polled = PollCount(base.with_suffix(".polled"), every_ns, clocks.monotonic_ns)

    def _mark_epochs(self, at: list[int]) -> None:
        # Written before the rows they point at: a kill in between leaves an extra boundary, which
        # can only hide an anomaly, never invent one.
        if at:
            self._epochs.write(np.array([self._rows + i for i in at], dtype=EPOCH).tobytes())

    def polled(self, records: int) -> None:
        """Note that a poll gave the member ``records`` (``.polled``, :mod:`chaos.workloads.polled`)."""
        self._polled.add(records)

    def processed_many(self, rows: list[tuple[int, int, int, int, int]], new_epoch_at: list[int] | None = None) -> None:
        """Records the application has processed: (partition, offset, tag, seq, status) each;
        ``new_epoch_at``: indexes into ``rows`` where a new assignment epoch begins."""
        t = self.clock.ms()
        self._mark_epochs(new_epoch_at or [])
        self._file.write(b"".join(_PROCESSED_STRUCT.pack(p, o, tag, s, st, t) for p, o, tag, s, st in rows))
        self._rows += len(rows)

    def close(self) -> None:
        """Close the files (and write the last poll count)."""
        if self._polled.count:
            self._polled.write()
        self._file.close()
        self._epochs.close()


def write_meta(path: Path, meta: Mapping[str, object]) -> None:
    """Write a JSON meta file atomically (write to a temporary name, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(meta, indent=2, sort_keys=True))
    os.replace(tmp, path)


def read_meta(path: Path) -> JsonObject:
    """Read a JSON meta file.

    Raises:
        ValueError: the file is not a JSON object.
    """
    data: object = json.loads(path.read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a JSON object")
    return data


#: A ledger's record type, and a chunk of its records: numpy types a structured dtype's fields as Any.
RecordType = np.dtype[Any]  # type: ignore[explicit-any]  # numpy's own type for a structured dtype
Records = np.ndarray[tuple[int], RecordType]


def read_records(
    path: Path, dtype: RecordType, chunk: int = 1 << 20, start: int | None = None, reuse: bool = False
) -> Iterator[Records]:
    """Yield the records of a ledger file in chunks of at most ``chunk``, from record ``start`` on (None:
    after the rows a soak released, :mod:`chaos.workloads.released`); a torn last record is dropped; a
    missing file yields nothing. ``reuse``: one buffer for every chunk (no fresh pages to fault in each
    time), so a chunk holds its rows only until the next is asked for.

    Raises:
        ValueError: ``ledgers/released.json`` is not what the harness writes.
    """
    if not path.exists():
        return
    size = dtype.itemsize
    start = released(path).rows if start is None else start
    whole = path.stat().st_size // size
    buffer = np.empty(0, dtype)
    with path.open("rb") as f:
        f.seek(start * size)
        done = start
        while done < whole:
            n = min(chunk, whole - done)
            buffer = buffer if reuse and len(buffer) >= n else np.empty(n, dtype)
            if got := f.readinto(buffer.view(np.uint8)[: n * size].data) // size:
                yield buffer[:got]
            if got < n:  # the file shrank under us: stop at what is whole, never past a cut row
                return
            done += got
