"""The producer workload: one OS process sending checksum-tagged records and recording every step.

The client is kafka-python or librdkafka (through :mod:`chaos.workloads.rdkafka`, which gives it
kafka-python's ``send``/``flush``/``close``); the Java client has its own driver speaking the same
ledger protocol.

Run as ``python -m chaos.workloads.producer SPEC.json`` (the harness does this), so a fault can
SIGKILL it like a crashing application. Modes, as an application would write them:

* ``fire_and_forget`` — ``send()`` and move on; errors are never looked at (the harness still
  records them, as *swallowed*).
* ``async`` — ``send()`` with callbacks; the application sees errors in its errback.
* ``sync`` — ``send().get()``: one record at a time, each acknowledged or failed before the next.
* ``transactional`` — ``transaction_size`` records per transaction, a fraction aborted on purpose
  (:mod:`chaos.workloads.transactional`).
* ``outbox`` — the record is first committed to a local SQLite outbox; a forwarder thread sends
  what is pending and marks it done when acknowledged; after a restart it resends what is pending.

A restarted producer continues after the highest sequence number it had intended (or, with the
outbox, after the highest one in the outbox).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError

from chaos.workloads.clients import resolve_settings
from chaos.workloads.entry import workload_main
from chaos.workloads.envelope import Encoder
from chaos.workloads.gate import BufferGate
from chaos.workloads.ledger import ProducerLedger
from chaos.workloads.spec import ProducerSpec
from chaos.workloads.totals import next_seq

log = logging.getLogger("chaos.producer")


class ProducerWorkload:
    """Drives one ``KafkaProducer`` according to a :class:`ProducerSpec`."""

    def __init__(self, spec: ProducerSpec, stop: threading.Event | None = None) -> None:
        self.spec = spec
        self.run_dir = Path(spec.run_dir)
        self.stop = stop or threading.Event()
        resolved = resolve_settings(spec.client, "producer", spec.settings)
        self.rdkafka = spec.client == "librdkafka"
        if self.rdkafka:
            self.kwargs: dict[str, Any] = {
                **resolved.kwargs,
                "bootstrap.servers": spec.bootstrap_servers,
                "client.id": f"kafka-chaos-{spec.id}",
            }
            max_block_ms = int(resolved.emulated.get("max.block.ms", 60_000))
            # librdkafka bounds its own queue (buffer.memory is mapped onto it).
            self.gate = BufferGate(None, max_block_ms)
            timeout_ms = resolved.kwargs.get("delivery.timeout.ms", resolved.kwargs.get("message.timeout.ms"))
            if spec.mode == "transactional":
                self.kwargs["transactional.id"] = spec.transactional_id
        else:
            self.kwargs = {
                **resolved.kwargs,
                "bootstrap_servers": spec.bootstrap_servers.split(","),
                "client_id": f"kafka-chaos-{spec.id}",
            }
            max_block_ms = int(self.kwargs.get("max_block_ms", 60_000))
            self.gate = BufferGate(resolved.emulated.get("buffer.memory"), max_block_ms)
            timeout_ms = self.kwargs.get("delivery_timeout_ms")
            if spec.mode == "transactional":
                self.kwargs["transactional_id"] = spec.transactional_id
        self.max_block_ms = max_block_ms
        #: How long the sync mode waits for one record's outcome.
        self.sync_timeout_s = int(timeout_ms or 120_000) / 1000 + 5
        # With acks=0 the broker never answers: what the client reports is not an offset (kafka-python
        # 3.0 reports the record's index in its batch, librdkafka -1001). The ledger says so with -1.
        self.unconfirmed = str(resolved.kwargs.get("acks")) == "0"
        self.ledger = ProducerLedger(
            self.run_dir,
            spec.id,
            {
                "mode": spec.mode,
                "client": spec.client,
                "topic": spec.topic,
                "settings": spec.settings,
                "run_id": spec.run_id,
                "substituted": resolved.substituted,
                "emulated": sorted(resolved.emulated),
                **(
                    {"transaction_size": spec.transaction_size, "abort_ratio": spec.abort_ratio}
                    if spec.mode == "transactional"
                    else {}
                ),
            },
            spec.protocol,
        )
        self.producer: Any = None  # a KafkaProducer, or an RdProducer with its interface
        self.encoder = Encoder(spec.run_id, spec.id, spec.payload_size)

    # -- records ------------------------------------------------------------------------------
    def key_for(self, seq: int) -> bytes | None:
        """The record key the spec's key strategy gives ``seq``."""
        if self.spec.keys == "none":
            return None
        if self.spec.keys == "pinned":
            return self.spec.id.encode()
        return b"%d" % seq

    def value_for(self, seq: int) -> bytes:
        """The enveloped value of record ``seq`` (its checksum covers ``key_for(seq)`` too)."""
        return self.encoder.encode(seq, self.key_for(seq))

    def offset_of(self, metadata: Any) -> int:
        """The offset an acknowledgement proves: -1 when nothing was acknowledged (acks=0) or the
        client reported no offset (the record counts as unconfirmed, never as acked at offset 0)."""
        offset = getattr(metadata, "offset", None)
        return -1 if self.unconfirmed or offset is None or int(offset) < 0 else int(offset)

    # -- callbacks (client's thread) ------------------------------------------------------------
    def _on_ack(self, seq: int, size: int, metadata: Any) -> None:
        self.ledger.ack(seq, int(metadata.partition), self.offset_of(metadata))
        self.gate.release(size)

    def _on_error(self, seq: int, size: int, seen: bool, exc: BaseException) -> None:
        self.ledger.error(seq, exc, seen=seen, from_callback=True)
        self.gate.release(size)

    def _on_delivery(self, seq: int, seen: bool, err: Any, msg: Any) -> None:
        """librdkafka's delivery report of record ``seq`` (streaming modes)."""
        if err is None:
            from chaos.workloads.rdkafka import known_offset

            self.ledger.ack(seq, msg.partition(), -1 if self.unconfirmed else known_offset(msg.offset()))
        else:
            from chaos.workloads.rdkafka import as_exception

            self.ledger.error(seq, as_exception(err), seen=seen, from_callback=True)

    # -- pacing -------------------------------------------------------------------------------
    def budget(self, sent: int, started: float, resumed_at: int = 0) -> int:
        """How many more records may be sent now (0: wait a little, -1: done).

        ``count`` bounds the producer over all its restarts: a producer resumed at sequence number
        ``resumed_at`` has already sent that many.
        """
        spec = self.spec
        if self.stop.is_set():
            return -1
        if spec.duration_s is not None and time.monotonic() - started >= spec.duration_s:
            return -1
        batch = spec.protocol.intent_batch
        left = batch if spec.count is None else spec.count - resumed_at - sent
        if left <= 0:
            return -1
        if spec.rate is not None:
            due = int((time.monotonic() - started) * spec.rate) + 1 - sent
            return max(0, min(left, due, batch))
        return min(left, batch)

    def wait_turn(self) -> None:
        """Wait one pacing tick (the spec's ``protocol.pace_ms``): the loop is ahead of its rate."""
        time.sleep(self.spec.protocol.pace_ms / 1000)

    def new_client(self) -> Any:
        """A new client with the spec's settings (a ``KafkaProducer`` or an ``RdProducer``)."""
        if self.rdkafka:
            from chaos.workloads.rdkafka import RdProducer

            return RdProducer(self.kwargs, self.max_block_ms)
        return KafkaProducer(**self.kwargs)

    def run(self) -> int:
        """Send until the count, the duration or a stop; returns the number of records sent."""
        self.producer = self.new_client()
        try:
            if self.spec.mode == "outbox":
                from chaos.workloads.outbox import OutboxForwarding

                return OutboxForwarding(self).run()
            if self.spec.mode == "transactional":
                from chaos.workloads.transactional import TransactionalSending

                return TransactionalSending(self).run()
            return self._run_streaming() if self.spec.mode != "sync" else self._run_sync()
        finally:
            self.producer.close(timeout=self.spec.close_timeout_s)
            self.ledger.close()

    def _run_streaming(self) -> int:
        assert self.producer is not None
        seen = self.spec.mode == "async"
        # Where send() has returned inside the current intent range, one memory store per record
        # (see ReturnedMark): a kill mid-range leaves no returned send uncounted.
        returned_mark = self.ledger.returned_mark.cells
        rd, topic = self.rdkafka, self.spec.topic
        seq = resumed = next_seq(self.run_dir, self.spec.id)
        sent, started = 0, time.monotonic()
        while (n := self.budget(sent, started, resumed)) != -1:
            if n == 0:
                self.wait_turn()
                continue
            start, end = seq, seq + n
            self.ledger.intent(start, end)
            self.ledger.returned_mark.begin(start)
            for s in range(start, end):
                key = self.key_for(s)
                value = self.encoder.encode(s, key)
                try:
                    if rd:  # librdkafka: its own callback per record, no future (a third of the cost)
                        self.producer.produce(topic, key, value, partial(self._on_delivery, s, seen))
                        returned_mark[1] = s + 1
                        continue
                    self.gate.acquire(len(value))
                    future = self.producer.send(topic, key=key, value=value)
                except KafkaError as e:
                    # send() itself raised: the application sees that, whatever its mode.
                    self.ledger.returned(start, s)
                    self.ledger.error(s, e, seen=True, from_callback=False)
                    start = s + 1
                    returned_mark[1] = start
                    continue
                returned_mark[1] = s + 1
                future.add_callback(self._on_ack, s, len(value))
                future.add_errback(self._on_error, s, len(value), seen)
            if start < end:
                self.ledger.returned(start, end)
            sent += n
            seq = end
        # A clean shutdown flushes what is buffered, as a well-behaved application does on exit.
        self.producer.flush(timeout=self.spec.close_timeout_s)
        return sent

    def _run_sync(self) -> int:
        assert self.producer is not None
        seq = resumed = next_seq(self.run_dir, self.spec.id)
        sent, started = 0, time.monotonic()
        timeout = self.sync_timeout_s
        while (n := self.budget(sent, started, resumed)) != -1:
            if n == 0:
                self.wait_turn()
                continue
            self.ledger.intent(seq)
            try:
                metadata = self.producer.send(self.spec.topic, key=self.key_for(seq), value=self.value_for(seq)).get(
                    timeout=timeout
                )
                self.ledger.ack_in_thread(seq, int(metadata.partition), self.offset_of(metadata))
            except KafkaError as e:
                self.ledger.error(seq, e, seen=True, from_callback=False)
            self.ledger.returned(seq)
            seq += 1
            sent += 1
        return sent


def main(argv: list[str] | None = None) -> int:
    """Entry point of the producer process: ``python -m chaos.workloads.producer SPEC.json``."""
    return workload_main(argv, ProducerSpec, lambda spec, stop: ProducerWorkload(spec, stop).run(), "sent")


if __name__ == "__main__":
    sys.exit(main())
