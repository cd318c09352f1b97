"""Markdown summaries: what was lost, where, under which fault — readable in a CI log or a PR."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from chaos import rundir
from chaos.oracle.share_figures import share_sentence
from chaos.oracle.verdict import Verdict
from chaos.reports.grid import cell, differing, grid, per_release
from chaos.reports.in_force import in_force_items
from chaos.reports.releases import bug_on_release, release_items
from chaos.reports.words import (
    ICON,
    STAGES,
    anomaly_rows,
    availability_rows,
    faults_line,
    loss_text,
    resolved_experiment,
    settings_line,
    witness_line,
)

if TYPE_CHECKING:
    from chaos.reports import RunReport
    from chaos.results import SuiteFile

#: What this reporter writes into a run (and a suite) directory.
FILE = rundir.SUMMARY


def run_markdown(run: RunReport) -> str:
    """The summary of one run: what it ran on, what it lost, and, for a known bug's row, whether its
    release has the bug."""
    lines = [f"# {run.label}: {ICON[run.status]}", "", *_intro(run)]
    lines += [f"- settings: {settings_line(resolved_experiment(run.run_dir))}", f"- faults: {faults_line(run.run_dir)}"]
    lines += [f"- {what}: {text}" for what, text in [*release_items(run.meta), *in_force_items(run.run_dir)]]
    v = run.verdict
    if v is not None:
        cluster = v.details.cluster
        lines.append(f"- run: `{run.run_dir}` ({run.seconds:.0f} s{f', cluster {cluster}' if cluster else ''})")
    lines += _known_bug(run)
    if v is None:
        why = f"Not run: {run.not_applicable}" if run.not_applicable else f"The run did not complete: {run.error}"
        return "\n".join([*lines, "", why]) + "\n"
    lines.append("")
    for section in (
        _loss_table,
        _causes,
        _witness,
        _counts,
        _anomalies,
        _availability,
        _rebalances,
        _share,
        _figures,
        _expectations,
    ):
        lines += section(v)
    lines += _examples(v)
    return "\n".join(lines) + "\n"


def _known_bug(run: RunReport) -> list[str]:
    """The Kafka bug the row reproduces, linked, whether the run's release has it, and what was measured."""
    found = bug_on_release(run.meta)
    if found is None:
        return []
    return ["", f"Known bug [{found.bug.id}]({found.bug.url}): {found.sentence(run.status)}"]


def _intro(run: RunReport) -> list[str]:
    """The claim and what was expected of the run, as its experiment file says."""
    lines = []
    if run.meta.get("claim"):
        lines += [f"Claim **{run.meta['claim']}**. {run.meta.get('description', '').strip()}", ""]
    if run.meta.get("expected"):
        lines += [f"Expected: {run.meta['expected'].strip()}", ""]
    return lines


def _loss_table(v: Verdict) -> list[str]:
    lines = [] if v.conclusive else ["**Inconclusive: no loss figure.** " + " ".join(v.trust.reasons), ""]
    return [*lines, "| stage | lost |", "|---|---:|", *(f"| {s} | {loss_text(v, s)} |" for s in STAGES)]


def _causes(v: Verdict) -> list[str]:
    causes = v.causes.get("broker") or {}
    if not any(causes.values()):
        return []
    lines = ["", "Broker loss by cause: " + ", ".join(f"{k} {n}" for k, n in causes.items() if n)]
    if causes.get("unconfirmed"):
        lines.append(f"({causes['unconfirmed']} of them rest on no acknowledgement: acks=0.)")
    return lines


def _witness(v: Verdict) -> list[str]:
    text = witness_line(v.trust.witness)
    return ["", text] if text else []


def _counts(v: Verdict) -> list[str]:
    counts = v.counts.model_dump()
    return [
        "",
        "| " + " | ".join(counts) + " |",
        "|" + "---:|" * len(counts),
        "| " + " | ".join(str(n) for n in counts.values()) + " |",
    ]


def _anomalies(v: Verdict) -> list[str]:
    rows = (f"| {name} | {n} | {meaning} |" for name, n, meaning in anomaly_rows(v.anomalies))
    return ["", "| anomaly | count | meaning |", "|---|---:|---|", *rows]


def _availability(v: Verdict) -> list[str]:
    rows = availability_rows(v.availability)
    if not rows:
        return []
    head = "| fault | no acks (s) | ack latency p50/p99 ms: before | during | after | heal to full ISR (s) |"
    return ["", head, "|---|---:|---:|---:|---:|---:|", *("| " + " | ".join(r) + " |" for r in rows)]


def _rebalances(v: Verdict) -> list[str]:
    """One line per consumer group: its assignment changes, the pauses, the records processed again."""
    if not v.rebalances:
        return []
    return ["", "Consumer group rebalances:", "", *(f"- {r.sentence()}" for r in v.rebalances)]


def _share(v: Verdict) -> list[str]:
    """One line per share group."""
    if not v.share:
        return []
    return ["", "Share groups:", "", *(f"- {share_sentence(f)}" for f in v.share)]


def _figures(v: Verdict) -> list[str]:
    lines: list[str] = []
    for title, figures in (("transactions", v.transactions), ("consume-transform-produce", v.transform)):
        if figures is not None:
            lines += ["", f"| {title} | |", "|---|---:|", *(f"| {k} | {n} |" for k, n in figures.model_dump().items())]
    return lines


def _expectations(v: Verdict) -> list[str]:
    if not v.expectations:
        return []
    rows = (f"| `{e.name}` | {e.actual} | {'pass' if e.passed else '**FAIL**'} |" for e in v.expectations)
    return ["", "| expectation | actual | result |", "|---|---:|---|", *rows]


