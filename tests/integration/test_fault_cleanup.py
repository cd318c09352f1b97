"""A harness SIGKILLed while a partition is active: `cluster heal` removes its rules from the live
cluster, `clean` removes the cluster; nothing labelled and no harness rule survives."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import docker
from chaos.cluster import KafkaCluster
from chaos.faults.network import harness_chains
from chaos.labels import new_run_id
from tests.helpers.real_cluster import cli, labelled

INJECTOR = textwrap.dedent("""
    import sys, time, logging
    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    from chaos.cluster import KafkaCluster
    from chaos.faults import FaultContext, Nemesis, make_fault
    cluster = KafkaCluster.attach(sys.argv[1])
    with Nemesis(FaultContext(cluster)) as nemesis:
        nemesis.inject(make_fault("isolate", target="broker:1"))
        nemesis.inject(make_fault("toxic", type="latency", target="all"))
        print("injected", flush=True)
        time.sleep(600)
""")


def inject_then_die(run_id: str) -> None:
    """A harness process that injects a partition and a toxic, then is SIGKILLed: nothing heals."""
    proc = subprocess.Popen(
        [sys.executable, "-c", INJECTOR, run_id],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "injected", proc.stderr.read() if proc.stderr else ""
    proc.kill()
    proc.wait(30)


def test_sigkilled_harness_leaves_nothing_after_heal_and_clean(engine: docker.DockerClient) -> None:
    run_id = new_run_id()
    try:
        cli("cluster", "up", "--brokers", "3", "--run-id", run_id, "-q")
        inject_then_die(run_id)
        cluster = KafkaCluster.attach(run_id, engine)
        assert sum(len(harness_chains(n)) for n in cluster.nodes) == 3  # nobody healed: the rules are there
        assert any(p.toxics for p in cluster.toxiproxy.proxies().values())

        healed = json.loads(cli("cluster", "heal", run_id, "--json").stdout)
        assert healed["chains_left"] == {}
        assert all(harness_chains(n) == [] for n in cluster.nodes)
        assert not any(p.toxics for p in cluster.toxiproxy.proxies().values())
        cluster.wait_healthy(120)
        cluster.close()  # no admin client left retrying a cluster that is about to go

        inject_then_die(run_id)
        cli("clean", "--run-id", run_id)
        assert labelled(engine, run_id) == []
    finally:
        cli("clean", "--run-id", run_id, check=False)
