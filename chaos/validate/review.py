"""Static review of a team's settings: each setting that risks loss or duplication, why, and the fix.

Defaults are the Java clients' and brokers' (Kafka 3.x/4.x): a setting left out is reviewed at its
default value, and the finding says so. Keys the harness replaces (bootstrap servers, serializers,
security, ids) are accepted and listed as substituted; unknown keys are flagged with the closest
known one, because a misspelled ``enable.idempotance`` silently leaves the default in force.
"""

from __future__ import annotations

import difflib

from chaos.errors import UsageError
from chaos.validate.findings import (
    BROKER_KEYS,
    BROKER_WIRING,
    TOPIC_KEYS,
    Finding,
    TeamConfig,
)
from chaos.validate.properties import Properties
from chaos.validate.rules import RULES
from chaos.workloads import rdkafka_settings
from chaos.workloads.clients import resolve_settings
from chaos.workloads.java_settings import JAVA_CONSUMER_KEYS, JAVA_PRODUCER_KEYS, foreign_classes
from chaos.workloads.settings import (
    CONSUMER_KEYS,
    HARNESS_OWNED,
    PRODUCER_EMULATED,
    PRODUCER_KEYS,
    SECURITY_PREFIXES,
    UNSUPPORTED,
)


def _known(client: str, kind: str) -> set[str]:
    """The keys ``client`` knows as a ``kind`` (producer or consumer)."""
    producer = kind == "producer"
    if client == "java":
        return set(JAVA_PRODUCER_KEYS if producer else JAVA_CONSUMER_KEYS)
    if client == "librdkafka":
        r = rdkafka_settings
        mapped = {**r.PRODUCER_MAP, **r.PRODUCER_EMULATED} if producer else {**r.CONSUMER_MAP, **r.CONSUMER_EMULATED}
        return set(mapped) | set(r.NATIVE)
    return set(PRODUCER_KEYS) | set(PRODUCER_EMULATED) if producer else set(CONSUMER_KEYS)


def _not_exercised(client: str) -> dict[str, str]:
    """Keys the client has but the harness does not run, with the reason."""
    return {"kafka-python": UNSUPPORTED, "librdkafka": rdkafka_settings.REFUSED}.get(client, {})


def _closest(key: str, known: frozenset[str] | set[str]) -> str:
    match = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.7)
    return f" (did you mean {match[0]}?)" if match else ""


def _client_keys(kind: str, props: Properties, out: TeamConfig) -> dict[str, str]:
    """Check each client key on its own against ``out.client``; returns the settings the workload
    can run with."""
    known = _known(out.client, kind)
    skipped = _not_exercised(out.client)
    run: dict[str, str] = {}
    for key, value in props.values.items():
        if key in HARNESS_OWNED or key.startswith(SECURITY_PREFIXES):
            out.substituted.append(f"{kind} {key}")
            continue
        reason = skipped.get(key)
        if out.client == "java" and foreign_classes(key, value):
            reason = "it names the application's own class, which the java client driver cannot load"
        if reason:
            out.findings.append(
                Finding("info", "config", key, value, props.where(key), f"not exercised: {reason}", "none")
            )
            continue
        try:
            resolve_settings(out.client, kind, {key: value})
        except UsageError as e:
            message = str(e)
            if key not in known:
                why = f"unknown {kind} setting{_closest(key, known)}: the client ignores it and keeps the default"
                fix = f"remove it or correct its spelling{_closest(key, known)}"
            else:
                why, fix = message, f"give {key} a valid value"
            out.findings.append(Finding("config", "config", key, value, props.where(key), why, fix))
            continue
        run[key] = value
    for key, lines in props.duplicates.items():
        out.findings.append(
            Finding(
                "config",
                "config",
                key,
                props.values[key],
                props.where(key),
                f"set {len(lines)} times (lines {', '.join(map(str, lines))}); the last one wins",
                "keep one",
            )
        )
    return run


def _server_keys(kind: str, props: Properties, known: frozenset[str], out: TeamConfig) -> dict[str, str]:
    run: dict[str, str] = {}
    for key, value in props.values.items():
        if kind == "broker" and key in BROKER_WIRING:
            out.substituted.append(f"broker {key}")
            continue
        if key not in known:
            hint = _closest(key, known)
            if hint or kind == "topic":
                out.findings.append(
                    Finding(
                        "config",
                        "config",
                        key,
                        value,
                        props.where(key),
                        f"unknown {kind} setting{hint}",
                        f"remove it or correct its spelling{hint}",
                    )
                )
                continue
        run[key] = value
    return run


def review(
    producer: Properties,
    consumer: Properties,
    topic: Properties | None = None,
    broker: Properties | None = None,
    client: str = "java",
) -> TeamConfig:
    """Review the team's files as ``client``'s configuration; see the module docstring. Never raises
    for a risky setting: every problem is a :class:`Finding`."""
    cfg = TeamConfig(producer, consumer, topic, broker, client=client)
    cfg.producer_run = _client_keys("producer", producer, cfg)
    cfg.consumer_run = _client_keys("consumer", consumer, cfg)
    if topic is not None:
        cfg.topic_run = _server_keys("topic", topic, TOPIC_KEYS, cfg)
    if broker is not None:
        cfg.broker_run = _server_keys("broker", broker, BROKER_KEYS, cfg)
    for rule in RULES:
        rule(cfg, cfg.findings.append)
    return cfg


def recommended(cfg: TeamConfig) -> dict[str, dict[str, str]]:
    """The team's run settings with every finding's fix applied (for ``--compare``)."""
    out = {
        "producer": dict(cfg.producer_run),
        "consumer": dict(cfg.consumer_run),
        "topic": dict(cfg.topic_run),
        "broker": dict(cfg.broker_run),
    }
    for finding in cfg.findings:
        if finding.change is None:
            continue
        kind, key, value = finding.change
        if value is None:
            out[kind].pop(key, None)
        else:
            out[kind][key] = value
    out["producer"].setdefault("acks", "all")
    if out["producer"].get("enable.idempotence", "true").lower() == "false":
        out["producer"]["enable.idempotence"] = "true"
    return out


def settings_of(stage: str, findings: list[Finding]) -> list[Finding]:
    """The loss findings that explain a loss at ``stage``."""
    return [f for f in findings if f.stage == stage and f.severity == "loss" and f.explains]
