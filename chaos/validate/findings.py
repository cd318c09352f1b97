"""What the review finds, and the team's configuration it is found in: :class:`Finding`,
:class:`TeamConfig`, the key sets the review knows, and the failover the timeouts are judged by."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from chaos.cluster.config import OWNED_KEYS
from chaos.validate.properties import Properties

Severity = Literal["loss", "duplicates", "availability", "config", "info"]
Stage = Literal["producer", "broker", "consumer", "config"]

#: Topic-level configs (kafka-topics --config), plus the two a topic file may state for creation.
TOPIC_KEYS = frozenset(
    {
        "partitions",
        "replication.factor",
        "cleanup.policy",
        "compression.type",
        "delete.retention.ms",
        "file.delete.delay.ms",
        "flush.messages",
        "flush.ms",
        "follower.replication.throttled.replicas",
        "index.interval.bytes",
        "leader.replication.throttled.replicas",
        "local.retention.bytes",
        "local.retention.ms",
        "max.compaction.lag.ms",
        "max.message.bytes",
        "message.timestamp.after.max.ms",
        "message.timestamp.before.max.ms",
        "message.timestamp.type",
        "min.cleanable.dirty.ratio",
        "min.compaction.lag.ms",
        "min.insync.replicas",
        "preallocate",
        "remote.storage.enable",
        "retention.bytes",
        "retention.ms",
        "segment.bytes",
        "segment.index.bytes",
        "segment.jitter.ms",
        "segment.ms",
        "unclean.leader.election.enable",
    }
)
#: Topic keys a topic file may carry that are not topic configs (they shape the topic's creation).
TOPIC_SHAPE = ("partitions", "replication.factor")

#: Broker keys that wire a node into its cluster: the harness sets its own (the cluster refuses them).
BROKER_WIRING = OWNED_KEYS | {"zookeeper.connect"}
#: Broker configs reviewed or commonly set; others pass through to the brokers with a note.
BROKER_KEYS = BROKER_WIRING | frozenset(
    {
        "default.replication.factor",
        "min.insync.replicas",
        "unclean.leader.election.enable",
        "log.flush.interval.messages",
        "log.flush.interval.ms",
        "log.flush.scheduler.interval.ms",
        "replica.lag.time.max.ms",
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
        "num.partitions",
        "auto.create.topics.enable",
        "log.retention.hours",
        "log.retention.ms",
        "log.retention.bytes",
        "log.segment.bytes",
        "compression.type",
        "message.max.bytes",
        "num.network.threads",
        "num.io.threads",
        "num.replica.fetchers",
        "replica.fetch.max.bytes",
        "broker.rack",
        "group.initial.rebalance.delay.ms",
        "offsets.retention.minutes",
        "broker.session.timeout.ms",
        "broker.heartbeat.interval.ms",
        "controlled.shutdown.enable",
        "delete.topic.enable",
        "leader.imbalance.check.interval.seconds",
        "auto.leader.rebalance.enable",
        "log.cleaner.enable",
    }
)

#: The fault window the matrix uses: a delivery timeout shorter than a failover expires records.
FAILOVER_SECONDS = 30


@dataclass(frozen=True, slots=True)
class Finding:
    """One reviewed setting: how bad, at which stage, where it came from, why, and the fix."""

    severity: Severity
    stage: Stage
    setting: str
    value: str | None
    where: str
    why: str
    fix: str
    #: The recommended change as (file kind, key, value or None to remove), for ``--compare``.
    change: tuple[str, str, str | None] | None = None
    #: Whether a loss at its stage in the matrix can be put down to it (not so for a risk that only
    #: bites in situations the matrix does not create, such as a new consumer group).
    explains: bool = True

    def as_dict(self) -> dict[str, Any]:
        """For JSON reports."""
        return asdict(self)


@dataclass(slots=True)
class TeamConfig:
    """The team's files, as parsed, and what the harness will run with."""

    producer: Properties
    consumer: Properties
    topic: Properties | None = None
    broker: Properties | None = None
    findings: list[Finding] = field(default_factory=list)
    #: Settings to run the dynamic matrix with (unknown and unsupported keys left out).
    producer_run: dict[str, str] = field(default_factory=dict)
    consumer_run: dict[str, str] = field(default_factory=dict)
    topic_run: dict[str, str] = field(default_factory=dict)
    broker_run: dict[str, str] = field(default_factory=dict)
    partitions: int = 3
    replication_factor: int = 3
    substituted: list[str] = field(default_factory=list)
    #: The client whose configuration the files are, and which runs the matrix.
    client: str = "java"

    def effective(self, kind: str, key: str, default: str | None) -> tuple[str | None, str]:
        """The value in force and where it comes from (``file:line`` or ``default``)."""
        props = {"producer": self.producer, "consumer": self.consumer, "topic": self.topic, "broker": self.broker}[kind]
        if props is not None and key in props.values:
            return props.values[key].strip(), props.where(key)
        return default, "default"


def as_int(value: str | None, default: int) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default
