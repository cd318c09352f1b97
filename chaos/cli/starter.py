"""What ``kafka-chaos init`` writes: two experiments adapted to a team's client settings, the pytest
lines that collect them, and CI workflows that run them. Pure: files as text, nothing written here.

The templates are package data (``chaos/cli/templates/``); a ``<<name>>`` placeholder alone on its
line takes that line's indentation for each line of its value, and disappears with an empty one.
"""

from __future__ import annotations

import json
import re
import shlex
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources

import yaml

from chaos import __version__
from chaos.errors import UsageError
from chaos.workloads.settings import HARNESS_OWNED, SECURITY_PREFIXES

PRODUCER_FILE = "experiments/producer-leader-kill.yaml"
CONSUMER_FILE = "experiments/consumer-kill.yaml"
GITHUB_FILE = ".github/workflows/kafka-chaos.yml"
GITLAB_FILE = ".gitlab-ci.yml"

#: Safe settings for a team that gave no file: every in-sync replica acknowledges, retries are
#: idempotent; the consumer commits after processing.
DEFAULT_SETTINGS: dict[str, dict[str, str]] = {
    "producer": {"acks": "all", "enable.idempotence": "true", "delivery.timeout.ms": "120000", "linger.ms": "5"},
    "consumer": {"enable.auto.commit": "false", "session.timeout.ms": "6000", "heartbeat.interval.ms": "1500"},
}
#: The experiments' cluster has three brokers: no topic can have more replicas.
MAX_REPLICAS = 3
_OWNED = "the harness sets its own"
_SECURITY = "the harness's cluster is PLAINTEXT, and a committed file is no place for credentials"
_PLACEHOLDER = re.compile(r"<<([a-z_]+)>>")
_COMMENT_WIDTH = 100


@dataclass(frozen=True, slots=True)
class TeamSettings:
    """One client's settings as an experiment takes them: from ``source`` (a path as the workflows
    name it; None: :data:`DEFAULT_SETTINGS`), the keys ``kept``, and those ``left_out`` with why."""

    role: str
    source: str | None
    kept: dict[str, str]
    left_out: dict[str, str] = field(default_factory=dict)


def template(name: str) -> str:
    """A template shipped in ``chaos/cli/templates/``."""
    return (resources.files("chaos.cli") / "templates" / name).read_text(encoding="utf-8")


def fill(text: str, values: Mapping[str, str]) -> str:
    """``text`` with each ``<<name>>`` replaced by ``values[name]``.

    Raises:
        KeyError: a placeholder without a value.

    >>> print(fill("a:\\n  <<b>>\\nc: <<d>>\\n  <<e>>\\n", {"b": "x: 1\\ny: 2", "d": "3", "e": ""}), end="")
    a:
      x: 1
      y: 2
    c: 3
    """
    out: list[str] = []
    for line in text.splitlines():
        alone = _PLACEHOLDER.fullmatch(line.strip())
        if alone:
            indent = line[: len(line) - len(line.lstrip())]
            out.extend(indent + part if part else "" for part in values[alone.group(1)].splitlines())
        else:
            out.append(_PLACEHOLDER.sub(lambda m: values[m.group(1)], line))
    return "\n".join(out) + "\n"


def _as_text(loaded: object) -> str:
    """A YAML value as the experiment's loader hands it to a client (``as_properties``)."""
    return str(loaded).lower() if isinstance(loaded, bool) else str(loaded)


def _scalar(text: str, same: bool) -> str | None:
    """``text`` as a YAML scalar that reads back as ``text`` (``same``: exactly; else as a property
    value: ``5`` may read as the number 5), plain where it can be; None when no form does."""
    for written in (text, json.dumps(text, ensure_ascii=False), json.dumps(text)):
        try:
            back = yaml.safe_load(f"k: {written}")
        except yaml.YAMLError:
            continue
        value = back.get("k") if isinstance(back, dict) else None
        if value is not None and (value == text if same else _as_text(value) == text):
            return written
    return None


def yaml_string(text: str) -> str:
    """``text`` as a YAML scalar that reads back exactly as ``text``: plain where it can be.

    Raises:
        UsageError: no YAML form reads back the same (a character YAML does not carry).

    >>> yaml_string("kafka-chaos run experiments/"), yaml_string("a #b"), yaml_string("007")
    ('kafka-chaos run experiments/', '"a #b"', '"007"')
    """
    written = _scalar(text, same=True)
    if written is None:
        raise UsageError(f"{text!r} cannot be written in YAML as it is: rename the file it names")
    return written


#: Words in a key that may name a credential (a broker or topic file may hold listener secrets).
_SECRET_WORDS = ("password", "jaas", "secret", "credential", "token", "keystore", "truststore")


