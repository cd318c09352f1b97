"""A self-contained HTML page per run and per suite: an inline SVG timeline (send, ack, error and
consume rates per second, fault windows shaded, phases marked) and loss by stage. No scripts, no
external assets: the file can be attached to a CI run and opened anywhere."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chaos import rundir
from chaos.oracle.share_figures import share_sentence
from chaos.oracle.verdict import Verdict
from chaos.reports.grid import cell, differing, grid, per_release
from chaos.reports.in_force import in_force_items
from chaos.reports.markdown import passed_line
from chaos.reports.releases import bug_on_release, release_items
from chaos.reports.series import series
from chaos.reports.soak import soak_html, soak_summary
from chaos.reports.timeline import timeline_svg
from chaos.reports.words import (
    ICON,
    STAGES,
    anomaly_rows,
    availability_rows,
    faults_line,
    resolved_experiment,
    settings_line,
    witness_line,
)

if TYPE_CHECKING:
    from chaos.reports import RunReport
    from chaos.results import SuiteFile

#: What this reporter writes into a run (and a suite) directory.
FILE = rundir.REPORT

STATUS_COLOR = {
    "passed": "#2ca02c",
    "failed": "#d62728",
    "inconclusive": "#ff7f0e",
    "error": "#7f7f7f",
    "not_applicable": "#5f7a94",
}

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
    parts = [*_head(run), *_intro(run), *_known_bug(run)]
    if run.not_applicable is not None:
        parts.append(f"<p><b>Not run:</b> {_e(run.not_applicable)}</p>")
        return "\n".join([*parts, f"<h2>Files</h2><p>{_links(run.run_dir)}</p></body></html>"])
    if v is None:
        parts.append(f"<p class='fail'>The run did not complete: {_e(run.error)}</p>")
    else:
        parts += _judgement(v)
    lost = v.lost_sent if v else {}
    timeline = series(run.run_dir)
    parts.append("<h2>Timeline</h2>" + timeline_svg(timeline, lost=lost))
    if timeline.released_s:
        before = "" if timeline.released_s >= timeline.seconds else f" before {timeline.released_s} s"
        parts.append(
            f"<p>The producers' rates{before} are each window's average ({rundir.SOAK}/{rundir.SOAK_WINDOWS}): "
            "the soak released the ledger rows of the windows it had judged (docs/soak.md).</p>"
        )
    if (soak := soak_summary(run.run_dir)) is not None:
        parts.append(soak_html(soak))
    if v is not None:
        parts += _figures(v)
    parts.append(f"<h2>Files</h2><p>{_links(run.run_dir)}</p></body></html>")
    return "\n".join(parts)


def _head(run: RunReport) -> list[str]:
    status = run.status
    cluster = run.verdict.details.cluster if run.verdict else None
    return [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{_e(run.label)}: {status}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>{_e(run.label)} <span class='badge' style='background:{STATUS_COLOR[status]}'>{ICON[status]}</span></h1>",
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
    settings = settings_line(resolved_experiment(run.run_dir))
    lines = [("settings", settings), ("faults", faults_line(run.run_dir)), *release_items(run.meta)]
    lines += in_force_items(run.run_dir)
    parts.append("<p>" + "<br>".join(f"<b>{_e(what.capitalize())}:</b> {_e(text)}" for what, text in lines) + "</p>")
    return parts


def _known_bug(run: RunReport) -> list[str]:
    """The Kafka bug the row reproduces, linked, whether the run's release has it, what was measured."""
    found = bug_on_release(run.meta)
    if found is None:
        return []
    bug = found.bug
    return [f"<p><b>Known bug <a href='{_e(bug.url)}'>{_e(bug.id)}</a>:</b> {_e(found.sentence(run.status))}</p>"]


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
    """Counts, anomalies, availability, rebalances, transactions, the output topic, examples."""
    parts = [
        "<h2>Counts</h2>" + _table(v.counts.model_dump(), ("count", "records")),
        "<h2>Anomalies</h2>" + _rows_table(anomaly_rows(v.anomalies), ("anomaly", "count", "meaning")),
    ]
    if cells := availability_rows(v.availability):
        head = ("fault", "no acks (s)", "p50/p99 ms before", "during", "after", "heal to full ISR (s)")
        parts.append("<h2>Availability</h2>" + _rows_table(cells, head))
    if v.rebalances:
        parts.append("<h2>Rebalances</h2><p>" + "<br>".join(_e(r.sentence()) for r in v.rebalances) + "</p>")
    if v.share:
        parts.append("<h2>Share groups</h2><p>" + "<br>".join(_e(share_sentence(f)) for f in v.share) + "</p>")
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
    from chaos.reports.clusters import clusters_line

    held = runs and all(r.status in ("passed", "not_applicable") for r in runs)
    status = "passed" if held else "failed"
    clusters = clusters_line(suite.runs)
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>kafka-chaos suite</title>"
        f"<style>{CSS}</style></head><body><h1>kafka-chaos suite <span class='badge' "
        f"style='background:{STATUS_COLOR[status]}'>{_e(passed_line(runs))}</span></h1>"
        f"<div class='muted'>{_e(suite_dir)} · {suite.seconds / 60:.1f} min"
        + (f" · {_e(clusters)}" if clusters else "")
        + (" · interrupted" if suite.interrupted else "")
        + "</div><h2>Runs</h2><table><tr><th>run</th><th>claim</th><th>settings</th><th>faults</th>"
        "<th>producer loss</th><th>broker loss</th><th>consumer loss</th><th>send errors</th><th>dup. in log</th>"
        f"<th>result</th></tr>{''.join(_suite_row(run) for run in runs)}</table>"
        f"{_grid_html(runs)}{_rates_html(runs)}</body></html>"
    )


