"""Network cuts between brokers, seen in the ISR: who leaves it, who stays.

The cluster has a dedicated KRaft controller, so a cut between brokers never touches the metadata
quorum. In combined mode the outcome also depended on which broker led the quorum at that moment
(a cut broker could call elections or be fenced); here it is certain.
"""

from __future__ import annotations

from functools import partial

from kafka import KafkaProducer

from chaos.cluster import KafkaCluster
from chaos.faults import FaultContext, Nemesis, make_fault
from tests.helpers.real_cluster import QUICK_WITH_CONTROLLER, eventually, recovered, topic

pytestmark = QUICK_WITH_CONTROLLER  # a follower that stops fetching leaves the ISR in 6 s


def advance_the_leader(cluster: KafkaCluster, t: str) -> None:
    """Write one record (acks=1, the leader alone) so the leader's log end moves past a follower that
    can no longer fetch. Kafka keeps a follower whose log end equals the leader's in the ISR however
    long it has not fetched (``ReplicaState.isCaughtUp``): on an idle partition a cut follower would
    stay in sync forever, and the test would depend on whether anything else wrote."""
    producer = KafkaProducer(bootstrap_servers=cluster.bootstrap_servers.split(","), acks=1, linger_ms=0)
    try:
        producer.send(t, b"moves the leader's log end", partition=0).get(timeout=30)
    finally:
        producer.close(timeout=5)


def leader_and_followers(cluster: KafkaCluster, t: str) -> tuple[int, list[int]]:
    state = cluster.partition(t, 0)
    return state.leader, sorted(r for r in state.replicas if r != state.leader)


def test_one_way_cut_from_follower_to_leader_drops_the_follower_from_the_isr(
    kafka_cluster: KafkaCluster, ctx: FaultContext
) -> None:
    t = topic(kafka_cluster)
    leader, (follower, other) = leader_and_followers(kafka_cluster, t)
    with Nemesis(ctx) as nemesis:
        # The follower's fetch requests never reach the leader: it falls behind and the leader drops it
        # from the ISR, while the other follower, whose path is untouched, stays in it.
        nemesis.inject(make_fault("one_way", source=f"broker:{follower}", dest=f"broker:{leader}"))
        advance_the_leader(kafka_cluster, t)
        state = partial(kafka_cluster.partition, t, 0)
        eventually(lambda: set(state().isr) == {leader, other}, 60, f"broker {follower} to leave the ISR", state)
        assert state().leader == leader
    recovered(kafka_cluster, t)


def test_packet_drop_starves_a_follower_out_of_the_isr(kafka_cluster: KafkaCluster, ctx: FaultContext) -> None:
    t = topic(kafka_cluster)
    leader, (follower, other) = leader_and_followers(kafka_cluster, t)
    with Nemesis(ctx) as nemesis:
        nemesis.inject(make_fault("packet_drop", target=f"broker:{follower}", probability=1.0))
        advance_the_leader(kafka_cluster, t)
        state = partial(kafka_cluster.partition, t, 0)
        eventually(lambda: set(state().isr) == {leader, other}, 60, f"broker {follower} to leave the ISR", state)
    recovered(kafka_cluster, t)


def test_bridge_keeps_the_bridge_in_sync_and_fences_the_side_cut_from_the_controller(
    kafka_cluster: KafkaCluster, ctx: FaultContext
) -> None:
    # The bridge broker-2 splits the other nodes, in id order, into [broker-1] and [broker-3,
    # controller-1]: broker-1 can no longer heartbeat, is fenced and leaves every ISR, while broker-2
    # reaches both halves and stays in sync.
    t = topic(kafka_cluster)
    with Nemesis(ctx) as nemesis:
        fault = make_fault("bridge", target="broker:2")
        nemesis.inject(fault)
        assert fault.targets == ["broker-1", "broker-3 controller-1", "bridge broker-2"]
        state = partial(kafka_cluster.partition, t, 0)
        eventually(lambda: set(state().isr) == {2, 3}, 60, "broker-1 to leave the ISR", state)
        assert kafka_cluster.partition(t, 0).leader in (2, 3)
    recovered(kafka_cluster, t)
