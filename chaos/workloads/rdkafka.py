"""librdkafka (confluent-kafka) behind the few calls the workloads make of a client.

The workloads call a client through :mod:`chaos.workloads.interfaces` (kafka-python's shape:
``send()`` returning a future with ``add_callback``/``add_errback``/``get``, ``flush``, ``close``;
``poll()`` returning records by partition, ``commit()``, ``assignment()``). These adapters give
confluent-kafka that interface, so each delivery mode and commit strategy is the same code for both
clients and only the client underneath differs. What librdkafka does (its queue, retries, idempotence, offset
store, rebalances) is untouched: the adapters only translate calls and results.

* Delivery reports: a poller thread serves librdkafka's callbacks (``poll()``), as kafka-python's
  I/O thread does, so acks reach the ledger without waiting for the application.
* ``produce()`` never blocks: when librdkafka's queue (``queue.buffering.max.kbytes``, mapped from
  ``buffer.memory``) is full it raises; ``send()`` retries for up to ``max.block.ms`` and then fails
  the way the Java client's ``send()`` does.
* Errors become ``kafka.errors.KafkaError`` subclasses named after librdkafka's error (``_MSG_TIMED_OUT``,
  ``NOT_ENOUGH_REPLICAS``, …), so the ledger records librdkafka's own names.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from functools import partial
from typing import NamedTuple

import confluent_kafka as ck
from kafka import TopicPartition
from kafka.coordinator.base import MemberState
from kafka.errors import CommitFailedError, KafkaError
from kafka.structs import OffsetAndMetadata

from chaos.workloads.interfaces import DeliveryReport, GroupMetadata, Headers, OnAck, OnError
from chaos.workloads.settings import Setting

#: librdkafka's delivery report: its error (None: written) and the message.
OnDelivery = Callable[[ck.KafkaError | None, ck.Message], None]

_ERROR_TYPES: dict[str, type[KafkaError]] = {}


def error_type(name: str) -> type[KafkaError]:
    """A ``KafkaError`` subclass named after a librdkafka error (one class per name)."""
    if name not in _ERROR_TYPES:
        _ERROR_TYPES[name] = type(name or "UNKNOWN", (KafkaError,), {})
    return _ERROR_TYPES[name]


def as_exception(err: ck.KafkaError) -> KafkaError:
    """A librdkafka error as an exception named after it."""
    return error_type(err.name())(err.str())


def known_offset(offset: int | None) -> int:
    """A reported offset, or -1 where librdkafka reports none (None, or a negative sentinel).

    >>> known_offset(None), known_offset(-1001), known_offset(7)
    (-1, -1, 7)
    """
    return -1 if offset is None or offset < 0 else int(offset)


class Delivered(NamedTuple):
    """Where a record was written, as kafka-python's ``RecordMetadata`` says it."""

    topic: str
    partition: int
    offset: int


def delivered(msg: ck.Message) -> Delivered:
    """Where a delivery report of success says ``msg`` was written: no offset (acks=0, or
    librdkafka's OFFSET_INVALID) is -1, never 0, which is a real position another record may hold."""
    return Delivered(msg.topic() or "", msg.partition() or 0, known_offset(msg.offset()))


def report_to(report: DeliveryReport, err: ck.KafkaError | None, msg: ck.Message) -> None:
    """librdkafka's delivery report of one record, passed on to ``report``."""
    if err is None:
        report.acked(delivered(msg))
    else:
        report.failed(as_exception(err))


class DeliveryFuture:
    """kafka-python's ``FutureRecordMetadata`` for one librdkafka message: callbacks run in the
    thread that serves deliveries; ones added after the delivery run at once."""

    __slots__ = ("_callbacks", "_errbacks", "_event", "_lock", "exception", "value")

    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock
        self._callbacks: list[OnAck] = []
        self._errbacks: list[OnError] = []
        self._event: threading.Event | None = None
        self.value: Delivered | None = None
        self.exception: KafkaError | None = None

    @property
    def done(self) -> bool:
        """Whether the delivery report arrived."""
        return self.value is not None or self.exception is not None

    def add_callback(self, fn: OnAck) -> None:
        """Call ``fn(metadata)`` once the record is written."""
        with self._lock:
            if not self.done:
                self._callbacks.append(fn)
                return
        if self.value is not None:
            fn(self.value)

    def add_errback(self, fn: OnError) -> None:
        """Call ``fn(exception)`` once the record has failed."""
        with self._lock:
            if not self.done:
                self._errbacks.append(fn)
                return
        if self.exception is not None:
            fn(self.exception)

    def get(self, timeout: float | None = None) -> Delivered:
        """Wait for the delivery report.

        Raises:
            KafkaError: the record failed (or no report within ``timeout``: ``_TIMED_OUT``).
        """
        with self._lock:
            if not self.done:
                self._event = threading.Event()
        if self._event is not None and not self._event.wait(timeout):
            raise error_type("_TIMED_OUT")(f"no delivery report within {timeout} s")
        if self.exception is not None:
            raise self.exception
        assert self.value is not None
        return self.value

    def deliver(self, err: ck.KafkaError | None, msg: ck.Message) -> None:
        """librdkafka's delivery report (``on_delivery``)."""
        with self._lock:
            if err is not None:
                self.exception = as_exception(err)
            else:
                self.value = delivered(msg)
            callbacks, errbacks = self._callbacks, self._errbacks
            self._callbacks, self._errbacks = [], []
            event = self._event
        if self.value is not None:
            for on_ack in callbacks:
                on_ack(self.value)
        elif self.exception is not None:
            for on_error in errbacks:
                on_error(self.exception)
        if event is not None:
            event.set()


