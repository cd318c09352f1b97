"""Reports from run directories: JUnit, Markdown, HTML with the timeline; a failing reporter never
stops the others."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import cast

import pytest

from chaos.cli import main
from chaos.oracle import reconcile_and_write
from chaos.oracle.files import read_verdict
from chaos.reports import load_run, occurrence_rates, write_run_reports, write_suite_json
from chaos.reports.series import fault_windows, series, totals
from chaos.results import RunResult, SuiteResult
from chaos.workloads.security import PLAINTEXT
from tests.helpers.reports import make_run, synthetic_suite


def test_run_reports_are_written_and_say_what_was_lost(tmp_path: Path) -> None:
    run_dir = tmp_path / "demo"
    make_run(run_dir, {"broker_loss": 0})
    assert write_run_reports(run_dir) == []
    verdict = json.loads((run_dir / "verdict.json").read_text())
    # 2 producers x 10,000 records, every 1000th of each lost by the broker
    assert verdict["loss"] == {"producer": 0, "broker": 20, "consumer": 0} and not verdict["passed"]

    suite = ET.parse(run_dir / "junit.xml").getroot()
    assert suite.get("tests") == "1" and suite.get("failures") == "1"
    failure = suite.find("testcase/failure")
    assert failure is not None and "expected broker_loss == 0" in failure.get("message", "")

    md = (run_dir / "summary.md").read_text()
    assert "# demo: FAIL" in md and "broker_kill(broker-2) 3.0s" in md and "isolate(broker-1) (never healed)" in md

    page = (run_dir / "report.html").read_text()
    svg = page[page.index("<svg") : page.index("</svg>") + 6]
    root = ET.fromstring(svg)  # well-formed inline SVG
    ns = "{http://www.w3.org/2000/svg}"
    assert len(root.findall(f"{ns}polyline")) >= 2  # sent and acked rates at least
    shaded = [r for r in root.findall(f"{ns}rect") if r.get("fill-opacity")]
    assert len(shaded) == 2  # one window per fault
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert f"{verdict['loss']['broker']:,}" in page
    # the lost records marked where they were sent (the synthetic run sent everything at its start)
    assert sum(n for _, n in verdict["lost_sent"]["broker"]) == 20
    assert "20 records sent here were lost by the broker" in page
    # availability: a row per fault (the synthetic acks carry no times, so no gap is measured)
    assert [f["fault"] for f in verdict["availability"]] == ["kill-0", "cut"]
    assert "<h2>Availability</h2>" in page and "| kill-0 (broker_kill broker-2) |" in md


def test_series_and_totals_follow_the_ledgers(tmp_path: Path) -> None:
    run_dir = tmp_path / "demo"
    make_run(run_dir, {})
    t = totals(run_dir)
    s = series(run_dir)
    assert sum(s.sent) == t.sent > 0
    assert sum(s.acked) == t.acked
    assert sum(s.processed) == t.processed
    windows = fault_windows(run_dir)
    assert [w["kind"] for w in windows] == ["broker_kill", "isolate"]
    assert windows[1]["end"] is None


def test_a_failing_reporter_does_not_stop_the_others(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from chaos.reports import html

    run_dir = tmp_path / "demo"
    make_run(run_dir, {"broker_loss": ">0"})

    def broken(run: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(html, "write_run", broken)
    problems = write_run_reports(run_dir)
    assert problems == ["report.html: RuntimeError: disk full"]
    assert (run_dir / "junit.xml").exists() and (run_dir / "summary.md").exists()


def test_run_without_verdict_reports_the_error(tmp_path: Path) -> None:
    run_dir = tmp_path / "dead"
    run_dir.mkdir()
    (run_dir / "run.json").write_text(json.dumps({"experiment": "dead"}))
    (run_dir / "error.txt").write_text("ClusterUnhealthy: broker-2 never registered\n")
    assert write_run_reports(run_dir) == []
    assert load_run(run_dir).status == "error"
    case = ET.parse(run_dir / "junit.xml").getroot().find("testcase/error")
    assert case is not None and "never registered" in case.get("message", "")
    assert "did not complete" in (run_dir / "report.html").read_text()


def test_report_command_rebuilds_a_run_and_a_suite(tmp_path: Path) -> None:
    suite_dir = tmp_path / "suite"
    expectations: list[dict[str, object]] = [{"broker_loss": ">0"}, {"broker_loss": 0}]
    for i, expect in enumerate(expectations):
        make_run(suite_dir / f"demo-{i + 1}", expect, name="demo")
    results = [
        RunResult("demo", None, suite_dir / f"demo-{i}", f"r{i}", verdict=read_verdict(suite_dir / f"demo-{i}"))
        for i in (1, 2)
    ]
    write_suite_json(SuiteResult(suite_dir, results, 120.0))
    main(["report", str(suite_dir)])  # returns (no SystemExit) on success
    md = (suite_dir / "summary.md").read_text()
    assert "1/2 passed" in md and "| B2 | demo-1 |" in md
    assert "How often each stage lost records" in md
    junit = ET.parse(suite_dir / "junit.xml").getroot()
    assert junit.get("tests") == "2" and junit.get("failures") == "1"
    assert "demo-2/report.html" in (suite_dir / "report.html").read_text()
    rates = occurrence_rates([load_run(suite_dir / "demo-1"), load_run(suite_dir / "demo-2")])
    assert rates["demo"].runs == 2 and rates["demo"].passed == 1


def test_repeat_runs_each_experiment_n_times_and_reports_rates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--repeat: the suite runs N repetitions (seed + i), and the suite reports give loss rates."""
    suite, calls = synthetic_suite(
        monkeypatch,
        tmp_path,
        "flaky",
        3,
        lambda rep: {"broker_loss": ">0"} if rep % 2 else {"broker_loss": "0"},
        seed=7,
    )
    assert calls == [("flaky", 1, 7), ("flaky", 2, 8), ("flaky", 3, 9)]
    assert [r.run_dir.name for r in suite.results] == ["flaky-1", "flaky-2", "flaky-3"]
    assert suite.exit_code == 1  # repetition 2 expected no loss and found some
    md = (suite.suite_dir / "summary.md").read_text()
    # every repetition lost records in the broker: 3 of 3, with its 95% Wilson interval
    assert "2/3 passed" in md and "| flaky | 3 | 2 | 0/3 · 0% (0-56%) | 3/3 · 100% (44-100%) |" in md
    rates = json.loads((suite.suite_dir / "suite.json").read_text())["rates"]["flaky"]
    assert rates["loss_runs"]["broker"] == 3 and rates["loss_interval"]["broker"] == [0.438, 1.0]
    props = [
        {p.get("name"): p.get("value") for p in case.iter("property")}
        for case in ET.parse(suite.suite_dir / "junit.xml").getroot().iter("testcase")
    ]
    assert all(p["rate.broker"] == "1.0" and p["rate.broker.low"] == "0.438" for p in props), props
    page = (suite.suite_dir / "report.html").read_text()
    assert "95% Wilson interval" in page and "3/3 · 100% (44-100%)" in page


