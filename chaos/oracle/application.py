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
from chaos.oracle.keys import I64, SEQ_BITS, SEQ_MASK, member, positions
from chaos.oracle.log import Log, out_of_order
from chaos.oracle.rewrites import Rewrites, latest_behind
from chaos.oracle.transform import Outputs
from chaos.rundir import DRAIN, LEDGERS
from chaos.workloads.ledger import OUTPUT_TIME, read_meta
from chaos.workloads.shape import InputShape

#: Outputs out of order shown in the verdict.
EXAMPLES = 10
#: Inputs acknowledged this long before a fault, or after its heal, are "before" and "after" it.
MIN_PERIOD_S = 5.0


def load_application(run_dir: Path) -> dict[str, Any] | None:
    """What ``ledgers/application.json`` says (None: the run had no application)."""
    path = run_dir / LEDGERS / rundir.APPLICATION_META
    return read_meta(path) if path.exists() else None


def output_times(run_dir: Path, outputs: Outputs) -> I64 | None:
    """Each output's append time (epoch ms), aligned with ``outputs.log`` (which is in position
    order); None where ``drain/output-times.bin`` does not give one for every output."""
    path = run_dir / DRAIN / rundir.DRAIN_OUTPUT_TIMES
    rows = np.fromfile(path, dtype=OUTPUT_TIME) if path.exists() else np.empty(0, OUTPUT_TIME)
    if len(rows) != len(outputs.log):
        return None
    pos = positions(rows["partition"], rows["offset"])
    order = np.argsort(pos, kind="stable")
    if not np.array_equal(pos[order], outputs.log.pos):
        return None
    times: I64 = rows["t_ms"][order].astype(np.int64)
    return times


def application_group(
    meta: dict[str, Any], outputs: Outputs | None, times: I64 | None, ack_positions: Callable[[I64], I64], log: Log
) -> Group:
    """The application as a group whose processing is the inputs it wrote an output for. Where the
    log now holds another record at a position one of those inputs was acknowledged at, the log was
    rewritten under it (:mod:`chaos.oracle.rewrites`): when it last wrote the output of an input at
    a lower offset of that partition says whether it was still behind the record written there."""
    keys = outputs.inputs.copy() if outputs is not None else np.empty(0, np.int64)
    members = [f"application-{i}" for i in range(int(meta.get("instances", 1)))]
    group = Group(str(meta["group"]), keys, 0, members, 0, transformer=True)
    if outputs is not None and len(keys):
        out_keys, out_ms = _first_output_times(outputs, times)
        at = ack_positions(out_keys)
        ok = at >= 0
        at, out_keys, out_ms = at[ok], out_keys[ok], out_ms[ok]
        idx = log.at(at)
        moved = (idx < 0) | (log.keys[np.maximum(idx, 0)] != out_keys)
        rewritten = np.unique(at[moved])
        if len(rewritten):
            behind: I64 = np.full(len(rewritten), -1, dtype=np.int64)
            latest_behind(rewritten, behind, at, out_ms)
            group.rewritten = Rewrites(rewritten, 0, behind)
    return group


def _first_output_times(outputs: Outputs, times: I64 | None) -> tuple[I64, I64]:
    """Each input with an output (sorted unique) and its first output's append time (epoch ms; -1
    where the times are not known)."""
    known = outputs.log.known
    keys = outputs.log.keys[known]
    at = times[known] if times is not None else np.full(len(keys), -1, dtype=np.int64)
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
    run_dir: Path, outputs: Outputs, times: I64 | None, ack_times: Callable[[I64], I64]
) -> tuple[dict[str, float] | None, list[dict[str, Any]]]:
    """End-to-end latency (ms) of every input with an output, and per fault before, during and
    after it (by when the input was acknowledged; a fault never healed lasts to the last output)."""
    if times is None:
        return None, []
    keys, out_at = _first_output_times(outputs, times)
    acked = ack_times(keys)
    ok = acked >= 0
    acked, ms = acked[ok], (out_at[ok] - acked[ok])
    last = float(out_at.max()) if len(out_at) else 0.0
    by_fault = []
    for name, kind, start_s, healed_s in _faults(run_dir):
        start = start_s * 1000
        end = healed_s * 1000 if healed_s is not None else max(last, start)
        period = max(MIN_PERIOD_S * 1000, end - start)
        windows = {
            "before": (acked >= start - period) & (acked < start),
            "during": (acked >= start) & (acked < end),
            "after": (acked >= end) & (acked < end + period),
        }
        by_fault.append({"fault": name, "kind": kind, **{k: _stats(ms[sel]) for k, sel in windows.items()}})
    return _stats(ms), by_fault


