"""The Kafka clients a workload can run, and what each accepts.

* ``kafka-python`` — the pure-Python client (the default of experiment files).
* ``librdkafka`` — confluent-kafka from PyPI, whose wheels carry librdkafka: the C client under
  confluent-kafka-go, confluent-kafka-dotnet and the Node clients.
* ``java`` — Apache Kafka's own ``kafka-clients``, the same release as the cluster, in a JVM on the
  host (see :mod:`chaos.images.java_driver`).

Settings are always written under the Java client's property names; each client resolves them
(:func:`resolve_settings`) and refuses at load time what it cannot honour.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal, get_args

from chaos.errors import UsageError
from chaos.workloads.java_settings import java_consumer_settings, java_producer_settings
from chaos.workloads.rdkafka_settings import rdkafka_consumer_settings, rdkafka_producer_settings
from chaos.workloads.settings import ClientSettings, consumer_settings, producer_settings

ClientName = Literal["kafka-python", "librdkafka", "java"]
CLIENTS: tuple[str, ...] = get_args(ClientName)
DEFAULT_CLIENT: ClientName = "kafka-python"

_RESOLVERS: dict[tuple[str, str], Callable[[Mapping[str, object]], ClientSettings]] = {
    ("kafka-python", "producer"): producer_settings,
    ("kafka-python", "consumer"): consumer_settings,
    ("librdkafka", "producer"): rdkafka_producer_settings,
    ("librdkafka", "consumer"): rdkafka_consumer_settings,
    ("java", "producer"): java_producer_settings,
    ("java", "consumer"): java_consumer_settings,
}

#: What each client reads with when ``isolation.level`` is not set: librdkafka's default is
#: read_committed, the Java client's and kafka-python's read_uncommitted.
DEFAULT_ISOLATION: dict[str, str] = {
    "kafka-python": "read_uncommitted",
    "librdkafka": "read_committed",
    "java": "read_uncommitted",
}


def check_client(name: str) -> ClientName:
    """``name`` if it is a client the harness can run.

    Raises:
        UsageError: any other name, listing the ones there are.

    >>> check_client("java")
    'java'
    """
    if name not in CLIENTS:
        raise UsageError(f"unknown client {name!r}: use one of {', '.join(CLIENTS)}")
    return name  # type: ignore[return-value]


def resolve_settings(client: str, role: str, props: Mapping[str, object]) -> ClientSettings:
    """``props`` (Java names) resolved for ``client`` as a ``producer`` or ``consumer``.

    Raises:
        UsageError: an unknown client, or a setting the client does not have or cannot honour.
    """
    return _RESOLVERS[(check_client(client), role)](props)


def isolation_level(client: str, settings: Mapping[str, object]) -> str:
    """The isolation level ``client`` reads with under ``settings`` (Java names): the setting as the
    client takes it (kafka-python and librdkafka accept any case), else the client's own default.

    >>> isolation_level("librdkafka", {})
    'read_committed'
    >>> isolation_level("kafka-python", {"isolation.level": "READ_COMMITTED"})
    'read_committed'
    """
    value = settings.get("isolation.level")
    if value is None:
        return DEFAULT_ISOLATION.get(client, "read_uncommitted")
    return str(value).strip().lower()
