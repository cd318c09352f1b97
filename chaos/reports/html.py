"""A self-contained HTML page per run and per suite: an inline SVG timeline (send, ack, error and
consume rates per second, fault windows shaded, phases marked) and loss by stage. No scripts, no
external assets: the file can be attached to a CI run and opened anywhere."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chaos import rundir
from chaos.oracle.verdict import Verdict
from chaos.reports.markdown import (
    ICON,
    STAGES,
    anomaly_rows,
    availability_rows,
    by_client,
    faults_line,
    outcome_cell,
    resolved_experiment,
    settings_line,
    witness_line,
)
from chaos.reports.series import Series, series

if TYPE_CHECKING:
    from chaos.reports import RunReport
    from chaos.results import SuiteFile

#: What this reporter writes into a run (and a suite) directory.
FILE = rundir.REPORT

COLORS = {"sent": "#1f77b4", "acked": "#2ca02c", "processed": "#ff7f0e", "errors": "#d62728"}
STATUS_COLOR = {"passed": "#2ca02c", "failed": "#d62728", "inconclusive": "#ff7f0e", "error": "#7f7f7f"}
FAULT_FILL = ("#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")
#: Ticks under the timeline where lost records were sent, by the stage that lost them.
LOST_COLOR = {"broker": "#b00020", "producer": "#e65100"}

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:22px 0 6px}
.badge{display:inline-block;padding:2px 10px;border-radius:10px;color:#fff;font-weight:600}
table{border-collapse:collapse;margin:6px 0} td,th{border:1px solid #ddd;padding:3px 9px;text-align:right}
th{background:#f4f4f4} td:first-child,th:first-child{text-align:left}
.muted{color:#666} .fail{color:#d62728;font-weight:600} .pass{color:#2ca02c}
.bar{height:16px;display:inline-block;vertical-align:middle} code{background:#f4f4f4;padding:0 3px}
"""


def _e(text: object) -> str:
    return html.escape(str(text))


def timeline_svg(
    s: Series, width: int = 1000, height: int = 300, lost: dict[str, list[list[int]]] | None = None
) -> str:
    """The timeline plot as an inline ``<svg>``; ``lost`` (the verdict's ``lost_sent``) marks, under
    the plot, each second in which records later lost were sent."""
    plot = _Plot(s, width, height)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="records per second over time, fault windows shaded">',
        f'<rect x="{plot.left}" y="{plot.top}" width="{plot.w}" height="{plot.h}" fill="#fafafa" stroke="#ccc"/>',
        *_fault_windows(plot),
        *_phase_marks(plot),
        *_rate_lines(plot),
        *_lost_ticks(plot, lost or {}),
        *_axes(plot),
        *_legend(plot, bool(lost)),
        "</svg>",
    ]
    return "\n".join(out)


class _Plot:
    """The timeline's geometry: where a second and a rate land in the ``<svg>``."""

    left, right, top, bottom = 60, 16, 34, 34

    def __init__(self, s: Series, width: int, height: int) -> None:
        self.s, self.width, self.height = s, width, height
        self.w, self.h = width - self.left - self.right, height - self.top - self.bottom
        self.seconds = max(s.seconds, 1)
        self.peak = max([1, *s.sent, *s.acked, *s.processed, *s.errors])

    def x(self, t: float) -> float:
        """Seconds since the series' start, across."""
        return self.left + self.w * min(max(t, 0.0), self.seconds) / self.seconds

    def y(self, v: float) -> float:
        """Records per second, up."""
        return self.top + self.h * (1 - v / self.peak)


def _fault_windows(plot: _Plot) -> list[str]:
    out = []
    s, top, x = plot.s, plot.top, plot.x
    for i, f in enumerate(s.faults):
        start = f["start"] - s.t0
        end = (f["end"] if f.get("end") else s.t0 + plot.seconds) - s.t0
        color = FAULT_FILL[i % len(FAULT_FILL)]
        out.append(
            f'<rect x="{x(start):.1f}" y="{top}" width="{max(x(end) - x(start), 1.5):.1f}" height="{plot.h}" '
            f'fill="{color}" fill-opacity="0.14"><title>{_e(f["name"])} on {_e(",".join(f.get("targets") or []))}: '
            f"{start:.1f}s to {end:.1f}s</title></rect>"
        )
        out.append(
            f'<text x="{x(start) + 3:.1f}" y="{top + 13 + 13 * (i % 4)}" font-size="11" fill="{color}">'
            f"{_e(f['kind'])} {_e(','.join(f.get('targets') or []))}</text>"
        )
    return out


