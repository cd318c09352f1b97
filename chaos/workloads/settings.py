"""Client settings under their Java names, mapped onto kafka-python.

Teams know their clients by the Java property names, so those are what experiment files and
properties files use. Each key is either mapped (with its value converted), emulated by the workload
(``buffer.memory``: kafka-python 3 has no bounded accumulator), owned by the harness (bootstrap
servers, serializers, group id — it substitutes its own and says so), or refused with the reason.
Nothing is dropped silently.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from chaos.errors import UsageError

#: A setting's value as a client takes it.
Setting = int | str | bool | list[str] | None
#: Turns a setting's text into the value a client takes; raises ValueError for a malformed one.
Converter = Callable[[str], Setting]
#: How a client takes a Java-named key: under which name (None: the workload emulates it), converted how.
Rule = tuple[str | None, Converter]


def as_int(value: str) -> int:
    return int(str(value).strip())


def as_bool(value: str) -> bool:
    v = str(value).strip().lower()
    if v in ("true", "1", "yes"):
        return True
    if v in ("false", "0", "no"):
        return False
    raise ValueError(f"{value!r} is not true or false")


def as_acks(value: str) -> int | str:
    v = str(value).strip().lower()
    if v in ("all", "-1"):
        return "all"
    if v in ("0", "1"):
        return int(v)
    raise ValueError(f"{value!r} is not 0, 1, all or -1")


def _compression(value: str) -> str | None:
    v = str(value).strip().lower()
    if v == "none":
        return None
    if v in ("gzip", "snappy", "lz4", "zstd"):
        return v
    raise ValueError(f"{value!r} is not none, gzip, snappy, lz4 or zstd")


def one_of(*allowed: str) -> Converter:
    def convert(value: str) -> str:
        v = str(value).strip().lower()
        if v not in allowed:
            raise ValueError(f"{value!r} is not one of {', '.join(allowed)}")
        return v

    return convert


PRODUCER_KEYS: dict[str, Rule] = {
    "acks": ("acks", as_acks),
    "enable.idempotence": ("enable_idempotence", as_bool),
    "retries": ("retries", as_int),
    "linger.ms": ("linger_ms", as_int),
    "batch.size": ("batch_size", as_int),
    "max.in.flight.requests.per.connection": ("max_in_flight_requests_per_connection", as_int),
    "delivery.timeout.ms": ("delivery_timeout_ms", as_int),
    "request.timeout.ms": ("request_timeout_ms", as_int),
    "compression.type": ("compression_type", _compression),
    "retry.backoff.ms": ("retry_backoff_ms", as_int),
    "max.block.ms": ("max_block_ms", as_int),
    "max.request.size": ("max_request_size", as_int),
    "metadata.max.age.ms": ("metadata_max_age_ms", as_int),
    "reconnect.backoff.ms": ("reconnect_backoff_ms", as_int),
    "reconnect.backoff.max.ms": ("reconnect_backoff_max_ms", as_int),
    "connections.max.idle.ms": ("connections_max_idle_ms", as_int),
    "send.buffer.bytes": ("send_buffer_bytes", as_int),
    "receive.buffer.bytes": ("receive_buffer_bytes", as_int),
    "transactional.id": ("transactional_id", str),
    "transaction.timeout.ms": ("transaction_timeout_ms", as_int),
}
#: Emulated by the workload, not by the client.
PRODUCER_EMULATED: dict[str, Converter] = {"buffer.memory": as_int}

CONSUMER_KEYS: dict[str, Rule] = {
    "enable.auto.commit": ("enable_auto_commit", as_bool),
    "auto.commit.interval.ms": ("auto_commit_interval_ms", as_int),
    "auto.offset.reset": ("auto_offset_reset", one_of("earliest", "latest")),
    "max.poll.records": ("max_poll_records", as_int),
    "max.poll.interval.ms": ("max_poll_interval_ms", as_int),
    "session.timeout.ms": ("session_timeout_ms", as_int),
    "heartbeat.interval.ms": ("heartbeat_interval_ms", as_int),
    "fetch.min.bytes": ("fetch_min_bytes", as_int),
    "fetch.max.bytes": ("fetch_max_bytes", as_int),
    "fetch.max.wait.ms": ("fetch_max_wait_ms", as_int),
    "max.partition.fetch.bytes": ("max_partition_fetch_bytes", as_int),
    "isolation.level": ("isolation_level", one_of("read_committed", "read_uncommitted")),
    "request.timeout.ms": ("request_timeout_ms", as_int),
    "retry.backoff.ms": ("retry_backoff_ms", as_int),
    "reconnect.backoff.ms": ("reconnect_backoff_ms", as_int),
    "reconnect.backoff.max.ms": ("reconnect_backoff_max_ms", as_int),
    "metadata.max.age.ms": ("metadata_max_age_ms", as_int),
    "connections.max.idle.ms": ("connections_max_idle_ms", as_int),
    "check.crcs": ("check_crcs", as_bool),
    "group.instance.id": ("group_instance_id", str),
    "client.rack": ("client_rack", str),
}

#: Set by the harness for every client: the cluster it built and its record envelope.
HARNESS_OWNED = frozenset(
    {
        "bootstrap.servers",
        "key.serializer",
        "value.serializer",
        "key.deserializer",
        "value.deserializer",
        "client.id",
        "group.id",
        "client.dns.lookup",
    }
)
#: Security settings point at a production cluster; the harness's cluster is PLAINTEXT.
SECURITY_PREFIXES = ("security.", "ssl.", "sasl.")

#: Real Java client keys kafka-python cannot honour, with the reason.
UNSUPPORTED: dict[str, str] = {
    "partitioner.class": "kafka-python takes a partitioner function, not a Java class",
    "interceptor.classes": "kafka-python has no interceptors",
    "partition.assignment.strategy": "only the harness's default assignor is used",
    "metric.reporters": "metrics stay inside the workload",
    "enable.metrics.push": "metrics stay inside the workload",
    "allow.auto.create.topics": "the harness creates the topic itself",
    "exclude.internal.topics": "the workload reads only its own topic",
    "default.api.timeout.ms": "kafka-python has no default API timeout",
}


def _nothing_to_vet(key: str, value: str) -> str | None:
    del key, value
    return None


@dataclass(frozen=True, slots=True)
class ClientTable:
    """What one client, as a producer or a consumer, does with each Java-named key.

    A key is, in this order: owned by the harness (``substituted``), ``refused`` with its reason,
    taken by a ``rules`` entry (under its name, its value converted; a ``None`` name: emulated by the
    workload), or unknown (``unknown`` says so, with the closest of ``suggest``). ``vet`` may refuse a
    known key for its value. ``spelled`` names the keys the harness sets itself as this client does
    (missing: the Java name); ``servers_as_list``: the client takes ``bootstrap.servers`` as a list.
    """

    role: str
    rules: Mapping[str, Rule]
    unknown: Callable[[str, str, str], str]
    suggest: frozenset[str]
    refused: Mapping[str, str] = field(default_factory=dict)
    refusal: str = "{role} setting {key} is not supported here ({reason}): remove it"
    vet: Callable[[str, str], str | None] = _nothing_to_vet
    spelled: Mapping[str, str] = field(default_factory=dict)
    servers_as_list: bool = False

    def spell(self, harness: Mapping[str, Setting]) -> dict[str, Setting]:
        """The harness's own settings (Java names) as this client takes them."""
        out = {self.spelled.get(key, key): value for key, value in harness.items()}
        servers = harness.get("bootstrap.servers")
        if self.servers_as_list and isinstance(servers, str):
            out[self.spelled.get("bootstrap.servers", "bootstrap.servers")] = servers.split(",")
        return out


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """Settings resolved for one client: ``kwargs`` it takes, ``emulated`` by the workload (by Java
    name), the harness's own keys the file gave (``substituted``), every key given with its value
    (``given``, by the name in the file)."""

    table: ClientTable = field(repr=False, compare=False)
    kwargs: dict[str, Setting]
    emulated: dict[str, Setting] = field(default_factory=dict)
    substituted: list[str] = field(default_factory=list)
    given: dict[str, Setting] = field(default_factory=dict)

    def config(
        self, harness: Mapping[str, Setting], defaults: Mapping[str, Setting] | None = None
    ) -> dict[str, Setting]:
        """The client's configuration: ``defaults`` (Java names) the file may override, the file's
        settings, then ``harness``'s own settings, which win."""
        return {**self.table.spell(defaults or {}), **self.kwargs, **self.table.spell(harness)}

    def number(self, key: str, default: int) -> int:
        """The file's value of ``key`` (under the name the file gave it) as a whole number, else ``default``."""
        value = self.given.get(key)
        return default if value is None or isinstance(value, list) else int(value)


