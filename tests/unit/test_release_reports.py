"""Reports of suites over several Kafka releases: the grid of clients and releases, rows that do not
apply to their release (N/A in every reporter, never a failure), repetition rates per release, the
known bug's cell and sentence, what held per release and what differs between releases; run
directories from before releases were recorded still render."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from chaos.cli import main
from chaos.oracle.files import read_verdict
from chaos.oracle.verdict import Counts, ExpectationResult, Trust, Verdict
from chaos.reports import RunReport, load_run, occurrence_rates, write_run_reports, write_suite_json
from chaos.reports.github import Annotation, publish_suite, run_annotations
from chaos.reports.grid import cell, grid
from chaos.reports.markdown import side_by_side
from chaos.results import RunResult, SuiteResult
from tests.helpers.reports import BUG, FACTS, NA, make_run, release_run, two_by_two


def test_two_releases_by_two_clients_is_a_grid_in_release_order(tmp_path: Path) -> None:
    two_by_two(tmp_path)
    md = (tmp_path / "summary.md").read_text()
    assert md.startswith("# kafka-chaos suite: 5/6 passed, 2 not applicable\n")
    grid_md = md[md.index("Side by side") : md.index("- FAIL b2.java@3.9.1")]
    assert grid_md == (
        "Side by side, loss as producer/broker/consumer:\n\n"
        "| claim | experiment | kafka-python @ 3.9.1 | java @ 3.9.1 | kafka-python @ 4.4.0 | java @ 4.4.0 |\n"
        "|---|---|---|---|---|---|\n"
        "| B2 | b2 | PASS 0/20/0 | FAIL 0/20/0 | PASS 0/20/0 | PASS 0/20/0 |\n"
        "| B6c | elr | N/A | N/A | PASS 0/20/0 | PASS 0/20/0 |\n\n"
        "Held / failed / not applicable per release:\n\n"
        "- Kafka 3.9.1: 1 held, 1 failed, 2 not applicable\n"
        "- Kafka 4.4.0: 4 held, 0 failed, 0 not applicable\n\n"
        "Defaults and features that differ between these releases:\n\n"
        "- feature eligible.leader.replicas.version: 3.9.1 - · 4.4.0 1\n"
        "- feature group.version: 3.9.1 0 · 4.4.0 1\n"
        "- feature metadata.version: 3.9.1 21 · 4.4.0 27\n"
        "- feature transaction.version: 3.9.1 0 · 4.4.0 2\n"
        "- group protocols: 3.9.1 classic · 4.4.0 classic, consumer\n"
        "- producer linger.ms: 3.9.1 0 · 4.4.0 5\n\n"
    )
    assert md.endswith(f"- N/A elr.kafka-python@3.9.1: {NA}\n- N/A elr.java@3.9.1: {NA}\n")
    page = (tmp_path / "report.html").read_text()
    heads = "".join(f"<th>{h}</th>" for h in ("kafka-python @ 3.9.1", "java @ 3.9.1", "kafka-python @ 4.4.0"))
    assert f"<th>experiment</th>{heads}<th>java @ 4.4.0</th></tr>" in page
    assert "<tr><td>elr</td><td style='color:#5f7a94'>N/A</td><td style='color:#5f7a94'>N/A</td>" in page
    assert "<li>Kafka 3.9.1: 1 held, 1 failed, 2 not applicable</li>" in page
    assert "<li>producer linger.ms: 3.9.1 0 · 4.4.0 5</li>" in page
    assert "5/6 passed, 2 not applicable</span>" in page and "background:#d62728" in page  # b2 failed once


def test_a_row_that_did_not_apply_is_skipped_in_junit_never_failed(tmp_path: Path) -> None:
    two_by_two(tmp_path)
    suite = ET.parse(tmp_path / "junit.xml").getroot()
    assert {k: suite.get(k) for k in ("tests", "failures", "errors", "skipped")} == {
        "tests": "8",
        "failures": "1",
        "errors": "0",
        "skipped": "2",
    }
    skipped = {c.get("name"): c.find("skipped") for c in suite.iter("testcase")}
    assert [name for name, element in skipped.items() if element is not None] == [
        "elr.kafka-python@3.9.1",
        "elr.java@3.9.1",
    ]
    case = suite.find("testcase[@name='elr.java@3.9.1']")
    assert case is not None and case.find("failure") is None and case.find("error") is None
    skip = case.find("skipped")
    assert skip is not None and skip.get("message") == NA
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert props == {
        "client": "java",
        "client_path": "proxy",
        "kafka_version": "3.9.1",
        "client_version.kafka-clients": "3.9.1",
    }
    one = ET.parse(tmp_path / "elr.java@3.9.1" / "junit.xml").getroot()
    assert (one.get("skipped"), one.get("failures"), one.get("errors")) == ("1", "0", "0")


def test_repetition_rates_have_a_row_per_release_and_leave_rows_that_did_not_apply_out(tmp_path: Path) -> None:
    two_by_two(tmp_path)
    rates = json.loads((tmp_path / "suite.json").read_text())["rates"]
    assert sorted(rates) == [
        "b2.java@3.9.1",
        "b2.java@4.4.0",
        "b2.kafka-python@3.9.1",
        "b2.kafka-python@4.4.0",
        "elr.java@4.4.0",
        "elr.kafka-python@4.4.0",
    ]
    verdict = read_verdict(tmp_path / "b2.java@3.9.1")

    def rep(release: str, meta: dict[str, object]) -> RunReport:
        return RunReport(tmp_path / "x", "elr", {"label": f"elr@{release}", **meta}, verdict, None)

    runs = [rep("3.9.1", {"not_applicable": NA}), rep("3.9.1", {"not_applicable": NA})]
    runs += [rep("4.4.0", {}), rep("4.4.0", {})]
    found = occurrence_rates(runs)
    assert list(found) == ["elr@4.4.0"]
    assert (found["elr@4.4.0"].runs, found["elr@4.4.0"].loss_runs["broker"]) == (2, 2)


def test_the_runner_leaves_a_row_that_does_not_apply_with_n_a_in_every_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real runner, a file whose needs: its release lacks: nothing starts, and every report says why."""
    from chaos.experiments.loading import load_suite
    from chaos.experiments.runner import ExperimentRun, RunOptions

    monkeypatch.chdir(tmp_path)
    (tmp_path / "elr.yaml").write_text(
        "name: elr\nproducer: {rate: 10}\nneeds: {kafka: 4.0.0, why: eligible leader replicas}\n"
        "known_bug: {id: KAFKA-19012, title: a lost batch, side: broker, fixed_in: ['4.0.1']}\n"
    )
    (item,) = load_suite([Path("elr.yaml")], None, None, ["3.9.1"])
    result = ExperimentRun(item.experiment, tmp_path / "run", RunOptions(), item.path, label=item.label).run()
    assert (result.status, result.exit_code, result.error) == ("not_applicable", 0, None)
    run = load_run(tmp_path / "run")
    assert (run.status, run.error, run.not_applicable, run.label) == ("not_applicable", None, NA, "elr")
    md = (tmp_path / "run" / "summary.md").read_text()
    assert md.startswith("# elr: N/A\n")
    assert "\n- releases: Kafka 3.9.1 · kafka-python " in md
    assert md.endswith(
        "\n\nKnown bug [KAFKA-19012](https://issues.apache.org/jira/browse/KAFKA-19012): a lost batch. "
        "Kafka 3.9.1: this release is affected. Measured: N/A (the row did not run on this release).\n\n"
        f"Not run: {NA}\n"
    )
    page = (tmp_path / "run" / "report.html").read_text()
    assert "<span class='badge' style='background:#5f7a94'>N/A</span>" in page
    assert f"<p><b>Not run:</b> {NA}</p>" in page and "did not complete" not in page
    case = ET.parse(tmp_path / "run" / "junit.xml").getroot().find("testcase")
    assert case is not None and [child.tag for child in case] == ["properties", "skipped"]
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert (props["known_bug"], props["known_bug.affected"]) == ("KAFKA-19012", "true")
    # GitHub: a notice on the file, never an error or a warning
    assert run_annotations([run], tmp_path) == [Annotation("notice", "elr.yaml", 1, "elr: not applicable", NA)]


