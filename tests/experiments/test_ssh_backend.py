"""The ssh fault backend, for real: a cluster the harness starts with sshd on every node, Kafka a
process of its own in each container and a SASL_SSL listener, then forgets, and reaches only as a
team's cluster: its bootstrap servers, a SCRAM client properties file, the team's consent, and an
``ssh.yaml`` naming each node's host, a key and the known host keys.

B2, B3, C1 and P1 give the same statuses and loss classes there through the ssh backend as on the
docker backend. A harness SIGKILLed in the middle of an isolation, a freeze and a kill leaves
hosts that heal themselves (the watchdogs), and ``clean`` removes every rule, watchdog and topic
and starts the killed Kafka again. Hosts that refuse, or a Kafka that cannot be found, are
refused in one sentence. What the tests check on the hosts they read with ``docker exec``, not
through the harness's SSH code. ``extended``: run by ``scripts/setup``'s main job.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from chaos import rundir
from chaos.cluster import ClusterSpec, KafkaCluster
from chaos.engine import docker_client
from chaos.images.builder import ImageBuilder
from chaos.images.recipes import DEFAULT_KAFKA_VERSION
from tests.experiments.test_external import Team, harness_names, kc
from tests.experiments.test_releases import run_suite

ROOT = Path(__file__).resolve().parents[2]
ROWS = {r: next((ROOT / "experiments").glob(f"{r}-*.yaml")) for r in ("b2", "b3", "c1", "p1")}

pytestmark = [pytest.mark.experiment, pytest.mark.extended]


@dataclass(frozen=True)
class Hosts:
    """What a team hands over (bootstrap servers, client properties, its consent and its hosts'
    ``ssh.yaml``), and, for the test's own eyes only, a shell on each node by node id."""

    team: Team
    ssh: Path
    cluster_id: str
    shell: Callable[[int, str], tuple[int, str]]
    #: Every node's id: brokers 1-3 and the dedicated controller.
    ids: tuple[int, ...]

    def args(self, ssh: Path | None = None) -> list[str]:
        return [*self.team.args, "--allow-faults-on", self.cluster_id, "--ssh-config", str(ssh or self.ssh)]

    def variant(self, tmp_path: Path, **changes: Any) -> Path:
        """A copy of the ``ssh.yaml`` with ``changes``."""
        data = yaml.safe_load(self.ssh.read_text())
        for key, value in changes.items():
            data[key] = {**data[key], **value} if isinstance(value, dict) and key != "nodes" else value
        path = tmp_path / "ssh.yaml"
        path.write_text(yaml.safe_dump(data))
        return path


@pytest.fixture(scope="module")
def hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hosts]:
    ImageBuilder(docker_client()).build_sshd(DEFAULT_KAFKA_VERSION)
    spec = ClusterSpec(brokers=3, controllers=1, security="sasl_ssl", sshd=True)
    cluster = KafkaCluster(spec, run_dir=tmp_path_factory.mktemp("hosts"))
    cluster.start()
    try:
        team = Team(cluster.secure_bootstrap_servers, cluster.client_config_path())
        status = kc("cluster", "status", *team.args, "--json")
        assert status.returncode == 0, status.stderr

        def shell(node_id: int, script: str) -> tuple[int, str]:
            return cluster.node(node_id).exec(["sh", "-c", script])

        ids = tuple(n.node_id for n in cluster.nodes)
        yield Hosts(team, cluster.ssh_config_path(), json.loads(status.stdout)["cluster_id"], shell, ids)
    finally:
        cluster.destroy()


def left_on(hosts: Hosts, node_id: int) -> dict[str, str]:
    """What of the harness a node's host holds: its chains, its watchdogs, the state of Kafka."""
    script = (
        "iptables -S | grep -c '^-N kc-'; pgrep -fc 'kafka-chaos-expir[y]'; "
        "pid=$(cat /run/kafka.pid); "
        "[ -e /proc/$pid/stat ] && sed 's/.*) //' /proc/$pid/stat | cut -c1 || echo gone; "
        "[ -e /var/tmp/kafka-chaos ] && echo marks || echo none"
    )
    _, out = hosts.shell(node_id, script)
    chains, watchdogs, kafka, marks = (out.split() + ["?"] * 4)[:4]
    return {"chains": chains, "watchdogs": watchdogs, "kafka": kafka, "marks": marks}


def clean_host(state: dict[str, str]) -> bool:
    return state["chains"] == "0" and state["watchdogs"] == "0" and state["kafka"] in ("S", "R")


def classes(suite: dict[str, Any]) -> dict[str, tuple[str, dict[str, bool]]]:
    """Each row's status and, per stage, whether it lost records."""
    return {
        r["name"].split("-")[0]: (r["status"], {stage: n > 0 for stage, n in r["loss"].items()}) for r in suite["runs"]
    }


def test_b2_b3_c1_p1_agree_between_the_docker_and_the_ssh_backend(hosts: Hosts, tmp_path: Path) -> None:
    files = [str(ROWS[r]) for r in ("b2", "b3", "c1", "p1")]
    ssh_proc, ssh_suite, _ = run_suite(tmp_path / "ssh", *files, *hosts.args())
    assert ssh_proc.returncode == 0, ssh_proc.stdout[-3000:] + ssh_proc.stderr[-3000:]
    docker_proc, docker_suite, _ = run_suite(tmp_path / "docker", *files)
    assert docker_proc.returncode == 0, docker_proc.stdout[-3000:] + docker_proc.stderr[-3000:]
    assert classes(ssh_suite) == classes(docker_suite)
    by_row = classes(ssh_suite)
    assert by_row["b2"] == ("passed", {"producer": False, "broker": True, "consumer": False})
    assert by_row["b3"] == ("passed", {"producer": False, "broker": False, "consumer": False})
    assert by_row["c1"][1]["consumer"] and by_row["p1"][1]["producer"]
    b3 = next(Path(r["run_dir"]) for r in ssh_suite["runs"] if r["name"].startswith("b3"))
    events = [json.loads(line) for line in (b3 / rundir.TIMELINE).read_text().splitlines()]
    verified = {e["kind"] for e in events if e.get("event") == "verified"}
    assert {"broker_kill", "isolate"} <= verified  # the faults took effect on the hosts, checked there
    assert harness_names(hosts.team) == []
    assert all(clean_host(left_on(hosts, n)) for n in hosts.ids), [left_on(hosts, n) for n in hosts.ids]


