"""JUnit XML: one testcase per experiment run, so CI systems show experiments as tests. Each
testcase carries ``file`` and ``line``: the experiment file, at the failing expectation's key under
``expect:`` when one failed (else line 1), so CI annotators point at it. A row that did not apply to
its Kafka release is ``<skipped>`` with the reason, never a failure or an error."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chaos import rundir
from chaos.oracle.share_figures import share_sentence
from chaos.oracle.verdict import Availability, Verdict
from chaos.reports.places import run_place
from chaos.reports.releases import bug_on_release, client_versions, kafka_release, release_facts, release_items
from chaos.reports.words import anomaly_rows, witness_line

if TYPE_CHECKING:
    from chaos.reports import RunReport
    from chaos.results import SuiteFile


#: What this reporter writes into a run (and a suite) directory.
FILE = rundir.JUNIT


def _case(run: RunReport, classname: str) -> ET.Element:
    file, line = run_place(run, Path.cwd())
    case = ET.Element(
        "testcase", name=run.run_dir.name, classname=classname, time=f"{run.seconds:.1f}", file=file, line=str(line)
    )
    verdict = run.verdict
    if run.not_applicable is not None:
        _properties(case, release_properties(run.meta))
        ET.SubElement(case, "skipped", message=run.not_applicable[:500])
        return case
    if verdict is None:
        err = ET.SubElement(case, "error", message=(run.error or "no verdict").splitlines()[0][:500])
        err.text = run.error or ""
        return case
    _properties(case, properties(run.meta, verdict))
    text = release_text(run.meta, run.status) + describe(verdict)
    if not verdict.conclusive:
        reasons = "; ".join(verdict.trust.reasons)
        err = ET.SubElement(case, "error", message=f"inconclusive: {reasons}"[:500], type="Inconclusive")
        err.text = text
    elif failed := verdict.failed_expectations():
        message = "; ".join(e.sentence() for e in failed)
        ET.SubElement(case, "failure", message=message, type="ExpectationFailed").text = text
    ET.SubElement(case, "system-out").text = text
    return case


def _properties(case: ET.Element, found: list[tuple[str, str]]) -> None:
    props = ET.SubElement(case, "properties")
    for name, value in found:
        ET.SubElement(props, "property", name=name, value=value)


def release_properties(meta: dict[str, Any]) -> list[tuple[str, str]]:
    """Where a run ran, as properties: client and path, the Kafka release, each client's release
    (``client_version.<package>``), the release's feature levels (``feature.<name>``), group protocols
    and defaults in force (``default.<kind>.<key>``), and the known bug (``known_bug``, with
    ``known_bug.affected``: whether the release that decides has it). Older run directories have the
    first two only."""
    props = [
        ("client", str(meta.get("client") or "kafka-python")),
        ("client_path", str(meta.get("client_path") or "proxy")),
    ]
    if release := kafka_release(meta):
        props.append(("kafka_version", release))
    props += [(f"client_version.{name}", v) for name, v in client_versions(meta).items()]
    if facts := release_facts(meta):
        props += [(f"feature.{name}", str(level)) for name, level in facts.features.items()]
        if facts.group_protocols:
            props.append(("group_protocols", ",".join(facts.group_protocols)))
        props += [(f"default.{d.kind}.{d.key}", d.text) for d in facts.defaults]
    if found := bug_on_release(meta):
        affected = "unknown" if found.affected is None else str(found.affected).lower()
        props += [("known_bug", found.bug.id), ("known_bug.affected", affected)]
    return props


def release_text(meta: dict[str, Any], status: str) -> str:
    """A testcase's output lines on its releases and its known bug ("" for an older run directory)."""
    lines = [f"{what}: {text}" for what, text in release_items(meta)]
    if found := bug_on_release(meta):
        lines.append(f"known bug {found.bug.id} ({found.bug.url}): {found.standing()}. {found.measured(status)}")
    return "".join(f"{line}\n" for line in lines)


def properties(meta: dict[str, Any], verdict: Verdict) -> list[tuple[str, str]]:
    """A testcase's properties: where it ran (:func:`release_properties`), then the verdict's
    figures, a property each."""
    props = release_properties(meta)
    if cluster := verdict.details.cluster:
        props.append(("cluster", str(cluster)))
    sections: list[tuple[str, dict[str, Any]]] = [
        ("loss", verdict.loss.model_dump()),
        ("counts", verdict.counts.model_dump()),
        ("anomalies", {name: n for name, n, _ in anomaly_rows(verdict.anomalies)}),
        ("transactions", verdict.transactions.model_dump() if verdict.transactions else {}),
        ("transform", verdict.transform.model_dump() if verdict.transform else {}),
    ]
    props += [(f"{section}.{key}", str(value)) for section, figures in sections for key, value in figures.items()]
    for f in verdict.availability:
        props += _availability(f)
    props += [(f"causes.broker.{key}", str(n)) for key, n in (verdict.causes.get("broker") or {}).items()]
    return props


