"""A soak's verdict from its windows alone (docs/soak.md, "The verdict from the windows").

Each window's fates (``soak/judged.jsonl``, :func:`chaos.oracle.window.judge_window`) are the whole
run's reconcile restricted to the window's records, so their sum is the whole run's verdict of the
figures a window judges: the counts, the loss by stage, the log's duplicates. A soak that ends so
reads no log back and holds no set of the whole run: its memory is a window's, whatever its length.

What a window does not judge is left out of such a verdict, and an expectation that names it sends
the soak back to the whole reconcile (:func:`not_from_windows`): the other anomalies, the causes of
broker loss, availability per fault (a soak reports it per window), consumers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chaos import rundir
from chaos.oracle.expectations import COUNT_FIELDS, LOSS_FIELDS, parse_expectations
from chaos.oracle.files import json_lines
from chaos.oracle.producers import load_producers
from chaos.oracle.verdict import Counts, Trust, Verdict
from chaos.oracle.window import EXAMPLES
from chaos.workloads.ledger import read_meta
from chaos.workloads.released import any_released

#: The expectation metrics a verdict of windows states.
WINDOW_METRICS = frozenset({*COUNT_FIELDS, *(f"{s}_loss" for s in LOSS_FIELDS), "total_loss", "duplicates_in_log"})
#: The counts a window judges (the rest are zero in a soak judged in windows: no consumer,
#: transaction or compacted topic).
_SUMMED = ("sent", "acked", "unconfirmed", "send_errors", "failed", "unknown", "in_log", "damaged")
_FIGURES = (*_SUMMED, "duplicates", "lost_producer", "lost_broker", "invalid_rows")


def _judged(run_dir: Path) -> list[dict[str, object]]:
    return json_lines(Path(run_dir) / rundir.SOAK / rundir.SOAK_JUDGED)


def judged_in_windows(run_dir: Path) -> bool:
    """Whether ``run_dir``'s ``verdict.json`` is a soak's windows summed (``details.judged_in``)."""
    try:
        verdict = json.loads((Path(run_dir) / rundir.VERDICT).read_text())
    except (OSError, ValueError):
        return False
    details = verdict.get("details") if isinstance(verdict, dict) else None
    return isinstance(details, dict) and details.get("judged_in") == "windows"


def _unreadable(run_dir: Path) -> str | None:
    """Which line of ``soak/judged.jsonl`` is not a JSON object (a write torn or joined to the next)."""
    path = Path(run_dir) / rundir.SOAK / rundir.SOAK_JUDGED
    if not path.exists():
        return None
    for n, text in enumerate(path.read_text().splitlines(), start=1):
        try:
            ok = isinstance(json.loads(text), dict)
        except ValueError:
            ok = False
        if not ok:
            return f"line {n} of {rundir.SOAK}/{rundir.SOAK_JUDGED} cannot be read"
    return None


def _untiled(run_dir: Path, lines: list[dict[str, object]]) -> str | None:
    """Why the windows' ranges do not cover each producer's records exactly once, from 0 to no end
    (a window's line missing, written twice, or two windows overlapping), or None when they do."""
    ranges: dict[str, list[tuple[int, int | None]]] = {p.id: [] for p in load_producers(run_dir)}
    for line in lines:
        bounds = line.get("bounds")
        if not isinstance(bounds, dict):
            return f"window {line.get('window')} does not say which records it judged"
        for pid, (lo, hi) in bounds.items():
            ranges.setdefault(str(pid), []).append((int(lo), None if hi is None else int(hi)))
    for pid, found in ranges.items():
        at: int | None = 0
        for lo, hi in sorted(found, key=lambda r: (r[0], r[1] is None, r[1] or 0)):
            if at is None or lo != at:
                return f"producer {pid}'s windows do not cover its records once each (a window from {lo})"
            at = hi
        if at is not None:
            return f"producer {pid}'s windows end at record {at}: the rest was judged by none"
    return None


def not_from_windows(run_dir: Path) -> str | None:
    """Why ``run_dir``'s verdict cannot be the sum of its judged windows (None: it can): a window
    left unjudged or judged unsure, a line that cannot be read, windows that do not cover each
    producer's records once, none judged, consumers (whose processing windows do not judge), or an
    expectation of something windows do not judge.

    Raises:
        UsageError: ``expectations.json`` names an unknown metric.
    """
    lines = _judged(run_dir)
    for line in lines:
        if line.get("unjudged"):
            return f"window {line.get('window')} was not judged: {line['unjudged']}"
        if line.get("unsure"):
            return f"window {line.get('window')} was judged unsure: {line['unsure']}"
    if not lines:
        return "no window was judged"
    if (why := _unreadable(run_dir) or _untiled(run_dir, lines)) is not None:
        return why
    return beyond_windows(run_dir)


def beyond_windows(run_dir: Path) -> str | None:
    """Why no sum of ``run_dir``'s windows can be its verdict, whatever they judged: consumers
    (whose processing windows do not judge), or an expectation of something windows do not judge.

    Raises:
        UsageError: ``expectations.json`` names an unknown metric.
    """
    if any((Path(run_dir) / rundir.LEDGERS).glob("consumer-*.json")):
        return "consumers read the topic, and only the whole run's reconcile judges what they processed"
    path = Path(run_dir) / rundir.EXPECTATIONS
    wanted = parse_expectations(read_meta(path)) if path.exists() else []
    beyond = sorted({e.metric for e in wanted} - WINDOW_METRICS)
    if beyond:
        return f"the expectations name {', '.join(beyond)}, which only the whole run's reconcile judges"
    return None


def _examples(lines: list[dict[str, object]], latest: bool) -> dict[str, list[dict[str, Any]]]:
    """The windows' first :data:`EXAMPLES` records of each stage, in window order; ``latest``: the
    latest windows' instead (a soak whose topic's retention deletes the first windows' records
    before Kafka's segment dump could search for them)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for line in reversed(lines) if latest else lines:
        shown = line.get("examples")
        if not isinstance(shown, dict):
            continue
        for stage, records in shown.items():
            kept = out.setdefault(str(stage), [])
            kept += [r for r in records if isinstance(r, dict)][: EXAMPLES - len(kept)]
    return out


def controls(run_dir: Path) -> dict[int, str]:
    """A record the log holds per partition (``producer;seq``), from the latest window that names
    one there: what Kafka's segment dump must find for its search to prove anything."""
    out: dict[int, str] = {}
    for line in _judged(run_dir):
        found = line.get("controls")
        if isinstance(found, dict):
            out |= {int(p): str(v) for p, v in found.items()}
    return out


def windows_verdict(run_dir: Path, experiment: str | None = None) -> Verdict:
    """The verdict of a soak whose every window was judged (:func:`not_from_windows` says None): the
    windows' figures summed, their first examples, judged by ``expectations.json``. Where they do not
    make the verdict and the soak released its judged ledger rows (so no whole reconcile can), the
    judged windows' figures are summed all the same, in a verdict that is inconclusive and says why.

    Raises:
        UsageError: ``expectations.json`` names an unknown metric.
        ValueError: a judged line whose figures are not numbers (not a file the judge wrote).
    """
    run_dir = Path(run_dir)
    lines = [line for line in _judged(run_dir) if not line.get("unjudged")]
    total = {name: sum(int(str(line.get(name, 0))) for line in lines) for name in _FIGURES}
    invalid = total["invalid_rows"]
    reasons = [f"{invalid} ledger rows are not rows any writer produces (a damaged ledger)"] if invalid else []
    if (why := not_from_windows(run_dir)) is not None:
        reasons.append(
            f"{why}; the soak released what its windows judged (ledger rows, and records past its topic's "
            "retention), so no whole reconcile can take their place: the figures are the judged windows' alone "
            "(keep everything with kafka-chaos soak --keep-ledgers, or ledgers: keep in the file's soak:)"
        )
    trust = Trust(conclusive=not reasons, ledgers_intact=not invalid, drain_complete=why is None, reasons=reasons)
    run_meta = read_meta(run_dir / rundir.RUN) if (run_dir / rundir.RUN).exists() else {}
    producers = load_producers(run_dir)
    verdict = Verdict.build(
        run_id=str(run_meta.get("run_id") or run_dir.name),
        experiment=experiment or str(run_meta.get("experiment") or ""),
        counts=Counts(**{name: total[name] for name in _SUMMED}),
        loss={"producer": total["lost_producer"], "broker": total["lost_broker"], "consumer": 0},
        anomalies={"duplicates_in_log": total["duplicates"]},
        examples=_examples(lines, latest=any_released(run_dir / rundir.LEDGERS)),
        trust=trust,
        details={
            "producers": {p.id: p.mode for p in producers},
            # the tail reader read every partition to its end, without a gap, unless a window says otherwise
            "drain_complete": why is None,
            "judged_in": "windows",
        },
    )
    path = run_dir / rundir.EXPECTATIONS
    return verdict.judged(parse_expectations(read_meta(path))) if path.exists() else verdict
