"""Running totals from the ledgers: sent, acknowledged, failed, processed — cheap enough to read
every few seconds while the workloads still write (a torn last record is not counted)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from chaos.rundir import LEDGERS
from chaos.workloads.ledger import PROCESSED, PRODUCER_EVENT, Kind, read_records
from chaos.workloads.polled import read_polled
from chaos.workloads.released import Released, reading, released, released_all


@dataclass(slots=True)
class Totals:
    """Records sent (send called), acknowledged, failed with an error, given to consumers by their
    polls, and processed so far.

    ``processed`` counts every processing, a record processed twice twice; ``processed_distinct``
    (only computed when asked for) counts distinct records. ``polled`` lags a poll by up to
    the spec's ``protocol.polled_every_ms`` and rises while processing waits for a batch to fill.
    """

    sent: int = 0
    acked: int = 0
    errors: int = 0
    processed: int = 0
    polled: int = 0
    processed_distinct: int | None = None


def totals(run_dir: Path, distinct: bool = False) -> Totals:
    """Totals from the ledgers as they are now (with what a soak released of them); ``distinct``:
    also count distinct processed records.

    Raises:
        ValueError: ``ledgers/released.json`` is not what the harness writes.
    """
    out = Totals()
    ledgers = Path(run_dir) / LEDGERS
    with reading(ledgers):  # the rows after what released.json says are not freed meanwhile
        gone = released_all(ledgers)
        for path in sorted(ledgers.glob("producer-*.events")) + sorted(ledgers.glob("producer-*.acks")):
            before = gone.get(path.name, Released())
            out.sent, out.acked = out.sent + before.sent, out.acked + before.acked
            out.errors += before.errors
            for chunk in read_records(path, PRODUCER_EVENT, start=before.rows):
                width = (chunk["seq_end"] - chunk["seq"]).astype(np.int64)
                out.sent += int(width[chunk["kind"] == Kind.INTENT].sum())
                out.acked += int(width[chunk["kind"] == Kind.ACK].sum())
                errors = (chunk["kind"] == Kind.ERROR_SEEN) | (chunk["kind"] == Kind.ERROR_SWALLOWED)
                out.errors += int(width[errors].sum())
    for path in sorted(ledgers.glob("consumer-*.polled")):
        out.polled += read_polled(path)
    seen: list[np.ndarray[tuple[int], np.dtype[np.int64]]] = []
    for path in sorted(ledgers.glob("consumer-*.processed")):
        out.processed += path.stat().st_size // PROCESSED.itemsize
        if distinct:
            for chunk in read_records(path, PROCESSED):
                # (partition, offset) names a record of one topic uniquely; offsets stay below 2**40.
                seen.append(chunk["partition"].astype(np.int64) << 40 | chunk["offset"].astype(np.int64))
    if distinct:
        out.processed_distinct = int(np.unique(np.concatenate(seen)).size) if seen else 0
    return out


def next_seq(run_dir: Path, producer: str) -> int:
    """The first sequence number a (re)started producer may use: after everything it ever intended
    (the rows a soak released too).

    Raises:
        ValueError: ``ledgers/released.json`` is not what the harness writes.
    """
    path = run_dir / LEDGERS / f"producer-{producer}.events"
    with reading(path.parent):
        before = released(path)
        highest = before.next_seq - 1
        for chunk in read_records(path, PRODUCER_EVENT, start=before.rows):
            intents = chunk[chunk["kind"] == Kind.INTENT]
            if len(intents):
                highest = max(highest, int(intents["seq_end"].max()) - 1)
    return highest + 1
