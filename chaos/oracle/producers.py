"""The producers' side of a run: what each producer intended, saw returned, had acknowledged, saw
fail, from its ledgers (``docs/ledgers.md``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from chaos.oracle.keys import I64, SEQ_BITS, Members, Ranges, cat, keys, member, positions, runs, union, unique
from chaos.rundir import LEDGERS
from chaos.workloads.envelope import producer_tag
from chaos.workloads.ledger import PRODUCER_EVENT, Kind, read_meta, read_records
from chaos.workloads.returned import read_returned_mark

#: Modes whose application goes on once send() returned, without waiting for the outcome.
GOES_ON_AFTER_SEND = frozenset({"fire_and_forget", "async"})
#: Modes that keep a failed record and send it again: an error they saw is not the record's end.
RETRIES_FOREVER = frozenset({"outbox"})
#: A range longer than this in one INTENT or RETURNED record is not one a producer writes.
MAX_RANGE = 1 << 20


@dataclass(frozen=True, slots=True)
class ProducerInfo:
    """A producer known from its meta file."""

    index: int
    id: str
    mode: str
    tag: int
    #: How it keyed its records (``spread``, ``pinned``, ``none``), from its workload spec (None: unknown).
    keys: str | None = None
    #: Wall-clock milliseconds its ledgers' ``t_ms`` count from.
    start_ms: int = 0


def load_producers(run_dir: Path) -> list[ProducerInfo]:
    """Producers of the run, from ``ledgers/producer-*.json`` (and how each keyed its records, from
    ``workloads/producer-<id>.json`` where the run kept it), in a stable order."""
    infos = []
    for i, path in enumerate(sorted((run_dir / LEDGERS).glob("producer-*.json"))):
        meta = read_meta(path)
        pid = str(meta["producer"])
        spec_path = run_dir / "workloads" / f"producer-{pid}.json"
        keys = read_meta(spec_path).get("keys") if spec_path.exists() else None
        mode = str(meta.get("mode", "async"))
        start_ms = int(meta.get("start_ns") or 0) // 1_000_000
        infos.append(ProducerInfo(i, pid, mode, producer_tag(pid), str(keys) if keys is not None else None, start_ms))
    return infos


def valid_rows(chunk: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Rows a producer can have written: a known kind, a range of sequence numbers below 2^40 that
    is not reversed or absurdly long, and a position that packs into a key (an offset below 2^40):
    anything past those bounds would spill into another producer's or partition's keys."""
    kind, seq, end = chunk["kind"], chunk["seq"], chunk["seq_end"]
    ok = (kind >= Kind.INTENT) & (kind <= Kind.ABORTED) & (seq < (1 << SEQ_BITS)) & (end >= seq)
    ok &= (end <= (1 << SEQ_BITS)) & (end - seq <= MAX_RANGE)
    ok &= (chunk["offset"] < (1 << SEQ_BITS)) & (chunk["partition"] < (1 << 23))
    return ok


def _joined(parts: list[I64]) -> I64:
    """The producers' sets of one kind, in index order: one producer's own array (a fresh one, no
    one else's), not a copy of it; several, concatenated (popped from their dict by the caller, so
    the parts are freed once joined)."""
    return parts[0] if len(parts) == 1 else cat(parts)