def uncorrelated(outputs: Outputs | None, sent: I64) -> int:
    """Outputs that name no input of this run: no identity where the experiment says, or one no
    producer of the run sent."""
    if outputs is None:
        return 0
    log = outputs.log
    return int((~log.known).sum()) + int((~member(log.keys[log.known], sent)).sum())


def application_reasons(outputs: Outputs | None, sent: I64, run_dir: Path) -> list[str]:
    """What makes a verdict on an application unsure: outputs that name no input (each could be
    the output of an input counted as lost, or a duplicate), and outputs retention removed."""
    reasons = []
    count = uncorrelated(outputs, sent)
    if count:
        reasons.append(
            f"{count} outputs name no input of this run (application.uncorrelated_examples): an input counted "
            "without output may have one of them; check the application section's output.correlate"
        )
    meta = read_meta(run_dir / DRAIN / rundir.DRAIN_OUTPUT_META) if outputs is not None else {}
    moved = {p: o for p, o in (meta.get("beginning_offsets") or {}).items() if int(o) > 0}
    if moved:
        reasons.append(f"the output topic's log start moved (retention removed outputs): {moved}")
    return reasons


def application_figures(
    run_dir: Path,
    meta: dict[str, Any],
    outputs: Outputs | None,
    times: I64 | None,
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
    overall, by_fault = latency(run_dir, outputs, times, ack_times) if outputs is not None else (None, [])
    logs = sorted(p.relative_to(run_dir).as_posix() for p in (run_dir / rundir.APPLICATION).glob("*.log"))
    return {
        "group": meta.get("group"),
        "output_topic": meta.get("output_topic"),
        "correlate": meta.get("correlate"),
        "outputs": len(outputs.log) if outputs is not None else 0,
        "uncorrelated": uncorrelated(outputs, sent),
        "uncorrelated_examples": output_meta.get("uncorrelated_examples", []),
        "inputs_with_output": len(with_output),
        "without_output_in_log": int(reached.sum()),
        "without_output_not_in_log": int((~reached).sum()),
        "duplicate_outputs": outputs.duplicates if outputs is not None else 0,
        "latency_ms": overall,
        "latency_by_fault": by_fault,
        "logs": logs,
    }


def judge_application(
    run_dir: Path,
    outputs: Outputs | None,
    groups: list[Group],
    sent: I64,
    log: Log,
    ack_positions: Callable[[I64], I64],
    ack_times: Callable[[I64], I64],
    producer_ids: dict[int, str],
) -> tuple[dict[str, Any] | None, list[str]]:
    """The run's application, if it had one: appended to ``groups`` as the group whose processing is
    its outputs; returns the verdict's ``application`` section and what makes the verdict unsure."""
    meta = load_application(run_dir)
    if meta is None:
        return None, []
    times = output_times(run_dir, outputs) if outputs is not None else None
    groups.append(application_group(meta, outputs, times, ack_positions, log))
    in_log = np.unique(log.keys[log.known])
    figures = application_figures(run_dir, meta, outputs, times, sent, in_log, ack_times)
    if meta.get("ordered") and outputs is not None:  # asked: order per input key
        figures["reordered_outputs"], figures["reordered_examples"] = reordered_outputs(run_dir, outputs, producer_ids)
    return figures, application_reasons(outputs, sent, run_dir)


def reordered_outputs(run_dir: Path, outputs: Outputs, producer_ids: dict[int, str]) -> tuple[int, list[str]]:
    """Outputs out of their inputs' order per input key, within each output partition: the fewest
    outputs that, moved, would leave each key's in sequence order (first output of each input
    only); and a few of them as ``p0-17``. The keys are the input shape's, from each producer's
    workload spec."""
    shapes: dict[int, InputShape] = {}
    for index, pid in producer_ids.items():
        spec = read_meta(run_dir / "workloads" / f"producer-{pid}.json")
        if spec.get("shape"):
            shapes[index] = InputShape(**spec["shape"])
    log = outputs.log
    idx = np.flatnonzero(log.known)
    _, first = np.unique(log.keys[idx], return_index=True)
    idx = idx[np.sort(first, kind="stable")]  # first outputs, in position order
    by_key: dict[tuple[int, bytes | None], list[int]] = {}
    for i in idx.tolist():
        key = int(log.keys[i])
        index, seq = key >> SEQ_BITS, key & SEQ_MASK
        shape = shapes.get(index)
        input_key = shape.render(producer_ids[index], seq)[0] if shape is not None else None
        by_key.setdefault((int(log.pos[i] >> SEQ_BITS), input_key), []).append(key)
    count, examples = 0, []
    for keys in by_key.values():
        out = out_of_order(np.asarray(keys, dtype=np.int64) & SEQ_MASK)
        count += len(out)
        examples += [f"{producer_ids[keys[j] >> SEQ_BITS]}-{keys[j] & SEQ_MASK}" for j in out.tolist()]
    return count, examples[:EXAMPLES]
