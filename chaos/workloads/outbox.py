"""The ``outbox`` producer mode: the record is first committed to a local SQLite outbox; a forwarder
thread sends what is pending and marks it done when acknowledged; after a restart it resends what is
pending."""

from __future__ import annotations

import sqlite3
import threading
import time
from functools import partial

from kafka.errors import KafkaError

from chaos.rundir import OUTBOX
from chaos.workloads.interfaces import RecordMetadata
from chaos.workloads.sending import Sending
from chaos.workloads.totals import next_seq


class OutboxForwarding:
    """The ``outbox`` mode: commit to SQLite first, forward from there, resend pending after a restart."""

    def __init__(self, sending: Sending) -> None:
        self.w = sending
        path = sending.run_dir / OUTBOX / f"producer-{sending.spec.id}.sqlite"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        db = self._connect()
        db.execute("CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY, done INTEGER NOT NULL DEFAULT 0)")
        db.commit()
        db.close()
        self._acked: list[int] = []
        self._failed: list[int] = []
        self._lock = threading.Lock()
        self._in_flight: set[int] = set()
        self._producing = True

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        return db

    def run(self) -> int:
        """Application thread writes the outbox; the forwarder thread sends from it."""
        forwarder = threading.Thread(target=self._forward, name="outbox-forwarder", daemon=True)
        forwarder.start()
        try:
            return self._write_outbox()
        finally:
            self._producing = False
            forwarder.join(timeout=self.w.spec.close_timeout_s + 5)

    def _write_outbox(self) -> int:
        db = self._connect()
        (highest,) = db.execute("SELECT COALESCE(MAX(seq), -1) FROM outbox").fetchone()
        seq = resumed = max(int(highest) + 1, next_seq(self.w.run_dir, self.w.spec.id))
        sent, started = 0, time.monotonic()
        while (n := self.w.budget(sent, started, resumed)) != -1:
            if n == 0:
                self.w.wait_turn()
                continue
            self.w.ledger.intent(seq, seq + n)
            db.executemany("INSERT INTO outbox (seq) VALUES (?)", [(s,) for s in range(seq, seq + n)])
            db.commit()
            self.w.ledger.returned(seq, seq + n)
            seq += n
            sent += n
        db.close()
        return sent

    def _forward(self) -> None:
        client = self.w.client
        db = self._connect()
        deadline: float | None = None
        while True:
            self._settle(db)
            with self._lock:
                busy = set(self._in_flight)
            pending = [
                s
                for (s,) in db.execute("SELECT seq FROM outbox WHERE done = 0 ORDER BY seq LIMIT 2000")
                if s not in busy
            ]
            for s in pending:
                value = self.w.value_for(s)
                with self._lock:
                    self._in_flight.add(s)
                try:
                    future = client.send(self.w.spec.topic, self.w.key_for(s), value)
                except KafkaError as e:
                    self._record_failure(s, e)
                    continue
                future.add_callback(partial(self.acked, s))
                future.add_errback(partial(self._record_failure, s))
            if not self._producing:
                if deadline is None:
                    client.flush(timeout=self.w.spec.close_timeout_s)
                    deadline = time.monotonic() + self.w.spec.close_timeout_s
                self._settle(db)
                (left,) = db.execute("SELECT COUNT(*) FROM outbox WHERE done = 0").fetchone()
                if left == 0 or time.monotonic() > deadline:
                    break
            if not pending:
                time.sleep(0.01)
        db.close()

    def acked(self, seq: int, metadata: RecordMetadata) -> None:
        """The client's report that record ``seq`` is written: its row is marked done at the next settle."""
        self.w.ledger.ack(seq, int(metadata.partition), self.w.offset_of(metadata))
        with self._lock:
            self._acked.append(seq)

    def _record_failure(self, seq: int, exc: BaseException) -> None:
        # The outbox sees the failure and will resend: the record stays pending.
        self.w.ledger.error(seq, exc, seen=True, from_callback=True)
        with self._lock:
            self._failed.append(seq)

    def _settle(self, db: sqlite3.Connection) -> None:
        with self._lock:
            acked, self._acked = self._acked, []
            failed, self._failed = self._failed, []
            self._in_flight.difference_update(acked)
            self._in_flight.difference_update(failed)
        if acked:
            # Their ACK records reach the ledger before the outbox forgets them: a kill in between
            # must leave them acknowledged (broker loss if the log lacks them), not merely pending.
            self.w.ledger.flush_acks()
            db.executemany("UPDATE outbox SET done = 1 WHERE seq = ?", [(s,) for s in acked])
            db.commit()
        if failed:
            time.sleep(0.1)  # back off before resending
