"""The consumer workload: one consumer group member in its own OS process.

Run as ``python -m chaos.workloads.consumer SPEC.json`` (:mod:`chaos.workloads.consumer`), with
kafka-python or librdkafka (behind :mod:`chaos.workloads.interfaces`) as the spec's client says.
"Processing" a record is appending it to the member's ``processed`` ledger: that is the
application's side effect the oracle checks.
Commit strategies, as an application would write them:

* ``auto`` — ``enable.auto.commit=true``; polled records wait in an application buffer until
  ``batch_size`` of them are there (``minBatchSize`` in Kafka's consumer examples), then are processed. The client
  commits what it *polled* on its interval, so a crash loses the buffer.
* ``after_process`` — auto-commit off; the buffer is processed, then ``commitSync()``.
* ``per_partition`` — auto-commit off; each partition's records are processed, then that
  partition's last processed offset + 1 is committed.
* ``before_process`` — auto-commit off; commit first, then process (at most once).

A restarted member (same id) rejoins the same group and appends to the same ledger.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path

from kafka import TopicPartition
from kafka.coordinator.base import MemberState
from kafka.errors import CommitFailedError, RebalanceInProgressError
from kafka.structs import OffsetAndMetadata

from chaos.workloads.clients import isolation_level, resolve_settings
from chaos.workloads.connect import new_consumer
from chaos.workloads.envelope import Status, decode, producer_tag
from chaos.workloads.interfaces import Batches, ConsumedRecord, ConsumerClient
from chaos.workloads.ledger import ConsumerLedger
from chaos.workloads.security import client_security
from chaos.workloads.settings import Setting
from chaos.workloads.spec import ConsumerSpec

log = logging.getLogger("chaos.consumer")

Row = tuple[int, int, int, int, int]


def to_row(record: ConsumedRecord, run_id: str) -> Row:
    """(partition, offset, producer tag, seq, status) of a consumed record."""
    decoded = decode(record.value, run_id, record.key)
    tag = producer_tag(decoded.producer) if decoded.status == Status.VALID else 0
    return int(record.partition), int(record.offset), tag, decoded.seq, int(decoded.status)


class ConsumerWorkload:
    """Drives one consumer client according to a :class:`ConsumerSpec`."""

    def __init__(self, spec: ConsumerSpec, stop: threading.Event | None = None) -> None:
        self.spec = spec
        self.stop = stop or threading.Event()
        resolved = resolve_settings(spec.client, "consumer", spec.settings)
        # Auto-commit follows the strategy, unless the team's file turns it off (the ledger records it).
        auto = spec.strategy == "auto" and resolved.given.get("enable.auto.commit") is not False
        harness: dict[str, Setting] = {
            "enable.auto.commit": auto,
            "bootstrap.servers": spec.bootstrap_servers,
            "group.id": spec.group,
            "client.id": f"kafka-chaos-{spec.id}",
        }
        self.config = {
            **resolved.config(harness, defaults={"auto.offset.reset": "earliest"}),
            **client_security(spec.client_config, spec.client),
        }
        self.max_poll_records = resolved.number("max.poll.records", 500)
        self.ledger = ConsumerLedger(
            Path(spec.run_dir),
            spec.id,
            {
                "group": spec.group,
                "strategy": spec.strategy,
                "client": spec.client,
                "topic": spec.topic,
                "settings": spec.settings,
                # what the client reads with, its default included: the oracle judges by this
                "isolation_level": isolation_level(spec.client, spec.settings),
                "batch_size": spec.batch_size,
                "output_topic": spec.output_topic,
                "substituted": resolved.substituted,
                "run_id": spec.run_id,
            },
            spec.protocol,
        )
        self.buffer: list[Row] = []
        # Where, in the rows still to be processed, a new assignment epoch begins.
        self.epoch_marks: list[int] = []
        self._membership: tuple[int, frozenset[TopicPartition]] | None = None
        self._unsettled_since: float | None = None
        self._unsettled_limit_s = (
            resolved.number("max.poll.interval.ms", 300_000) + resolved.number("session.timeout.ms", 10_000)
        ) / 1000
        self._consumer: ConsumerClient | None = None

    @property
    def consumer(self) -> ConsumerClient:
        """The client.

        Raises:
            RuntimeError: before the member started one.
        """
        if self._consumer is None:
            raise RuntimeError("the consumer has no client yet")
        return self._consumer

    @consumer.setter
    def consumer(self, client: ConsumerClient) -> None:
        self._consumer = client

    def process(self, rows: list[Row]) -> None:
        """The application's processing: takes ``process_ms``, then its effect is durable."""
        if not rows:
            return
        if self.spec.process_ms:
            time.sleep(self.spec.process_ms / 1000)
        marks, self.epoch_marks = self.epoch_marks, []
        self.ledger.processed_many(rows, marks)

    def _note_membership(self) -> None:
        """A new group generation or assignment starts a new epoch after the rows already buffered:
        the client may now read a partition from its committed offset again."""
        now = (self.consumer.membership().generation_id, frozenset(self.consumer.assignment()))
        if now != self._membership:
            if self._membership is not None:
                self.epoch_marks.append(len(self.buffer))
            self._membership = now

    def _watch_membership(self) -> None:
        """Restart the client whose group membership has stayed unsettled for longer than a
        rebalance may take (``max.poll.interval.ms`` + ``session.timeout.ms``), as an application's
        liveness probe would. kafka-python 3.0.12 can leave a member in a rebalance whose SyncGroup
        never completes: it goes on fetching its old assignment but can never commit again."""
        if self.consumer.membership().state == MemberState.STABLE:
            self._unsettled_since = None
            return
        now = time.monotonic()
        if self._unsettled_since is None:
            self._unsettled_since = now
            return
        if now - self._unsettled_since < self._unsettled_limit_s:
            return
        log.warning(
            "group membership unsettled for %.0f s (%s): restarting the client, as a liveness probe would",
            now - self._unsettled_since,
            self.consumer.membership(),
        )
        with suppress(Exception):  # whatever the stuck client does on the way out
            self.consumer.close(autocommit=False, timeout_ms=5000)
        self.consumer = self._subscribed_client()
        self.epoch_marks.append(len(self.buffer))  # a new client reads from the committed offsets
        self._membership = None
        self._unsettled_since = None

    def _commit(self, offsets: Mapping[TopicPartition, OffsetAndMetadata] | None = None) -> bool:
        """Commit synchronously; False when the group rebalanced under the commit."""
        try:
            self.consumer.commit(offsets)
        except (CommitFailedError, RebalanceInProgressError) as e:
            # The group rebalanced under us: these records will be delivered again (a duplicate, not a loss).
            log.warning("commit failed, records will be redelivered: %s", e)
            return False
        return True

    def _flush_buffer(self, commit: bool) -> None:
        rows, self.buffer = self.buffer, []
        self.process(rows)
        if commit and rows:
            self._commit()

    def _subscribed_client(self) -> ConsumerClient:
        """A new client, subscribed once the topic's partitions are known: a member that joins first
        can be given an empty assignment, and kafka-python 3.0 may then stall in the rejoin that
        should follow. No ConsumerRebalanceListener: with one, kafka-python 3.0.x members can stall
        after a rebalance (dpkp/kafka-python#3138); a commit that fails across a rebalance only
        means redelivery."""
        consumer = new_consumer(self.spec.client, self.config, self.max_poll_records)
        deadline = time.monotonic() + 60
        while not consumer.partitions_for_topic(self.spec.topic):
            if time.monotonic() > deadline or self.stop.is_set():
                consumer.close(autocommit=False)
                raise SystemExit(f"topic {self.spec.topic} has no partitions after 60 s")
            time.sleep(0.2)
        consumer.subscribe([self.spec.topic])
        return consumer

    def run(self) -> int:
        """Consume until stopped (or idle for ``idle_exit_s``); returns the records processed."""
        self.consumer = self._subscribed_client()
        processed = 0
        last_record = time.monotonic()
        try:
            while not self.stop.is_set():
                batches = self.consumer.poll(timeout_ms=self.spec.poll_timeout_ms)
                self._watch_membership()
                if not batches:
                    if self.spec.idle_exit_s is not None and time.monotonic() - last_record > self.spec.idle_exit_s:
                        break
                    if self.spec.strategy in ("auto", "after_process") and self.buffer:
                        # A quiet topic must not strand a partial batch forever.
                        self._flush_buffer(commit=self.spec.strategy == "after_process")
                    continue
                last_record = time.monotonic()
                self._note_membership()
                self.ledger.polled(sum(len(records) for records in batches.values()))
                processed += self._handle(batches)
            # Clean shutdown: finish what is buffered, commit it, leave the group.
            if self.buffer:
                processed += len(self.buffer)
                self._flush_buffer(commit=self.spec.strategy != "auto")
        finally:
            self.consumer.close()
            self.ledger.close()
        return processed

    def _handle(self, batches: Batches) -> int:
        run_id = self.spec.run_id
        strategy = self.spec.strategy
        if strategy == "per_partition":
            n = 0
            for tp, records in batches.items():
                rows = [to_row(r, run_id) for r in records]
                self.process(rows)
                self._commit({tp: OffsetAndMetadata(records[-1].offset + 1, "", -1)})
                n += len(rows)
            return n
        rows = [to_row(r, run_id) for records in batches.values() for r in records]
        if strategy == "before_process":
            # Commit, then process: a poll whose commit failed (a rebalance) is not processed; the
            # rejoined member is given its records again. Processing it anyway would block the poll
            # loop for the whole processing and stall the rebalance that failed the commit.
            if not self._commit():
                return 0
            self.process(rows)
            return len(rows)
        self.buffer.extend(rows)
        if len(self.buffer) >= self.spec.batch_size:
            n = len(self.buffer)
            self._flush_buffer(commit=strategy == "after_process")
            return n
        return 0
