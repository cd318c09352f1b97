"""A consume-transform-produce member: it reads the input topic as a consumer group member and, for
each record, writes a derived record to an output topic. The derived record is an envelope naming
the *input* record (its producer and sequence number), so the drain of the output topic says which
input each output came from, and the oracle can tell an input transformed once, twice or never.

* ``transactional`` (exactly once): each poll's outputs and the input offsets after them are
  written in one transaction (``send_offsets_to_transaction``, with the member's group metadata so
  a zombie is fenced, KIP-447), committed, then the input records are appended to the processed
  ledger. A failed transaction is aborted and the member rewinds to its committed offsets.
* ``after_process`` (at least once): outputs are sent as the records are polled; once
  ``batch_size`` records are in, the outputs are flushed and the input offsets committed. A kill
  before that commit writes those outputs again after the restart.

Run through the consumer entry point (``python -m chaos.workloads.consumer SPEC.json``); the spec's
``output_topic`` makes the member a transformer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import replace

from kafka import TopicPartition
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from chaos.workloads.clients import resolve_settings
from chaos.workloads.connect import new_producer
from chaos.workloads.envelope import Decoded, Status, decode, encode
from chaos.workloads.interfaces import Batches, GroupMetadata, ProducerClient
from chaos.workloads.member import ConsumerWorkload, Row, to_row
from chaos.workloads.security import client_security
from chaos.workloads.settings import Setting
from chaos.workloads.spec import ConsumerSpec

log = logging.getLogger("chaos.transform")

#: What an output record's value carries after the input's envelope fields.
Output = tuple[Decoded, bytes | None]


class TransformWorkload(ConsumerWorkload):
    """A :class:`ConsumerWorkload` whose processing writes derived records to ``output_topic``."""

    def __init__(self, spec: ConsumerSpec, stop: threading.Event | None = None) -> None:
        assert spec.output_topic is not None
        self.eos = spec.strategy == "transactional"
        settings = dict(spec.settings)
        if self.eos:
            settings.setdefault("isolation.level", "read_committed")
        super().__init__(replace(spec, settings=settings), stop)
        self.output_topic = spec.output_topic
        self.payload = b"by:%s" % spec.id.encode()
        self.rewound = False
        produced = resolve_settings(spec.client, "producer", {"acks": "all", **spec.output_settings})
        harness: dict[str, Setting] = {
            "bootstrap.servers": spec.bootstrap_servers,
            "client.id": f"kafka-chaos-{spec.id}-out",
        }
        if self.eos:
            harness["transactional.id"] = spec.transactional_id
        self.producer_config = {**produced.config(harness), **client_security(spec.client_config, spec.client)}
        self._producer: ProducerClient | None = None

    @property
    def producer(self) -> ProducerClient:
        """The output topic's producer.

        Raises:
            RuntimeError: before the member started one.
        """
        if self._producer is None:
            raise RuntimeError("the transformer has no producer yet")
        return self._producer

    def _new_producer(self) -> ProducerClient:
        producer = new_producer(self.spec.client, self.producer_config)
        if self.eos:
            producer.init_transactions()
        return producer

    def run(self) -> int:
        """Transform until stopped; returns the input records processed."""
        self._producer = self._new_producer()
        try:
            return super().run()
        finally:
            with suppress(Exception):
                self.producer.close(timeout=30)

    # -- records --------------------------------------------------------------------------------
    def _read(self, batches: Batches) -> tuple[list[Row], list[Output]]:
        rows: list[Row] = []
        outs: list[Output] = []
        for records in batches.values():
            for r in records:
                rows.append(to_row(r, self.spec.run_id))
                outs.append((decode(r.value, self.spec.run_id, r.key), r.key))
        return rows, outs

    def _send_outputs(self, outs: list[Output]) -> None:
        """Send one derived record per valid input (a corrupted or foreign input has none)."""
        for d, key in outs:
            if d.status == Status.VALID:
                value = encode(self.spec.run_id, d.producer, d.seq, self.payload, key)
                self.producer.send(self.output_topic, key, value)

    def _handle(self, batches: Batches) -> int:
        if self.eos:
            # The group metadata of the poll that returned these records: if the group moves on while
            # they are processed, the broker refuses their offsets and the transaction aborts (KIP-447).
            # Taken at commit time instead, a member whose partitions were revoked and given back in the
            # meantime commits, then reads the same records again: duplicates, seen with librdkafka.
            generation = self.consumer.group_metadata()
            rows, outs = self._read(batches)
            offsets = {tp: OffsetAndMetadata(records[-1].offset + 1, "", -1) for tp, records in batches.items()}
            self._transaction(rows, outs, offsets, generation)
            return len(rows)
        rows, outs = self._read(batches)
        self._send_outputs(outs)  # as the records come; their input offsets wait for the batch
        self.buffer.extend(rows)
        if len(self.buffer) >= self.spec.batch_size:
            n = len(self.buffer)
            self._flush_buffer(commit=True)
            return n
        return 0

    # -- at least once --------------------------------------------------------------------------
    def _flush_buffer(self, commit: bool) -> None:
        rows, self.buffer = self.buffer, []
        if not rows:
            return
        if self.spec.process_ms:
            time.sleep(self.spec.process_ms / 1000)
        self.producer.flush()
        if commit:
            self._commit()
        marks, self.epoch_marks = self.epoch_marks, []
        self.ledger.processed_many(rows, marks)

    # -- exactly once ---------------------------------------------------------------------------
    def _transaction(
        self,
        rows: list[Row],
        outs: list[Output],
        offsets: Mapping[TopicPartition, OffsetAndMetadata],
        generation: GroupMetadata,
    ) -> None:
        """Outputs and input offsets in one transaction; on failure abort and rewind."""
        try:
            self.producer.begin_transaction()
            self._send_outputs(outs)
            if self.spec.process_ms:
                time.sleep(self.spec.process_ms / 1000)
            self.producer.send_offsets_to_transaction(offsets, generation)
            self.producer.commit_transaction()
        except KafkaError as e:
            log.warning("transaction failed, aborting and rewinding to the committed offsets: %s", e)
            self._abort()
            return
        marks, self.epoch_marks = self.epoch_marks, []
        if self.rewound:  # read again from the committed offsets: a new epoch
            marks, self.rewound = [0, *marks], False
        self.ledger.processed_many(rows, marks)

    def _abort(self) -> None:
        try:
            self.producer.abort_transaction()
        except KafkaError as e:
            log.warning("abort failed, starting a new producer: %s", e)
            with suppress(Exception):
                self.producer.close(timeout=5)
            self._producer = self._new_producer()
        self.consumer.rewind()
        self.rewound = True
