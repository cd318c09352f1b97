"""What CI systems read, without a JDK or Docker: run and suite JUnit pointing at the experiment
file's failing expectation, validate's JUnit failing exactly when validate exits non-zero (matrix
outcomes made by hand), GitHub annotations escaped as GitHub documents, and the step summary."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from chaos.oracle import reconcile_and_write
from chaos.oracle.verdict import Counts, ExpectationResult, Trust, Verdict
from chaos.reports import RunReport, load_run, rewrite_suite_reports, write_run_reports
from chaos.reports.github import (
    Annotation,
    escape_data,
    escape_property,
    publish,
    publish_suite,
    run_annotations,
    validation_annotations,
)
from chaos.reports.validation_ci import junit
from chaos.results import RunResult
from chaos.validate import ValidationReport
from chaos.validate.findings import Finding, TeamConfig
from chaos.validate.matrix import Matrix, MatrixRun
from chaos.validate.properties import parse_properties
from tests.helpers.reports import make_run, synthetic_suite

ACTIONS = {"GITHUB_ACTIONS": "true"}
#: An experiment file whose broker_loss expectation is on line 6.
EXPERIMENT = "name: demo\n# the broker must lose nothing\nexpect:\n  acked: '>0'\n\n  broker_loss: 0\n"


def record_file(run_dir: Path, experiment: Path) -> None:
    """Say in run.json that the run was started from ``experiment`` (as the runner does)."""
    meta = json.loads((run_dir / "run.json").read_text())
    (run_dir / "run.json").write_text(json.dumps({**meta, "file": str(experiment)}))


def only_case(path: Path) -> ET.Element:
    (case,) = ET.parse(path).getroot().findall("testcase")
    return case


def test_a_failed_runs_testcase_points_at_the_failing_expectation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # CI runs from the repository's root; paths under it are relative
    (tmp_path / "b9.yaml").write_text(EXPERIMENT)
    make_run(tmp_path / "demo", {"acked": ">0", "broker_loss": 0})
    record_file(tmp_path / "demo", tmp_path / "b9.yaml")
    assert write_run_reports(tmp_path / "demo") == []
    case = only_case(tmp_path / "demo" / "junit.xml")
    assert (case.get("file"), case.get("line")) == ("b9.yaml", "6")
    assert case.find("failure") is not None


def test_a_passed_run_points_at_line_1_and_a_run_without_a_file_at_its_own_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "b9.yaml").write_text(EXPERIMENT)
    make_run(tmp_path / "passed", {"broker_loss": ">0"})
    record_file(tmp_path / "passed", tmp_path / "b9.yaml")
    make_run(tmp_path / "by-hand", {"broker_loss": 0})  # no file recorded: a Scenario's, say
    assert write_run_reports(tmp_path / "passed") == write_run_reports(tmp_path / "by-hand") == []
    passed, by_hand = only_case(tmp_path / "passed" / "junit.xml"), only_case(tmp_path / "by-hand" / "junit.xml")
    assert (passed.get("file"), passed.get("line")) == ("b9.yaml", "1")
    # its experiment.yaml has no expect: section, so the failing expectation is on no line of it
    assert (by_hand.get("file"), by_hand.get("line")) == ("by-hand/experiment.yaml", "1")


def test_a_suites_testcases_point_at_the_experiment_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    suite, _ = synthetic_suite(monkeypatch, tmp_path, "demo", 2, expect=lambda rep: {"broker_loss": 0})
    (tmp_path / "e.yaml").write_text(EXPERIMENT)
    for result in suite.results:
        record_file(result.run_dir, tmp_path / "e.yaml")
    assert rewrite_suite_reports(suite.suite_dir) == []
    cases = ET.parse(suite.suite_dir / "junit.xml").getroot().findall("testcase")
    assert [(c.get("file"), c.get("line")) for c in cases] == [("e.yaml", "6"), ("e.yaml", "6")]


def test_workflow_commands_are_escaped_as_github_documents() -> None:
    assert escape_data("50% lost\r\nnext: a, b") == "50%25 lost%0D%0Anext: a, b"
    assert escape_property("demo: 50%, line\n2") == "demo%3A 50%25%2C line%0A2"
    annotation = Annotation("warning", "dir,1/e:x.yaml", 3, "a: b, c", "one\ntwo 100%")
    assert annotation.command() == "::warning file=dir%2C1/e%3Ax.yaml,line=3,title=a%3A b%2C c::one%0Atwo 100%25"


def test_a_failed_suite_is_annotated_and_summarised_in_github_actions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    suite, _ = synthetic_suite(monkeypatch, tmp_path, "demo", 1, expect=lambda rep: {"broker_loss": 0})
    (tmp_path / "e.yaml").write_text(EXPERIMENT)
    (run_dir,) = [r.run_dir for r in suite.results]
    record_file(run_dir, tmp_path / "e.yaml")
    summary = tmp_path / "step-summary.md"
    commands: list[str] = []
    env = {**ACTIONS, "GITHUB_STEP_SUMMARY": str(summary)}
    assert publish_suite(suite.suite_dir, env, commands.append) == []
    report = run_dir / "report.html"
    assert commands == [
        "::error file=e.yaml,line=6,title=demo%3A broker_loss == 0::expected broker_loss == 0, got 20 "
        f"(loss by stage: producer 0, broker 20, consumer 0; report: {report})"
    ]
    # one run: its own summary, which says more than the suite's table
    assert summary.read_text() == (run_dir / "summary.md").read_text()


def test_a_suite_of_several_runs_appends_the_suites_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    suite, _ = synthetic_suite(monkeypatch, tmp_path, "demo", 2)
    summary = tmp_path / "step-summary.md"
    summary.write_text("# earlier step\n")
    commands: list[str] = []
    assert publish_suite(suite.suite_dir, {**ACTIONS, "GITHUB_STEP_SUMMARY": str(summary)}, commands.append) == []
    assert commands == []  # every run passed
    assert summary.read_text() == "# earlier step\n" + (suite.suite_dir / "summary.md").read_text()


def test_nothing_is_published_outside_github_actions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    suite, _ = synthetic_suite(monkeypatch, tmp_path, "demo", 1, expect=lambda rep: {"broker_loss": 0})
    summary = tmp_path / "step-summary.md"
    commands: list[str] = []
    for env in ({}, {"GITHUB_ACTIONS": "false"}):
        assert publish_suite(suite.suite_dir, {**env, "GITHUB_STEP_SUMMARY": str(summary)}, commands.append) == []
    assert commands == [] and not summary.exists()


def test_an_unwritable_step_summary_is_reported_not_raised(tmp_path: Path) -> None:
    commands: list[str] = []
    env = {**ACTIONS, "GITHUB_STEP_SUMMARY": str(tmp_path / "no-such-dir" / "summary.md")}
    problems = publish([], "# page\n", env, commands.append)
    assert problems == [f"step summary not written to {tmp_path}/no-such-dir/summary.md: No such file or directory"]


def test_inconclusive_and_broken_runs_are_annotated(tmp_path: Path) -> None:
    make_run(tmp_path / "demo", {"broker_loss": 0})
    drain_file = tmp_path / "demo" / "drain" / "drain.json"
    drain = json.loads(drain_file.read_text())
    drain_file.write_text(json.dumps({**drain, "complete": False, "incomplete": "partition 1 was not read to its end"}))
    reconcile_and_write(tmp_path / "demo")
    reasons = "; ".join(json.loads((tmp_path / "demo" / "verdict.json").read_text())["trust"]["reasons"])
    broken = RunReport(tmp_path / "x", "x", {}, None, "ClusterUnhealthy: broker-2 never became healthy\nlogs: …")
    found = run_annotations([load_run(tmp_path / "demo"), broken], tmp_path)
    assert found == [
        Annotation(
            "error", "x/experiment.yaml", 1, "x: could not complete", "ClusterUnhealthy: broker-2 never became healthy"
        ),
        Annotation(
            "warning",
            "demo/experiment.yaml",
            1,
            "demo: inconclusive",
            f"no loss figure, so no verdict on the expectations: {reasons}",
        ),
    ]
    assert "partition 1 was not read to its end" in reasons


FILES = {"producer": "p.properties", "consumer": "c.properties"}
LOSS = Finding("loss", "broker", "acks", "1", "p.properties:1", "the leader alone acknowledges", "acks=all")
REFUSED = Finding("config", "config", "enable.idempotance", "true", "p.properties:2", "unknown", "remove it")
NOTE = Finding("info", "broker", "flush.messages", None, "default", "the OS flushes", "none")


def matrix_run(variant: str, status: str) -> MatrixRun:
    """A leader_kill run of the matrix with the outcome ``status``, made by hand."""
    expectation = ExpectationResult(
        name="total_loss == 0", passed=status == "PASS", actual=0 if status == "PASS" else 5
    )
    trust = Trust(conclusive=False, reasons=["the drain did not finish"]) if status == "INCONCLUSIVE" else Trust()
    loss = {"producer": 0, "broker": 0 if status == "PASS" else 5, "consumer": 0}
    verdict = Verdict.build(
        run_id="r",
        experiment="m",
        counts=Counts(sent=9),
        anomalies={},
        trust=trust,
        loss=loss,
        expectations=[expectation],
    )
    result = RunResult("m", None, Path("m"), "r", verdict=None if status == "ERROR" else verdict)
    result.error = "no Docker" if status == "ERROR" else None
    return MatrixRun("leader_kill", variant, result, "")


def validation(findings: list[Finding], team: str | None, fixed: str | None) -> ValidationReport:
    producer = parse_properties("acks=1\nenable.idempotance=true\n", "p.properties")
    consumer = parse_properties("enable.auto.commit=false\n", "c.properties")
    runs = [matrix_run("team", team)] if team else []
    runs += [matrix_run("recommended", fixed)] if team and fixed else []
    matrix = Matrix(runs) if team else None
    return ValidationReport(TeamConfig(producer, consumer, findings=[*findings, NOTE]), dict(FILES), matrix)


@pytest.mark.parametrize("findings", [[], [LOSS], [REFUSED], [LOSS, REFUSED]], ids=["none", "loss", "refused", "both"])
@pytest.mark.parametrize("team", [None, "PASS", "FAIL", "INCONCLUSIVE", "ERROR"])
@pytest.mark.parametrize("fixed", [None, "PASS", "FAIL"])
def test_validates_junit_fails_exactly_when_validate_exits_non_zero(
    findings: list[Finding], team: str | None, fixed: str | None
) -> None:
    report = validation(findings, team, fixed)
    suite = junit(report.output(), Path("/repo"))
    failing = int(suite.get("failures", "0")) + int(suite.get("errors", "0"))
    assert (failing > 0) == (report.exit_code != 0), (report.exit_code, ET.tostring(suite))
    assert suite.get("tests") == str(len(findings) + 1 + (team is not None) + (team is not None and fixed is not None))
    assert all(c.get("file") == "p.properties" and c.get("line") in ("1", "2") for c in suite.findall("testcase"))


def test_a_matrix_run_that_lost_records_points_at_the_setting_it_is_put_down_to() -> None:
    report = validation([LOSS], "FAIL", "PASS")
    data = report.output()
    suite = junit(data, Path("/repo"))
    (failed,) = [c for c in suite.findall("testcase") if c.find("failure") is not None]
    assert (failed.get("name"), failed.get("file"), failed.get("line")) == ("leader_kill [team]", "p.properties", "1")
    # with a matrix, the loss risk itself passes (the runs judge it) and is annotated as a warning
    assert validation_annotations(data, Path("/repo")) == [
        Annotation(
            "error",
            "p.properties",
            1,
            "leader_kill [team]: lost records",
            "lost records (producer 0, broker 5, consumer 0; duplicates 0). Cause and fix: "
            "acks=1 (p.properties:1): acks=all",
        ),
        Annotation(
            "warning",
            "p.properties",
            1,
            "acks: loss risk",
            "acks=1 (p.properties:1): the leader alone acknowledges. Fix: acks=all",
        ),
    ]


def test_the_run_command_annotates_in_github_actions_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``kafka-chaos run`` itself, each run a hand-made directory instead of a cluster's."""
    from chaos.cli import main
    from chaos.experiments.runner import ExperimentRun
    from chaos.oracle import reconcile

    def fake_run(self: ExperimentRun) -> RunResult:
        make_run(self.run_dir, {"acked": ">0", "broker_loss": 0}, self.exp.name)
        record_file(self.run_dir, tmp_path / "b9.yaml")
        self.result.verdict = reconcile(self.run_dir, self.exp.name)
        write_run_reports(self.run_dir)
        return self.result

    monkeypatch.setattr(ExperimentRun, "run", fake_run)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "b9.yaml").write_text(EXPERIMENT + "producer: {rate: 10}\n")
    summary = tmp_path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    errs = []
    for actions in ("true", None):
        if actions:
            monkeypatch.setenv("GITHUB_ACTIONS", actions)
        else:
            monkeypatch.delenv("GITHUB_ACTIONS")
        with pytest.raises(SystemExit) as exit_info:
            main(["run", "b9.yaml", "--reports", "r", "-q", "--json"])
        captured = capsys.readouterr()
        assert exit_info.value.code == 1 and json.loads(captured.out)["exit_code"] == 1
        errs.append([line.split("::")[1] for line in captured.err.splitlines() if line.startswith("::")])
    assert errs == [["error file=b9.yaml,line=6,title=demo%3A broker_loss == 0"], []]
    assert summary.read_text().startswith("# demo: FAIL")  # the one run's summary, once
    assert summary.read_text().count("# demo: FAIL") == 1