def test_a_run_that_breaks_is_recorded_as_an_error_and_reported(tmp_path: Path) -> None:
    from chaos.cluster import KafkaCluster
    from chaos.experiments.loading import load_experiment
    from chaos.experiments.runner import ExperimentRun, RunOptions

    class BrokenCluster:
        run_id = "20261127-000000-abcd"
        nodes: tuple[object, ...] = ()
        brokers: tuple[object, ...] = ()
        security = PLAINTEXT

        def bootstrap(self, client_path: str = "proxy") -> str:
            return "127.0.0.1:1"

        def admin_call(self, fn: object, attempts: int = 3) -> object:
            raise RuntimeError("metadata went away")

        def create_topic(self, *args: object, **kwargs: object) -> None:
            raise RuntimeError("metadata went away")

    path = tmp_path / "e.yaml"
    path.write_text("name: broken\nproducer: {rate: 10}\nphases: {settle: 1}\n")
    result = ExperimentRun(
        load_experiment(path), tmp_path / "run", RunOptions(), cluster=cast("KafkaCluster", BrokenCluster())
    ).run()
    assert result.exit_code == 3 and result.status == "error"
    assert result.error_kind == "RuntimeError" and "metadata went away" in (result.error or "")
    assert "metadata went away" in (tmp_path / "run" / "error.txt").read_text()
    case = ET.parse(tmp_path / "run" / "junit.xml").getroot().find("testcase/error")
    assert case is not None


def test_a_reporter_is_one_module_found_by_its_names() -> None:
    from chaos.reports import reporters

    assert {r.FILE for r in reporters()} == {"junit.xml", "summary.md", "report.html", "soak/soak.md"}
    assert all(callable(r.write_run) for r in reporters())
    # a suite page is optional: a soak's windows are a run's alone
    assert {r.FILE for r in reporters() if callable(getattr(r, "write_suite", None))} == {
        "junit.xml",
        "summary.md",
        "report.html",
    }


def test_a_fault_kind_is_one_module_found_by_registration() -> None:
    from chaos.faults import REGISTRY, load_kinds

    assert load_kinds() is REGISTRY
    modules = {cls.__module__ for cls in REGISTRY.values()}
    assert modules == {
        "chaos.faults.client",
        "chaos.faults.client_network",
        "chaos.faults.client_pause",
        "chaos.faults.disk",
        "chaos.faults.end_txn",
        "chaos.faults.network",
        "chaos.faults.planned",
        "chaos.faults.process",
        "chaos.faults.topic_config",
        "chaos.faults.toxics",
        "chaos.faults.voters",
    }