def _phase_marks(plot: _Plot) -> list[str]:
    out = []
    top = plot.top
    for p in plot.s.phases:
        px = plot.x(float(p["start"]) - plot.s.t0)
        out.append(
            f'<line x1="{px:.1f}" y1="{top}" x2="{px:.1f}" y2="{top + plot.h}" stroke="#bbb" stroke-dasharray="3,3"/>'
        )
        out.append(
            f'<text x="{px + 2:.1f}" y="{top - 6}" font-size="10" fill="#777" '
            f'transform="rotate(-20 {px + 2:.1f} {top - 6})">{_e(p["name"])}</text>'
        )
    return out


def _rate_lines(plot: _Plot) -> list[str]:
    out = []
    for name in ("sent", "acked", "processed", "errors"):
        values = getattr(plot.s, name)
        if not any(values):
            continue
        points = " ".join(f"{plot.x(i + 0.5):.1f},{plot.y(v):.1f}" for i, v in enumerate(values))
        out.append(f'<polyline points="{points}" fill="none" stroke="{COLORS[name]}" stroke-width="1.6"/>')
    return out


def _lost_ticks(plot: _Plot, lost: dict[str, list[list[int]]]) -> list[str]:
    out = []
    bottom = plot.top + plot.h
    for stage, bins in lost.items():
        color = LOST_COLOR.get(stage, "#c00")
        for second, n in bins:
            lx = plot.x(second - plot.s.t0 + 0.5)
            out.append(
                f'<line x1="{lx:.1f}" y1="{bottom - 8}" x2="{lx:.1f}" y2="{bottom}" stroke="{color}" '
                f'stroke-width="2"><title>{n} records sent here were lost by the {_e(stage)}</title></line>'
            )
    return out


def _axes(plot: _Plot) -> list[str]:
    out = []
    for frac in (0, 0.5, 1):
        v = plot.peak * frac
        out.append(
            f'<text x="{plot.left - 6}" y="{plot.y(v) + 4:.1f}" font-size="10" text-anchor="end">{v:,.0f}</text>'
        )
    seconds = plot.seconds
    step = max(1, round(seconds / 10 / 5) * 5) if seconds > 20 else 2
    for t in range(0, seconds + 1, step):
        out.append(
            f'<text x="{plot.x(t):.1f}" y="{plot.top + plot.h + 14}" font-size="10" text-anchor="middle">{t}s</text>'
        )
    return out


def _legend(plot: _Plot, lost: bool) -> list[str]:
    out = []
    lx, height = plot.left, plot.height
    for name, color in COLORS.items():
        out.append(f'<rect x="{lx}" y="{height - 12}" width="10" height="10" fill="{color}"/>')
        out.append(f'<text x="{lx + 14}" y="{height - 3}" font-size="11">{name}/s</text>')
        lx += 95
    out.append(
        f'<text x="{lx + 10}" y="{height - 3}" font-size="11" fill="#777">shaded: fault active · dashed: phase'
        f"{' · red ticks: lost records, when sent' if lost else ''}</text>"
    )
    return out


def _loss_bars(verdict: Verdict) -> str:
    if not verdict.conclusive:
        return f"<p class='fail'><b>Inconclusive: no loss figure.</b> {_e(' '.join(verdict.trust.reasons))}</p>"
    sent = max(1, verdict.counts.sent)
    rows = []
    for stage in STAGES:
        n = int(getattr(verdict.loss, stage) or 0)
        width = 0 if n == 0 else max(2, round(400 * n / sent))
        cls = "fail" if n else "pass"
        rows.append(
            f"<tr><td>{stage}</td><td class='{cls}'>{n:,}</td><td>{n / sent:.2%}</td>"
            f"<td style='text-align:left'><span class='bar' style='width:{width}px;background:#d62728'>"
            "</span></td></tr>"
        )
    return "<table><tr><th>stage</th><th>lost</th><th>of sent</th><th></th></tr>" + "".join(rows) + "</table>"


def _table(mapping: dict[str, Any], head: tuple[str, ...]) -> str:
    return _rows_table([(k, v) for k, v in mapping.items()], head)


