"""The oracle: a pure function of the run directory's files. No Docker, no clock, no network.

Every record is identified by ``(producer, seq)``, packed into one int64 key
(``producer index << 40 | seq``) so the sets below are sorted numpy arrays:

* **sent**: intended (the application called send, or committed to its outbox).
* **acked**: the client reported it written. **send_errors**: failures the application saw.
* **in_log**: found by the drain. **processed**: in some consumer's processed ledger.

Loss, for a record sent but not in the log (docs/verdict.md):

* **broker** — it was acknowledged.
* **producer** — not acknowledged, no error the application saw, and the application went on as if it
  was sent: its send had returned (fire-and-forget and async modes), or an error was swallowed.
* **unknown** (not loss) — indeterminate: the application never got past the send (killed inside a
  synchronous send, or the record still waits in a durable outbox).
* **consumer** — in the log below its group's committed offset, never processed by that group.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from chaos.errors import UsageError
from chaos.oracle.verdict import Verdict, parse_expectations
from chaos.workloads.envelope import Status, producer_tag
from chaos.workloads.ledger import DRAIN, LEDGERS, LOG_RECORD, PROCESSED, PRODUCER_EVENT, Kind, read_meta, read_records

SEQ_BITS = 40
SEQ_MASK = (1 << SEQ_BITS) - 1
EXAMPLES = 5
#: Modes whose application goes on once send() returned, without waiting for the outcome.
GOES_ON_AFTER_SEND = frozenset({"fire_and_forget", "async"})

I64 = np.ndarray[Any, np.dtype[np.int64]]


@dataclass(frozen=True, slots=True)
class ProducerInfo:
    """A producer known from its meta file."""

    index: int
    id: str
    mode: str
    tag: int


def _keys(index: int, seqs: np.ndarray[Any, Any]) -> I64:
    return (np.int64(index) << SEQ_BITS) | seqs.astype(np.int64)


def _ranges(starts: np.ndarray[Any, Any], ends: np.ndarray[Any, Any]) -> I64:
    """All integers of the half-open ranges [start, end), vectorised."""
    starts = starts.astype(np.int64)
    lengths = np.maximum(ends.astype(np.int64) - starts, 0)
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, np.int64)
    shifts = np.repeat(starts - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
    out: I64 = shifts + np.arange(total, dtype=np.int64)
    return out


def _cat(parts: list[I64]) -> I64:
    return np.concatenate(parts) if parts else np.empty(0, np.int64)


def _unique(a: I64, in_place: bool = False) -> I64:
    """Sorted unique values. Sorting beats numpy 2's hash-based ``np.unique`` by ~10x on int64 keys.

    ``in_place`` sorts ``a`` itself instead of a copy.
    """
    if len(a) == 0:
        return a
    if in_place:
        a.sort()
    else:
        a = np.sort(a)
    keep = np.empty(len(a), dtype=bool)
    keep[0] = True
    np.not_equal(a[1:], a[:-1], out=keep[1:])
    out: I64 = a[keep]
    return out


def _in(a: I64, b: I64, chunk: int = 1 << 21) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Mask of elements of ``a`` present in sorted unique ``b`` (in chunks, to bound temporaries)."""
    mask = np.zeros(len(a), dtype=bool)
    if len(b) == 0:
        return mask
    for lo in range(0, len(a), chunk):
        part = a[lo : lo + chunk]
        idx = np.searchsorted(b, part)
        idx[idx == len(b)] = 0
        mask[lo : lo + chunk] = b[idx] == part
    return mask


def load_producers(run_dir: Path) -> list[ProducerInfo]:
    """Producers of the run, from ``ledgers/producer-*.json``, in a stable order."""
    infos = []
    for i, path in enumerate(sorted((run_dir / LEDGERS).glob("producer-*.json"))):
        meta = read_meta(path)
        pid = str(meta["producer"])
        infos.append(ProducerInfo(index=i, id=pid, mode=str(meta.get("mode", "async")), tag=producer_tag(pid)))
    return infos