def left_out_because(key: str) -> str | None:
    """Why ``key`` is never written into an experiment (None: it may be): harness-owned keys, and
    security settings and anything that may name a credential, whose values never reach a file.

    >>> left_out_because("bootstrap.servers"), left_out_because("min.insync.replicas")
    ('the harness sets its own', None)
    >>> left_out_because("listener.name.sasl_ssl.plain.sasl.jaas.config") == _SECURITY
    True
    """
    if key in HARNESS_OWNED:
        return _OWNED
    if key.startswith(SECURITY_PREFIXES) or any(word in key.lower() for word in _SECRET_WORDS):
        return _SECURITY
    return None


def adapt(role: str, props: Mapping[str, str] | None, client: str, source: str | None) -> TeamSettings:
    """The team's ``role`` settings (Java names) that an experiment on ``client`` can take; the
    rest left out with the reason (harness-owned keys, security settings, what the client refuses).
    Without ``props``, :data:`DEFAULT_SETTINGS`."""
    from chaos.workloads.clients import resolve_settings

    if props is None:
        return TeamSettings(role, None, dict(DEFAULT_SETTINGS[role]))
    kept: dict[str, str] = {}
    left_out: dict[str, str] = {}
    for key, value in props.items():
        if reason := left_out_because(key):
            left_out[key] = reason
            continue
        try:
            resolve_settings(client, role, {key: value})
        except UsageError as e:
            left_out[key] = str(e)
            continue
        if _scalar(key, same=True) is None or _scalar(value, same=False) is None:
            left_out[key] = "its key or value does not read back the same from YAML: set it in the experiment by hand"
            continue
        kept[key] = value
    return TeamSettings(role, source, kept, left_out)


def _comment(text: str) -> list[str]:
    return textwrap.wrap(" ".join(text.split()), _COMMENT_WIDTH, initial_indent="# ", subsequent_indent="# ")


def settings_block(team: TeamSettings) -> str:
    """The ``settings:`` key of an experiment's section, with comments saying where it came from."""
    if team.source is None:
        lines = _comment(
            f"Safe defaults: put your {team.role}'s settings here (Java client property names), or write "
            f"them from your file with kafka-chaos init --{team.role}-config FILE --force."
        )
    else:
        lines = _comment(f"Your {team.role}'s settings, from {team.source} (written by kafka-chaos init).")
        by_reason: dict[str, list[str]] = {}
        for key, reason in team.left_out.items():
            by_reason.setdefault(reason, []).append(key)
        for reason, keys in by_reason.items():
            lines += _comment(f"Left out: {', '.join(keys)} ({reason}).")
    if not team.kept:
        return "\n".join([*lines, "settings: {}"])
    lines.append("settings:")
    for key, value in team.kept.items():
        lines.append(f"  {_scalar(key, same=True)}: {_scalar(value, same=False)}")
    return "\n".join(lines)


def _whole(value: str) -> int | None:
    """A topic's ``partitions`` or ``replication.factor``: a whole number of at least 1, else None."""
    text = value.strip()
    return int(text) if re.fullmatch(r"[0-9]+", text) and int(text) >= 1 else None


def adapt_topic(props: Mapping[str, str] | None, source: str | None) -> TeamSettings:
    """The team's topic settings (a validate topic file: ``partitions``, ``replication.factor`` and
    topic configs) as the producer experiment's topic takes them; without ``props``, three
    partitions, three replicas, min.insync.replicas=2."""
    if props is None:
        return TeamSettings("topic", None, {"partitions": "3", "replication.factor": "3", "min.insync.replicas": "2"})
    kept: dict[str, str] = {}
    left_out: dict[str, str] = {}
    for key, value in props.items():
        if reason := left_out_because(key):
            left_out[key] = reason
        elif key in ("partitions", "replication.factor") and _whole(value) is None:
            left_out[key] = f"{value!r} is not a whole number of at least 1"
        elif _scalar(key, same=True) is None or _scalar(value, same=False) is None:
            left_out[key] = "its key or value does not read back the same from YAML: set it in the experiment by hand"
        else:
            kept[key] = value
    return TeamSettings("topic", source, kept, left_out)


def topic_block(topic: TeamSettings) -> str:
    """The keys of the producer experiment's ``topic:`` section, with comments saying where they came from."""
    config = {k: v for k, v in topic.kept.items() if k not in ("partitions", "replication.factor")}
    partitions = _whole(topic.kept.get("partitions", "3")) or 3
    replicas = _whole(topic.kept.get("replication.factor", "3")) or 3
    if topic.source is None:
        lines = _comment(
            "Safe defaults: put your topic's settings in config (topic-level names, e.g. min.insync.replicas), "
            "or write them from your file with kafka-chaos init --topic-config FILE --force."
        )
    else:
        lines = _comment(f"Your topic's settings, from {topic.source} (written by kafka-chaos init).")
        lines += [line for key, reason in topic.left_out.items() for line in _comment(f"Left out: {key} ({reason}).")]
    if replicas > MAX_REPLICAS:
        lines += _comment(f"Your topic has {replicas} replicas; the experiment's cluster has {MAX_REPLICAS} brokers.")
        replicas = MAX_REPLICAS
    lines += [f"partitions: {partitions}", f"replication_factor: {replicas}"]
    if not config:
        return "\n".join([*lines, "config: {}"])
    lines.append("config:")
    lines += [f"  {_scalar(key, same=True)}: {_scalar(value, same=False)}" for key, value in config.items()]
    return "\n".join(lines)