def test_an_inconclusive_verdict_shows_no_loss_figure_anywhere(tmp_path: Path) -> None:
    run_dir = tmp_path / "demo"
    make_run(run_dir, {"broker_loss": 0})
    drain = json.loads((run_dir / "drain" / "drain.json").read_text())
    drain.update({"complete": False, "incomplete": "partition 1 was not read to its end"})
    (run_dir / "drain" / "drain.json").write_text(json.dumps(drain))
    reconcile_and_write(run_dir)
    assert write_run_reports(run_dir) == []
    verdict = json.loads((run_dir / "verdict.json").read_text())
    assert verdict["conclusive"] is False and verdict["loss"]["broker"] is None
    md = (run_dir / "summary.md").read_text()
    assert "# demo: INCONCLUSIVE" in md and "partition 1 was not read to its end" in md
    assert "| broker | n/a (inconclusive) |" in md
    suite = ET.parse(run_dir / "junit.xml").getroot()
    assert suite.get("errors") == "1" and suite.get("failures") == "0"
    page = (run_dir / "report.html").read_text()
    assert "Inconclusive: no loss figure." in page and ">20<" not in page
    with pytest.raises(SystemExit) as exit_info:
        main(["reconcile", str(run_dir)])
    assert exit_info.value.code == 4


def test_broker_loss_causes_are_in_every_report(tmp_path: Path) -> None:
    run_dir = tmp_path / "demo"
    make_run(run_dir, {"broker_loss": 0})
    assert write_run_reports(run_dir) == []
    assert "Broker loss by cause: beyond_log_end 20" in (run_dir / "summary.md").read_text()
    assert "Broker loss by cause" in (run_dir / "report.html").read_text()
    junit = (run_dir / "junit.xml").read_text()
    assert 'name="causes.broker.beyond_log_end" value="20"' in junit


def test_a_transactional_run_shows_its_transactions_in_every_format(tmp_path: Path) -> None:
    from chaos.oracle.synthetic_txn import SyntheticTxn, write_transactions

    run_dir = tmp_path / "txn"
    write_transactions([SyntheticTxn(5, "committed"), SyntheticTxn(4, "aborted", visible=1)], run_dir)
    (run_dir / "expectations.json").write_text(json.dumps({"aborted_read": 0}))
    reconcile_and_write(run_dir)
    assert write_run_reports(run_dir) == []
    props = {p.get("name"): p.get("value") for p in ET.parse(run_dir / "junit.xml").getroot().iter("property")}
    assert props["transactions.committed"] == "1" and props["anomalies.aborted_read"] == "1"
    md = (run_dir / "summary.md").read_text()
    assert "| transactions | |" in md and "| aborted_records | 4 |" in md and "| aborted_read | 1 |" in md
    page = (run_dir / "report.html").read_text()
    assert "<h2>Transactions</h2>" in page and "aborted_processed" in page


def test_a_verdict_from_before_the_schema_still_renders(tmp_path: Path) -> None:
    run_dir = tmp_path / "old"
    make_run(run_dir, {"broker_loss": 0})
    verdict = json.loads((run_dir / "verdict.json").read_text())
    del verdict["schema_version"]
    verdict.update(transactions={}, transform={})  # how "none" was spelled then
    (run_dir / "verdict.json").write_text(json.dumps(verdict))
    assert write_run_reports(run_dir) == []
    md = (run_dir / "summary.md").read_text()
    assert "# demo: FAIL" in md and "| transactions | |" not in md
    assert "<h2>Transactions</h2>" not in (run_dir / "report.html").read_text()


def test_a_verdict_that_breaks_the_contract_is_one_line_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "bad"
    make_run(run_dir, {})
    verdict = json.loads((run_dir / "verdict.json").read_text())
    verdict["counts"]["sent"] = "many"
    (run_dir / "verdict.json").write_text(json.dumps(verdict))
    [problem] = write_run_reports(run_dir)
    assert "\n" not in problem and "verdict.json does not fit its contract: counts.sent:" in problem
    with pytest.raises(SystemExit) as exit_info:
        main(["report", str(run_dir)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "counts.sent" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_every_report_lists_the_anomalies_of_the_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from chaos.oracle import anomalies

    run_dir = tmp_path / "demo"
    make_run(run_dir, {})
    new = anomalies.Anomaly("split_brain", "Two leaders acknowledged one offset.", anomalies.ANOMALIES[0].find)
    monkeypatch.setattr(anomalies, "ANOMALIES", (*anomalies.ANOMALIES, new))
    assert write_run_reports(run_dir) == []  # the verdict was written before the registry grew
    md, page = (run_dir / "summary.md").read_text(), (run_dir / "report.html").read_text()
    props = {p.get("name"): p.get("value") for p in ET.parse(run_dir / "junit.xml").getroot().iter("property")}
    for a in anomalies.ANOMALIES:
        assert f"| {a.name} | 0 | {a.meaning} |" in md
        assert f"<td>{a.name}</td><td>0</td>" in page and props[f"anomalies.{a.name}"] == "0"


def test_the_kubernetes_design_maps_every_fault_kind() -> None:
    from chaos.faults import load_kinds

    table = (Path(__file__).resolve().parents[2] / "docs" / "kubernetes.md").read_text()
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    named = {kind for line in rows for kind in re.findall(r"`([a-z_]+)`", line.split("|")[1])}
    assert set(load_kinds()) <= named, sorted(set(load_kinds()) - named)
