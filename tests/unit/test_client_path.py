"""The client path of a run without Docker: the experiment file and ``--client-path`` choose it, the
plan carries it, every workload and the drain are given its bootstrap address, the run directory
and the reports say which it was, and one cluster serves both. Files whose faults act on the
proxied path are refused with the direct one in test_experiment_files.py's table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import pytest

from chaos.cluster import KafkaCluster
from chaos.events import EventBus
from chaos.experiments.executor import Execution
from chaos.experiments.explore import KINDS
from chaos.experiments.loading import load_experiment, load_suite
from chaos.experiments.model import Experiment
from chaos.experiments.phased import execute
from chaos.experiments.phases import Phases
from chaos.experiments.plan import TopicPlan, plan_experiment
from chaos.experiments.pool import shape
from chaos.experiments.runner import ExperimentRun, RunOptions
from chaos.faults import proxy_kinds
from chaos.faults.schedule import RANDOM_KINDS
from chaos.oracle.verdict import Counts, Trust, Verdict
from chaos.reports.words import settings_line
from chaos.scenario import Scenario
from chaos.workloads.security import PLAINTEXT, brokers_of
from chaos.workloads.spec import load_spec

PROXIED = "127.0.0.1:30001,127.0.0.1:30002,127.0.0.1:30003"
DIRECT = "127.0.0.1:40001,127.0.0.1:40002,127.0.0.1:40003"

FILE = """\
name: both-ways
producer: {rate: 100, count: 50}
consumer: {strategy: after_process}
faults:
  - {kind: broker_kill, target: leader, at: 1, duration: 2}