def producer_experiment(team: TeamSettings, client: str, topic: TeamSettings) -> str:
    """The producer experiment (B3-style: a leader killed) under ``team``'s settings, on ``topic``."""
    mode = "transactional" if "transactional.id" in team.kept else "sync"
    why = (
        "transactional: your settings name a transactional.id."
        if mode == "transactional"
        else "sync (send().get()), as validate assumes; async (a callback), fire_and_forget, outbox, transactional."
    )
    mode_lines = [*_comment(f"How your application sends: {why}"), f"mode: {mode}"]
    return fill(
        template("producer-leader-kill.yaml"),
        {
            "client": client,
            "mode": "\n".join(mode_lines),
            "settings": settings_block(team),
            "topic": topic_block(topic),
        },
    )


def consumer_experiment(team: TeamSettings, client: str) -> str:
    """The consumer experiment (C2-style: the consumer killed) under ``team``'s settings; its commit
    strategy follows ``enable.auto.commit`` as validate's matrix does (unset is Kafka's default, true)."""
    auto = team.kept.get("enable.auto.commit", "true").strip().lower() == "true"
    if auto:
        why = (
            "auto: enable.auto.commit is true in your settings (Kafka's default when unset), so the client "
            "commits what it polled every auto.commit.interval.ms, processed or not."
        )
    else:
        why = "after_process: enable.auto.commit=false, and commitSync() after each processed batch."
    strategy = "auto" if auto else "after_process"
    strategy_lines = [*_comment(f"How your application commits: {why}"), f"strategy: {strategy}"]
    return fill(
        template("consumer-kill.yaml"),
        {"client": client, "strategy": "\n".join(strategy_lines), "settings": settings_block(team)},
    )


def validate_args(files: Mapping[str, str | None], client: str) -> list[str] | None:
    """The ``kafka-chaos validate --static-only`` arguments the workflows run on the team's
    ``producer``, ``consumer`` and ``topic`` files (paths relative to the directory); None unless
    the first two are there (validate reads both)."""
    if files.get("producer") is None or files.get("consumer") is None:
        return None
    args = ["validate", "--static-only"]
    for role in ("producer", "consumer", "topic"):
        path = files.get(role)
        if path is not None:
            args += [f"--{role}-config", path]
    return [*args, "--client", client, "--reports", "reports"]


def default_package() -> str:
    """What the workflows pip-install by default: this very release of kafka-chaos."""
    return f"kafka-chaos=={__version__}"


def install_argument(package: str) -> str:
    """``package`` as one shell word for ``pip install`` (a requirement, a wheel's path or URL), fit
    to stand in a YAML line as it is.

    Raises:
        UsageError: it is empty, or YAML would read part of it as a key or a comment.

    >>> install_argument("kafka-chaos==0.1.0"), install_argument("kafka-chaos @ https://example.org/k.whl")
    ('kafka-chaos==0.1.0', "'kafka-chaos @ https://example.org/k.whl'")
    """
    word = shlex.quote(package.strip())
    if not package.strip() or ": " in word or " #" in word:
        raise UsageError(
            f"--package {package!r} cannot go into a workflow as it is: give a requirement such as "
            "kafka-chaos==0.1.0, or a wheel's path or URL"
        )
    return word


#: Each CI system's file template and the template of its review job.
_CI_TEMPLATES = {
    "github": ("github-workflow.yml", "github-review-job.yml"),
    "gitlab": ("gitlab-ci.yml", "gitlab-review-job.yml"),
}


def ci_file(system: str, validate: list[str] | None, package: str | None = None) -> str:
    """``system``'s CI file (``github``: the Actions workflow; ``gitlab``: the GitLab CI file, on
    Docker-in-Docker): the experiments job, and a review job when ``validate`` is given; both
    pip-install ``package`` (default: this release from the package index).

    Raises:
        UsageError: a path in ``validate`` cannot be written in YAML, or ``package`` cannot be.
    """
    whole, review_job = _CI_TEMPLATES[system]
    install = install_argument(package or default_package())
    review = ""
    if validate is not None:
        command = yaml_string(shlex.join(["kafka-chaos", *validate]))
        review = fill(template(review_job), {"package": install, "validate": command})
    return fill(template(whole), {"package": install, "review_job": review})
