"""A suite's shared cluster, for real: a reset heals and empties what a run left — a frozen broker,
a partition, a toxic, a topic, a consumer group whose member was SIGKILLed — and a reset that
cannot show the cluster clean falls back to a fresh cluster and says why."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from kafka.protocol.metadata import CoordinatorType

import docker
from chaos.cluster import HEALTH_TOPIC, ClusterSpec, KafkaCluster
from chaos.experiments.pool import ClusterPool, consumer_groups
from chaos.faults import FaultContext, make_fault
from chaos.faults.network import harness_chains
from chaos.labels import new_run_id
from tests.helpers.real_cluster import labelled

MEMBER = textwrap.dedent("""
    import sys, logging
    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    from kafka import KafkaConsumer
    consumer = KafkaConsumer("left-behind", group_id="kc-left-behind", bootstrap_servers=sys.argv[1],
                             session_timeout_ms=45000, heartbeat_interval_ms=3000)
    while not consumer.assignment():
        consumer.poll(500)
    print("member", flush=True)
    consumer.poll(60000)
""")


def a_member_that_never_leaves(bootstrap: str) -> None:
    """A consumer that joins the group and is SIGKILLed: its membership outlives it by 45 s."""
    proc = subprocess.Popen(
        [sys.executable, "-c", MEMBER, bootstrap], stdout=subprocess.PIPE, text=True, env={**os.environ}
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "member"
    proc.kill()
    proc.wait(30)


def remember_coordinator(admin: object, group: str, broker: int) -> None:
    """Make kafka-python's admin client believe ``broker`` coordinates ``group``."""
    cache: dict[tuple[CoordinatorType, str], int] = admin._manager.cluster._coordinators  # type: ignore[attr-defined]
    cache[(CoordinatorType.GROUP, group)] = broker


def test_a_reset_heals_and_empties_what_a_run_left_and_a_failed_one_starts_afresh(
    engine: docker.DockerClient, tmp_path: Path
) -> None:
    def make(spec: ClusterSpec) -> KafkaCluster:
        run_id = new_run_id()
        return KafkaCluster(spec, run_id=run_id, run_dir=tmp_path / run_id)

    pool = ClusterPool(make)
    spec = ClusterSpec(brokers=3)
    try:
        lease = pool.acquire(spec)
        cluster = lease.cluster
        assert lease.how == "fresh"
        cluster.create_topic("left-behind", 3, 3)
        a_member_that_never_leaves(cluster.bootstrap_servers)
        coordinator = consumer_groups(cluster)["kc-left-behind"]
        # The harness's admin client remembers a coordinator the group has left, as kafka-python does
        # for the client's life once a coordinator was killed or isolated: the reset must not ask it.
        moved_from = next(b for b in (1, 2, 3) if b != coordinator)
        cluster.admin_call(lambda a: remember_coordinator(a, "kc-left-behind", moved_from))
        ctx = FaultContext(cluster)
        make_fault("isolate", target="broker:1").inject(ctx)
        make_fault("toxic", type="latency", target="all").inject(ctx)
        cluster.broker(2).pause()
        pool.release(lease)

        again = pool.acquire(spec)
        assert again.how == "reused" and again.cluster is cluster
        assert again.healed == ["thawed: broker-2"], again.healed
        assert [n.state for n in cluster.nodes] == ["running"] * 3
        assert all(harness_chains(n) == [] for n in cluster.nodes)
        assert not any(p.toxics for p in cluster.toxiproxy.proxies().values())
        assert [t for t in cluster.admin_call(lambda a: a.list_topics()) if not t.startswith("__")] == []
        assert not consumer_groups(cluster)
        cluster.create_topic("left-behind", 3, 3)  # the next run may use the same name
        pool.release(again)

        cluster.broker(3).container.remove(force=True)  # a broker that is gone: no reset can fix that
        third = pool.acquire(spec)
        assert third.how.startswith(f"fresh (reset of {cluster.run_id} failed: "), third.how
        assert "broker-3" in third.how and third.cluster is not cluster
        assert labelled(engine, cluster.run_id) == []
        assert len(third.cluster.partitions(HEALTH_TOPIC)[0].isr) == 3
        pool.release(third)
        pool.close()
        assert labelled(engine, third.cluster.run_id) == []
    finally:
        pool.close()
