"""A self-contained HTML page per run and per suite: an inline SVG timeline (send, ack, error and
consume rates per second, fault windows shaded, phases marked) and loss by stage. No scripts, no
external assets: the file can be attached to a CI run and opened anywhere."""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chaos import rundir
from chaos.reports.markdown import (
    ICON,
    STAGES,
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
    left, right, top, bottom = 60, 16, 34, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    seconds = max(s.seconds, 1)
    peak = max([1, *s.sent, *s.acked, *s.processed, *s.errors])

    def x(t: float) -> float:
        return left + plot_w * min(max(t, 0.0), seconds) / seconds

    def y(v: float) -> float:
        return top + plot_h * (1 - v / peak)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="records per second over time, fault windows shaded">'
    ]
    out.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fafafa" stroke="#ccc"/>')
    for i, f in enumerate(s.faults):
        start = f["start"] - s.t0
        end = (f["end"] if f.get("end") else s.t0 + seconds) - s.t0
        color = FAULT_FILL[i % len(FAULT_FILL)]
        out.append(
            f'<rect x="{x(start):.1f}" y="{top}" width="{max(x(end) - x(start), 1.5):.1f}" height="{plot_h}" '
            f'fill="{color}" fill-opacity="0.14"><title>{_e(f["name"])} on {_e(",".join(f.get("targets") or []))}: '
            f"{start:.1f}s to {end:.1f}s</title></rect>"
        )
        out.append(
            f'<text x="{x(start) + 3:.1f}" y="{top + 13 + 13 * (i % 4)}" font-size="11" fill="{color}">'
            f"{_e(f['kind'])} {_e(','.join(f.get('targets') or []))}</text>"
        )
    for p in s.phases:
        px = x(float(p["start"]) - s.t0)
        out.append(
            f'<line x1="{px:.1f}" y1="{top}" x2="{px:.1f}" y2="{top + plot_h}" stroke="#bbb" stroke-dasharray="3,3"/>'
        )
        out.append(
            f'<text x="{px + 2:.1f}" y="{top - 6}" font-size="10" fill="#777" '
            f'transform="rotate(-20 {px + 2:.1f} {top - 6})">{_e(p["name"])}</text>'
        )
    for name in ("sent", "acked", "processed", "errors"):
        values = getattr(s, name)
        if not any(values):
            continue
        points = " ".join(f"{x(i + 0.5):.1f},{y(v):.1f}" for i, v in enumerate(values))
        out.append(f'<polyline points="{points}" fill="none" stroke="{COLORS[name]}" stroke-width="1.6"/>')
    for stage, bins in (lost or {}).items():
        color = LOST_COLOR.get(stage, "#c00")
        for second, n in bins:
            lx_ = x(second - s.t0 + 0.5)
            out.append(
                f'<line x1="{lx_:.1f}" y1="{top + plot_h - 8}" x2="{lx_:.1f}" y2="{top + plot_h}" stroke="{color}" '
                f'stroke-width="2"><title>{n} records sent here were lost by the {_e(stage)}</title></line>'
            )
    for frac in (0, 0.5, 1):
        v = peak * frac
        out.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" font-size="10" text-anchor="end">{v:,.0f}</text>')
    step = max(1, round(seconds / 10 / 5) * 5) if seconds > 20 else 2
    for t in range(0, seconds + 1, step):
        out.append(f'<text x="{x(t):.1f}" y="{top + plot_h + 14}" font-size="10" text-anchor="middle">{t}s</text>')
    lx = left
    for name, color in COLORS.items():
        out.append(f'<rect x="{lx}" y="{height - 12}" width="10" height="10" fill="{color}"/>')
        out.append(f'<text x="{lx + 14}" y="{height - 3}" font-size="11">{name}/s</text>')
        lx += 95
    out.append(
        f'<text x="{lx + 10}" y="{height - 3}" font-size="11" fill="#777">shaded: fault active · dashed: phase'
        f"{' · red ticks: lost records, when sent' if lost else ''}</text>"
    )
    out.append("</svg>")
    return "\n".join(out)


def _loss_bars(verdict: dict[str, Any]) -> str:
    loss = verdict.get("loss") or {}
    if verdict.get("conclusive") is False:
        reasons = " ".join((verdict.get("trust") or {}).get("reasons") or [])
        return f"<p class='fail'><b>Inconclusive: no loss figure.</b> {_e(reasons)}</p>"
    sent = max(1, int((verdict.get("counts") or {}).get("sent", 0)))
    rows = []
    for stage in STAGES:
        n = int(loss.get(stage, 0))
        width = 0 if n == 0 else max(2, round(400 * n / sent))
        cls = "fail" if n else "pass"
        rows.append(
            f"<tr><td>{stage}</td><td class='{cls}'>{n:,}</td><td>{n / sent:.2%}</td>"
            f"<td style='text-align:left'><span class='bar' style='width:{width}px;background:#d62728'>"
            "</span></td></tr>"
        )
    return "<table><tr><th>stage</th><th>lost</th><th>of sent</th><th></th></tr>" + "".join(rows) + "</table>"


