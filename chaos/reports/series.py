"""What the ledgers say over time: totals for live progress, per-second rates for the timeline plot.

Pure reads of the run directory (ledgers, ``timeline.jsonl``, ``phases.json``), tolerant of a run that
is still being written or died half-way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from chaos import rundir
from chaos.oracle.files import json_lines
from chaos.rundir import LEDGERS
from chaos.workloads.ledger import PROCESSED, PRODUCER_EVENT, Kind, read_meta, read_records
from chaos.workloads.released import released
from chaos.workloads.totals import Totals, totals

__all__ = ["MAX_SECONDS", "Series", "Totals", "fault_windows", "series", "totals"]

#: A timeline longer than a day is cut there (a clock gone wrong must not allocate without bound).
MAX_SECONDS = 86_400


def _start_ns(meta_path: Path) -> int | None:
    try:
        return int(read_meta(meta_path)["start_ns"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


@dataclass(slots=True)
class Series:
    """Per-second rates since ``t0`` (epoch seconds), fault windows and phases on the same clock."""

    t0: float
    seconds: int
    sent: list[int] = field(default_factory=list)
    acked: list[int] = field(default_factory=list)
    errors: list[int] = field(default_factory=list)
    processed: list[int] = field(default_factory=list)
    faults: list[dict[str, Any]] = field(default_factory=list)
    phases: list[dict[str, Any]] = field(default_factory=list)
    #: Seconds before which a soak released producer rows once judged: the producers' rates before
    #: are each window's average (``soak/windows.jsonl``).
    released_s: int = 0


def fault_windows(run_dir: Path) -> list[dict[str, Any]]:
    """Each injected fault with ``start`` and ``end`` (epoch s; ``end`` None if never healed)."""
    path = Path(run_dir) / rundir.TIMELINE
    if not path.exists():
        return []
    open_faults: dict[str, dict[str, Any]] = {}
    windows: list[dict[str, Any]] = []
    for line in path.read_text().splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        name = str(event.get("fault"))
        if event.get("event") == "inject":
            entry = {
                "name": name,
                "kind": event.get("kind"),
                "targets": event.get("targets", []),
                "start": float(event["t"]),
                "end": None,
                "inject_ms": event.get("latency_ms"),
            }
            open_faults[name] = entry
            windows.append(entry)
        elif event.get("event") == "heal" and name in open_faults:
            open_faults.pop(name)["end"] = float(event["t"])
        elif event.get("event") == "inject_failed":
            windows.append(
                {
                    "name": name,
                    "kind": event.get("kind"),
                    "start": float(event["t"]),
                    "end": float(event["t"]),
                    "error": event.get("error"),
                }
            )
    return windows


def read_phases(run_dir: Path) -> list[dict[str, Any]]:
    """The runner's phases (``name``, ``start``, ``end`` epoch s, ``ok``), if recorded."""
    path = Path(run_dir) / rundir.PHASES
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    return [p for p in data if isinstance(p, dict)] if isinstance(data, list) else []


