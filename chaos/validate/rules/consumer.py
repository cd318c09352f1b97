"""The consumer's rules: commits against how the application processes, offsets, group membership."""

from __future__ import annotations

from chaos.validate.findings import Finding, TeamConfig, as_int
from chaos.validate.rules.common import Add, lower


def auto_commit_rule(cfg: TeamConfig, add: Add) -> None:
    """Auto-commit commits what poll() returned, processed or not: at-least-once only when the
    application processes it all before the next poll().

    KafkaConsumer (Automatic Offset Committing): auto-commit gives at-least-once "but the
    requirement is that you must consume all data returned from each call to poll(Duration) before
    any subsequent calls ... it is possible for the committed offset to get ahead of the consumed
    position, which results in missing records."
    """
    auto, auto_at = cfg.effective("consumer", "enable.auto.commit", "true")
    if lower(auto) != "true":
        return
    interval, _ = cfg.effective("consumer", "auto.commit.interval.ms", "5000")
    assumed = "" if cfg.processing_stated else " (assumed; state --processing)"
    if cfg.processing == "in-poll":
        add(
            Finding(
                "duplicates",
                "consumer",
                "enable.auto.commit",
                auto,
                auto_at,
                f"processing each poll's records before the next poll: auto-commit (every {interval} ms) is "
                "at-least-once; a crash processes again what was processed since the last commit",
                "none needed; commitSync() after processing narrows the window",
            )
        )
        return
    how = "buffered for batched processing" if cfg.processing == "batched" else "handed to other threads"
    add(
        Finding(
            "loss",
            "consumer",
            "enable.auto.commit",
            auto,
            auto_at,
            f"processing is {cfg.processing}{assumed}: the client commits what it has polled every {interval} ms, "
            f"processed or not, so records {how} are lost when the consumer crashes",
            "enable.auto.commit=false and commitSync() after processing",
            ("consumer", "enable.auto.commit", "false"),
        )
    )


def offset_reset_rule(cfg: TeamConfig, add: Add) -> None:
    """Where a group without a committed offset starts.

    ConsumerConfig (``auto.offset.reset``): latest resets "to the latest offset"; "increasing a
    topic's partition count while this config is set to latest may cause silent message loss";
    none throws "to the consumer if no previous offset is found for the consumer's group".
    """
    reset, reset_at = cfg.effective("consumer", "auto.offset.reset", "latest")
    value = lower(reset)
    if value == "latest":
        add(
            Finding(
                "loss",
                "consumer",
                "auto.offset.reset",
                reset,
                reset_at,
                "a group without committed offsets (new, its offsets expired, or a partition just added) "
                "starts at the end and skips everything already there",
                "auto.offset.reset=earliest (or by_duration:<ISO-8601 duration>)",
                ("consumer", "auto.offset.reset", "earliest"),
                explains=False,
            )
        )
    elif value == "none":
        add(
            Finding(
                "info",
                "consumer",
                "auto.offset.reset",
                reset,
                reset_at,
                "a partition without a committed offset makes poll() throw NoOffsetForPartitionException: "
                "the application decides where to start (nothing is skipped silently)",
                "none",
            )
        )


def poll_interval_rule(cfg: TeamConfig, add: Add) -> None:
    """Processing that outlasts max.poll.interval.ms gets the member removed from its group.

    ConsumerConfig (``max.poll.interval.ms``): "If poll() is not called before expiration of this
    timeout, then the consumer is considered failed and the group will rebalance"; its later
    commit fails and another member processes the records again.
    """
    interval, interval_at = cfg.effective("consumer", "max.poll.interval.ms", "300000")
    limit = as_int(interval, 300000)
    if cfg.process_ms is not None and cfg.process_ms >= limit:
        add(
            Finding(
                "duplicates",
                "consumer",
                "max.poll.interval.ms",
                interval,
                interval_at,
                f"processing takes {cfg.process_ms} ms but the member must poll every {limit} ms: it is removed "
                "from the group mid-batch, its commit fails, and another member processes the records again",
                f"max.poll.interval.ms above the processing time, e.g. {max(300000, cfg.process_ms * 2)}",
                ("consumer", "max.poll.interval.ms", str(max(300000, cfg.process_ms * 2))),
            )
        )
    elif cfg.process_ms is None and "max.poll.interval.ms" in cfg.consumer.values and limit < 60000:
        records, _ = cfg.effective("consumer", "max.poll.records", "500")
        add(
            Finding(
                "info",
                "consumer",
                "max.poll.interval.ms",
                interval,
                interval_at,
                f"processing one poll's records (up to max.poll.records={records}) must end within {limit} ms, "
                "or the member is removed, its commit fails and the records are processed again; state "
                "--process-ms to have it judged",
                "none",
            )
        )


def session_timeout_rule(cfg: TeamConfig, add: Add) -> None:
    """A session timeout outside the broker's bounds: the member is refused at join.

    Broker (``group.min.session.timeout.ms``/``group.max.session.timeout.ms``): "The minimum/maximum
    allowed session timeout for registered consumers"; the join fails with INVALID_SESSION_TIMEOUT.
    Only the classic protocol sends it (with ``group.protocol=consumer`` the broker sets it).
    """
    if lower(cfg.effective("consumer", "group.protocol", "classic")[0]) == "consumer":
        return
    session, session_at = cfg.effective("consumer", "session.timeout.ms", "45000")
    low, low_at = cfg.effective("broker", "group.min.session.timeout.ms", "6000")
    high, high_at = cfg.effective("broker", "group.max.session.timeout.ms", "1800000")
    value = as_int(session, 45000)
    if value < as_int(low, 6000) or value > as_int(high, 1800000):
        bound, where = (low, low_at) if value < as_int(low, 6000) else (high, high_at)
        add(
            Finding(
                "config",
                "consumer",
                "session.timeout.ms",
                session,
                session_at,
                f"outside the brokers' group.{'min' if bound == low else 'max'}.session.timeout.ms={bound} ({where}): "
                "the group coordinator refuses the member's join (INVALID_SESSION_TIMEOUT) and it never consumes",
                f"session.timeout.ms between {low} and {high}",
                ("consumer", "session.timeout.ms", "45000"),
            )
        )
