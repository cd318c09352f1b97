"""The line protocol (``docs/clients.md``): a driver prints its events as JSON lines on stdout instead
of writing the binary ledgers, and the harness turns them into the ledgers through the Python writers
(:mod:`chaos.workloads.ledger`), so the ledgers hold exactly what those writers would for the same
events.

The driver's stdout is ``ledgers/<kind>-<id>.lines``, opened ``O_APPEND`` by the harness: a line is
the kernel's once the driver's ``write`` returned, so a SIGKILL loses nothing the driver had printed.
The harness converts while the driver runs (so totals see progress) and completely once it has
exited, before a restart, a drain or a verdict. A last line cut short by a kill is counted
(:attr:`LineConverter.torn`) and dropped, as a torn binary record is; before each start the harness
ends the file with a newline, so a torn line is never glued to the next start's first line.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path

from chaos.errors import InfrastructureError
from chaos.rundir import LEDGERS
from chaos.workloads.clients import isolation_level, resolve_settings
from chaos.workloads.clocks import SYSTEM_CLOCKS, Clocks
from chaos.workloads.envelope import Decoded, Status, decode, producer_tag
from chaos.workloads.ledger import ConsumerLedger, Kind, ProducerLedger
from chaos.workloads.spec import ConsumerSpec, ProducerSpec
from chaos.workloads.totals import next_seq

#: The environment variable a line-protocol producer finds its first sequence number in.
NEXT_SEQ_ENV = "KAFKA_CHAOS_NEXT_SEQ"
SUFFIX = ".lines"
#: The most one pass reads (a pass every few tens of milliseconds keeps far ahead of any driver).
_CHUNK = 4 << 20
_STATUS = {"valid": Status.VALID, "corrupted": Status.CORRUPTED, "foreign": Status.FOREIGN}
_TRANSACTIONS = {"committing": Kind.COMMITTING, "committed": Kind.COMMITTED, "aborted": Kind.ABORTED}

Event = Mapping[str, object]
Row = tuple[int, int, int, int, int]


class LineProtocolError(InfrastructureError):
    """A driver printed a line that breaks the line protocol; the message names the file and line."""


class _Bad(ValueError):
    """What is wrong with one line, before its file and number are added."""


def _int(event: Event, key: str, least: int | None = 0) -> int:
    value = event.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or (least is not None and value < least):
        bound = "" if least is None else f" of at least {least}"
        raise _Bad(f"{key} must be a whole number{bound}, not {value!r}")
    return value


def _range(event: Event) -> tuple[int, int]:
    seq = _int(event, "seq")
    end = _int(event, "end") if "end" in event else seq + 1
    if end <= seq:
        raise _Bad(f"end {end} must be above seq {seq}")
    return seq, end


def _flag(event: Event, key: str) -> bool:
    value = event.get(key)
    if not isinstance(value, bool):
        raise _Bad(f"{key} must be true or false, not {value!r}")
    return value


def _from_app(event: Event) -> bool:
    source = event.get("from", "callback")
    if source not in ("callback", "app"):
        raise _Bad(f"from must be callback or app, not {source!r}")
    return source == "app"


def _bytes(event: Event, key: str) -> bytes | None:
    value = event.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Bad(f"{key} must be base64 text or null, not {value!r}")
    return base64.b64decode(value, validate=True)


class LineConverter:
    """Turns one workload's ``.lines`` into its ledgers, start after start (see the module docstring).

    Call :meth:`begin` before each start of the driver, :meth:`pump` while it runs and :meth:`finish`
    once it has exited. ``clocks``: where the writers read the time when a line carries no ``ts``.

    Raises (on construction):
        UsageError: the spec's settings are not the client's (loading checks this already).
    """

    def __init__(self, spec: ProducerSpec | ConsumerSpec, clocks: Clocks = SYSTEM_CLOCKS) -> None:
        self.spec = spec
        self.kind = "producer" if isinstance(spec, ProducerSpec) else "consumer"
        self.path = Path(spec.run_dir) / LEDGERS / f"{self.kind}-{spec.id}{SUFFIX}"
        #: Last lines cut short by a kill, dropped.
        self.torn = 0
        #: The number of the last line read (what an error names).
        self.line = 0
        self._offset = 0
        if self.path.exists():  # another converter's lines are not converted twice
            data = self.path.read_bytes()
            self._offset, self.line = len(data), data.count(b"\n")
        self._partial = b""
        self._system = clocks
        self._event_ns: int | None = None
        self._clocks = Clocks(wall_ns=self._wall_ns, monotonic_ns=clocks.monotonic_ns)
        self._settings = resolve_settings(spec.client, self.kind, spec.settings, spec.external)
        self._unconfirmed = str(self._settings.given.get("acks", "")).strip() == "0"
        self._producer: ProducerLedger | None = None
        self._consumer: ConsumerLedger | None = None
        self._intended = 0
        self._rows: list[Row] = []
        self._marks: list[int] = []
        self._rows_ns: int | None = None
        handlers: dict[str, Callable[[Event], None]] = {
            "intent": self._intent,
            "returned": self._returned,
            "ack": self._ack,
            "error": self._error,
            **dict.fromkeys(_TRANSACTIONS, self._transaction),
        }
        if self.kind == "consumer":
            handlers = {"polled": self._polled, "epoch": self._epoch, "processed": self._processed}
        self._handlers = handlers

    def _wall_ns(self) -> int:
        return self._event_ns if self._event_ns is not None else self._system.wall_ns()

    # -- the driver's lifecycle ------------------------------------------------------------------
    def begin(self) -> int:
        """Before a start of the driver: end the file on a line boundary and open the ledger writers
        (which write the meta file). Returns the first sequence number this start may use (0 for a
        consumer), which the driver is given in :data:`NEXT_SEQ_ENV`.

        Raises:
            OSError: the ledger directory cannot be written.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            if os.fstat(fd).st_size:
                os.write(fd, b"\n")
        finally:
            os.close(fd)
        spec, run_dir = self.spec, Path(self.spec.run_dir)
        if isinstance(spec, ProducerSpec):
            self._producer = ProducerLedger(run_dir, spec.id, self._producer_meta(spec), spec.protocol, self._clocks)
            self._intended = next_seq(run_dir, spec.id)
            return self._intended
        self._consumer = ConsumerLedger(run_dir, spec.id, self._consumer_meta(spec), spec.protocol, self._clocks)
        return 0

    def stdout(self) -> int:
        """A descriptor of the file for the driver's stdout (``O_APPEND``: the kernel keeps each write).

        Raises:
            OSError: the file cannot be opened.
        """
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def pump(self) -> int:
        """Convert the whole lines printed since the last pass; returns the number of bytes read.

        Raises:
            LineProtocolError: a line breaks the protocol (naming the file and the line).
        """
        if not self.path.exists():
            return 0
        with self.path.open("rb") as f:
            f.seek(self._offset)
            data = f.read(_CHUNK)
        self._offset += len(data)
        *whole, self._partial = (self._partial + data).split(b"\n")
        for raw in whole:
            self.line += 1
            self._one(raw)
        self._flush()
        return len(data)

    def finish(self) -> None:
        """After the driver exited: convert everything it printed (a last line cut short is counted in
        :attr:`torn` and dropped), then close the writers.

        Raises:
            LineProtocolError: a line breaks the protocol.
        """
        while self.pump():
            pass
        tail, self._partial = self._partial, b""
        if tail.strip():
            try:
                json.loads(tail)
            except ValueError:
                self.torn += 1
            else:  # a whole event without its newline: the newline before the next start ends it
                self._one(tail, number=self.line + 1)
        self._flush()
        self.close()

    def close(self) -> None:
        """Close the writers (what was not converted stays in the file)."""
        if self._producer is not None:
            self._producer.close()
            self._producer = None
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None

    # -- one line ----------------------------------------------------------------------------------
    def _one(self, raw: bytes, number: int | None = None) -> None:
        text = raw.strip()
        if not text:
            return
        try:
            event = json.loads(text)
            if not isinstance(event, dict):
                raise _Bad("a line must be one JSON object")
            handler = self._handlers.get(str(event.get("ev")))
            if handler is None:
                raise _Bad(f"{event.get('ev')!r} is not an event of a {self.kind} ({', '.join(self._handlers)})")
            self._event_ns = _int(event, "ts") * 1_000_000 if "ts" in event else None
            handler(event)
        except ValueError as e:  # json's, base64's and ours
            what = str(e) if isinstance(e, _Bad) else f"not a JSON line ({e})"
            raise LineProtocolError(
                f"{self.path}:{number or self.line}: {what}: fix the {self.spec.client} driver "
                "(docs/clients.md, the line protocol)"
            ) from None

    def _flush(self) -> None:
        if self._consumer is not None and (self._rows or self._marks):
            self._event_ns = self._rows_ns
            self._consumer.processed_many(self._rows, self._marks)
            self._rows, self._marks = [], []
        if self._producer is not None:
            self._producer.flush_acks()

    # -- a producer's events -------------------------------------------------------------------------
    @property
    def _ledger(self) -> ProducerLedger:
        if self._producer is None:
            raise _Bad("a line before the driver was started")
        return self._producer

    def _intent(self, event: Event) -> None:
        seq, end = _range(event)
        if seq < self._intended:
            raise _Bad(
                f"intent [{seq}, {end}) starts below {self._intended}: sequence numbers go on from "
                f"{NEXT_SEQ_ENV} and are never reused"
            )
        self._intended = end
        self._ledger.intent(seq, end)

    def _returned(self, event: Event) -> None:
        seq, end = _range(event)
        if end > self._intended:
            raise _Bad(f"returned [{seq}, {end}) was never intended: print its intent before calling send")
        self._ledger.returned(seq, end)

    def _ack(self, event: Event) -> None:
        seq, partition = _int(event, "seq"), _int(event, "partition")
        offset = -1 if event.get("offset") is None else _int(event, "offset", least=None)
        if self._unconfirmed or offset < 0:  # acks=0, or no offset reported: unconfirmed, never offset 0
            offset = -1
        if _from_app(event):
            self._ledger.ack_in_thread(seq, partition, offset)
        else:
            self._ledger.ack(seq, partition, offset)

    def _error(self, event: Event) -> None:
        name, message = event.get("name"), event.get("message", "")
        if not isinstance(name, str) or not name or not isinstance(message, str):
            raise _Bad("an error needs its class name (name) and message text (message)")
        if "seq" not in event:
            self._ledger.note_named_error(name, message)
            return
        self._ledger.named_error(_int(event, "seq"), name, message, _flag(event, "seen"), not _from_app(event))

    def _transaction(self, event: Event) -> None:
        seq, end = _range(event)
        self._ledger.transaction(_TRANSACTIONS[str(event["ev"])], seq, end)

    # -- a consumer's events -------------------------------------------------------------------------
    def _polled(self, event: Event) -> None:
        if self._consumer is None:
            raise _Bad("a line before the driver was started")
        self._consumer.polled(_int(event, "count"))

    def _epoch(self, event: Event) -> None:
        del event
        self._marks.append(len(self._rows))

    def _processed(self, event: Event) -> None:
        partition, offset = _int(event, "partition"), _int(event, "offset")
        if "value" in event:
            decoded = decode(_bytes(event, "value"), self.spec.run_id, _bytes(event, "key"))
        else:
            decoded = self._declared(event)
        now = self._event_ns
        if self._rows and self._rows_ns != now:
            self._flush()  # the rows of one write share one time
        self._rows_ns = now
        tag = producer_tag(decoded.producer) if decoded.status == Status.VALID else 0
        self._rows.append((partition, offset, tag, decoded.seq, int(decoded.status)))

    @staticmethod
    def _declared(event: Event) -> Decoded:
        status = _STATUS.get(str(event.get("status")))
        if status is None:
            raise _Bad("a processed record needs its value (base64) or its status: valid, corrupted or foreign")
        if status != Status.VALID:
            return Decoded(status)
        producer = event.get("producer")
        if not isinstance(producer, str) or not producer:
            raise _Bad("a valid processed record needs its producer id (producer) and sequence number (seq)")
        return Decoded(status, producer, _int(event, "seq"))

    # -- meta ------------------------------------------------------------------------------------
    def _producer_meta(self, spec: ProducerSpec) -> dict[str, object]:
        """What the Python producer workload writes (``chaos.workloads.producer``)."""
        transactions = {"transaction_size": spec.transaction_size, "abort_ratio": spec.abort_ratio}
        return {
            "mode": spec.mode,
            "client": spec.client,
            "topic": spec.topic,
            "settings": spec.settings,
            "run_id": spec.run_id,
            "substituted": self._settings.substituted,
            "emulated": sorted(self._settings.emulated),
            **(transactions if spec.mode == "transactional" else {}),
        }

    def _consumer_meta(self, spec: ConsumerSpec) -> dict[str, object]:
        """What the Python consumer workload writes (``chaos.workloads.member``)."""
        return {
            "group": spec.group,
            "strategy": spec.strategy,
            "client": spec.client,
            "topic": spec.topic,
            "settings": spec.settings,
            "isolation_level": isolation_level(spec.client, spec.settings, spec.external),
            "batch_size": spec.batch_size,
            "output_topic": spec.output_topic,
            "substituted": self._settings.substituted,
            "run_id": spec.run_id,
        }
