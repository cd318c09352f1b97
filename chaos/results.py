"""What a run or a suite ended with, and the exit codes (``docs/exit-codes.md``).

Here, below the runner and the reporters, so both can import them without an import circle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from chaos.events import Event
from chaos.oracle.verdict import Counts, ExpectationResult, Loss, Verdict

#: 0 every expectation met · 1 one failed · 2 usage or input error · 3 infrastructure error ·
#: 4 the verdict is inconclusive (its inputs were not whole: no loss figure to judge).
#: ``not_applicable``: the row needs a newer release than it was asked to run on; it never ran.
Status = Literal["passed", "failed", "inconclusive", "error", "not_applicable"]
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INFRA, EXIT_INCONCLUSIVE = 0, 1, 2, 3, 4


@dataclass(slots=True)
class RunResult:
    """The outcome of one experiment run: a verdict, or the error that stopped it."""

    name: str
    path: Path | None
    run_dir: Path
    run_id: str
    repetition: int = 1
    verdict: Verdict | None = None
    error: str | None = None
    error_kind: str | None = None
    seconds: float = 0.0
    phases: list[dict[str, Any]] = field(default_factory=list)
    #: How the run got its cluster: ``fresh``, ``reused`` (a suite's, reset after the run before),
    #: ``fresh (reset of … failed: …)``, ``given`` (the cluster of ``--cluster``, reset before the
    #: run) or ``shared`` (a validate matrix's, scenarios).
    cluster: str = ""
    #: The run id of the cluster it ran on (its containers' label; the run's own id when fresh).
    cluster_id: str = ""
    #: How its clients reached the brokers: ``proxy`` (through toxiproxy) or ``direct``.
    client_path: str = "proxy"
    #: Why the row does not apply to its release (it did not run), e.g. "not applicable on Kafka 3.9.1: needs …".
    not_applicable: str | None = None

    @property
    def exit_code(self) -> int:
        """0 every expectation met (or the row does not apply) · 1 one failed · 3 the run could not
        complete · 4 inconclusive."""
        if self.not_applicable is not None:
            return EXIT_OK
        if self.error is not None or self.verdict is None:
            return EXIT_INFRA
        if not self.verdict.conclusive:
            return EXIT_INCONCLUSIVE
        return EXIT_OK if self.verdict.passed else EXIT_FAILED

    @property
    def status(self) -> Status:
        """``passed``, ``failed``, ``inconclusive``, ``error`` or ``not_applicable``."""
        if self.not_applicable is not None:
            return "not_applicable"
        statuses: dict[int, Status] = {EXIT_OK: "passed", EXIT_FAILED: "failed", EXIT_INCONCLUSIVE: "inconclusive"}
        return statuses.get(self.exit_code, "error")

    def as_dict(self) -> dict[str, Any]:
        """For ``suite.json``."""
        return self.outcome().model_dump(mode="json")

    def outcome(self) -> RunOutcome:
        """Its row of ``suite.json``, typed."""
        v = self.verdict
        return RunOutcome(
            name=self.name,
            file=str(self.path) if self.path else None,
            run_dir=str(self.run_dir),
            run_id=self.run_id,
            repetition=self.repetition,
            status=self.status,
            seconds=round(self.seconds, 1),
            cluster=self.cluster,
            cluster_id=self.cluster_id,
            client_path=self.client_path,
            error=self.error,
            not_applicable=self.not_applicable,
            loss=v.loss if v else None,
            causes=v.causes if v and v.conclusive else None,
            counts=v.counts if v else None,
            anomalies=v.anomalies if v else None,
            expectations=v.expectations if v else [],
        )


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RunOutcome(_Model):
    """One run of a suite, as ``suite.json`` lists it."""

    name: str
    file: str | None = Field(description="the experiment file, where it came from one")
    run_dir: str
    run_id: str
    repetition: int
    status: Status
    seconds: float
    cluster: str = Field(description="how the run got its cluster")
    cluster_id: str
    client_path: str
    error: str | None
    not_applicable: str | None = Field(None, description="why the row did not run on its release")
    loss: Loss | None
    causes: dict[str, dict[str, int]] | None
    counts: Counts | None
    anomalies: dict[str, int] | None
    expectations: list[ExpectationResult]


class Rate(_Model):
    """How often each stage lost records over an experiment's repetitions."""

    runs: int
    passed: int
    errors: int = Field(description="runs with no loss figure (errors and inconclusive verdicts)")
    loss_runs: dict[str, int]
    loss_rate: dict[str, float]
    loss_interval: dict[str, list[float]] = Field(description="stage -> 95% Wilson interval [low, high]")


class SuiteFile(_Model):
    """``suite.json``."""

    schema_version: Literal[1] = 1
    suite_dir: str
    seconds: float
    interrupted: bool
    exit_code: int | None
    runs: list[RunOutcome]
    rates: dict[str, Rate] = Field(
        description="a row of the suite, <name>[.<client>][@<release>] (run.json's label) -> its rates over "
        "repetitions; rows that did not apply to their release are left out"
    )


@dataclass(slots=True)
class SuiteResult:
    """Every run of a suite, and where its reports are."""

    suite_dir: Path
    results: list[RunResult]
    seconds: float
    interrupted: bool = False

    @property
    def exit_code(self) -> int:
        """3 if a run could not complete, else 4 if a verdict was inconclusive, else 1 if an
        expectation failed, else 0."""
        codes = {r.exit_code for r in self.results}
        if EXIT_INFRA in codes:
            return EXIT_INFRA
        if EXIT_INCONCLUSIVE in codes:
            return EXIT_INCONCLUSIVE
        return EXIT_FAILED if EXIT_FAILED in codes else EXIT_OK


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFinished(Event):
    """A run ended, with its result (a verdict, or the error that stopped it)."""

    kind: ClassVar[str] = "run_finished"
    result: RunResult


@dataclass(frozen=True, slots=True, kw_only=True)
class SuiteUpdated(Event):
    """A suite's results changed: after every run, and at its end."""

    kind: ClassVar[str] = "suite_updated"
    suite: SuiteResult
