"""Reports of runs and suites: ``verdict.json``, JUnit XML, a Markdown summary and a self-contained
HTML page with a timeline plot.

Reporters are peers and read only files of the run directory, so ``kafka-chaos report RUN_DIR``
rebuilds them at any time. A failing reporter never stops a run: its error is returned (and shown)
and the other reporters still write.
"""

from __future__ import annotations

import importlib
import json
import logging
import math
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import ValidationError

from chaos import rundir
from chaos.errors import UsageError
from chaos.events import Event
from chaos.oracle.files import read_verdict
from chaos.oracle.verdict import Verdict
from chaos.progress import Progress, silent
from chaos.results import Rate, RunFinished, SuiteFile, SuiteResult, SuiteUpdated

log = logging.getLogger(__name__)


@dataclass(slots=True)
class RunReport:
    """What reporters know about one run, read from its directory."""

    run_dir: Path
    name: str
    meta: dict[str, Any]
    verdict: Verdict | None
    error: str | None
    phases: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> str:
        """``passed``, ``failed``, ``inconclusive``, ``error`` or ``not_applicable`` (the row does not
        apply to its release: it never ran)."""
        if self.not_applicable is not None:
            return "not_applicable"
        if self.verdict is None:
            return "error"
        if not self.verdict.conclusive:
            return "inconclusive"
        return "passed" if self.verdict.passed else "failed"

    @property
    def not_applicable(self) -> str | None:
        """Why the row did not run on its release, as ``run.json`` says it (None: it did run)."""
        found = self.meta.get("not_applicable")
        return str(found) if found else None

    @property
    def label(self) -> str:
        """The run's row in its suite, ``<name>[.<client>][@<release>]`` (``run.json``'s ``label``; in a
        run directory from before it, the name, with the client after a dot for any but kafka-python).

        >>> RunReport(Path("x"), "b1", {"client": "java"}, None, None).label
        'b1.java'
        >>> RunReport(Path("x"), "b1", {"client": "java", "label": "b1.java@3.9.1"}, None, None).label
        'b1.java@3.9.1'
        """
        if label := self.meta.get("label"):
            return str(label)
        client = self.meta.get("client")
        return self.name if client in (None, "kafka-python") else f"{self.name}.{client}"

    @property
    def seconds(self) -> float:
        """Wall time of the run (from its phases)."""
        if not self.phases:
            return 0.0
        end = max(float(p.get("end") or p["start"]) for p in self.phases)
        return end - float(self.phases[0]["start"])


class UnfitFile(UsageError):
    """A file of a run or suite directory that does not fit its contract (``docs/schemas/``)."""


def first_problem(path: Path, error: ValidationError) -> str:
    """What is wrong with ``path``, in one line: the first field pydantic refused, and how many more.

    >>> try:
    ...     Verdict.model_validate_json('{"run_id": "r"}')
    ... except ValidationError as e:
    ...     print(first_problem(Path("verdict.json"), e))
    verdict.json does not fit its contract: experiment: Field required (and 5 more)
    """
    problems = error.errors()
    where = ".".join(str(part) for part in problems[0]["loc"]) or "the file"
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{path} does not fit its contract: {where}: {problems[0]['msg']}{more}"


def _verdict_of(run_dir: Path) -> Verdict | None:
    try:
        return read_verdict(run_dir)
    except ValidationError as e:
        raise UnfitFile(first_problem(run_dir / rundir.VERDICT, e)) from None


def _meta_of(run_dir: Path) -> dict[str, Any]:
    """``run.json`` ({} when the run directory has none), its ``release`` and ``known_bug`` checked."""
    from chaos.reports.releases import check

    path = run_dir / rundir.RUN
    if not path.exists():
        return {}
    meta = json.loads(path.read_text())
    if not isinstance(meta, dict):
        raise UnfitFile(f"{path} does not fit its contract: the file: not an object")
    try:
        check(meta)
    except ValidationError as e:
        raise UnfitFile(first_problem(path, e)) from None
    return meta


def load_run(run_dir: Path) -> RunReport:
    """Read a run directory for the reporters: its ``verdict.json`` as a typed :class:`Verdict` (a
    verdict written before there was a schema reads too). A row that did not apply to its release
    has neither verdict nor error: ``run.json`` says why (:attr:`RunReport.not_applicable`).

    Raises:
        UsageError: ``run_dir`` is not a run directory.
        UnfitFile: its ``verdict.json`` does not fit the verdict's contract, or ``run.json``'s
            ``release`` or ``known_bug`` theirs (one line says where).
    """
    from chaos.reports.series import read_phases

    run_dir = Path(run_dir)
    if not (run_dir / rundir.RUN).exists() and not (run_dir / rundir.VERDICT).exists():
        raise UsageError(f"{run_dir} is not a run directory (no run.json or verdict.json): pass reports/<suite>/<run>")
    meta = _meta_of(run_dir)
    verdict = _verdict_of(run_dir)
    error = (run_dir / rundir.ERROR).read_text().strip() if (run_dir / rundir.ERROR).exists() else None
    if verdict is None and error is None and not meta.get("not_applicable"):
        error = "the run ended before a verdict (see its phases and logs)"
    name = str(meta.get("experiment") or (verdict.experiment if verdict else "") or run_dir.name)
    return RunReport(run_dir, name, meta, verdict, error, read_phases(run_dir))


