"""Topic config: change a topic's settings mid-run, as an operator would (a smaller
``max.message.bytes``, a higher ``min.insync.replicas``), and put back what was there when healed."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from kafka.admin import ConfigResource, ConfigResourceType

from chaos.errors import UsageError
from chaos.faults.base import Fault, FaultContext, FaultError, register
from chaos.waiting import WaitTimeout, wait_until

#: Kafka's name of a topic config's source when the topic has an override of its own.
OWN = ("TOPIC_CONFIG", "DYNAMIC_TOPIC_CONFIG")
#: Seconds a change has to show in every broker's answer (it reaches their metadata in milliseconds).
SETTLE_S = 10.0
#: A topic's configs as the brokers answer: each key's value and its source.
Described = Mapping[str, tuple[str | None, str]]


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
        wanted = {key: _scalar(value) for key, value in self.p["config"].items()}
        self._settle(ctx, topic, lambda now: _differs(now, wanted, set_only=True))

    def _settle(
        self,
        ctx: FaultContext,
        topic: str,
        differs: Callable[[Described], str | None],
    ) -> None:
        """Wait until no key ``differs`` (which names the first that does) in what the brokers answer:
        a change is applied by the controller and reaches each broker's metadata a moment later, and
        any broker may answer.

        Raises:
            FaultError: a key still differs after :data:`SETTLE_S` seconds.
        """
        last: list[str | None] = [None]

        def settled() -> bool:
            last[0] = differs(self._describe(ctx, topic))
            return last[0] is None

        try:
            wait_until(settled, SETTLE_S, f"topic {topic}'s settings", interval=0.2)
        except WaitTimeout as e:
            raise FaultError(f"topic {topic}: {last[0]}") from e

    def _heal(self, ctx: FaultContext) -> None:
        topic = self._topic(ctx)
        back = {k: ("SET", v) if v is not None else ("DELETE", None) for k, v in self.before.items()}
        if back:
            self._alter(ctx, topic, back)
        self._settle(ctx, topic, lambda now: _differs(now, self.before, set_only=False))


def _differs(now: Described, wanted: Mapping[str, str | None], set_only: bool) -> str | None:
    """The first key of ``wanted`` whose value in ``now`` is not the one wanted, as words (None: all
    are): a value, or, where None is wanted, the default (no override of the topic's own). After a
    set (``set_only``) the value is named as set; after a heal, as what was there before."""
    for key, value in wanted.items():
        found, source = now.get(key, (None, ""))
        if set_only and found != value:
            return f"{key} is {found!r}, not {value!r}"
        if not set_only and ((value is not None and found != value) or (value is None and source in OWN)):
            return f"{key} is still {found!r} after the heal, not {value or 'the default'}"
    return None
