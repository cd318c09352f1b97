"""How sure a verdict is: whether the drain read the whole log, whether the ledgers are whole, and
whether an independent reader agrees. A verdict resting on anything less is inconclusive."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from chaos.oracle.log import Log
from chaos.oracle.verdict import Trust

#: At most this many reasons are listed (each names a partition or a file).
MAX_REASONS = 10


@dataclass(slots=True)
class Assessment:
    """What the verdict rests on, as the oracle works it out; ``reasons`` says what is wrong when it
    is not conclusive."""

    drain_complete: bool
    drain_contiguous: bool
    ledgers_intact: bool
    independent_count: bool | None
    reasons: list[str] = field(default_factory=list)

    def model(self) -> Trust:
        """The verdict's ``trust`` block (at most :data:`MAX_REASONS` reasons)."""
        return Trust(
            conclusive=not self.reasons,
            drain_complete=self.drain_complete,
            drain_contiguous=self.drain_contiguous,
            ledgers_intact=self.ledgers_intact,
            independent_count=self.independent_count,
            reasons=self.reasons[:MAX_REASONS],
        )


def _offsets(drain: dict[str, Any], name: str) -> dict[int, int] | None:
    raw = drain.get(name)
    if not isinstance(raw, dict):
        return None
    return {int(p): int(o) for p, o in raw.items()}


def assess(
    drain: dict[str, Any],
    log: Log,
    invalid_ledger_rows: int,
    kafka: dict[int, int] | None = None,
    committed_log: Log | None = None,
    transactional: bool = False,
) -> Assessment:
    """Check the drain's record of itself, the log's shape and the ledgers' rows.

    * the drain says it completed, and ``log.bin`` holds as many records as it says it wrote;
    * per partition, the log holds every offset of ``[beginning, end)`` once, in order, but for
      the offsets the drain counted as transaction markers;
    * no ledger row is one no writer produces;
    * where Kafka's own tooling counted each partition's records (``kafka``: partition -> end
      offset minus log start offset), the drain read as many (with its markers);
    * a ``transactional`` run has its read_committed view (``committed_log``), as long as the drain
      says, and every record in it is the record the full read found at that position.
    """
    reasons: list[str] = []
    markers = _skipped(drain)
    complete = _drain_complete(drain, log, reasons)
    contiguous = _contiguous(drain, log, markers, reasons)
    if log.repeated_positions:
        reasons.append(f"drain/log.bin has {log.repeated_positions} positions twice (not one drain's output)")
    intact = invalid_ledger_rows == 0
    if not intact:
        reasons.append(f"{invalid_ledger_rows} ledger rows are not rows any writer produces (a damaged ledger)")
    independent = _agrees_with_kafka(kafka, log, markers, reasons)
    if transactional:
        reasons += _committed_view_reasons(drain, log, committed_log)
    return Assessment(complete, contiguous, intact, independent, reasons)


def _skipped(drain: dict[str, Any]) -> dict[int, int]:
    """Per partition, the offsets the drain skipped on purpose: transaction markers, and a compacted
    topic's holes."""
    markers = _offsets(drain, "markers") or {}
    for p, n in (_offsets(drain, "cleaned") or {}).items():
        markers[p] = markers.get(p, 0) + n
    return markers


def _drain_complete(drain: dict[str, Any], log: Log, reasons: list[str]) -> bool:
    """The drain says it completed, and ``log.bin`` holds as many records as it says it wrote."""
    complete = bool(drain.get("complete", False))
    if not complete:
        reasons.append(f"the drain did not complete: {drain.get('incomplete', 'it says so in drain.json')}")
    if "records" in drain and int(drain["records"]) != len(log):
        complete = False  # drain.json's word is for the log.bin it wrote, and this is not that one
        reasons.append(
            f"drain/log.bin holds {len(log)} records but the drain wrote {drain['records']} (a stale or partial file)"
        )
    return complete


