"""The team's application, judged from outside: its output topic correlated to its inputs.

``ledgers/application.json`` says what ran (its group, output topic, how outputs name inputs);
``drain/output.bin`` and ``drain/output-times.bin`` what it wrote, and when the brokers appended
each output. The application is a consume-transform-produce group whose processing is its outputs
(:mod:`chaos.oracle.transform`): an input in the log below its committed offsets without an output
is consumer loss; the end-to-end latency of an input is its first output's append time minus the
time its own write was acknowledged.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from chaos import rundir
from chaos.oracle.consumers import Group
from chaos.oracle.keys import I64, member
from chaos.oracle.transform import Outputs
from chaos.rundir import DRAIN, LEDGERS
from chaos.workloads.ledger import read_meta

#: Inputs acknowledged this long before a fault, or after its heal, are "before" and "after" it.
MIN_PERIOD_S = 5.0


def load_application(run_dir: Path) -> dict[str, Any] | None:
    """What ``ledgers/application.json`` says (None: the run had no application)."""
    path = run_dir / LEDGERS / rundir.APPLICATION_META
    return read_meta(path) if path.exists() else None


def application_group(meta: dict[str, Any], outputs: Outputs | None) -> Group:
    """The application as a group whose processing is the inputs it wrote an output for."""
    keys = outputs.inputs.copy() if outputs is not None else np.empty(0, np.int64)
    members = [f"application-{i}" for i in range(int(meta.get("instances", 1)))]
    return Group(str(meta["group"]), keys, 0, members, 0, transformer=True)


def _first_output_times(outputs: Outputs, times: I64) -> tuple[I64, I64]:
    """Each input with an output (sorted unique) and its first output's append time (epoch ms)."""
    known = outputs.log.known
    keys, at = outputs.log.keys[known], times[known]
    order = np.lexsort((at, keys))
    keys, at = keys[order], at[order]
    first = np.ones(len(keys), dtype=bool)
    first[1:] = keys[1:] != keys[:-1]
    return keys[first], at[first]


def _stats(ms: I64) -> dict[str, float] | None:
    if len(ms) == 0:
        return None
    p50, p99 = np.percentile(ms, [50, 99])
    return {"p50": round(float(p50), 1), "p99": round(float(p99), 1), "max": float(ms.max()), "records": len(ms)}


def _faults(run_dir: Path) -> list[tuple[str, str, float, float | None]]:
    """Each injected fault: name, kind, injected and healed (epoch s)."""
    path = run_dir / rundir.TIMELINE
    found: dict[str, list[Any]] = {}
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if not isinstance(e, dict) or not isinstance(e.get("t"), int | float):
            continue
        if e.get("event") == "inject":
            found.setdefault(str(e.get("fault")), [str(e.get("kind")), float(e["t"]), None])
        elif e.get("event") == "heal" and str(e.get("fault")) in found:
            found[str(e.get("fault"))][2] = float(e["t"])
    return [(name, kind, start, healed) for name, (kind, start, healed) in found.items()]


def latency(
    run_dir: Path, outputs: Outputs, ack_times: Callable[[I64], I64]
) -> tuple[dict[str, float] | None, list[dict[str, Any]]]:
    """End-to-end latency (ms) of every input with an output, and per fault before, during and
    after it (by when the input was acknowledged)."""
    path = run_dir / DRAIN / rundir.DRAIN_OUTPUT_TIMES
    times: I64 = np.fromfile(path, dtype="<i8") if path.exists() else np.empty(0, np.int64)
    if len(times) != len(outputs.log):
        return None, []
    keys, out_at = _first_output_times(outputs, times)
    acked = ack_times(keys)
    ok = acked >= 0
    acked, ms = acked[ok], (out_at[ok] - acked[ok])
    by_fault = []
    for name, kind, start_s, healed_s in _faults(run_dir):
        start, end = start_s * 1000, (healed_s if healed_s is not None else start_s) * 1000
        period = max(MIN_PERIOD_S * 1000, end - start)
        windows = {
            "before": (acked >= start - period) & (acked < start),
            "during": (acked >= start) & (acked < end),
            "after": (acked >= end) & (acked < end + period),
        }
        by_fault.append({"fault": name, "kind": kind, **{k: _stats(ms[sel]) for k, sel in windows.items()}})
    return _stats(ms), by_fault


def application_figures(
    run_dir: Path,
    meta: dict[str, Any],
    outputs: Outputs | None,
    sent: I64,
    in_log: I64,
    ack_times: Callable[[I64], I64],
) -> dict[str, Any]:
    """The verdict's ``application`` section: what ran, what it wrote, what has no output and
    where those inputs were, outputs that name no input, and end-to-end latency."""
    output_meta = read_meta(run_dir / DRAIN / rundir.DRAIN_OUTPUT_META) if outputs is not None else {}
    with_output = outputs.inputs if outputs is not None else np.empty(0, np.int64)
    without = sent[~member(sent, with_output)]
    reached = member(without, in_log)
    overall, by_fault = latency(run_dir, outputs, ack_times) if outputs is not None else (None, [])
    logs = sorted(p.relative_to(run_dir).as_posix() for p in (run_dir / rundir.APPLICATION).glob("*.log"))
    return {
        "group": meta.get("group"),
        "output_topic": meta.get("output_topic"),
        "correlate": meta.get("correlate"),
        "outputs": len(outputs.log) if outputs is not None else 0,
        "uncorrelated": int((~outputs.log.known).sum()) if outputs is not None else 0,
        "uncorrelated_examples": output_meta.get("uncorrelated_examples", []),
        "inputs_with_output": len(with_output),
        "without_output_in_log": int(reached.sum()),
        "without_output_not_in_log": int((~reached).sum()),
        "duplicate_outputs": outputs.duplicates if outputs is not None else 0,
        "latency_ms": overall,
        "latency_by_fault": by_fault,
        "logs": logs,
    }
