"""What a run's releases put in force without the file saying so: the cluster's feature levels,
the group protocols it serves, and the defaults of loss-relevant settings the run left unset.

Every value comes from the releases themselves: feature levels from the running cluster (the
``ApiVersions`` answer every broker gives), defaults from the release's own ``ConfigDef`` s (the
cluster's for broker keys — a topic without an override of its own takes the broker's — and the
Java client's for producer and consumer keys; kafka-python and librdkafka keep defaults of their
own, so none are named for them). Only *which* keys matter for loss is chosen here
(:data:`LOSS_KEYS`); a key a release lacks is left out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from chaos.cluster.admin import finalized_levels

#: The settings whose defaults decide what a fault can lose, per kind.
LOSS_KEYS: Mapping[str, tuple[str, ...]] = {
    "producer": (
        "acks",
        "enable.idempotence",
        "linger.ms",
        "retries",
        "delivery.timeout.ms",
        "max.in.flight.requests.per.connection",
        "request.timeout.ms",
    ),
    "consumer": (
        "group.protocol",
        "auto.commit.interval.ms",
        "isolation.level",
        "max.poll.interval.ms",
        "session.timeout.ms",
    ),
    "broker": (
        "min.insync.replicas",
        "unclean.leader.election.enable",
        "log.flush.interval.messages",
        "log.message.timestamp.type",
        "offsets.retention.minutes",
        "group.coordinator.rebalance.protocols",
        "transaction.max.timeout.ms",
        "transaction.state.log.min.isr",
    ),
}

#: The defaults a release defines, per kind: ``{kind: {key: default}}`` (None: no default).
Defaults = Mapping[str, Mapping[str, str | None]]


def in_force(kind: str, unset: Iterable[str], defaults: Defaults, release: str) -> list[dict[str, str]]:
    """The release's defaults of ``kind``'s loss-relevant keys among ``unset``.

    >>> [d["key"] + "=" + d["value"] for d in in_force("producer", ["linger.ms", "acks"],
    ...                                                   {"producer": {"linger.ms": "5", "acks": "all"}}, "4.4.0")]
    ['acks=all', 'linger.ms=5']
    """
    left = set(unset)
    known = defaults.get(kind, {})
    return [
        {"kind": kind, "key": key, "value": str(known[key]), "release": release}
        for key in LOSS_KEYS[kind]
        if key in left and key in known and known[key] is not None
    ]


#: The feature a group protocol needs finalized at level 1 or more (``classic`` needs none).
PROTOCOL_FEATURES = {"consumer": "group.version", "share": "share.version", "streams": "streams.version"}


def group_protocols(levels: Mapping[str, int], broker_default: str | None) -> list[str]:
    """The group protocols the cluster serves: those its brokers list whose feature is finalized.

    >>> group_protocols({"group.version": 1}, "classic,consumer,streams"), group_protocols({}, "classic")
    (['classic', 'consumer'], ['classic'])
    """
    listed = [p.strip() for p in (broker_default or "classic").split(",") if p.strip()]
    return [p for p in listed if p not in PROTOCOL_FEATURES or levels.get(PROTOCOL_FEATURES[p], 0) >= 1]


def release_facts(
    *,
    features: Callable[[], Mapping[str, Mapping[str, object]]],
    defaults: Callable[[str], Defaults],
    cluster_release: str,
    java_kinds: Mapping[str, str],
    set_keys: Mapping[str, Iterable[str]],
    configured: Mapping[str, str] | None = None,
) -> dict[str, object]:
    """``run.json``'s ``release``: feature levels, group protocols and the defaults in force.
    ``set_keys``: per kind, the keys the run sets itself (the file's and the harness's own; a
    topic's keys count as the broker's); ``java_kinds``: the Java client's release per workload kind
    (``producer``, ``consumer``) that runs on it; ``configured``: the brokers' own settings.

    Raises:
        KafkaError: the cluster did not answer ``features``.
        InfrastructureError, UsageError: ``defaults`` could not ask a release.
    """
    levels = finalized_levels(features())
    cluster = defaults(cluster_release)
    kinds = [(kind, defaults(release), release) for kind, release in java_kinds.items()]
    kinds.append(("broker", cluster, cluster_release))
    found: list[dict[str, str]] = []
    for kind, defs, release in kinds:
        unset = set(LOSS_KEYS[kind]) - set(set_keys.get(kind, ()))
        found += in_force(kind, unset, defs, release)
    key = "group.coordinator.rebalance.protocols"
    protocols = group_protocols(levels, (configured or {}).get(key) or (cluster.get("broker") or {}).get(key))
    return {"features": levels, "group_protocols": protocols, "defaults": found}
