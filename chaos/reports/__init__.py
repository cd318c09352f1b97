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

from chaos import rundir
from chaos.errors import UsageError
from chaos.events import Event
from chaos.progress import Progress, silent
from chaos.results import Rate, RunFinished, SuiteFile, SuiteResult, SuiteUpdated

log = logging.getLogger(__name__)


@dataclass(slots=True)
class RunReport:
    """What reporters know about one run, read from its directory."""

    run_dir: Path
    name: str
    meta: dict[str, Any]
    verdict: dict[str, Any] | None
    error: str | None
    phases: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> str:
        """``passed``, ``failed``, ``inconclusive`` or ``error``."""
        if self.verdict is None:
            return "error"
        if self.verdict.get("conclusive") is False:
            return "inconclusive"
        return "passed" if self.verdict.get("passed") else "failed"

    @property
    def seconds(self) -> float:
        """Wall time of the run (from its phases)."""
        if not self.phases:
            return 0.0
        end = max(float(p.get("end") or p["start"]) for p in self.phases)
        return end - float(self.phases[0]["start"])


def load_run(run_dir: Path) -> RunReport:
    """Read a run directory for the reporters.

    Raises:
        UsageError: ``run_dir`` is not a run directory.
    """
    from chaos.reports.series import read_phases

    run_dir = Path(run_dir)
    if not (run_dir / rundir.RUN).exists() and not (run_dir / rundir.VERDICT).exists():
        raise UsageError(f"{run_dir} is not a run directory (no run.json or verdict.json): pass reports/<suite>/<run>")
    meta: dict[str, Any] = {}
    if (run_dir / rundir.RUN).exists():
        meta = json.loads((run_dir / rundir.RUN).read_text())
    verdict = json.loads((run_dir / rundir.VERDICT).read_text()) if (run_dir / rundir.VERDICT).exists() else None
    error = (run_dir / rundir.ERROR).read_text().strip() if (run_dir / rundir.ERROR).exists() else None
    if verdict is None and error is None:
        error = "the run ended before a verdict (see its phases and logs)"
    name = str(meta.get("experiment") or (verdict or {}).get("experiment") or run_dir.name)
    return RunReport(run_dir, name, meta, verdict, error, read_phases(run_dir))


