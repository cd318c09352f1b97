"""The one-page verdict of ``validate``: Markdown and HTML, rebuilt from ``validate.json``'s data
alone (like every reporter, from what is on disk); what CI systems read of it (JUnit, SARIF) is
:mod:`chaos.reports.validation_ci`.

The reporters take ``validate.json`` as its typed model, :class:`chaos.validate.output.ValidateFile`;
they name it through the Protocols below, as reporters sit below ``chaos.validate``.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from chaos import rundir
from chaos.oracle.verdict import Loss
from chaos.reports.places import repo_path

SEVERITY_ORDER = ("config", "loss", "duplicates", "availability", "info")
LABEL = {
    "config": "refused / not applied",
    "loss": "loss risk",
    "duplicates": "duplicates",
    "availability": "availability",
    "info": "note",
}


class HowProcessed(Protocol):
    """How the team's consumer processes a batch (``ValidateFile.processing``)."""

    @property
    def value(self) -> str: ...
    @property
    def stated(self) -> bool: ...
    @property
    def process_ms(self) -> int | None: ...


class Finding(Protocol):
    """One reviewed setting (``ValidateFile.static``)."""

    @property
    def severity(self) -> str: ...
    @property
    def setting(self) -> str: ...
    @property
    def value(self) -> str | None: ...
    @property
    def where(self) -> str: ...
    @property
    def why(self) -> str: ...
    @property
    def fix(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def line(self) -> int | None: ...


class MatrixRun(Protocol):
    """One run of the fault matrix (``ValidateFile.matrix``)."""

    @property
    def fault(self) -> str: ...
    @property
    def variant(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def loss(self) -> Loss | None: ...
    @property
    def unsure(self) -> Sequence[str]: ...
    @property
    def anomalies(self) -> Mapping[str, int] | None: ...
    @property
    def error(self) -> str | None: ...
    @property
    def run_dir(self) -> str: ...
    @property
    def seconds(self) -> float: ...
    @property
    def causes(self) -> Sequence[str]: ...
    @property
    def application_logs(self) -> Sequence[str]: ...


class KnownBug(Protocol):
    """A known Kafka bug judged against the team's releases (:class:`chaos.validate.output.KnownBug`)."""

    @property
    def id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def side(self) -> str: ...
    @property
    def release(self) -> str: ...
    @property
    def affected(self) -> bool: ...
    @property
    def fixed_in(self) -> Sequence[str]: ...
    @property
    def row(self) -> str: ...


class Validation(Protocol):
    """What ``validate`` found: ``validate.json`` (:class:`chaos.validate.output.ValidateFile`)."""

    @property
    def verdict(self) -> str: ...
    @property
    def client(self) -> str: ...
    @property
    def kafka_version(self) -> str: ...
    @property
    def client_version(self) -> str | None: ...
    @property
    def known_bugs(self) -> Sequence[KnownBug]: ...
    @property
    def processing(self) -> HowProcessed: ...
    @property
    def files(self) -> Mapping[str, str]: ...
    @property
    def static(self) -> Sequence[Finding]: ...
    @property
    def matrix(self) -> Sequence[MatrixRun]: ...
    @property
    def recommended(self) -> Mapping[str, Mapping[str, str]]: ...
    @property
    def seconds(self) -> float: ...
    @property
    def static_only(self) -> bool: ...


def findings(data: Validation) -> list[Finding]:
    """The findings, the most severe first (refused or ignored settings, then loss risks …)."""
    return sorted(data.static, key=lambda f: SEVERITY_ORDER.index(f.severity))


def fails(data: Validation, f: Finding) -> bool:
    """Whether ``f`` alone makes validate FAIL (exit 1): Kafka refuses or ignores the setting, or it
    risks loss and no fault matrix ran (with one, the matrix's runs judge the loss risks)."""
    return f.severity == "config" or (f.severity == "loss" and data.static_only)


def finding_file(data: Validation, f: Finding) -> str:
    """The file (as given) ``f`` points at: the one the setting is in or belongs in, else the
    producer file (always given) when no file of that kind was.

    Raises:
        KeyError: neither file is in ``data.files`` (validate always has a producer file).
    """
    return data.files.get(f.kind) or data.files["producer"]


def finding_text(data: Validation, f: Finding, root: Path) -> str:
    """A finding in one line for CI: the setting, where it is (its file relative to ``root``, the
    repository's) or that it is not set and which line stands for it, why, and the fix."""
    value = "" if f.value is None else f"={f.value}"
    file = repo_path(finding_file(data, f), root)
    if f.line is not None:
        at = f"{file}:{f.line}"
    elif f.where == data.files.get(f.kind):  # the file as a whole (Kafka refusing the configuration)
        at = f"{file} as a whole, shown at its line 1"
    elif f.where not in ("default", "not stated"):  # a note on the files as a whole, or on the release
        at = f"{f.where}; shown at line 1 of {file}"
    elif f.kind in data.files:
        at = f"{f.where}: not set in {file}, shown at its line 1"
    else:
        at = f"{f.where}: no {f.kind} file was given, shown at line 1 of {file}"
    return f"{f.setting}{value} ({at}): {f.why}. Fix: {f.fix}"


def cause_text(setting: str, value: str | None, where: str, fix: str) -> str:
    """How a matrix run names a setting that explains its loss (an item of ``MatrixRow.causes``)."""
    return f"{setting}={value} ({where}): {fix}"


def first_cause(data: Validation, row: MatrixRun) -> Finding | None:
    """The finding a matrix run's first cause names (None: no single setting explains its loss)."""
    for cause in row.causes[:1]:
        for f in data.static:
            if cause_text(f.setting, f.value, f.where, f.fix) == cause:
                return f
    return None


def config_errors(data: Validation) -> list[Finding]:
    """The findings of settings the clients would not apply as written."""
    return [f for f in data.static if f.severity == "config"]


def _context(data: Validation) -> list[str]:
    """What the verdict was judged by: client, Kafka release, how the application processes."""
    processing = data.processing
    said = "" if processing.stated else " (assumed: say `--processing in-poll|batched|async`)"
    out = [
        f"client: {data.client}",
        f"judged by Kafka {data.kafka_version}'s own definitions"
        + (f" (producer and consumer: kafka-clients {data.client_version}'s)" if data.client_version else ""),
        f"processing: {processing.value}{said}",
    ]
    if processing.process_ms is not None:
        out.append(f"processing time: {processing.process_ms} ms per poll")
    return out


def loss_text(row: MatrixRun) -> str:
    """A matrix run's loss by stage in words (or why it has none)."""
    if row.loss is None:
        return f"run failed: {row.error}"
    if row.status == "INCONCLUSIVE":
        return "inconclusive, no loss figure: " + "; ".join(row.unsure)
    loss = row.loss
    dup = (row.anomalies or {}).get("duplicates_in_log", 0)
    text = f"producer {loss.producer}, broker {loss.broker}, consumer {loss.consumer}; duplicates {dup}"
    outputs = (row.anomalies or {}).get("duplicate_outputs", 0) if row.application_logs else 0
    return text + (f"; duplicate outputs {outputs}" if row.application_logs else "")


def markdown(data: Validation) -> str:
    """The Markdown page."""
    lines = [f"# kafka-chaos validate: {data.verdict}", ""]
    lines += [f"- {line}" for line in _context(data)]
    lines += [f"- {kind}: `{path}`" for kind, path in data.files.items()]
    lines.append("")
    for section in (_why_it_fails, _untriggered, _matrix, _known_bugs, _settings, _recommended):
        lines += section(data)
    return "\n".join(lines) + "\n"


def _why_it_fails(data: Validation) -> list[str]:
    if data.verdict != "FAIL":
        return []
    lines = ["## Why it fails", ""]
    for r in data.matrix:
        if r.variant == "team" and r.status != "PASS":
            causes = "; ".join(r.causes) or "no single setting explains it: see the run's report"
            lines.append(f"- **{r.fault}** lost records ({loss_text(r)}). Cause and fix: {causes}")
    for f in config_errors(data):
        lines.append(f"- `{f.setting}` ({f.where}) is not applied: {f.why}. Fix: {f.fix}")
    if data.static_only:
        for f in data.static:
            if f.severity == "loss":
                lines.append(f"- `{f.setting}` ({f.where}) risks loss: {f.why}. Fix: {f.fix}")
    return [*lines, ""]


def _untriggered(data: Validation) -> list[str]:
    """The loss risks of the review that no matrix run's cause names."""
    shown = {c for r in data.matrix for c in r.causes}
    untriggered = [
        f for f in data.static if f.severity == "loss" and not any(c.startswith(f"{f.setting}=") for c in shown)
    ]
    if not (untriggered and data.matrix):
        return []
    lines = ["## Risks the matrix did not trigger", ""]
    lines += [f"- `{f.setting}` ({f.where}): {f.why}. Fix: {f.fix}" for f in untriggered]
    return [*lines, ""]


def _matrix(data: Validation) -> list[str]:
    if not data.matrix:
        return ["Static review only (`--static-only`): no faults were run.", ""] if data.static_only else []
    lines = ["## Fault matrix", "", "| fault | settings | result | loss by stage |", "|---|---|---|---|"]
    lines += [f"| {r.fault} | {r.variant} | {r.status} | {loss_text(r)} |" for r in data.matrix]
    return [*lines, "", f"Matrix wall time: {data.seconds / 60:.1f} min.", ""]


def bug_text(bug: KnownBug) -> str:
    """One known bug against the team's release, in words.

    >>> from types import SimpleNamespace as B
    >>> bug_text(B(id="KAFKA-1", title="t", side="client", release="4.0.0", affected=True,
    ...            fixed_in=["4.0.1"], row="k1-x"))
    'KAFKA-1 (t): kafka-clients 4.0.0 is affected; fixed in 4.0.1; regression row experiments/k1-x.yaml'
    """
    who = f"kafka-clients {bug.release}" if bug.side == "client" else f"Kafka {bug.release}"
    state = "is affected" if bug.affected else "is not affected"
    fixed = ", ".join(bug.fixed_in)
    return f"{bug.id} ({bug.title}): {who} {state}; fixed in {fixed}; regression row experiments/{bug.row}.yaml"


def _known_bugs(data: Validation) -> list[str]:
    if not data.known_bugs:
        return []
    lines = ["## Known Kafka bugs for these releases", ""]
    lines += [f"- {'**affected**' if b.affected else 'not affected'}: {bug_text(b)}" for b in data.known_bugs]
    return [*lines, ""]


def _settings(data: Validation) -> list[str]:
    lines = ["## Settings reviewed", "", "| | setting | value | where | why | fix |", "|---|---|---|---|---|---|"]
    for f in findings(data):
        value = f.value if f.value is not None else "(default)"
        lines.append(f"| {LABEL[f.severity]} | `{f.setting}` | {value} | {f.where} | {f.why} | {f.fix} |")
    return lines


def _recommended(data: Validation) -> list[str]:
    lines = ["", "## Recommended settings", ""]
    for kind in ("producer", "consumer", "topic", "broker"):
        if settings := data.recommended.get(kind):
            lines.append(f"- {kind}: " + ", ".join(f"`{k}={v}`" for k, v in sorted(settings.items())))
    return lines


def write_markdown(data: Validation, out_dir: Path) -> None:
    """validate.md."""
    (out_dir / rundir.VALIDATE_MD).write_text(markdown(data))


def write_html(data: Validation, out_dir: Path) -> None:
    """report.html: the same page, self-contained, with links to each run's own report."""
    from chaos.reports.html import CSS

    e = html.escape
    color = "#2ca02c" if data.verdict == "PASS" else "#d62728"
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>validate: {data.verdict}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>kafka-chaos validate <span class='badge' style='background:{color}'>{data.verdict}</span></h1>",
        "<p>"
        + "<br>".join(e(line) for line in _context(data))
        + "<br>"
        + "<br>".join(f"{e(k)}: <code>{e(v)}</code>" for k, v in data.files.items())
        + "</p>",
    ]
    if data.matrix:
        parts.append(
            "<h2>Fault matrix</h2><table><tr><th>fault</th><th>settings</th><th>result</th><th>loss by stage</th>"
            f"<th>cause and fix</th></tr>{''.join(_matrix_row(r) for r in data.matrix)}</table>"
        )
    if data.known_bugs:
        items = "".join(
            f"<li>{'<b>affected</b>' if b.affected else 'not affected'}: <a href='{e(b.url)}'>{e(b.id)}</a> "
            f"{e(bug_text(b).removeprefix(b.id + ' '))}</li>"
            for b in data.known_bugs
        )
        parts.append(f"<h2>Known Kafka bugs for these releases</h2><ul>{items}</ul>")
    rows = [
        f"<tr><td>{e(LABEL[f.severity])}</td><td><code>{e(f.setting)}</code></td>"
        f"<td>{e(f.value if f.value is not None else '(default)')}</td><td>{e(f.where)}</td>"
        f"<td style='text-align:left'>{e(f.why)}</td><td style='text-align:left'>{e(f.fix)}</td></tr>"
        for f in findings(data)
    ]
    parts.append(
        "<h2>Settings reviewed</h2><table><tr><th></th><th>setting</th><th>value</th><th>where</th><th>why</th>"
        f"<th>fix</th></tr>{''.join(rows)}</table></body></html>"
    )
    (out_dir / rundir.REPORT).write_text("\n".join(parts))


def _matrix_row(r: MatrixRun) -> str:
    e = html.escape
    cls = "pass" if r.status == "PASS" else "fail"
    link = f"{Path(r.run_dir).name}/report.html"
    causes = "<br>".join(e(c) for c in r.causes)
    logs = "".join(f" <a href='{e(log)}'>{e(Path(log).stem)} log</a>" for log in r.application_logs)
    return (
        f"<tr><td><a href='{e(link)}'>{e(r.fault)}</a>{logs}</td><td>{e(r.variant)}</td>"
        f"<td class='{cls}'>{e(r.status)}</td><td style='text-align:left'>{e(loss_text(r))}</td>"
        f"<td style='text-align:left'>{causes}</td></tr>"
    )
