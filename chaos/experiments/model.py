"""Experiment files: YAML parsed into typed models at load time.

Every mistake is reported as one sentence naming the file, the line and the field, e.g.
``experiments/c1.yaml:14: producer.rate: must be greater than 0``. Loading checks everything that can
be checked without Docker — unknown keys, wrong types, client settings under their Java names, fault
kinds and their parameters, target selectors, expectations — so a malformed suite fails with exit
code 2 before a single container starts.

A minimal file::

    name: c2-commit-after-processing
    producer: {mode: async, rate: 500, settings: {acks: all}}
    consumer: {strategy: after_process, batch_size: 200}
    faults:
      - {kind: client_kill, workload: consumer-c0, at: 5, duration: 3}
    expect: {consumer_loss: 0}
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal, Self, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator, model_validator

from chaos.cluster.config import ClientPath
from chaos.errors import UsageError
from chaos.experiments.app_model import ApplicationModel
from chaos.experiments.cluster_model import ClusterModel, Scalar
from chaos.experiments.release_model import KnownBugModel, NeedsModel
from chaos.experiments.schedule_model import FaultStepModel, PhasesModel, RandomFaultsModel, SoakModel
from chaos.faults.targets import expand_targets
from chaos.images.recipes import check_kafka_version
from chaos.oracle.expectations import REBALANCE_FIELDS, Expectation, parse_expectation
from chaos.workloads.clients import CLIENTS, DEFAULT_CLIENT, available_clients, check_client, described_client
from chaos.workloads.external import ExternalClient
from chaos.workloads.spec import CommitStrategy, KeyStrategy, PoisonAck, ProducerMode

#: Metrics about consumers; an expectation on one needs a consumer in the experiment.
CONSUMER_METRICS = (
    "processed",
    "unprocessed",
    "overwritten_unread",
    "consumer_loss",
    "duplicates_processed",
    "duplicate_outputs",
)
#: Metrics about the consumer members' assignment changes, read from their ledgers: an expectation on one
#: needs a ``consumer:`` section (an application's members keep no ledger).
MEMBER_METRICS = tuple(REBALANCE_FIELDS)
NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,62}$"


class ExperimentFileError(UsageError):
    """An experiment file is unreadable or malformed; the message names file, line and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class TopicModel(_Strict):
    """The topic the workloads use (default name: the experiment's)."""

    name: str | None = Field(None, pattern=r"^[A-Za-z0-9._-]{1,200}$")
    partitions: int = Field(3, ge=1, le=1000)
    replication_factor: int = Field(3, ge=1, le=9)
    config: dict[str, Scalar] = Field(default_factory=dict)


class ExternalClientModel(_Strict):
    """A client outside the harness: a driver program following ``docs/clients.md``."""

    name: str = Field(pattern=NAME_PATTERN)
    #: The program and its arguments; ``{spec}`` becomes the workload spec's path (appended when no
    #: argument has it). A program with a ``/`` is found from the experiment file's folder.
    command: list[str] = Field(min_length=1)
    #: ``lines``: it prints JSON events the harness turns into ledgers; ``ledgers``: it writes them.
    protocol: Literal["lines", "ledgers"] = "lines"
    modes: list[ProducerMode] = Field(default_factory=list)
    strategies: list[CommitStrategy] = Field(default_factory=list)
    #: The Java-named settings it honours (absent: every key of the Java client, passed through).
    settings: list[str] | None = None
    #: What its consumer reads with when the settings name no isolation.level.
    isolation_level: Literal["read_uncommitted", "read_committed"] = "read_uncommitted"
    transform: bool = False
    #: Run once before a suite's clusters start (found like the command's program).
    build: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _described(self) -> Self:
        try:
            self.described()
        except UsageError as e:
            raise ValueError(str(e)) from None
        return self

    def described(self) -> ExternalClient:
        """The description the workloads take. Raises UsageError (the model checks it already)."""
        return ExternalClient(
            self.name,
            tuple(self.command),
            self.protocol,
            tuple(self.modes),
            tuple(self.strategies),
            tuple(self.settings) if self.settings is not None else None,
            self.isolation_level,
            self.transform,
            tuple(self.build),
        )

    def anchored(self, base: Path) -> ExternalClientModel:
        """With relative program paths resolved against ``base`` (the experiment file's folder)."""
        found = self.described().anchored(base)
        return self.model_copy(update={"command": list(found.command), "build": list(found.build)})


def _known_client(name: str) -> str:
    try:
        return check_client(name)
    except UsageError as e:
        raise ValueError(str(e)) from None


#: A client's name (a built-in or installed one), or an external client's description.
ClientChoice = Annotated[
    Annotated[str, AfterValidator(_known_client), Tag("client-name")]
    | Annotated[ExternalClientModel, Tag("client-description")],
    Discriminator(lambda v: "client-description" if isinstance(v, dict | ExternalClientModel) else "client-name"),
]
#: Parts of a validation error's location that name a branch of :data:`ClientChoice`, not a key.
CLIENT_TAGS = ("client-name", "client-description")