def _contiguous(drain: dict[str, Any], log: Log, markers: dict[int, int], reasons: list[str]) -> bool:
    """Per partition, the log holds every offset of ``[beginning, end)`` once, in order, but for the
    offsets the drain skipped on purpose."""
    begin, end = _offsets(drain, "beginning_offsets"), _offsets(drain, "end_offsets")
    if begin is None or end is None:
        reasons.append("drain.json lacks the beginning or end offsets: the log read cannot be checked for gaps")
        return False
    contiguous = log.repeated_positions == 0
    slices = log.partitions()
    for part in sorted(set(end) | set(slices)):
        lo, hi = slices.get(part, (0, 0))
        start, stop = begin.get(part, 0), end.get(part, 0)
        first = log.offset(lo) if hi > lo else start
        last = log.offset(hi - 1) if hi > lo else stop - 1
        skipped = markers.get(part, 0)
        bounds_ok = first >= start and last <= stop - 1 if skipped else first == start and last == stop - 1
        if hi - lo != stop - start - skipped or not bounds_ok:
            contiguous = False
            reasons.append(
                f"partition {part}: the drain read {hi - lo} records at offsets {first}..{last}, but the log "
                f"holds [{start}, {stop}): records were skipped"
            )
    return contiguous


def _agrees_with_kafka(
    kafka: dict[int, int] | None, log: Log, markers: dict[int, int], reasons: list[str]
) -> bool | None:
    """Where Kafka's own tooling counted each partition's records, whether the drain read as many
    (with its markers); None where it did not count."""
    if kafka is None:
        return None
    slices = log.partitions()
    # a partition may hold markers and no record (a transaction aborted before its records came)
    counts = {p: hi - lo + markers.get(p, 0) for p, (lo, hi) in slices.items()}
    counts |= {p: n for p, n in markers.items() if p not in slices}
    disagree = {p: (counts.get(p, 0), n) for p, n in kafka.items() if counts.get(p, 0) != n}
    for p, (ours, theirs) in sorted(disagree.items()):
        reasons.append(f"partition {p}: the drain read {ours} records, Kafka's own offsets say {theirs}")
    return not disagree


def _committed_view_reasons(drain: dict[str, Any], log: Log, committed_log: Log | None) -> list[str]:
    """What is wrong with the read_committed view of a transactional run (nothing: empty)."""
    view = drain.get("committed_view")
    if committed_log is None or not isinstance(view, dict):
        return ["the run has transactional producers but the drain read no read_committed view of the log"]
    reasons = []
    if drain.get("markers") and drain.get("markers_verified") is not True:
        unchecked = drain.get("markers_unverified_partitions")
        if unchecked:
            reasons.append(
                "the drain skipped offsets of a transactional topic that Kafka's segment dump could not check "
                f"as transaction markers (partitions {unchecked} unchecked)"
            )
        elif drain.get("markers_verified") is None:
            reasons.append(
                "the drain skipped offsets of a transactional topic that were never checked against Kafka's "
                "segments as transaction markers"
            )
        elif drain.get("complete", False):  # an incomplete drain's own reason names the offsets
            reasons.append(
                "the drain skipped offsets of a transactional topic that Kafka's segment dump did not confirm "
                "as transaction markers"
            )
    if int(view.get("records", -1)) != len(committed_log):
        reasons.append(
            f"drain/committed.bin holds {len(committed_log)} records but the drain wrote {view.get('records')}"
        )
    at = log.at(committed_log.pos)
    elsewhere = int(np.count_nonzero(at < 0))
    differ = 0
    if len(log):  # an empty full read holds nothing to compare with (every position is elsewhere)
        differ = int(np.count_nonzero((at >= 0) & (log.keys[np.maximum(at, 0)] != committed_log.keys)))
    if elsewhere or differ:
        reasons.append(
            f"the read_committed view holds {elsewhere} records at positions the full read lacks and "
            f"{differ} that differ from it: the two reads are not of one log"
        )
    return reasons


def witness_summary(data: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the second witness (``drain/witness.json``) saw of the broker-loss sample: how many it
    checked, how many are gone from every broker's disk, how many sit on some disk but are not in the
    log clients read. It informs; it never makes a verdict inconclusive."""
    if data is None:
        return None
    if "error" in data:
        return {"tool": data.get("tool"), "error": data["error"]}
    checked = data.get("checked") or []
    on_disk = [c for c in checked if c.get("on_disk_of")]
    return {
        "tool": data.get("tool"),
        "checked": len(checked),
        "gone_from_every_replica": len(checked) - len(on_disk),
        "on_a_disk_not_in_the_log": len(on_disk),
    }
