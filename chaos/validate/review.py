"""Static review of a team's settings: is each one a setting Kafka has, with a value Kafka accepts,
and which ones risk loss or duplication, why, and the fix.

What is a key and what is a valid value is the cluster release's own answer (its ``ConfigDef`` s and
its clients, :mod:`chaos.images.kafka_configs`): a key the release does not define is reported
with the closest one it does, because a misspelled ``enable.idempotance`` silently leaves the
default in force; a value the release refuses is reported with Kafka's own message. A setting left
out is reviewed at the release's default, and the finding says so. Keys the harness replaces
(bootstrap servers, serializers, security, ids) are accepted and listed as substituted. The loss
rules are the harness's own (:mod:`chaos.validate.rules`).
"""

from __future__ import annotations

import difflib
import html
import re
from collections.abc import Mapping

from chaos.errors import UsageError
from chaos.images.kafka_configs import ConfigKey, KafkaCheck, KafkaConfigs, kafka_check, kafka_configs
from chaos.validate.findings import BROKER_WIRING, TOPIC_SHAPE, Finding, Processing, TeamConfig
from chaos.validate.properties import Properties
from chaos.validate.rules import RULES
from chaos.workloads import rdkafka_settings
from chaos.workloads.clients import resolve_settings
from chaos.workloads.java_settings import CLASS_KEYS, foreign_classes
from chaos.workloads.settings import HARNESS_OWNED, SECURITY_PREFIXES, UNSUPPORTED

#: Keys whose value names a class of the application (a serializer, an interceptor …).
_PLUGIN_CLASS_KEYS = CLASS_KEYS | {
    "key.serializer",
    "value.serializer",
    "key.deserializer",
    "value.deserializer",
    "authorizer.class.name",
    "principal.builder.class",
    "client.quota.callback.class",
    "create.topic.policy.class.name",
    "alter.config.policy.class.name",
}
#: A value that goes on after a blank and a ``#`` or ``!``: an inline comment, which Java keeps.
_INLINE_COMMENT = re.compile(r"\s[#!]")


def _closest(key: str, known: Mapping[str, object] | set[str]) -> str:
    match = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.8)
    return f" (did you mean {match[0]}?)" if match else ""


def _meaning(key: str, defs: Mapping[str, ConfigKey]) -> str:
    """What Kafka's documentation says of the key ``key`` was probably meant to be: its first
    sentence, for a misspelling's finding (empty without a close match)."""
    match = difflib.get_close_matches(key, sorted(defs), n=1, cutoff=0.8)
    if not match:
        return ""
    text = html.unescape(re.sub(r"<[^>]+>", "", defs[match[0]].doc)).strip()
    first = re.split(r"(?<=\.)\s", text, maxsplit=1)[0]
    return f". Kafka's documentation of {match[0]}: \u201c{first[:200]}\u201d" if first else ""


def _app_classes(key: str, value: str) -> list[str]:
    """The classes of the application's own (not Kafka's) that a class-valued ``key`` names."""
    if key not in _PLUGIN_CLASS_KEYS:
        return []
    return [c.strip() for c in value.split(",") if c.strip() and not c.strip().startswith("org.apache.kafka.")]


def _plugins(props: Properties) -> list[str]:
    """Classes of the application's own the file names (its serializers, interceptors …)."""
    return sorted(c for key, value in props.values.items() for c in _app_classes(key, value))


def _comment_hint(value: str) -> str:
    if _INLINE_COMMENT.search(value):
        return (
            "; properties files have no inline comments, so the text after the value is part of it: "
            "move the comment to a line of its own"
        )
    return ""


def _refused(out: TeamConfig, kind: str, key: str, props: Properties, messages: list[str]) -> Finding:
    out.refused.add((kind, key))
    value, where, version = props.values[key], props.where(key), out.version
    return Finding(
        "config",
        "config",
        key,
        value,
        where,
        f"Kafka {version} refuses it: {messages[0]}{_comment_hint(value)}",
        f"give {key} a value Kafka accepts",
    )


def _note(props: Properties, key: str, why: str) -> Finding:
    """An info finding on ``key`` of ``props``: nothing to fix."""
    return Finding("info", "config", key, props.values[key], props.where(key), why, "none")