def _table(mapping: dict[str, Any], head: tuple[str, str]) -> str:
    rows = "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in mapping.items())
    return f"<table><tr><th>{head[0]}</th><th>{head[1]}</th></tr>{rows}</table>"


def run_html(run: RunReport) -> str:
    """The page of one run."""
    status = run.status
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{_e(run.name)}: {status}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>{_e(run.name)} <span class='badge' style='background:{STATUS_COLOR[status]}'>{ICON[status]}</span></h1>",
        f"<div class='muted'>{_e(run.run_dir)} · {run.seconds:.0f} s"
        + (f" · cluster {_e(cluster)}" if (cluster := (run.verdict or {}).get("details", {}).get("cluster")) else "")
        + (f" · claim {_e(run.meta['claim'])}" if run.meta.get("claim") else "")
        + "</div>",
    ]
    if run.meta.get("description"):
        parts.append(f"<p>{_e(run.meta['description'])}</p>")
    if run.meta.get("expected"):
        parts.append(f"<p><b>Expected:</b> {_e(run.meta['expected'])}</p>")
    settings = settings_line(resolved_experiment(run))
    parts.append(f"<p><b>Settings:</b> {_e(settings)}<br><b>Faults:</b> {_e(faults_line(run.run_dir))}</p>")
    v = run.verdict
    if v is None:
        parts.append(f"<p class='fail'>The run did not complete: {_e(run.error)}</p>")
    else:
        parts.append("<h2>Loss by stage</h2>" + _loss_bars(v))
        causes = {k: n for k, n in ((v.get("causes") or {}).get("broker") or {}).items() if n}
        if causes:
            parts.append("<h3>Broker loss by cause</h3>" + _table(causes, ("cause", "records")))
        if text := witness_line((v.get("trust") or {}).get("witness")):
            parts.append(f"<p>{_e(text)}</p>")
        if v.get("expectations"):
            rows = "".join(
                f"<tr><td><code>{_e(e['name'])}</code></td><td>{_e(e['actual'])}</td>"
                f"<td class='{'pass' if e['passed'] else 'fail'}'>{'pass' if e['passed'] else 'FAIL'}</td></tr>"
                for e in v["expectations"]
            )
            parts.append(
                f"<h2>Expectations</h2><table><tr><th>expectation</th><th>actual</th><th></th></tr>{rows}</table>"
            )
    lost = (v or {}).get("lost_sent") or {}
    parts.append("<h2>Timeline</h2>" + timeline_svg(series(run.run_dir), lost=lost))
    if v is not None:
        parts.append("<h2>Counts</h2>" + _table(v.get("counts", {}), ("count", "records")))
        parts.append("<h2>Anomalies</h2>" + _table(v.get("anomalies", {}), ("anomaly", "count")))
        if cells := availability_rows(v.get("availability") or []):
            head = "".join(
                f"<th>{h}</th>"
                for h in ("fault", "no acks (s)", "p50/p99 ms before", "during", "after", "heal to full ISR (s)")
            )
            body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in r) + "</tr>" for r in cells)
            parts.append(f"<h2>Availability</h2><table><tr>{head}</tr>{body}</table>")
        if v.get("transactions"):
            parts.append("<h2>Transactions</h2>" + _table(v["transactions"], ("transactions", "count")))
        if v.get("transform"):
            parts.append("<h2>Consume-transform-produce</h2>" + _table(v["transform"], ("output", "")))
        examples = {k: xs for k, xs in (v.get("examples") or {}).items() if xs}
        if examples:
            rows = "".join(
                f"<tr><td>{_e(kind)}</td><td>{_e(x.get('producer'))}</td><td>{_e(x.get('seq'))}</td>"
                f"<td>{_e(x.get('partition'))}</td><td>{_e(x.get('offset'))}</td></tr>"
                for kind, xs in examples.items()
                for x in xs[:5]
            )
            parts.append(
                "<h2>Examples</h2><table><tr><th>kind</th><th>producer</th><th>seq</th><th>partition</th>"
                f"<th>offset</th></tr>{rows}</table>"
            )
    files = [
        f
        for f in (rundir.VERDICT, rundir.SUMMARY, rundir.JUNIT, rundir.TIMELINE, rundir.EXPERIMENT)
        if (run.run_dir / f).exists()
    ]
    links = " · ".join(f"<a href='{f}'>{f}</a>" for f in files)
    if (run.run_dir / "logs").is_dir():
        links += " · <a href='logs/'>broker logs</a>"
    parts.append(f"<h2>Files</h2><p>{links}</p></body></html>")
    return "\n".join(parts)