class _Rates:
    """Ledger records counted per second as they are read, one chunk at a time: a soak's ledgers of
    tens of millions of rows never sit in memory, only a day of seconds per rate."""

    def __init__(self) -> None:
        self.counts: dict[str, np.ndarray[Any, Any]] = {
            k: np.zeros(MAX_SECONDS, dtype=np.float64) for k in ("sent", "acked", "errors", "processed")
        }
        #: the last event's second, on the series' clock
        self.last = 0.0
        #: the first second whose producer rows are all kept (a soak's released rows, docs/ledgers.md)
        self.released = 0.0

    def _add(self, name: str, t: np.ndarray[Any, Any], weight: np.ndarray[Any, Any]) -> None:
        if not len(t):
            return
        idx = np.clip(t.astype(np.int64), 0, MAX_SECONDS - 1)
        self.counts[name] += np.bincount(idx, weights=weight, minlength=MAX_SECONDS)
        self.last = max(self.last, float(t.max()))

    def add_producer(self, base: Path, offset: float) -> None:
        """A producer's intents, acknowledgements and errors, ``offset`` seconds after the series' start."""
        for suffix in (".events", ".acks"):
            gone = released(base.with_suffix(suffix)).rows > 0
            for chunk in read_records(base.with_suffix(suffix), PRODUCER_EVENT):
                t = chunk["t_ms"] / 1000.0 + offset
                if gone and len(t):  # the rows before the first kept one were released: not counted
                    self.released, gone = max(self.released, float(np.ceil(t[0]))), False
                width = (chunk["seq_end"] - chunk["seq"]).astype(np.float64)
                kind = chunk["kind"]
                self._add("sent", t[kind == Kind.INTENT], width[kind == Kind.INTENT])
                self._add("acked", t[kind == Kind.ACK], width[kind == Kind.ACK])
                error = (kind == Kind.ERROR_SEEN) | (kind == Kind.ERROR_SWALLOWED)
                self._add("errors", t[error], width[error])
            if gone:  # every row released: none of its seconds is a rate
                self.released = float(MAX_SECONDS)

    def add_consumer(self, base: Path, offset: float) -> None:
        """A consumer's processed records, ``offset`` seconds after the series' start."""
        for chunk in read_records(base.with_suffix(".processed"), PROCESSED):
            t = chunk["t_ms"] / 1000.0 + offset
            self._add("processed", t, np.ones(len(t)))

    def from_windows(self, windows: list[dict[str, object]], t0: float) -> None:
        """The producers' rates before the rows a soak released end (what is left of those seconds is
        not a rate): each window's records spread evenly over its seconds (``soak/windows.jsonl``)."""
        upto = min(int(self.released), MAX_SECONDS)
        for name in ("sent", "acked", "errors"):
            self.counts[name][:upto] = 0
        for w in windows:
            start, end = w.get("start_ms"), w.get("end_ms")
            if not isinstance(start, int) or not isinstance(end, int) or end <= start:
                continue
            a, b = start / 1000 - t0, end / 1000 - t0
            self.last = max(self.last, min(b, upto))
            seconds = np.arange(max(0, int(np.ceil(a))), min(upto, int(np.ceil(b))))
            for name in ("sent", "acked", "errors"):
                value = w.get(name)
                if isinstance(value, int) and len(seconds):
                    self.counts[name][seconds] += value / (b - a)

    def binned(self, name: str, seconds: int) -> list[int]:
        """Records of one rate per second, the first ``seconds`` (a later one counts in the last)."""
        counts = self.counts[name]
        out = counts[:seconds].copy()
        if 0 < seconds < MAX_SECONDS:
            out[-1] += counts[seconds:].sum()
        return [int(v) for v in out]


def series(run_dir: Path) -> Series:
    """Per-second send, ack, error and processing rates of a run, aligned with its faults and phases."""
    run_dir = Path(run_dir)
    ledgers = run_dir / LEDGERS
    metas = [*ledgers.glob("producer-*.json"), *ledgers.glob("consumer-*.json")]
    # 0 or missing: a ledger without a clock (synthetic); its events land at the start
    starts = {meta: ns / 1e9 for meta in metas if (ns := _start_ns(meta))}
    faults = fault_windows(run_dir)
    phases = read_phases(run_dir)
    candidates = [*starts.values(), *(f["start"] for f in faults), *(float(p["start"]) for p in phases)]
    t0 = min(candidates) if candidates else 0.0
    rates = _Rates()
    for meta in metas:
        offset = starts.get(meta, t0) - t0
        if meta.name.startswith("producer-"):
            rates.add_producer(meta.with_suffix(""), offset)
        else:
            rates.add_consumer(meta.with_suffix(""), offset)
    if rates.released:
        rates.from_windows(json_lines(run_dir / rundir.SOAK / rundir.SOAK_WINDOWS), t0)
    ends = [
        rates.last,
        *((f["end"] or f["start"]) - t0 for f in faults),
        *(float(p.get("end") or p["start"]) - t0 for p in phases),
    ]
    seconds = min(int(max(ends, default=0.0)) + 1, MAX_SECONDS)
    return Series(
        t0=t0,
        seconds=seconds,
        sent=rates.binned("sent", seconds),
        acked=rates.binned("acked", seconds),
        errors=rates.binned("errors", seconds),
        processed=rates.binned("processed", seconds),
        faults=faults,
        phases=phases,
        released_s=min(int(rates.released), seconds),
    )