def reporters() -> list[ModuleType]:
    """Every reporter of this package, in name order: a module of ``chaos.reports`` with
    ``FILE`` (what it writes), ``write_run(run)`` and optionally ``write_suite(dir, runs, meta)``.
    A new reporter is one such module: nothing else needs to name it.

    >>> [r.FILE for r in reporters()]
    ['report.html', 'junit.xml', 'summary.md', 'soak/soak.md']
    """
    found = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if callable(getattr(module, "write_run", None)) and isinstance(getattr(module, "FILE", None), str):
            found.append(module)
    return found


def _guarded(problems: list[str], what: str, fn: Callable[[], None]) -> None:
    try:
        fn()
    except Exception as e:  # a failing reporter never stops a run
        log.warning("%s failed: %s", what, e, exc_info=True)
        problems.append(f"{what}: {type(e).__name__}: {e}")


def write_run_reports(run_dir: Path) -> list[str]:
    """Write ``junit.xml``, ``summary.md`` and ``report.html`` of one run; returns reporter errors.

    Everything is read back from the run directory's files, as ``kafka-chaos report`` does.
    """
    problems: list[str] = []
    try:
        run = load_run(run_dir)
    except Exception as e:
        return [f"reading {run_dir}: {e}"]
    for reporter in reporters():
        _guarded(problems, reporter.FILE, partial(reporter.write_run, run))
    return problems


def read_suite(suite_dir: Path) -> SuiteFile:
    """A suite directory's ``suite.json``, typed.

    Raises:
        OSError: it cannot be read.
        UnfitFile: it does not fit the contract of ``suite.json`` (one line says where).
    """
    path = Path(suite_dir) / rundir.SUITE
    try:
        return SuiteFile.model_validate_json(path.read_text())
    except ValidationError as e:
        raise UnfitFile(first_problem(path, e)) from None


def suite_runs(suite_dir: Path, suite: SuiteFile | None = None) -> list[RunReport]:
    """The runs of a suite, in the order they ran (from ``suite``, else its ``suite.json``); a run
    whose directory is gone, or whose verdict does not fit the contract, is an error row.

    Raises:
        OSError, UnfitFile: ``suite.json`` is needed and cannot be read (:func:`read_suite`).
    """
    runs = []
    for entry in (suite or read_suite(suite_dir)).runs:
        run_dir = Path(suite_dir) / Path(entry.run_dir).name
        runs.append(_report_of(run_dir, entry.name, entry.error or "no run directory", entry.not_applicable))
    return runs


def _report_of(
    run_dir: Path, name: str, missing: str = "no run directory", not_applicable: str | None = None
) -> RunReport:
    """The run in ``run_dir``; without its directory, an error row, or the row that did not apply
    that ``suite.json`` says it was."""
    try:
        return load_run(run_dir)
    except UnfitFile as e:
        return RunReport(run_dir, name, {}, None, str(e))
    except UsageError:
        if not_applicable:
            return RunReport(run_dir, name, {"not_applicable": not_applicable}, None, None)
        return RunReport(run_dir, name, {}, None, missing)