def _rows_table(rows: Sequence[Sequence[object]], head: tuple[str, ...]) -> str:
    cells = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return "<table><tr>" + "".join(f"<th>{h}</th>" for h in head) + f"</tr>{cells}</table>"


def run_html(run: RunReport) -> str:
    """The page of one run."""
    v = run.verdict
    parts = [*_head(run), *_intro(run)]
    if v is None:
        parts.append(f"<p class='fail'>The run did not complete: {_e(run.error)}</p>")
    else:
        parts += _judgement(v)
    lost = v.lost_sent if v else {}
    parts.append("<h2>Timeline</h2>" + timeline_svg(series(run.run_dir), lost=lost))
    if v is not None:
        parts += _figures(v)
    parts.append(f"<h2>Files</h2><p>{_links(run.run_dir)}</p></body></html>")
    return "\n".join(parts)


def _head(run: RunReport) -> list[str]:
    status = run.status
    cluster = run.verdict.details.cluster if run.verdict else None
    return [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{_e(run.name)}: {status}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>{_e(run.name)} <span class='badge' style='background:{STATUS_COLOR[status]}'>{ICON[status]}</span></h1>",
        f"<div class='muted'>{_e(run.run_dir)} · {run.seconds:.0f} s"
        + (f" · cluster {_e(cluster)}" if cluster else "")
        + (f" · claim {_e(run.meta['claim'])}" if run.meta.get("claim") else "")
        + "</div>",
    ]


def _intro(run: RunReport) -> list[str]:
    parts = []
    if run.meta.get("description"):
        parts.append(f"<p>{_e(run.meta['description'])}</p>")
    if run.meta.get("expected"):
        parts.append(f"<p><b>Expected:</b> {_e(run.meta['expected'])}</p>")
    settings = settings_line(resolved_experiment(run))
    parts.append(f"<p><b>Settings:</b> {_e(settings)}<br><b>Faults:</b> {_e(faults_line(run.run_dir))}</p>")
    return parts


def _judgement(v: Verdict) -> list[str]:
    """Loss by stage and its causes, the second witness, the expectations."""
    parts = ["<h2>Loss by stage</h2>" + _loss_bars(v)]
    causes = {k: n for k, n in (v.causes.get("broker") or {}).items() if n}
    if causes:
        parts.append("<h3>Broker loss by cause</h3>" + _table(causes, ("cause", "records")))
    if text := witness_line(v.trust.witness):
        parts.append(f"<p>{_e(text)}</p>")
    if v.expectations:
        rows = "".join(
            f"<tr><td><code>{_e(e.name)}</code></td><td>{_e(e.actual)}</td>"
            f"<td class='{'pass' if e.passed else 'fail'}'>{'pass' if e.passed else 'FAIL'}</td></tr>"
            for e in v.expectations
        )
        parts.append(f"<h2>Expectations</h2><table><tr><th>expectation</th><th>actual</th><th></th></tr>{rows}</table>")
    return parts


def _figures(v: Verdict) -> list[str]:
    """Counts, anomalies, availability, transactions, the output topic, examples."""
    parts = [
        "<h2>Counts</h2>" + _table(v.counts.model_dump(), ("count", "records")),
        "<h2>Anomalies</h2>" + _rows_table(anomaly_rows(v.anomalies), ("anomaly", "count", "meaning")),
    ]
    if cells := availability_rows(v.availability):
        head = ("fault", "no acks (s)", "p50/p99 ms before", "during", "after", "heal to full ISR (s)")
        parts.append("<h2>Availability</h2>" + _rows_table(cells, head))
    if v.transactions is not None:
        parts.append("<h2>Transactions</h2>" + _table(v.transactions.model_dump(), ("transactions", "count")))
    if v.transform is not None:
        parts.append("<h2>Consume-transform-produce</h2>" + _table(v.transform.model_dump(), ("output", "")))
    examples = [
        (kind, x.get("producer"), x.get("seq"), x.get("partition"), x.get("offset"))
        for kind, xs in v.examples.items()
        for x in xs[:5]
    ]
    if examples:
        parts.append("<h2>Examples</h2>" + _rows_table(examples, ("kind", "producer", "seq", "partition", "offset")))
    return parts


def _links(run_dir: Path) -> str:
    files = [
        f
        for f in (rundir.VERDICT, rundir.SUMMARY, rundir.JUNIT, rundir.TIMELINE, rundir.EXPERIMENT)
        if (run_dir / f).exists()
    ]
    links = " · ".join(f"<a href='{f}'>{f}</a>" for f in files)
    if (run_dir / "logs").is_dir():
        links += " · <a href='logs/'>broker logs</a>"
    return links