def _examples(v: Verdict) -> list[str]:
    examples = {k: xs for k, xs in v.examples.items() if xs}
    if not examples:
        return []
    lines = ["", "Examples (producer, seq, partition, offset):", ""]
    for kind, xs in examples.items():
        shown = ", ".join(
            f"({x.get('producer')}, {x.get('seq')}, {x.get('partition')}, {x.get('offset')})" for x in xs[:3]
        )
        lines.append(f"- {kind}: {shown}")
    return lines


def write_run(run: RunReport) -> None:
    """``<run_dir>/summary.md``."""
    (run.run_dir / rundir.SUMMARY).write_text(run_markdown(run))


def claims_table(runs: list[RunReport]) -> str:
    """The measured claims table: settings, fault, loss by stage, key anomalies, outcome."""
    lines = [
        "| claim | experiment | settings | fault | producer loss | broker loss | consumer loss "
        "| send errors | dup. in log | dup. processed | result |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for run in runs:
        v = run.verdict
        lines.append(
            f"| {run.meta.get('claim') or ''} | {run.run_dir.name} | {settings_line(resolved_experiment(run.run_dir))} "
            f"| {faults_line(run.run_dir)} | {' | '.join(loss_text(v, s) for s in STAGES)} "
            f"| {v.counts.send_errors if v else '-'} | {_anomaly(v, 'duplicates_in_log')} "
            f"| {_anomaly(v, 'duplicates_processed')} | {ICON[run.status]} |"
        )
    return "\n".join(lines) + "\n"


def _anomaly(verdict: Verdict | None, name: str) -> str:
    """An anomaly's cases in a table cell (``-`` for a run without a verdict, or one that does not name it)."""
    return "-" if verdict is None or name not in verdict.anomalies else str(verdict.anomalies[name])


def side_by_side(runs: list[RunReport]) -> str:
    """The suite's grid (:mod:`chaos.reports.grid`): experiments down, clients and releases across,
    result and producer/broker/consumer loss of each; under it, for several releases, what held on
    each and what differs between them. Empty when the suite ran one client on one release."""
    g = grid(runs)
    if len(g.columns) < 2:
        return ""
    lines = [
        "Side by side, loss as producer/broker/consumer:",
        "",
        "| claim | experiment | " + " | ".join(g.headers) + " |",
        "|---|---|" + "---|" * len(g.columns),
    ]
    for name, row in g.rows.items():
        lines.append(f"| {g.claim(name)} | {name} | " + " | ".join(cell(row.get(c)) for c in g.columns) + " |")
    if counts := per_release(runs):
        lines += ["", "Held / failed / not applicable per release:", "", *(f"- {line}" for line in counts)]
    if lines_differing := differing(runs):
        lines += ["", "Defaults and features that differ between these releases:", ""]
        lines += [f"- {line}" for line in lines_differing]
    return "\n".join(lines) + "\n"


def suite_markdown(suite_dir: Path, runs: list[RunReport], suite: SuiteFile) -> str:
    """The summary of a suite: outcome per run, the claims table, repetition rates."""
    from chaos.reports.clusters import clusters_line

    clusters = clusters_line(suite.runs)
    lines = [
        f"# kafka-chaos suite: {passed_line(runs)}",
        "",
        f"{suite_dir} · {suite.seconds / 60:.1f} min"
        + (f" · {clusters}" if clusters else "")
        + (" · **interrupted**" if suite.interrupted else ""),
        "",
        claims_table(runs),
    ]
    if table := side_by_side(runs):
        lines += [table]
    lines += _rates_table(runs)
    for run in runs:
        if run.status != "passed":
            lines.append(f"- {ICON[run.status]} {run.run_dir.name}: {why_not_passed(run)}")
    return "\n".join(lines).rstrip() + "\n"


def passed_line(runs: list[RunReport]) -> str:
    """How many runs passed of those that ran, and how many rows did not apply to their release.

    >>> from chaos.reports import RunReport
    >>> passed_line([RunReport(Path("a"), "a", {"not_applicable": "needs 4.0.0"}, None, None)])
    '0/0 passed, 1 not applicable'
    """
    ran = [r for r in runs if r.status != "not_applicable"]
    passed = sum(r.status == "passed" for r in ran)
    skipped = len(runs) - len(ran)
    return f"{passed}/{len(ran)} passed" + (f", {skipped} not applicable" if skipped else "")


def why_not_passed(run: RunReport) -> str:
    """The expectations a run failed, each as :meth:`ExpectationResult.sentence` says it, its error,
    or why it did not apply to its release."""
    if run.not_applicable is not None:
        return run.not_applicable
    if run.verdict is None:
        return str(run.error)
    return "; ".join(e.sentence() for e in run.verdict.failed_expectations())


def _rates_table(runs: list[RunReport]) -> list[str]:
    """How often each stage lost records over repetitions (nothing when no experiment repeated)."""
    from chaos.reports import occurrence_rates, rate_cell

    rates = occurrence_rates(runs)
    if not any(entry.runs > 1 for entry in rates.values()):
        return []
    lines = ["How often each stage lost records over repetitions (95% Wilson interval):", ""]
    lines += ["| experiment | runs | passed | producer | broker | consumer |", "|---|---:|---:|---:|---:|---:|"]
    for name, entry in rates.items():
        cells = " | ".join(rate_cell(entry, s) for s in STAGES)
        lines.append(f"| {name} | {entry.runs} | {entry.passed} | {cells} |")
    return [*lines, ""]


def write_suite(suite_dir: Path, runs: list[RunReport], suite: SuiteFile) -> None:
    """``<suite_dir>/summary.md``."""
    (suite_dir / rundir.SUMMARY).write_text(suite_markdown(suite_dir, runs, suite))
