"""GitHub Actions: annotations on the lines that failed, and the Markdown summary on the job's page.

When ``GITHUB_ACTIONS`` is ``true`` (GitHub sets it in every step), ``run`` and ``validate`` print a
workflow command per failure — ``::error file=F,line=N,title=T::message`` — which GitHub shows on
the experiment's or properties file's line, and append their Markdown summary to the file
``GITHUB_STEP_SUMMARY`` names. Nothing of this happens elsewhere. The commands go to stderr (the
runner reads both streams), so ``--json`` keeps stdout one JSON object.

What is annotated: for a run, each failed expectation (an error on its key under ``expect:``; for a
known bug's row, with whether its release has the bug), an inconclusive verdict (a warning), a run
that could not complete (an error) and a row that did not apply to its Kafka release (a notice,
never a failure); for ``validate``,
each setting that makes it FAIL (an error on the setting's line), a loss risk the fault matrix
judges instead (a warning), each matrix run of the team's settings that lost records (an error on
the setting it is put down to) or could not complete (an error), and an inconclusive one (a warning).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from chaos import rundir
from chaos.reports.places import expectation_line, experiment_file, metric_of, run_place
from chaos.reports.releases import bug_on_release
from chaos.reports.validation import (
    LABEL,
    Validation,
    fails,
    finding_text,
    findings,
    loss_text,
    markdown,
)
from chaos.reports.validation_ci import matrix_place, place

if TYPE_CHECKING:
    from chaos.reports import RunReport

Level = Literal["error", "warning", "notice"]


def in_actions(env: Mapping[str, str]) -> bool:
    """Whether this runs in a GitHub Actions step (``GITHUB_ACTIONS=true``)."""
    return env.get("GITHUB_ACTIONS") == "true"


def escape_data(text: str) -> str:
    """A workflow command's message, escaped as GitHub's toolkit does (``%``, CR, LF).

    >>> escape_data("50% lost\\r\\nnext")
    '50%25 lost%0D%0Anext'
    """
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value (``file``, ``title``): also ``:`` and ``,``.

    >>> escape_property("acks: loss risk, line 5")
    'acks%3A loss risk%2C line 5'
    """
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


@dataclass(frozen=True, slots=True)
class Annotation:
    """One workflow command: a message GitHub shows on a file's line."""

    level: Level
    file: str
    line: int
    title: str
    message: str

    def command(self) -> str:
        """``::level file=…,line=…,title=…::message``, escaped.

        >>> Annotation("error", "p.properties", 5, "acks: loss risk", "acks=1\\nFix: acks=all").command()
        '::error file=p.properties,line=5,title=acks%3A loss risk::acks=1%0AFix: acks=all'
        """
        props = f"file={escape_property(self.file)},line={self.line},title={escape_property(self.title)}"
        return f"::{self.level} {props}::{escape_data(self.message)}"


def run_annotations(runs: Sequence[RunReport], root: Path) -> list[Annotation]:
    """The annotations of a suite's runs, errors first; each titled with the run's row
    (``<name>[.<client>][@<release>]``), so the same file on two releases gives two titles."""
    found: list[Annotation] = []
    for run in runs:
        file, _ = run_place(run, root)
        verdict = run.verdict
        if run.not_applicable is not None:
            found.append(Annotation("notice", file, 1, f"{run.label}: not applicable", run.not_applicable))
        elif verdict is None:
            reason = (run.error or "no verdict").splitlines()[0]
            found.append(Annotation("error", file, 1, f"{run.label}: could not complete", reason))
        elif not verdict.conclusive:
            reasons = "; ".join(verdict.trust.reasons)
            message = f"no loss figure, so no verdict on the expectations: {reasons}"
            found.append(Annotation("warning", file, 1, f"{run.label}: inconclusive", message))
        else:
            loss = ", ".join(f"{stage} {n}" for stage, n in verdict.loss.model_dump().items())
            bug = bug_on_release(run.meta)
            known = f"; known bug {bug.bug.id}, {bug.standing()}" if bug else ""
            for e in verdict.failed_expectations():
                line = expectation_line(experiment_file(run), metric_of(e.name))
                message = f"{e.sentence()} (loss by stage: {loss}{known}; report: {run.run_dir / rundir.REPORT})"
                found.append(Annotation("error", file, line, f"{run.label}: {e.name}", message))
    order: dict[Level, int] = {"error": 0, "warning": 1, "notice": 2}
    return sorted(found, key=lambda a: order[a.level])


