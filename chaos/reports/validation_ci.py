"""What CI systems read of ``validate``: ``junit.xml`` and ``validate.sarif``, from ``validate.json``'s
data alone, each pointing at the properties file and line of every finding.

The JUnit file fails exactly when validate exits non-zero: a failing testcase per setting that makes
it FAIL (Kafka refuses or ignores it; a loss risk when no matrix ran), a failing one per matrix run
of the team's settings that lost records, an error per matrix run that could not complete or was
inconclusive; every other finding and run is a passing testcase.
"""

from __future__ import annotations

import hashlib
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import quote

from chaos import __version__, rundir
from chaos.reports.junit import write_xml
from chaos.reports.places import repo_path
from chaos.reports.validation import (
    LABEL,
    Finding,
    MatrixRun,
    Validation,
    fails,
    finding_file,
    finding_text,
    findings,
    first_cause,
    loss_text,
    write_html,
    write_markdown,
)

#: The official schema of the SARIF 2.1.0 files this writes (OASIS, errata 01).
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
#: SARIF's level of each severity: what fails validate is an error, a risk to weigh a warning.
SARIF_LEVEL = {"config": "error", "loss": "error", "duplicates": "warning", "availability": "warning", "info": "note"}
#: JUnit's failure type of each severity that can fail validate.
_FAILURE_TYPE = {"config": "SettingNotApplied", "loss": "LossRisk"}


def place(data: Validation, f: Finding, root: Path) -> tuple[str, int]:
    """The repository path and line a finding points at (line 1 when the setting is not set)."""
    return repo_path(finding_file(data, f), root), f.line or 1


def matrix_place(data: Validation, row: MatrixRun, root: Path) -> tuple[str, int]:
    """Where a matrix run points: the setting its loss is put down to, else the producer file."""
    cause = first_cause(data, row)
    return place(data, cause, root) if cause is not None else (repo_path(data.files["producer"], root), 1)


def junit(data: Validation, root: Path) -> ET.Element:
    """The ``<testsuite>`` of a validation, paths relative to ``root`` (the repository's)."""
    suite = ET.Element("testsuite", name=f"kafka-chaos validate ({data.client})", time=f"{data.seconds:.1f}")
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", name="client", value=data.client)
    ET.SubElement(props, "property", name="kafka_version", value=data.kafka_version)
    ET.SubElement(props, "property", name="processing", value=data.processing.value)
    ET.SubElement(props, "property", name="verdict", value=data.verdict)
    outcomes = [_finding_case(suite, data, f, root) for f in findings(data)]
    outcomes += [_matrix_case(suite, data, r, root) for r in data.matrix]
    suite.set("tests", str(len(outcomes)))
    suite.set("failures", str(outcomes.count("failure")))
    suite.set("errors", str(outcomes.count("error")))
    suite.set("skipped", "0")
    return suite


def _finding_case(suite: ET.Element, data: Validation, f: Finding, root: Path) -> str:
    """Add ``f``'s testcase to ``suite``; returns ``failure`` or ``passed``."""
    file, line = place(data, f, root)
    name = f"{f.setting} ({LABEL[f.severity]})"
    case = ET.SubElement(suite, "testcase", name=name, classname=f"validate.static.{f.kind}", file=file, line=str(line))
    text = finding_text(data, f, root)
    if fails(data, f):
        ET.SubElement(case, "failure", message=text[:500], type=_FAILURE_TYPE[f.severity]).text = text
        return "failure"
    if f.severity == "loss":
        text += " (a loss risk the fault matrix judges: see its testcases)"
    ET.SubElement(case, "system-out").text = text
    return "passed"