class ProducerSide:
    """Per-record sets of every producer, sorted and unique.

    Keys carry the producer index in their high bits, so each producer's sets, concatenated in
    index order, stay sorted: every sort is the size of one producer's records.

    * ``sent``: intended (or acknowledged, which proves a send whose intent a kill tore away).
    * ``acked``: acknowledged at a real offset. ``unconfirmed``: "acknowledged" with no offset
      (``acks=0``: the bytes reached the socket; the broker never answered).
    * ``seen`` / ``swallowed``: failures the application saw / never looked at.
    * ``returned``: ranges whose send() had returned.
    * ``invalid_rows``: ledger rows no producer writes (a damaged ledger; the verdict is unsure).
    """

    def __init__(self, run_dir: Path, producers: list[ProducerInfo]) -> None:
        self.run_dir = run_dir
        self.producers = producers
        self.invalid_rows = 0
        parts: dict[str, list[I64]] = {n: [] for n in ("sent", "acked", "unconfirmed", "seen", "swallowed")}
        returned_starts: list[I64] = []
        returned_ends: list[I64] = []
        for p in producers:
            mine = self._one(p)
            for name, found in parts.items():
                found.append(mine.pop(name))
            returned_starts.append(mine.pop("returned_starts"))
            returned_ends.append(mine.pop("returned_ends"))
        self.sent = _joined(parts.pop("sent"))
        self.acked = _joined(parts.pop("acked"))
        self.unconfirmed = _joined(parts.pop("unconfirmed"))
        self.seen = _joined(parts.pop("seen"))
        self.swallowed = _joined(parts.pop("swallowed"))
        self.returned = Ranges(cat(returned_starts), cat(returned_ends))
        self.goes_on = np.array([p.mode in GOES_ON_AFTER_SEND for p in producers] or [False], dtype=bool)
        self.retries = np.array([p.mode in RETRIES_FOREVER for p in producers] or [False], dtype=bool)
        self._sent_runs: Ranges | None = None

    def hold_sent_as_runs(self) -> None:
        """Hold ``sent`` as its ranges (:func:`runs`), where it is made of few, until
        :meth:`restore_sent`: for a phase that does not read it, so its 8 bytes a record are not
        added to that phase's peak."""
        self._sent_runs = runs(self.sent)
        if self._sent_runs is not None:
            self.sent = np.empty(0, np.int64)

    def restore_sent(self) -> None:
        """``sent`` as it was before :meth:`hold_sent_as_runs`."""
        if self._sent_runs is not None:
            self.sent = self._sent_runs.materialise()
        self._sent_runs = None

    def _one(self, p: ProducerInfo) -> dict[str, I64]:
        base = self.run_dir / LEDGERS / f"producer-{p.id}"
        intent_s: list[I64] = []
        intent_e: list[I64] = []
        ret_s: list[I64] = []
        ret_e: list[I64] = []
        acked: list[I64] = []
        unconfirmed: list[I64] = []
        seen: list[I64] = []
        swallowed: list[I64] = []
        for rows in self.chunks(p):
            ok = valid_rows(rows)
            bad = len(rows) - int(ok.sum())
            self.invalid_rows += bad
            # Columns, not rows, are selected: a row is 37 packed bytes, a sequence number 8.
            kind, seq = rows["kind"], rows["seq"]
            if bad:
                kind = np.where(ok, kind, 0)  # no kind: an invalid row is in no set
            is_ack = kind == Kind.ACK
            real = is_ack & (rows["offset"] >= 0)
            intent, returned = kind == Kind.INTENT, kind == Kind.RETURNED
            intent_s.append(keys(p.index, seq[intent]))
            intent_e.append(keys(p.index, rows["seq_end"][intent]))
            ret_s.append(keys(p.index, seq[returned]))
            ret_e.append(keys(p.index, rows["seq_end"][returned]))
            acked.append(keys(p.index, seq[real]))
            unconfirmed.append(keys(p.index, seq[is_ack & ~real]))
            seen.append(keys(p.index, seq[kind == Kind.ERROR_SEEN]))
            swallowed.append(keys(p.index, seq[kind == Kind.ERROR_SWALLOWED]))
        if (mark := read_returned_mark(base.with_suffix(".returned"))) is not None:
            ret_s.append(keys(p.index, np.array([mark[0]], dtype=np.uint64)))
            ret_e.append(keys(p.index, np.array([mark[1]], dtype=np.uint64)))
        acked_all = cat(acked)
        acked.clear()  # the chunks, before the sort and before sent is made
        acked_keys = unique(acked_all, in_place=True)
        del acked_all
        # Intents are ranges: merged, they give the sorted unique keys without a sort.
        sent = Ranges(cat(intent_s), cat(intent_e)).materialise()
        unconfirmed_keys = unique(cat(unconfirmed), in_place=True)
        unconfirmed_keys = unconfirmed_keys[~member(unconfirmed_keys, acked_keys)]
        # An ack proves a send whose intent record a kill tore away.
        sent = union(union(sent, acked_keys), unconfirmed_keys)
        return {
            "sent": sent,
            "acked": acked_keys,
            "unconfirmed": unconfirmed_keys,
            "seen": unique(cat(seen), in_place=True),
            "swallowed": unique(cat(swallowed), in_place=True),
            "returned_starts": cat(ret_s),
            "returned_ends": cat(ret_e),
        }

    def chunks(self, p: ProducerInfo) -> Iterator[np.ndarray[Any, Any]]:
        """The rows of both of ``p``'s ledgers, chunk by chunk, each valid until the next is asked for
        (one buffer: :func:`read_records`' ``reuse``)."""
        base = self.run_dir / LEDGERS / f"producer-{p.id}"
        for suffix in (".events", ".acks"):
            yield from read_records(base.with_suffix(suffix), PRODUCER_EVENT, reuse=True)

    def acks(self, among: I64 | None = None) -> Iterator[tuple[I64, I64, I64]]:
        """``(keys, positions, wall-clock ms)`` of every acknowledgement at a real offset, chunk by
        chunk; of the sorted unique keys ``among`` only, where given (a producer with none of them is
        not read, and the positions and times of the other rows are not computed)."""
        wanted = Members(among) if among is not None else None
        for p in self.producers:
            if among is not None and not _any_of(among, p.index):
                continue
            for chunk in self.chunks(p):
                sel = np.flatnonzero((chunk["kind"] == Kind.ACK) & (chunk["offset"] >= 0) & valid_rows(chunk))
                k = keys(p.index, chunk["seq"][sel])
                if wanted is not None:
                    hit = wanted.of(k)
                    sel, k = sel[hit], k[hit]
                if len(sel):
                    at = positions(chunk["partition"][sel], chunk["offset"][sel])
                    yield k, at, p.start_ms + chunk["t_ms"][sel].astype(np.int64)

    def ack_positions(self, wanted: I64) -> I64:
        """Where each of the sorted unique acknowledged keys ``wanted`` was acknowledged (its first
        ack), aligned with ``wanted``; -1 for a key without one."""
        return self.first_acks(wanted)[0]

    def first_acks(self, wanted: I64) -> tuple[I64, I64]:
        """Where and when (wall-clock ms) each of the sorted unique keys ``wanted`` was first
        acknowledged, aligned with ``wanted``; -1 for a key without an ack."""
        found = list(self.acks(wanted)) if len(wanted) else []
        k, pos, t = (cat([f[i] for f in found]) for i in range(3))
        order = np.argsort(k, kind="stable")
        k, pos, t = k[order], pos[order], t[order]
        first = np.ones(len(k), dtype=bool)
        first[1:] = k[1:] != k[:-1]
        k, pos, t = k[first], pos[first], t[first]
        out_pos: I64 = np.full(len(wanted), -1, dtype=np.int64)
        out_t: I64 = np.full(len(wanted), -1, dtype=np.int64)
        if len(k):
            idx = np.minimum(np.searchsorted(k, wanted), len(k) - 1)
            hit = k[idx] == wanted
            out_pos[hit], out_t[hit] = pos[idx[hit]], t[idx[hit]]
        return out_pos, out_t


def _any_of(keys_sorted: I64, index: int) -> bool:
    """Whether the sorted keys hold any of producer ``index``'s."""
    lo, hi = np.searchsorted(keys_sorted, [index << SEQ_BITS, (index + 1) << SEQ_BITS])
    return bool(hi > lo)
