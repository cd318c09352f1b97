"""The one-page verdict of ``validate``: Markdown, HTML and JUnit, rebuilt from ``validate.json``'s
data alone (like every reporter, from what is on disk)."""

from __future__ import annotations

import html
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from chaos import rundir

SEVERITY_ORDER = ("config", "loss", "duplicates", "availability", "info")
LABEL = {
    "config": "refused / not applied",
    "loss": "loss risk",
    "duplicates": "duplicates",
    "availability": "availability",
    "info": "note",
}


def _findings(data: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted(data["static"], key=lambda f: SEVERITY_ORDER.index(f["severity"]))


def config_errors(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The findings of settings the clients would not apply as written."""
    return [f for f in data["static"] if f["severity"] == "config"]


def _context(data: dict[str, Any]) -> list[str]:
    """What the verdict was judged by: client, Kafka release, how the application processes."""
    processing = data.get("processing") or {}
    how = processing.get("value", "batched")
    said = "" if processing.get("stated") else " (assumed: say `--processing in-poll|batched|async`)"
    out = [
        f"client: {data.get('client', 'kafka-python')}",
        f"judged by Kafka {data.get('kafka_version', '?')}'s own definitions",
    ]
    out.append(f"processing: {how}{said}")
    if processing.get("process_ms") is not None:
        out.append(f"processing time: {processing['process_ms']} ms per poll")
    return out


def _loss(row: dict[str, Any]) -> str:
    if row["loss"] is None:
        return f"run failed: {row['error']}"
    if row.get("status") == "INCONCLUSIVE":
        return "inconclusive, no loss figure: " + "; ".join(row.get("unsure") or [])
    loss = row["loss"]
    dup = (row["anomalies"] or {}).get("duplicates_in_log", 0)
    return f"producer {loss['producer']}, broker {loss['broker']}, consumer {loss['consumer']}; duplicates {dup}"


def markdown(data: dict[str, Any]) -> str:
    """The Markdown page."""
    lines = [f"# kafka-chaos validate: {data['verdict']}", ""]
    lines += [f"- {line}" for line in _context(data)]
    lines += [f"- {kind}: `{path}`" for kind, path in data["files"].items()]
    lines.append("")
    fails = [r for r in data["matrix"] if r["variant"] == "team" and r["status"] != "PASS"]
    if data["verdict"] == "FAIL":
        lines.append("## Why it fails")
        lines.append("")
        for r in fails:
            causes = "; ".join(r["causes"]) or "no single setting explains it: see the run's report"
            lines.append(f"- **{r['fault']}** lost records ({_loss(r)}). Cause and fix: {causes}")
        for f in config_errors(data):
            lines.append(f"- `{f['setting']}` ({f['where']}) is not applied: {f['why']}. Fix: {f['fix']}")
        if data["static_only"]:
            for f in data["static"]:
                if f["severity"] == "loss":
                    lines.append(f"- `{f['setting']}` ({f['where']}) risks loss: {f['why']}. Fix: {f['fix']}")
        lines.append("")
    shown = {c for r in data["matrix"] for c in r["causes"]}
    untriggered = [
        f
        for f in data["static"]
        if f["severity"] == "loss" and not any(c.startswith(f"{f['setting']}=") for c in shown)
    ]
    if untriggered and data["matrix"]:
        lines += ["## Risks the matrix did not trigger", ""]
        lines += [f"- `{f['setting']}` ({f['where']}): {f['why']}. Fix: {f['fix']}" for f in untriggered]
        lines.append("")
    if data["matrix"]:
        lines += ["## Fault matrix", "", "| fault | settings | result | loss by stage |", "|---|---|---|---|"]
        for r in data["matrix"]:
            lines.append(f"| {r['fault']} | {r['variant']} | {r['status']} | {_loss(r)} |")
        lines += ["", f"Matrix wall time: {data['seconds'] / 60:.1f} min.", ""]
    elif data["static_only"]:
        lines += ["Static review only (`--static-only`): no faults were run.", ""]
    lines += ["## Settings reviewed", "", "| | setting | value | where | why | fix |", "|---|---|---|---|---|---|"]
    for row in _findings(data):
        value = row["value"] if row["value"] is not None else "(default)"
        label = LABEL[row["severity"]]
        lines.append(f"| {label} | `{row['setting']}` | {value} | {row['where']} | {row['why']} | {row['fix']} |")
    rec = data["recommended"]
    lines += ["", "## Recommended settings", ""]
    for kind in ("producer", "consumer", "topic", "broker"):
        if rec.get(kind):
            lines.append(f"- {kind}: " + ", ".join(f"`{k}={v}`" for k, v in sorted(rec[kind].items())))
    return "\n".join(lines) + "\n"


def write_markdown(data: dict[str, Any], out_dir: Path) -> None:
    """validate.md."""
    (out_dir / rundir.VALIDATE_MD).write_text(markdown(data))


def write_html(data: dict[str, Any], out_dir: Path) -> None:
    """report.html: the same page, self-contained, with links to each run's own report."""
    from chaos.reports.html import CSS

    e = html.escape
    color = "#2ca02c" if data["verdict"] == "PASS" else "#d62728"
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>validate: {data['verdict']}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>kafka-chaos validate <span class='badge' style='background:{color}'>{data['verdict']}</span></h1>",
        "<p>"
        + "<br>".join(e(line) for line in _context(data))
        + "<br>"
        + "<br>".join(f"{e(k)}: <code>{e(v)}</code>" for k, v in data["files"].items())
        + "</p>",
    ]
    if data["matrix"]:
        rows = []
        for r in data["matrix"]:
            cls = "pass" if r["status"] == "PASS" else "fail"
            link = f"{Path(r['run_dir']).name}/report.html"
            causes = "<br>".join(e(c) for c in r["causes"])
            rows.append(
                f"<tr><td><a href='{e(link)}'>{e(r['fault'])}</a></td><td>{e(r['variant'])}</td>"
                f"<td class='{cls}'>{e(r['status'])}</td><td style='text-align:left'>{e(_loss(r))}</td>"
                f"<td style='text-align:left'>{causes}</td></tr>"
            )
        parts.append(
            "<h2>Fault matrix</h2><table><tr><th>fault</th><th>settings</th><th>result</th><th>loss by stage</th>"
            f"<th>cause and fix</th></tr>{''.join(rows)}</table>"
        )
    rows = [
        f"<tr><td>{e(LABEL[f['severity']])}</td><td><code>{e(f['setting'])}</code></td>"
        f"<td>{e(f['value'] if f['value'] is not None else '(default)')}</td><td>{e(f['where'])}</td>"
        f"<td style='text-align:left'>{e(f['why'])}</td><td style='text-align:left'>{e(f['fix'])}</td></tr>"
        for f in _findings(data)
    ]
    parts.append(
        "<h2>Settings reviewed</h2><table><tr><th></th><th>setting</th><th>value</th><th>where</th><th>why</th>"
        f"<th>fix</th></tr>{''.join(rows)}</table></body></html>"
    )
    (out_dir / rundir.REPORT).write_text("\n".join(parts))


def write_junit(data: dict[str, Any], out_dir: Path) -> None:
    """junit.xml: a testcase per fault and settings variant, and one for the settings themselves."""
    client = str(data.get("client", "kafka-python"))
    suite = ET.Element("testsuite", name=f"kafka-chaos validate ({client})", time=f"{data['seconds']:.1f}")
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", name="client", value=client)
    ET.SubElement(props, "property", name="kafka_version", value=str(data.get("kafka_version", "?")))
    processing = data.get("processing") or {}
    ET.SubElement(props, "property", name="processing", value=str(processing.get("value", "batched")))
    config = ET.SubElement(suite, "testcase", name="settings are applied as written", classname="validate.static")
    errors_found = config_errors(data)
    if errors_found:
        fail = ET.SubElement(config, "failure", message=f"{len(errors_found)} setting(s) not applied")
        fail.text = "\n".join(f"{f['setting']} ({f['where']}): {f['why']}. Fix: {f['fix']}" for f in errors_found)
    failures = 1 if errors_found else 0
    errors = 0
    for r in data["matrix"]:
        case = ET.SubElement(
            suite,
            "testcase",
            name=f"{r['fault']} [{r['variant']}]",
            classname="validate.matrix",
            time=f"{r['seconds']:.1f}",
        )
        if r["status"] in ("ERROR", "INCONCLUSIVE"):
            ET.SubElement(case, "error", message=(str(r["error"]) if r["status"] == "ERROR" else _loss(r))[:500])
            errors += 1
        elif r["status"] == "FAIL":
            fail = ET.SubElement(case, "failure", message=_loss(r))
            fail.text = "\n".join(r["causes"])
            failures += 1
    suite.set("tests", str(1 + len(data["matrix"])))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    tree = ET.ElementTree(suite)
    ET.indent(tree)
    tree.write(out_dir / rundir.JUNIT, encoding="utf-8", xml_declaration=True)


def write_validation_reports(data: dict[str, Any], out_dir: Path) -> list[str]:
    """Write validate.md, report.html and junit.xml from ``data``; returns reporter errors (a failing
    reporter never hides the verdict)."""
    problems: list[str] = []
    for name, write in ((rundir.VALIDATE_MD, write_markdown), (rundir.REPORT, write_html), (rundir.JUNIT, write_junit)):
        try:
            write(data, out_dir)
        except Exception as e:
            problems.append(f"{name}: {type(e).__name__}: {e}")
    return problems
