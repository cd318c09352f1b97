"""``validate.json``: the contract of what ``kafka-chaos validate`` found, as a frozen, typed model
(``kafka-chaos schema validate`` prints its JSON Schema)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from chaos.oracle.verdict import Counts, Loss
from chaos.validate.findings import FileKind, Severity, Stage


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class HowProcessed(_Model):
    """How the team's consumer processes a batch, as stated or assumed."""

    value: str
    stated: bool
    process_ms: int | None


class StaticFinding(_Model):
    """One reviewed setting of the team's files."""

    severity: Severity = Field(description="how bad")
    stage: Stage = Field(description="the stage it bears on")
    setting: str
    value: str | None
    where: str = Field(description="the file and line it came from, or the default it is")
    kind: FileKind = Field(
        description="the file the setting is in, or belongs in when it is not set there (a key of files, "
        "which lacks it when no such file was given)"
    )
    line: int | None = Field(
        description="its line in that file; null when it is not set there (a default in force, or not stated)"
    )
    why: str
    fix: str
    change: tuple[str, str, str | None] | None = Field(default=None, description="(file kind, key, value or null)")
    explains: bool = True


class MatrixRow(_Model):
    """One run of the dynamic matrix: a fault, on the team's settings or a variant of them."""

    fault: str
    variant: str
    description: str
    status: Literal["PASS", "FAIL", "INCONCLUSIVE", "ERROR"]
    loss: Loss | None
    unsure: list[str]
    anomalies: dict[str, int] | None
    counts: Counts | None
    error: str | None
    run_dir: str
    seconds: float
    causes: list[str] = Field(default_factory=list, description="the settings that explain its loss")
    application_logs: list[str] = Field(
        default_factory=list, description="the team's application's output (--app), relative to validate.json"
    )


class KnownBug(_Model):
    """A known Kafka bug, judged against the team's releases: whether theirs has it, and the
    experiment (the regression row) that reproduces it."""

    id: str = Field(description="Kafka's JIRA id, e.g. KAFKA-19012")
    title: str
    url: str
    side: Literal["client", "broker"] = Field(description="whose release decides: the Java client's or the cluster's")
    release: str = Field(description="the team's release of that side")
    affected: bool
    fixed_in: list[str] = Field(description="the first release with the fix on each line fixed")
    row: str = Field(description="the regression row: an experiment in experiments/")


class ValidateFile(_Model):
    """``validate.json``."""

    schema_version: Literal[1] = 1
    verdict: Literal["PASS", "FAIL"]
    client: str
    kafka_version: str
    client_version: str | None = Field(None, description="the Java client's release, when not the cluster's")
    known_bugs: list[KnownBug] = Field(
        default_factory=list, description="the known Kafka bugs of the regression rows, judged against these releases"
    )
    processing: HowProcessed
    files: dict[str, str] = Field(description="file kind -> path")
    static: list[StaticFinding]
    matrix: list[MatrixRow]
    recommended: dict[str, dict[str, str]] = Field(description="file kind -> settings with every fix applied")
    seconds: float
    static_only: bool