LEFT_BEHIND = """
name: ssh-left-behind
description: an isolation, a freeze and a kill that the harness is killed in the middle of
cluster: {brokers: 3}
topic: {partitions: 1, replication_factor: 3}
producer: {mode: async, rate: 200, settings: {acks: 1}}
faults:
  - {kind: isolate, target: "broker:1", at: 0, duration: 25}
  - {kind: broker_pause, target: "broker:2", at: 0, duration: 25}
  - {kind: broker_kill, target: "broker:3", at: 0, duration: 25}
"""


def test_hosts_heal_themselves_after_a_sigkilled_harness_and_clean_leaves_nothing(hosts: Hosts, tmp_path: Path) -> None:
    experiment = tmp_path / "left-behind.yaml"
    experiment.write_text(LEFT_BEHIND)
    ssh = hosts.variant(tmp_path, rule_expiry=60)
    reports = tmp_path / "reports"
    proc = subprocess.Popen(
        [sys.executable, "-m", "chaos.cli", "run", str(experiment), *hosts.args(ssh), "--reports", str(reports), "-q"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240
        while True:
            timelines = list(reports.rglob(rundir.TIMELINE))
            text = timelines[0].read_text() if timelines else ""
            if text.count('"verified"') >= 3:
                break
            assert time.monotonic() < deadline and proc.poll() is None, f"the faults never all took effect: {text}"
            time.sleep(0.5)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
    states = {n: left_on(hosts, n) for n in hosts.ids}
    # The isolation's chain is on every host (each side drops the other), each with its watchdog.
    assert all(s["chains"] == "1" for s in states.values()), states
    assert states[2]["kafka"] == "T" and states[2]["watchdogs"] == "2", states  # frozen, its thaw waiting too
    assert states[1]["watchdogs"] == "1" and states[3]["kafka"] == "gone" and states[3]["marks"] == "marks", states

    # Nobody comes back: within rule_expiry the hosts undo the rules and the freeze by themselves.
    def healed_alone() -> bool:
        now = {n: left_on(hosts, n) for n in hosts.ids}
        return all(s["chains"] == "0" and s["watchdogs"] == "0" for s in now.values()) and now[2]["kafka"] != "T"

    deadline = time.monotonic() + 100
    while not healed_alone():
        assert time.monotonic() < deadline, {n: left_on(hosts, n) for n in hosts.ids}
        time.sleep(2)
    assert left_on(hosts, 3)["kafka"] == "gone"  # a killed Kafka is clean's to start again
    clean = kc("clean", *hosts.args(), "--json")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    found = json.loads(clean.stdout)["hosts"]
    assert any("started" in what for what in found.values()), found  # the Kafka it killed runs again
    for n in hosts.ids:
        state = left_on(hosts, n)
        assert clean_host(state) and state["marks"] == "none", (n, state)
    deadline = time.monotonic() + 120
    while harness_names(hosts.team):
        assert time.monotonic() < deadline, harness_names(hosts.team)
        time.sleep(1)


def test_status_shows_each_host_and_the_ssh_backends_kinds(hosts: Hosts) -> None:
    proc = kc("cluster", "status", *hosts.args(), "--json")
    assert proc.returncode == 0, proc.stderr
    status = json.loads(proc.stdout)
    assert status["fault_backend"] == "ssh" and {"broker_kill", "isolate", "broker_pause"} <= set(status["fault_kinds"])
    assert sorted(status["hosts"]) == sorted(map(str, hosts.ids)) and len(hosts.ids) == 4  # the controller too
    assert {h["state"] for h in status["hosts"].values()} == {"running"}


def test_hosts_that_cannot_serve_are_refused_in_one_sentence(hosts: Hosts, tmp_path: Path) -> None:
    c1 = str(ROWS["c1"])

    def refused(*args: str) -> str:
        proc = kc("run", c1, *args, "--reports", str(tmp_path / "reports"))
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert "Traceback" not in proc.stderr and not list(tmp_path.rglob(rundir.VERDICT))
        return proc.stderr

    assert "--ssh-config reaches the team's hosts for faults" in refused(
        *hosts.team.args, "--ssh-config", str(hosts.ssh)
    )
    (tmp_path / "empty").write_text("")
    unknown = hosts.variant(tmp_path, known_hosts=str(tmp_path / "empty"))
    assert "is not in" in refused(*hosts.args(unknown))
    nothing = hosts.variant(tmp_path, port=2)
    assert "could not reach root@" in refused(*hosts.args(nothing))
    no_kafka = hosts.variant(tmp_path, kafka={"pid_file": "/run/nothing.pid", "start": "true"})
    assert "no Kafka process runs on root@" in refused(*hosts.args(no_kafka))
    b6a = next((ROOT / "experiments").glob("b6a-*.yaml"))
    proc = kc("run", str(b6a), *hosts.args(), "--reports", str(tmp_path / "reports"))
    assert proc.returncode == 2 and "which backend ssh cannot perform" in proc.stderr, proc.stderr
    assert harness_names(hosts.team) == []
    assert all(clean_host(left_on(hosts, n)) for n in hosts.ids)