@pytest.mark.parametrize(
    ("finding", "text"),
    [
        (LOSS, "acks=1 (p.properties:1): the leader alone acknowledges. Fix: acks=all"),
        (
            Finding(
                "loss", "consumer", "auto.offset.reset", "latest", "default", "skips", "auto.offset.reset=earliest"
            ),
            "auto.offset.reset=latest (default: not set in c.properties, shown at its line 1): skips. "
            "Fix: auto.offset.reset=earliest",
        ),
        (
            NOTE,
            "flush.messages (default: no topic file was given, shown at line 1 of p.properties): the OS flushes. "
            "Fix: none",
        ),
        (
            Finding("config", "config", "producer", None, "p.properties", "Kafka refuses it", "change it"),
            "producer (p.properties as a whole, shown at its line 1): Kafka refuses it. Fix: change it",
        ),
        (
            Finding("info", "config", "substituted", "producer acks", "the files", "replaced", "none"),
            "substituted=producer acks (the files; shown at line 1 of p.properties): replaced. Fix: none",
        ),
    ],
)
def test_a_finding_says_where_it_is_or_which_line_stands_for_it(finding: Finding, text: str) -> None:
    from chaos.reports.validation import finding_text

    data = validation([finding], None, None).output()
    assert finding_text(data, data.static[0], Path("/repo")) == text
