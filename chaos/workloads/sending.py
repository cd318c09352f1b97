"""What every producer mode does with a record: its key and value, its pace, and the client's report
of it in the ledger. The modes drive it: streaming and sync (:mod:`chaos.workloads.producer`),
:mod:`chaos.workloads.outbox` and :mod:`chaos.workloads.transactional`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from chaos.workloads.envelope import Encoder
from chaos.workloads.gate import BufferGate
from chaos.workloads.interfaces import Headers, ProducerClient, RecordMetadata
from chaos.workloads.ledger import ProducerLedger
from chaos.workloads.shape import HEADER, tag_header
from chaos.workloads.spec import ProducerSpec


class Delivery:
    """The outcome of record ``seq`` (``size`` bytes) as its client reports it, into the ledger
    (``seen``: the application looks at its errors). One small object per record: the client holds
    it until the outcome, up to a full queue of them while a broker is away."""

    __slots__ = ("seen", "sending", "seq", "size")

    def __init__(self, sending: Sending, seq: int, size: int, seen: bool) -> None:
        self.sending = sending
        self.seq = seq
        self.size = size
        self.seen = seen

    def acked(self, metadata: RecordMetadata) -> None:
        """The record is written where ``metadata`` says."""
        sending = self.sending
        sending.ledger.ack(self.seq, int(metadata.partition), sending.offset_of(metadata))
        sending.gate.release(self.size)

    def failed(self, exc: BaseException) -> None:
        """The record failed."""
        self.sending.ledger.error(self.seq, exc, seen=self.seen, from_callback=True)
        self.sending.gate.release(self.size)


class Sending:
    """One producer's records, pace and ledger, and the client they go to (``client``, which the
    transactional mode replaces with ``new_client()`` when an abort fails).

    ``unconfirmed``: the producer runs with acks=0, so what the client reports is not an offset
    (kafka-python 3.0 reports the record's index in its batch, librdkafka -1001): the ledger says so
    with -1. ``gate`` holds ``buffer.memory`` for a client without a bounded accumulator.
    """

    def __init__(
        self,
        spec: ProducerSpec,
        ledger: ProducerLedger,
        gate: BufferGate,
        new_client: Callable[[], ProducerClient],
        unconfirmed: bool = False,
        stop: threading.Event | None = None,
    ) -> None:
        self.spec = spec
        self.run_dir = Path(spec.run_dir)
        self.ledger = ledger
        self.gate = gate
        self.new_client = new_client
        self.unconfirmed = unconfirmed
        self.stop = stop or threading.Event()
        self.encoder = Encoder(spec.run_id, spec.id, spec.payload_size)
        self._client: ProducerClient | None = None

    @property
    def client(self) -> ProducerClient:
        """The client the records go to.

        Raises:
            RuntimeError: before the producer started one.
        """
        if self._client is None:
            raise RuntimeError("the producer has no client yet")
        return self._client

    @client.setter
    def client(self, client: ProducerClient) -> None:
        self._client = client

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

    def record(self, seq: int) -> tuple[bytes | None, bytes, Headers | None]:
        """Key, value and headers of record ``seq``: the enveloped value, or an application's input
        in its shape with the identity in a header (:mod:`chaos.workloads.shape`)."""
        shape = self.spec.shape
        if shape is None:
            key = self.key_for(seq)
            return key, self.encoder.encode(seq, key), None
        key, value = shape.render(self.spec.id, seq)
        return key, value, [(HEADER, tag_header(self.spec.run_id, self.spec.id, seq, key, value))]

    def offset_of(self, metadata: RecordMetadata) -> int:
        """The offset an acknowledgement proves: -1 when nothing was acknowledged (acks=0) or the
        client reported no offset (the record counts as unconfirmed, never as acked at offset 0)."""
        offset = metadata.offset
        return -1 if self.unconfirmed or offset is None or int(offset) < 0 else int(offset)

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
