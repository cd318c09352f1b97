"""Whether an experiment's row applies to the releases it is asked to run on.

A row is "not applicable" — never a failure — when the cluster's release (or the Java client's) is
older than the file's ``needs:``, or a workload runs on a client ``needs: clients:`` does not name;
when its known bug is the Java client's and no workload runs on it; or when it needs what its
release does not have and a newer one does: a broker or topic key the
cluster's ``ConfigDef`` s lack, a producer or consumer key the Java client's lack, a feature (on, at
a level above 0) or a level the release lacks. Which keys and features exist is asked of each
release (:func:`chaos.images.kafka_configs.kafka_configs`), never a hand-kept table.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping

from chaos.errors import ChaosError
from chaos.experiments.model import Experiment
from chaos.images.recipes import DEFAULT_KAFKA_VERSION, version_key

log = logging.getLogger(__name__)

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
    if needs.clients and (other := [c for c in workload_clients(exp) if c not in needs.clients]):
        return f"not applicable on {' and '.join(other)}: needs {' or '.join(needs.clients)} ({needs.why})"
    return None


def _newer_key(keys: Iterable[str], here: Iterable[str], newest: Iterable[str]) -> str | None:
    """The first of ``keys`` this release lacks and the newest release defines (a key neither
    defines — a listener's, an authorizer's — is for Kafka to judge at run time, not a release gap)."""
    known, later = set(here), set(newest)
    return next((k for k in keys if k not in known and k in later), None)


def _client_bug(exp: Experiment) -> str | None:
    bug = exp.known_bug
    if bug is None or bug.side != "client" or uses_java(exp):
        return None
    return f"not applicable on {' and '.join(workload_clients(exp))}: {bug.id} is a bug of the Java client"


def not_applicable(exp: Experiment, defined: Defined | None = None, newest: str = DEFAULT_KAFKA_VERSION) -> str | None:
    """Why ``exp`` does not apply to its releases, in one sentence (None: it applies). ``defined``
    lists the keys of a release; None checks ``needs:`` and a known bug's side only. A key counts
    as missing only when ``newest`` defines it; a feature asked at level 0 (off) that a release
    lacks is what that release does anyway (:func:`fitted` leaves it out).

    Raises:
        InfrastructureError, UsageError: ``defined`` could not ask a release (see ``kafka_configs``).
    """
    if found := _needs(exp) or _client_bug(exp):
        return found
    if defined is None:
        return None
    v = exp.cluster.kafka_version
    cluster, latest = defined(v), defined(newest)
    for kind, keys in (("broker", exp.cluster.broker_config), ("topic", exp.topic.config)):
        if key := _newer_key(keys, cluster[kind], latest[kind]):
            return f"not applicable on Kafka {v}: its {kind} settings have no {key}, which {newest} has"
    features = cluster.get("features", {})
    for name, level in exp.cluster.features.items():
        top = features.get(name)
        if (top is None and level > 0) or (top is not None and level > int(top)):
            has = f"goes up to level {top}" if top is not None else "is not a feature of it"
            return f"not applicable on Kafka {v}: needs feature {name} at level {level}, which {has}"
    if not uses_java(exp):
        return None
    w = exp.java_release
    client = defined(w)
    sections = [("producer", exp.producer.settings), ("consumer", exp.consumer.settings if exp.consumer else {})]
    for kind, keys in sections:
        if key := _newer_key(keys, client[kind], latest[kind]):
            return f"not applicable with kafka-clients {w}: its {kind} has no setting {key}, which {newest} has"
    return None


def fitted(exp: Experiment, defined: Defined | None) -> tuple[Experiment, str | None]:
    """``exp`` as it runs on its release — a feature asked at level 0 that the release does not have
    left out of the storage format, since the release has it off anyway — and why it does not apply
    there (None: it applies). Definitions that cannot be asked (no JDK, or no such release) leave
    only ``needs:`` and a known bug's side to decide, and the experiment as it is: the run then ends
    in the error its cluster gives, recorded like any other.
    """
    try:
        reason = not_applicable(exp, defined)
        features = defined(exp.cluster.kafka_version).get("features", {}) if defined is not None else None
    except ChaosError as e:  # no JDK, or a release Maven Central lacks: the run's cluster will say so
        log.warning("the release's definitions could not be asked (%s): only needs: decides applicability", e)
        return exp, not_applicable(exp)
    if reason is not None or features is None:
        return exp, reason
    kept = {name: level for name, level in exp.cluster.features.items() if name in features or level > 0}
    if kept == exp.cluster.features:
        return exp, None
    return exp.model_copy(update={"cluster": exp.cluster.model_copy(update={"features": kept})}), None


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