#: What Kafka does with a key it does not define, by the file it is in.
_IGNORED = {
    "producer": "; the client logs it as unknown, ignores it and keeps the default",
    "consumer": "; the client logs it as unknown, ignores it and keeps the default",
    "broker": "; the broker logs it as unknown and ignores it",
    "topic": "",
}


def _unknown(kind: str, key: str, props: Properties, out: TeamConfig) -> Finding:
    """A key the release does not define, with the closest one it does and what that one means."""
    defs = out.release.keys(kind)
    hint = _closest(key, defs)
    return Finding(
        "config",
        "config",
        key,
        props.values[key],
        props.where(key),
        f"unknown {kind} setting{hint}: Kafka {out.version} has no such {kind} setting{_IGNORED[kind]}"
        + _meaning(key, defs),
        f"remove it or correct its spelling{hint}",
    )


def _not_exercised(client: str) -> dict[str, str]:
    """Java keys the client has no equivalent for, with the reason."""
    return {"kafka-python": UNSUPPORTED, "librdkafka": rdkafka_settings.REFUSED}.get(client, {})


def _client_keys(kind: str, props: Properties, out: TeamConfig, check: KafkaCheck) -> dict[str, str]:
    """Judge each client key by the release's ConfigDef and check; returns what the workload runs."""
    defs = out.release.keys(kind)
    plugins = _plugins(props)
    skipped = _not_exercised(out.client)
    run: dict[str, str] = {}
    for key, value in props.values.items():
        errors = check.errors.get(key, [])
        owned = key in HARNESS_OWNED or key.startswith(SECURITY_PREFIXES)
        if errors:
            out.findings.append(_refused(out, kind, key, props, errors))
            continue
        if owned:
            out.substituted.append(f"{kind} {key}")
            continue
        if key not in defs:
            if out.client == "librdkafka" and key in rdkafka_settings.NATIVE:
                run[key] = value
                continue
            if plugins and not _closest(key, defs):
                why = f"not a Kafka {kind} setting: read by the application's own classes ({plugins[0]}), "
                out.findings.append(_note(props, key, why + "which the harness replaces"))
                continue
            out.findings.append(_unknown(kind, key, props, out))
            continue
        reason = skipped.get(key)
        if out.client == "java" and foreign_classes(key, value):
            reason = "it names the application's own class, which the java client driver cannot load"
        if not reason and out.client != "java":
            try:
                resolve_settings(out.client, kind, {key: value})
            except UsageError as e:
                reason = str(e)
        if reason:
            out.findings.append(_note(props, key, f"not exercised: {reason}"))
            continue
        if hint := _comment_hint(value):
            out.findings.append(_note(props, key, f"Kafka takes the whole text{hint}"))
        run[key] = value
    _cross_key(kind, props, out, check)
    _duplicates(props, out)
    return run


def _cross_key(kind: str, props: Properties, out: TeamConfig, check: KafkaCheck) -> None:
    """The release refused to build the configuration or the client: Kafka's message, on the key it
    names (the first one of the file it mentions)."""
    if check.refused is None or any(
        check.refused.endswith(m) or m in check.refused for ms in check.errors.values() for m in ms
    ):
        return
    message = check.refused
    mentioned = (k for k in props.values if re.search(rf"(?<![\w.]){re.escape(k)}(?![\w.])", message))
    named = sorted(mentioned, key=message.index)
    reported = {f.setting for f in out.findings if f.severity == "config" and f.where.startswith(props.source)}
    if named and named[0] in reported:  # e.g. LogConfig refusing a name already reported as unknown
        return
    key = named[0] if named else kind
    out.findings.append(
        Finding(
            "config",
            "config",
            key,
            props.values.get(key),
            props.where(key) if named else props.source,
            f"Kafka {out.release.version} refuses this {kind} configuration: {check.refused}",
            "change the settings the message names",
        )
    )


def _duplicates(props: Properties, out: TeamConfig) -> None:
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


def _shape(props: Properties, out: TeamConfig) -> dict[str, str]:
    """``partitions`` and ``replication.factor``: the topic's creation, whole numbers of at least 1."""
    run: dict[str, str] = {}
    for key in TOPIC_SHAPE:
        if key not in props.values:
            continue
        value = props.values[key]
        try:
            number = int(value.strip())
        except ValueError:
            number = 0
        if number < 1:
            out.refused.add(("topic", key))
            what = "partitions" if key == "partitions" else "replicas"
            out.findings.append(
                Finding(
                    "config",
                    "config",
                    key,
                    value,
                    props.where(key),
                    f"Kafka refuses it: {key} is a whole number of {what}, at least 1{_comment_hint(value)}",
                    f"write a number, e.g. {key}=3",
                )
            )
            continue
        run[key] = str(number)
    return run