class RdProducer:
    """A confluent-kafka ``Producer`` with kafka-python's ``send``/``flush``/``close``."""

    def __init__(self, config: Mapping[str, Setting], max_block_ms: int = 60_000) -> None:
        self._p = ck.Producer(dict(config))
        self._lock = threading.Lock()
        self._max_block_s = max_block_ms / 1000
        self._closed = threading.Event()
        self._poller = threading.Thread(target=self._serve, name="rdkafka-deliveries", daemon=True)
        self._poller.start()

    def _serve(self) -> None:
        while not self._closed.is_set():
            self._p.poll(0.05)

    def send(
        self, topic: str, key: bytes | None = None, value: bytes | None = None, headers: Headers | None = None
    ) -> DeliveryFuture:
        """Queue one record, returning kafka-python's kind of future; see :meth:`produce`.

        Raises:
            KafkaError: the queue stayed full (``_QUEUE_FULL``) or librdkafka refused the record.
        """
        future = DeliveryFuture(self._lock)
        self._produce(topic, key, value, future.deliver, headers)
        return future

    def produce(
        self, topic: str, key: bytes | None, value: bytes, report: DeliveryReport, headers: Headers | None = None
    ) -> None:
        """Queue one record whose outcome goes to ``report`` from librdkafka's own delivery report
        (no future per record); see :meth:`_produce`.

        Raises:
            KafkaError: the queue stayed full (``_QUEUE_FULL``) or librdkafka refused the record.
        """
        self._produce(topic, key, value, partial(report_to, report), headers)

    def _produce(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        on_delivery: OnDelivery,
        headers: Headers | None = None,
    ) -> None:
        """Queue one record; blocks up to ``max.block.ms`` while librdkafka's queue is full.

        Raises:
            KafkaError: the queue stayed full (``_QUEUE_FULL``) or librdkafka refused the record.
        """
        deadline: float | None = None
        as_given: list[tuple[str, str | bytes | None]] | None = list(headers) if headers else None
        while True:
            try:
                self._p.produce(topic, value=value, key=key, on_delivery=on_delivery, headers=as_given)
                return
            except BufferError:
                now = time.monotonic()
                deadline = deadline or now + self._max_block_s
                if now >= deadline:
                    raise error_type("_QUEUE_FULL")(
                        f"librdkafka's queue stayed full for max.block.ms ({self._max_block_s * 1000:.0f} ms)"
                    ) from None
                time.sleep(0.001)
            except ck.KafkaException as e:
                raise as_exception(e.args[0]) from None

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every queued record is delivered or failed (at most ``timeout`` s)."""
        self._p.flush(-1 if timeout is None else timeout)

    # -- transactions, under kafka-python's names ------------------------------------------------
    def _txn(self, call: Callable[[], None]) -> None:
        try:
            call()
        except ck.KafkaException as e:
            raise as_exception(e.args[0]) from None

    def init_transactions(self) -> None:
        """Register the ``transactional.id`` (fencing an earlier producer with it, whose open
        transaction the coordinator aborts). Raises KafkaError."""
        self._txn(partial(self._p.init_transactions, self._max_block_s))

    def begin_transaction(self) -> None:
        """Start a transaction. Raises KafkaError."""
        self._txn(self._p.begin_transaction)

    def commit_transaction(self) -> None:
        """Flush and commit the open transaction. Raises KafkaError."""
        self._txn(partial(self._p.commit_transaction, self._max_block_s))

    def abort_transaction(self) -> None:
        """Abort the open transaction (queued records are purged). Raises KafkaError."""
        self._txn(partial(self._p.abort_transaction, self._max_block_s))

    def send_offsets_to_transaction(
        self, offsets: Mapping[TopicPartition, OffsetAndMetadata], group: GroupMetadata
    ) -> None:
        """Commit a consumer's ``offsets`` in the open transaction; ``group`` is the consumer's
        ``consumer_group_metadata()`` (:meth:`RdConsumer.group_metadata`). Raises KafkaError."""
        parts = [ck.TopicPartition(tp.topic, tp.partition, om.offset) for tp, om in offsets.items()]
        self._txn(partial(self._p.send_offsets_to_transaction, parts, group, self._max_block_s))

    def close(self, timeout: float | None = None) -> None:
        """Flush, then stop serving deliveries."""
        self.flush(timeout)
        self._closed.set()
        self._poller.join()


class _Record(NamedTuple):
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


class _Membership(NamedTuple):
    generation_id: int
    state: MemberState


class RdConsumer:
    """A confluent-kafka ``Consumer`` with kafka-python's ``poll``/``commit``/``assignment``.

    ``generation_id`` counts assignment changes seen through librdkafka's rebalance callbacks (its
    own generation is not exposed): what the workload needs is when the assignment changed.
    """

    def __init__(self, config: Mapping[str, Setting], max_poll_records: int = 500) -> None:
        self._c = ck.Consumer(dict(config))
        self._max = max_poll_records
        self._generation = 0

    def partitions_for_topic(self, topic: str) -> set[int]:
        """The topic's partitions as the cluster's metadata says (empty: not known yet)."""
        try:
            meta = self._c.list_topics(topic, timeout=5)
        except ck.KafkaException:
            return set()
        t = meta.topics.get(topic)
        return set(t.partitions) if t is not None and t.error is None else set()

    def _changed(self, consumer: ck.Consumer, partitions: list[ck.TopicPartition]) -> None:
        del consumer, partitions
        self._generation += 1

    def subscribe(self, topics: list[str]) -> None:
        """Join the group for ``topics``; assignment changes are counted."""
        self._c.subscribe(topics, on_assign=self._changed, on_revoke=self._changed, on_lost=self._changed)

    def poll(self, timeout_ms: int = 0) -> dict[TopicPartition, list[_Record]]:
        """Up to ``max.poll.records`` records, by partition (librdkafka stores their offsets for
        auto-commit as it hands them over, as the Java client does)."""
        out: dict[TopicPartition, list[_Record]] = {}
        for msg in self._c.consume(num_messages=self._max, timeout=timeout_ms / 1000):
            err = msg.error()
            if err is not None:
                continue  # partition EOF and transient fetch errors: librdkafka retries itself
            tp = TopicPartition(msg.topic() or "", msg.partition() or 0)
            out.setdefault(tp, []).append(_Record(tp.partition, msg.offset() or 0, msg.key(), msg.value()))
        return out

    def commit(self, offsets: Mapping[TopicPartition, OffsetAndMetadata] | None = None) -> None:
        """Commit synchronously: what was consumed, or ``offsets``.

        Raises:
            CommitFailedError: the group rebalanced or refused the commit.
        """
        try:
            if offsets:
                parts = [ck.TopicPartition(tp.topic, tp.partition, om.offset) for tp, om in offsets.items()]
                self._c.commit(offsets=parts, asynchronous=False)
            else:
                self._c.commit(asynchronous=False)
        except ck.KafkaException as e:
            err = e.args[0]
            if isinstance(err, ck.KafkaError) and err.name() == "_NO_OFFSET":
                return  # nothing consumed since the last commit
            raise CommitFailedError(str(e)) from None

    def membership(self) -> _Membership:
        """The assignment generation as counted here; librdkafka settles rebalances itself."""
        return _Membership(self._generation, MemberState.STABLE)

    def group_metadata(self) -> GroupMetadata:
        """What a transactional producer's ``send_offsets_to_transaction`` needs of this member."""
        metadata: GroupMetadata = self._c.consumer_group_metadata()
        return metadata

    def rewind(self) -> None:
        """Seek every assigned partition back to its committed offset (after an aborted transaction).

        Raises:
            KafkaError: the committed offsets could not be read.
        """
        try:
            for tp in self._c.committed(self._c.assignment(), timeout=30):
                if tp.offset >= 0:
                    self._c.seek(tp)
                else:
                    self._c.seek(ck.TopicPartition(tp.topic, tp.partition, ck.OFFSET_BEGINNING))
        except ck.KafkaException as e:
            raise as_exception(e.args[0]) from None

    def assignment(self) -> set[TopicPartition]:
        """The partitions assigned to this member now."""
        return {TopicPartition(tp.topic, tp.partition) for tp in self._c.assignment()}

    def close(self, autocommit: bool = True, timeout_ms: int | None = None) -> None:
        """Leave the group (librdkafka commits stored offsets first when auto-commit is on)."""
        del autocommit, timeout_ms
        self._c.close()
