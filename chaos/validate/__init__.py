"""``kafka-chaos validate``: will this team's configuration lose messages? A static review of its
properties files, a fault matrix run against exactly those settings, and a one-page verdict.

The verdict is FAIL when a fault of the matrix lost records at any stage, or a file holds a setting
the clients would not apply (a misspelling, a bad value); loss risks the matrix did not trigger are
listed as risks. Each failure names the setting that caused it and the change that fixes it;
``--compare`` runs the fixed settings beside the team's to show the fix works.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chaos import rundir
from chaos.errors import UsageError
from chaos.validate.findings import PROCESSING, Finding, Processing, TeamConfig, locate
from chaos.validate.output import HowProcessed, MatrixRow, StaticFinding, ValidateFile
from chaos.validate.properties import Properties, PropertiesError, parse_properties, read_properties
from chaos.validate.review import recommended, review, settings_of
from chaos.workloads.clients import check_client

if TYPE_CHECKING:
    from chaos.experiments.app_model import ApplicationModel
    from chaos.experiments.runner import RunOptions
    from chaos.validate.matrix import FAULTS, Matrix, MatrixRun


def __getattr__(name: str) -> Any:
    """``FAULTS`` on first use: the matrix module brings the whole runner (Docker, Kafka clients),
    which the static review and the command line's start-up do without.

    Raises:
        AttributeError: any other name.
    """
    if name == "FAULTS":
        from chaos.validate.matrix import FAULTS

        return FAULTS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "FAULTS",
    "PROCESSING",
    "Finding",
    "Processing",
    "Properties",
    "PropertiesError",
    "TeamConfig",
    "ValidationReport",
    "parse_properties",
    "read_properties",
    "recommended",
    "review",
    "validate_files",
]


@dataclass(slots=True)
class ValidationReport:
    """The static review and (unless static only) the matrix, judged."""

    cfg: TeamConfig
    files: dict[str, str]
    matrix: Matrix | None = None
    out_dir: Path | None = None
    started: float = field(default_factory=time.time)

    @property
    def config_errors(self) -> list[Finding]:
        """Settings the clients would not apply as written."""
        return [f for f in self.cfg.findings if f.severity == "config"]

    def team_runs(self) -> list[MatrixRun]:
        """The matrix runs of the team's own settings."""
        return [r for r in (self.matrix.runs if self.matrix else []) if r.variant == "team"]

    def causes(self, run: MatrixRun) -> list[Finding]:
        """The settings that explain the loss of a failed run, by the stage that lost records."""
        v = run.result.verdict
        if v is None:
            return []
        found: list[Finding] = []
        for stage, lost in v.loss.model_dump().items():
            if lost:
                found += settings_of(stage, self.cfg.findings)
        return found

    @property
    def errored(self) -> bool:
        """A matrix run could not complete (Docker, the cluster): no verdict on those settings."""
        return any(r.result.error is not None for r in (self.matrix.runs if self.matrix else []))

    @property
    def exit_code(self) -> int:
        """0 PASS, 1 FAIL, 3 a matrix run could not complete (an infrastructure error is no FAIL),
        4 a matrix run's verdict was inconclusive (no loss figure to judge the settings by)."""
        if self.errored:
            return 3
        if any(r.status == "INCONCLUSIVE" for r in (self.matrix.runs if self.matrix else [])):
            return 4
        return 0 if self.passed else 1

    @property
    def passed(self) -> bool:
        """PASS: every setting is applied as written and every fault of the team's matrix lost
        nothing (static only: no setting risks loss)."""
        if self.config_errors:
            return False
        if self.matrix is None:
            return not any(f.severity == "loss" for f in self.cfg.findings)
        return all(r.passed for r in self.team_runs())

    def as_dict(self) -> dict[str, Any]:
        """validate.json, as data."""
        return self.output().model_dump(mode="json")

    def output(self) -> ValidateFile:
        """validate.json, as its typed model.

        Raises:
            pydantic.ValidationError: the outcome does not fit the contract (a bug, not bad input).
        """
        from chaos.reports.validation import cause_text
        from chaos.validate.known_bugs import judged

        runs = self.matrix.runs if self.matrix else []
        client_version = self.cfg.kafka.client_version if self.cfg.kafka is not None else None
        return ValidateFile(
            verdict="PASS" if self.passed else "FAIL",
            client=self.cfg.client,
            kafka_version=self.cfg.version,
            client_version=client_version,
            known_bugs=judged(self.cfg.version, client_version, self.cfg.client) if self.cfg.kafka is not None else [],
            processing=HowProcessed(
                value=self.cfg.processing, stated=self.cfg.processing_stated, process_ms=self.cfg.process_ms
            ),
            files=self.files,
            static=[self._static(f) for f in self.cfg.findings],
            matrix=[
                MatrixRow.model_validate(
                    {**r.as_dict(), "causes": [cause_text(c.setting, c.value, c.where, c.fix) for c in self.causes(r)]}
                )
                for r in runs
            ],
            recommended=recommended(self.cfg),
            seconds=round(self.matrix.seconds, 1) if self.matrix else 0.0,
            static_only=self.matrix is None,
        )

    def _static(self, finding: Finding) -> StaticFinding:
        kind, line = locate(finding, self.files)
        return StaticFinding.model_validate({**finding.as_dict(), "kind": kind, "line": line})

    def write(self, out_dir: Path) -> list[str]:
        """Write validate.json, validate.md, report.html, junit.xml and validate.sarif; returns
        reporter errors."""
        from chaos.reports.validation_ci import write_validation_reports

        out_dir.mkdir(parents=True, exist_ok=True)
        output = self.output()
        data = output.model_dump(mode="json")
        (out_dir / rundir.VALIDATE).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")  # its one writer
        return write_validation_reports(output, out_dir)