def write_run(run: RunReport) -> None:
    """``<run_dir>/report.html``."""
    (run.run_dir / rundir.REPORT).write_text(run_html(run))


def suite_html(suite_dir: Path, runs: list[RunReport], suite: SuiteFile) -> str:
    """The page of a suite: one row per run, linking to its page."""
    from chaos.reports import clusters_line

    passed = sum(r.status == "passed" for r in runs)
    status = "passed" if passed == len(runs) and runs else "failed"
    clusters = clusters_line(suite.runs)
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>kafka-chaos suite</title>"
        f"<style>{CSS}</style></head><body><h1>kafka-chaos suite <span class='badge' "
        f"style='background:{STATUS_COLOR[status]}'>{passed}/{len(runs)} passed</span></h1>"
        f"<div class='muted'>{_e(suite_dir)} · {suite.seconds / 60:.1f} min"
        + (f" · {_e(clusters)}" if clusters else "")
        + (" · interrupted" if suite.interrupted else "")
        + "</div><h2>Runs</h2><table><tr><th>run</th><th>claim</th><th>settings</th><th>faults</th>"
        "<th>producer loss</th><th>broker loss</th><th>consumer loss</th><th>send errors</th><th>dup. in log</th>"
        f"<th>result</th></tr>{''.join(_suite_row(run) for run in runs)}</table>"
        f"{_clients_html(runs)}{_rates_html(runs)}</body></html>"
    )


def _suite_row(run: RunReport) -> str:
    v = run.verdict
    failed = [e.name for e in v.failed_expectations()] if v else []
    note = "; ".join(failed) if failed else (run.error or "")
    loss = ["-" if v is None else "n/a" if (n := getattr(v.loss, s)) is None else n for s in STAGES]
    return (
        f"<tr><td><a href='{_e(run.run_dir.name)}/report.html'>{_e(run.run_dir.name)}</a></td>"
        f"<td>{_e(run.meta.get('claim') or '')}</td>"
        f"<td style='text-align:left'>{_e(settings_line(resolved_experiment(run)))}</td>"
        f"<td style='text-align:left'>{_e(faults_line(run.run_dir))}</td>"
        + "".join(f"<td>{_e(n)}</td>" for n in loss)
        + f"<td>{_e(v.counts.send_errors if v else '-')}</td>"
        f"<td>{_e(v.anomalies.get('duplicates_in_log', '-') if v else '-')}</td>"
        f"<td style='color:{STATUS_COLOR[run.status]}'><b>{ICON[run.status]}</b> {_e(note)}</td></tr>"
    )


def _rates_html(runs: list[RunReport]) -> str:
    from chaos.reports import occurrence_rates, rate_cell

    rates = occurrence_rates(runs)
    if not any(e.runs > 1 for e in rates.values()):
        return ""
    rate_rows = "".join(
        f"<tr><td>{_e(n)}</td><td>{e.runs}</td><td>{e.passed}</td>"
        + "".join(f"<td>{_e(rate_cell(e, s))}</td>" for s in STAGES)
        + "</tr>"
        for n, e in rates.items()
    )
    return (
        "<h2>How often each stage lost records (95% Wilson interval)</h2><table><tr><th>experiment</th>"
        "<th>runs</th><th>passed</th>"
        f"<th>producer</th><th>broker</th><th>consumer</th></tr>{rate_rows}</table>"
    )


def _clients_html(runs: list[RunReport]) -> str:
    clients, by_name = by_client(runs)
    if len(clients) < 2:
        return ""
    client_rows = "".join(
        f"<tr><td>{_e(name)}</td>" + "".join(f"<td>{_e(outcome_cell(row.get(c)))}</td>" for c in clients) + "</tr>"
        for name, row in by_name.items()
    )
    return (
        "<h2>Side by side: loss as producer/broker/consumer</h2><table><tr><th>experiment</th>"
        + "".join(f"<th>{_e(c)}</th>" for c in clients)
        + f"</tr>{client_rows}</table>"
    )


def write_suite(suite_dir: Path, runs: list[RunReport], suite: SuiteFile) -> None:
    """``<suite_dir>/report.html``."""
    (suite_dir / rundir.REPORT).write_text(suite_html(suite_dir, runs, suite))
