"""Whether an experiment's row applies to the releases it is asked to run on.

A row is "not applicable" — never a failure — when the cluster's release (or the Java client's) is
older than the file's ``needs:``, or when it sets a key the release's own definitions do not know:
a broker or topic key the cluster's ``ConfigDef`` s lack, a producer or consumer key the Java
client's lack. Which keys exist is asked of each release (:func:`chaos.images.kafka_configs.kafka_configs`),
never a hand-kept table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from chaos.experiments.model import Experiment
from chaos.images.recipes import version_key

#: The keys a release defines and their defaults, per kind (producer, consumer, topic, broker):
#: ``defined(release)[kind][key]`` (None: no default); and under ``features``, each production
#: feature's latest level.
Defined = Callable[[str], Mapping[str, Mapping[str, str | None]]]


def workload_clients(exp: Experiment) -> list[str]:
    """The clients ``exp``'s workloads run on, producer first, each once."""
    names = [exp.producer.client_name, *([exp.consumer.client_name] if exp.consumer else [])]
    return list(dict.fromkeys(names))


def uses_java(exp: Experiment) -> bool:
    """Whether a workload of ``exp`` runs on the Java client (whose release ``client_version`` picks)."""
    return "java" in workload_clients(exp)


def _needs(exp: Experiment) -> str | None:
    needs = exp.needs
    if needs is None:
        return None
    v = exp.cluster.kafka_version
    if needs.kafka and version_key(v) < version_key(needs.kafka):
        return f"not applicable on Kafka {v}: needs {needs.kafka} or newer ({needs.why})"
    w = exp.java_release
    if needs.client and uses_java(exp) and version_key(w) < version_key(needs.client):
        return f"not applicable with kafka-clients {w}: needs {needs.client} or newer ({needs.why})"
    return None


def _unknown(keys: Iterable[str], defined: Iterable[str]) -> str | None:
    known = set(defined)
    return next((k for k in keys if k not in known), None)


def not_applicable(exp: Experiment, defined: Defined | None = None) -> str | None:
    """Why ``exp`` does not apply to its releases, in one sentence (None: it applies). ``defined``
    lists the keys of a release; None checks ``needs:`` only.

    Raises:
        InfrastructureError, UsageError: ``defined`` could not ask a release (see ``kafka_configs``).
    """
    if found := _needs(exp):
        return found
    if defined is None:
        return None
    v = exp.cluster.kafka_version
    cluster = defined(v)
    for kind, keys in (("broker", exp.cluster.broker_config), ("topic", exp.topic.config)):
        if key := _unknown(keys, cluster[kind]):
            return f"not applicable on Kafka {v}: its {kind} settings have no {key} (a newer release's)"
    features = cluster.get("features", {})
    for name, level in exp.cluster.features.items():
        latest = features.get(name)
        if latest is None or level > int(latest):
            has = f"goes up to level {latest}" if latest is not None else "is not a feature of it"
            return f"not applicable on Kafka {v}: needs feature {name} at level {level}, which {has}"
    if not uses_java(exp):
        return None
    w = exp.java_release
    client = defined(w)
    sections = [("producer", exp.producer.settings), ("consumer", exp.consumer.settings if exp.consumer else {})]
    for kind, keys in sections:
        if key := _unknown(keys, client[kind]):
            return f"not applicable with kafka-clients {w}: its {kind} has no setting {key} (a newer release's)"
    return None


def release_keys(version: str) -> Mapping[str, Mapping[str, str | None]]:
    """The keys release ``version`` defines and their defaults, per kind, asked of the release
    (cached per release).

    Raises:
        InfrastructureError: no JDK, or the release's jars could not be resolved.
        UsageError: no such release on Maven Central.
    """
    from chaos.images.kafka_configs import KINDS, kafka_configs

    configs = kafka_configs(version)
    found: dict[str, Mapping[str, str | None]] = {
        kind: {k: key.default for k, key in configs.keys(kind).items()} for kind in KINDS
    }
    found["features"] = {name: str(f.latest) for name, f in configs.features.items()}
    return found
