"""The configuration a run was measured under, as the cluster itself describes it: every broker's
and the run's topic's effective settings (Kafka's ``DescribeConfigs``, every key with its value and
source) and the cluster's id, written to ``cluster-config.json`` in the run directory.

A value Kafka marks sensitive (a password, a JAAS config) is never written: Kafka does not send
it, and a key whose name says it holds a secret is kept out as well even when a value came back;
the file names the key, its source and ``"sensitive": true``.

The reports show the settings not at their defaults (:mod:`chaos.reports.in_force`).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Protocol, TypeVar

from kafka.admin import ConfigResource, ConfigResourceType

from chaos import rundir
from chaos.cluster.admin import Admin, finalized_levels

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Key names whose value is a secret whatever Kafka says of it.
SECRET = re.compile(r"password|secret|jaas|credential|token|(^|\.)key$", re.IGNORECASE)

#: One key's record: its value (absent when sensitive), its source, ``sensitive``.
Entry = dict[str, str | bool | None]
#: Keys of one resource.
Entries = dict[str, Entry]
#: ``cluster-config.json``.
ClusterConfig = dict[str, object]
#: The admin's ``describe_configs``: resource type → name → key → what Kafka said of it.
Describe = Callable[[Sequence[ConfigResource]], Mapping[str, Mapping[str, Mapping[str, Mapping[str, object]]]]]


def _entries(raw: Mapping[str, Mapping[str, object]]) -> Entries:
    """Each key's value and source, secrets named and never shown.

    >>> _entries({"sasl.jaas.config": {"value": "x", "config_source": 4, "is_sensitive": False},
    ...           "min.insync.replicas": {"value": "2", "config_source": 4}})
    {'min.insync.replicas': {'value': '2', 'source': '4'}, 'sasl.jaas.config': {'source': '4', 'sensitive': True}}
    """
    out: Entries = {}
    for key in sorted(raw):
        entry = raw[key]
        source = str(getattr(entry.get("config_source"), "name", entry.get("config_source", "")))
        if entry.get("is_sensitive") or SECRET.search(key):
            out[key] = {"source": source, "sensitive": True}
        else:
            value = entry.get("value")
            out[key] = {"value": None if value is None else str(value), "source": source}
    return out


def in_force(describe: Describe, cluster_id: str, brokers: Sequence[int], topic: str) -> ClusterConfig:
    """``cluster-config.json``: the cluster's id, and every key of each broker and of ``topic``.

    Raises:
        KafkaError: the cluster did not answer (the caller records that instead: evidence, never a
            reason to stop a run).
    """
    resources = [ConfigResource(ConfigResourceType.BROKER, str(b)) for b in brokers]
    resources.append(ConfigResource(ConfigResourceType.TOPIC, topic))
    found = describe(resources)
    return {
        "cluster_id": cluster_id,
        "brokers": {str(b): _entries(found.get("broker", {}).get(str(b), {})) for b in brokers},
        "topic": {topic: _entries(found.get("topic", {}).get(topic, {}))},
    }


class AdminCaller(Protocol):
    """What runs an admin call on the cluster (:meth:`~chaos.cluster.handle.ClusterHandle.admin_call`)."""

    def __call__(self, fn: Callable[[Admin], T], attempts: int = ...) -> T: ...


def record(run_dir: Path, admin_call: AdminCaller, topic: str) -> None:
    """Write ``cluster-config.json`` (:func:`in_force`, for every broker the cluster reports, and its
    finalized feature levels, ``metadata.version`` among them: what names its release) into
    ``run_dir``; when the cluster cannot say, write what went wrong instead: the record is evidence,
    never a reason to stop a run."""
    try:
        described = admin_call(lambda a: a.describe_cluster())
        config = in_force(
            lambda r: admin_call(lambda a: a.describe_configs(r, config_filter="all")),
            described.get("cluster_id") or "",
            sorted(int(b["broker_id"]) for b in described["brokers"]),
            topic,
        )
        config["features"] = finalized_levels(admin_call(lambda a: a.describe_features()))
    except Exception as e:  # evidence only
        log.warning("could not read the configuration in force: %s", e)
        config = {"error": f"{type(e).__name__}: {e}"}
    (run_dir / rundir.CLUSTER_CONFIG).write_text(json.dumps(config, indent=1, sort_keys=True))