def write_suite_json(suite: SuiteResult) -> None:
    """``suite.json``: every run's outcome, the wall time, whether the suite was interrupted, and
    per experiment how often each stage lost records over its repetitions (``rates``)."""
    reports = [_report_of(r.run_dir, r.name) for r in suite.results]
    data = SuiteFile(
        suite_dir=str(suite.suite_dir),
        seconds=round(suite.seconds, 1),
        interrupted=suite.interrupted,
        exit_code=suite.exit_code if suite.results else None,
        runs=[r.outcome() for r in suite.results],
        rates=occurrence_rates(reports),
    )
    text = json.dumps(data.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"
    (suite.suite_dir / rundir.SUITE).write_text(text)  # its one writer


def write_suite_reports(suite: SuiteResult) -> list[str]:
    """Write ``suite.json``, ``junit.xml``, ``summary.md`` and ``report.html`` of a suite."""
    problems: list[str] = []
    _guarded(problems, rundir.SUITE, lambda: write_suite_json(suite))
    return problems + rewrite_suite_reports(suite.suite_dir)


def rewrite_suite_reports(suite_dir: Path) -> list[str]:
    """(Re)write a suite's JUnit, Markdown and HTML reports from its ``suite.json`` and run dirs."""
    problems: list[str] = []
    try:
        suite = read_suite(suite_dir)
        runs = suite_runs(suite_dir, suite)
    except Exception as e:
        return [f"reading {suite_dir}/suite.json: {e}"]
    for reporter in reporters():
        if hasattr(reporter, "write_suite"):
            _guarded(problems, f"suite {reporter.FILE}", partial(reporter.write_suite, Path(suite_dir), runs, suite))
    return problems


def rate_key(run: RunReport) -> str:
    """An experiment's row of the rates: the same experiment on another client or another release is
    another row, not a repetition (:attr:`RunReport.label`, ``<name>[.<client>][@<release>]``)."""
    return run.label


def occurrence_rates(runs: list[RunReport]) -> dict[str, Rate]:
    """Per row of the suite (:func:`rate_key`: experiment, client, release) over its repetitions:
    runs, passed, in how many runs each stage lost records, that rate, and its 95% Wilson interval.
    A row that did not apply to its release never ran, and counts nowhere.

    >>> from chaos.oracle.verdict import Counts, ExpectationResult, Trust
    >>> def run(broker: int) -> RunReport:
    ...     met = ExpectationResult(name="broker_loss == 0", passed=not broker, actual=broker)
    ...     v = Verdict.build(run_id="r", experiment="b1", counts=Counts(sent=9), anomalies={}, trust=Trust(),
    ...                       loss={"producer": 0, "broker": broker, "consumer": 0}, expectations=[met])
    ...     return RunReport(Path("x"), "b1", {}, v, None)
    >>> rates = occurrence_rates([run(3), run(0)])
    >>> rates["b1"].runs, rates["b1"].passed, rates["b1"].loss_rate
    (2, 1, {'producer': 0.0, 'broker': 0.5, 'consumer': 0.0})
    """
    counted: dict[str, dict[str, Any]] = {}
    for run in (r for r in runs if r.status != "not_applicable"):
        entry = counted.setdefault(rate_key(run), {"runs": 0, "passed": 0, "errors": 0, "loss_runs": {}})
        entry["runs"] += 1
        entry["passed"] += run.status == "passed"
        entry["errors"] += run.status in ("error", "inconclusive")  # no loss figure to count
        for stage, n in (run.verdict.loss.model_dump() if run.verdict else {}).items():
            entry["loss_runs"][stage] = entry["loss_runs"].get(stage, 0) + (1 if n else 0)
    return {key: _rate(**entry) for key, entry in counted.items()}


def _rate(runs: int, passed: int, errors: int, loss_runs: dict[str, int]) -> Rate:
    done = runs - errors
    return Rate(
        runs=runs,
        passed=passed,
        errors=errors,
        loss_runs=loss_runs,
        loss_rate={s: round(k / done, 3) if done else 0.0 for s, k in loss_runs.items()},
        loss_interval={s: list(wilson_interval(k, done)) for s, k in loss_runs.items()},
    )


def rate_cell(entry: Rate, stage: str) -> str:
    """How often ``stage`` lost records over an experiment's repetitions, with its 95% interval.

    >>> rate_cell(Rate(runs=5, errors=0, passed=2, loss_runs={"broker": 3}, loss_rate={"broker": 0.6},
    ...                loss_interval={"broker": [0.231, 0.882]}), "broker")
    '3/5 · 60% (23-88%)'
    """
    done = entry.runs - entry.errors
    k = entry.loss_runs.get(stage, 0)
    lo, hi = entry.loss_interval.get(stage, wilson_interval(k, done))
    return f"{k}/{done} · {entry.loss_rate.get(stage, 0.0):.0%} ({lo * 100:.0f}-{hi:.0%})"


def wilson_interval(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval (95% for ``z`` 1.96) of a rate seen ``k`` times in ``n`` runs,
    rounded to three places; ``(0.0, 1.0)`` without runs. Unlike ``k/n ± …`` it stays inside
    [0, 1] and is not empty at 0 of n or n of n, which is what a handful of repetitions gives.

    >>> wilson_interval(0, 5), wilson_interval(5, 5), wilson_interval(3, 5)
    ((0.0, 0.434), (0.566, 1.0), (0.231, 0.882))
    """
    if n <= 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return round(max(0.0, centre - half), 3), round(min(1.0, centre + half), 3)


class ReportListener:
    """Writes reports as lifecycle events say a run finished or a suite's results changed; a
    reporter that fails is shown through ``progress`` and never stops a run."""

    def __init__(self, progress: Progress = silent) -> None:
        self.progress = progress

    def __call__(self, event: Event) -> None:
        """Write the reports ``event`` calls for."""
        if isinstance(event, RunFinished):
            result = event.result
            for problem in write_run_reports(result.run_dir):
                self.progress(f"{event.run}: report not written: {problem}")
        elif isinstance(event, SuiteUpdated):
            for problem in write_suite_reports(event.suite):
                self.progress(f"suite report not written: {problem}")
