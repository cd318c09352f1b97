"""Workload specs: what a producer or consumer process is told to do (a JSON file it reads)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from chaos.errors import UsageError
from chaos.workloads.clients import DEFAULT_CLIENT, check_client, described_client
from chaos.workloads.external import ExternalClient
from chaos.workloads.jsonvalue import JsonObject
from chaos.workloads.names import (
    COMMIT_STRATEGIES,
    KEY_STRATEGIES,
    PRODUCER_MODES,
    CommitStrategy,
    KeyStrategy,
    PoisonAck,
    ProducerMode,
)
from chaos.workloads.protocol import DriverProtocol
from chaos.workloads.shape import InputShape

__all__ = [
    "COMMIT_STRATEGIES",
    "KEY_STRATEGIES",
    "PRODUCER_MODES",
    "CommitStrategy",
    "ConsumerSpec",
    "KeyStrategy",
    "PoisonAck",
    "ProducerMode",
    "ProducerSpec",
    "load_spec",
    "save_spec",
]

#: The producer modes that can write an application's input (:class:`InputShape`).
SHAPED_MODES = ("async", "sync", "fire_and_forget")
#: The clients whose producer writes an application's input.
SHAPED_CLIENTS = ("kafka-python", "librdkafka", "java")


@dataclass(frozen=True, slots=True)
class ProducerSpec:
    """One producer process.

    ``count`` and ``duration_s`` bound the run (whichever comes first; neither: until SIGTERM).
    ``rate`` is records per second (``None``: as fast as the client goes). ``keys``: ``spread``
    (key = sequence number, hashed over partitions), ``none`` (no key) or ``pinned`` (key = producer
    id: one partition). ``client``: which Kafka client runs it (:mod:`chaos.workloads.clients`);
    ``external``: how, when it is an external client (filled in for an installed one).
    ``protocol``: the driver protocol's tunables (:mod:`chaos.workloads.protocol`).
    """

    id: str
    topic: str
    bootstrap_servers: str
    run_id: str
    run_dir: str
    mode: ProducerMode = "async"
    settings: dict[str, str] = field(default_factory=dict)
    count: int | None = None
    duration_s: float | None = None
    rate: float | None = None
    payload_size: int = 100
    keys: KeyStrategy = "spread"
    close_timeout_s: float = 30.0
    client: str = DEFAULT_CLIENT
    transaction_size: int = 100
    abort_ratio: float = 0.0
    protocol: DriverProtocol = field(default_factory=DriverProtocol)
    external: ExternalClient | None = None
    #: An application's input: its value and key templates, the identity in a header
    #: (:mod:`chaos.workloads.shape`); None: the envelope as the value.
    shape: InputShape | None = None
    #: The team's client security settings file (:mod:`chaos.workloads.security`), read by the client
    #: where it runs: its path, never its secrets, is in the spec. None: PLAINTEXT.
    client_config: str | None = None

    @property
    def transactional_id(self) -> str:
        """The ``transactional.id`` of the transactional mode."""
        return self.settings.get("transactional.id") or self.protocol.transactional_id_of(self.run_id, self.id)

    def aborts(self, index: int) -> bool:
        """Whether transaction ``index`` (counted from 0 over the producer's restarts) is aborted on purpose.

        >>> spec = ProducerSpec("p0", "t", "", "r", "/tmp", abort_ratio=0.25)
        >>> [spec.aborts(i) for i in range(8)]
        [False, False, False, True, False, False, False, True]
        """
        return int((index + 1) * self.abort_ratio) > int(index * self.abort_ratio)

    def __post_init__(self) -> None:
        if self.mode not in PRODUCER_MODES:
            raise UsageError(f"producer mode {self.mode!r} is not one of {', '.join(PRODUCER_MODES)}")
        _describe(self, "producer", self.mode, None)
        if self.keys not in KEY_STRATEGIES:
            raise UsageError(f"producer keys {self.keys!r} is not one of {', '.join(KEY_STRATEGIES)}")
        if self.count is not None and self.count < 0:
            raise UsageError(f"producer count must be 0 or more, not {self.count}")
        if self.rate is not None and self.rate <= 0:
            raise UsageError(f"producer rate must be positive, not {self.rate}")
        if self.payload_size < 0:
            raise UsageError(f"payload size must be 0 or more, not {self.payload_size}")
        if self.transaction_size < 1:
            raise UsageError(f"transaction size must be at least 1, not {self.transaction_size}")
        if not 0.0 <= self.abort_ratio <= 1.0:
            raise UsageError(f"abort ratio must be between 0 and 1, not {self.abort_ratio}")
        if not self.id or any(c in self.id for c in ";/ \n"):
            raise UsageError(f"producer id {self.id!r} must be non-empty without ';', '/' or spaces")
        if self.shape is not None and self.mode not in SHAPED_MODES:
            raise UsageError(f"an application's input is written in mode {', '.join(SHAPED_MODES)}, not {self.mode}")


@dataclass(frozen=True, slots=True)
class ConsumerSpec:
    """One consumer group member process.

    ``batch_size`` is the application's own buffer (``minBatchSize`` in Kafka's consumer examples): records are
    processed when that many have been polled. ``process_ms`` is the time one batch takes to
    process. ``idle_exit_s``: exit cleanly after that long without a record (``None``: until SIGTERM).

    With ``output_topic`` the member is a consume-transform-produce application: processing a
    record is writing a derived record to ``output_topic`` (producer settings ``output_settings``).
    Strategy ``transactional`` (exactly once) writes each poll's outputs and commits its input
    offsets in one transaction; ``after_process`` (at least once) writes outputs as it polls and
    commits every ``batch_size`` records, after flushing them. ``protocol``: the driver protocol's
    tunables (:mod:`chaos.workloads.protocol`). ``external``: how the client runs, when it is an
    external one (filled in for an installed one).
    """

    id: str
    topic: str
    bootstrap_servers: str
    run_id: str
    run_dir: str
    group: str
    strategy: CommitStrategy = "after_process"
    settings: dict[str, str] = field(default_factory=dict)
    batch_size: int = 200
    process_ms: int = 0
    poison_every: int = 0
    poison_ack: PoisonAck = "release"
    poll_timeout_ms: int = 200
    idle_exit_s: float | None = None
    client: str = DEFAULT_CLIENT
    output_topic: str | None = None
    output_settings: dict[str, str] = field(default_factory=dict)
    protocol: DriverProtocol = field(default_factory=DriverProtocol)
    external: ExternalClient | None = None
    #: As :attr:`ProducerSpec.client_config`.
    client_config: str | None = None

    @property
    def transactional_id(self) -> str:
        """The ``transactional.id`` of an exactly-once transformer member."""
        return self.output_settings.get("transactional.id") or self.protocol.transactional_id_of(self.run_id, self.id)

    def __post_init__(self) -> None:
        if self.strategy not in COMMIT_STRATEGIES:
            raise UsageError(f"commit strategy {self.strategy!r} is not one of {', '.join(COMMIT_STRATEGIES)}")
        _describe(self, "consumer", self.strategy, self.output_topic)
        if self.output_topic is None and self.strategy == "transactional":
            raise UsageError(
                "commit strategy transactional commits offsets in an output transaction: give an output topic"
            )
        if self.output_topic is not None and self.strategy not in ("transactional", "after_process"):
            raise UsageError(
                f"a consume-transform-produce member commits transactional (exactly once) or after_process "
                f"(at least once), not {self.strategy}"
            )
        if self.output_topic == self.topic:
            raise UsageError(f"the output topic must differ from the input topic {self.topic}")
        if self.strategy == "share" or self.poison_every:
            _check_share(self)
        if self.batch_size < 1:
            raise UsageError(f"consumer batch size must be at least 1, not {self.batch_size}")
        if not self.id or any(c in self.id for c in ";/ \n"):
            raise UsageError(f"consumer id {self.id!r} must be non-empty without ';', '/' or spaces")


def _check_share(spec: ConsumerSpec) -> None:
    """A share group member runs on the Java client, and a poison record needs explicit acknowledgement.

    Raises:
        UsageError: another client or strategy, or a poison record acknowledged implicitly.
    """
    if spec.strategy != "share":
        raise UsageError(f"poison_every is for a share group member (strategy share), not strategy {spec.strategy}")
    if spec.client != "java":
        raise UsageError(
            f"a share group member (KIP-932) runs the Java client's KafkaShareConsumer, not {spec.client}: "
            "give client: java"
        )
    if spec.output_topic is not None:
        raise UsageError("a share group member writes no output topic: remove output_topic")
    if spec.poison_every and spec.settings.get("share.acknowledgement.mode") != "explicit":
        raise UsageError(
            "a poison record is released or rejected one by one: set share.acknowledgement.mode: explicit "
            "in the consumer's settings"
        )


def _describe(spec: ProducerSpec | ConsumerSpec, role: str, choice: str, output_topic: str | None) -> None:
    """Fill in an installed client's description, and check the client offers ``choice``.

    Raises:
        UsageError: an unknown client, a description of another name, or a mode or strategy the
            client does not offer.
    """
    external = described_client(spec.client, spec.external)
    if external is None:
        check_client(spec.client)
        return
    if external.name != spec.client:
        raise UsageError(f"the spec's client {spec.client} is described as {external.name}: give one name")
    external.offers(role, choice, output_topic)
    object.__setattr__(spec, "external", external)  # a frozen spec, completed once, as it is built


def save_spec(spec: ProducerSpec | ConsumerSpec, path: Path) -> None:
    """Write a spec as JSON for the workload process to read, with its ``"protocol"`` object (what a
    driver must not copy, :meth:`DriverProtocol.to_json`), and ``"external"`` for an external client."""
    path.parent.mkdir(parents=True, exist_ok=True)
    kind = "producer" if isinstance(spec, ProducerSpec) else "consumer"
    raw = {"kind": kind, **asdict(spec), "protocol": spec.protocol.to_json()}
    if spec.external is None:
        del raw["external"]
    path.write_text(json.dumps(raw, indent=2, sort_keys=True))


def load_spec(path: Path) -> ProducerSpec | ConsumerSpec:
    """Read a spec written by :func:`save_spec`.

    Raises:
        UsageError: unreadable or not a spec, or its ``"protocol"`` is not this harness's.
    """
    try:
        raw: JsonObject = json.loads(path.read_text())
        kind = raw.pop("kind")
        if "protocol" in raw:
            raw["protocol"] = DriverProtocol.from_json(raw["protocol"])
        if raw.get("external") is not None:
            raw["external"] = ExternalClient.from_json(raw["external"])
        if raw.get("shape") is not None:
            raw["shape"] = InputShape(**raw["shape"])
        return ProducerSpec(**raw) if kind == "producer" else ConsumerSpec(**raw)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UsageError(f"{path} is not a workload spec: {e}") from e
