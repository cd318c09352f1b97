"""A run's ledgers counted as they grow, each file read only past where the last look stopped, so a
soak's watch (:mod:`chaos.experiments.soak_watch`) looks every window without reading hours of
ledgers again, and holds no more than a window's new rows and the last intents of each producer.

Each look gives what was written since the last one: records intended, acknowledged, failed and
processed, the acknowledgement latency of the acks (an ack's ``t_ms`` less its intent's, both on
the producer's clock), and the consumers' lag: per partition, the highest offset acknowledged less
the highest processed, summed (records a consumer has yet to reach, as Kafka's lag counts them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from chaos.rundir import LEDGERS
from chaos.workloads.ledger import PROCESSED, PRODUCER_EVENT, Kind, Records, RecordType

#: Intent rows kept per producer to find the intent of a later ack (older acks get no latency).
KEEP_INTENTS = 1 << 16


@dataclass(slots=True)
class Tally:
    """What the ledgers gained in one look (counts in records), and the lag after it."""

    sent: int = 0
    #: Acknowledged at an offset; ``unconfirmed``: reported written without one (acks=0).
    acked: int = 0
    unconfirmed: int = 0
    errors: int = 0
    processed: int = 0
    #: Acknowledgement latency in ms of this look's acks: median and 99th percentile (None: no ack).
    ack_ms_p50: float | None = None
    ack_ms_p99: float | None = None
    #: Records acknowledged at offsets past what the consumers processed (None: no consumer, or no
    #: acknowledged offset to measure from, as with acks=0).
    lag: int | None = None


@dataclass(slots=True)
class _Producer:
    intents: Records = field(default_factory=lambda: np.empty(0, PRODUCER_EVENT))


class LedgerTally:
    """Counts the ledgers under ``run_dir/ledgers`` incrementally (see the module docstring).
    Not thread-safe: one watch calls :meth:`look`."""

    def __init__(self, run_dir: Path, keep_intents: int = KEEP_INTENTS) -> None:
        self.ledgers = Path(run_dir) / LEDGERS
        self.keep = keep_intents
        self._read: dict[Path, int] = {}
        self._producers: dict[str, _Producer] = {}
        self._acked_top: dict[int, int] = {}
        self._processed_top: dict[int, int] = {}

    def _new_rows(self, path: Path, dtype: RecordType) -> Records:
        """The whole records appended to ``path`` since the last look (a torn last one waits)."""
        done = self._read.get(path, 0)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return np.empty(0, dtype)
        whole = (size - done) // dtype.itemsize * dtype.itemsize
        if whole <= 0:
            return np.empty(0, dtype)
        with path.open("rb") as f:
            f.seek(done)
            data = f.read(whole)
        whole = len(data) // dtype.itemsize * dtype.itemsize
        self._read[path] = done + whole
        return np.frombuffer(data[:whole], dtype=dtype)

    def look(self) -> Tally:
        """What was written since the last look (everything, the first time)."""
        out = Tally()
        latencies: list[np.ndarray[tuple[int], np.dtype[np.float64]]] = []
        for events in sorted(self.ledgers.glob("producer-*.events")):
            producer = self._producers.setdefault(events.name.removesuffix(".events"), _Producer())
            rows = self._new_rows(events, PRODUCER_EVENT)
            self._count(rows, out)
            intents = rows[rows["kind"] == Kind.INTENT]
            if len(intents):
                kept = np.concatenate([producer.intents, intents])[-self.keep :]
                producer.intents = kept[np.argsort(kept["seq"], kind="stable")]
            callbacks = self._new_rows(events.with_suffix(".acks"), PRODUCER_EVENT)
            self._count(callbacks, out)
            # acks come from the callbacks' file, and from .events where a sync send acks in its thread
            acks = np.concatenate([rows[rows["kind"] == Kind.ACK], callbacks[callbacks["kind"] == Kind.ACK]])
            acks = acks[acks["offset"] >= 0]  # offset -1: written, unconfirmed (acks=0), nothing to time
            latencies.append(_latencies(producer.intents, acks))
            self._raise(self._acked_top, acks)
        processed = [self._new_rows(path, PROCESSED) for path in sorted(self.ledgers.glob("consumer-*.processed"))]
        for rows in processed:
            out.processed += len(rows)
            self._raise(self._processed_top, rows)
        lat = np.concatenate(latencies) if latencies else np.empty(0, np.float64)
        if len(lat):
            out.ack_ms_p50, out.ack_ms_p99 = (round(float(v), 1) for v in np.percentile(lat, [50, 99]))
        if self._acked_top and any(self.ledgers.glob("consumer-*.json")):
            out.lag = sum(max(0, top - self._processed_top.get(p, -1)) for p, top in self._acked_top.items())
        return out

    @staticmethod
    def _count(rows: Records, out: Tally) -> None:
        width = (rows["seq_end"] - rows["seq"]).astype(np.int64)
        kind = rows["kind"]
        out.sent += int(width[kind == Kind.INTENT].sum())
        acked = kind == Kind.ACK
        out.acked += int(width[acked & (rows["offset"] >= 0)].sum())
        out.unconfirmed += int(width[acked & (rows["offset"] < 0)].sum())
        out.errors += int(width[(kind == Kind.ERROR_SEEN) | (kind == Kind.ERROR_SWALLOWED)].sum())

    @staticmethod
    def _raise(tops: dict[int, int], rows: Records) -> None:
        """Raise each partition's highest offset in ``tops`` to what ``rows`` hold."""
        if not len(rows):
            return
        parts = rows["partition"]
        for p in np.unique(parts):
            top = int(rows["offset"][parts == p].max())
            tops[int(p)] = max(tops.get(int(p), -1), top)


def _latencies(intents: Records, acks: Records) -> np.ndarray[tuple[int], np.dtype[np.float64]]:
    """Each ack's latency in ms from the intent whose range holds its seq (acks whose intent is no
    longer kept, or precedes it on a restarted writer's clock, are left out)."""
    if not len(acks) or not len(intents):
        return np.empty(0, np.float64)
    at = np.searchsorted(intents["seq"], acks["seq"], side="right") - 1
    ok = (at >= 0) & (acks["seq"] < intents["seq_end"][np.maximum(at, 0)])
    lat = acks["t_ms"][ok].astype(np.float64) - intents["t_ms"][at[ok]].astype(np.float64)
    return lat[lat >= 0]
