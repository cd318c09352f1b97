"""Target selectors: which brokers a fault acts on.

``broker:N`` (or ``N``), ``leader:TOPIC:PARTITION``, ``followers:TOPIC:PARTITION``,
``follower:TOPIC:PARTITION`` (one of them, chosen by the seeded RNG),
``isr:TOPIC:PARTITION`` (the in-sync replicas now), ``out_of_sync:TOPIC:PARTITION`` (replicas
outside the ISR now), ``coordinator:group:GROUP`` and ``coordinator:transaction:TRANSACTIONAL_ID``
(the broker coordinating them now), ``coordinator:transactions:PREFIX`` (the broker coordinating
the first transactional id starting with PREFIX: an application's, whose ids the harness does not
choose), ``controller`` (the active KRaft controller), ``controller_followers`` (the other voters of the
metadata quorum), ``random``, ``minority``, ``majority``, ``all``.
Random choices use the context's seeded RNG.

In experiment files and scenarios, ``group_coordinator`` and ``transaction_coordinator`` name the
coordinators of the run's group and of its transactional producer (or exactly-once member); in a run
whose only transactions are its application's, ``transaction_coordinator`` names the coordinator of
the application's transactional ids (Kafka Streams names them after its ``application.id``, the
group).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from chaos.cluster import KafkaCluster, Node
from chaos.errors import InfrastructureError, UsageError
from chaos.waiting import wait_until

PARTITION_SELECTORS = ("leader", "followers", "follower", "isr", "out_of_sync")
#: Seconds ``coordinator:transactions:PREFIX`` waits for a transactional id with the prefix.
TRANSACTIONS_WAIT = 30.0
SELECTORS = (
    "broker:N",
    "leader:TOPIC:PARTITION",
    "followers:TOPIC:PARTITION",
    "follower:TOPIC:PARTITION",
    "isr:TOPIC:PARTITION",
    "out_of_sync:TOPIC:PARTITION",
    "coordinator:group:GROUP",
    "coordinator:transaction:TRANSACTIONAL_ID",
    "coordinator:transactions:PREFIX",
    "group_coordinator",
    "transaction_coordinator",
    "controller",
    "controller_followers",
    "random",
    "minority",
    "majority",
    "all",
)


def expand_target(
    selector: str,
    topic: str,
    group: str | None = None,
    transactional_id: str | None = None,
    transactions_prefix: str | None = None,
) -> str:
    """Fill in the experiment's topic: ``leader`` → ``leader:TOPIC:0``, ``leader:2`` → ``leader:TOPIC:2``;
    and its group and transactional id: ``group_coordinator`` → ``coordinator:group:GROUP``.

    >>> expand_target("leader", "orders"), expand_target("followers:1", "orders"), expand_target("random", "x")
    ('leader:orders:0', 'followers:orders:1', 'random')
    >>> expand_target("transaction_coordinator", "orders", "g", "kc-r-p0")
    'coordinator:transaction:kc-r-p0'
    """
    if selector == "group_coordinator" and group is not None:
        return f"coordinator:group:{group}"
    if selector == "transaction_coordinator" and transactional_id is not None:
        return f"coordinator:transaction:{transactional_id}"
    if selector == "transaction_coordinator" and transactions_prefix is not None:
        return f"coordinator:transactions:{transactions_prefix}"
    head, _, rest = selector.partition(":")
    if head not in PARTITION_SELECTORS:
        return selector
    if not rest:
        return f"{head}:{topic}:0"
    if rest.isdigit():
        return f"{head}:{topic}:{rest}"
    return selector


def expand_targets(
    params: Mapping[str, Any],
    topic: str,
    group: str | None = None,
    transactional_id: str | None = None,
    transactions_prefix: str | None = None,
) -> dict[str, Any]:
    """Fault parameters with every selector (``target``, ``source``, ``dest``) expanded to ``topic``
    (and the run's ``group``, ``transactional_id`` or an application's ``transactions_prefix``, where
    known)."""
    out = dict(params)
    for key in ("target", "source", "dest"):
        if isinstance(out.get(key), str):
            out[key] = expand_target(out[key], topic, group, transactional_id, transactions_prefix)
    return out


def check_selector(selector: str) -> str:
    """Return ``selector`` if it is well-formed.

    Raises:
        UsageError: naming the accepted forms.
    """
    head, _, rest = selector.partition(":")
    ok = (
        selector.isdigit()
        or (head == "broker" and rest.isdigit())
        or (head in PARTITION_SELECTORS and rest.count(":") >= 1 and rest.rsplit(":", 1)[1].isdigit())
        or selector in ("controller", "controller_followers", "random", "minority", "majority", "all")
        or (
            head == "coordinator"
            and rest.partition(":")[0] in ("group", "transaction", "transactions")
            and rest.partition(":")[2]
        )
        or selector in ("group_coordinator", "transaction_coordinator")
    )
    if not ok:
        raise UsageError(f"target {selector!r} is not a selector: use one of {', '.join(SELECTORS)}")
    return selector


def _coordinator(rest: str, cluster: KafkaCluster) -> Node:
    """The broker ``coordinator:<rest>`` names now.

    Raises:
        InfrastructureError: no transactional id with the prefix was coordinated within
            :data:`TRANSACTIONS_WAIT` seconds.
    """
    kind, _, key = rest.partition(":")
    if kind != "transactions":
        return cluster.node(cluster.metadata.coordinator(kind, key))
    # An application names its transactional ids itself and opens its first transaction only once it
    # has joined its group and has records: wait a bounded while for one to be coordinated.
    (found,) = wait_until(
        lambda: (node,) if (node := cluster.metadata.transactions_coordinator(key)) is not None else None,
        TRANSACTIONS_WAIT,
        f"a transactional id starting with {key!r}",
        interval=0.5,
        error=lambda message: InfrastructureError(f"{message}: none is coordinated"),
    )
    return cluster.node(found)


def resolve(selector: str, cluster: KafkaCluster, rng: random.Random) -> list[Node]:
    """The brokers ``selector`` names now.

    Raises:
        UsageError: malformed selector or a broker that does not exist.
    """
    check_selector(selector)
    brokers = cluster.brokers
    n = len(brokers)
    head, _, rest = selector.partition(":")
    if selector.isdigit():
        return [cluster.broker(int(selector))]
    if head == "broker":
        return [cluster.broker(int(rest))]
    if head in PARTITION_SELECTORS:
        topic, part = rest.rsplit(":", 1)
        if head == "leader":
            return [cluster.leader_of(topic, int(part))]
        state = cluster.partition(topic, int(part))
        followers = [cluster.node(r) for r in state.replicas if r != state.leader]
        if head == "followers":
            return followers
        if head == "follower":
            return [rng.choice(followers)] if followers else []
        if head == "isr":
            return [cluster.node(r) for r in state.isr]
        return [cluster.node(r) for r in state.replicas if r not in state.isr]
    if head == "coordinator":
        return [_coordinator(rest, cluster)]
    if selector in ("group_coordinator", "transaction_coordinator"):
        raise UsageError(f"target {selector} names the run's coordinator: use it in an experiment file or a scenario")
    if selector == "controller":
        return [cluster.controller()]
    if selector == "controller_followers":
        active = cluster.controller()
        return [n for n in cluster.nodes if n.spec.controller and n is not active]
    if selector == "random":
        return [rng.choice(brokers)]
    if selector == "minority":
        return sorted(rng.sample(brokers, max(1, (n - 1) // 2)), key=lambda b: b.node_id)
    if selector == "majority":
        return sorted(rng.sample(brokers, n // 2 + 1), key=lambda b: b.node_id)
    return list(brokers)
