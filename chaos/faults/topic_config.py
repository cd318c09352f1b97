"""Topic config: change a topic's settings mid-run, as an operator would (a smaller
``max.message.bytes``, a higher ``min.insync.replicas``), and put back what was there when healed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from kafka.admin import ConfigResource, ConfigResourceType

from chaos.errors import UsageError
from chaos.faults.base import Fault, FaultContext, FaultError, register

#: Kafka's name of a topic config's source when the topic has an override of its own.
OWN = ("TOPIC_CONFIG", "DYNAMIC_TOPIC_CONFIG")


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _scalar(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


@register
class TopicConfig(Fault):
    """Set ``config`` ({key: value}) on ``topic`` (default: the run's topic) through Kafka's
    incremental AlterConfigs; heal restores each key's own value, or removes the override where the
    topic had none. Injecting and healing each check that the brokers report what they set. Two
    such faults on one key must not overlap: the second would take the first's value as the topic's."""

    kind = "topic_config"
    params: ClassVar[Mapping[str, Any]] = {"topic": str, "config": dict}

    def validate(self) -> None:
        config = self.p.get("config")
        if not config:
            raise UsageError("fault topic_config needs config: the settings to change, e.g. {max.message.bytes: 65536}")
        for key, value in config.items():
            if not isinstance(key, str) or not isinstance(value, str | int | float | bool):
                raise UsageError(f"fault topic_config: {key!r}: {value!r} is not a setting and a plain value")
        self.before: dict[str, str | None] = {}

    def _topic(self, ctx: FaultContext) -> str:
        topic = str(self.p.get("topic") or ctx.topic)
        if not topic:
            raise UsageError("fault topic_config needs topic: outside a run there is no topic of its own")
        return topic

    def _describe(self, ctx: FaultContext, topic: str) -> dict[str, tuple[str | None, str]]:
        """Each key of ``config``: its value now and its source."""
        resource = ConfigResource(ConfigResourceType.TOPIC, topic, configs=dict.fromkeys(self.p["config"]))
        found = ctx.cluster.admin_call(lambda a: a.describe_configs([resource], config_filter="all"))
        entries: dict[str, dict[str, Any]] = found.get("topic", {}).get(topic, {})
        return {
            k: (e.get("value"), str(e.get("config_source", ""))) for k, e in entries.items() if k in self.p["config"]
        }

    def _alter(self, ctx: FaultContext, topic: str, configs: Mapping[str, tuple[str, str | None]]) -> None:
        resource = ConfigResource(ConfigResourceType.TOPIC, topic, configs=dict(configs))
        ctx.cluster.admin_call(lambda a: a.alter_configs([resource], incremental=True))

    def _inject(self, ctx: FaultContext) -> None:
        topic = self._topic(ctx)
        self.targets = [f"topic:{topic}"]
        now = self._describe(ctx, topic)
        self.before = {k: (value if source in OWN else None) for k, (value, source) in now.items()}
        self._alter(ctx, topic, {k: ("SET", _scalar(v)) for k, v in self.p["config"].items()})

    def _verify(self, ctx: FaultContext) -> None:
        topic = self._topic(ctx)
        now = self._describe(ctx, topic)
        for key, value in self.p["config"].items():
            if now.get(key, (None, ""))[0] != _scalar(value):
                raise FaultError(f"topic {topic}: {key} is {now.get(key, (None, ''))[0]!r}, not {_scalar(value)!r}")

    def _heal(self, ctx: FaultContext) -> None:
        topic = self._topic(ctx)
        back = {k: ("SET", v) if v is not None else ("DELETE", None) for k, v in self.before.items()}
        if back:
            self._alter(ctx, topic, back)
        now = self._describe(ctx, topic)
        for key, value in self.before.items():  # Kafka may answer a refusal without raising: look
            found, source = now.get(key, (None, ""))
            if (value is not None and found != value) or (value is None and source in OWN):
                raise FaultError(
                    f"topic {topic}: {key} is still {found!r} after the heal, not {value or 'the default'}"
                )