def validation_annotations(data: Validation, root: Path) -> list[Annotation]:
    """The annotations of a validation, errors first."""
    found: list[Annotation] = []
    for f in findings(data):
        if fails(data, f) or f.severity == "loss":
            file, line = place(data, f, root)
            level: Level = "error" if fails(data, f) else "warning"
            found.append(
                Annotation(level, file, line, f"{f.setting}: {LABEL[f.severity]}", finding_text(data, f, root))
            )
    for r in data.matrix:
        file, line = matrix_place(data, r, root)
        title = f"{r.fault} [{r.variant}]"
        if r.status == "ERROR":
            found.append(Annotation("error", file, line, f"{title}: could not complete", str(r.error)))
        elif r.status == "INCONCLUSIVE":
            found.append(Annotation("warning", file, line, f"{title}: inconclusive", loss_text(r)))
        elif r.status == "FAIL" and r.variant == "team":
            causes = "; ".join(r.causes) or "no single setting explains it: see the run's report"
            message = f"lost records ({loss_text(r)}). Cause and fix: {causes}"
            found.append(Annotation("error", file, line, f"{title}: lost records", message))
    return sorted(found, key=lambda a: a.level != "error")


def publish(
    annotations: Sequence[Annotation], summary: str, env: Mapping[str, str], echo: Callable[[str], None]
) -> list[str]:
    """In a GitHub Actions step, ``echo`` each annotation's command and append ``summary`` to the
    file ``GITHUB_STEP_SUMMARY`` names; elsewhere nothing. Returns what could not be written (the
    command's outcome never depends on it)."""
    if not in_actions(env):
        return []
    for annotation in annotations:
        echo(annotation.command())
    path = env.get("GITHUB_STEP_SUMMARY")
    if not path or not summary:
        return []
    try:
        with Path(path).open("a", encoding="utf-8") as out:
            out.write(summary if summary.endswith("\n") else summary + "\n")
    except OSError as e:
        return [f"step summary not written to {path}: {e.strerror or e}"]
    return []


def publish_suite(suite_dir: Path, env: Mapping[str, str], echo: Callable[[str], None]) -> list[str]:
    """:func:`publish` a suite: its runs' annotations, and the summary of its one run (or the
    suite's, when it has several). Returns what could not be read or written."""
    if not in_actions(env):
        return []
    from chaos.reports import suite_runs

    try:
        runs = suite_runs(suite_dir)
    except Exception as e:  # a broken suite.json: the run's own output says what happened
        return [f"annotations not written: reading {suite_dir}/{rundir.SUITE}: {e}"]
    source = runs[0].run_dir / rundir.SUMMARY if len(runs) == 1 else suite_dir / rundir.SUMMARY
    try:
        summary = source.read_text(encoding="utf-8")
    except OSError as e:
        summary, problems = "", [f"step summary not written: reading {source}: {e.strerror or e}"]
    else:
        problems = []
    return problems + publish(run_annotations(runs, Path.cwd()), summary, env, echo)


def publish_validation(data: Validation, env: Mapping[str, str], echo: Callable[[str], None]) -> list[str]:
    """:func:`publish` a validation: its annotations and ``validate.md``'s page."""
    return publish(validation_annotations(data, Path.cwd()), markdown(data), env, echo)