def test_github_gives_a_row_that_did_not_apply_a_notice_after_the_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    two_by_two(tmp_path)
    commands: list[str] = []
    assert publish_suite(tmp_path, {"GITHUB_ACTIONS": "true"}, commands.append) == []
    assert [c.split(" ", 1)[0] for c in commands] == ["::error", "::notice", "::notice"]
    assert commands[0].startswith(
        "::error file=b2.java@3.9.1/experiment.yaml,line=1,title=b2.java@3.9.1%3A broker_loss == 0::"
    )
    assert commands[1] == (
        "::notice file=elr.kafka-python@3.9.1/experiment.yaml,line=1,"
        f"title=elr.kafka-python@3.9.1%3A not applicable::{NA}"
    )


def _report(name: str, client: str, release: str, broker: int, meta: dict[str, object] | None = None) -> RunReport:
    """A run on ``release`` that lost ``broker`` records, expecting none."""
    met = ExpectationResult(name="broker_loss == 0", passed=not broker, actual=broker)
    verdict = Verdict.build(
        run_id="r",
        experiment=name,
        counts=Counts(sent=9),
        anomalies={},
        trust=Trust(),
        loss={"producer": 0, "broker": broker, "consumer": 0},
        expectations=[met],
    )
    versions = {"kafka-clients": release} if client == "java" else {}
    fields = {"client": client, "kafka_version": release, "client_versions": versions, **(meta or {})}
    return RunReport(Path(f"{name}.{client}@{release}"), name, fields, verdict, None)