class _ProducerSide:
    """Per-record sets of the producers. Keys carry the producer index in their high bits, so
    each producer's sorted unique keys, concatenated in index order, are sorted and unique overall:
    every sort stays the size of one producer's records."""

    def __init__(self, run_dir: Path, producers: list[ProducerInfo]) -> None:
        self.run_dir = run_dir
        self.producers = producers
        sets: dict[str, list[I64]] = {"sent": [], "returned": [], "acked": [], "seen": [], "swallowed": []}
        for p in producers:
            parts: dict[str, list[I64]] = {name: [] for name in sets}
            for chunk in self._chunks(p):
                kind = chunk["kind"]
                sel = chunk[kind == Kind.INTENT]
                parts["sent"].append(_keys(p.index, _ranges(sel["seq"], sel["seq_end"])))
                sel = chunk[kind == Kind.RETURNED]
                parts["returned"].append(_keys(p.index, _ranges(sel["seq"], sel["seq_end"])))
                # An ack is evidence of a send: an acked record counts as sent even if its intent
                # record was torn away by a kill.
                acked = _keys(p.index, chunk[kind == Kind.ACK]["seq"])
                parts["acked"].append(acked)
                parts["sent"].append(acked)
                parts["seen"].append(_keys(p.index, chunk[kind == Kind.ERROR_SEEN]["seq"]))
                parts["swallowed"].append(_keys(p.index, chunk[kind == Kind.ERROR_SWALLOWED]["seq"]))
            for name, arrays in parts.items():
                sets[name].append(_unique(_cat(arrays)))
                arrays.clear()
        self.sent = _cat(sets["sent"])
        self.returned = _cat(sets["returned"])
        self.acked = _cat(sets["acked"])
        self.seen = _cat(sets["seen"])
        self.swallowed = _cat(sets["swallowed"])

    def _chunks(self, p: ProducerInfo) -> Iterator[np.ndarray[Any, Any]]:
        base = self.run_dir / LEDGERS / f"producer-{p.id}"
        for suffix in (".events", ".acks"):
            yield from read_records(base.with_suffix(suffix), PRODUCER_EVENT)

    def ack_positions(self, keys: I64) -> dict[int, tuple[int, int]]:
        """Where each of a few ``keys`` was acknowledged (a second pass over the ack records)."""
        wanted = {int(k) for k in keys}
        found: dict[int, tuple[int, int]] = {}
        for p in self.producers:
            seqs = {k & SEQ_MASK for k in wanted if k >> SEQ_BITS == p.index}
            if not seqs:
                continue
            for chunk in self._chunks(p):
                acks = chunk[(chunk["kind"] == Kind.ACK) & np.isin(chunk["seq"], list(seqs))]
                for row in acks:
                    found.setdefault(
                        _keys(p.index, np.array([row["seq"]]))[0].item(), (int(row["partition"]), int(row["offset"]))
                    )
        return found


class _Log:
    """Columns of the drained log, filled chunk by chunk into arrays sized from the file."""

    def __init__(self, run_dir: Path, tag_to_index: dict[int, int]) -> None:
        path = run_dir / DRAIN / "log.bin"
        n = path.stat().st_size // LOG_RECORD.itemsize if path.exists() else 0
        self.keys = np.full(n, -1, dtype=np.int64)
        self.partition = np.empty(n, dtype=np.int32)
        self.offset = np.empty(n, dtype=np.int64)
        self.corrupted_mask = np.zeros(n, dtype=bool)
        self.foreign_mask = np.zeros(n, dtype=bool)
        at = 0
        for rec in read_records(path, LOG_RECORD):
            end = at + len(rec)
            status = rec["status"]
            valid = status == Status.VALID
            index = _map_tags(rec["tag"], tag_to_index)
            known = valid & (index >= 0)
            keys = self.keys[at:end]
            keys[known] = (index[known] << SEQ_BITS) | rec["seq"][known].astype(np.int64)
            self.partition[at:end] = rec["partition"]
            self.offset[at:end] = rec["offset"]
            self.corrupted_mask[at:end] = status == Status.CORRUPTED
            self.foreign_mask[at:end] = (status == Status.FOREIGN) | (valid & (index < 0))
            at = end
        self.known = self.keys >= 0


