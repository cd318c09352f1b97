"""JUnit XML: one testcase per experiment run, so CI systems show experiments as tests."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chaos import rundir
from chaos.reports.markdown import witness_line

if TYPE_CHECKING:
    from chaos.reports import RunReport


#: What this reporter writes into a run (and a suite) directory.
FILE = rundir.JUNIT


def _case(run: RunReport, classname: str) -> ET.Element:
    case = ET.Element("testcase", name=run.run_dir.name, classname=classname, time=f"{run.seconds:.1f}")
    verdict = run.verdict
    if verdict is None:
        err = ET.SubElement(case, "error", message=(run.error or "no verdict").splitlines()[0][:500])
        err.text = run.error or ""
        return case
    props = ET.SubElement(case, "properties")
    ET.SubElement(props, "property", name="client", value=str(run.meta.get("client") or "kafka-python"))
    ET.SubElement(props, "property", name="client_path", value=str(run.meta.get("client_path") or "proxy"))
    if cluster := (verdict.get("details") or {}).get("cluster"):
        ET.SubElement(props, "property", name="cluster", value=str(cluster))
    for section in ("loss", "counts", "anomalies", "transactions", "transform"):
        for key, value in (verdict.get(section) or {}).items():
            ET.SubElement(props, "property", name=f"{section}.{key}", value=str(value))
    for f in verdict.get("availability") or []:
        base = f"availability.{f['fault']}"
        ET.SubElement(props, "property", name=f"{base}.no_ack_s", value=str(f["no_ack_s"]))
        ET.SubElement(props, "property", name=f"{base}.heal_to_full_isr_s", value=str(f["heal_to_full_isr_s"]))
        for period, p in (f.get("latency_ms") or {}).items():
            for q in ("p50", "p99"):
                value = str(p[q]) if p else "None"
                ET.SubElement(props, "property", name=f"{base}.latency_ms.{period}.{q}", value=value)
    for key, value in ((verdict.get("causes") or {}).get("broker") or {}).items():
        ET.SubElement(props, "property", name=f"causes.broker.{key}", value=str(value))
    if verdict.get("conclusive") is False:
        reasons = "; ".join((verdict.get("trust") or {}).get("reasons") or [])
        err = ET.SubElement(case, "error", message=f"inconclusive: {reasons}"[:500], type="Inconclusive")
        err.text = describe(verdict)
    failed = [e for e in verdict.get("expectations", []) if not e.get("passed")]
    if failed and verdict.get("conclusive") is not False:
        message = "; ".join(f"expected {e['name']}, got {e['actual']}" for e in failed)
        fail = ET.SubElement(case, "failure", message=message, type="ExpectationFailed")
        fail.text = describe(verdict)
    out = ET.SubElement(case, "system-out")
    out.text = describe(verdict)
    return case


def describe(verdict: dict[str, Any]) -> str:
    """Loss, counts, anomalies and expectations of a verdict, a line each."""
    causes = (verdict.get("causes") or {}).get("broker") or {}
    lines = [
        "loss by stage: " + ", ".join(f"{k}={v}" for k, v in verdict.get("loss", {}).items()),
        *(
            ["broker loss by cause: " + ", ".join(f"{k}={n}" for k, n in causes.items() if n)]
            if any(causes.values())
            else []
        ),
        *([line] if (line := witness_line((verdict.get("trust") or {}).get("witness"))) else []),
        *(
            [f"INCONCLUSIVE: {'; '.join(verdict.get('trust', {}).get('reasons', []))}"]
            if verdict.get("conclusive") is False
            else []
        ),
        "counts: " + ", ".join(f"{k}={v}" for k, v in verdict.get("counts", {}).items()),
        "anomalies: " + ", ".join(f"{k}={v}" for k, v in verdict.get("anomalies", {}).items()),
    ]
    for e in verdict.get("expectations", []):
        lines.append(f"{'PASS' if e['passed'] else 'FAIL'} {e['name']} (actual {e['actual']})")
    return "\n".join(lines) + "\n"


def _suite_element(name: str, runs: list[RunReport], seconds: float) -> ET.Element:
    suite = ET.Element(
        "testsuite",
        name=name,
        tests=str(len(runs)),
        failures=str(sum(r.status == "failed" for r in runs)),
        errors=str(sum(r.status in ("error", "inconclusive") for r in runs)),
        skipped="0",
        time=f"{seconds:.1f}",
    )
    for run in runs:
        suite.append(_case(run, f"kafka-chaos.{run.name}"))
    return suite


def _write(element: ET.Element, path: Path) -> None:
    tree = ET.ElementTree(element)
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)


def write_run(run: RunReport) -> None:
    """``<run_dir>/junit.xml`` with the run's one testcase."""
    _write(_suite_element("kafka-chaos", [run], run.seconds), run.run_dir / rundir.JUNIT)


def write_suite(suite_dir: Path, runs: list[RunReport], meta: dict[str, Any]) -> None:
    """``<suite_dir>/junit.xml`` with a testcase per experiment run; an experiment repeated
    (``--repeat``) gives each of its testcases ``rate.<stage>``, ``rate.<stage>.low`` and
    ``rate.<stage>.high`` (the 95% Wilson interval) over its repetitions."""
    from chaos.reports import occurrence_rates

    element = _suite_element("kafka-chaos", runs, float(meta.get("seconds", 0.0)))
    rates = occurrence_rates(runs)
    for run, case in zip(runs, element.findall("testcase"), strict=True):
        client = run.meta.get("client")
        entry = rates.get(run.name if client in (None, "kafka-python") else f"{run.name}.{client}")
        if entry is None or entry["runs"] < 2:
            continue
        props = case.find("properties")
        if props is None:
            props = ET.SubElement(case, "properties")
        ET.SubElement(props, "property", name="rate.runs", value=str(entry["runs"] - entry["errors"]))
        for stage, rate in entry["loss_rate"].items():
            lo, hi = entry["loss_interval"][stage]
            ET.SubElement(props, "property", name=f"rate.{stage}", value=str(rate))
            ET.SubElement(props, "property", name=f"rate.{stage}.low", value=str(lo))
            ET.SubElement(props, "property", name=f"rate.{stage}.high", value=str(hi))
    _write(element, suite_dir / rundir.JUNIT)
