"""``chaos.experiments.single``: one experiment file run as a test runs it (the run built from the
file and the options, on the given pool), and what a test report says of its outcome. The run itself
is a stand-in: what it would do on a real cluster is the Docker tier's."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from chaos.cluster import ClusterSpec, KafkaCluster
from chaos.experiments.model import ExperimentFileError
from chaos.experiments.pool import ClusterPool
from chaos.experiments.runner import ExperimentRun, RunOptions
from chaos.experiments.single import FileRun, run_file
from chaos.oracle.verdict import Counts, ExpectationResult, Trust, Verdict
from chaos.results import RunResult

ONE = """\
name: one
cluster: {brokers: 1}
topic: {replication_factor: 1}
producer: {mode: sync, rate: 200, settings: {acks: all}}
consumer: {strategy: after_process}
phases: {warmup: 1, fault_window: 2, settle: 1}
expect: {broker_loss: "0"}
"""


def verdict(broker: int | None, conclusive: bool = True) -> Verdict:
    met = ExpectationResult(name="broker_loss == 0", passed=broker == 0, actual=broker)
    trust = Trust() if conclusive else Trust(conclusive=False, drain_complete=False, reasons=["the drain stopped"])
    built = Verdict.build(
        run_id="r",
        experiment="one",
        counts=Counts(sent=10, acked=10),
        anomalies={},
        trust=trust,
        loss={"producer": 0, "broker": broker or 0, "consumer": 0},
        expectations=[met],
    )
    return built.with_details(cluster="reused")


def unusable(spec: ClusterSpec) -> KafkaCluster:
    raise AssertionError("the stand-in run takes no cluster")


def stand_in(seen: list[ExperimentRun], found: Verdict | None, error: str | None = None) -> Callable[..., RunResult]:
    """A run that ends with ``found`` (or ``error``) without a cluster, keeping what it was given."""

    def runs(run: ExperimentRun) -> RunResult:
        seen.append(run)
        run.result.verdict, run.result.error = found, error
        run.result.cluster = "reused" if error is None else ""
        return run.result

    return runs


def test_a_file_runs_into_its_own_run_directory_with_the_options_and_pool_given(tmp_path: Path) -> None:
    path = tmp_path / "one.yaml"
    path.write_text(ONE)
    pool = ClusterPool(unusable)
    options = RunOptions(reports_dir=tmp_path / "reports", seed=7, kafka_version="3.9.1")
    seen: list[ExperimentRun] = []
    outcome = run_file(path, options, pool, runs=stand_in(seen, verdict(0)))
    (run,) = seen
    assert run.run_dir == tmp_path / "reports" / run.run_id / "one"
    assert (run.pool, run.options, run.path, run.exp.name) == (pool, options, path, "one")
    assert run.plan.seed == 7
    assert (outcome.name, outcome.client, outcome.result) == ("one", "kafka-python", run.result)
    assert outcome.failure() is None and outcome.verdict is not None and outcome.verdict.passed


def outcome_of(found: Verdict | None, error: str | None = None) -> FileRun:
    result = RunResult("one", None, Path("reports/r/one"), "r", verdict=found, error=error, client_path="direct")
    result.cluster = "reused" if found is not None else ""
    return FileRun(result, "librdkafka")


def test_a_passed_run_reports_the_junit_properties_of_kafka_chaos_run() -> None:
    props = outcome_of(verdict(0)).properties()
    assert props[:7] == [
        ("run_dir", "reports/r/one"),
        ("client", "librdkafka"),
        ("client_path", "direct"),
        ("cluster", "reused"),
        ("loss.producer", "0"),
        ("loss.broker", "0"),
        ("loss.consumer", "0"),
    ]
    assert dict(props)["counts.sent"] == "10" and dict(props)["counts.acked"] == "10"


@pytest.mark.parametrize(
    ("found", "error", "check", "failure"),
    [
        (verdict(0), None, True, None),
        (verdict(3), None, True, "one: expected broker_loss == 0, got 3"),
        (verdict(3), None, False, None),
        (verdict(None, conclusive=False), None, True, "one: the verdict is inconclusive: the drain stopped"),
        (verdict(None, conclusive=False), None, False, None),
        (None, "ClusterUnhealthy: broker-1 never answered", True, None),
        (None, "ClusterUnhealthy: broker-1 never answered", False, None),
    ],
    ids=["passed", "failed", "failed-unchecked", "inconclusive", "inconclusive-unchecked", "error", "error-unchecked"],
)
def test_a_run_fails_its_test_with_one_sentence(
    found: Verdict | None, error: str | None, check: bool, failure: str | None
) -> None:
    if error is not None:
        failure = f"one could not complete: {error} (see reports/r/one)"  # checked or not: there is no verdict
    assert outcome_of(found, error).failure(check) == failure


def test_the_report_section_says_the_verdict_line_by_line_and_where_the_run_is() -> None:
    lines = outcome_of(verdict(3)).report().splitlines()
    assert [lines[0], lines[3], lines[4]] == [
        "loss by stage: producer=0, broker=3, consumer=0",
        "FAIL broker_loss == 0 (actual 3)",
        "run directory: reports/r/one (report.html, summary.md, verdict.json)",
    ]
    assert lines[1].startswith("counts: sent=10, acked=10, unconfirmed=0,") and lines[2].startswith("anomalies: ")
    assert len(lines) == 5
    assert outcome_of(None, "ClusterUnhealthy: broker-1 never answered").report().splitlines() == [
        "run directory: reports/r/one (report.html, summary.md, verdict.json)",
        "error: ClusterUnhealthy: broker-1 never answered",
    ]
    assert outcome_of(None, "x").properties() == [("run_dir", "reports/r/one")]


def test_a_malformed_file_is_refused_before_anything_runs(tmp_path: Path) -> None:
    path = tmp_path / "k8s.yaml"
    path.write_text("apiVersion: v1\nkind: Pod\n")
    seen: list[ExperimentRun] = []
    with pytest.raises(ExperimentFileError, match="name: is required"):
        run_file(path, RunOptions(reports_dir=tmp_path), ClusterPool(unusable), runs=stand_in(seen, None))
    assert seen == [] and list(tmp_path.iterdir()) == [path]
