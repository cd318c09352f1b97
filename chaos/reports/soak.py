"""A soak's windows (docs/soak.md): what the watch wrote per window (``soak/windows.jsonl``), the
faults that acted in it (``timeline.jsonl``) and the loss of the records sent in it (the verdict's
``lost_sent``), and the trends a minute's run cannot show: lag that never recovers, growing ack
latency, growing broker memory.

:func:`soak_summary` is a pure function of the run directory, as every report is: ``soak.json``
and ``soak.md`` are written from it at the end of a soak and again by ``kafka-chaos report``.
"""

from __future__ import annotations

import json
import statistics
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from chaos import rundir
from chaos.oracle.files import json_lines
from chaos.reports.series import fault_windows
from chaos.reports.soak_judged import Judged, judged_line, read_judged

if TYPE_CHECKING:
    from chaos.reports import RunReport

#: What this reporter writes, beside ``soak/soak.json`` (a run that is no soak: nothing).
FILE = f"{rundir.SOAK}/{rundir.SOAK_MARKDOWN}"

#: A trend is "growing" when the last third of the windows' median is at least this times the first's
#: and past the measure's floor (:data:`FLOORS`): a lag of 0 going to 3 records does not grow.
GROWING = 2.0
#: Below these a measure is noise, whatever its ratio: ack latency in ms, lag in records, memory in MiB.
FLOORS = {"ack_ms": 10.0, "lag": 100.0, "memory_mib": 16.0}


class Window(TypedDict):
    """One window: the watch's line, the faults that acted in it and the loss of what it sent."""

    window: int
    start_ms: int
    end_ms: int
    sent: int
    acked: int
    unconfirmed: int
    errors: int
    processed: int
    acked_per_s: float
    ack_ms_p50: float | None
    ack_ms_p99: float | None
    lag: int | None
    memory_mib: dict[str, float]
    cores: dict[str, float]
    faults: list[str]
    lost_broker: int | None
    lost_producer: int | None
    #: Records sent in the window whose fate nobody can tell (the verdict's ``unknown_sent``).
    unknown: int | None
    #: The window's records as judged while the soak ran (``soak/judged.jsonl``); null: not judged.
    judged: dict[str, int] | None


class Trend(TypedDict):
    """One measure over the windows: its first third's and last third's medians, and the verdict."""

    first: float | None
    last: float | None
    growing: bool


class Summary(TypedDict):
    """``soak.json``."""

    windows: list[Window]
    with_faults: int
    with_loss: int
    with_faults_and_loss: int
    lag_recovers: bool | None
    #: The first of the last windows in which records were sent and none acknowledged, through the
    #: last (a client that stopped delivering for good); null when acks flowed in the last window.
    acks_stopped: int | None
    ack_ms_p99: Trend
    lag: Trend
    broker_memory_mib: dict[str, Trend]
    #: The windows judged while the soak ran, added up against the whole verdict (null: not judged).
    judged: Judged | None


def read_windows(run_dir: Path) -> list[dict[str, object]]:
    """The watch's lines (a torn last line, of a killed harness, is left out)."""
    return json_lines(Path(run_dir) / rundir.SOAK / rundir.SOAK_WINDOWS)


