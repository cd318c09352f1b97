"""The oracle: a pure function of the run directory's files. No Docker, no clock, no network.

Every record is identified by ``(producer, seq)``, packed into one int64 key
(``producer index << 40 | seq``) so the sets below are sorted numpy arrays:

* **sent**: intended (the application called send, or committed to its outbox).
* **acked**: the client reported it written. **send_errors**: failures the application saw.
* **in_log**: found by the drain. **processed**: in some consumer's processed ledger.

Loss, for a record sent but not in the log (DESIGN.md):

* **broker** — it was acknowledged.
* **producer** — not acknowledged, no error the application saw, and the application went on as if it
  was sent: its send had returned (fire-and-forget and async modes), or an error was swallowed.
* **unknown** (not loss) — indeterminate: the application never got past the send (killed inside a
  synchronous send, or the record still waits in a durable outbox).
* **consumer** — in the log below its group's committed offset, never processed by that group.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from chaos.errors import UsageError
from chaos.oracle.verdict import Verdict, parse_expectations
from chaos.workloads.envelope import Status, producer_tag
from chaos.workloads.ledger import DRAIN, LEDGERS, LOG_RECORD, PROCESSED, PRODUCER_EVENT, Kind, read_meta, read_records

SEQ_BITS = 40
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


def _unique(a: I64) -> I64:
    out: I64 = np.unique(a)
    return out


def _in(a: I64, b: I64) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Mask of elements of ``a`` present in sorted unique ``b``."""
    if len(b) == 0:
        return np.zeros(len(a), dtype=bool)
    idx = np.searchsorted(b, a)
    idx[idx == len(b)] = 0
    mask: np.ndarray[Any, np.dtype[np.bool_]] = b[idx] == a
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
    def __init__(self, run_dir: Path, producers: list[ProducerInfo]) -> None:
        intents: list[I64] = []
        returned: list[I64] = []
        ack_keys: list[I64] = []
        ack_partition: list[np.ndarray[Any, Any]] = []
        ack_offset: list[np.ndarray[Any, Any]] = []
        seen: list[I64] = []
        swallowed: list[I64] = []
        for p in producers:
            base = run_dir / LEDGERS / f"producer-{p.id}"
            for suffix in (".events", ".acks"):
                for chunk in read_records(base.with_suffix(suffix), PRODUCER_EVENT):
                    kind = chunk["kind"]
                    sel = chunk[kind == Kind.INTENT]
                    intents.append(_keys(p.index, _ranges(sel["seq"], sel["seq_end"])))
                    sel = chunk[kind == Kind.RETURNED]
                    returned.append(_keys(p.index, _ranges(sel["seq"], sel["seq_end"])))
                    sel = chunk[kind == Kind.ACK]
                    ack_keys.append(_keys(p.index, sel["seq"]))
                    ack_partition.append(sel["partition"].astype(np.int32))
                    ack_offset.append(sel["offset"].astype(np.int64))
                    seen.append(_keys(p.index, chunk[kind == Kind.ERROR_SEEN]["seq"]))
                    swallowed.append(_keys(p.index, chunk[kind == Kind.ERROR_SWALLOWED]["seq"]))
        self.acked_raw = _cat(ack_keys)
        self.ack_partition = np.concatenate(ack_partition) if ack_partition else np.empty(0, np.int32)
        self.ack_offset = _cat(ack_offset)
        # An ack is evidence of a send, so acked or failed records count as sent even if their
        # intent record was torn away by a kill.
        self.sent = _unique(_cat([*intents, self.acked_raw]))
        self.returned = _unique(_cat(returned))
        self.acked = _unique(self.acked_raw)
        self.seen = _unique(_cat(seen))
        self.swallowed = _unique(_cat(swallowed))

    def ack_position(self, key: int) -> tuple[int, int]:
        hit = np.flatnonzero(self.acked_raw == key)
        if len(hit) == 0:
            return -1, -1
        i = int(hit[0])
        return int(self.ack_partition[i]), int(self.ack_offset[i])


class _Log:
    def __init__(self, run_dir: Path, tag_to_index: dict[int, int]) -> None:
        chunks = list(read_records(run_dir / DRAIN / "log.bin", LOG_RECORD))
        rec = np.concatenate(chunks) if chunks else np.empty(0, LOG_RECORD)
        status = rec["status"]
        self.corrupted_mask = status == Status.CORRUPTED
        valid = status == Status.VALID
        index = _map_tags(rec["tag"], tag_to_index)
        known = valid & (index >= 0)
        self.foreign_mask = (status == Status.FOREIGN) | (valid & (index < 0))
        self.partition = rec["partition"].astype(np.int32)
        self.offset = rec["offset"].astype(np.int64)
        keys = np.full(len(rec), -1, dtype=np.int64)
        keys[known] = (index[known].astype(np.int64) << SEQ_BITS) | rec["seq"][known].astype(np.int64)
        self.keys = keys
        self.known = known


def _map_tags(tags: np.ndarray[Any, Any], tag_to_index: dict[int, int]) -> np.ndarray[Any, Any]:
    out = np.full(len(tags), -1, dtype=np.int64)
    for tag, idx in tag_to_index.items():
        out[tags == tag] = idx
    return out


