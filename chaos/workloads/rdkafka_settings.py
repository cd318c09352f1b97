"""Client settings under their Java names, mapped onto librdkafka (confluent-kafka).

librdkafka takes most Java property names as they are (``acks``, ``linger.ms``,
``enable.idempotence``, ``delivery.timeout.ms``, …); a few it names differently, and some it has no
equivalent for. Each Java key is mapped (renamed where librdkafka spells it otherwise, its value
converted), emulated by the workload, owned by the harness, or refused at load time with the reason —
nothing is passed through unchecked and nothing is dropped silently.

A team whose files are written for librdkafka may also use librdkafka's own names for the keys
listed in :data:`NATIVE` (``queue.buffering.max.ms``, ``message.timeout.ms``, …).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from chaos.errors import UsageError
from chaos.workloads.java_settings import JAVA_CONSUMER_KEYS, JAVA_PRODUCER_KEYS
from chaos.workloads.settings import (
    HARNESS_OWNED,
    SECURITY_PREFIXES,
    ClientSettings,
    Converter,
    _acks,
    _bool,
    _choice,
    _int,
)


def _kbytes(value: str) -> int:
    """``buffer.memory`` (bytes) as ``queue.buffering.max.kbytes``."""
    return max(1, _int(value) // 1024)


def _compression(value: str) -> str:
    v = str(value).strip().lower()
    if v in ("none", "gzip", "snappy", "lz4", "zstd"):
        return v
    raise ValueError(f"{value!r} is not none, gzip, snappy, lz4 or zstd")


def _acks_text(value: str) -> str:
    return str(_acks(value))


def _assignor(value: str) -> str:
    names = {
        "org.apache.kafka.clients.consumer.RangeAssignor": "range",
        "org.apache.kafka.clients.consumer.RoundRobinAssignor": "roundrobin",
        "org.apache.kafka.clients.consumer.CooperativeStickyAssignor": "cooperative-sticky",
    }
    out = []
    for part in str(value).split(","):
        name = part.strip()
        if name in names.values():
            out.append(name)
        elif name in names:
            out.append(names[name])
        else:
            raise ValueError(
                f"{name!r} has no librdkafka equivalent (librdkafka offers range, roundrobin and cooperative-sticky)"
            )
    return ",".join(out)


#: Java producer key → (librdkafka key, converter).
PRODUCER_MAP: dict[str, tuple[str, Converter]] = {
    "acks": ("acks", _acks_text),
    "enable.idempotence": ("enable.idempotence", _bool),
    "retries": ("retries", _int),
    "linger.ms": ("linger.ms", _int),
    "batch.size": ("batch.size", _int),
    "max.in.flight.requests.per.connection": ("max.in.flight.requests.per.connection", _int),
    "delivery.timeout.ms": ("delivery.timeout.ms", _int),
    "request.timeout.ms": ("request.timeout.ms", _int),
    "compression.type": ("compression.type", _compression),
    "retry.backoff.ms": ("retry.backoff.ms", _int),
    "retry.backoff.max.ms": ("retry.backoff.max.ms", _int),
    "max.request.size": ("message.max.bytes", _int),
    "metadata.max.age.ms": ("metadata.max.age.ms", _int),
    "reconnect.backoff.ms": ("reconnect.backoff.ms", _int),
    "reconnect.backoff.max.ms": ("reconnect.backoff.max.ms", _int),
    "connections.max.idle.ms": ("connections.max.idle.ms", _int),
    "send.buffer.bytes": ("socket.send.buffer.bytes", _int),
    "receive.buffer.bytes": ("socket.receive.buffer.bytes", _int),
    "transactional.id": ("transactional.id", str),
    "transaction.timeout.ms": ("transaction.timeout.ms", _int),
    "buffer.memory": ("queue.buffering.max.kbytes", _kbytes),
    "client.rack": ("client.rack", str),
}
#: Emulated by the workload: librdkafka's produce() never blocks (it raises when its queue is full),
#: so the workload retries for up to ``max.block.ms`` as the Java client would block.
PRODUCER_EMULATED: dict[str, Converter] = {"max.block.ms": _int}

CONSUMER_MAP: dict[str, tuple[str, Converter]] = {
    "enable.auto.commit": ("enable.auto.commit", _bool),
    "auto.commit.interval.ms": ("auto.commit.interval.ms", _int),
    "auto.offset.reset": ("auto.offset.reset", _choice("earliest", "latest", "none")),
    "max.poll.interval.ms": ("max.poll.interval.ms", _int),
    "session.timeout.ms": ("session.timeout.ms", _int),
    "heartbeat.interval.ms": ("heartbeat.interval.ms", _int),
    "fetch.min.bytes": ("fetch.min.bytes", _int),
    "fetch.max.bytes": ("fetch.max.bytes", _int),
    "fetch.max.wait.ms": ("fetch.wait.max.ms", _int),
    "max.partition.fetch.bytes": ("max.partition.fetch.bytes", _int),
    "isolation.level": ("isolation.level", _choice("read_committed", "read_uncommitted")),
    "request.timeout.ms": ("socket.timeout.ms", _int),
    "retry.backoff.ms": ("retry.backoff.ms", _int),
    "reconnect.backoff.ms": ("reconnect.backoff.ms", _int),
    "reconnect.backoff.max.ms": ("reconnect.backoff.max.ms", _int),
    "metadata.max.age.ms": ("metadata.max.age.ms", _int),
    "connections.max.idle.ms": ("connections.max.idle.ms", _int),
    "check.crcs": ("check.crcs", _bool),
    "group.instance.id": ("group.instance.id", str),
    "client.rack": ("client.rack", str),
    "partition.assignment.strategy": ("partition.assignment.strategy", _assignor),
    "group.protocol": ("group.protocol", _choice("classic", "consumer")),
    "send.buffer.bytes": ("socket.send.buffer.bytes", _int),
    "receive.buffer.bytes": ("socket.receive.buffer.bytes", _int),
    "allow.auto.create.topics": ("allow.auto.create.topics", _bool),
}
#: Emulated by the workload: ``consume(num_messages=…)`` returns at most this many records per poll.
CONSUMER_EMULATED: dict[str, Converter] = {"max.poll.records": _int}

#: librdkafka's own names a librdkafka properties file may use, with the converter.
NATIVE: dict[str, Converter] = {
    "queue.buffering.max.ms": _int,
    "queue.buffering.max.messages": _int,
    "queue.buffering.max.kbytes": _int,
    "message.timeout.ms": _int,
    "message.send.max.retries": _int,
    "message.max.bytes": _int,
    "socket.timeout.ms": _int,
    "fetch.wait.max.ms": _int,
    "enable.auto.offset.store": _bool,
    "enable.gapless.guarantee": _bool,
    "queued.min.messages": _int,
    "partitioner": _choice(
        "random", "consistent", "consistent_random", "murmur2", "murmur2_random", "fnv1a", "fnv1a_random"
    ),
}

#: Java keys librdkafka cannot honour, with the reason.
REFUSED: dict[str, str] = {
    "partitioner.class": "librdkafka takes a partitioner name (the `partitioner` setting), not a Java class",
    "interceptor.classes": "librdkafka has no Java interceptors",
    "metric.reporters": "librdkafka has no Java metric reporters",
    "enable.metrics.push": "librdkafka's metrics push is not configured through this key",
    "exclude.internal.topics": "the workload reads only its own topic",
    "default.api.timeout.ms": "librdkafka has no default API timeout; each call takes its own",
    "partitioner.ignore.keys": "librdkafka has no such option",
    "partitioner.adaptive.partitioning.enable": "librdkafka has no adaptive partitioning",
}


def _resolve(
    role: str,
    props: Mapping[str, object],
    mapping: Mapping[str, tuple[str, Converter]],
    emulated_keys: Mapping[str, Converter],
    java_keys: frozenset[str],
) -> ClientSettings:
    config: dict[str, Any] = {}
    emulated: dict[str, Any] = {}
    substituted: list[str] = []
    for key, raw in props.items():
        value = str(raw).strip() if not isinstance(raw, bool) else str(raw).lower()
        if key in HARNESS_OWNED or key.startswith(SECURITY_PREFIXES):
            substituted.append(key)
            continue
        if key in REFUSED:
            raise UsageError(f"{role} setting {key} cannot be honoured by librdkafka ({REFUSED[key]}): remove it")
        if key in emulated_keys:
            target, converter = None, emulated_keys[key]
        elif key in mapping:
            target, converter = mapping[key]
        elif key in NATIVE:
            target, converter = key, NATIVE[key]
        else:
            known = [*mapping, *emulated_keys, *NATIVE]
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            why = (
                "librdkafka has no equivalent of this Java setting"
                if key in java_keys
                else "use the Java client's property names"
            )
            raise UsageError(f"{role} setting {key} is not supported with the librdkafka client{hint}: {why}")
        try:
            converted = converter(value)
        except ValueError as e:
            raise UsageError(f"{role} setting {key}={value!r} is invalid: {e}") from None
        if target is None:
            emulated[key] = converted
        else:
            config[target] = converted
    return ClientSettings(kwargs=config, emulated=emulated, substituted=sorted(substituted))


def rdkafka_producer_settings(props: Mapping[str, object]) -> ClientSettings:
    """librdkafka producer configuration for Java-named producer ``props``.

    Raises:
        UsageError: an unknown, unsupported or malformed setting, naming the key and the fix.

    >>> rdkafka_producer_settings({"acks": "all", "max.request.size": "2000000"}).kwargs
    {'acks': 'all', 'message.max.bytes': 2000000}
    """
    return _resolve("producer", props, PRODUCER_MAP, PRODUCER_EMULATED, JAVA_PRODUCER_KEYS)


def rdkafka_consumer_settings(props: Mapping[str, object]) -> ClientSettings:
    """librdkafka consumer configuration for Java-named consumer ``props``.

    Raises:
        UsageError: an unknown, unsupported or malformed setting, naming the key and the fix.

    >>> rdkafka_consumer_settings({"fetch.max.wait.ms": "50"}).kwargs
    {'fetch.wait.max.ms': 50}
    """
    return _resolve("consumer", props, CONSUMER_MAP, CONSUMER_EMULATED, JAVA_CONSUMER_KEYS)
