"""Client settings for Apache Kafka's own Java client: its property names, passed to it as they are.

The names a Java client knows are Kafka's own (``ProducerConfig.configNames()`` and
``ConsumerConfig.configNames()`` of kafka-clients, kept in ``java_client_configs.json`` with the
release they were read from). A key outside them is refused at load time with the closest name;
values of the keys the harness also knows for kafka-python are checked here, the rest by the Java
client itself when the driver starts it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import resources

from chaos.workloads.settings import (
    CONSUMER_KEYS,
    PRODUCER_EMULATED,
    PRODUCER_KEYS,
    ClientSettings,
    ClientTable,
    Converter,
    Rule,
    Setting,
    resolve,
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


def _foreign(key: str, value: str) -> str | None:
    if foreign := foreign_classes(key, value):
        return (
            f"names {foreign[0]}, a class of the application's own: the java client runs Apache Kafka's "
            "kafka-clients without the application's jars; use one of Kafka's own classes or remove it"
        )
    return None


def _checked(check: Converter) -> Converter:
    """The value as given, once ``check`` has found it well-formed: the Java client takes text."""

    def checked(value: str) -> Setting:
        check(value)
        return value

    return checked


def _unknown(role: str, key: str, hint: str) -> str:
    return f"unknown {role} setting {key}{hint}: the Java client of Kafka {JAVA_NAMES_VERSION} has no such property"


def _table(role: str, names: frozenset[str], checks: Mapping[str, Converter]) -> ClientTable:
    rules: dict[str, Rule] = {k: (k, _checked(checks[k]) if k in checks else str) for k in names}
    return ClientTable(role, rules, _unknown, names, vet=_foreign)


PRODUCER = _table(
    "producer", JAVA_PRODUCER_KEYS, {k: conv for k, (_, conv) in PRODUCER_KEYS.items()} | dict(PRODUCER_EMULATED)
)
CONSUMER = _table(
    "consumer", JAVA_CONSUMER_KEYS, {k: conv for k, (_, conv) in CONSUMER_KEYS.items() if k != "auto.offset.reset"}
)


def java_producer_settings(props: Mapping[str, object]) -> ClientSettings:
    """Java producer properties for ``props`` (as strings), with the harness's own keys taken out.

    Raises:
        UsageError: a key the Java producer does not have, or a malformed value of a key checked here.

    >>> java_producer_settings({"acks": "all", "partitioner.ignore.keys": "true"}).kwargs
    {'acks': 'all', 'partitioner.ignore.keys': 'true'}
    """
    return resolve(PRODUCER, props)


def java_consumer_settings(props: Mapping[str, object]) -> ClientSettings:
    """Java consumer properties for ``props`` (as strings), with the harness's own keys taken out.

    Raises:
        UsageError: a key the Java consumer does not have, or a malformed value of a key checked here.
    """
    return resolve(CONSUMER, props)