def _map_tags(tags: np.ndarray[Any, Any], tag_to_index: dict[int, int]) -> np.ndarray[Any, Any]:
    out = np.full(len(tags), -1, dtype=np.int64)
    for tag, idx in tag_to_index.items():
        out[tags == tag] = idx
    return out


def _reordered(log: _Log) -> tuple[int, list[int]]:
    """Records that appear, within one producer and partition, after a higher sequence number
    (first copies only: a duplicate is counted as a duplicate, not again as reordered).

    One partition at a time, so the temporaries stay a fraction of the log's size.
    """
    total = 0
    examples: list[int] = []
    for part in np.unique(log.partition):
        sel = np.flatnonzero(log.known & (log.partition == part))
        if len(sel) < 2:
            continue
        sel = sel[np.argsort(log.offset[sel], kind="stable")]
        _, first = np.unique(log.keys[sel], return_index=True)
        sel = sel[np.sort(first)]
        keys = log.keys[sel]
        order = np.argsort(keys >> SEQ_BITS, kind="stable")  # by producer, offset order kept inside
        producer = (keys >> SEQ_BITS)[order]
        seq = (keys & SEQ_MASK)[order]
        del keys
        boundaries = np.empty(len(order), dtype=bool)
        boundaries[0] = True
        np.not_equal(producer[1:], producer[:-1], out=boundaries[1:])
        # Lift each producer above the previous one so one running maximum works across all of them.
        lifted = seq + (np.cumsum(boundaries) - 1) * (1 << (SEQ_BITS + 1))
        running = np.maximum.accumulate(lifted)
        late = np.zeros(len(order), dtype=bool)
        late[1:] = (lifted[1:] < running[:-1]) & ~boundaries[1:]
        total += int(late.sum())
        if len(examples) < EXAMPLES:
            examples += [int(i) for i in sel[order][late][: EXAMPLES - len(examples)]]
    return total, examples


def _consumer_side(run_dir: Path, tag_to_index: dict[int, int]) -> dict[str, dict[str, Any]]:
    """Per group: unique processed keys and the (partition, offset) pairs processed more than once."""
    groups: dict[str, dict[str, list[Any]]] = {}
    for meta_path in sorted((run_dir / LEDGERS).glob("consumer-*.json")):
        meta = read_meta(meta_path)
        g = groups.setdefault(str(meta["group"]), {"keys": [], "positions": [], "members": []})
        g["members"].append(str(meta["member"]))
        for chunk in read_records(meta_path.with_suffix(".processed"), PROCESSED):
            index = _map_tags(chunk["tag"], tag_to_index)
            ok = (chunk["status"] == Status.VALID) & (index >= 0)
            g["keys"].append((index[ok].astype(np.int64) << SEQ_BITS) | chunk["seq"][ok].astype(np.int64))
            g["positions"].append((chunk["partition"].astype(np.int64) << SEQ_BITS) | chunk["offset"].astype(np.int64))
    out: dict[str, dict[str, Any]] = {}
    for name, g in groups.items():
        positions = _cat(g["positions"])
        g["positions"].clear()
        positions.sort()
        duplicates = int(np.count_nonzero(positions[1:] == positions[:-1]))
        del positions
        keys = _cat(g["keys"])
        g["keys"].clear()
        out[name] = {"keys": _unique(keys, in_place=True), "duplicates": duplicates, "members": g["members"]}
    return out