def _server_keys(kind: str, props: Properties, out: TeamConfig, check: KafkaCheck) -> dict[str, str]:
    defs = out.release.keys(kind)
    run = _shape(props, out) if kind == "topic" else {}
    plugins = _plugins(props)
    for key, value in props.values.items():
        if kind == "topic" and key in TOPIC_SHAPE:
            continue
        if kind == "broker" and key in BROKER_WIRING:
            out.substituted.append(f"broker {key}")
            continue
        if classes := _app_classes(key, value):
            why = f"not exercised: it names {classes[0]}, the team's own class, which the harness's brokers do not have"
            out.findings.append(_note(props, key, why))
            continue
        if errors := check.errors.get(key):
            out.findings.append(_refused(out, kind, key, props, errors))
            continue
        if key not in defs:
            passed_on = key.startswith("listener.name.") or plugins
            if kind == "broker" and passed_on and not _closest(key, defs):
                why = "not a setting of Kafka's own: a listener's or a plugin's, passed to it as it is"
                out.findings.append(_note(props, key, why))
                run[key] = value
                continue
            out.findings.append(_unknown(kind, key, props, out))
            continue
        run[key] = value
    _cross_key(kind, props, out, check)
    _duplicates(props, out)
    return run


def review(
    producer: Properties,
    consumer: Properties,
    topic: Properties | None = None,
    broker: Properties | None = None,
    client: str = "java",
    *,
    kafka: KafkaConfigs | None = None,
    processing: Processing | None = None,
    process_ms: int | None = None,
) -> TeamConfig:
    """Review the team's files as ``client``'s configuration against Kafka ``kafka``'s own
    definitions (default: the default release's; the producer and consumer files against its
    client release's, :meth:`KafkaConfigs.with_client`); see the module docstring. ``processing`` is how
    the application processes what ``poll()`` returned (None: not stated, judged as ``batched``);
    ``process_ms`` how long one poll's records take to process, when known.

    Never raises for a risky or refused setting: every problem is a :class:`Finding`.

    Raises:
        InfrastructureError: Kafka's definitions could not be read (no JDK).
    """
    from chaos.images.recipes import DEFAULT_KAFKA_VERSION

    kafka = kafka or kafka_configs(DEFAULT_KAFKA_VERSION)
    cfg = TeamConfig(producer, consumer, topic, broker, client=client, kafka=kafka)
    cfg.processing = processing or "batched"
    cfg.processing_stated = processing is not None
    cfg.process_ms = process_ms
    files = {"producer": producer, "consumer": consumer, "topic": topic, "broker": broker}
    asked = {kind: _checkable(kind, p) for kind, p in files.items() if p is not None}
    checks = kafka_check(kafka.version, {k: v for k, v in asked.items() if k in ("topic", "broker")})
    checks |= kafka_check(kafka.client_release, {k: v for k, v in asked.items() if k in ("producer", "consumer")})
    cfg.producer_run = _client_keys("producer", producer, cfg, checks["producer"])
    cfg.consumer_run = _client_keys("consumer", consumer, cfg, checks["consumer"])
    if topic is not None:
        cfg.topic_run = _server_keys("topic", topic, cfg, checks["topic"])
    if broker is not None:
        cfg.broker_run = _server_keys("broker", broker, cfg, checks["broker"])
    for rule in RULES:
        rule(cfg, cfg.findings.append)
    return cfg


def _checkable(kind: str, props: Properties) -> dict[str, str]:
    """What Kafka is asked about: the file's settings, but none that only wire the node or name a
    class Kafka cannot load here (the application's own)."""
    out: dict[str, str] = {}
    for key, value in props.values.items():
        if kind == "broker" and key in BROKER_WIRING:
            continue
        if kind == "topic" and key in TOPIC_SHAPE:
            continue
        if _app_classes(key, value) or key.endswith("serializer"):
            continue
        out[key] = value
    if kind == "consumer":
        out.setdefault("group.id", "the-application-sets-it")  # many applications set it in code
    return out


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
