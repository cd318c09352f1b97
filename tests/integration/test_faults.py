"""Each fault: inject, see the effect through Kafka itself, heal, see the recovery."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from docker.models.containers import Container
from kafka import KafkaProducer
from kafka.errors import KafkaError

from chaos.cluster import KafkaCluster
from chaos.faults import FaultContext, Nemesis, Step, UnsupportedFault, make_fault, random_schedule
from chaos.faults.network import harness_chains, node_ip, reachable
from chaos.workloads.process import WorkloadProcess
from chaos.workloads.spec import ProducerSpec
from tests.helpers.real_cluster import QUICK, eventually, recovered, topic

pytestmark = QUICK  # a follower that stops fetching leaves the ISR after 6 s, so effects show quickly


def started_at(container: Container) -> str:
    """When Docker last started the container (RFC 3339: sortable as text; restarts are seconds apart)."""
    container.reload()
    return str(container.attrs["State"]["StartedAt"])


@pytest.fixture(autouse=True)
def leaves_the_cluster_as_it_found_it(kafka_cluster: KafkaCluster) -> Iterator[None]:
    """The module shares one cluster: after every test each broker runs, no harness chain, qdisc or
    toxic is left, every proxy is enabled and the cluster is healthy, so no test's outcome depends
    on the one before it."""
    yield
    for node in kafka_cluster.nodes:
        assert node.state == "running", f"{node.host} is {node.state} after the test"
        assert harness_chains(node) == [], f"{node.host} kept harness chains"
        assert "tbf" not in node.exec(["tc", "qdisc", "show", "dev", "eth0"])[1], f"{node.host} kept a qdisc"
    proxies = kafka_cluster.toxiproxy.proxies()
    assert all(p.enabled and not p.toxics for p in proxies.values()), proxies
    kafka_cluster.wait_healthy(120)


def test_isolated_follower_leaves_isr_and_returns(kafka_cluster: KafkaCluster, ctx: FaultContext) -> None:
    t = topic(kafka_cluster)
    follower = next(r for r in kafka_cluster.partition(t, 0).replicas if r != kafka_cluster.partition(t, 0).leader)
    fault = make_fault("isolate", target=f"broker:{follower}")
    with Nemesis(ctx) as nemesis:
        nemesis.inject(fault)
        eventually(lambda: follower not in kafka_cluster.partition(t, 0).isr, 60, "ISR to shrink")
    recovered(kafka_cluster, t)


def test_isolated_leader_loses_leadership(kafka_cluster: KafkaCluster, ctx: FaultContext) -> None:
    t = topic(kafka_cluster)
    leader = kafka_cluster.leader_of(t, 0).node_id
    with Nemesis(ctx) as nemesis:
        nemesis.inject(make_fault("isolate", target=f"leader:{t}:0"))
        new = kafka_cluster.wait_for_leader(t, 0, not_on=leader, timeout=90)
        assert new.node_id != leader
    recovered(kafka_cluster, t)


def test_killed_leader_is_healed_even_when_the_test_raises(kafka_cluster: KafkaCluster, ctx: FaultContext) -> None:
    t = topic(kafka_cluster)
    leader = kafka_cluster.leader_of(t, 0)
    with pytest.raises(RuntimeError, match="boom"), Nemesis(ctx) as nemesis:
        nemesis.inject(make_fault("broker_kill", target=f"leader:{t}:0"))
        assert leader.state == "exited"
        kafka_cluster.wait_for_leader(t, 0, not_on=leader.node_id, timeout=60)
        raise RuntimeError("boom")
    assert leader.is_running
    recovered(kafka_cluster, t)
    events = [(e["event"], e["kind"]) for e in ctx.timeline.events()]  # type: ignore[union-attr]
    assert ("inject", "broker_kill") in events and ("heal", "broker_kill") in events


def test_paused_broker_is_thawed(kafka_cluster: KafkaCluster, ctx: FaultContext) -> None:
    t = topic(kafka_cluster)
    state = kafka_cluster.partition(t, 0)
    # One follower only: freezing two of three KRaft voters would stop the controller, and with it
    # every ISR change.
    paused = next(r for r in state.replicas if r != state.leader)
    with Nemesis(ctx) as nemesis:
        nemesis.inject(make_fault("broker_pause", target=f"broker:{paused}"))
        eventually(lambda: paused not in kafka_cluster.partition(t, 0).isr, 60, "ISR to shrink")
    recovered(kafka_cluster, t)


def client(cluster: KafkaCluster) -> KafkaProducer:
    # The API version is given, so a client made during a fault does not spend 30 s probing a
    # connection that cannot answer: its first request fails within max_block_ms instead.
    return KafkaProducer(
        bootstrap_servers=cluster.bootstrap_servers.split(","),
        api_version=(3, 0),
        acks=1,
        max_block_ms=4000,
        request_timeout_ms=3000,
        delivery_timeout_ms=6000,
        linger_ms=0,
        retries=0,
    )


def test_blackhole_times_client_requests_out(kafka_cluster: KafkaCluster, ctx: FaultContext) -> None:
    t = topic(kafka_cluster)
    with Nemesis(ctx) as nemesis:
        nemesis.inject(make_fault("toxic", type="timeout", target="all", stream="both"))
        producer = None
        with pytest.raises(KafkaError):
            producer = client(kafka_cluster)
            producer.send(t, b"x").get(timeout=10)
        if producer is not None:
            producer.close(timeout=1)
    producer = client(kafka_cluster)
    producer.send(t, b"after heal").get(timeout=30)  # raises unless written: the heal let clients back
    producer.close()


def timed_send(cluster: KafkaCluster, t: str, records: int, size: int, acks: int | str = 1) -> float:
    producer = KafkaProducer(
        bootstrap_servers=cluster.bootstrap_servers.split(","), acks=acks, linger_ms=0, request_timeout_ms=120_000
    )
    producer.send(t, b"warm-up").get(timeout=30)
    t0 = time.monotonic()
    for f in [producer.send(t, b"x" * size) for _ in range(records)]:
        f.get(timeout=120)
    elapsed = time.monotonic() - t0
    producer.close()
    return elapsed


def test_bandwidth_toxic_slows_clients(kafka_cluster: KafkaCluster, ctx: FaultContext) -> None:
    t = topic(kafka_cluster)
    with Nemesis(ctx) as nemesis:
        nemesis.inject(
            make_fault("toxic", type="bandwidth", target="all", stream="upstream", attributes={"rate": 50})
        )  # KB/s: 300 KB take ~6 s
        slow = timed_send(kafka_cluster, t, 30, 10_000)
    # What bytes / rate guarantee whatever the machine's load: 300 KB at 50 KB/s (toxiproxy's KB may
    # be 1024 B: 5.9 s) cannot take less than 5 s; how much faster it was unfaulted is a benchmark.
    assert slow >= 5.0, slow


def test_proxy_down_refuses_clients(kafka_cluster: KafkaCluster, ctx: FaultContext) -> None:
    t = topic(kafka_cluster)
    with Nemesis(ctx) as nemesis:
        nemesis.inject(make_fault("proxy_down", target="all"))
        refused: list[KafkaProducer] = []
        try:
            with pytest.raises(KafkaError):  # no proxy answers: bootstrapping or the send fails
                refused.append(client(kafka_cluster))
                refused[0].send(t, b"x").get(timeout=10)
        finally:
            for producer in refused:
                producer.close(timeout=1)  # not left reconnecting into the next test
    producer = client(kafka_cluster)
    producer.send(t, b"after heal").get(timeout=30)  # raises unless written: the heal let clients back
    producer.close()


def test_one_way_bridge_and_drop_cut_what_they_say(kafka_cluster: KafkaCluster, ctx: FaultContext) -> None:
    b1, b2, b3 = kafka_cluster.brokers
    ip = {n: node_ip(kafka_cluster, n) for n in (b1, b2, b3)}
    with Nemesis(ctx) as nemesis:
        fault = make_fault("one_way", source="broker:1", dest="broker:2")
        nemesis.inject(fault)
        assert not reachable(b1, ip[b2])
        assert reachable(b1, ip[b3]) and reachable(b3, ip[b2])
        nemesis.heal(fault)
        assert reachable(b1, ip[b2])
        bridge = make_fault("bridge", target="broker:2")
        nemesis.inject(bridge)
        assert not reachable(b1, ip[b3]) and not reachable(b3, ip[b1])
        assert reachable(b1, ip[b2]) and reachable(b3, ip[b2]) and reachable(b2, ip[b1])
        nemesis.heal(bridge)
        drop = make_fault("packet_drop", target="broker:3", probability=1.0)
        nemesis.inject(drop)
        assert not reachable(b3, ip[b1])
    assert reachable(b3, ip[b1]) and reachable(b1, ip[b3])
    for node in kafka_cluster.nodes:
        assert harness_chains(node) == []


def test_broker_bandwidth_limit_installs_and_removes_tbf(kafka_cluster: KafkaCluster, ctx: FaultContext) -> None:
    node = kafka_cluster.broker(3)
    with Nemesis(ctx) as nemesis:
        nemesis.inject(make_fault("bandwidth_limit", target="broker:3", rate="256kbit"))
        assert "tbf" in node.exec(["tc", "qdisc", "show", "dev", "eth0"])[1]
    assert "tbf" not in node.exec(["tc", "qdisc", "show", "dev", "eth0"])[1]


def test_netem_latency_is_reported_unsupported_not_skipped(kafka_cluster: KafkaCluster, ctx: FaultContext) -> None:
    with pytest.raises(UnsupportedFault, match="tc netem is not available"), Nemesis(ctx) as nemesis:
        nemesis.inject(make_fault("latency", target="broker:1", delay_ms=100))
    assert "netem" not in kafka_cluster.broker(1).exec(["tc", "qdisc", "show", "dev", "eth0"])[1]
    failed = [e for e in ctx.timeline.events() if e["event"] == "inject_failed"]  # type: ignore[union-attr]
    assert failed and failed[-1]["kind"] == "latency"


def test_client_kill_restarts_the_workload(kafka_cluster: KafkaCluster, tmp_path: Path) -> None:
    t = topic(kafka_cluster)
    producer = WorkloadProcess(
        ProducerSpec(
            id="p0",
            topic=t,
            bootstrap_servers=kafka_cluster.bootstrap_servers,
            run_id=kafka_cluster.run_id,
            run_dir=str(tmp_path),
            rate=200,
        )
    )
    producer.start()
    ctx = FaultContext(kafka_cluster, workloads={producer.name: producer})
    try:
        with Nemesis(ctx) as nemesis:
            nemesis.inject(make_fault("client_kill", workload="p0"))
            assert not producer.alive and producer.kills == 1
        assert producer.alive and producer.starts == 2
    finally:
        producer.kill()


def test_schedule_injects_and_heals_in_order(kafka_cluster: KafkaCluster, ctx: FaultContext) -> None:
    t = topic(kafka_cluster)
    steps = [
        Step(0.0, make_fault("broker_pause", name="pause", target="broker:1"), 1.0),
        Step(1.5, make_fault("toxic", name="slow", type="latency", target="all"), 1.0),
    ]
    with Nemesis(ctx) as nemesis:
        nemesis.run(steps)
        assert nemesis.active == []
    events = [(e["event"], e["fault"]) for e in ctx.timeline.events() if e["event"] in ("inject", "heal")]  # type: ignore[union-attr]
    assert events == [("inject", "pause"), ("heal", "pause"), ("inject", "slow"), ("heal", "slow")]
    recovered(kafka_cluster, t)


@pytest.mark.extended  # the test command's time; test_planned_operations rolls the brokers by controlled shutdown
def test_rolling_bounce_keeps_the_cluster(kafka_cluster: KafkaCluster, ctx: FaultContext) -> None:
    t = topic(kafka_cluster)
    started_before = {b.host: started_at(b.container) for b in kafka_cluster.brokers}
    with Nemesis(ctx) as nemesis:
        fault = make_fault("rolling_bounce", hard=True)
        nemesis.inject(fault)
        assert fault.targets == ["broker-1", "broker-2", "broker-3"]
    # Each broker really went down and came back: its container started again after the test began.
    for broker in kafka_cluster.brokers:
        assert started_at(broker.container) > started_before[broker.host], broker.host
    recovered(kafka_cluster, t)


def test_minority_partition_drops_out_of_the_isr(kafka_cluster: KafkaCluster, ctx: FaultContext) -> None:
    t = topic(kafka_cluster)
    with Nemesis(ctx) as nemesis:
        fault = make_fault("partition", target="minority")
        nemesis.inject(fault)
        minority = int(fault.targets[0].split("-")[1])  # "broker-N": the one-node side of three
        eventually(lambda: minority not in kafka_cluster.partition(t, 0).isr, 90, "the minority to leave the ISR")
        assert kafka_cluster.partition(t, 0).leader != minority
    recovered(kafka_cluster, t)


def test_clean_stop_of_the_leader_moves_leadership(kafka_cluster: KafkaCluster, ctx: FaultContext) -> None:
    t = topic(kafka_cluster)
    leader = kafka_cluster.leader_of(t, 0)
    with Nemesis(ctx) as nemesis:
        nemesis.inject(make_fault("broker_stop", target=f"leader:{t}:0", timeout=60))
        assert leader.state == "exited"  # the check waited for the exit (escalating if it had to)
        assert kafka_cluster.wait_for_leader(t, 0, not_on=leader.node_id, timeout=60).node_id != leader.node_id
    recovered(kafka_cluster, t)
    events = {e["event"] for e in ctx.timeline.events()}  # type: ignore[union-attr]
    assert {"inject", "verified", "heal"} <= events


def test_latency_toxic_delays_every_acknowledgement(kafka_cluster: KafkaCluster, ctx: FaultContext) -> None:
    t = topic(kafka_cluster)
    producer = KafkaProducer(bootstrap_servers=kafka_cluster.bootstrap_servers.split(","), acks=1, linger_ms=0)
    producer.send(t, b"warm-up").get(timeout=30)

    def round_trip() -> float:
        t0 = time.monotonic()
        producer.send(t, b"x").get(timeout=30)
        return time.monotonic() - t0

    baseline = min(round_trip() for _ in range(5))
    with Nemesis(ctx) as nemesis:
        nemesis.inject(make_fault("toxic", type="latency", target="all", attributes={"latency": 300}))
        slowed = min(round_trip() for _ in range(5))
    proxies = kafka_cluster.toxiproxy.proxies()
    round_trip()  # raises unless the healed proxies carry traffic again
    producer.close()
    # Guaranteed by the toxic itself: every acknowledgement waited 300 ms. How fast an unfaulted round
    # trip is depends on the machine's load, so it is not asserted (benchmarks/fault_latency.py).
    assert slowed >= 0.3, (baseline, slowed)
    assert all(not p.toxics for p in proxies.values()), proxies


def test_seeded_random_schedule_plays_and_heals_everything(kafka_cluster: KafkaCluster, ctx: FaultContext) -> None:
    t = topic(kafka_cluster)
    steps = random_schedule(seed=11, window=24, count=3, min_duration=2, max_duration=4)
    with Nemesis(ctx) as nemesis:
        nemesis.run(steps)
        assert nemesis.active == []
    injected = [e["fault"] for e in ctx.timeline.events() if e["event"] == "inject"]  # type: ignore[union-attr]
    healed = [e["fault"] for e in ctx.timeline.events() if e["event"] == "heal"]  # type: ignore[union-attr]
    assert injected == healed == [s.fault.name for s in steps]
    recovered(kafka_cluster, t)


def test_reset_peer_breaks_client_connections(kafka_cluster: KafkaCluster, ctx: FaultContext) -> None:
    t = topic(kafka_cluster)
    with Nemesis(ctx) as nemesis:
        nemesis.inject(make_fault("toxic", type="reset_peer", target="all", stream="upstream"))
        with pytest.raises(KafkaError):
            producer = client(kafka_cluster)
            try:
                producer.send(t, b"x").get(timeout=10)
            finally:
                producer.close(timeout=1)
    producer = client(kafka_cluster)
    producer.send(t, b"after heal").get(timeout=30)  # raises unless written: the heal let clients back
    producer.close()


def leader_and_followers(cluster: KafkaCluster, t: str) -> tuple[int, list[int]]:
    """The leader and the followers, a follower that is not the active controller first.

    A cut that separates the leader from the active controller stops the ISR from shrinking at all
    (the leader's AlterPartition never completes): these tests cut the other follower.
    """
    state = cluster.partition(t, 0)
    controller = cluster.controller().node_id
    followers = sorted((r for r in state.replicas if r != state.leader), key=lambda r: r == controller)
    return state.leader, followers


def test_bandwidth_limit_on_the_leader_slows_acks_all_writes(kafka_cluster: KafkaCluster, ctx: FaultContext) -> None:
    t = topic(kafka_cluster)
    leader, _ = leader_and_followers(kafka_cluster, t)
    with Nemesis(ctx) as nemesis:
        # 400 KB must reach both followers through the leader's 1 Mbit/s egress: 6.4 Mbit, over 6 s
        # less tbf's burst; bytes / rate bound it from below whatever the machine's load.
        nemesis.inject(make_fault("bandwidth_limit", target=f"broker:{leader}", rate="1mbit"))
        slow = timed_send(kafka_cluster, t, 20, 20_000, acks="all")
    assert slow > 2.5, slow
    recovered(kafka_cluster, t)


def test_limit_data_cuts_connections_that_carry_more(kafka_cluster: KafkaCluster, ctx: FaultContext) -> None:
    t = topic(kafka_cluster)
    with Nemesis(ctx) as nemesis:
        # Each client connection is closed once 4 KB have gone upstream: a 20 KB record never arrives.
        nemesis.inject(
            make_fault("toxic", type="limit_data", target="all", stream="upstream", attributes={"bytes": 4096})
        )
        producer = client(kafka_cluster)
        try:
            with pytest.raises(KafkaError):
                producer.send(t, b"x" * 20_000).get(timeout=15)
        finally:
            producer.close(timeout=1)
    producer = client(kafka_cluster)
    producer.send(t, b"x" * 20_000).get(timeout=30)  # raises unless written: connections carry it again
    producer.close()


def test_slow_close_is_on_every_proxy_while_clients_go_on(kafka_cluster: KafkaCluster, ctx: FaultContext) -> None:
    # slow_close only delays the proxy's close of a connection a client has ended: Kafka traffic itself
    # flows, which is what this checks, with the toxic in place on each proxy and gone after healing.
    t = topic(kafka_cluster)
    with Nemesis(ctx) as nemesis:
        nemesis.inject(make_fault("toxic", type="slow_close", target="all", attributes={"delay": 2000}))
        proxies = kafka_cluster.toxiproxy.proxies()
        assert all(any(x["type"] == "slow_close" for x in p.toxics) for p in proxies.values()), proxies
        for _ in range(3):  # connections opened and closed under the toxic
            producer = client(kafka_cluster)
            producer.send(t, b"x").get(timeout=30)  # raises unless written
            producer.close()
    assert all(not p.toxics for p in kafka_cluster.toxiproxy.proxies().values())
