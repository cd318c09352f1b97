"""What the review finds, and the team's configuration it is found in: :class:`Finding`,
:class:`TeamConfig`, the key sets the review knows, and the failover the timeouts are judged by."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from chaos.cluster.config import OWNED_KEYS
from chaos.images.kafka_configs import KafkaConfigs
from chaos.validate.properties import Properties

Severity = Literal["loss", "duplicates", "availability", "config", "info"]
Stage = Literal["producer", "broker", "consumer", "config"]
#: The team's files, by what they configure.
FileKind = Literal["producer", "consumer", "topic", "broker"]

#: Topic keys a topic file may carry that are not topic configs (they shape the topic's creation).
TOPIC_SHAPE = ("partitions", "replication.factor")

#: Broker keys that wire a node into its cluster: the harness sets its own (the cluster refuses them).
BROKER_WIRING = OWNED_KEYS | {"zookeeper.connect", "zookeeper.connection.timeout.ms"}

#: How the application processes what ``poll()`` returned: before the next ``poll()``
#: (``in-poll``), buffered across polls (``batched``), or handed to other threads (``async``).
Processing = Literal["in-poll", "batched", "async"]
PROCESSING: tuple[Processing, ...] = ("in-poll", "batched", "async")

#: The fault window the matrix uses: a delivery timeout shorter than a failover expires records.
FAILOVER_SECONDS = 30


@dataclass(frozen=True, slots=True)
class Finding:
    """One reviewed setting: how bad, at which stage, where it came from, why, and the fix."""

    severity: Severity
    stage: Stage
    setting: str
    value: str | None
    where: str
    why: str
    fix: str
    #: The recommended change as (file kind, key, value or None to remove), for ``--compare``.
    change: tuple[str, str, str | None] | None = None
    #: Whether a loss at its stage in the matrix can be put down to it (not so for a risk that only
    #: bites in situations the matrix does not create, such as a new consumer group).
    explains: bool = True

    def as_dict(self) -> dict[str, Any]:
        """For JSON reports."""
        return asdict(self)


@dataclass(slots=True)
class TeamConfig:
    """The team's files, as parsed, and what the harness will run with."""

    producer: Properties
    consumer: Properties
    topic: Properties | None = None
    broker: Properties | None = None
    findings: list[Finding] = field(default_factory=list)
    #: Settings to run the dynamic matrix with (unknown and unsupported keys left out).
    producer_run: dict[str, str] = field(default_factory=dict)
    consumer_run: dict[str, str] = field(default_factory=dict)
    topic_run: dict[str, str] = field(default_factory=dict)
    broker_run: dict[str, str] = field(default_factory=dict)
    partitions: int = 3
    replication_factor: int = 3
    substituted: list[str] = field(default_factory=list)
    #: The client whose configuration the files are, and which runs the matrix.
    client: str = "java"
    #: The release whose definitions judge the files (its defaults fill what the files leave out).
    kafka: KafkaConfigs | None = None
    #: How the application processes records, and whether the team said so (else it is assumed).
    processing: Processing = "batched"
    processing_stated: bool = False
    #: How long the application takes to process one poll's records, when the team said.
    process_ms: int | None = None
    #: (kind, key) of the values Kafka refuses: the rules judge the default that stays in force.
    refused: set[tuple[str, str]] = field(default_factory=set)

    def effective(self, kind: str, key: str, default: str | None = None) -> tuple[str | None, str]:
        """The value in force and where it comes from (``file:line``, or ``default``: then
        ``default`` if given, else the release's own default for the key). A value Kafka refuses
        is not in force."""
        props = {"producer": self.producer, "consumer": self.consumer, "topic": self.topic, "broker": self.broker}[kind]
        if props is not None and key in props.values and (kind, key) not in self.refused:
            return props.values[key].strip(), props.where(key)
        if default is None and self.kafka is not None and key in self.kafka.keys(kind):
            return self.kafka.default(kind, key), "default"
        return default, "default"

    @property
    def release(self) -> KafkaConfigs:
        """The release's definitions.

        Raises:
            RuntimeError: the config was built without them (a programming error).
        """
        if self.kafka is None:
            raise RuntimeError("TeamConfig built without Kafka's definitions")
        return self.kafka

    @property
    def version(self) -> str:
        """The Kafka release the files are judged by."""
        return self.kafka.version if self.kafka is not None else "?"


def locate(finding: Finding, files: Mapping[str, str]) -> tuple[FileKind, int | None]:
    """The file a finding is about, by kind (a key of ``files``, kind -> path as given), and its line
    there; the line is None when the setting is not in that file (a default in force, a setting not
    stated) or when no file of that kind was given.

    The file is the one ``where`` names (``path:line``, or just ``path``); else the file the fix
    changes; else the stage's own file (a broker-stage setting belongs in the topic file, or the
    broker file when only that one was given); else the producer file, which is always given.

    >>> files = {"producer": "p.properties", "consumer": "c.properties", "topic": "t.properties"}
    >>> risk = Finding("loss", "broker", "acks", "1", "p.properties:5", "why", "acks=all")
    >>> locate(risk, files)
    ('producer', 5)
    >>> default = Finding("loss", "broker", "min.insync.replicas", "1", "default", "why", "fix")
    >>> locate(default, files), locate(default, {"producer": "p.properties", "consumer": "c.properties"})
    (('topic', None), ('topic', None))
    """
    for kind, path in files.items():
        if finding.where == path:
            return _kind(kind), None
        line = finding.where.removeprefix(f"{path}:")
        if line != finding.where and line.isdigit():
            return _kind(kind), int(line)
    if finding.change is not None:
        return _kind(finding.change[0]), None
    if finding.stage in ("producer", "consumer"):
        return finding.stage, None
    if finding.stage == "broker":
        return ("broker" if "broker" in files and "topic" not in files else "topic"), None
    return "producer", None


def _kind(name: str) -> FileKind:
    """``name`` as a file kind.

    Raises:
        ValueError: it is none (a programming error: the review names only these).
    """
    for kind in ("producer", "consumer", "topic", "broker"):
        if name == kind:
            return kind
    raise ValueError(f"not a kind of file: {name!r}")


def as_int(value: str | None, default: int) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default
