"""The topic's and brokers' rules: replicas, internal topics, elections, flushing."""

from __future__ import annotations

from chaos.validate.findings import Finding, Stage, TeamConfig, as_int
from chaos.validate.rules.common import LONG_MAX, Add, lower, release


def replication_rule(cfg: TeamConfig, add: Add) -> None:
    """How many copies a record has, and how many must acknowledge it (``min.insync.replicas``).

    Topic config (``min.insync.replicas``): "If acks=all and the current ISR set contains fewer than
    min.insync.replicas members, then the producer will raise an exception"; with 1, the leader
    alone acknowledges once the ISR has shrunk to it.
    """
    topic_rf, topic_rf_at = cfg.effective("topic", "replication.factor", "")
    broker_rf, broker_rf_at = cfg.effective("broker", "default.replication.factor")
    stated = topic_rf not in (None, "")
    rf_value, rf_at = (topic_rf, topic_rf_at) if stated else (broker_rf, broker_rf_at)
    from_broker_file = cfg.broker is not None and "default.replication.factor" in cfg.broker.values
    cfg.replication_factor = as_int(rf_value, 3) if stated or from_broker_file else 3
    partitions, _ = cfg.effective("topic", "partitions", "3")
    cfg.partitions = max(1, as_int(partitions, 3))
    if not stated and not from_broker_file:
        add(
            Finding(
                "info",
                "broker",
                "replication.factor",
                None,
                "not stated",
                f"no replication factor given: a topic created without one gets the brokers' "
                f"default.replication.factor ({broker_rf} in Kafka {cfg.version}); the matrix creates it with 3",
                "state replication.factor=3 in the topic file",
            )
        )
    rf = cfg.replication_factor
    isr = cfg.effective("topic", "min.insync.replicas", "")
    if isr[0] in (None, ""):
        isr = cfg.effective("broker", "min.insync.replicas")
    min_isr, isr_at = as_int(isr[0], 1), isr[1]
    if rf == 1:
        add(
            Finding(
                "loss",
                "broker",
                "replication.factor",
                rf_value,
                rf_at,
                "a single copy: its broker's failure stops the partition, and losing its disk loses every record",
                "replication.factor=3",
                ("topic", "replication.factor", "3"),
            )
        )
    if min_isr > rf:
        add(
            Finding(
                "config",
                "broker",
                "min.insync.replicas",
                isr[0],
                isr_at,
                f"{min_isr} in-sync replicas required of {rf}: every acks=all write is refused "
                "(NOT_ENOUGH_REPLICAS) even with every broker up",
                f"min.insync.replicas={max(1, min(2, rf - 1))}",
                ("topic", "min.insync.replicas", str(max(1, min(2, rf - 1)))),
            )
        )
    elif min_isr == rf and rf > 1:
        add(
            Finding(
                "availability",
                "broker",
                "min.insync.replicas",
                isr[0],
                isr_at,
                f"{min_isr} of {rf} replicas must acknowledge: one broker down refuses every acks=all write"
                + ("; three replicas with min.insync.replicas=2 survive one failure" if rf == 2 else ""),
                f"min.insync.replicas={rf - 1}" + (" and replication.factor=3" if rf == 2 else ""),
                ("topic", "min.insync.replicas", str(rf - 1)),
            )
        )
    elif min_isr < 2 and rf > 1:
        add(
            Finding(
                "loss",
                "broker",
                "min.insync.replicas",
                isr[0],
                isr_at,
                f"with {min_isr}, acks=all is acknowledged by the leader alone once the ISR has shrunk to it; "
                "losing that leader loses acknowledged records",
                "min.insync.replicas=2" + (" and replication.factor=3" if rf == 2 else ""),
                ("topic", "min.insync.replicas", "2"),
            )
        )


def auto_create_rule(cfg: TeamConfig, add: Add) -> None:
    """Topics a client creates by naming them get the broker's default replication factor.

    Broker (``auto.create.topics.enable``): "Enable auto creation of topic on the server";
    (``default.replication.factor``): "The replication factor for automatically created topics".
    """
    if cfg.broker is None:
        return
    auto, auto_at = cfg.effective("broker", "auto.create.topics.enable")
    rf, rf_at = cfg.effective("broker", "default.replication.factor")
    if lower(auto) == "true" and as_int(rf, 1) < 3:
        add(
            Finding(
                "loss",
                "broker",
                "default.replication.factor",
                rf,
                rf_at,
                f"auto.create.topics.enable={auto} ({auto_at}): a topic created by a client's first use of its "
                f"name gets {as_int(rf, 1)} replica(s), and one broker's failure loses it",
                "default.replication.factor=3 (or auto.create.topics.enable=false)",
                ("broker", "default.replication.factor", "3"),
            )
        )