def _example(producers: list[ProducerInfo], key: int, partition: int = -1, offset: int = -1) -> dict[str, Any]:
    return {
        "producer": producers[key >> SEQ_BITS].id,
        "seq": key & ((1 << SEQ_BITS) - 1),
        "partition": partition if partition >= 0 else None,
        "offset": offset if offset >= 0 else None,
    }


@dataclass(slots=True)
class _ConsumerOutcome:
    """Consumer loss over every group, the records processed, duplicate processings, examples."""

    lost: int
    processed: I64
    duplicates: int
    examples: list[dict[str, Any]]


def _consumer_loss(
    groups: dict[str, dict[str, Any]],
    committed: dict[str, dict[str, int]],
    log: _Log,
    sent: I64,
    producers: list[ProducerInfo],
) -> _ConsumerOutcome:
    """Per group: records in the log below its committed offset that the group never processed."""
    lost_parts: list[I64] = []
    examples: list[dict[str, Any]] = []
    processed_keys: list[I64] = []
    duplicates = 0
    for group, info in groups.items():
        processed_keys.append(info["keys"])
        duplicates += int(info["duplicates"])
        below = np.zeros(len(log.keys), dtype=bool)
        for part, off in committed.get(group, {}).items():
            below |= (log.partition == int(part)) & (log.offset < int(off))
        below &= log.known
        below[below] = _in(log.keys[below], sent)  # a phantom is reported as such, not as loss
        lost_mask = below.copy()
        lost_mask[below] = ~_in(log.keys[below], info["keys"])
        lost_parts.append(_unique(log.keys[lost_mask]))
        for i in np.flatnonzero(lost_mask)[:EXAMPLES]:
            examples.append(
                {**_example(producers, int(log.keys[i]), int(log.partition[i]), int(log.offset[i])), "group": group}
            )
    return _ConsumerOutcome(sum(len(k) for k in lost_parts), _unique(_cat(processed_keys)), duplicates, examples)


def _duplicate_examples(log: _Log, producers: list[ProducerInfo]) -> list[dict[str, Any]]:
    """Where the second (and later) copies of records found more than once in the log are."""
    known_idx = np.flatnonzero(log.known)
    _, first = np.unique(log.keys[known_idx], return_index=True)
    repeat = np.ones(len(known_idx), dtype=bool)
    repeat[first] = False
    return [
        _example(producers, int(log.keys[i]), int(log.partition[i]), int(log.offset[i]))
        for i in known_idx[repeat][:EXAMPLES]
    ]


