"""Availability as well as loss: per fault, how long no record was acknowledged, how long
acknowledgements took before, during and after it, and how long after its heal the topic had its
full ISR again. From the producers' ledgers and ``timeline.jsonl`` alone, like the rest of the
oracle.

* ``no_ack_s``: the longest stretch without any acknowledgement while a producer was waiting for
  one (it had records sent and not yet completed), that overlaps the fault, counted from the
  fault's injection at the earliest (to the end of the run when none came after it). A producer
  that had finished, or was not sending, is not an outage.
* ``latency_ms``: percentiles (p50, p99) of acknowledgement latency, from the record's ``INTENT``
  to its ``ACK``, by when the record was in flight: ``before`` the fault (sent and acknowledged
  before its injection, sent at most as long before it as the fault lasted, at least 10 s),
  ``during`` it (acknowledged after its injection, sent before its heal) and ``after`` its heal
  (sent after it, as long again).
* :func:`lost_timeline`: when the records each stage lost were sent, per second (the HTML
  timeline marks them).
* ``heal_to_full_isr_s``: from the heal to the first ``isr`` event of the timeline that saw no
  under-replicated partition (0 when none was under-replicated then; null without ``isr`` events).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from chaos import rundir
from chaos.oracle.keys import I64, SEQ_BITS, SEQ_MASK, Ranges
from chaos.oracle.producers import RETRIES_FOREVER
from chaos.rundir import LEDGERS
from chaos.workloads.ledger import PRODUCER_EVENT, Kind, read_meta, read_records

#: The least length of the ``before`` and ``after`` periods, in seconds.
MIN_PERIOD_S = 10.0

F64 = np.ndarray[Any, np.dtype[np.float64]]


def _acks_and_latencies(run_dir: Path) -> tuple[F64, F64, F64, str]:
    """Epoch seconds of every acknowledgement at a real offset, and for each the send time of its
    record and its latency, across producers (sorted by acknowledgement), and what they count:
    ``ack``, or ``send`` where a producer's completions carry no offset at all (``acks=0``: the
    client calls a record done once it is handed to the network, so that is the progress there is)."""
    basis = "ack"
    ack_t: list[F64] = []
    sent_t: list[F64] = []
    for meta_path in sorted((run_dir / LEDGERS).glob("producer-*.json")):
        try:
            start = int(read_meta(meta_path)["start_ns"]) / 1e9
        except (OSError, ValueError, KeyError, TypeError):
            continue
        intents: list[np.ndarray[Any, Any]] = []
        acks: list[np.ndarray[Any, Any]] = []
        for suffix in (".events", ".acks"):
            for chunk in read_records(meta_path.with_suffix(suffix), PRODUCER_EVENT):
                intents.append(chunk[chunk["kind"] == Kind.INTENT])
                acks.append(chunk[(chunk["kind"] == Kind.ACK) & (chunk["offset"] >= 0)])
        if not acks:
            continue
        ack = np.concatenate(acks)
        if not len(ack):  # acks=0: every completion has offset -1
            done = [  # a sync producer writes its completions to .events
                c[c["kind"] == Kind.ACK]
                for suffix in (".events", ".acks")
                for c in read_records(meta_path.with_suffix(suffix), PRODUCER_EVENT)
            ]
            ack = np.concatenate(done) if done else ack
            basis = "send" if len(ack) else basis
        intent = np.concatenate(intents) if intents else np.empty(0, PRODUCER_EVENT)
        intent = intent[np.argsort(intent["seq"], kind="stable")]
        t_ack = start + ack["t_ms"].astype(np.float64) / 1000
        # the INTENT range holding each acknowledged record (the last one starting at or below it)
        at = np.searchsorted(intent["seq"], ack["seq"], side="right") - 1
        known = (at >= 0) & (ack["seq"] < intent["seq_end"][np.maximum(at, 0)]) if len(intent) else at >= 0
        t_sent = np.full(len(ack), np.nan)
        if len(intent):
            t_sent[known] = start + intent["t_ms"][at[known]].astype(np.float64) / 1000
        ack_t.append(t_ack)
        sent_t.append(t_sent)
    if not ack_t:
        empty: F64 = np.empty(0)
        return empty, empty, empty, basis
    t, s = np.concatenate(ack_t), np.concatenate(sent_t)
    order = np.argsort(t, kind="stable")
    t, s = t[order], s[order]
    latency: F64 = (t - s) * 1000
    return t, s, latency, basis


def _timeline(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / rundir.TIMELINE
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a line cut by a crash
        if isinstance(entry, dict) and isinstance(entry.get("t"), int | float):
            out.append(entry)
    return out


def _percentiles(latency: F64) -> dict[str, float] | None:
    ok = latency[~np.isnan(latency)]
    if len(ok) == 0:
        return None
    p50, p99 = np.percentile(ok, [50, 99])
    return {"p50": round(float(p50), 1), "p99": round(float(p99), 1), "records": len(ok)}


def _waiting(run_dir: Path, run_end: float) -> tuple[F64, F64]:
    """``(starts, ends)`` of the disjoint, sorted stretches in which some producer was waiting:
    records it had handed to its client (their send returned, or they were acknowledged or failed)
    were not yet complete. A record waits from its ``INTENT`` to its first acknowledgement (with or
    without an offset) or, in a mode that does not send a failed record again, its first failure;
    one that never completes waits to ``run_end``. Records of an earlier range that were never
    handed over (a send that raised ends a transaction's range) keep nothing waiting; the last range
    intended waits whole (a sync send blocked there has neither returned nor completed)."""
    spans: list[tuple[I64, I64]] = []
    for meta_path in sorted((run_dir / LEDGERS).glob("producer-*.json")):
        try:
            meta = read_meta(meta_path)
            start_ms = int(meta["start_ns"]) // 1_000_000
        except (OSError, ValueError, KeyError, TypeError):
            continue
        rows = [
            c for suffix in (".events", ".acks") for c in read_records(meta_path.with_suffix(suffix), PRODUCER_EVENT)
        ]
        if rows:
            spans.append(_waiting_of(np.concatenate(rows), start_ms, str(meta.get("mode")) in RETRIES_FOREVER))
    if not spans:
        return np.empty(0), np.empty(0)
    end_ms = int(run_end * 1000) + 1
    starts = np.concatenate([a for a, _ in spans])
    ends = np.concatenate([np.where(b < 0, end_ms, b) for _, b in spans])
    merged = Ranges(starts, ends)  # the producers' stretches merged
    return merged.starts / 1000, merged.ends / 1000


def _waiting_of(rows: np.ndarray[Any, Any], start_ms: int, resends: bool) -> tuple[I64, I64]:
    """One producer's waiting stretches in wall-clock ms (an end of -1: to the run's end)."""
    kind, t = rows["kind"], start_ms + rows["t_ms"].astype(np.int64)
    seq, seq_end = rows["seq"].astype(np.int64), rows["seq_end"].astype(np.int64)
    done_kinds = (kind == Kind.ACK) if resends else np.isin(kind, (Kind.ACK, Kind.ERROR_SEEN, Kind.ERROR_SWALLOWED))
    done_seq, done_t = seq[done_kinds], t[done_kinds]
    order = np.lexsort((done_t, done_seq))  # each record's first completion
    done_seq, done_t = done_seq[order], done_t[order]
    first = np.ones(len(done_seq), dtype=bool)
    first[1:] = done_seq[1:] != done_seq[:-1]
    done_seq, done_t = done_seq[first], done_t[first]
    # handed over: returned, or completed (acknowledged or failed, however the send went), or in
    # the last range intended (a send still blocked there, or cut by a kill, has not returned yet)
    ret = kind == Kind.RETURNED
    ever_done = np.isin(kind, (Kind.ACK, Kind.ERROR_SEEN, Kind.ERROR_SWALLOWED))
    intent = kind == Kind.INTENT
    last = np.flatnonzero(intent)[np.argmax(seq_end[intent])] if intent.any() else None
    tail_s, tail_e = (seq[last : last + 1], seq_end[last : last + 1]) if last is not None else (seq[:0], seq[:0])
    handed = Ranges(
        np.concatenate((seq[ret], seq[ever_done], tail_s)), np.concatenate((seq_end[ret], seq[ever_done] + 1, tail_e))
    )
    # per INTENT range, how many of its records were handed over: the length of handed inside it
    lengths = np.cumsum(np.concatenate(([0], handed.ends - handed.starts)))
    inside = _covered(handed, lengths, seq_end[intent]) - _covered(handed, lengths, seq[intent])
    times = np.concatenate((t[intent], done_t))
    steps = np.concatenate((inside, -np.ones(len(done_t), dtype=np.int64)))
    order = np.argsort(times, kind="stable")
    times, steps = times[order], steps[order]
    instants, at = np.unique(times, return_index=True)
    pending = np.cumsum(np.add.reduceat(steps, at)) if len(at) else np.empty(0, np.int64)
    edges = np.diff(np.concatenate(([False], pending > 0, [False])).astype(np.int8))
    bounds = np.concatenate((instants, [-1]))
    return bounds[np.flatnonzero(edges == 1)], bounds[np.flatnonzero(edges == -1)]


def _covered(ranges: Ranges, lengths: I64, x: I64) -> I64:
    """How many keys of the merged ``ranges`` lie below each ``x`` (``lengths``: the cumulative
    lengths of the ranges, from 0)."""
    i = np.searchsorted(ranges.starts, x, side="right")  # ranges starting at or below x
    full = lengths[np.maximum(i - 1, 0)]
    last = np.where(i > 0, np.minimum(x, ranges.ends[np.maximum(i - 1, 0)]) - ranges.starts[np.maximum(i - 1, 0)], 0)
    out: I64 = np.where(i > 0, full + np.maximum(last, 0), 0)
    return out


def _no_ack(acks: F64, waiting: tuple[F64, F64], start: float, end: float) -> float:
    """The longest stretch without an acknowledgement, inside one of the ``waiting`` stretches,
    overlapping ``[start, end]``, counted from ``start``."""
    best = 0.0
    w_start, w_end = waiting
    for i in np.flatnonzero((w_end > start) & (w_start < end)):
        lo, hi = max(float(w_start[i]), start), float(w_end[i])
        inside = acks[(acks > lo) & (acks < hi)]
        points = np.concatenate(([lo], inside, [hi]))
        gaps_end = points[1:]
        gaps = gaps_end - points[:-1]
        # only stretches that overlap the fault: one ending after its injection and starting before its heal
        overlap = (gaps_end > start) & (points[:-1] < end)
        if overlap.any():
            best = max(best, float(gaps[overlap].max()))
    return round(best, 1)


def _heal_to_full_isr(isr: list[tuple[float, int]], healed: float | None) -> float | None:
    if healed is None or not isr:
        return None
    before = [n for t, n in isr if t <= healed]
    if before and before[-1] == 0 and not any(n for t, n in isr if t > healed):
        return 0.0
    full = [t for t, n in isr if t > healed and n == 0]
    return round(full[0] - healed, 1) if full else None


def availability(run_dir: Path) -> list[dict[str, Any]]:
    """Per injected fault, in the order injected: ``fault``, ``kind``, ``targets``, ``injected``,
    ``healed`` (epoch s), ``no_ack_s``, ``latency_ms`` (``before``/``during``/``after``: p50, p99,
    records; null where no record was acknowledged), ``heal_to_full_isr_s`` and ``basis`` (``ack``,
    or ``send`` with ``acks=0``, where no acknowledgement comes and completions are counted)."""
    run_dir = Path(run_dir)
    events = _timeline(run_dir)
    faults: dict[str, dict[str, Any]] = {}
    isr: list[tuple[float, int]] = []
    for e in events:
        if e.get("event") == "inject":
            faults.setdefault(str(e.get("fault")), {"kind": e.get("kind"), "targets": e.get("targets"), "t": e["t"]})
        elif e.get("event") == "heal" and str(e.get("fault")) in faults:
            faults[str(e.get("fault"))].setdefault("healed", e["t"])
        elif e.get("event") == "isr":
            isr.append((float(e["t"]), int(e.get("under_replicated", 0))))
    if not faults:
        return []
    acks, sent, latency, basis = _acks_and_latencies(run_dir)
    run_end = float(max([acks[-1] if len(acks) else 0.0, *(e["t"] for e in events)]))
    waiting = _waiting(run_dir, run_end)
    out = []
    for name, f in faults.items():
        start, healed = float(f["t"]), f.get("healed")
        end = float(healed) if healed is not None else run_end
        period = max(MIN_PERIOD_S, end - start)
        in_flight = {
            "before": (sent >= start - period) & (sent < start) & (acks < start),
            "during": (sent >= start - period) & (sent < end) & (acks >= start),
            "after": (sent >= end) & (sent < end + period),
        }
        out.append(
            {
                "fault": name,
                "kind": f["kind"],
                "targets": f["targets"],
                "injected": round(start, 3),
                "healed": round(float(healed), 3) if healed is not None else None,
                "no_ack_s": _no_ack(acks, waiting, start, end),
                "latency_ms": {k: _percentiles(latency[sel]) for k, sel in in_flight.items()},
                "heal_to_full_isr_s": _heal_to_full_isr(isr, float(healed) if healed is not None else None),
                "basis": basis,
            }
        )
    return out


def lost_timeline(run_dir: Path, producers: list[tuple[int, str]], lost: dict[str, I64]) -> dict[str, list[list[int]]]:
    """Per loss stage, when its lost records were sent: ``[[epoch second, records], ...]`` from each
    record's ``INTENT`` (``producers``: index and id of each producer, as the keys number them)."""
    intents: dict[int, tuple[float, np.ndarray[Any, Any]]] = {}
    for index, pid in producers:
        meta_path = run_dir / LEDGERS / f"producer-{pid}.json"
        try:
            start = int(read_meta(meta_path)["start_ns"]) / 1e9
        except (OSError, ValueError, KeyError, TypeError):
            continue
        chunks = [c[c["kind"] == Kind.INTENT] for c in read_records(meta_path.with_suffix(".events"), PRODUCER_EVENT)]
        found = np.concatenate(chunks) if chunks else np.empty(0, PRODUCER_EVENT)
        intents[index] = (start, found[np.argsort(found["seq"], kind="stable")])
    out: dict[str, list[list[int]]] = {}
    for stage, keys in lost.items():
        seconds: list[np.ndarray[Any, Any]] = []
        for index, (start, ranges) in intents.items():
            seqs = keys[(keys >> SEQ_BITS) == index] & SEQ_MASK
            if not len(seqs) or not len(ranges):
                continue
            at = np.searchsorted(ranges["seq"], seqs, side="right") - 1
            ok = (at >= 0) & (seqs < ranges["seq_end"][np.maximum(at, 0)])
            seconds.append((start + ranges["t_ms"][at[ok]].astype(np.float64) / 1000).astype(np.int64))
        if seconds:
            sec, n = np.unique(np.concatenate(seconds), return_counts=True)
            out[stage] = [[int(a), int(b)] for a, b in zip(sec, n, strict=True)]
    return out
