"""A real ``kafka-chaos run`` interrupted while a fault is active: SIGTERM and Ctrl-C heal the fault,
stop the workloads and remove the cluster before the process exits; after a SIGKILL the workloads
die with the harness and ``kafka-chaos clean`` removes what is left."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import docker
from chaos.cluster import KafkaCluster
from chaos.faults.network import harness_chains
from chaos.waiting import wait_until
from tests.helpers.real_cluster import cli, labelled

#: An isolated broker for ten minutes: the run is certainly inside its fault when the signal comes.
HELD = """\
name: held-fault
producer: {mode: async, rate: 200, settings: {acks: all}}
faults:
  - {kind: isolate, name: cut, target: "broker:1", at: 0, duration: 600}
phases: {warmup: 1}
"""


def processes_of(run_dir: Path) -> list[int]:
    """PIDs of workload processes of this run (their command line names a spec in its run directory)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "chaos.workloads." in cmdline and str(run_dir / "workloads") in cmdline:
            pids.append(int(entry.name))
    return pids


def start_run(tmp_path: Path) -> tuple[subprocess.Popen[bytes], Path, str]:
    """``kafka-chaos run`` of HELD, returned once its fault is injected and verified."""
    path = tmp_path / "held.yaml"
    path.write_text(HELD)
    reports = tmp_path / "reports"
    log = (tmp_path / "run.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "chaos.cli", "run", str(path), "--reports", str(reports), "-q"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ},
    )

    def verified() -> Path | None:
        assert proc.poll() is None, (tmp_path / "run.log").read_text()
        for timeline in reports.glob("*/held-fault/timeline.jsonl"):
            if any(json.loads(line)["event"] == "verified" for line in timeline.read_text().splitlines()):
                return timeline.parent
        return None

    run_dir = wait_until(verified, 240, "the run's fault to be injected and verified")
    run_id = str(json.loads((run_dir / "run.json").read_text())["cluster_id"])  # what its containers carry
    assert processes_of(run_dir), "the producer runs during the fault"
    return proc, run_dir, run_id


# SIGINT's case (Ctrl-C) under ``-m extended``: both take the same path, which SIGTERM's case shows here
@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGTERM, 143), pytest.param(signal.SIGINT, 130, marks=pytest.mark.extended)]
)
def test_a_signal_during_a_fault_heals_it_and_leaves_nothing(
    engine: docker.DockerClient, tmp_path: Path, signum: int, code: int
) -> None:
    proc, run_dir, run_id = start_run(tmp_path)
    proc.send_signal(signum)
    assert proc.wait(timeout=300) == code, (tmp_path / "run.log").read_text()
    events = [json.loads(line) for line in (run_dir / "timeline.jsonl").read_text().splitlines()]
    assert [e["event"] for e in events if e.get("fault") == "cut"][-1] == "heal"
    assert labelled(engine, run_id) == []
    assert processes_of(run_dir) == []
    phases = {p["name"]: p for p in json.loads((run_dir / "phases.json").read_text())}
    assert phases["faults"]["ok"] is False and phases["teardown"]["ok"] is True
    suite = json.loads((run_dir.parent / "suite.json").read_text())
    assert suite["interrupted"] is True
    assert list((run_dir / "logs").glob("broker-*.log")), "broker logs copied before removal"


def test_a_sigkilled_run_takes_its_workloads_along_and_clean_removes_the_rest(
    engine: docker.DockerClient, tmp_path: Path
) -> None:
    proc, run_dir, run_id = start_run(tmp_path)
    try:
        proc.kill()
        proc.wait(timeout=30)
        # The workloads get SIGKILL when the harness dies (PR_SET_PDEATHSIG): no client hammers on.
        wait_until(lambda: not processes_of(run_dir), 10, "the workloads to die with the harness")
        # Nobody healed: the cluster and the fault's rules are still there for `clean` to remove.
        cluster = KafkaCluster.attach(run_id, engine)
        assert harness_chains(cluster.broker(1)), "the isolation is still in place"
        cluster.close()
        cleaned = json.loads(cli("clean", "--run-id", run_id, "--json").stdout)
        assert len(cleaned["containers"]) == 4  # three brokers and the toxiproxy
        assert labelled(engine, run_id) == []
    finally:
        cli("clean", "--run-id", run_id, check=False)


def test_keep_cluster_prints_the_command_that_removes_it(engine: docker.DockerClient, tmp_path: Path) -> None:
    path = tmp_path / "kept.yaml"
    # One broker: what is kept, and removed by the printed command, does not depend on how many.
    path.write_text(
        "name: kept\ncluster: {brokers: 1}\ntopic: {replication_factor: 1}\n"
        "producer: {mode: sync, count: 200, settings: {acks: all}}\n"
        "phases: {warmup: 0}\n"
    )
    proc = cli("run", str(path), "--reports", str(tmp_path / "reports"), "--keep-cluster", "-q")
    (hint,) = [line for line in proc.stderr.splitlines() if "kept: remove it with" in line]
    command = hint.split("`")[1]
    run_id = command.split()[-1]
    try:
        assert labelled(engine, run_id), "the cluster is still there"
        cli(*command.split()[1:])  # the printed command, exactly as printed
        assert labelled(engine, run_id) == []
    finally:
        cli("clean", "--run-id", run_id, check=False)
