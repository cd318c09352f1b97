"""The ``transactional`` producer mode: ``transaction_size`` records per transaction, committed, or
aborted on purpose for a fraction ``abort_ratio`` of them, as an application using Kafka
transactions writes it.

What reaches the ledger, beside the streaming modes' INTENT / RETURNED / ACK / errors
(``docs/ledgers.md``):

* ``COMMITTING [start, end)`` before ``commit_transaction()`` is called, ``COMMITTED`` after it
  returned; ``ABORTED`` after ``abort_transaction()`` returned. A transaction with ``COMMITTED`` is
  committed, one with ``ABORTED`` aborted, one with ``COMMITTING`` alone has an unknown outcome
  (the commit may or may not have reached the coordinator), and one with neither was never asked to
  commit: the coordinator aborts it (when its timeout expires, or when the restarted producer's
  ``init_transactions()`` fences it).
* A commit that fails is followed by an abort; an abort that fails too leaves the outcome unknown,
  and the producer starts over with a new client, whose ``init_transactions()`` settles it.
"""

from __future__ import annotations

import logging
import time
from contextlib import suppress

from kafka.errors import KafkaError

from chaos.workloads.ledger import Kind
from chaos.workloads.sending import Delivery, Sending
from chaos.workloads.totals import next_seq

log = logging.getLogger("chaos.producer")


class TransactionalSending:
    """Sends one transaction after another through a producer's :class:`~chaos.workloads.sending.Sending`."""

    def __init__(self, sending: Sending) -> None:
        self.w = sending
        self.size = sending.spec.transaction_size

    def run(self) -> int:
        """Transactions until the count, the duration or a stop; returns the records sent.

        Raises:
            KafkaError: ``init_transactions()`` failed (the producer cannot start).
        """
        w = self.w
        w.client.init_transactions()
        seq = resumed = next_seq(w.run_dir, w.spec.id)
        # Transactions are counted over restarts from the sequence numbers, so a restarted producer
        # goes on with the same pattern of commits and aborts.
        index = -(-resumed // self.size)
        sent, started = 0, time.monotonic()
        done = False
        while not done:
            start = seq
            w.client.begin_transaction()
            failed = False
            while seq - start < self.size:
                n = w.budget(sent, started, resumed)
                if n == -1:
                    done = True
                    break
                if n == 0:
                    w.wait_turn()
                    continue
                n = min(n, self.size - (seq - start))
                failed = not self._send_range(seq, seq + n)
                seq += n
                sent += n
                if failed:
                    break
            if seq == start:  # nothing sent: nothing to end but the empty transaction
                with suppress(KafkaError):
                    w.client.abort_transaction()
                break
            on_purpose = not failed and w.spec.aborts(index)
            self._end(start, seq, abort=failed or on_purpose, on_purpose=on_purpose)
            index += 1
        return sent

    def _send_range(self, start: int, end: int) -> bool:
        """Send ``[start, end)`` in the open transaction; False when a send raised (the rest of the
        range is then not sent, and the transaction must abort)."""
        w = self.w
        w.ledger.intent(start, end)
        w.ledger.returned_mark.begin(start)
        mark = w.ledger.returned_mark.cells
        topic, client = w.spec.topic, w.client
        for s in range(start, end):
            key = w.key_for(s)
            value = w.encoder.encode(s, key)
            size = len(value)
            try:
                w.gate.acquire(size)
                client.produce(topic, key, value, Delivery(w, s, size, True))
            except KafkaError as e:
                w.ledger.returned(start, s)
                w.ledger.error(s, e, seen=True, from_callback=False)
                mark[1] = s + 1
                return False
            mark[1] = s + 1
        w.ledger.returned(start, end)
        return True

    def _end(self, start: int, end: int, abort: bool, on_purpose: bool = False) -> None:
        """Commit (or abort) the transaction of ``[start, end)`` and record how it ended. An abort
        on purpose first flushes, as an application that aborts after its records went out (a
        failure found late): its records are then in the log for a read_uncommitted reader to
        take, which is what an aborted transaction's records look like."""
        w = self.w
        if on_purpose:
            with suppress(KafkaError):
                w.client.flush()
        if not abort:
            w.ledger.transaction(Kind.COMMITTING, start, end)
            try:
                w.client.commit_transaction()
                w.ledger.transaction(Kind.COMMITTED, start, end)
                return
            except KafkaError as e:
                w.ledger.note_error(e)
                log.warning("commit of [%d, %d) failed, aborting: %s", start, end, e)
        try:
            w.client.abort_transaction()
            w.ledger.transaction(Kind.ABORTED, start, end)
        except KafkaError as e:
            # The outcome stays unknown here; a new client's init_transactions() settles it.
            w.ledger.note_error(e)
            log.warning("abort of [%d, %d) failed, starting a new client: %s", start, end, e)
            with suppress(Exception):
                w.client.close(timeout=5)
            w.client = w.new_client()
            w.client.init_transactions()