def _lost(run_dir: Path) -> dict[str, list[list[int]]] | None:
    """The verdict's ``lost_sent``, with its ``unknown_sent`` as ``unknown`` (None: no conclusive
    verdict to say)."""
    try:
        verdict = json.loads((Path(run_dir) / rundir.VERDICT).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(verdict, dict) or not verdict.get("conclusive", False):
        return None
    lost, unknown = verdict.get("lost_sent"), verdict.get("unknown_sent")
    return {**(lost if isinstance(lost, dict) else {}), "unknown": unknown if isinstance(unknown, list) else []}


def _count(seconds: list[list[int]], start_ms: int, end_ms: int, first: bool, last: bool) -> int:
    """Records of ``seconds`` (``[[epoch s, n], …]``) sent in the window ``[start_ms, end_ms)``, each
    second in the window that holds its middle; the first window also takes what was sent before it
    (warmup) and the last what was sent after it (settle), so the windows add up to the verdict's
    figure."""
    return sum(n for s, n in seconds if (first or s * 1000 + 500 >= start_ms) and (last or s * 1000 + 500 < end_ms))


class _Loss(TypedDict):
    lost_broker: int | None
    lost_producer: int | None
    unknown: int | None


def _loss(
    lost: dict[str, list[list[int]]] | None,
    start: int,
    end: int,
    edges: tuple[bool, bool],
    judged: dict[str, int] | None,
    from_windows: bool,
) -> _Loss:
    """A window's loss: its judged figures where the verdict is the windows' sum, else the
    verdict's records sent in it (None: no conclusive verdict to say, ``lost`` None)."""
    if lost is None:  # an inconclusive verdict states no loss, nor does any window of it
        return {"lost_broker": None, "lost_producer": None, "unknown": None}
    if from_windows:
        j = judged or {}
        return {
            "lost_broker": j.get("lost_broker"),
            "lost_producer": j.get("lost_producer"),
            "unknown": j.get("unknown"),
        }
    return {
        "lost_broker": _count(lost.get("broker", []), start, end, *edges),
        "lost_producer": _count(lost.get("producer", []), start, end, *edges),
        "unknown": _count(lost["unknown"], start, end, *edges),
    }


def _trend(values: list[float], floor: float) -> Trend:
    if not values:
        return {"first": None, "last": None, "growing": False}
    third = max(1, len(values) // 3)
    first, last = statistics.median(values[:third]), statistics.median(values[-third:])
    return {
        "first": round(first, 1),
        "last": round(last, 1),
        "growing": len(values) >= 3 and last >= GROWING * first and last - first >= floor,
    }


def _floats(value: object) -> dict[str, float]:
    return {str(k): float(v) for k, v in value.items()} if isinstance(value, dict) else {}


def soak_summary(run_dir: Path) -> Summary | None:
    """The soak's windows and trends (None: the run is no soak, or its watch wrote nothing)."""
    lines = read_windows(run_dir)
    if not lines:
        return None
    faults = fault_windows(run_dir)
    lost = _lost(run_dir)
    by_window, judged = read_judged(run_dir)
    from_windows = judged is not None and judged["verdict_from_windows"]
    windows: list[Window] = []
    for i, line in enumerate(lines):
        start, end = int(str(line["start_ms"])), int(str(line["end_ms"]))
        acting = [  # a fault that failed to inject (its ``error``) never acted
            str(f["name"])
            for f in faults
            if "error" not in f and f["start"] * 1000 < end and (f["end"] is None or f["end"] * 1000 > start)
        ]
        edges = (i == 0, i == len(lines) - 1)
        windows.append(
            {
                "window": int(str(line["window"])),
                "start_ms": start,
                "end_ms": end,
                "sent": int(str(line.get("sent", 0))),
                "acked": int(str(line.get("acked", 0))),
                "unconfirmed": int(str(line.get("unconfirmed", 0))),
                "errors": int(str(line.get("errors", 0))),
                "processed": int(str(line.get("processed", 0))),
                "acked_per_s": float(str(line.get("acked_per_s", 0.0))),
                "ack_ms_p50": None if line.get("ack_ms_p50") is None else float(str(line["ack_ms_p50"])),
                "ack_ms_p99": None if line.get("ack_ms_p99") is None else float(str(line["ack_ms_p99"])),
                "lag": None if line.get("lag") is None else int(str(line["lag"])),
                "memory_mib": _floats(line.get("memory_mib")),
                "cores": _floats(line.get("cores")),
                "faults": acting,
                **_loss(lost, start, end, edges, by_window.get(int(str(line["window"]))), from_windows),
                "judged": by_window.get(int(str(line["window"]))),
            }
        )
    return _summarise(windows, judged)


def _acks_stopped(windows: list[Window]) -> int | None:
    """The window from which every window sent records and none was acknowledged (or confirmed)."""
    stopped = None
    for w in reversed(windows):
        if w["sent"] == 0 or w["acked"] + w["unconfirmed"] > 0:
            break
        stopped = w["window"]
    return stopped


def _memory_trends(windows: list[Window]) -> dict[str, Trend]:
    hosts = sorted({h for w in windows for h in w["memory_mib"]})
    floor = FLOORS["memory_mib"]
    return {h: _trend([w["memory_mib"][h] for w in windows if h in w["memory_mib"]], floor) for h in hosts}


def _summarise(windows: list[Window], judged: Judged | None = None) -> Summary:
    lossy = [w for w in windows if (w["lost_broker"] or 0) + (w["lost_producer"] or 0) > 0]
    lags = [float(w["lag"]) for w in windows if w["lag"] is not None]
    return {
        "windows": windows,
        "with_faults": sum(1 for w in windows if w["faults"]),
        "with_loss": len(lossy),
        "with_faults_and_loss": sum(1 for w in lossy if w["faults"]),
        # The lag recovers when the last window's is at most twice the median window's (or the floor).
        "lag_recovers": None if not lags else lags[-1] <= max(FLOORS["lag"], 2 * statistics.median(lags)),
        "acks_stopped": _acks_stopped(windows),
        "ack_ms_p99": _trend([w["ack_ms_p99"] for w in windows if w["ack_ms_p99"] is not None], FLOORS["ack_ms"]),
        "lag": _trend(lags, FLOORS["lag"]),
        "broker_memory_mib": _memory_trends(windows),
        "judged": judged,
    }


def write_soak(run_dir: Path) -> Summary | None:
    """Write ``soak.json`` and ``soak.md`` from :func:`soak_summary`; returns it (None: no soak)."""
    summary = soak_summary(run_dir)
    if summary is None:
        return None
    out = Path(run_dir) / rundir.SOAK
    (out / rundir.SOAK_SUMMARY).write_text(json.dumps(summary, indent=1) + "\n")
    (out / rundir.SOAK_MARKDOWN).write_text(soak_markdown(summary))
    return summary


def write_run(run: RunReport) -> None:
    """The reporter's entry: :func:`write_soak` for ``run``."""
    write_soak(run.run_dir)


def _figure(value: int | float | None) -> str:
    return "—" if value is None else f"{value:,}"


def trend_lines(summary: Summary) -> list[str]:
    """The trends in a sentence each."""

    def said(what: str, trend: Trend, unit: str) -> str:
        if trend["first"] is None:
            return f"{what}: not measured"
        grows = "grows" if trend["growing"] else "steady"
        return f"{what}: {grows}, {trend['first']:g} {unit} in the first third of the windows, {trend['last']:g} last"

    recovers = {None: "", True: "; recovers", False: "; never recovers"}[summary["lag_recovers"]]
    lines = [
        f"windows with faults: {summary['with_faults']} of {len(summary['windows'])}; with loss: "
        f"{summary['with_loss']} ({summary['with_faults_and_loss']} of them with faults)",
        said("ack latency p99", summary["ack_ms_p99"], "ms"),
        said("consumer lag", summary["lag"], "records") + recovers,
    ]
    lines += [said(f"memory of {host}", trend, "MiB") for host, trend in summary["broker_memory_mib"].items()]
    if (judged := summary.get("judged")) is not None:
        lines.append(judged_line(judged))
    if (stopped := summary.get("acks_stopped")) is not None:
        sent = sum(w["sent"] for w in summary["windows"] if w["window"] >= stopped)
        lines.insert(
            1, f"acks stopped in window {stopped} and never came back: {sent:,} records sent since, none acked"
        )
    return lines


def _cores(cores: dict[str, float]) -> str:
    return " / ".join(f"{cores[part]:g}" if part in cores else "—" for part in ("brokers", "workloads", "harness"))


def soak_markdown(summary: Summary) -> str:
    """``soak.md``: the trends, then a row per window."""
    rows = [
        "| window | faults | sent | acked/s | ack p99 ms | lag | broker loss | producer loss | unknown "
        "| largest broker MiB | cores: brokers / workloads / harness |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for w in summary["windows"]:
        memory = max(w["memory_mib"].values(), default=None)
        rows.append(
            f"| {w['window']} | {', '.join(w['faults']) or '—'} | {w['sent']:,} | {w['acked_per_s']:,} | "
            f"{_figure(w['ack_ms_p99'])} | {_figure(w['lag'])} | {_figure(w['lost_broker'])} | "
            f"{_figure(w['lost_producer'])} | {_figure(w['unknown'])} | {_figure(memory)} | {_cores(w['cores'])} |"
        )
    return "# Soak\n\n" + "\n".join(f"- {line}" for line in trend_lines(summary)) + "\n\n" + "\n".join(rows) + "\n"


def _bars(windows: list[Window], width: int, height: int) -> list[str]:
    """Per window: a shaded band where a fault acted, and its acked records a second as a bar, red
    where records it sent were lost."""
    bar = width / max(len(windows), 1)
    top = max((w["acked_per_s"] for w in windows), default=0.0) or 1.0
    shapes = []
    for i, w in enumerate(windows):
        x = i * bar
        if w["faults"]:
            shapes.append(f"<rect x='{x:.1f}' y='0' width='{bar:.1f}' height='{height}' fill='#fde2c4'/>")
        h = w["acked_per_s"] / top * (height - 10)
        lost = (w["lost_broker"] or 0) + (w["lost_producer"] or 0)
        faults = ", ".join(w["faults"]) or "none"
        title = escape(f"window {w['window']}: {w['acked_per_s']:,}/s acked, lost {lost:,}, faults: {faults}")
        shapes.append(
            f"<rect x='{x + bar * 0.15:.1f}' y='{height - h:.1f}' width='{bar * 0.7:.1f}' height='{h:.1f}' "
            f"fill='{'#c0392b' if lost else '#2c7fb8'}'><title>{title}</title></rect>"
        )
    return shapes


def _table(summary: Summary) -> str:
    """:func:`soak_markdown`'s table as HTML."""
    rows = [line.strip("|").split("|") for line in soak_markdown(summary).split("\n\n", 2)[2].strip().splitlines()]
    head = "".join(f"<th>{escape(c.strip())}</th>" for c in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{escape(c.strip())}</td>" for c in row) + "</tr>" for row in rows[2:])
    return f"<table><tr>{head}</tr>{body}</table>"


def soak_html(summary: Summary) -> str:
    """The soak's section of a run's page: the trends, a chart over the windows (acknowledged
    records a second as bars, red where the window's records were lost, each window a fault acted
    in shaded) and a row per window."""
    width, height = 720, 120
    label = "records acknowledged a second, by window"
    shapes = "".join(_bars(summary["windows"], width, height))
    svg = f"<svg width='{width}' height='{height}' role='img' aria-label='{label}'>{shapes}</svg>"
    items = "".join(f"<li>{escape(line)}</li>" for line in trend_lines(summary))
    return f"<h2>Soak</h2><ul>{items}</ul>{svg}{_table(summary)}"