def _reordered(log: _Log) -> tuple[int, list[int]]:
    """Records that appear, within one producer and partition, after a higher sequence number
    (first copies only: a duplicate is counted as a duplicate, not again as reordered)."""
    sel = np.flatnonzero(log.known)
    if len(sel) == 0:
        return 0, []
    keys = log.keys[sel]
    _, first = np.unique(keys, return_index=True)
    sel = sel[np.sort(first)]
    producer = log.keys[sel] >> SEQ_BITS
    seq = log.keys[sel] & ((1 << SEQ_BITS) - 1)
    partition = log.partition[sel].astype(np.int64)
    order = np.lexsort((log.offset[sel], partition, producer))
    group = (producer[order] << 20) | partition[order]
    boundaries = np.concatenate(([True], group[1:] != group[:-1]))
    group_id = np.cumsum(boundaries) - 1
    # Lift each group above the previous one so one running maximum works across all groups.
    lifted = seq[order] + group_id * (1 << (SEQ_BITS + 1))
    running = np.maximum.accumulate(lifted)
    prev_max = np.concatenate(([-1], running[:-1]))
    late = (lifted < prev_max) & ~boundaries
    positions = sel[order][late]
    return int(late.sum()), [int(i) for i in positions[:EXAMPLES]]


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
        unique_positions = _unique(positions)
        out[name] = {
            "keys": _unique(_cat(g["keys"])),
            "duplicates": len(positions) - len(unique_positions),
            "members": g["members"],
        }
    return out


def _example(producers: list[ProducerInfo], key: int, partition: int = -1, offset: int = -1) -> dict[str, Any]:
    return {
        "producer": producers[key >> SEQ_BITS].id,
        "seq": key & ((1 << SEQ_BITS) - 1),
        "partition": partition if partition >= 0 else None,
        "offset": offset if offset >= 0 else None,
    }


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
    logged = _unique(log_keys)
    # in_log counts sent records found in the log; a record nobody sent is a phantom, not in_log.
    in_log = logged[_in(logged, side.sent)]

    missing = side.sent[~_in(side.sent, in_log)]
    acked_missing = _in(missing, side.acked)
    broker = missing[acked_missing]
    rest = missing[~acked_missing]
    rest = rest[~_in(rest, side.seen)]
    went_on = modes[rest >> SEQ_BITS] & _in(rest, side.returned)
    swallowed = _in(rest, side.swallowed)
    producer_lost = rest[went_on | swallowed]
    unknown = rest[~(went_on | swallowed)]

    # Phantoms: records of this run nobody intended, and records of no producer of this run.
    phantom_mask = log.foreign_mask.copy()
    phantom_mask[log.known] |= ~_in(log_keys, side.sent)
    duplicate_count = len(log_keys) - len(logged)
    reordered, reorder_positions = _reordered(log)

    # Consumer loss per group: in the log below the committed offset, never processed by the group.
    committed: dict[str, dict[str, int]] = drain_meta.get("committed", {})
    consumer_groups = _consumer_side(run_dir, tag_to_index)
    consumer_lost_parts: list[I64] = []
    consumer_examples: list[dict[str, Any]] = []
    processed_keys: list[I64] = []
    duplicates_processed = 0
    for group, info in consumer_groups.items():
        processed_keys.append(info["keys"])
        duplicates_processed += int(info["duplicates"])
        limit = np.full(len(log.keys), -1, dtype=np.int64)
        for part, off in committed.get(group, {}).items():
            limit[log.partition == int(part)] = int(off)
        below = log.known & (log.offset < limit)
        below[below] = _in(log.keys[below], side.sent)  # a phantom is reported as such, not as loss
        lost_mask = below.copy()
        lost_mask[below] = ~_in(log.keys[below], info["keys"])
        lost_keys = _unique(log.keys[lost_mask])
        consumer_lost_parts.append(lost_keys)
        for i in np.flatnonzero(lost_mask)[:EXAMPLES]:
            consumer_examples.append(
                {**_example(producers, int(log.keys[i]), int(log.partition[i]), int(log.offset[i])), "group": group}
            )
    processed = _unique(_cat(processed_keys))
    consumer_lost = sum(len(k) for k in consumer_lost_parts)

    dup_positions: list[dict[str, Any]] = []
    if duplicate_count:
        known_idx = np.flatnonzero(log.known)
        _, first = np.unique(log.keys[known_idx], return_index=True)
        repeat = np.ones(len(known_idx), dtype=bool)
        repeat[first] = False
        for i in known_idx[repeat][:EXAMPLES]:
            dup_positions.append(_example(producers, int(log.keys[i]), int(log.partition[i]), int(log.offset[i])))

    def log_examples(mask: np.ndarray[Any, Any]) -> list[dict[str, Any]]:
        out = []
        for i in np.flatnonzero(mask)[:EXAMPLES]:
            key = int(log.keys[i])
            entry = _example(producers, key) if key >= 0 else {"producer": None, "seq": None}
            out.append({**entry, "partition": int(log.partition[i]), "offset": int(log.offset[i])})
        return out

    verdict = Verdict(
        run_id=str(run_meta.get("run_id") or run_dir.name),
        experiment=experiment or str(run_meta.get("experiment") or ""),
        counts={
            "sent": len(side.sent),
            "acked": len(side.acked),
            "send_errors": len(side.seen),
            "unknown": len(unknown),
            "in_log": len(in_log),
            "processed": len(processed),
        },
        loss={"producer": len(producer_lost), "broker": len(broker), "consumer": consumer_lost},
        anomalies={
            "duplicates_in_log": duplicate_count,
            "duplicates_processed": duplicates_processed,
            "reordered": reordered,
            "corrupted": int(log.corrupted_mask.sum()),
            "phantom": int(phantom_mask.sum()),
        },
        examples={
            "broker": [_example(producers, int(k), *side.ack_position(int(k))) for k in broker[:EXAMPLES]],
            "producer": [_example(producers, int(k)) for k in producer_lost[:EXAMPLES]],
            "consumer": consumer_examples[:EXAMPLES],
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