def internal_topics_rule(cfg: TeamConfig, add: Add) -> None:
    """The consumer offsets and transaction state topics, replicated once.

    Broker (``offsets.topic.replication.factor``): "The replication factor for the offsets topic";
    (``transaction.state.log.replication.factor``/``min.isr``) likewise for transaction state.
    """
    if cfg.broker is None:
        return
    checks: tuple[tuple[str, Stage, str], ...] = (
        (
            "offsets.topic.replication.factor",
            "consumer",
            "committed offsets live on one broker: losing it loses every group's position, and consumers "
            "restart at auto.offset.reset",
        ),
        (
            "transaction.state.log.replication.factor",
            "broker",
            "transaction state lives on one broker: losing it loses the outcome of open transactions",
        ),
        (
            "transaction.state.log.min.isr",
            "broker",
            "a transaction's state is acknowledged by one replica: losing it loses the outcome of open transactions",
        ),
    )
    for key, stage, why in checks:
        if key not in cfg.broker.values:
            continue
        value, at = cfg.effective("broker", key)
        if as_int(value, 3) < 2:
            add(
                Finding(
                    "loss",
                    stage,
                    key,
                    value,
                    at,
                    why,
                    f"{key}={3 if 'factor' in key else 2}",
                    ("broker", key, "3" if "factor" in key else "2"),
                    explains=stage == "consumer",
                )
            )


def unclean_election_rule(cfg: TeamConfig, add: Add) -> None:
    """Unclean leader election discards what only the in-sync replicas held.

    Topic config (``unclean.leader.election.enable``): "Indicates whether to enable replicas not in
    the ISR set to be elected as leader as a last resort, even though doing so may result in data
    loss."
    """
    unclean = cfg.effective("topic", "unclean.leader.election.enable", "")
    if unclean[0] in (None, ""):
        unclean = cfg.effective("broker", "unclean.leader.election.enable", "false")
    if lower(unclean[0]) == "true":
        add(
            Finding(
                "loss",
                "broker",
                "unclean.leader.election.enable",
                unclean[0],
                unclean[1],
                "an out-of-sync replica may become leader; what only the in-sync replicas held is discarded",
                "unclean.leader.election.enable=false",
                ("topic", "unclean.leader.election.enable", "false"),
            )
        )


def elr_rule(cfg: TeamConfig, add: Add) -> None:
    """Eligible Leader Replicas (KIP-966) changes what min.insync.replicas protects.

    Topic config (``min.insync.replicas``): "Note that when the Eligible Leader Replicas feature is
    enabled, the semantics of this config changes." Kafka documentation (Eligible Leader Replicas):
    replicas removed from the ISR while it is below min.insync.replicas stay eligible, because they
    hold every acknowledged record, so a clean election remains possible after the last in-sync
    replica fails uncleanly. It is on for clusters created with 4.1 or later.
    """
    if release(cfg) < (4, 1):
        return
    isr = cfg.effective("topic", "min.insync.replicas", "")
    if isr[0] in (None, ""):
        isr = cfg.effective("broker", "min.insync.replicas")
    min_isr = as_int(isr[0], 1)
    guard = (
        "with min.insync.replicas=1 it guards nothing more: set 2"
        if min_isr < 2
        else f"with min.insync.replicas={min_isr}, a leader that fails uncleanly as the last in-sync replica can "
        "be replaced by an eligible one without an unclean election"
    )
    add(
        Finding(
            "info",
            "broker",
            "eligible.leader.replicas",
            "on for clusters created on 4.1+",
            f"Kafka {cfg.version}",
            "Eligible Leader Replicas (KIP-966) keeps replicas that hold every acknowledged record eligible "
            f"for leadership after the ISR shrinks below min.insync.replicas; {guard}. Clusters upgraded from "
            "before 4.1 have it off until `kafka-features.sh upgrade --feature eligible.leader.replicas.version=1`",
            "none" if min_isr >= 2 else "min.insync.replicas=2",
        )
    )


def flush_rule(cfg: TeamConfig, add: Add) -> None:
    """Flush settings: what they cost and what they protect.

    Broker (``log.flush.interval.messages``): "The number of messages accumulated on a log
    partition before messages are flushed to disk"; its default (Long.MAX_VALUE) means never — the
    operating system decides, and durability comes from replication.
    """
    forcing: list[tuple[str, str | None, str]] = []
    for kind, key in (
        ("topic", "flush.messages"),
        ("topic", "flush.ms"),
        ("broker", "log.flush.interval.messages"),
        ("broker", "log.flush.interval.ms"),
    ):
        value, at = cfg.effective(kind, key, "")
        if at != "default" and as_int(value, LONG_MAX) < LONG_MAX:
            forcing.append((key, value, at))
    for key, value, at in forcing:
        add(
            Finding(
                "info",
                "broker",
                key,
                value,
                at,
                "forces fsync on a schedule: it costs throughput, and only matters if every replica loses "
                "power at once (acks=all across racks protects the same records)",
                "keep it only if replicas share a power domain",
            )
        )
    if not forcing:
        add(
            Finding(
                "info",
                "broker",
                "flush.messages",
                None,
                "default",
                "the OS decides when to write the log to disk (Kafka's default never forces it); durability "
                "comes from replication, and a power loss on every replica at once can lose acknowledged records",
                "put replicas in separate failure domains (broker.rack), or set flush.messages for the topic",
            )
        )
