"""Start-up, teardown and the sweeper: nothing labelled survives a failure, a signal or `clean`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import docker
from chaos.cluster import HEALTH_TOPIC, ClusterSpec, KafkaCluster
from chaos.cluster.proxy import start_toxiproxy
from chaos.cluster.sweeper import sweep
from chaos.errors import ClusterUnhealthy, InfrastructureError
from chaos.images.builder import missing_images
from chaos.images.recipes import image_refs
from chaos.labels import new_run_id, resource_name, run_labels
from tests.helpers.real_cluster import cli, labelled


class Boom(Exception):
    pass


def test_exception_half_way_through_start_leaves_nothing(engine: docker.DockerClient, run_dir: Path) -> None:
    run_id = new_run_id()

    def progress(message: str) -> None:
        if message == "started broker-2":
            assert len(labelled(engine, run_id)) >= 4  # network, toxiproxy, 3 created brokers
            raise Boom(message)

    with pytest.raises(Boom), KafkaCluster(ClusterSpec(brokers=3), run_id=run_id, run_dir=run_dir, progress=progress):
        pytest.fail("the body must not run")
    assert labelled(engine, run_id) == []


def test_broker_that_dies_on_start_fails_fast_with_its_log(engine: docker.DockerClient, run_dir: Path) -> None:
    run_id = new_run_id()
    spec = ClusterSpec(brokers=3, node_config={3: {"num.network.threads": "0"}}, health_timeout=90)
    with pytest.raises(ClusterUnhealthy) as info:
        KafkaCluster(spec, run_id=run_id, run_dir=run_dir).start()
    # A dead node is noticed, not waited out: the error is the exit, not the health timeout.
    assert "broker-3 exited while the cluster started" in str(info.value)
    assert "not healthy after" not in str(info.value)
    notes = "\n".join(info.value.__notes__)
    assert "last lines of broker-3" in notes
    assert "num.network.threads" in notes
    assert labelled(engine, run_id) == []
    assert (run_dir / "logs" / "broker-3.log").is_file()  # evidence kept even though the start failed


def test_toxiproxy_that_never_answers_fails_with_its_log(engine: docker.DockerClient) -> None:
    run_id = new_run_id()
    image = image_refs(ClusterSpec().kafka_version).toxiproxy
    network = engine.networks.create(resource_name(run_id, "net"), labels=run_labels(run_id, "network"))
    started = time.monotonic()
    try:
        with pytest.raises(InfrastructureError, match="toxiproxy's API did not answer within 3s") as info:
            # toxiproxy runs, but its API listens on 8474: a wait on another port never succeeds
            start_toxiproxy(
                engine,
                image,
                name=resource_name(run_id, "toxiproxy"),
                network=network.name or "",
                labels=run_labels(run_id, "toxiproxy"),
                ports=[9999],
                timeout=3,
            )
        assert time.monotonic() - started < 30
        assert "8474" in "\n".join(info.value.__notes__)  # toxiproxy's own log is attached
        assert len(labelled(engine, run_id)) == 2  # left, labelled, for the caller's teardown
    finally:
        sweep(engine, run_id)
    assert labelled(engine, run_id) == []


def test_cli_up_status_down(engine: docker.DockerClient) -> None:
    run_id = new_run_id()
    try:
        up = cli("cluster", "up", "--brokers", "3", "--run-id", run_id, "--json", "-q")
        assert json.loads(up.stdout)["run_id"] == run_id
        status = json.loads(cli("cluster", "status", run_id, "--json").stdout)
        assert status["healthy"] is True
        assert len(status["brokers"]) == 3
        assert all(b["state"] == "running" and b["registered"] for b in status["brokers"])
        assert status["bootstrap_servers"].count("127.0.0.1:") == 3

        # a fault by hand stays until `cluster heal`; with --duration it heals itself
        fault = json.loads(cli("cluster", "fault", "broker_pause", run_id, "-p", "target=broker:2", "--json").stdout)
        assert (fault["targets"], fault["healed"]) == (["broker-2"], False)
        status = json.loads(cli("cluster", "status", run_id, "--json").stdout)
        assert [b["state"] for b in status["brokers"]] == ["running", "paused", "running"]
        healed = json.loads(cli("cluster", "heal", run_id, "--json").stdout)
        assert healed["thawed"] == ["broker-2"] and healed["chains_left"] == {}
        timed = cli("cluster", "fault", "isolate", run_id, "-p", "target=broker:3", "--duration", "1", "--json")
        timed_result = json.loads(timed.stdout)
        assert timed_result["healed"] is True and timed_result["lasted_s"] >= 1
        cluster = KafkaCluster.attach(run_id, engine)
        try:
            cluster.wait_for_isr(HEALTH_TOPIC, 3, timeout=90)  # broker-3 was cut off and is back
        finally:
            cluster.close()

        logs = cli("cluster", "logs", run_id, "--node", "broker-2", "--tail", "50").stdout
        assert logs.startswith("==> broker-2 <==\n") and len(logs.splitlines()) == 51
        assert "broker-1" not in logs.splitlines()[0]
        bad = cli("cluster", "logs", run_id, "--node", "broker-9", check=False)
        assert bad.returncode == 2 and "has no node 'broker-9'" in bad.stderr

        down = json.loads(cli("cluster", "down", run_id, "--json").stdout)
        assert len(down[run_id]["containers"]) == 4
    finally:
        cli("cluster", "down", run_id, check=False)
    assert labelled(engine, run_id) == []
    assert cli("cluster", "status", run_id, check=False).returncode == 2


HOLDER = textwrap.dedent("""
    import sys, time, logging
    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    from pathlib import Path
    from chaos.cluster import ClusterSpec, KafkaCluster
    with KafkaCluster(ClusterSpec(brokers=1), run_id=sys.argv[1], run_dir=Path(sys.argv[2])):
        print("healthy", flush=True)
        time.sleep(600)
