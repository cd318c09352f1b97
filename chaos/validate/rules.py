r"""The static review's rules: one small function per risk, each adding :class:`Finding`\ s for the
settings (or defaults) that cause it. A new rule is one function and one entry in :data:`RULES`."""

from __future__ import annotations

from collections.abc import Callable

from chaos.validate.findings import FAILOVER_SECONDS, Finding, TeamConfig, as_int

Rule = Callable[[TeamConfig, Callable[[Finding], None]], None]


def _acks_rule(cfg: TeamConfig, add: Callable[[Finding], None]) -> None:
    """acks=0 or 1: an acknowledged record can be lost with its leader."""
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


def _retries_rule(cfg: TeamConfig, add: Callable[[Finding], None]) -> None:
    """retries=0 drops records on a transient error; no idempotence writes retried batches twice."""
    acks, acks_at = cfg.effective("producer", "acks", "all")
    acks_v = (acks or "all").lower()
    idem, idem_at = cfg.effective("producer", "enable.idempotence", None)
    retries, retries_at = cfg.effective("producer", "retries", None)
    retries_n = as_int(retries, 2**31 - 1)
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


def _idempotence_needs_acks_all_rule(cfg: TeamConfig, add: Callable[[Finding], None]) -> None:
    """The idempotent producer with acks other than all does not start."""
    acks, _ = cfg.effective("producer", "acks", "all")
    acks_v = (acks or "all").lower()
    idem, idem_at = cfg.effective("producer", "enable.idempotence", None)
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


def _in_flight_rule(cfg: TeamConfig, add: Callable[[Finding], None]) -> None:
    """Requests in flight: at most 5 with idempotence; without it, retries reorder."""
    acks, _ = cfg.effective("producer", "acks", "all")
    acks_v = (acks or "all").lower()
    idem, _ = cfg.effective("producer", "enable.idempotence", None)
    retries, _ = cfg.effective("producer", "retries", None)
    retries_n = as_int(retries, 2**31 - 1)
    idem_on = (idem or "").lower() == "true" if idem is not None else acks_v in ("all", "-1")
    inflight, inflight_at = cfg.effective("producer", "max.in.flight.requests.per.connection", "5")
    if idem_on and as_int(inflight, 5) > 5:
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
    elif not idem_on and as_int(inflight, 5) > 1 and retries_n > 0:
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


def _timeouts_rule(cfg: TeamConfig, add: Callable[[Finding], None]) -> None:
    """Delivery and request timeouts against a leader failover, and against each other."""
    delivery, delivery_at = cfg.effective("producer", "delivery.timeout.ms", "120000")
    request, request_at = cfg.effective("producer", "request.timeout.ms", "30000")
    linger, _ = cfg.effective("producer", "linger.ms", "5")
    if as_int(delivery, 120000) < FAILOVER_SECONDS * 1000:
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
    if as_int(request, 30000) < 5000:
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
    if as_int(delivery, 120000) < as_int(linger, 5) + as_int(request, 30000):
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


def _auto_commit_rule(cfg: TeamConfig, add: Callable[[Finding], None]) -> None:
    """Auto-commit commits what was polled, processed or not."""
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


def _offset_reset_rule(cfg: TeamConfig, add: Callable[[Finding], None]) -> None:
    """auto.offset.reset=latest skips what is already in the topic."""
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


def _replication_rule(cfg: TeamConfig, add: Callable[[Finding], None]) -> None:
    """The replication factor (and, as a side effect, the topic shape the matrix uses)."""
    broker_rf, broker_rf_at = cfg.effective("broker", "default.replication.factor", None)
    topic_rf, topic_rf_at = cfg.effective("topic", "replication.factor", None)
    rf_value, rf_at = (topic_rf, topic_rf_at) if topic_rf is not None else (broker_rf, broker_rf_at)
    cfg.replication_factor = as_int(rf_value, 3)
    partitions, _ = cfg.effective("topic", "partitions", "3")
    cfg.partitions = max(1, as_int(partitions, 3))
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


def _min_insync_rule(cfg: TeamConfig, add: Callable[[Finding], None]) -> None:
    """min.insync.replicas below 2 loses acknowledged records; at the RF it refuses writes."""
    isr = cfg.effective("topic", "min.insync.replicas", None)
    if isr[0] is None:
        isr = cfg.effective("broker", "min.insync.replicas", "1")
    min_isr, isr_at = as_int(isr[0], 1), isr[1]
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


def _unclean_election_rule(cfg: TeamConfig, add: Callable[[Finding], None]) -> None:
    """Unclean leader election discards what only the in-sync replicas held."""
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


def _flush_rule(cfg: TeamConfig, add: Callable[[Finding], None]) -> None:
    """Flush settings: what they cost and what they protect."""
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


def _substituted_rule(cfg: TeamConfig, add: Callable[[Finding], None]) -> None:
    """What the harness substitutes (bootstrap, serializers, security …)."""
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


#: The review's rules, in the order their findings are listed; a new rule is one function here.
RULES: tuple[Rule, ...] = (
    _acks_rule,
    _retries_rule,
    _idempotence_needs_acks_all_rule,
    _in_flight_rule,
    _timeouts_rule,
    _auto_commit_rule,
    _offset_reset_rule,
    _replication_rule,
    _min_insync_rule,
    _unclean_election_rule,
    _flush_rule,
    _substituted_rule,
)