class _Section(_Strict):
    """What a producer and a consumer section share: the client and its settings."""

    client: ClientChoice = DEFAULT_CLIENT
    settings: dict[str, Scalar] = Field(default_factory=dict)
    #: Settings added for one client only (e.g. a client whose idempotent producer cannot take a fault).
    client_settings: dict[str, dict[str, Scalar]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _client_settings(self) -> Self:
        for name in self.client_settings:
            if name != self.client_name and name not in CLIENTS and described_client(name) is None:
                raise ValueError(
                    f"client_settings names no client {name!r}: use one of {', '.join(available_clients())}"
                )
        return self

    @property
    def client_name(self) -> str:
        """The client's name, whether the file names it or describes it."""
        return self.client.name if isinstance(self.client, ExternalClientModel) else self.client

    def external(self) -> ExternalClient | None:
        """The external client's description: the file's, or an installed client's (None: a built-in).

        Raises:
            UsageError: an installed client that cannot be loaded (loading checks this already).
        """
        if isinstance(self.client, ExternalClientModel):
            return self.client.described()
        return described_client(self.client)


class ProducerModel(_Section):
    """One producer process: delivery mode, client settings (Java names), rate and bound.

    Without ``count`` or ``duration`` it produces until the runner stops it after the settle phase.
    """

    mode: ProducerMode = "async"
    rate: float | None = Field(None, gt=0)
    count: int | None = Field(None, ge=1)
    duration: float | None = Field(None, gt=0)
    payload_size: int = Field(100, ge=0, le=1 << 20)
    keys: KeyStrategy = "spread"
    #: The transactional mode: records per transaction, and the fraction aborted on purpose.
    transaction_size: int = Field(100, ge=1, le=1_000_000)
    abort_ratio: float = Field(0.0, ge=0, le=1)


class ConsumerModel(_Section):
    """A consumer group of ``members`` processes with one commit strategy and client settings."""

    strategy: CommitStrategy = "after_process"
    members: int = Field(1, ge=1, le=8)
    batch_size: int = Field(200, ge=1)
    process_ms: int = Field(0, ge=0, le=60_000)
    #: A share group member (``strategy: share``) refuses every record whose seq is a multiple of this
    #: (0: none), as ``poison_ack`` says: ``release`` (given back until the delivery count limit) or
    #: ``reject`` (archived at once). Needs ``share.acknowledgement.mode: explicit``.
    poison_every: int = Field(0, ge=0)
    poison_ack: PoisonAck = "release"
    #: A consume-transform-produce group: each input record gives one record in this topic.
    output_topic: str | None = Field(None, pattern=r"^[A-Za-z0-9._-]{1,200}$")
    #: Producer settings (Java names) of the transformer's output.
    output_settings: dict[str, Scalar] = Field(default_factory=dict)


_S = TypeVar("_S", ProducerModel, ConsumerModel)


class Experiment(_Strict):
    """One experiment file."""

    name: str
    claim: str | None = None
    description: str = ""
    expected: str = ""
    tags: list[str] = Field(default_factory=list)
    cluster: ClusterModel = Field(default_factory=ClusterModel)
    topic: TopicModel = Field(default_factory=TopicModel)
    producer: ProducerModel = Field(default_factory=ProducerModel)
    consumer: ConsumerModel | None = None
    #: The team's own program, judged as a black box (:mod:`chaos.experiments.app_model`).
    application: ApplicationModel | None = None
    faults: list[FaultStepModel] = Field(default_factory=list)
    random_faults: RandomFaultsModel | None = None
    #: A long run with a fault every ``every`` s (docs/soak.md); its schedule is ``random_faults``.
    soak: SoakModel | None = None
    phases: PhasesModel = Field(default_factory=PhasesModel)
    expect: dict[str, int | str] = Field(default_factory=dict)
    isolation_level: Literal["read_uncommitted", "read_committed"] = "read_uncommitted"
    #: How every client of the run (workloads and drain) reaches the brokers: ``proxy`` through
    #: toxiproxy, ``direct`` to the brokers' own listeners. A property of the run, not of the cluster
    #: (every cluster serves both), so it sits here rather than in ``cluster:``, and one cluster
    #: serves runs of either path.
    client_path: ClientPath = "proxy"
    #: The Java client's release (kafka-clients), when not the cluster's; see docs/releases.md.
    client_version: Annotated[str, AfterValidator(check_kafka_version)] | None = None
    needs: NeedsModel | None = None
    known_bug: KnownBugModel | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        if not re.match(NAME_PATTERN, name):
            raise ValueError("must be lower-case letters, digits, '-', '_' or '.', starting with a letter or digit")
        return name

    @model_validator(mode="after")
    def _soaked(self) -> Self:
        """A soak's schedule becomes its ``random_faults`` (drawn) or its ``faults`` (repeated), and its
        duration the fault window (a file written back, ``experiment.yaml``, holds both, the same)."""
        if self.soak is None:
            return self
        window = self.soak.duration
        steps, drawn = ([], self.soak.random_faults()) if self.soak.schedule == "draw" else (self.soak.repeated(), None)
        if self.faults not in ([], steps) or self.random_faults not in (None, drawn):
            raise ValueError("a soak plays its own faults every `soak.every` s: drop faults and random_faults")
        if self.phases.fault_window not in (None, window):
            raise ValueError("a soak's fault window is its duration: drop phases.fault_window")
        if self.producer.count is not None or self.producer.duration is not None:
            raise ValueError(
                "a soak's producer runs for the soak's duration: drop producer.count and producer.duration"
            )
        object.__setattr__(self, "random_faults", drawn)
        object.__setattr__(self, "faults", steps)
        object.__setattr__(self, "phases", self.phases.model_copy(update={"fault_window": window}))
        return self

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: list[str]) -> list[str]:
        if bad := [tag for tag in tags if not re.match(NAME_PATTERN, tag)]:
            raise ValueError(f"tag {bad[0]!r} must be lower-case letters, digits, '-', '_' or '.'")
        return tags

    @property
    def topic_name(self) -> str:
        """The topic the workloads use."""
        return self.topic.name or self.name

    @property
    def java_release(self) -> str:
        """The release of the Java client's jars: ``client_version``, else the cluster's."""
        return self.client_version or self.cluster.kafka_version

    @property
    def workload_names(self) -> list[str]:
        """``producer-p0``, ``consumer-c0`` … ``consumer-c<members-1>`` and ``application-0`` …"""
        members = self.consumer.members if self.consumer else 0
        apps = self.application.instances if self.application else 0
        return ["producer-p0", *(f"consumer-c{i}" for i in range(members)), *(f"application-{i}" for i in range(apps))]

    @property
    def client(self) -> str:
        """The producer's client, or ``producer+consumer`` clients when they differ."""
        p = self.producer.client_name
        c = self.consumer.client_name if self.consumer else p
        return p if c == p else f"{p}+{c}"

    def for_client(self, client: str | None = None) -> Experiment:
        """This experiment with every workload on ``client`` (None: the file's own clients), each
        section's ``client_settings`` for its client merged into its settings."""

        def on(section: _S) -> _S:
            name = client or section.client_name
            extra = section.client_settings.get(name, {})
            chosen = section.client if name == section.client_name else name
            update = {"client": chosen, "settings": {**section.settings, **extra}, "client_settings": {}}
            return section.model_copy(update=update)

        producer = on(self.producer)
        consumer = on(self.consumer) if self.consumer is not None else None
        return self.model_copy(update={"producer": producer, "consumer": consumer})

    def anchored(self, base: Path) -> Experiment:
        """This experiment with its external clients' and team cluster's relative paths resolved against ``base``."""

        def at(section: _S) -> _S:
            if isinstance(section.client, ExternalClientModel):
                return section.model_copy(update={"client": section.client.anchored(base)})
            return section

        consumer = at(self.consumer) if self.consumer is not None else None
        cluster, ext = self.cluster, self.cluster.external
        if ext is not None:
            paths = {k: base / v for k in ("client_config", "ssh_config") if (v := getattr(ext, k)) is not None}
            cluster = cluster.model_copy(update={"external": ext.model_copy(update=paths)})
        return self.model_copy(update={"producer": at(self.producer), "consumer": consumer, "cluster": cluster})

    def on_release(self, kafka_version: str | None = None, client_version: str | None = None) -> Experiment:
        """This experiment on cluster release ``kafka_version`` with the Java client of
        ``client_version`` (None: the file's own)."""
        cluster = self.cluster.model_copy(update={"kafka_version": kafka_version or self.cluster.kafka_version})
        return self.model_copy(update={"cluster": cluster, "client_version": client_version or self.client_version})

    def on_path(self, client_path: ClientPath | None = None) -> Experiment:
        """This experiment with its clients on ``client_path`` (None: the file's own)."""
        return self if client_path is None else self.model_copy(update={"client_path": client_path})

    def expectations(self) -> list[Expectation]:
        """The parsed ``expect`` section."""
        return [parse_expectation(k, v) for k, v in self.expect.items()]

    def schedule_end(self) -> float:
        """When the last scheduled fault heals (0 without faults; random faults fill the window)."""
        ends = [s.at + (s.duration or 0.0) for s in self.faults]
        return max(ends, default=0.0)

    def fault_window(self) -> float:
        """Length of the fault phase in seconds."""
        if self.phases.fault_window is not None:
            return self.phases.fault_window
        if self.random_faults is not None:
            rf = self.random_faults
            return max(self.schedule_end(), rf.count * (rf.max_duration + rf.gap))
        return self.schedule_end()


def fault_params(
    step: FaultStepModel,
    topic: str,
    group: str | None = None,
    transactional_id: str | None = None,
    transactions_prefix: str | None = None,
) -> dict[str, object]:
    """A step's parameters with target selectors expanded to the experiment's topic (and its run's
    group and transactional id, or its application's prefix of them, once a plan knows them)."""
    return expand_targets(step.params, topic, group, transactional_id, transactions_prefix)
