"""The producer workload: one OS process sending checksum-tagged records and recording every step.

The client is kafka-python or librdkafka, behind :mod:`chaos.workloads.interfaces`; the Java client
has its own driver speaking the same ledger protocol. What every mode does with a record is
:class:`~chaos.workloads.sending.Sending`.

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
from pathlib import Path

from kafka.errors import KafkaError

from chaos.workloads.clients import resolve_settings
from chaos.workloads.connect import new_producer
from chaos.workloads.entry import workload_main
from chaos.workloads.gate import BufferGate
from chaos.workloads.interfaces import ProducerClient
from chaos.workloads.ledger import ProducerLedger
from chaos.workloads.outbox import OutboxForwarding
from chaos.workloads.security import client_security
from chaos.workloads.sending import Delivery, Sending
from chaos.workloads.settings import Setting
from chaos.workloads.spec import ProducerSpec
from chaos.workloads.totals import next_seq
from chaos.workloads.transactional import TransactionalSending

log = logging.getLogger("chaos.producer")


class ProducerWorkload:
    """Drives one producer client according to a :class:`ProducerSpec`."""

    def __init__(self, spec: ProducerSpec, stop: threading.Event | None = None) -> None:
        self.spec = spec
        self.run_dir = Path(spec.run_dir)
        resolved = resolve_settings(spec.client, "producer", spec.settings)
        harness: dict[str, Setting] = {
            "bootstrap.servers": spec.bootstrap_servers,
            "client.id": f"kafka-chaos-{spec.id}",
        }
        if spec.mode == "transactional":
            harness["transactional.id"] = spec.transactional_id
        self.config = {**resolved.config(harness), **client_security(spec.client_config, spec.client)}
        self.max_block_ms = resolved.number("max.block.ms", 60_000)
        # buffer.memory is emulated for kafka-python only: librdkafka bounds its own queue (it is mapped onto it).
        buffer_memory = resolved.emulated.get("buffer.memory")
        gate = BufferGate(buffer_memory if isinstance(buffer_memory, int) else None, self.max_block_ms)
        timeout_ms = resolved.number("delivery.timeout.ms", resolved.number("message.timeout.ms", 0))
        #: How long the sync mode waits for one record's outcome.
        self.sync_timeout_s = int(timeout_ms or 120_000) / 1000 + 5
        ledger = ProducerLedger(
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
        unconfirmed = str(resolved.given.get("acks")) == "0"
        self.sending = Sending(spec, ledger, gate, self.new_client, unconfirmed, stop)
        self.ledger = ledger

    def new_client(self) -> ProducerClient:
        """A new client of the spec's kind with the spec's settings."""
        return new_producer(self.spec.client, self.config, self.max_block_ms)

    def run(self) -> int:
        """Send until the count, the duration or a stop; returns the number of records sent."""
        sending = self.sending
        sending.client = self.new_client()
        try:
            if self.spec.mode == "outbox":
                return OutboxForwarding(sending).run()
            if self.spec.mode == "transactional":
                return TransactionalSending(sending).run()
            return self._run_streaming() if self.spec.mode != "sync" else self._run_sync()
        finally:
            sending.client.close(timeout=self.spec.close_timeout_s)
            self.ledger.close()

    def _run_streaming(self) -> int:
        sending, client = self.sending, self.sending.client
        seen = self.spec.mode == "async"
        # Where send() has returned inside the current intent range, one memory store per record
        # (see ReturnedMark): a kill mid-range leaves no returned send uncounted.
        returned_mark = self.ledger.returned_mark.cells
        topic = self.spec.topic
        seq = resumed = next_seq(self.run_dir, self.spec.id)
        sent, started = 0, time.monotonic()
        while (n := sending.budget(sent, started, resumed)) != -1:
            if n == 0:
                sending.wait_turn()
                continue
            start, end = seq, seq + n
            self.ledger.intent(start, end)
            self.ledger.returned_mark.begin(start)
            for s in range(start, end):
                key, value, headers = sending.record(s)
                size = len(value)
                try:
                    sending.gate.acquire(size)
                    client.produce(topic, key, value, Delivery(sending, s, size, seen), headers)
                except KafkaError as e:
                    # send() itself raised: the application sees that, whatever its mode.
                    self.ledger.returned(start, s)
                    self.ledger.error(s, e, seen=True, from_callback=False)
                    start = s + 1
                    returned_mark[1] = start
                    continue
                returned_mark[1] = s + 1
            if start < end:
                self.ledger.returned(start, end)
            sent += n
            seq = end
        # A clean shutdown flushes what is buffered, as a well-behaved application does on exit.
        client.flush(timeout=self.spec.close_timeout_s)
        return sent

    def _run_sync(self) -> int:
        sending, client = self.sending, self.sending.client
        seq = resumed = next_seq(self.run_dir, self.spec.id)
        sent, started = 0, time.monotonic()
        timeout = self.sync_timeout_s
        while (n := sending.budget(sent, started, resumed)) != -1:
            if n == 0:
                sending.wait_turn()
                continue
            self.ledger.intent(seq)
            try:
                future = client.send(self.spec.topic, *sending.record(seq))
                metadata = future.get(timeout=timeout)
                self.ledger.ack_in_thread(seq, int(metadata.partition), sending.offset_of(metadata))
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