def _suite_row(run: RunReport) -> str:
    v = run.verdict
    failed = [e.name for e in v.failed_expectations()] if v else []
    note = "; ".join(failed) if failed else (run.not_applicable or run.error or "")
    loss = ["-" if v is None else "n/a" if (n := getattr(v.loss, s)) is None else n for s in STAGES]
    return (
        f"<tr><td><a href='{_e(run.run_dir.name)}/report.html'>{_e(run.run_dir.name)}</a></td>"
        f"<td>{_e(run.meta.get('claim') or '')}</td>"
        f"<td style='text-align:left'>{_e(settings_line(resolved_experiment(run.run_dir)))}</td>"
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


def _grid_html(runs: list[RunReport]) -> str:
    """The suite's grid (:mod:`chaos.reports.grid`) and, for several releases, what held on each and
    what differs between them; empty when the suite ran one client on one release."""
    g = grid(runs)
    if len(g.columns) < 2:
        return ""
    rows = "".join(
        f"<tr><td>{_e(name)}</td>" + "".join(_grid_cell(row.get(c)) for c in g.columns) + "</tr>"
        for name, row in g.rows.items()
    )
    page = (
        "<h2>Side by side: loss as producer/broker/consumer</h2><table><tr><th>experiment</th>"
        + "".join(f"<th>{_e(h)}</th>" for h in g.headers)
        + f"</tr>{rows}</table>"
    )
    for title, lines in (
        ("Held / failed / not applicable per release", per_release(runs)),
        ("Defaults and features that differ between these releases", differing(runs)),
    ):
        if lines:
            page += f"<h3>{title}</h3><ul>" + "".join(f"<li>{_e(line)}</li>" for line in lines) + "</ul>"
    return page


def _grid_cell(run: RunReport | None) -> str:
    color = f" style='color:{STATUS_COLOR[run.status]}'" if run is not None else ""
    return f"<td{color}>{_e(cell(run))}</td>"


def write_suite(suite_dir: Path, runs: list[RunReport], suite: SuiteFile) -> None:
    """``<suite_dir>/report.html``."""
    (suite_dir / rundir.REPORT).write_text(suite_html(suite_dir, runs, suite))
