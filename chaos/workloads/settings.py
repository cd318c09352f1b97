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
from typing import Any

from chaos.errors import UsageError

Converter = Callable[[str], Any]


def _int(value: str) -> int:
    return int(str(value).strip())


def _bool(value: str) -> bool:
    v = str(value).strip().lower()
    if v in ("true", "1", "yes"):
        return True
    if v in ("false", "0", "no"):
        return False
    raise ValueError(f"{value!r} is not true or false")


def _acks(value: str) -> int | str:
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


def _choice(*allowed: str) -> Converter:
    def convert(value: str) -> str:
        v = str(value).strip().lower()
        if v not in allowed:
            raise ValueError(f"{value!r} is not one of {', '.join(allowed)}")
        return v

    return convert


PRODUCER_KEYS: dict[str, tuple[str, Converter]] = {
    "acks": ("acks", _acks),
    "enable.idempotence": ("enable_idempotence", _bool),
    "retries": ("retries", _int),
    "linger.ms": ("linger_ms", _int),
    "batch.size": ("batch_size", _int),
    "max.in.flight.requests.per.connection": ("max_in_flight_requests_per_connection", _int),
    "delivery.timeout.ms": ("delivery_timeout_ms", _int),
    "request.timeout.ms": ("request_timeout_ms", _int),
    "compression.type": ("compression_type", _compression),
    "retry.backoff.ms": ("retry_backoff_ms", _int),
    "max.block.ms": ("max_block_ms", _int),
    "max.request.size": ("max_request_size", _int),
    "metadata.max.age.ms": ("metadata_max_age_ms", _int),
    "reconnect.backoff.ms": ("reconnect_backoff_ms", _int),
    "reconnect.backoff.max.ms": ("reconnect_backoff_max_ms", _int),
    "connections.max.idle.ms": ("connections_max_idle_ms", _int),
    "send.buffer.bytes": ("send_buffer_bytes", _int),
    "receive.buffer.bytes": ("receive_buffer_bytes", _int),
    "transactional.id": ("transactional_id", str),
    "transaction.timeout.ms": ("transaction_timeout_ms", _int),
}
#: Emulated by the workload, not by the client.
PRODUCER_EMULATED: dict[str, Converter] = {"buffer.memory": _int}

CONSUMER_KEYS: dict[str, tuple[str, Converter]] = {
    "enable.auto.commit": ("enable_auto_commit", _bool),
    "auto.commit.interval.ms": ("auto_commit_interval_ms", _int),
    "auto.offset.reset": ("auto_offset_reset", _choice("earliest", "latest")),
    "max.poll.records": ("max_poll_records", _int),
    "max.poll.interval.ms": ("max_poll_interval_ms", _int),
    "session.timeout.ms": ("session_timeout_ms", _int),
    "heartbeat.interval.ms": ("heartbeat_interval_ms", _int),
    "fetch.min.bytes": ("fetch_min_bytes", _int),
    "fetch.max.bytes": ("fetch_max_bytes", _int),
    "fetch.max.wait.ms": ("fetch_max_wait_ms", _int),
    "max.partition.fetch.bytes": ("max_partition_fetch_bytes", _int),
    "isolation.level": ("isolation_level", _choice("read_committed", "read_uncommitted")),
    "request.timeout.ms": ("request_timeout_ms", _int),
    "retry.backoff.ms": ("retry_backoff_ms", _int),
    "reconnect.backoff.ms": ("reconnect_backoff_ms", _int),
    "reconnect.backoff.max.ms": ("reconnect_backoff_max_ms", _int),
    "metadata.max.age.ms": ("metadata_max_age_ms", _int),
    "connections.max.idle.ms": ("connections_max_idle_ms", _int),
    "check.crcs": ("check_crcs", _bool),
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


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """Settings resolved for one client."""

    kwargs: dict[str, Any]
    emulated: dict[str, Any] = field(default_factory=dict)
    substituted: list[str] = field(default_factory=list)


def _resolve(
    role: str,
    props: Mapping[str, object],
    keys: Mapping[str, tuple[str, Converter]],
    emulated_keys: Mapping[str, Converter],
) -> ClientSettings:
    kwargs: dict[str, Any] = {}
    emulated: dict[str, Any] = {}
    substituted: list[str] = []
    for key, raw in props.items():
        value = str(raw).strip() if not isinstance(raw, bool) else str(raw).lower()
        if key in HARNESS_OWNED or key.startswith(SECURITY_PREFIXES):
            substituted.append(key)
            continue
        if key in UNSUPPORTED and key not in keys:
            raise UsageError(f"{role} setting {key} is not supported here ({UNSUPPORTED[key]}): remove it")
        if key in emulated_keys:
            converter: Converter = emulated_keys[key]
            target = None
        elif key in keys:
            target, converter = keys[key]
        else:
            known = [*keys, *emulated_keys, *HARNESS_OWNED]
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise UsageError(f"unknown {role} setting {key}{hint}: use the Java client's property names")
        try:
            converted = converter(value)
        except ValueError as e:
            raise UsageError(f"{role} setting {key}={value!r} is invalid: {e}") from None
        if target is None:
            emulated[key] = converted
        else:
            kwargs[target] = converted
    return ClientSettings(kwargs=kwargs, emulated=emulated, substituted=sorted(substituted))


def producer_settings(props: Mapping[str, object]) -> ClientSettings:
    """kafka-python ``KafkaProducer`` arguments for Java-named producer ``props``.

    Raises:
        UsageError: an unknown, unsupported or malformed setting, naming the key and the fix.

    >>> producer_settings({"acks": "all", "linger.ms": "5"}).kwargs
    {'acks': 'all', 'linger_ms': 5}
    """
    return _resolve("producer", props, PRODUCER_KEYS, PRODUCER_EMULATED)


def consumer_settings(props: Mapping[str, object]) -> ClientSettings:
    """kafka-python ``KafkaConsumer`` arguments for Java-named consumer ``props``.

    Raises:
        UsageError: an unknown, unsupported or malformed setting, naming the key and the fix.
    """
    return _resolve("consumer", props, CONSUMER_KEYS, {})
