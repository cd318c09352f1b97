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

from collections.abc import Callable, Mapping

from chaos.workloads.java_settings import JAVA_CONSUMER_KEYS, JAVA_PRODUCER_KEYS
from chaos.workloads.settings import (
    ClientSettings,
    ClientTable,
    Converter,
    Rule,
    as_acks,
    as_bool,
    as_int,
    one_of,
    resolve,
)


def _kbytes(value: str) -> int:
    """``buffer.memory`` (bytes) as ``queue.buffering.max.kbytes``."""
    return max(1, as_int(value) // 1024)


def _compression(value: str) -> str:
    v = str(value).strip().lower()
    if v in ("none", "gzip", "snappy", "lz4", "zstd"):
        return v
    raise ValueError(f"{value!r} is not none, gzip, snappy, lz4 or zstd")


def _acks_text(value: str) -> str:
    return str(as_acks(value))


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
PRODUCER_MAP: dict[str, Rule] = {
    "acks": ("acks", _acks_text),
    "enable.idempotence": ("enable.idempotence", as_bool),
    "retries": ("retries", as_int),
    "linger.ms": ("linger.ms", as_int),
    "batch.size": ("batch.size", as_int),
    "max.in.flight.requests.per.connection": ("max.in.flight.requests.per.connection", as_int),
    "delivery.timeout.ms": ("delivery.timeout.ms", as_int),
    "request.timeout.ms": ("request.timeout.ms", as_int),
    "compression.type": ("compression.type", _compression),
    "retry.backoff.ms": ("retry.backoff.ms", as_int),
    "retry.backoff.max.ms": ("retry.backoff.max.ms", as_int),
    "max.request.size": ("message.max.bytes", as_int),
    "metadata.max.age.ms": ("metadata.max.age.ms", as_int),
    "reconnect.backoff.ms": ("reconnect.backoff.ms", as_int),
    "reconnect.backoff.max.ms": ("reconnect.backoff.max.ms", as_int),
    "connections.max.idle.ms": ("connections.max.idle.ms", as_int),
    "send.buffer.bytes": ("socket.send.buffer.bytes", as_int),
    "receive.buffer.bytes": ("socket.receive.buffer.bytes", as_int),
    "transactional.id": ("transactional.id", str),
    "transaction.timeout.ms": ("transaction.timeout.ms", as_int),
    "buffer.memory": ("queue.buffering.max.kbytes", _kbytes),
    "client.rack": ("client.rack", str),
}
#: Emulated by the workload: librdkafka's produce() never blocks (it raises when its queue is full),
#: so the workload retries for up to ``max.block.ms`` as the Java client would block.
PRODUCER_EMULATED: dict[str, Converter] = {"max.block.ms": as_int}

CONSUMER_MAP: dict[str, Rule] = {
    "enable.auto.commit": ("enable.auto.commit", as_bool),
    "auto.commit.interval.ms": ("auto.commit.interval.ms", as_int),
    "auto.offset.reset": ("auto.offset.reset", one_of("earliest", "latest", "none")),
    "max.poll.interval.ms": ("max.poll.interval.ms", as_int),
    "session.timeout.ms": ("session.timeout.ms", as_int),
    "heartbeat.interval.ms": ("heartbeat.interval.ms", as_int),
    "fetch.min.bytes": ("fetch.min.bytes", as_int),
    "fetch.max.bytes": ("fetch.max.bytes", as_int),
    "fetch.max.wait.ms": ("fetch.wait.max.ms", as_int),
    "max.partition.fetch.bytes": ("max.partition.fetch.bytes", as_int),
    "isolation.level": ("isolation.level", one_of("read_committed", "read_uncommitted")),
    "request.timeout.ms": ("socket.timeout.ms", as_int),
    "retry.backoff.ms": ("retry.backoff.ms", as_int),
    "reconnect.backoff.ms": ("reconnect.backoff.ms", as_int),
    "reconnect.backoff.max.ms": ("reconnect.backoff.max.ms", as_int),
    "metadata.max.age.ms": ("metadata.max.age.ms", as_int),
    "connections.max.idle.ms": ("connections.max.idle.ms", as_int),
    "check.crcs": ("check.crcs", as_bool),
    "group.instance.id": ("group.instance.id", str),
    "client.rack": ("client.rack", str),
    "partition.assignment.strategy": ("partition.assignment.strategy", _assignor),
    "group.protocol": ("group.protocol", one_of("classic", "consumer")),
    "send.buffer.bytes": ("socket.send.buffer.bytes", as_int),
    "receive.buffer.bytes": ("socket.receive.buffer.bytes", as_int),
    "allow.auto.create.topics": ("allow.auto.create.topics", as_bool),
}
#: Emulated by the workload: ``consume(num_messages=…)`` returns at most this many records per poll.
CONSUMER_EMULATED: dict[str, Converter] = {"max.poll.records": as_int}

#: librdkafka's own names a librdkafka properties file may use, with the converter.
NATIVE: dict[str, Converter] = {
    "queue.buffering.max.ms": as_int,
    "queue.buffering.max.messages": as_int,
    "queue.buffering.max.kbytes": as_int,
    "message.timeout.ms": as_int,
    "message.send.max.retries": as_int,
    "message.max.bytes": as_int,
    "socket.timeout.ms": as_int,
    "fetch.wait.max.ms": as_int,
    "enable.auto.offset.store": as_bool,
    "enable.gapless.guarantee": as_bool,
    "queued.min.messages": as_int,
    "partitioner": one_of(
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


def _unknown(java_keys: frozenset[str]) -> Callable[[str, str, str], str]:
    def unknown(role: str, key: str, hint: str) -> str:
        why = (
            "librdkafka has no equivalent of this Java setting"
            if key in java_keys
            else "use the Java client's property names"
        )
        return f"{role} setting {key} is not supported with the librdkafka client{hint}: {why}"

    return unknown


def _table(
    role: str, mapping: Mapping[str, Rule], emulated: Mapping[str, Converter], java_keys: frozenset[str]
) -> ClientTable:
    rules: dict[str, Rule] = {
        **{k: (k, c) for k, c in NATIVE.items()},
        **mapping,
        **{k: (None, c) for k, c in emulated.items()},
    }
    refusal = "{role} setting {key} cannot be honoured by librdkafka ({reason}): remove it"
    return ClientTable(role, rules, _unknown(java_keys), frozenset(rules), REFUSED, refusal)


PRODUCER = _table("producer", PRODUCER_MAP, PRODUCER_EMULATED, JAVA_PRODUCER_KEYS)
CONSUMER = _table("consumer", CONSUMER_MAP, CONSUMER_EMULATED, JAVA_CONSUMER_KEYS)


def rdkafka_producer_settings(props: Mapping[str, object]) -> ClientSettings:
    """librdkafka producer configuration for Java-named producer ``props``.

    Raises:
        UsageError: an unknown, unsupported or malformed setting, naming the key and the fix.

    >>> rdkafka_producer_settings({"acks": "all", "max.request.size": "2000000"}).kwargs
    {'acks': 'all', 'message.max.bytes': 2000000}
    """
    return resolve(PRODUCER, props)


def rdkafka_consumer_settings(props: Mapping[str, object]) -> ClientSettings:
    """librdkafka consumer configuration for Java-named consumer ``props``.

    Raises:
        UsageError: an unknown, unsupported or malformed setting, naming the key and the fix.

    >>> rdkafka_consumer_settings({"fetch.max.wait.ms": "50"}).kwargs
    {'fetch.wait.max.ms': 50}
    """
    return resolve(CONSUMER, props)
