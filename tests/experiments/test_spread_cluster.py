"""Nothing assumes one engine: five brokers spread over two Docker engines of this machine (the
first, and the second ``scripts/second-engine`` starts), with sshd and a SASL_SSL listener, then
forgotten and reached only as a team's cluster through the ssh backend. B2, B3, C1 and P1 give
their claims' statuses and loss classes there, as on one engine; ``cluster down`` and ``clean``
remove the cluster from both engines. ``extended``: run by ``scripts/setup``'s main job after it
starts the second engine."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaos.cluster import ClusterSpec, KafkaCluster
from chaos.engine import docker_client, engine_address
from chaos.labels import run_filter
from tests.experiments.test_external import Team, kc
from tests.experiments.test_releases import run_suite
from tests.experiments.test_ssh_backend import ROWS, classes

SECOND = "unix:///run/kafka-chaos/docker2.sock"

pytestmark = [pytest.mark.experiment, pytest.mark.extended]


def engines() -> tuple[str, str]:
    """The two engines; the second must answer (start it with ``bash scripts/second-engine``)."""
    docker_client(address=SECOND).close()  # DockerUnavailable, loudly, when it is not there
    return engine_address(), SECOND


def on_engine(address: str, run_id: str) -> list[str]:
    """The names of run ``run_id``'s containers on the engine at ``address``."""
    client = docker_client(address=address)
    try:
        return sorted(c.name or "" for c in client.containers.list(all=True, filters=run_filter(run_id)))
    finally:
        client.close()


@pytest.fixture(scope="module")
def spread(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[KafkaCluster, list[str]]]:
    spec = ClusterSpec(brokers=5, security="sasl_ssl", sshd=True, engines=engines())
    cluster = KafkaCluster(spec, run_dir=tmp_path_factory.mktemp("spread"))
    cluster.start()
    try:
        team = Team(cluster.secure_bootstrap_servers, cluster.client_config_path())
        status = kc("cluster", "status", *team.args, "--json")
        assert status.returncode == 0, status.stderr
        args = [*team.args, "--allow-faults-on", json.loads(status.stdout)["cluster_id"]]
        yield cluster, [*args, "--ssh-config", str(cluster.ssh_config_path())]
    finally:
        cluster.destroy()
    assert on_engine(engines()[0], cluster.run_id) == on_engine(SECOND, cluster.run_id) == []


def test_b2_b3_c1_p1_on_five_brokers_over_two_engines_give_their_claims_classes(
    spread: tuple[KafkaCluster, list[str]], tmp_path: Path
) -> None:
    cluster, args = spread
    first, second = engines()
    # brokers 1, 3, 5 and toxiproxy on the first engine; 2 and 4 on the second
    assert [n.rsplit("-", 1)[1] for n in on_engine(second, cluster.run_id)] == ["2", "4"]
    assert len(on_engine(first, cluster.run_id)) == 4
    files = [str(ROWS[r]) for r in ("b2", "b3", "c1", "p1")]
    proc, suite, _ = run_suite(tmp_path, *files, *args)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert classes(suite) == {
        "b2": ("passed", {"producer": False, "broker": True, "consumer": False}),
        "b3": ("passed", {"producer": False, "broker": False, "consumer": False}),
        "c1": ("passed", {"producer": False, "broker": False, "consumer": True}),
        "p1": ("passed", {"producer": True, "broker": False, "consumer": False}),
    }


def test_clean_removes_a_spread_cluster_left_behind_from_both_engines(tmp_path: Path) -> None:
    cluster = KafkaCluster(ClusterSpec(brokers=2, engines=engines()), run_dir=tmp_path)
    cluster.start()  # and never destroyed: a harness killed would leave it so
    assert on_engine(SECOND, cluster.run_id) and on_engine(engines()[0], cluster.run_id)
    clean = kc("clean", "--run-id", cluster.run_id, "--json")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert len(json.loads(clean.stdout)["containers"]) == 3  # two brokers and toxiproxy
    assert on_engine(engines()[0], cluster.run_id) == on_engine(SECOND, cluster.run_id) == []