def reconcile(run_dir: Path, experiment: str | None = None) -> Verdict:
    """Compute the verdict of ``run_dir`` from its files alone; same files, same answer.

    Expectations are read from ``run_dir/expectations.json`` when present.

    Raises:
        UsageError: the directory has no drain (the run ended before it), or is not a run directory.
    """
    run_dir = Path(run_dir)
    drain_meta_path = run_dir / DRAIN / "drain.json"
    if not (run_dir / LEDGERS).is_dir():
        raise UsageError(f"{run_dir} is not a run directory (no {LEDGERS}/): pass reports/<run-id>")
    if not drain_meta_path.exists():
        raise UsageError(
            f"{run_dir} has ledgers but no completed drain: the run ended before reading the log back, so "
            "nothing can be reconciled; re-run the experiment"
        )
    drain_meta = read_meta(drain_meta_path)
    run_meta = read_meta(run_dir / "run.json") if (run_dir / "run.json").exists() else {}
    producers = load_producers(run_dir)
    tag_to_index = {p.tag: p.index for p in producers}
    modes = np.array([p.mode in GOES_ON_AFTER_SEND for p in producers] or [False], dtype=bool)

    side = _ProducerSide(run_dir, producers)
    log = _Log(run_dir, tag_to_index)
    log_keys = log.keys[log.known]
    # Phantoms: records of this run nobody intended, and records of no producer of this run.
    phantom_mask = log.foreign_mask.copy()
    phantom_mask[log.known] |= ~_in(log_keys, side.sent)
    logged_copies = len(log_keys)
    logged = _unique(log_keys, in_place=True)
    del log_keys
    duplicate_count = logged_copies - len(logged)
    # in_log counts sent records found in the log; a record nobody sent is a phantom, not in_log.
    in_log = logged[_in(logged, side.sent)]
    del logged

    missing = side.sent[~_in(side.sent, in_log)]
    acked_missing = _in(missing, side.acked)
    broker = missing[acked_missing]
    rest = missing[~acked_missing]
    rest = rest[~_in(rest, side.seen)]
    went_on = modes[rest >> SEQ_BITS] & _in(rest, side.returned)
    swallowed = _in(rest, side.swallowed)
    del missing, side.returned
    producer_lost = rest[went_on | swallowed]
    unknown = rest[~(went_on | swallowed)]

    reordered, reorder_positions = _reordered(log)

    committed: dict[str, dict[str, int]] = drain_meta.get("committed", {})
    consumer_groups = _consumer_side(run_dir, tag_to_index)
    consumer = _consumer_loss(consumer_groups, committed, log, side.sent, producers)
    dup_positions = _duplicate_examples(log, producers) if duplicate_count else []

    def log_examples(mask: np.ndarray[Any, Any]) -> list[dict[str, Any]]:
        out = []
        for i in np.flatnonzero(mask)[:EXAMPLES]:
            key = int(log.keys[i])
            entry = _example(producers, key) if key >= 0 else {"producer": None, "seq": None}
            out.append({**entry, "partition": int(log.partition[i]), "offset": int(log.offset[i])})
        return out

    broker_positions = side.ack_positions(broker[:EXAMPLES])
    verdict = Verdict(
        run_id=str(run_meta.get("run_id") or run_dir.name),
        experiment=experiment or str(run_meta.get("experiment") or ""),
        counts={
            "sent": len(side.sent),
            "acked": len(side.acked),
            "send_errors": len(side.seen),
            "unknown": len(unknown),
            "in_log": len(in_log),
            "processed": len(consumer.processed),
        },
        loss={"producer": len(producer_lost), "broker": len(broker), "consumer": consumer.lost},
        anomalies={
            "duplicates_in_log": duplicate_count,
            "duplicates_processed": consumer.duplicates,
            "reordered": reordered,
            "corrupted": int(log.corrupted_mask.sum()),
            "phantom": int(phantom_mask.sum()),
        },
        examples={
            "broker": [_example(producers, int(k), *broker_positions.get(int(k), (-1, -1))) for k in broker[:EXAMPLES]],
            "producer": [_example(producers, int(k)) for k in producer_lost[:EXAMPLES]],
            "consumer": consumer.examples[:EXAMPLES],
            "unknown": [_example(producers, int(k)) for k in unknown[:EXAMPLES]],
            "duplicates_in_log": dup_positions,
            "reordered": [
                _example(producers, int(log.keys[i]), int(log.partition[i]), int(log.offset[i]))
                for i in reorder_positions
            ],
            "corrupted": log_examples(log.corrupted_mask),
            "phantom": log_examples(phantom_mask),
        },
        details={
            "producers": {p.id: p.mode for p in producers},
            "groups": {g: info["members"] for g, info in consumer_groups.items()},
            "committed": committed,
            "log_records": len(log.keys),
            "drain_complete": bool(drain_meta.get("complete", False)),
        },
    )
    expectations_path = run_dir / "expectations.json"
    if expectations_path.exists():
        verdict.judge(parse_expectations(json.loads(expectations_path.read_text())))
    return verdict


def reconcile_and_write(run_dir: Path) -> Verdict:
    """:func:`reconcile`, then (re)write ``run_dir/verdict.json``."""
    verdict = reconcile(run_dir)
    verdict.write(Path(run_dir) / "verdict.json")
    return verdict