expect: {broker_loss: 0}
"""


class TwoPathCluster:
    """A running cluster as the executor sees it, with both client paths and no Docker."""

    run_id = "20261127-000000-abcd"
    nodes: tuple[object, ...] = ()
    security = PLAINTEXT
    topics: list[str]

    def __init__(self) -> None:
        self.topics = []

    def bootstrap(self, client_path: str = "proxy") -> str:
        return DIRECT if client_path == "direct" else PROXIED

    def wait_offsets_ready(self, timeout: float = 60.0) -> None:
        pass

    def create_topic(self, name: str, *args: object, **kwargs: object) -> None:
        self.topics.append(name)


def two_paths() -> KafkaCluster:
    return cast("KafkaCluster", TwoPathCluster())


def write(tmp_path: Path, text: str = FILE, name: str = "both-ways.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_file_takes_the_proxy_unless_it_or_the_command_line_says_direct(tmp_path: Path) -> None:
    proxied = write(tmp_path)
    direct = write(tmp_path, "client_path: direct\n" + FILE.replace("both-ways", "direct"), "direct.yaml")
    assert load_experiment(proxied).client_path == "proxy"
    assert load_experiment(direct).client_path == "direct"
    assert load_experiment(proxied, client_path="direct").client_path == "direct"
    assert load_experiment(direct, client_path="proxy").client_path == "proxy"  # the command line wins
    assert {item.experiment.client_path for item in load_suite([tmp_path], client_path="direct")} == {"direct"}


def test_the_command_line_may_take_a_file_with_a_toxic_back_through_the_proxy(tmp_path: Path) -> None:
    toxic = "  - {kind: toxic, type: latency, at: 1, duration: 2}\n"
    path = write(tmp_path, "client_path: direct\n" + FILE.replace("faults:\n", "faults:\n" + toxic))
    assert load_experiment(path, client_path="proxy").faults[0].kind == "toxic"


def test_the_refusal_names_the_command_line_when_it_chose_the_direct_path(tmp_path: Path) -> None:
    toxic = "  - {kind: proxy_down, at: 1, duration: 2}\n"
    path = write(tmp_path, FILE.replace("faults:\n", "faults:\n" + toxic))
    with pytest.raises(Exception, match=r":5: faults\.0\.kind: proxy_down acts on the proxied client path, which "):
        load_experiment(path, client_path="direct")
    with pytest.raises(Exception, match="--client-path direct bypasses: remove it, or run without --client-path"):
        load_experiment(path, client_path="direct")


def test_the_plan_carries_the_path_and_the_cluster_shape_does_not() -> None:
    exp = Experiment.model_validate({"name": "x", "producer": {"count": 10}})
    proxied = plan_experiment(exp, "r1", Path("/tmp/r1"))
    direct = plan_experiment(exp.on_path("direct"), "r1", Path("/tmp/r1"))
    assert (proxied.client_path, direct.client_path) == ("proxy", "direct")
    # one cluster serves both paths: a suite that runs a file both ways starts one cluster
    assert shape(exp.cluster.spec()) == shape(exp.on_path("direct").cluster.spec())
    assert exp.on_path(None) is exp


def test_random_schedules_and_explored_ones_never_draw_a_proxy_fault_unless_the_defaults_do() -> None:
    # explore's schedules suit either path; the default random kinds do not (loading refuses them)
    assert not set(KINDS) & set(proxy_kinds())
    assert {k["kind"] for k in RANDOM_KINDS} & set(proxy_kinds()) == {"toxic"}


def test_every_workload_of_a_run_is_given_the_bootstrap_address_of_its_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Started(Exception):
        """Stops the run where the workloads would start: their specs are written by then."""

    def refuse(self: Execution) -> None:
        raise Started

    monkeypatch.setattr(Execution, "start_all", refuse)
    exp = load_experiment(write(tmp_path), client_path="direct")
    plan = plan_experiment(exp, "r1", tmp_path / "run")
    with pytest.raises(Started):
        execute(plan, two_paths(), Phases(tmp_path / "run", EventBus(), "x"), EventBus())
    specs = [load_spec(p) for p in sorted((tmp_path / "run" / "workloads").glob("*.json"))]
    assert [s.bootstrap_servers for s in specs] == [DIRECT, DIRECT]
    phases = json.loads((tmp_path / "run" / "phases.json").read_text())
    assert [p for p in phases if p["name"] == "workloads"]


def test_the_drain_reads_through_the_runs_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    monkeypatch.setattr(
        "chaos.experiments.executor.drain", lambda bootstrap, *a, **k: seen.append(brokers_of(bootstrap).servers)
    )
    monkeypatch.setattr(Execution, "count_with_kafka", lambda self: None)
    for path in ("proxy", "direct"):
        with Execution(two_paths(), tmp_path / path, TopicPlan("t"), client_path=path) as ex:
            ex.drain([])
    assert seen == [PROXIED, DIRECT]


def test_a_scenario_on_the_direct_path_gives_its_workloads_the_direct_address(tmp_path: Path) -> None:
    with Scenario(two_paths(), tmp_path / "s", topic="t", client_path="direct") as s:
        producer = s.producer(mode="async", count=10)
        assert producer.spec.bootstrap_servers == DIRECT
        assert s.consumer().spec.bootstrap_servers == DIRECT
    assert json.loads((tmp_path / "s" / "run.json").read_text())["client_path"] == "direct"
    with Scenario(two_paths(), tmp_path / "p", topic="t") as s:
        assert s.producer(mode="async", count=10).spec.bootstrap_servers == PROXIED


class BreaksAtTheTopic(TwoPathCluster):
    def create_topic(self, name: str, *args: object, **kwargs: object) -> None:
        raise RuntimeError("no topic today")


def test_the_run_directory_and_the_reports_name_the_path(tmp_path: Path) -> None:
    exp = load_experiment(write(tmp_path), client_path="direct")
    cluster = cast("KafkaCluster", BreaksAtTheTopic())
    result = ExperimentRun(exp, tmp_path / "run", RunOptions(), cluster=cluster).run()
    assert result.client_path == "direct" and result.as_dict()["client_path"] == "direct"
    assert json.loads((tmp_path / "run" / "run.json").read_text())["client_path"] == "direct"
    summary = (tmp_path / "run" / "summary.md").read_text()
    assert "clients direct to the brokers (no proxy)" in summary
    assert "clients direct to the brokers (no proxy)" in (tmp_path / "run" / "report.html").read_text()


def test_junit_names_the_path_of_each_testcase(tmp_path: Path) -> None:
    from chaos.reports import RunReport
    from chaos.reports.junit import _case

    def path_of(meta: dict[str, Any]) -> str | None:
        verdict = Verdict.build(
            run_id="r",
            experiment="x",
            counts=Counts(sent=0),
            anomalies={},
            loss={"producer": 0, "broker": 0, "consumer": 0},
            trust=Trust(),
        )
        case = _case(RunReport(tmp_path, "x", meta, verdict, None), "kafka-chaos.x")
        return next(p.get("value") for p in case.iter("property") if p.get("name") == "client_path")

    assert (path_of({"client_path": "direct"}), path_of({})) == ("direct", "proxy")


def test_a_verdict_records_the_path_it_was_measured_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    judged = Verdict.build(
        run_id="r",
        experiment="x",
        counts=Counts(sent=0),
        loss={"producer": 0, "broker": 0, "consumer": 0},
        anomalies={},
        trust=Trust(),
    )
    monkeypatch.setattr("chaos.experiments.executor.reconcile", lambda run_dir, name: judged)
    monkeypatch.setattr("chaos.experiments.executor.witness", lambda *args: False)
    with Execution(two_paths(), tmp_path, TopicPlan("t"), client_path="direct") as ex:
        verdict = ex.judge("x")
    assert verdict.details.client_path == "direct"


def test_the_settings_line_says_how_the_clients_reached_the_brokers() -> None:
    assert settings_line({"client_path": "direct"}).endswith("clients direct to the brokers (no proxy)")
    # a run directory from before there was a choice went through the proxy
    assert settings_line({}).endswith("clients through toxiproxy")


def test_list_says_each_files_client_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from chaos.cli import main

    write(tmp_path)
    write(tmp_path, "client_path: direct\n" + FILE.replace("both-ways", "direct"), "direct.yaml")
    main(["list", str(tmp_path), "--json"])  # returns: standalone mode is off
    rows = json.loads(capsys.readouterr().out)
    assert {r["name"]: r["client_path"] for r in rows} == {"both-ways": "proxy", "direct": "direct"}
