"""A soak's windows as judged while it ran (``soak/judged.jsonl``, docs/soak.md "Judged in
windows"), added up and held against the whole run's verdict: the windows' sum equals what one
reconcile of the whole run says, field by field, or the summary says where it does not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypedDict

from chaos import rundir
from chaos.oracle.files import json_lines
from chaos.oracle.windows_verdict import judged_in_windows

#: A judged window's fates (``chaos.oracle.window.WindowFates``).
FATES = ("sent", "in_log", "duplicates", "damaged", "failed", "unknown", "lost_producer", "lost_broker")


class Judged(TypedDict):
    """``soak.json``'s ``judged``."""

    #: Windows judged while the soak ran or at its end.
    windows: int
    #: Of them, judged while the workloads still ran (the rest: in the ``judge`` phase).
    while_running: int
    #: Why the windows were not judged, or some were left unjudged (null: all were).
    unjudged: str | None
    #: Why the judged windows cannot be trusted (the tail reader found the log cut below what it
    #: had read); null when they can.
    unsure: str | None
    totals: dict[str, int]
    #: The totals equal the whole run's verdict in every fate; null without a conclusive verdict.
    equals_whole: bool | None
    #: Each fate that differs: ``[the windows' sum, the whole run's]``.
    differs: dict[str, list[int]]
    #: The verdict is the windows' sum (``--verdict windows``): no whole reconcile to hold them against.
    verdict_from_windows: bool


def read_judged(run_dir: Path) -> tuple[dict[int, dict[str, int]], Judged | None]:
    """Each window's judged fates by window number (a window judged in parts, summed), and the
    totals against the verdict (None: no window was judged or said unjudged: no judging ran)."""
    path = Path(run_dir) / rundir.SOAK / rundir.SOAK_JUDGED
    if not path.exists():
        return {}, None
    by_window: dict[int, dict[str, int]] = {}
    unjudged = unsure = None
    running: set[int] = set()
    for line in json_lines(path):
        if line.get("unjudged"):
            unjudged = str(line["unjudged"])
            continue
        unsure = unsure or (str(line["unsure"]) if line.get("unsure") else None)
        number = int(str(line["window"]))
        mine = by_window.setdefault(number, dict.fromkeys(FATES, 0))
        if line.get("while_running"):
            running.add(number)
        for fate in FATES:
            mine[fate] += int(str(line.get(fate, 0)))
    totals = {fate: sum(w[fate] for w in by_window.values()) for fate in FATES}
    from_windows = judged_in_windows(run_dir)
    differs = _differs(run_dir, totals) if unjudged is None and not from_windows else None
    judged: Judged = {
        "windows": len(by_window),
        "while_running": len(running),
        "unjudged": unjudged,
        "unsure": unsure,
        "totals": totals,
        "equals_whole": None if differs is None else not differs,
        "differs": differs or {},
        "verdict_from_windows": from_windows,
    }
    return by_window, judged


def _differs(run_dir: Path, totals: dict[str, int]) -> dict[str, list[int]] | None:
    """Each fate whose ``totals`` differ from the whole run's verdict, ``[windows, whole]`` (None: no
    conclusive verdict to compare with). Called only when every window was judged: with one
    unjudged, the sums are short of the whole run's by what it held."""
    whole = _whole(run_dir)
    return None if whole is None else {f: [totals[f], n] for f, n in whole.items() if totals[f] != n}


def _verdict(run_dir: Path) -> dict[str, object] | None:
    try:
        v = json.loads((Path(run_dir) / rundir.VERDICT).read_text())
    except (OSError, ValueError):
        return None
    return v if isinstance(v, dict) else None


def _whole(run_dir: Path) -> dict[str, int] | None:
    """The verdict's figures of the same fates (None: no conclusive verdict)."""
    v: dict[str, Any] | None = _verdict(run_dir)
    if v is None or not v.get("conclusive") or not isinstance(v.get("loss"), dict):
        return None
    counts, figures = v.get("counts", {}), v["loss"]
    duplicates = v.get("anomalies", {}).get("duplicates_in_log", 0)
    return {
        "sent": int(counts.get("sent", 0)),
        "in_log": int(counts.get("in_log", 0)),
        "duplicates": int(duplicates if isinstance(duplicates, int) else 0),
        "damaged": int(counts.get("damaged", 0)),
        "failed": int(counts.get("failed", 0)),
        "unknown": int(counts.get("unknown", 0)),
        "lost_producer": int(figures.get("producer", 0)),
        "lost_broker": int(figures.get("broker", 0)),
    }


def judged_line(judged: Judged) -> str:
    """The judging in a sentence."""
    if judged["unjudged"] and not judged["windows"]:
        return f"windows not judged while the soak ran: {judged['unjudged']}"
    t = judged["totals"]
    said = (
        f"judged in {judged['windows']} windows ({judged['while_running']} while it ran): {t['sent']:,} sent, "
        f"{t['lost_broker']:,} broker loss, {t['lost_producer']:,} producer loss, {t['unknown']:,} unknown"
    )
    if judged.get("verdict_from_windows"):
        said += "; the verdict is their sum (no whole reconcile)"
    elif judged["equals_whole"]:
        said += "; equal to the whole run's reconcile in every fate"
    elif judged["differs"]:
        parts = ", ".join(f"{f} {a:,} vs {b:,}" for f, a, b in ((f, *v) for f, v in judged["differs"].items()))
        said += f"; NOT equal to the whole run's reconcile: {parts}"
    if judged["unjudged"]:
        said += f"; not held against the whole run, as windows were left unjudged: {judged['unjudged']}"
    if judged["unsure"]:
        said += f"; unsure: {judged['unsure']}"
    return said
