"""Static review of a team's settings: each setting that risks loss or duplication, why, and the fix.

Defaults are the Java clients' and brokers' (Kafka 3.x/4.x): a setting left out is reviewed at its
default value, and the finding says so. Keys the harness replaces (bootstrap servers, serializers,
security, ids) are accepted and listed as substituted; unknown keys are flagged with the closest
known one, because a misspelled ``enable.idempotance`` silently leaves the default in force.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from chaos.cluster.config import OWNED_KEYS
from chaos.errors import UsageError
from chaos.validate.properties import Properties
from chaos.workloads.settings import (
    CONSUMER_KEYS,
    HARNESS_OWNED,
    PRODUCER_EMULATED,
    PRODUCER_KEYS,
    SECURITY_PREFIXES,
    UNSUPPORTED,
    consumer_settings,
    producer_settings,
)

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

    def effective(self, kind: str, key: str, default: str | None) -> tuple[str | None, str]:
        """The value in force and where it comes from (``file:line`` or ``default``)."""
        props = {"producer": self.producer, "consumer": self.consumer, "topic": self.topic, "broker": self.broker}[kind]
        if props is not None and key in props.values:
            return props.values[key].strip(), props.where(key)
        return default, "default"


def _closest(key: str, known: frozenset[str] | set[str]) -> str:
    match = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.7)
    return f" (did you mean {match[0]}?)" if match else ""


def _client_keys(kind: str, props: Properties, out: TeamConfig) -> dict[str, str]:
    """Check each client key on its own; returns the settings the workload can run with."""
    resolve = producer_settings if kind == "producer" else consumer_settings
    known = set(PRODUCER_KEYS) | set(PRODUCER_EMULATED) if kind == "producer" else set(CONSUMER_KEYS)
    run: dict[str, str] = {}
    for key, value in props.values.items():
        if key in HARNESS_OWNED or key.startswith(SECURITY_PREFIXES):
            out.substituted.append(f"{kind} {key}")
            continue
        if key in UNSUPPORTED:
            out.findings.append(
                Finding("info", "config", key, value, props.where(key), f"not exercised: {UNSUPPORTED[key]}", "none")
            )
            continue
        try:
            resolve({key: value})
        except UsageError as e:
            message = str(e)
            if key not in known:
                why = f"unknown {kind} setting{_closest(key, known)}: the client ignores it and keeps the default"
                fix = f"remove it or correct its spelling{_closest(key, known)}"
            else:
                why, fix = message, f"give {key} a valid value"
            out.findings.append(Finding("config", "config", key, value, props.where(key), why, fix))
            continue
        run[key] = value
    for key, lines in props.duplicates.items():
        out.findings.append(
            Finding(
                "config",
                "config",
                key,
                props.values[key],
                props.where(key),
                f"set {len(lines)} times (lines {', '.join(map(str, lines))}); the last one wins",
                "keep one",
            )
        )
    return run


def _server_keys(kind: str, props: Properties, known: frozenset[str], out: TeamConfig) -> dict[str, str]:
    run: dict[str, str] = {}
    for key, value in props.values.items():
        if kind == "broker" and key in BROKER_WIRING:
            out.substituted.append(f"broker {key}")
            continue
        if key not in known:
            hint = _closest(key, known)
            if hint or kind == "topic":
                out.findings.append(
                    Finding(
                        "config",
                        "config",
                        key,
                        value,
                        props.where(key),
                        f"unknown {kind} setting{hint}",
                        f"remove it or correct its spelling{hint}",
                    )
                )
                continue
        run[key] = value
    return run


def _int(value: str | None, default: int) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


def review(
    producer: Properties, consumer: Properties, topic: Properties | None = None, broker: Properties | None = None
) -> TeamConfig:
    """Review the team's files; see the module docstring. Never raises for a risky setting: every
    problem is a :class:`Finding`."""
    cfg = TeamConfig(producer, consumer, topic, broker)
    cfg.producer_run = _client_keys("producer", producer, cfg)
    cfg.consumer_run = _client_keys("consumer", consumer, cfg)
    if topic is not None:
        cfg.topic_run = _server_keys("topic", topic, TOPIC_KEYS, cfg)
    if broker is not None:
        cfg.broker_run = _server_keys("broker", broker, BROKER_KEYS, cfg)
    add = cfg.findings.append

    # -- producer ------------------------------------------------------------------------------
    acks, acks_at = cfg.effective("producer", "acks", "all")
    acks_v = (acks or "all").lower()
    if acks_v in ("0", "1"):
        add(
            Finding(
                "loss",
                "broker",
                "acks",
                acks,
                acks_at,
                "acks=0 counts a record sent once it is on the socket"
                if acks_v == "0"
                else "acks=1 is acknowledged by the leader alone: a leader that dies before its followers "
                "fetch the record takes it along",
                "acks=all",
                ("producer", "acks", "all"),
            )
        )
    idem, idem_at = cfg.effective("producer", "enable.idempotence", None)
    retries, retries_at = cfg.effective("producer", "retries", None)
    retries_n = _int(retries, 2**31 - 1)
    idem_on = (idem or "").lower() == "true" if idem is not None else acks_v in ("all", "-1")
    if retries is not None and retries_n == 0:
        add(
            Finding(
                "loss",
                "producer",
                "retries",
                retries,
                retries_at,
                "a transient error (leader change, timeout) fails the send at once; an application that "
                "does not handle every failure drops the record",
                "remove retries (default: retry until delivery.timeout.ms)",
                ("producer", "retries", None),
            )
        )
    elif not idem_on:
        add(
            Finding(
                "duplicates",
                "producer",
                "enable.idempotence",
                idem if idem is not None else f"off (implied by acks={acks})",
                idem_at if idem is not None else acks_at,
                "a retried batch whose first attempt was written but not acknowledged is written twice",
                "enable.idempotence=true (needs acks=all and max.in.flight.requests.per.connection <= 5)",
                ("producer", "enable.idempotence", "true"),
            )
        )
    if idem is not None and idem.lower() == "true" and acks_v in ("0", "1"):
        add(
            Finding(
                "config",
                "producer",
                "enable.idempotence",
                idem,
                idem_at,
                f"the idempotent producer needs acks=all; with acks={acks} the Java client refuses to start",
                "acks=all",
                ("producer", "acks", "all"),
            )
        )
    inflight, inflight_at = cfg.effective("producer", "max.in.flight.requests.per.connection", "5")
    if idem_on and _int(inflight, 5) > 5:
        add(
            Finding(
                "config",
                "producer",
                "max.in.flight.requests.per.connection",
                inflight,
                inflight_at,
                "the idempotent producer allows at most 5 requests in flight",
                "max.in.flight.requests.per.connection=5",
                ("producer", "max.in.flight.requests.per.connection", "5"),
            )
        )
    elif not idem_on and _int(inflight, 5) > 1 and retries_n > 0:
        add(
            Finding(
                "info",
                "producer",
                "max.in.flight.requests.per.connection",
                inflight,
                inflight_at,
                "without idempotence, a retried batch can land after a later one: records reorder",
                "enable.idempotence=true",
            )
        )
    delivery, delivery_at = cfg.effective("producer", "delivery.timeout.ms", "120000")
    request, request_at = cfg.effective("producer", "request.timeout.ms", "30000")
    linger, _ = cfg.effective("producer", "linger.ms", "5")
    if _int(delivery, 120000) < FAILOVER_SECONDS * 1000:
        add(
            Finding(
                "loss",
                "producer",
                "delivery.timeout.ms",
                delivery,
                delivery_at,
                f"records expire before a leader failover is over (up to ~{FAILOVER_SECONDS} s: session "
                "timeout, election, metadata refresh); each expiry is a failed send the application must handle",
                "delivery.timeout.ms=120000",
                ("producer", "delivery.timeout.ms", "120000"),
            )
        )
    if _int(request, 30000) < 5000:
        add(
            Finding(
                "duplicates",
                "producer",
                "request.timeout.ms",
                request,
                request_at,
                "requests time out while the broker is still writing them; each retry may write the batch again",
                "request.timeout.ms=30000",
                ("producer", "request.timeout.ms", "30000"),
            )
        )
    if _int(delivery, 120000) < _int(linger, 5) + _int(request, 30000):
        add(
            Finding(
                "config",
                "producer",
                "delivery.timeout.ms",
                delivery,
                delivery_at,
                "must be at least linger.ms + request.timeout.ms (the Java client refuses to start)",
                "delivery.timeout.ms=120000",
                ("producer", "delivery.timeout.ms", "120000"),
            )
        )

    # -- consumer ------------------------------------------------------------------------------
    auto, auto_at = cfg.effective("consumer", "enable.auto.commit", "true")
    if (auto or "true").lower() == "true":
        interval, _ = cfg.effective("consumer", "auto.commit.interval.ms", "5000")
        add(
            Finding(
                "loss",
                "consumer",
                "enable.auto.commit",
                auto,
                auto_at,
                f"the client commits what it has polled every {interval} ms, processed or not: records "
                "buffered for batched processing are lost when the consumer crashes",
                "enable.auto.commit=false and commitSync() after processing",
                ("consumer", "enable.auto.commit", "false"),
            )
        )
    reset, reset_at = cfg.effective("consumer", "auto.offset.reset", "latest")
    if (reset or "").lower() == "latest":
        add(
            Finding(
                "loss",
                "consumer",
                "auto.offset.reset",
                reset,
                reset_at,
                "a group without committed offsets (new, or its offsets expired) starts at the end and "
                "skips everything already in the topic",
                "auto.offset.reset=earliest",
                ("consumer", "auto.offset.reset", "earliest"),
                explains=False,
            )
        )

    # -- topic and broker ----------------------------------------------------------------------
    broker_rf, broker_rf_at = cfg.effective("broker", "default.replication.factor", None)
    topic_rf, topic_rf_at = cfg.effective("topic", "replication.factor", None)
    rf_value, rf_at = (topic_rf, topic_rf_at) if topic_rf is not None else (broker_rf, broker_rf_at)
    cfg.replication_factor = _int(rf_value, 3)
    partitions, _ = cfg.effective("topic", "partitions", "3")
    cfg.partitions = max(1, _int(partitions, 3))
    if rf_value is None:
        add(
            Finding(
                "info",
                "broker",
                "replication.factor",
                None,
                "not stated",
                "no replication factor given: the matrix creates the topic with 3 replicas",
                "state replication.factor=3 in the topic file",
            )
        )
    elif cfg.replication_factor < 3:
        add(
            Finding(
                "loss",
                "broker",
                "replication.factor",
                rf_value,
                rf_at,
                f"{cfg.replication_factor} replica(s): one broker failure leaves no copy to fail over to",
                "replication.factor=3",
                ("topic", "replication.factor", "3"),
            )
        )
    isr = cfg.effective("topic", "min.insync.replicas", None)
    if isr[0] is None:
        isr = cfg.effective("broker", "min.insync.replicas", "1")
    min_isr, isr_at = _int(isr[0], 1), isr[1]
    if min_isr < 2:
        add(
            Finding(
                "loss",
                "broker",
                "min.insync.replicas",
                isr[0],
                isr_at,
                "with 1, acks=all is acknowledged by the leader alone once the ISR has shrunk to it; losing "
                "that leader loses acknowledged records",
                "min.insync.replicas=2",
                ("topic", "min.insync.replicas", "2"),
            )
        )
    elif min_isr >= cfg.replication_factor:
        add(
            Finding(
                "availability",
                "broker",
                "min.insync.replicas",
                isr[0],
                isr_at,
                f"{min_isr} of {cfg.replication_factor} replicas: one broker down refuses every acks=all write",
                f"min.insync.replicas={max(1, cfg.replication_factor - 1)}",
                ("topic", "min.insync.replicas", str(max(1, cfg.replication_factor - 1))),
            )
        )
    unclean = cfg.effective("topic", "unclean.leader.election.enable", None)
    if unclean[0] is None:
        unclean = cfg.effective("broker", "unclean.leader.election.enable", "false")
    if (unclean[0] or "").lower() == "true":
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
    flush = [
        (k, *cfg.effective(kind, k, None))
        for kind, k in (
            ("topic", "flush.messages"),
            ("topic", "flush.ms"),
            ("broker", "log.flush.interval.messages"),
            ("broker", "log.flush.interval.ms"),
        )
    ]
    set_flush = [(k, v, at) for k, v, at in flush if v is not None]
    if set_flush:
        for key, value, at in set_flush:
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
    else:
        add(
            Finding(
                "info",
                "broker",
                "flush.messages",
                None,
                "default",
                "the OS decides when to write the log to disk; durability comes from replication, and a "
                "power loss on every replica at once can lose acknowledged records",
                "put replicas in separate failure domains (broker.rack), or set flush.messages for the topic",
            )
        )
    if cfg.substituted:
        add(
            Finding(
                "info",
                "config",
                "substituted",
                ", ".join(cfg.substituted),
                "the files",
                "the harness runs its own cluster and record envelope",
                "none",
            )
        )
    return cfg


def recommended(cfg: TeamConfig) -> dict[str, dict[str, str]]:
    """The team's run settings with every finding's fix applied (for ``--compare``)."""
    out = {
        "producer": dict(cfg.producer_run),
        "consumer": dict(cfg.consumer_run),
        "topic": dict(cfg.topic_run),
        "broker": dict(cfg.broker_run),
    }
    for finding in cfg.findings:
        if finding.change is None:
            continue
        kind, key, value = finding.change
        if value is None:
            out[kind].pop(key, None)
        else:
            out[kind][key] = value
    out["producer"].setdefault("acks", "all")
    if out["producer"].get("enable.idempotence", "true").lower() == "false":
        out["producer"]["enable.idempotence"] = "true"
    return out


def blocking(findings: list[Finding]) -> list[Finding]:
    """Findings that make the static review fail: loss risks and configuration errors."""
    return [f for f in findings if f.severity in ("loss", "config")]


def settings_of(stage: str, findings: list[Finding]) -> list[Finding]:
    """The loss findings that explain a loss at ``stage``."""
    return [f for f in findings if f.stage == stage and f.severity == "loss" and f.explains]


def as_mapping(findings: list[Finding]) -> list[Mapping[str, Any]]:
    """For JSON."""
    return [f.as_dict() for f in findings]
