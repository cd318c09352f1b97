"""What a run's ``cluster-config.json`` (written by :mod:`chaos.experiments.cluster_config`) says
was set on the cluster, for the reports: the settings not at their defaults, so a verdict names the
configuration it was measured under."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from chaos import rundir

#: Where a value in force comes from when nobody set it (Kafka's name and its number).
DEFAULT_SOURCES = frozenset({"DEFAULT_CONFIG", "5", ""})

Entries = Mapping[str, Mapping[str, object]]


def _shown(entry: Mapping[str, object]) -> str:
    return "(sensitive)" if entry.get("sensitive") else str(entry.get("value"))


def set_here(brokers: Mapping[str, Entries], topics: Mapping[str, Entries]) -> dict[str, str]:
    """The settings not at their defaults, as ``key: value``: a broker key with one value on every
    broker once, one that differs per broker as ``broker N: value``; a topic's keys as ``topic key``.

    >>> set_here({"1": {"a": {"value": "1", "source": "STATIC_BROKER_CONFIG"}},
    ...           "2": {"a": {"value": "2", "source": "STATIC_BROKER_CONFIG"}}},
    ...          {"t": {"b": {"value": "2", "source": "DYNAMIC_TOPIC_CONFIG"},
    ...                 "c": {"value": "x", "source": "DEFAULT_CONFIG"}}})
    {'a': 'broker 1: 1, broker 2: 2', 'topic b': '2'}
    """
    per_key: dict[str, dict[str, str]] = {}
    for broker, entries in brokers.items():
        for key, entry in entries.items():
            if entry.get("source") not in DEFAULT_SOURCES:
                per_key.setdefault(key, {})[broker] = _shown(entry)
    shown = {}
    for key, values in sorted(per_key.items()):
        same = len(set(values.values())) == 1 and len(values) == len(brokers)
        shown[key] = (
            next(iter(values.values())) if same else ", ".join(f"broker {b}: {v}" for b, v in sorted(values.items()))
        )
    for entries in topics.values():
        for key, entry in sorted(entries.items()):
            if entry.get("source") not in DEFAULT_SOURCES:
                shown[f"topic {key}"] = _shown(entry)
    return shown


def in_force_items(run_dir: Path) -> list[tuple[str, str]]:
    """The report's lines for ``run_dir``'s configuration in force: the cluster's id and what was set
    (none when the run directory has no record; what went wrong when the cluster could not say)."""
    path = run_dir / rundir.CLUSTER_CONFIG
    if not path.exists():
        return []
    config = json.loads(path.read_text())
    if "error" in config:
        return [("configuration in force", f"unknown ({config['error']})")]
    shown = set_here(config.get("brokers", {}), config.get("topic", {}))
    text = ", ".join(f"{key}={value}" for key, value in shown.items()) or "every key at its default"
    return [("cluster id", str(config.get("cluster_id") or "unknown")), ("set on the cluster", text)]
