"""Client settings for Apache Kafka's own Java client: its property names, passed to it as they are.

The names a Java client knows are Kafka's own (``ProducerConfig.configNames()`` and
``ConsumerConfig.configNames()`` of kafka-clients, kept in ``java_client_configs.json`` with the
release they were read from). A key outside them is refused at load time with the closest name;
values of the keys the harness also knows for kafka-python are checked here, the rest by the Java
client itself when the driver starts it.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from importlib import resources

from chaos.errors import UsageError
from chaos.workloads.settings import (
    CONSUMER_KEYS,
    HARNESS_OWNED,
    PRODUCER_EMULATED,
    PRODUCER_KEYS,
    SECURITY_PREFIXES,
    ClientSettings,
    Converter,
)

_NAMES = json.loads((resources.files("chaos.workloads") / "java_client_configs.json").read_text())
#: The Kafka release whose client config names are kept here.
JAVA_NAMES_VERSION: str = _NAMES["kafka_version"]
JAVA_PRODUCER_KEYS: frozenset[str] = frozenset(_NAMES["producer"])
JAVA_CONSUMER_KEYS: frozenset[str] = frozenset(_NAMES["consumer"])


#: Keys whose values name Java classes; the driver can load Kafka's own, not an application's.
CLASS_KEYS = frozenset(
    {
        "partitioner.class",
        "interceptor.classes",
        "metric.reporters",
        "partition.assignment.strategy",
        "config.providers",
    }
)
BUILT_IN = "org.apache.kafka."


def foreign_classes(key: str, value: str) -> list[str]:
    """The classes in ``value`` of a class-valued ``key`` that are not Kafka's own.

    >>> foreign_classes("partitioner.class", "com.acme.Partitioner")
    ['com.acme.Partitioner']
    """
    if key not in CLASS_KEYS:
        return []
    return [c.strip() for c in value.split(",") if c.strip() and not c.strip().startswith(BUILT_IN)]


def _resolve(
    role: str, props: Mapping[str, object], names: frozenset[str], checks: Mapping[str, Converter]
) -> ClientSettings:
    config: dict[str, str] = {}
    substituted: list[str] = []
    for key, raw in props.items():
        value = str(raw).strip() if not isinstance(raw, bool) else str(raw).lower()
        if key in HARNESS_OWNED or key.startswith(SECURITY_PREFIXES) or key == "sasl.jaas.config":
            substituted.append(key)
            continue
        if key not in names:
            close = difflib.get_close_matches(key, sorted(names), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise UsageError(
                f"unknown {role} setting {key}{hint}: "
                f"the Java client of Kafka {JAVA_NAMES_VERSION} has no such property"
            )
        if foreign := foreign_classes(key, value):
            raise UsageError(
                f"{role} setting {key} names {foreign[0]}, a class of the application's own: the java client "
                "runs Apache Kafka's kafka-clients without the application's jars; use one of Kafka's own classes "
                "or remove it"
            )
        if key in checks:
            try:
                checks[key](value)
            except ValueError as e:
                raise UsageError(f"{role} setting {key}={value!r} is invalid: {e}") from None
        config[key] = value
    return ClientSettings(kwargs=dict(config), substituted=sorted(substituted))


def java_producer_settings(props: Mapping[str, object]) -> ClientSettings:
    """Java producer properties for ``props`` (as strings), with the harness's own keys taken out.

    Raises:
        UsageError: a key the Java producer does not have, or a malformed value of a key checked here.

    >>> java_producer_settings({"acks": "all", "partitioner.ignore.keys": "true"}).kwargs
    {'acks': 'all', 'partitioner.ignore.keys': 'true'}
    """
    checks = {k: conv for k, (_, conv) in PRODUCER_KEYS.items()} | dict(PRODUCER_EMULATED)
    return _resolve("producer", props, JAVA_PRODUCER_KEYS, checks)


def java_consumer_settings(props: Mapping[str, object]) -> ClientSettings:
    """Java consumer properties for ``props`` (as strings), with the harness's own keys taken out.

    Raises:
        UsageError: a key the Java consumer does not have, or a malformed value of a key checked here.
    """
    checks = {k: conv for k, (_, conv) in CONSUMER_KEYS.items() if k != "auto.offset.reset"}
    return _resolve("consumer", props, JAVA_CONSUMER_KEYS, checks)