def reporters() -> list[ModuleType]:
    """Every reporter of this package, in name order: a module of ``chaos.reports`` with
    ``FILE`` (what it writes), ``write_run(run)`` and optionally ``write_suite(dir, runs, meta)``.
    A new reporter is one such module: nothing else needs to name it.

    >>> [r.FILE for r in reporters()]
    ['report.html', 'junit.xml', 'summary.md']
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


def suite_runs(suite_dir: Path) -> list[RunReport]:
    """The runs of a suite, in the order they ran (from ``suite.json``)."""
    data = json.loads((Path(suite_dir) / rundir.SUITE).read_text())
    runs = []
    for entry in data.get("runs", []):
        run_dir = Path(suite_dir) / Path(entry["run_dir"]).name
        try:
            runs.append(load_run(run_dir))
        except UsageError:
            runs.append(RunReport(run_dir, entry["name"], {}, None, entry.get("error") or "no run directory"))
    return runs


def _report_of(run_dir: Path, name: str) -> RunReport:
    try:
        return load_run(run_dir)
    except UsageError:
        return RunReport(run_dir, name, {}, None, "no run directory")


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
        rates={k: Rate.model_validate(v) for k, v in occurrence_rates(reports).items()},
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
        runs = suite_runs(suite_dir)
        meta = json.loads((Path(suite_dir) / rundir.SUITE).read_text())
    except Exception as e:
        return [f"reading {suite_dir}/suite.json: {e}"]
    for reporter in reporters():
        if hasattr(reporter, "write_suite"):
            _guarded(problems, f"suite {reporter.FILE}", partial(reporter.write_suite, Path(suite_dir), runs, meta))
    return problems


def occurrence_rates(runs: list[RunReport]) -> dict[str, dict[str, Any]]:
    """Per experiment (and client, ``<name>.<client>`` for any but kafka-python) over its repetitions:
    runs, passed, in how many runs each stage lost records, that rate, and its 95% Wilson interval.

    >>> r = RunReport(Path("x"), "b1", {}, {"passed": True, "loss": {"broker": 3, "producer": 0}}, None)
    >>> rates = occurrence_rates([r, RunReport(Path("y"), "b1", {}, {"passed": False, "loss": {"broker": 0}}, None)])
    >>> rates["b1"]["runs"], rates["b1"]["passed"], rates["b1"]["loss_rate"]
    (2, 1, {'broker': 0.5, 'producer': 0.0})
    """
    out: dict[str, dict[str, Any]] = {}
    for run in runs:
        # The same experiment on another client is another row, not a repetition.
        client = run.meta.get("client")
        key = run.name if client in (None, "kafka-python") else f"{run.name}.{client}"
        entry = out.setdefault(key, {"runs": 0, "passed": 0, "errors": 0, "loss_runs": {}})
        entry["runs"] += 1
        entry["passed"] += run.status == "passed"
        entry["errors"] += run.status in ("error", "inconclusive")  # no loss figure to count
        for stage, n in ((run.verdict or {}).get("loss") or {}).items():
            entry["loss_runs"][stage] = entry["loss_runs"].get(stage, 0) + (1 if n else 0)
    for entry in out.values():
        done = entry["runs"] - entry["errors"]
        entry["loss_rate"] = {s: round(k / done, 3) if done else 0.0 for s, k in entry["loss_runs"].items()}
        entry["loss_interval"] = {s: list(wilson_interval(k, done)) for s, k in entry["loss_runs"].items()}
    return out


def rate_cell(entry: dict[str, Any], stage: str) -> str:
    """How often ``stage`` lost records over an experiment's repetitions, with its 95% interval.

    >>> rate_cell({"runs": 5, "errors": 0, "loss_runs": {"broker": 3}, "loss_rate": {"broker": 0.6},
    ...            "loss_interval": {"broker": [0.231, 0.882]}}, "broker")
    '3/5 · 60% (23-88%)'
    """
    done = entry["runs"] - entry["errors"]
    k = entry["loss_runs"].get(stage, 0)
    lo, hi = entry["loss_interval"].get(stage, wilson_interval(k, done))
    return f"{k}/{done} · {entry['loss_rate'].get(stage, 0.0):.0%} ({lo * 100:.0f}-{hi:.0%})"


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


def clusters_line(meta: dict[str, Any]) -> str:
    """How a suite's runs got their clusters, from ``suite.json`` (empty for older suites).

    >>> clusters_line({"runs": [{"name": "a", "cluster": "fresh", "cluster_id": "c1"},
    ...     {"name": "b", "cluster": "reused", "cluster_id": "c1"},
    ...     {"name": "c", "cluster": "fresh (reset of c1 failed: x)", "cluster_id": "c2"}]})
    '3 runs on 2 clusters, 1 reused after a reset; c started afresh: reset of c1 failed: x'
    >>> clusters_line({"runs": [{"name": "a", "cluster": "given", "cluster_id": "c1"}]})
    '1 run on cluster c1 (--cluster), reset before each'
    """
    runs = [r for r in meta.get("runs") or [] if r.get("cluster")]
    if not runs:
        return ""
    clusters = {r.get("cluster_id") or r["name"] for r in runs}
    if all(r["cluster"] == "given" for r in runs):
        plural = "s" if len(runs) > 1 else ""
        return f"{len(runs)} run{plural} on cluster {', '.join(sorted(clusters))} (--cluster), reset before each"
    reused = sum(r["cluster"] == "reused" for r in runs)
    line = (
        f"{len(runs)} runs on {len(clusters)} cluster{'s' if len(clusters) > 1 else ''}, {reused} reused after a reset"
    )
    failed = [r for r in runs if str(r["cluster"]).startswith("fresh (")]
    for r in failed:
        line += f"; {r['name']} started afresh: {str(r['cluster'])[len('fresh (') : -1]}"
    return line
