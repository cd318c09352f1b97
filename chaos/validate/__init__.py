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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaos.validate.matrix import FAULTS, Matrix, MatrixRun
from chaos.validate.properties import Properties, PropertiesError, parse_properties, read_properties
from chaos.validate.review import Finding, TeamConfig, recommended, review, settings_of

__all__ = [
    "FAULTS",
    "Finding",
    "Properties",
    "PropertiesError",
    "TeamConfig",
    "ValidationReport",
    "parse_properties",
    "read_properties",
    "recommended",
    "review",
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
        for stage, lost in v.loss.items():
            if lost > 0:
                found += settings_of(stage, self.cfg.findings)
        return found

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
        """validate.json."""
        runs = self.matrix.runs if self.matrix else []
        return {
            "verdict": "PASS" if self.passed else "FAIL",
            "files": self.files,
            "static": [f.as_dict() for f in self.cfg.findings],
            "matrix": [
                {**r.as_dict(), "causes": [f"{c.setting}={c.value} ({c.where}): {c.fix}" for c in self.causes(r)]}
                for r in runs
            ],
            "recommended": recommended(self.cfg),
            "seconds": round(self.matrix.seconds, 1) if self.matrix else 0.0,
            "static_only": self.matrix is None,
        }

    def write(self, out_dir: Path) -> list[str]:
        """Write validate.json, validate.md, report.html and junit.xml; returns reporter errors."""
        from chaos.validate import report

        out_dir.mkdir(parents=True, exist_ok=True)
        problems: list[str] = []
        data = self.as_dict()
        (out_dir / "validate.json").write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        for name, write in (
            ("validate.md", report.write_markdown),
            ("report.html", report.write_html),
            ("junit.xml", report.write_junit),
        ):
            try:
                write(self, data, out_dir)
            except Exception as e:  # a failing reporter never hides the verdict
                problems.append(f"{name}: {type(e).__name__}: {e}")
        return problems