def _availability(f: Availability) -> list[tuple[str, str]]:
    base = f"availability.{f.fault}"
    props = [(f"{base}.no_ack_s", str(f.no_ack_s)), (f"{base}.heal_to_full_isr_s", str(f.heal_to_full_isr_s))]
    for period, p in f.latency_ms.items():
        props += [(f"{base}.latency_ms.{period}.p50", str(p.p50) if p else "None")]
        props += [(f"{base}.latency_ms.{period}.p99", str(p.p99) if p else "None")]
    return props


def describe(verdict: Verdict) -> str:
    """Loss, counts, anomalies and expectations of a verdict, a line each."""
    causes = verdict.causes.get("broker") or {}
    lines = ["loss by stage: " + ", ".join(f"{k}={v}" for k, v in verdict.loss.model_dump().items())]
    if any(causes.values()):
        lines.append("broker loss by cause: " + ", ".join(f"{k}={n}" for k, n in causes.items() if n))
    if line := witness_line(verdict.trust.witness):
        lines.append(line)
    if not verdict.conclusive:
        lines.append(f"INCONCLUSIVE: {'; '.join(verdict.trust.reasons)}")
    lines += [
        "counts: " + ", ".join(f"{k}={v}" for k, v in verdict.counts.model_dump().items()),
        "anomalies: " + ", ".join(f"{name}={n}" for name, n, _ in anomaly_rows(verdict.anomalies)),
        *(r.sentence() for r in verdict.rebalances),
        *(share_sentence(f) for f in verdict.share),
        *(f"{'PASS' if e.passed else 'FAIL'} {e.name} (actual {e.actual})" for e in verdict.expectations),
    ]
    return "\n".join(lines) + "\n"


def _suite_element(name: str, runs: list[RunReport], seconds: float) -> ET.Element:
    suite = ET.Element(
        "testsuite",
        name=name,
        tests=str(len(runs)),
        failures=str(sum(r.status == "failed" for r in runs)),
        errors=str(sum(r.status in ("error", "inconclusive") for r in runs)),
        skipped=str(sum(r.status == "not_applicable" for r in runs)),
        time=f"{seconds:.1f}",
    )
    for run in runs:
        suite.append(_case(run, f"kafka-chaos.{run.name}"))
    return suite


#: What XML 1.0 cannot carry at all, escaped or not: control characters but tab and line breaks,
#: lone surrogates, U+FFFE and U+FFFF. A key or value of a team's file may hold one (a DOS end-of-file
#: byte); written as it is, the file would not parse and CI would read no test at all.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    r"""``text`` with each character XML cannot carry written as its Python escape.

    >>> xml_safe("linger.ms\x1a"), xml_safe("ok\tfine\n")
    ('linger.ms\\x1a', 'ok\tfine\n')
    """
    return _NOT_XML.sub(lambda m: m.group().encode("unicode_escape", "backslashreplace").decode(), text)


def write_xml(element: ET.Element, path: Path) -> None:
    """Write a JUnit tree (indented, UTF-8) that always parses: see :func:`xml_safe`."""
    for node in element.iter():
        node.attrib = {key: xml_safe(value) for key, value in node.attrib.items()}
        node.text = xml_safe(node.text) if node.text else node.text
        node.tail = xml_safe(node.tail) if node.tail else node.tail
    tree = ET.ElementTree(element)
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)


def write_run(run: RunReport) -> None:
    """``<run_dir>/junit.xml`` with the run's one testcase."""
    write_xml(_suite_element("kafka-chaos", [run], run.seconds), run.run_dir / rundir.JUNIT)


def write_suite(suite_dir: Path, runs: list[RunReport], suite: SuiteFile) -> None:
    """``<suite_dir>/junit.xml`` with a testcase per experiment run; an experiment repeated
    (``--repeat``) gives each of its testcases ``rate.<stage>``, ``rate.<stage>.low`` and
    ``rate.<stage>.high`` (the 95% Wilson interval) over its repetitions."""
    from chaos.reports import occurrence_rates, rate_key

    element = _suite_element("kafka-chaos", runs, suite.seconds)
    rates = occurrence_rates(runs)
    for run, case in zip(runs, element.findall("testcase"), strict=True):
        entry = rates.get(rate_key(run))
        if entry is None or entry.runs < 2:
            continue
        props = case.find("properties")
        if props is None:
            props = ET.SubElement(case, "properties")
        ET.SubElement(props, "property", name="rate.runs", value=str(entry.runs - entry.errors))
        for stage, rate in entry.loss_rate.items():
            lo, hi = entry.loss_interval[stage]
            ET.SubElement(props, "property", name=f"rate.{stage}", value=str(rate))
            ET.SubElement(props, "property", name=f"rate.{stage}.low", value=str(lo))
            ET.SubElement(props, "property", name=f"rate.{stage}.high", value=str(hi))
    write_xml(element, suite_dir / rundir.JUNIT)
