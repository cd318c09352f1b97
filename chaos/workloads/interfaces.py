"""What the workloads call on a Kafka client, as Protocols mypy checks every call against.

kafka-python satisfies them through :mod:`chaos.workloads.kafka_python` (a thin typed adapter: the
library itself is untyped) and librdkafka through :mod:`chaos.workloads.rdkafka`. Partitions and
offsets to commit are kafka-python's ``TopicPartition`` and ``OffsetAndMetadata`` for both: its
consumer checks it is given its own classes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from kafka import TopicPartition
from kafka.structs import OffsetAndMetadata


class RecordMetadata(Protocol):
    """Where the client reports a record written."""

    @property
    def partition(self) -> int:
        """The partition."""
        ...

    @property
    def offset(self) -> int | None:
        """The offset; None or negative where the client reports none (acks=0)."""
        ...


#: Called with a record's metadata once the client reports it written.
OnAck = Callable[[RecordMetadata], object]
#: Called with the exception once the client reports a record failed.
OnError = Callable[[BaseException], object]


class DeliveryReport(Protocol):
    """Where a client reports one record's outcome, once: :meth:`acked` or :meth:`failed`."""

    def acked(self, metadata: RecordMetadata) -> object:
        """The record is written where ``metadata`` says."""
        ...

    def failed(self, exc: BaseException) -> object:
        """The record failed with ``exc``."""
        ...


class SendFuture(Protocol):
    """The outcome of one ``send()``: callbacks, or a wait."""

    def add_callback(self, fn: OnAck) -> object:
        """Call ``fn(metadata)`` once the record is written (at once if it already is)."""
        ...

    def add_errback(self, fn: OnError) -> object:
        """Call ``fn(exception)`` once the record has failed (at once if it already has)."""
        ...

    def get(self, timeout: float | None = None) -> RecordMetadata:
        """Wait for the outcome. Raises KafkaError: the record failed, or no outcome in ``timeout``."""
        ...


class GroupMetadata(Protocol):
    """A consumer's group metadata as its own client's transactional producer takes it (opaque here)."""


class Membership(Protocol):
    """A consumer's group membership: its generation and whether it is settled."""

    @property
    def generation_id(self) -> int:
        """The group generation (or, for librdkafka, the assignment changes counted)."""
        ...

    @property
    def state(self) -> object:
        """kafka-python's ``MemberState`` (``STABLE`` once settled)."""
        ...


class ConsumedRecord(Protocol):
    """One record a poll gave."""

    @property
    def partition(self) -> int:
        """Its partition."""
        ...

    @property
    def offset(self) -> int:
        """Its offset."""
        ...

    @property
    def key(self) -> bytes | None:
        """Its key."""
        ...

    @property
    def value(self) -> bytes | None:
        """Its value."""
        ...


#: A record's headers, as both clients take them.
Headers = list[tuple[str, bytes]]

#: What one poll gave, by partition.
Batches = Mapping[TopicPartition, Sequence[ConsumedRecord]]


class ProducerClient(Protocol):
    """The producer calls of every mode. Each raises KafkaError where the client does."""

    def send(self, topic: str, key: bytes | None, value: bytes, headers: Headers | None = None) -> SendFuture:
        """Queue one record; its outcome is the future's."""
        ...

    def produce(
        self, topic: str, key: bytes | None, value: bytes, report: DeliveryReport, headers: Headers | None = None
    ) -> None:
        """Queue one record whose outcome goes to ``report``, without a future (the modes that send a
        range at a time: one object per record, which the client holds until the outcome)."""
        ...

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every queued record is written or failed."""
        ...

    def close(self, timeout: float | None = None) -> None:
        """Flush, then release the client."""
        ...

    def init_transactions(self) -> None:
        """Register the ``transactional.id``, fencing an earlier producer with it."""
        ...

    def begin_transaction(self) -> None:
        """Start a transaction."""
        ...

    def commit_transaction(self) -> None:
        """Commit the open transaction."""
        ...

    def abort_transaction(self) -> None:
        """Abort the open transaction."""
        ...

    def send_offsets_to_transaction(
        self, offsets: Mapping[TopicPartition, OffsetAndMetadata], group: GroupMetadata
    ) -> None:
        """Commit a consumer's ``offsets`` in the open transaction."""
        ...


class ConsumerClient(Protocol):
    """The consumer calls of every commit strategy and of a transformer."""

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        """The topic's partitions as the cluster's metadata says (None or empty: not known yet)."""
        ...

    def subscribe(self, topics: list[str]) -> None:
        """Join the group for ``topics``."""
        ...

    def poll(self, timeout_ms: int) -> Batches:
        """Records by partition (empty: none within ``timeout_ms``)."""
        ...

    def commit(self, offsets: Mapping[TopicPartition, OffsetAndMetadata] | None = None) -> None:
        """Commit synchronously what was consumed, or ``offsets``. Raises CommitFailedError or
        RebalanceInProgressError when the group rebalanced under the commit."""
        ...

    def assignment(self) -> set[TopicPartition]:
        """The partitions assigned now."""
        ...

    def membership(self) -> Membership:
        """The member's generation and state."""
        ...

    def group_metadata(self) -> GroupMetadata:
        """What this client's transactional producer's ``send_offsets_to_transaction`` needs."""
        ...

    def rewind(self) -> None:
        """Seek every assigned partition back to its committed offset. Raises KafkaError."""
        ...

    def close(self, autocommit: bool = True, timeout_ms: int | None = None) -> None:
        """Leave the group."""
        ...