def resolve(table: ClientTable, props: Mapping[str, object]) -> ClientSettings:
    """``props`` (Java names, values as text or as YAML gives them) resolved by ``table``.

    Raises:
        UsageError: a key the table refuses, does not know, or whose value is malformed, naming the
            key and the fix.
    """
    role = table.role
    kwargs: dict[str, Setting] = {}
    emulated: dict[str, Setting] = {}
    given: dict[str, Setting] = {}
    substituted: list[str] = []
    for key, raw in props.items():
        value = str(raw).strip() if not isinstance(raw, bool) else str(raw).lower()
        if key in HARNESS_OWNED or key.startswith(SECURITY_PREFIXES):
            substituted.append(key)
            continue
        if key in table.refused:
            raise UsageError(table.refusal.format(role=role, key=key, reason=table.refused[key]))
        if key not in table.rules:
            close = difflib.get_close_matches(key, table.suggest, n=1)
            raise UsageError(table.unknown(role, key, f" (did you mean {close[0]}?)" if close else ""))
        if (refusal := table.vet(key, value)) is not None:
            raise UsageError(f"{role} setting {key} {refusal}")
        target, converter = table.rules[key]
        try:
            converted = converter(value)
        except ValueError as e:
            raise UsageError(f"{role} setting {key}={value!r} is invalid: {e}") from None
        given[key] = converted
        if target is None:
            emulated[key] = converted
        else:
            kwargs[target] = converted
    if role == "producer":
        _check_together(given)
    return ClientSettings(table, kwargs, emulated, sorted(substituted), given)


