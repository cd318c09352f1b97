"""Where each producer's ledgers stand at one moment, so that a soak's window can later be judged
from its own rows alone (:mod:`chaos.oracle.window`): the sequence number the producer's next intent
begins at, and how many rows its ``.events`` and ``.acks`` hold.

The ``.acks`` file is measured before ``.events``: a record whose intent is not yet in ``.events``
was intended after both looks, so every row about it (its ack or error included) comes after the
rows counted. Sequence numbers only grow, across a producer's restarts too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from chaos.workloads.ledger import PRODUCER_EVENT, Kind, read_records
from chaos.workloads.returned import read_returned_mark


@dataclass(frozen=True, slots=True)
class Mark:
    """One producer's ledgers at one moment: its next intent's sequence number, the rows of
    ``.events`` and ``.acks`` written so far, and the sequence number below which every send has
    returned (its ``RETURNED`` rows and its ``.returned`` mark)."""

    seq: int = 0
    events_row: int = 0
    acks_row: int = 0
    returned: int = 0


def _rows(path: Path) -> int:
    try:
        return path.stat().st_size // PRODUCER_EVENT.itemsize
    except FileNotFoundError:
        return 0


def ledger_marks(ledgers: Path, before: Mapping[str, Mark]) -> dict[str, Mark]:
    """Each producer's :class:`Mark` now, by producer id, reading only the ``.events`` rows written
    since ``before`` (the marks of the last look; a producer new since then starts at zero)."""
    out: dict[str, Mark] = {}
    for events in sorted(ledgers.glob("producer-*.events")):
        pid = events.name.removeprefix("producer-").removesuffix(".events")
        last = before.get(pid, Mark())
        acks_row = _rows(events.with_suffix(".acks"))
        events_row = _rows(events)
        seq, returned = last.seq, last.returned  # rows read past events_row only raise them
        for chunk in read_records(events, PRODUCER_EVENT, start=last.events_row):
            intents = chunk["seq_end"][chunk["kind"] == Kind.INTENT]
            if len(intents):
                seq = max(seq, int(np.max(intents)))
            sent = chunk["seq_end"][chunk["kind"] == Kind.RETURNED]
            if len(sent):
                returned = max(returned, int(np.max(sent)))
        if (mark := read_returned_mark(events.with_suffix(".returned"))) is not None:
            returned = max(returned, mark[1])
        out[pid] = Mark(seq, events_row, acks_row, returned)
    return out
