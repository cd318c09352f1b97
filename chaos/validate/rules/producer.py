"""The producer's rules: acknowledgement, retries and idempotence, timeouts, blocking."""

from __future__ import annotations

from chaos.validate.findings import FAILOVER_SECONDS, Finding, TeamConfig, as_int
from chaos.validate.rules.common import INT_MAX, Add, lower


def idempotence(cfg: TeamConfig) -> tuple[bool, str]:
    """Whether the producer is idempotent, and why.

    ProducerConfig (``enable.idempotence``): "Idempotence is enabled by default if no conflicting
    configurations are set. If conflicting configurations are set and idempotence is not explicitly
    enabled, idempotence is disabled." The conflicts are ``acks`` other than all, ``retries=0`` and
    more than 5 requests in flight. (Explicitly enabled with a conflict, Kafka refuses the file.)
    """
    idem, _ = cfg.effective("producer", "enable.idempotence", None)
    explicit = cfg.producer is not None and "enable.idempotence" in cfg.producer.values
    if explicit:
        on = lower(idem) == "true"
        return on, "enable.idempotence=" + ("true" if on else "false")
    acks, _ = cfg.effective("producer", "acks", "all")
    retries, _ = cfg.effective("producer", "retries", str(INT_MAX))
    inflight, _ = cfg.effective("producer", "max.in.flight.requests.per.connection", "5")
    if lower(acks) not in ("all", "-1"):
        return False, f"acks={acks} turns the default idempotence off"
    if as_int(retries, INT_MAX) == 0:
        return False, "retries=0 turns the default idempotence off"
    if as_int(inflight, 5) > 5:
        return False, f"max.in.flight.requests.per.connection={inflight} turns the default idempotence off"
    return True, "on by default"


def acks_rule(cfg: TeamConfig, add: Add) -> None:
    """acks=0 or 1: an acknowledged record can be lost with its leader.

    ProducerConfig (``acks``): with acks=1, "should the leader fail immediately after acknowledging
    the record but before the followers have replicated it then the record will be lost".
    """
    acks, acks_at = cfg.effective("producer", "acks", "all")
    if lower(acks) in ("0", "1"):
        add(
            Finding(
                "loss",
                "broker",
                "acks",
                acks,
                acks_at,
                "acks=0 counts a record sent once it is on the socket"
                if lower(acks) == "0"
                else "acks=1 is acknowledged by the leader alone: a leader that dies before its followers "
                "fetch the record takes it along",
                "acks=all",
                ("producer", "acks", "all"),
            )
        )


def retries_rule(cfg: TeamConfig, add: Add) -> None:
    """retries=0 fails a send on the first transient error; a producer that is not idempotent
    writes a retried batch twice.

    ProducerConfig (``retries``): "Produce requests will be failed before the number of retries has
    been exhausted if the timeout configured by delivery.timeout.ms expires first"; with 0, the
    first retriable error fails the record. (``enable.idempotence``): idempotence "ensures that
    exactly one copy of each message is written in the stream"; without it, "retries due to broker
    failures, etc., may write duplicates of the retried message in the stream".
    """
    retries, retries_at = cfg.effective("producer", "retries", str(INT_MAX))
    on, why = idempotence(cfg)
    if cfg.producer is not None and "retries" in cfg.producer.values and as_int(retries, INT_MAX) == 0:
        default_idem = "enable.idempotence" not in cfg.producer.values
        add(
            Finding(
                "loss",
                "producer",
                "retries",
                retries,
                retries_at,
                "a transient error (leader change, timeout) fails the send at once; an application that "
                "does not handle every failure drops the record"
                + ("; it also turns the default idempotence off" if default_idem else ""),
                "remove retries (default: retry until delivery.timeout.ms)",
                ("producer", "retries", None),
            )
        )
        return
    if not on:
        idem, idem_at = cfg.effective("producer", "enable.idempotence", None)
        explicit = cfg.producer is not None and "enable.idempotence" in cfg.producer.values
        add(
            Finding(
                "duplicates",
                "producer",
                "enable.idempotence",
                idem if explicit else f"off ({why})",
                idem_at if explicit else cfg.effective("producer", "acks", "all")[1],
                "a retried batch whose first attempt was written but not acknowledged is written twice",
                "enable.idempotence=true (needs acks=all and max.in.flight.requests.per.connection <= 5)",
                ("producer", "enable.idempotence", "true"),
            )
        )


def in_flight_rule(cfg: TeamConfig, add: Add) -> None:
    """Without idempotence, more than one request in flight lets a retry land after a later batch.

    ProducerConfig (``max.in.flight.requests.per.connection``): "if this configuration is set to be
    greater than 1 and enable.idempotence is set to false, there is a risk of message reordering
    after a failed send due to retries".
    """
    on, _ = idempotence(cfg)
    retries, _ = cfg.effective("producer", "retries", str(INT_MAX))
    inflight, inflight_at = cfg.effective("producer", "max.in.flight.requests.per.connection", "5")
    if not on and as_int(inflight, 5) > 1 and as_int(retries, INT_MAX) > 0:
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


def timeouts_rule(cfg: TeamConfig, add: Add) -> None:
    """A delivery timeout shorter than a failover expires records; a short request timeout writes
    a batch twice only when the producer is not idempotent.

    ProducerConfig (``delivery.timeout.ms``): "An upper bound on the time to report success or
    failure after a call to send() returns"; (``request.timeout.ms``): the client "will resend the
    request if necessary", which the idempotent producer's sequence numbers make harmless.
    """
    delivery, delivery_at = cfg.effective("producer", "delivery.timeout.ms", "120000")
    request, request_at = cfg.effective("producer", "request.timeout.ms", "30000")
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
    on, _ = idempotence(cfg)
    if as_int(request, 30000) < 5000 and not on:
        add(
            Finding(
                "duplicates",
                "producer",
                "request.timeout.ms",
                request,
                request_at,
                "requests time out while the broker is still writing them, and without idempotence each "
                "retry may write the batch again",
                "enable.idempotence=true, or request.timeout.ms=30000",
                ("producer", "request.timeout.ms", "30000"),
            )
        )


def blocking_rule(cfg: TeamConfig, add: Add) -> None:
    """send() that may not wait fails records whenever the buffer is full or metadata is missing.

    ProducerConfig (``max.block.ms``): "controls how long KafkaProducer's send() ... will block";
    (``buffer.memory``): "If records are sent faster than they can be delivered to the server the
    producer will block for max.block.ms after which it will fail with an exception."
    """
    block, block_at = cfg.effective("producer", "max.block.ms", "60000")
    memory, _ = cfg.effective("producer", "buffer.memory", "33554432")
    if as_int(block, 60000) < 1000:
        small = as_int(memory, 33554432) < 1024 * 1024
        add(
            Finding(
                "loss",
                "producer",
                "max.block.ms",
                block,
                block_at,
                f"send() may wait only {block} ms: while a leader changes (metadata unknown) or the "
                f"{'small ' if small else ''}buffer (buffer.memory={memory}) is full, every send fails at once "
                "and the application must handle each failure or lose the record",
                "max.block.ms=60000",
                ("producer", "max.block.ms", "60000"),
            )
        )
