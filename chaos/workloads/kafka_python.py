"""kafka-python behind :mod:`chaos.workloads.interfaces`: a thin typed adapter (the library is
untyped), each call passed on as it is, so mypy checks what the workloads call."""

from __future__ import annotations

from collections.abc import Mapping

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

from chaos.workloads.interfaces import Batches, DeliveryReport, GroupMetadata, Headers, Membership, SendFuture
from chaos.workloads.settings import Setting


class KafkaPythonProducer:
    """A ``KafkaProducer`` as a :class:`~chaos.workloads.interfaces.ProducerClient`."""

    def __init__(self, config: Mapping[str, Setting]) -> None:
        self._p = KafkaProducer(**config)

    def send(self, topic: str, key: bytes | None, value: bytes, headers: Headers | None = None) -> SendFuture:
        """Queue one record. Raises KafkaError (e.g. ``KafkaTimeoutError`` after ``max.block.ms``)."""
        future: SendFuture = self._p.send(topic, key=key, value=value, headers=headers)
        return future

    def produce(
        self, topic: str, key: bytes | None, value: bytes, report: DeliveryReport, headers: Headers | None = None
    ) -> None:
        """Queue one record whose outcome goes to ``report``. Raises KafkaError as :meth:`send` does."""
        future = self.send(topic, key, value, headers)
        future.add_callback(report.acked)
        future.add_errback(report.failed)

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every queued record is written or failed (at most ``timeout`` s)."""
        self._p.flush(timeout=timeout)

    def close(self, timeout: float | None = None) -> None:
        """Flush and close."""
        self._p.close(timeout=timeout)

    def init_transactions(self) -> None:
        """Register the ``transactional.id``. Raises KafkaError."""
        self._p.init_transactions()

    def begin_transaction(self) -> None:
        """Start a transaction. Raises KafkaError."""
        self._p.begin_transaction()

    def commit_transaction(self) -> None:
        """Commit the open transaction. Raises KafkaError."""
        self._p.commit_transaction()

    def abort_transaction(self) -> None:
        """Abort the open transaction. Raises KafkaError."""
        self._p.abort_transaction()

    def send_offsets_to_transaction(
        self, offsets: Mapping[TopicPartition, OffsetAndMetadata], group: GroupMetadata
    ) -> None:
        """Commit a consumer's ``offsets`` in the open transaction. Raises KafkaError."""
        self._p.send_offsets_to_transaction(offsets, group)


class KafkaPythonConsumer:
    """A ``KafkaConsumer`` as a :class:`~chaos.workloads.interfaces.ConsumerClient`."""

    def __init__(self, config: Mapping[str, Setting]) -> None:
        self._c = KafkaConsumer(**config)

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        """The topic's partitions, None while unknown."""
        partitions: set[int] | None = self._c.partitions_for_topic(topic)
        return partitions

    def subscribe(self, topics: list[str]) -> None:
        """Join the group for ``topics``."""
        self._c.subscribe(topics)

    def poll(self, timeout_ms: int) -> Batches:
        """Records by partition."""
        batches: Batches = self._c.poll(timeout_ms=timeout_ms)
        return batches

    def commit(self, offsets: Mapping[TopicPartition, OffsetAndMetadata] | None = None) -> None:
        """Commit synchronously. Raises CommitFailedError or RebalanceInProgressError."""
        if offsets:
            self._c.commit(offsets)
        else:
            self._c.commit()

    def assignment(self) -> set[TopicPartition]:
        """The partitions assigned now."""
        assigned: set[TopicPartition] = self._c.assignment()
        return assigned

    def membership(self) -> Membership:
        """kafka-python's ``ConsumerGroupMetadata``: generation and member state."""
        membership: Membership = self._c.group_metadata()
        return membership

    def group_metadata(self) -> GroupMetadata:
        """The same ``ConsumerGroupMetadata``, as the transactional producer takes it."""
        metadata: GroupMetadata = self._c.group_metadata()
        return metadata

    def rewind(self) -> None:
        """Seek every assigned partition to its committed offset (its beginning without one).
        Raises KafkaError."""
        for tp in self._c.assignment():
            committed = self._c.committed(tp)
            if committed is None:
                self._c.seek_to_beginning(tp)
            else:
                self._c.seek(tp, committed)

    def close(self, autocommit: bool = True, timeout_ms: int | None = None) -> None:
        """Leave the group."""
        self._c.close(autocommit=autocommit, timeout_ms=timeout_ms)