""")


def hold_cluster(run_id: str, run_dir: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, run_id, str(run_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == "healthy", proc.stderr.read() if proc.stderr else ""
    return proc


# SIGINT takes SIGTERM's path (the command keeps SIGTERM; ``extended`` runs both)
@pytest.mark.parametrize("signum", [signal.SIGTERM, pytest.param(signal.SIGINT, marks=pytest.mark.extended)])
def test_signal_tears_the_cluster_down(engine: docker.DockerClient, run_dir: Path, signum: int) -> None:
    run_id = new_run_id()
    proc = hold_cluster(run_id, run_dir)
    assert len(labelled(engine, run_id)) == 3
    proc.send_signal(signum)
    proc.wait(timeout=180)  # the teardown copies the logs and removes the containers: on a busy machine, a minute
    assert labelled(engine, run_id) == []
    assert (run_dir / "logs" / "broker-1.log").is_file()


def test_clean_removes_what_a_sigkilled_harness_left(engine: docker.DockerClient, run_dir: Path) -> None:
    run_id = new_run_id()
    proc = hold_cluster(run_id, run_dir)
    proc.kill()
    proc.wait(timeout=30)
    assert len(labelled(engine, run_id)) == 3  # a dead harness cannot clean up after itself
    cleaned = json.loads(cli("clean", "--run-id", run_id, "--json").stdout)
    assert len(cleaned["containers"]) == 2
    assert labelled(engine, run_id) == []


@pytest.mark.extended  # the command's clusters are 4.4; scripts/setup runs this and the K rows' releases
def test_kafka_3_9_cluster(engine: docker.DockerClient, run_dir: Path) -> None:
    # scripts/setup builds this image: a test never waits on a registry.
    missing = missing_images(engine, image_refs("3.9.1"))
    assert not missing, f"images {missing} are not built: run `kafka-chaos images build --kafka-version 3.9.1`"
    with KafkaCluster(ClusterSpec(brokers=3, kafka_version="3.9.1"), run_dir=run_dir) as cluster:
        cluster.create_topic("t39", partitions=1, replication_factor=3)
        leader = cluster.leader_of("t39", 0)
        leader.kill()
        cluster.wait_for_leader("t39", 0, not_on=leader.node_id)
        leader.start()
        cluster.wait_for_isr("t39", 3, timeout=90)
        run_id = cluster.run_id
    assert labelled(engine, run_id) == []
    assert "3.9.1" in (run_dir / "logs" / "broker-1.log").read_text()


def test_dedicated_controllers(engine: docker.DockerClient, run_dir: Path) -> None:
    with KafkaCluster(ClusterSpec(brokers=1, controllers=1), run_dir=run_dir) as cluster:
        assert cluster.controller().node_id == 1001
        assert [n.spec.role for n in cluster.nodes] == ["broker", "controller"]
        run_id = cluster.run_id
    assert labelled(engine, run_id) == []


def test_unknown_kafka_version_is_refused_by_maven_central() -> None:
    proc = cli("images", "build", "--kafka-version", "4.9.9", "-q", check=False)
    assert proc.returncode == 2, proc.stderr
    assert "Kafka 4.9.9 is not a release on Maven Central" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_cluster_without_its_images_says_how_to_build_them(engine: docker.DockerClient) -> None:
    run_id = new_run_id()
    proc = cli("cluster", "up", "--kafka-version", "4.3.1", "--run-id", run_id, check=False)
    assert proc.returncode == 3
    assert "is not on this Docker engine: run `kafka-chaos images build --kafka-version 4.3.1`" in proc.stderr
    assert labelled(engine, run_id) == []
