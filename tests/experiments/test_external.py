"""A team's cluster, for real: a cluster the harness starts and then forgets, reached only by its
SASL_SSL listeners (``--bootstrap-servers``) with the client properties a team would hand over
(``--client-config``: SCRAM-SHA-512 over TLS), as a team's staging cluster would be.

Client faults (C1, P1) give the verdict classes their claims give on the harness's own clusters;
everything the runs created is gone afterwards and the team's own topic is untouched; a run asking
for a fault the backend cannot perform, or consent naming another cluster, is refused before
anything is created; and ``clean --bootstrap-servers`` after a SIGKILLed run leaves nothing of the
harness on the cluster. No file a run writes holds the password. ``extended``: run by
``scripts/setup``'s main job, not the test command.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

from chaos import rundir
from chaos.cluster import ClusterSpec, KafkaCluster
from chaos.cluster.external import PREFIX
from chaos.workloads import netns
from chaos.workloads.security import Brokers, load_client_config
from tests.experiments.test_releases import run_suite

ROOT = Path(__file__).resolve().parents[2]
C1 = next((ROOT / "experiments").glob("c1-auto-commit-*.yaml"))
P1 = next((ROOT / "experiments").glob("p1-*.yaml"))
B2 = next((ROOT / "experiments").glob("b2-*.yaml"))
P3D = next((ROOT / "experiments").glob("p3d-*.yaml"))
P4D = next((ROOT / "experiments").glob("p4d-*.yaml"))
TEAM_TOPIC = "orders"

pytestmark = [pytest.mark.experiment, pytest.mark.extended]


@dataclass(frozen=True)
class Team:
    """What a team hands over: bootstrap servers and a client properties file."""

    bootstrap: str
    config: Path

    @property
    def args(self) -> list[str]:
        return ["--bootstrap-servers", self.bootstrap, "--client-config", str(self.config)]

    def kwargs(self) -> dict[str, Any]:
        return Brokers(self.bootstrap, load_client_config(self.config)).kafka_python()

    @property
    def password(self) -> str:
        return load_client_config(self.config).login()[1]


@pytest.fixture(scope="module")
def team_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Team]:
    """A 3-broker cluster with a SASL_SSL listener and a topic of the team's holding one record;
    yields only what a team hands over (nothing of the harness stands between)."""
    cluster = KafkaCluster(ClusterSpec(brokers=3, security="sasl_ssl"), run_dir=tmp_path_factory.mktemp("team"))
    cluster.start()
    try:
        team = Team(cluster.secure_bootstrap_servers, cluster.client_config_path())
        admin = KafkaAdminClient(**team.kwargs())
        admin.create_topics([NewTopic(TEAM_TOPIC, 3, 3)])
        admin.close()
        producer = KafkaProducer(**team.kwargs(), acks="all")
        producer.send(TEAM_TOPIC, b"the team's record", partition=0).get(30)
        producer.close()
        yield team
    finally:
        cluster.destroy()


def harness_names(team: Team) -> list[str]:
    """Every topic and group on the cluster under the harness's prefix."""
    admin = KafkaAdminClient(**team.kwargs())
    try:
        topics = [t for t in admin.list_topics() if t.startswith(PREFIX)]
        groups = [str(g[0] if isinstance(g, tuple) else g["group_id"]) for g in admin.list_groups()]
        return sorted([*topics, *(g for g in groups if g.startswith(PREFIX))])
    finally:
        admin.close()


