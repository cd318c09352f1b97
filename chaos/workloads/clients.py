"""The Kafka clients a workload can run, and what each accepts.

* ``kafka-python`` — the pure-Python client (the default of experiment files).
* ``librdkafka`` — confluent-kafka from PyPI, whose wheels carry librdkafka: the C client under
  confluent-kafka-go, confluent-kafka-dotnet and the Node clients.
* ``java`` — Apache Kafka's own ``kafka-clients``, the same release as the cluster, in a JVM on the
  host (see :mod:`chaos.images.java_driver`).

Any other name is an external client (:mod:`chaos.workloads.external`): a driver program described
in an experiment file or by an installed package, which follows ``docs/clients.md``.

Settings are always written under the Java client's property names; each client resolves them
(:func:`resolve_settings`) and refuses at load time what it cannot honour.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from chaos.errors import UsageError
from chaos.workloads.external import ExternalClient, installed_client, installed_names
from chaos.workloads.java_settings import java_consumer_settings, java_producer_settings
from chaos.workloads.names import BUILT_IN_CLIENTS, ClientName
from chaos.workloads.rdkafka_settings import rdkafka_consumer_settings, rdkafka_producer_settings
from chaos.workloads.settings import ClientSettings, consumer_settings, producer_settings

#: The built-in clients.
CLIENTS: tuple[str, ...] = BUILT_IN_CLIENTS
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


def available_clients() -> tuple[str, ...]:
    """The built-in clients, then the installed ones (``--client all`` runs each)."""
    return (*CLIENTS, *(name for name in installed_names() if name not in CLIENTS))


def check_client(name: str) -> str:
    """``name`` if it is a client the harness can run: a built-in one or an installed one.

    Raises:
        UsageError: any other name, listing the ones there are; an installed one that cannot be loaded.

    >>> check_client("java")
    'java'
    """
    if name not in CLIENTS and described_client(name) is None:
        raise UsageError(
            f"unknown client {name!r}: use one of {', '.join(available_clients())}, "
            "or describe an external one (docs/clients.md)"
        )
    return name


def described_client(name: str, external: ExternalClient | None = None) -> ExternalClient | None:
    """The description of client ``name``: ``external`` when given, else an installed client's;
    None for a built-in or unknown name.

    Raises:
        UsageError: an installed client that cannot be loaded.
    """
    if external is not None or name in CLIENTS:
        return external
    return installed_client(name)


def resolve_settings(
    client: str, role: str, props: Mapping[str, object], external: ExternalClient | None = None
) -> ClientSettings:
    """``props`` (Java names) resolved for ``client`` as a ``producer`` or ``consumer`` (``external``:
    its description, when it is not a built-in or installed client).

    Raises:
        UsageError: an unknown client, or a setting the client does not have or cannot honour.
    """
    described = described_client(client, external)
    if described is not None:
        return described.resolve(role, props)
    return _RESOLVERS[(check_client(client), role)](props)


def isolation_level(client: str, settings: Mapping[str, object], external: ExternalClient | None = None) -> str:
    """The isolation level ``client`` reads with under ``settings`` (Java names): the setting as the
    client takes it (kafka-python and librdkafka accept any case), else the client's own default
    (an external client's, from its description ``external``).

    >>> isolation_level("librdkafka", {})
    'read_committed'
    >>> isolation_level("kafka-python", {"isolation.level": "READ_COMMITTED"})
    'read_committed'
    """
    value = settings.get("isolation.level")
    if value is None and external is not None:
        return external.isolation_level
    if value is None:
        return DEFAULT_ISOLATION.get(client, "read_uncommitted")
    return str(value).strip().lower()