def write_run(run: RunReport) -> None:
    """``<run_dir>/report.html``."""
    (run.run_dir / rundir.REPORT).write_text(run_html(run))


def suite_html(suite_dir: Path, runs: list[RunReport], meta: dict[str, Any]) -> str:
    """The page of a suite: one row per run, linking to its page."""
    from chaos.reports import clusters_line, occurrence_rates, rate_cell

    passed = sum(r.status == "passed" for r in runs)
    rows = []
    for run in runs:
        v = run.verdict or {}
        loss = v.get("loss") or {}
        anomalies = v.get("anomalies") or {}
        failed = [e["name"] for e in v.get("expectations", []) if not e.get("passed")]
        note = "; ".join(failed) if failed else (run.error or "")
        rows.append(
            f"<tr><td><a href='{_e(run.run_dir.name)}/report.html'>{_e(run.run_dir.name)}</a></td>"
            f"<td>{_e(run.meta.get('claim') or '')}</td>"
            f"<td style='text-align:left'>{_e(settings_line(resolved_experiment(run)))}</td>"
            f"<td style='text-align:left'>{_e(faults_line(run.run_dir))}</td>"
            + "".join(f"<td>{_e('n/a' if loss.get(s, '-') is None else loss.get(s, '-'))}</td>" for s in STAGES)
            + f"<td>{_e((v.get('counts') or {}).get('send_errors', '-'))}</td>"
            f"<td>{_e(anomalies.get('duplicates_in_log', '-'))}</td>"
            f"<td style='color:{STATUS_COLOR[run.status]}'><b>{ICON[run.status]}</b> {_e(note)}</td></tr>"
        )
    rates = occurrence_rates(runs)
    rate_html = ""
    if any(e["runs"] > 1 for e in rates.values()):
        rate_rows = "".join(
            f"<tr><td>{_e(n)}</td><td>{e['runs']}</td><td>{e['passed']}</td>"
            + "".join(f"<td>{_e(rate_cell(e, s))}</td>" for s in STAGES)
            + "</tr>"
            for n, e in rates.items()
        )
        rate_html = (
            "<h2>How often each stage lost records (95% Wilson interval)</h2><table><tr><th>experiment</th>"
            "<th>runs</th><th>passed</th>"
            f"<th>producer</th><th>broker</th><th>consumer</th></tr>{rate_rows}</table>"
        )
    clients, by_name = by_client(runs)
    clients_html = ""
    if len(clients) > 1:
        client_rows = "".join(
            f"<tr><td>{_e(name)}</td>" + "".join(f"<td>{_e(outcome_cell(row.get(c)))}</td>" for c in clients) + "</tr>"
            for name, row in by_name.items()
        )
        clients_html = (
            "<h2>Side by side: loss as producer/broker/consumer</h2><table><tr><th>experiment</th>"
            + "".join(f"<th>{_e(c)}</th>" for c in clients)
            + f"</tr>{client_rows}</table>"
        )
    status = "passed" if passed == len(runs) and runs else "failed"
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>kafka-chaos suite</title>"
        f"<style>{CSS}</style></head><body><h1>kafka-chaos suite <span class='badge' "
        f"style='background:{STATUS_COLOR[status]}'>{passed}/{len(runs)} passed</span></h1>"
        f"<div class='muted'>{_e(suite_dir)} · {float(meta.get('seconds', 0)) / 60:.1f} min"
        + (f" · {_e(clusters_line(meta))}" if clusters_line(meta) else "")
        + (" · interrupted" if meta.get("interrupted") else "")
        + "</div><h2>Runs</h2><table><tr><th>run</th><th>claim</th><th>settings</th><th>faults</th>"
        "<th>producer loss</th><th>broker loss</th><th>consumer loss</th><th>send errors</th><th>dup. in log</th>"
        f"<th>result</th></tr>{''.join(rows)}</table>{clients_html}{rate_html}</body></html>"
    )


def write_suite(suite_dir: Path, runs: list[RunReport], meta: dict[str, Any]) -> None:
    """``<suite_dir>/report.html``."""
    (suite_dir / rundir.REPORT).write_text(suite_html(suite_dir, runs, meta))