def kc(*args: str) -> subprocess.CompletedProcess[str]:
    """``kafka-chaos ARGS``, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "chaos.cli", *args], capture_output=True, text=True, timeout=120, check=False
    )


def team_records(team: Team) -> list[bytes]:
    consumer = KafkaConsumer(**team.kwargs(), consumer_timeout_ms=5000)
    tp = TopicPartition(TEAM_TOPIC, 0)
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    values = [bytes(r.value) for r in consumer]
    consumer.close()
    return values


@pytest.mark.parametrize("client", ["kafka-python", "librdkafka", "java"])
def test_client_faults_give_their_claims_verdicts_and_leave_nothing_behind(
    team_cluster: Team, tmp_path: Path, client: str
) -> None:
    proc, suite, _ = run_suite(tmp_path, str(C1), str(P1), *team_cluster.args, "--client", client)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    runs = {r["name"].split("-")[0]: r for r in suite["runs"]}
    assert runs["c1"]["loss"]["consumer"] > 0 and runs["c1"]["loss"]["broker"] == 0
    assert runs["p1"]["status"] == "passed" and runs["p1"]["counts"]["acked"] > 0
    written = [p for p in (tmp_path / "reports").rglob("*") if p.is_file()]
    assert written and not [p for p in written if team_cluster.password.encode() in p.read_bytes()]
    for run in suite["runs"]:
        run_dir = Path(run["run_dir"])
        meta = json.loads((run_dir / rundir.RUN).read_text())
        assert meta["topic"].startswith(PREFIX + meta["run_id"]), meta["topic"]
        assert json.loads((run_dir / rundir.VERDICT).read_text())["details"]["client_path"] == "direct"
        config = json.loads((run_dir / rundir.CLUSTER_CONFIG).read_text())
        assert sorted(config["brokers"]) == ["1", "2", "3"] and config["features"]["metadata.version"] > 0
        assert meta["topic"] in config["topic"]
        # Kafka's offsets tool witnessed the drain from a container of its own, with the team's config
        offsets = json.loads((run_dir / rundir.DRAIN / rundir.KAFKA_OFFSETS).read_text())
        assert offsets.get("end") and "error" not in offsets, offsets
    assert harness_names(team_cluster) == []
    assert team_records(team_cluster) == [b"the team's record"]


def test_a_fault_the_backend_cannot_perform_is_refused_before_anything_is_created(
    team_cluster: Team, tmp_path: Path
) -> None:
    proc = kc("run", str(C1), str(B2), *team_cluster.args, "--reports", str(tmp_path))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "asks for fault broker_kill, which backend clients cannot perform" in proc.stderr
    assert not list(tmp_path.rglob(rundir.VERDICT)) and harness_names(team_cluster) == []
    proc = kc("run", str(C1), *team_cluster.args, "--allow-faults-on", "not-this-cluster", "--reports", str(tmp_path))
    assert proc.returncode == 2 and "--allow-faults-on not-this-cluster does not name the cluster" in proc.stderr
    wrong = tmp_path / "wrong.properties"
    wrong.write_text(team_cluster.config.read_text().replace(team_cluster.password, "not-the-password"))
    proc = kc(
        "run",
        str(C1),
        "--bootstrap-servers",
        team_cluster.bootstrap,
        "--client-config",
        str(wrong),
        "--reports",
        str(tmp_path),
    )
    assert proc.returncode == 2 and "accept connections but did not answer the harness's client" in proc.stderr
    assert "not-the-password" not in proc.stderr + proc.stdout


def test_clean_after_a_sigkilled_run_leaves_nothing_of_the_harness(team_cluster: Team, tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "chaos.cli", "run", str(C1), *team_cluster.args, "--reports", str(tmp_path), "-q"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while len(harness_names(team_cluster)) < 2:  # its topic and its group: the consumer joined
            assert time.monotonic() < deadline and proc.poll() is None, "the run never created its topic and group"
            time.sleep(0.5)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
    assert harness_names(team_cluster)  # the SIGKILLed run could not delete them
    clean = kc("clean", *team_cluster.args, "--json")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert json.loads(clean.stdout)["removed"]
    deadline = time.monotonic() + 60
    while harness_names(team_cluster):
        assert time.monotonic() < deadline, harness_names(team_cluster)
        time.sleep(1)
    assert team_records(team_cluster) == [b"the team's record"]


def test_cuts_in_the_clients_namespace_give_p3_and_p4_without_consent_and_clean_removes_them(
    team_cluster: Team, tmp_path: Path
) -> None:
    proc, suite, _ = run_suite(tmp_path, str(P3D), str(P4D), *team_cluster.args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    runs = {r["name"].split("-")[0]: r for r in suite["runs"]}
    assert runs["p3d"]["anomalies"]["duplicates_in_log"] > 0 and runs["p4d"]["anomalies"]["duplicates_in_log"] == 0
    assert all(r["loss"]["producer"] == r["loss"]["broker"] == 0 for r in runs.values()), runs
    assert not [n for n in netns.listed() if n.startswith(netns.PREFIX)]
    # A SIGKILLed run leaves its producer's namespace and this machine's rules; clean removes them.
    reports = tmp_path / "killed"
    argv = [sys.executable, "-m", "chaos.cli", "run", str(P3D), *team_cluster.args, "--reports", str(reports), "-q"]
    proc_ = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not [n for n in netns.listed() if n.startswith(netns.PREFIX)]:
            assert time.monotonic() < deadline and proc_.poll() is None, "the run never made its namespace"
            time.sleep(0.5)
    finally:
        os.killpg(proc_.pid, signal.SIGKILL)
        proc_.wait(30)
    clean = kc("clean", *team_cluster.args, "--json")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert any(n.startswith(netns.PREFIX) for n in json.loads(clean.stdout)["namespaces"])
    assert not [n for n in netns.listed() if n.startswith(netns.PREFIX)]
    rules = subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout
    assert f"{netns.COMMENT}=" not in rules


def test_validate_runs_its_matrix_on_the_teams_cluster(team_cluster: Team, tmp_path: Path) -> None:
    producer = tmp_path / "producer.properties"
    producer.write_text("acks=all\nenable.idempotence=true\n")
    consumer = tmp_path / "consumer.properties"
    consumer.write_text("enable.auto.commit=true\nauto.commit.interval.ms=1000\n")
    files = ["--producer-config", str(producer), "--consumer-config", str(consumer), "--client", "kafka-python"]
    proc = kc("validate", *files, *team_cluster.args, "--reports", str(tmp_path / "reports"), "--json")
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]  # auto-commit with batches loses
    rows = {row["fault"]: row for row in json.loads(proc.stdout)["matrix"]}
    assert set(rows) == {"producer_kill", "consumer_kill"}  # the faults a team's cluster takes without consent
    assert rows["producer_kill"]["status"] == "PASS"
    assert rows["consumer_kill"]["status"] == "FAIL" and rows["consumer_kill"]["loss"]["consumer"] > 0
    assert harness_names(team_cluster) == []
    refused = kc("validate", *files, *team_cluster.args, "--faults", "leader_kill", "--reports", str(tmp_path))
    assert refused.returncode == 2 and "which backend clients cannot perform" in refused.stderr


def test_status_names_the_cluster_id_consent_takes_and_what_it_allows(team_cluster: Team) -> None:
    plain = kc("cluster", "status", *team_cluster.args, "--json")
    assert plain.returncode == 0, plain.stderr
    status = json.loads(plain.stdout)
    assert sorted(status["brokers"]) == ["1", "2", "3"] and status["fault_backend"] == "clients"
    assert status["features"]["metadata.version"] > 0 and team_cluster.password not in plain.stdout
    consented = kc("cluster", "status", *team_cluster.args, "--allow-faults-on", status["cluster_id"], "--json")
    assert json.loads(consented.stdout)["fault_kinds"] == ["client_kill", "client_pause", "topic_config"]
    text = kc("cluster", "status", *team_cluster.args)
    assert f"--allow-faults-on {status['cluster_id']}" in text.stdout


def test_with_consent_a_topic_fault_runs_and_k2_fails_only_on_the_affected_client(
    team_cluster: Team, tmp_path: Path
) -> None:
    """K2 lowers its topic's max.message.bytes mid-run (topic_config, an Admin API fault): refused
    without consent, and with it the Java client 4.1.2 loses records to KAFKA-8350 while 4.2.2 holds,
    as on the harness's own clusters."""
    k2 = next((ROOT / "experiments").glob("k2-*.yaml"))
    cluster_id = json.loads(kc("cluster", "status", *team_cluster.args, "--json").stdout)["cluster_id"]
    refused = kc("run", str(k2), *team_cluster.args, "--reports", str(tmp_path))
    assert refused.returncode == 2 and f"pass --allow-faults-on {cluster_id}" in refused.stderr
    proc, suite, _ = run_suite(
        tmp_path, str(k2), *team_cluster.args, "--allow-faults-on", cluster_id, "--client-version", "4.1.2,4.2.2"
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    runs = {Path(r["run_dir"]).name.rsplit("@", 1)[-1]: r for r in suite["runs"]}
    assert runs["clients-4.1.2"]["loss"]["producer"] > 0 and runs["clients-4.2.2"]["status"] == "passed"
    assert harness_names(team_cluster) == []