def test_a_known_bugs_cell_says_whether_its_release_has_the_bug() -> None:
    """Fails where the bug is, holds where it is fixed: a client bug, judged by kafka-clients' release."""
    bug = {**BUG, "fixed_in": ["4.0.1"]}
    runs = [
        _report("p9", "java", "4.0.0", 12, {"known_bug": bug}),
        _report("p9", "java", "4.4.0", 0, {"known_bug": bug}),
        _report("p9", "kafka-python", "4.4.0", 0, {"known_bug": bug}),
    ]
    assert [cell(run) for run in runs] == [
        "FAIL 0/12/0 · KAFKA-19012 affects 4.0.0",
        "PASS 0/0/0 · KAFKA-19012 fixed in 4.4.0",
        "PASS 0/0/0 · KAFKA-19012: no kafka-clients in this run",
    ]
    introduced = {**bug, "introduced": "4.0.0"}
    assert cell(_report("p9", "java", "3.9.1", 0, {"known_bug": introduced})) == (
        "PASS 0/0/0 · KAFKA-19012 not yet in 3.9.1"
    )


def test_a_known_bugs_run_report_links_the_bug_and_compares_what_was_measured(tmp_path: Path) -> None:
    release_run(tmp_path / "old", "p9", "java", "3.9.0", {"broker_loss": 0}, known_bug=BUG, facts=FACTS["3.9.1"])
    release_run(tmp_path / "new", "p9", "java", "4.4.0", {"broker_loss": 0}, known_bug=BUG, facts=FACTS["4.4.0"])
    assert write_run_reports(tmp_path / "old") == write_run_reports(tmp_path / "new") == []
    link = "[KAFKA-19012](https://issues.apache.org/jira/browse/KAFKA-19012): a lost batch."
    old, new = (tmp_path / "old" / "summary.md").read_text(), (tmp_path / "new" / "summary.md").read_text()
    assert f"\n\nKnown bug {link} kafka-clients 3.9.0: this release is affected. " in old
    assert "Measured: FAIL, as the bug predicts.\n" in old  # the synthetic run lost 20 records
    assert (
        f"\n\nKnown bug {link} kafka-clients 4.4.0: not affected (fixed in 3.9.1, 4.0.1 and every newer line). "
        "Measured: FAIL, not what the bug predicts.\n"
    ) in new
    assert (
        "- releases: Kafka 4.4.0 · kafka-clients 4.4.0\n"
        "- feature levels: metadata.version 27, transaction.version 2, group.version 1, "
        "eligible.leader.replicas.version 1\n"
        "- group protocols: classic, consumer\n"
        "- defaults in force (keys the run did not set): producer linger.ms=5 (4.4.0), "
        "topic min.insync.replicas=1 (4.4.0)\n"
    ) in new
    page = (tmp_path / "new" / "report.html").read_text()
    assert "<b>Known bug <a href='https://issues.apache.org/jira/browse/KAFKA-19012'>KAFKA-19012</a>:</b>" in page
    assert "<b>Releases:</b> Kafka 4.4.0 · kafka-clients 4.4.0<br><b>Feature levels:</b> metadata.version 27" in page
    props = {p.get("name"): p.get("value") for p in ET.parse(tmp_path / "new" / "junit.xml").getroot().iter("property")}
    assert (props["feature.metadata.version"], props["group_protocols"]) == ("27", "classic,consumer")
    assert (props["default.producer.linger.ms"], props["known_bug.affected"]) == ("5", "false")
    out = ET.parse(tmp_path / "new" / "junit.xml").getroot().findtext("testcase/system-out") or ""
    assert out.startswith("releases: Kafka 4.4.0 · kafka-clients 4.4.0\n")
    assert "known bug KAFKA-19012 (https://issues.apache.org/jira/browse/KAFKA-19012): kafka-clients 4.4.0" in out
    found = run_annotations([load_run(tmp_path / "new")], tmp_path)
    assert [a.message.split("; report:")[0] for a in found] == [
        "expected broker_loss == 0, got 20 (loss by stage: producer 0, broker 20, consumer 0; known bug "
        "KAFKA-19012, kafka-clients 4.4.0: not affected (fixed in 3.9.1, 4.0.1 and every newer line)"
    ]


