"""``kafka-chaos run --cluster RUN_ID`` (and pytest's ``--kafka-chaos-cluster``) on a real cluster
started by someone else (here the plugin): reset before the run, the run's verdict as usual, the
cluster left running; a cluster of another shape, or none, is refused before anything runs."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import docker
from chaos.cluster import ClusterSpec, KafkaCluster
from chaos.cluster.registry import spec_to_json
from chaos.labels import ROLE_LABEL, RUN_LABEL, SPEC_LABEL, resource_name
from tests.helpers.real_cluster import cli, labelled

pytestmark = pytest.mark.kafka_cluster(brokers=1)

ROOT = Path(__file__).resolve().parents[2]

ONE_BROKER = """\
name: on-a-given-cluster
cluster: {brokers: 1}
topic: {replication_factor: 1}
producer: {mode: sync, rate: 200, settings: {acks: all}}
consumer: {strategy: after_process}
phases: {warmup: 1, fault_window: 2, settle: 1}
expect: {producer_loss: "0", broker_loss: "0", consumer_loss: "0"}
"""


def test_a_run_on_a_given_cluster_resets_it_first_and_leaves_it_running(
    kafka_cluster: KafkaCluster, tmp_path: Path
) -> None:
    kafka_cluster.create_topic("left-by-someone", 1, 1)
    path = tmp_path / "one.yaml"
    path.write_text(ONE_BROKER)
    reports = tmp_path / "reports"
    proc = cli("run", str(path), "--cluster", kafka_cluster.run_id, "--reports", str(reports), "-q", check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (suite,) = reports.iterdir()
    (run,) = json.loads((suite / "suite.json").read_text())["runs"]
    assert (run["cluster"], run["cluster_id"], run["status"]) == ("given", kafka_cluster.run_id, "passed"), run
    assert (
        f"1 run on cluster {kafka_cluster.run_id} (--cluster), reset before each" in (suite / "summary.md").read_text()
    )
    assert list((Path(run["run_dir"]) / "logs").glob("*.log")), "the run's part of the broker logs"
    # still running, and the reset before the run removed what was there
    assert [n.state for n in kafka_cluster.nodes] == ["running"]
    kafka_cluster.wait_healthy(30)
    topics = kafka_cluster.admin_call(lambda a: a.list_topics())
    assert "left-by-someone" not in topics


def test_a_given_cluster_of_another_shape_or_none_is_refused_before_anything_runs(
    engine: docker.DockerClient, kafka_cluster: KafkaCluster, tmp_path: Path
) -> None:
    path = tmp_path / "three.yaml"
    path.write_text(
        ONE_BROKER.replace("brokers: 1", "brokers: 3").replace("replication_factor: 1", "replication_factor: 3")
    )
    reports = tmp_path / "reports"
    proc = cli("run", str(path), "--cluster", kafka_cluster.run_id, "--reports", str(reports), check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"on-a-given-cluster wants another cluster than {kafka_cluster.run_id} (brokers 3 (the cluster has 1))" in (
        proc.stderr
    )
    assert "Traceback" not in proc.stderr and not reports.exists()
    proc = cli("run", str(path), "--cluster", "20000101-000000-none", "--reports", str(reports), check=False)
    assert proc.returncode == 2 and "no cluster with run id '20000101-000000-none'" in proc.stderr, proc.stderr
    hint = proc.stderr.split("`")[1]
    assert hint == "kafka-chaos cluster status"
    # The hint lists every cluster, also when several run: here a second one as Docker knows it.
    other = "20000101-000000-also"
    labels = {RUN_LABEL: other, ROLE_LABEL: "network", SPEC_LABEL: spec_to_json(ClusterSpec(brokers=1))}
    engine.networks.create(resource_name(other, "net"), labels=labels)
    try:
        text = cli(*hint.split()[1:]).stdout
        assert "clusters are running" in text and f"cluster {kafka_cluster.run_id} (Kafka" in text, text
        listed = json.loads(cli(*hint.split()[1:], "--json").stdout)
        assert {kafka_cluster.run_id, other} <= {s["run_id"] for s in listed}, listed
    finally:
        cli("clean", "--run-id", other)
    assert labelled(engine, other) == []


def test_pytest_k_runs_one_experiment_file_as_a_test_on_a_given_cluster(
    kafka_cluster: KafkaCluster, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # this tree's plugin, whatever copy is installed
    experiments = pytester.mkdir("experiments")
    (experiments / "one.yaml").write_text(ONE_BROKER.replace("on-a-given-cluster", "picked"))
    (experiments / "two.yaml").write_text(ONE_BROKER.replace("on-a-given-cluster", "other"))
    (experiments / "deploy.yaml").write_text("apiVersion: v1\nkind: Pod\n")  # named by no pattern
    result = pytester.runpytest_subprocess(
        "experiments",
        "-k",
        "picked",
        "-p",
        "no:cacheprovider",
        "--junitxml=out.xml",
        "--kafka-chaos-experiments=experiments/[ot]*.yaml",
        f"--kafka-chaos-reports={pytester.path / 'reports'}",
        f"--kafka-chaos-cluster={kafka_cluster.run_id}",
        "-rA",
        timeout=600,
    )
    result.assert_outcomes(passed=1, deselected=1)
    result.stdout.fnmatch_lines(["*kafka-chaos verdict*", "*PASS producer_loss == 0*"])
    props = {(p.get("name"), p.get("value")) for p in ET.parse(pytester.path / "out.xml").getroot().iter("property")}
    assert {("loss.producer", "0"), ("cluster", "given")} <= props, props
    assert [n.state for n in kafka_cluster.nodes] == ["running"]  # the session ended; the cluster stays