def validate_files(
    files: dict[str, Path],
    out_dir: Path,
    options: RunOptions | None,
    faults: Sequence[str],
    compare: bool = False,
    producer_mode: str = "sync",
    commit: str = "after_process",
    client: str = "java",
    processing: Processing | None = None,
    process_ms: int | None = None,
    kafka_version: str | None = None,
    app: ApplicationModel | None = None,
    client_version: str | None = None,
) -> tuple[ValidationReport, list[str]]:
    """Review the ``producer``/``consumer``/``topic``/``broker`` properties files against Kafka
    ``kafka_version``'s own definitions (default: the default release), run the fault matrix against
    them on ``client`` (``options`` None: static review only), write the reports into ``out_dir``.
    ``processing`` and ``process_ms`` say how the application processes records (None: not stated);
    ``app`` is the team's application, which the matrix runs as its consumer (docs/applications.md).
    ``client_version``: the Java client's release, whose definitions judge the producer and consumer
    files and whose jars run the matrix's Java workloads (None: ``kafka_version``).

    Returns the report and the reporters' errors.

    Raises:
        UsageError: a file is unreadable or malformed, an unknown fault (or one a team's cluster's
            backend cannot perform), or settings a client would refuse — all before any container starts.
        InfrastructureError: the matrix's cluster could not start, or Kafka's definitions could not
            be read (no JDK).
    """
    from chaos.faults.backends import check_kinds, external_backend
    from chaos.images.kafka_configs import kafka_configs, start_checking
    from chaos.images.recipes import DEFAULT_KAFKA_VERSION
    from chaos.validate.matrix import FAULTS, plan_matrix, run_matrix

    unknown = [f for f in faults if f not in FAULTS]
    if unknown or not faults:
        raise UsageError(f"unknown fault {unknown[0] if unknown else '(none)'!r}: use some of {', '.join(FAULTS)}")
    if options is not None and options.external is not None:
        backend = external_backend(options.external.allow_faults_on is not None, options.external.ssh is not None)
        for name in faults:
            check_kinds([str(s["kind"]) for s in FAULTS[name][1]], backend, f"the matrix's {name}")
    if processing is not None and processing not in PROCESSING:
        raise UsageError(f"unknown processing {processing!r}: use one of {', '.join(PROCESSING)}")
    if process_ms is not None and process_ms < 0:
        raise UsageError(f"--process-ms {process_ms} is negative: give the milliseconds one poll's records take")
    version = kafka_version or DEFAULT_KAFKA_VERSION
    parsed = {kind: read_properties(path) for kind, path in files.items()}  # bad input: exit 2 before a JDK is sought
    start_checking(version)  # its JVM starts while the definitions are read
    kafka = kafka_configs(version)
    if client_version is not None:
        kafka = kafka.with_client(kafka_configs(client_version))
    cfg = review(
        parsed["producer"],
        parsed["consumer"],
        parsed.get("topic"),
        parsed.get("broker"),
        check_client(client),
        kafka=kafka,
        processing=processing,
        process_ms=process_ms,
    )
    report = ValidationReport(cfg, {k: str(v) for k, v in files.items()})
    if options is not None:
        entries = plan_matrix(
            cfg, faults, compare, producer_mode, commit, app, team_cluster=options.external is not None
        )
        report.matrix = run_matrix(entries, cfg, out_dir, options)
    return report, report.write(out_dir)
