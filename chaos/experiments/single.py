"""One experiment file run on its own, as a test runs it, and what a test report says of it.

The pytest plugin runs each experiment test through :func:`run_file` and reports the
:class:`FileRun` it gets back: the JUnit properties, the section of the test report, and whether
the test fails and with which sentence. Nothing of pytest is here: any caller that runs one file
and wants that file's outcome as a pass, a failure or an error can use it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from chaos.experiments.loading import load_experiment
from chaos.experiments.pool import ClusterPool
from chaos.experiments.runner import ExperimentRun, RunOptions
from chaos.labels import new_run_id
from chaos.oracle.verdict import Verdict
from chaos.reports.junit import describe, properties
from chaos.results import EXIT_OK, RunResult

#: What runs an :class:`ExperimentRun` (its own :meth:`~ExperimentRun.run`; a test may stand in).
Runs = Callable[[ExperimentRun], RunResult]


def _run(run: ExperimentRun) -> RunResult:
    return run.run()


@dataclass(frozen=True, slots=True)
class FileRun:
    """What one experiment file's run ended with, said as a test says it."""

    result: RunResult
    #: The client its workloads ran on (``kafka-python``, ``librdkafka``, ``java``).
    client: str

    @property
    def name(self) -> str:
        """The experiment's name."""
        return self.result.name

    @property
    def verdict(self) -> Verdict | None:
        """The verdict, or None when the run could not complete."""
        return self.result.verdict

    def properties(self) -> list[tuple[str, str]]:
        """A JUnit testcase's properties: the run directory, then what ``kafka-chaos run``'s own JUnit
        report gives the run (where it ran, loss by stage, counts, anomalies …); of a run that could not
        complete, the run directory and the cluster it got, if any."""
        props = [("run_dir", str(self.result.run_dir))]
        if self.verdict is None:
            return props + ([("cluster", self.result.cluster)] if self.result.cluster else [])
        meta = {"client": self.client, "client_path": self.result.client_path}
        return props + properties(meta, self.verdict)

    def failure(self, check: bool = True) -> str | None:
        """Why the test fails, in one sentence, or None when it passes: the run could not complete;
        or, with ``check``, its verdict is inconclusive or an expectation was not met."""
        result = self.result
        if result.verdict is None:
            return f"{self.name} could not complete: {result.error or 'no verdict'} (see {result.run_dir})"
        if not check or result.exit_code == EXIT_OK:
            return None
        if not result.verdict.conclusive:
            return f"{self.name}: the verdict is inconclusive: {'; '.join(result.verdict.trust.reasons)}"
        return f"{self.name}: " + "; ".join(e.sentence() for e in result.verdict.failed_expectations())

    def report(self) -> str:
        """The verdict line by line, where the run directory is and what stopped the run: the
        "kafka-chaos verdict" section of a test report."""
        text = describe(self.verdict) if self.verdict is not None else ""
        text += f"run directory: {self.result.run_dir} (report.html, summary.md, verdict.json)\n"
        if self.result.error is not None:
            text += f"error: {self.result.error}\n"
        return text.rstrip()


def run_file(path: Path, options: RunOptions, pool: ClusterPool, runs: Runs = _run) -> FileRun:
    """Run the experiment file at ``path`` on a cluster of ``pool`` (reset after the run before),
    into ``<options.reports_dir>/<run id>/<experiment>``.

    A run that fails never raises: its error is the outcome's (:meth:`FileRun.failure`).

    Raises:
        ExperimentFileError: the file is unreadable or malformed (the message names file, line and
            field).
    """
    exp = load_experiment(path)
    run_id = new_run_id()
    run = ExperimentRun(exp, options.reports_dir / run_id / exp.name, options, path, run_id=run_id, pool=pool)
    return FileRun(runs(run), exp.client)