@pytest.mark.parametrize(
    ("runs", "header"),
    [
        # one release, several clients: a column per client, as before releases were recorded
        ([("java", "4.4.0"), ("kafka-python", "4.4.0")], "| claim | experiment | java | kafka-python |"),
        # one client, several releases: a column per release, in release order (4.10 after 4.4)
        ([("java", "4.10.0"), ("java", "3.9.1"), ("java", "4.4.0")], "| claim | experiment | 3.9.1 | 4.4.0 | 4.10.0 |"),
    ],
)
def test_the_grid_has_a_column_per_client_or_per_release(runs: list[tuple[str, str]], header: str) -> None:
    reports = [_report("b2", client, release, 3) for client, release in runs]
    assert side_by_side(reports).splitlines()[2] == header
    assert side_by_side(reports[:1]) == ""


def test_a_suite_on_one_release_says_nothing_of_releases(tmp_path: Path) -> None:
    runs = [_report("b2", c, "4.4.0", 3, {"release": FACTS["4.4.0"]}) for c in ("java", "kafka-python")]
    table = side_by_side(runs)
    assert "per release" not in table and "differ" not in table
    assert [c.release for c in grid(runs).columns] == ["4.4.0", "4.4.0"]


def test_run_directories_from_before_releases_were_recorded_still_render(tmp_path: Path) -> None:
    suite_dir = tmp_path / "suite"
    results = []
    for client in ("kafka-python", "java"):
        make_run(suite_dir / f"b2.{client}", {"broker_loss": ">0"}, name="b2")
        meta = json.loads((suite_dir / f"b2.{client}" / "run.json").read_text())
        (suite_dir / f"b2.{client}" / "run.json").write_text(json.dumps({**meta, "client": client}))
        results.append(
            RunResult("b2", None, suite_dir / f"b2.{client}", "r1", verdict=read_verdict(suite_dir / f"b2.{client}"))
        )
    write_suite_json(SuiteResult(suite_dir, results, 60.0))
    main(["report", str(suite_dir)])
    md = (suite_dir / "summary.md").read_text()
    assert (
        "| claim | experiment | kafka-python | java |\n|---|---|---|---|\n| B2 | b2 | PASS 0/20/0 | PASS 0/20/0 |\n"
        in md
    )
    assert "per release" not in md and "differ between" not in md
    assert sorted(json.loads((suite_dir / "suite.json").read_text())["rates"]) == ["b2", "b2.java"]
    one = (suite_dir / "b2.java" / "summary.md").read_text()
    assert one.startswith("# b2.java: PASS\n") and "- releases:" not in one and "Known bug" not in one
    props = {p.get("name") for p in ET.parse(suite_dir / "junit.xml").getroot().iter("property")}
    assert "kafka_version" not in props and not any(str(p).startswith("feature.") for p in props)