def _check_together(given: Mapping[str, Setting]) -> None:
    """Refuse producer settings that every client refuses together.

    Raises:
        UsageError: idempotence asked for with acks other than all (the Java client, librdkafka and
            kafka-python all refuse it when the producer is built).

    >>> _check_together({"enable.idempotence": True, "acks": "all"})
    """
    acks = given.get("acks")
    idempotent = str(given.get("enable.idempotence")).strip().lower() == "true"  # text for the java client
    if idempotent and acks is not None and str(acks).strip().lower() not in ("all", "-1"):
        raise UsageError(
            f"producer settings acks={acks} and enable.idempotence=true are refused together by every client "
            "(an idempotent producer needs acks=all): set acks=all, or enable.idempotence=false"
        )


def _unknown(role: str, key: str, hint: str) -> str:
    return f"unknown {role} setting {key}{hint}: use the Java client's property names"


#: The kafka-python client's names for the keys the harness sets itself.
_SPELLED = {
    "bootstrap.servers": "bootstrap_servers",
    "client.id": "client_id",
    "group.id": "group_id",
    "transactional.id": "transactional_id",
    "auto.offset.reset": "auto_offset_reset",
    "enable.auto.commit": "enable_auto_commit",
}
_PRODUCER_RULES: dict[str, Rule] = {**PRODUCER_KEYS, **{k: (None, c) for k, c in PRODUCER_EMULATED.items()}}
PRODUCER = ClientTable(
    "producer",
    _PRODUCER_RULES,
    _unknown,
    frozenset(_PRODUCER_RULES) | HARNESS_OWNED,
    UNSUPPORTED,
    spelled=_SPELLED,
    servers_as_list=True,
)
CONSUMER = ClientTable(
    "consumer",
    CONSUMER_KEYS,
    _unknown,
    frozenset(CONSUMER_KEYS) | HARNESS_OWNED,
    UNSUPPORTED,
    spelled=_SPELLED,
    servers_as_list=True,
)


def producer_settings(props: Mapping[str, object]) -> ClientSettings:
    """kafka-python ``KafkaProducer`` arguments for Java-named producer ``props``.

    Raises:
        UsageError: an unknown, unsupported or malformed setting, naming the key and the fix.

    >>> producer_settings({"acks": "all", "linger.ms": "5"}).kwargs
    {'acks': 'all', 'linger_ms': 5}
    """
    return resolve(PRODUCER, props)


def consumer_settings(props: Mapping[str, object]) -> ClientSettings:
    """kafka-python ``KafkaConsumer`` arguments for Java-named consumer ``props``.

    Raises:
        UsageError: an unknown, unsupported or malformed setting, naming the key and the fix.
    """
    return resolve(CONSUMER, props)