def _matrix_case(suite: ET.Element, data: Validation, r: MatrixRun, root: Path) -> str:
    """Add ``r``'s testcase to ``suite``; returns what it is: ``error``, ``failure`` or ``passed``."""
    file, line = matrix_place(data, r, root)
    attrs = {"classname": "validate.matrix", "time": f"{r.seconds:.1f}", "file": file, "line": str(line)}
    case = ET.SubElement(suite, "testcase", name=f"{r.fault} [{r.variant}]", attrib=attrs)
    if r.status in ("ERROR", "INCONCLUSIVE"):
        ET.SubElement(case, "error", message=(str(r.error) if r.status == "ERROR" else loss_text(r))[:500])
        return "error"
    if r.status == "FAIL" and r.variant == "team":
        ET.SubElement(case, "failure", message=loss_text(r)).text = "\n".join(r.causes)
        return "failure"
    if r.status == "FAIL":  # the verdict is the team's settings'; a variant beside them only shows the fix
        ET.SubElement(case, "system-out").text = f"the {r.variant} settings lost records too: {loss_text(r)}"
    return "passed"


def write_junit(data: Validation, out_dir: Path) -> None:
    """junit.xml, paths relative to the working directory (CI's: the repository's root)."""
    write_xml(junit(data, Path.cwd()), out_dir / rundir.JUNIT)


def sarif(data: Validation, root: Path) -> dict[str, Any]:
    """A SARIF 2.1.0 log of the findings: one result per finding, its rule the setting, at the
    setting's line (line 1 of the file it is missing from when a default is in force)."""
    ordered = findings(data)
    rules: dict[str, int] = {}
    for f in ordered:
        rules.setdefault(f.setting, len(rules))
    driver = {
        "name": "kafka-chaos",
        "version": __version__,
        "rules": [_rule(setting) for setting in rules],
    }
    run = {
        "tool": {"driver": driver},
        "results": [_result(data, f, rules[f.setting], root) for f in ordered],
        "properties": {
            "verdict": data.verdict,
            "client": data.client,
            "kafkaVersion": data.kafka_version,
            "staticOnly": data.static_only,
        },
    }
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def _rule(setting: str) -> dict[str, Any]:
    return {
        "id": setting,
        "shortDescription": {"text": f"the {setting} setting, reviewed for message loss"},
        "properties": {"tags": ["kafka", "configuration"]},
    }


def _result(data: Validation, f: Finding, index: int, root: Path) -> dict[str, Any]:
    file, line = place(data, f, root)
    # Numbers masked: the lines a duplicated key is on and the release that judged move with edits
    # and upgrades, and code scanning would close the alert and open another.
    identity = "|".join((f.kind, f.setting, f.severity, re.sub(r"\d+", "#", f.why)))
    return {
        "ruleId": f.setting,
        "ruleIndex": index,
        "level": SARIF_LEVEL[f.severity],
        "message": {"text": finding_text(data, f, root)},
        "locations": [{"physicalLocation": {"artifactLocation": _artifact(file), "region": {"startLine": line}}}],
        # Stable while the line moves: code scanning keeps one alert per finding across commits.
        "partialFingerprints": {"kafkaChaosFinding/v1": hashlib.sha256(identity.encode()).hexdigest()[:32]},
        "properties": {"severity": f.severity, "kind": f.kind, "where": f.where, "setInFile": f.line is not None},
    }


def _artifact(file: str) -> dict[str, str]:
    """A file relative to the repository's root (``%SRCROOT%``), as code scanning wants; a file
    outside it by its absolute ``file:`` URI."""
    if Path(file).is_absolute():
        return {"uri": Path(file).as_uri()}
    return {"uri": quote(file), "uriBaseId": "%SRCROOT%"}


def write_sarif(data: Validation, out_dir: Path) -> None:
    """validate.sarif, paths relative to the working directory (CI's: the repository's root)."""
    text = json.dumps(sarif(data, Path.cwd()), indent=2) + "\n"
    (out_dir / rundir.VALIDATE_SARIF).write_text(text)


def write_validation_reports(data: Validation, out_dir: Path) -> list[str]:
    """Write validate.md, report.html, junit.xml and validate.sarif from ``data``; returns reporter
    errors (a failing reporter never hides the verdict)."""
    problems: list[str] = []
    writers = (
        (rundir.VALIDATE_MD, write_markdown),
        (rundir.REPORT, write_html),
        (rundir.JUNIT, write_junit),
        (rundir.VALIDATE_SARIF, write_sarif),
    )
    for name, write in writers:
        try:
            write(data, out_dir)
        except Exception as e:
            problems.append(f"{name}: {type(e).__name__}: {e}")
    return problems