def test_a_run_json_whose_known_bug_breaks_its_contract_is_one_line(tmp_path: Path) -> None:
    release_run(tmp_path / "bad", "p9", "java", "4.4.0", {}, known_bug={**BUG, "side": "both"})
    [problem] = write_run_reports(tmp_path / "bad")
    assert "\n" not in problem
    assert problem.startswith(
        f"reading {tmp_path}/bad: {tmp_path}/bad/run.json does not fit its contract: known_bug.side:"
    )


def test_kafka_chaos_run_prints_a_row_that_did_not_apply_as_n_a_and_exits_0(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``kafka-chaos run --kafka-version 3.9.1,4.4.0``: the runner and the CLI as they are, the 4.4.0
    row a hand-made run directory instead of a cluster's, each release's keys all the file sets."""
    from chaos.experiments import applicable
    from chaos.experiments.phases import Phases
    from chaos.experiments.runner import ExperimentRun
    from chaos.oracle import reconcile

    def on_cluster(self: ExperimentRun, phases: Phases) -> None:
        written = json.loads((self.run_dir / "run.json").read_text())
        make_run(self.run_dir, {"broker_loss": ">0"}, self.exp.name)  # its synthetic ledgers write a run.json
        (self.run_dir / "run.json").write_text(json.dumps(written))
        self.result.verdict = reconcile(self.run_dir, self.exp.name)

    monkeypatch.setattr(ExperimentRun, "_on_cluster", on_cluster)
    monkeypatch.setattr(
        applicable, "release_keys", lambda v: {k: () for k in ("producer", "consumer", "topic", "broker")}
    )
    monkeypatch.chdir(tmp_path)
    (tmp_path / "elr.yaml").write_text(
        "name: elr\nproducer: {rate: 10}\nneeds: {kafka: 4.0.0, why: eligible leader replicas}\n"
    )
    main(["run", "elr.yaml", "--kafka-version", "3.9.1,4.4.0", "--reports", "r", "-q"])  # exit 0: no SystemExit
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines[:2]] == [["N/A", "elr@3.9.1"], ["PASSED", "elr@4.4.0"]]
    assert lines[0].endswith(f"s  {NA}")
    assert lines[2].startswith("1/1 passed, 1 not applicable in ")
    (suite_dir,) = (tmp_path / "r").iterdir()
    assert sorted(json.loads((suite_dir / "suite.json").read_text())["rates"]) == ["elr@4.4.0"]
    assert (
        "| claim | experiment | 3.9.1 | 4.4.0 |\n|---|---|---|---|\n|  | elr | N/A | PASS 0/20/0 |\n"
        in (suite_dir / "summary.md").read_text()
    )


def test_a_row_that_did_not_apply_stays_n_a_when_its_directory_is_gone(tmp_path: Path) -> None:
    import shutil

    from chaos.reports import rewrite_suite_reports, suite_runs

    two_by_two(tmp_path)
    shutil.rmtree(tmp_path / "elr.java@3.9.1")  # suite.json still says why it did not run
    gone = [r for r in suite_runs(tmp_path) if r.run_dir.name == "elr.java@3.9.1"]
    assert [(r.status, r.not_applicable, r.error) for r in gone] == [("not_applicable", NA, None)]
    assert rewrite_suite_reports(tmp_path) == []
    assert ET.parse(tmp_path / "junit.xml").getroot().get("skipped") == "2"
