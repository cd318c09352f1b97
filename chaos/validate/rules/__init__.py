r"""The static review's rules: one small function per risk, each adding :class:`Finding`\ s for the
settings (or the release's defaults) that cause it. A new rule is one function and one entry in
:data:`RULES`.

Whether a value is valid is not a rule's business: Kafka's own definitions judge that
(:mod:`chaos.validate.review`). A rule knows what a valid setting does to the records, and each
one's docstring names the Kafka documentation it rests on. Rules read values through
:meth:`TeamConfig.effective`, which fills what a file leaves out with the release's default.
"""

from __future__ import annotations

from chaos.validate.findings import Finding, TeamConfig
from chaos.validate.rules import broker, consumer, producer
from chaos.validate.rules.common import Add, Rule

__all__ = ["RULES", "Rule"]


def substituted_rule(cfg: TeamConfig, add: Add) -> None:
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
    producer.acks_rule,
    producer.retries_rule,
    producer.in_flight_rule,
    producer.timeouts_rule,
    producer.blocking_rule,
    consumer.auto_commit_rule,
    consumer.offset_reset_rule,
    consumer.poll_interval_rule,
    consumer.session_timeout_rule,
    broker.replication_rule,
    broker.auto_create_rule,
    broker.internal_topics_rule,
    broker.unclean_election_rule,
    broker.elr_rule,
    broker.flush_rule,
    substituted_rule,
)
