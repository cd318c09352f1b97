"""The verdict: counts, loss by stage, anomalies, expectations, examples (the contract in docs/verdict.md).

The verdict is a frozen, typed model; ``verdict.json`` is its JSON form and reads back into the same
model (:meth:`Verdict.read`), so the oracle, the runner, the reporters and a CI job read one contract,
whose JSON Schema ``kafka-chaos schema verdict`` prints (docs/schemas/verdict.json).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator

from chaos.oracle.expectations import (
    METRICS,
    Expectation,
)
from chaos.oracle.rebalances import Rebalances, rebalance_metric
from chaos.oracle.share import ShareFindings
from chaos.oracle.share_figures import share_metric

#: The version of the verdict's JSON form; it changes when a field changes meaning or goes away.
SCHEMA_VERSION: Literal[1] = 1


class _Model(BaseModel):
    """A frozen part of the verdict's contract: unknown fields are an error, not ignored."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Counts(_Model):
    """What happened to the records, by fate (docs/verdict.md says what each counts)."""

    sent: int = Field(ge=0, description="records the application asked to send (its intents)")
    acked: int = Field(default=0, ge=0, description="records the client reported written at an offset")
    unconfirmed: int = Field(default=0, ge=0, description="records reported written with no offset (acks=0)")
    send_errors: int = Field(default=0, ge=0, description="records whose send failed and the application saw it")
    failed: int = Field(default=0, ge=0, description="sent records absent after an error the application saw")
    unknown: int = Field(default=0, ge=0, description="sent records absent whose fate no one can tell")
    in_log: int = Field(default=0, ge=0, description="distinct sent records the drain found")
    damaged: int = Field(default=0, ge=0, description="records whose acknowledged position holds a corrupted value")
    aborted: int = Field(default=0, ge=0, description="records of aborted transactions not in the log")
    expired: int = Field(default=0, ge=0, description="records processed by every group before retention removed them")
    superseded: int = Field(default=0, ge=0, description="compacted records replaced by a later one of their key")
    processed: int = Field(default=0, ge=0, description="distinct sent records some consumer processed")
    unprocessed: int = Field(default=0, ge=0, description="records in the log no group processed and none passed")
    overwritten_unread: int = Field(default=0, ge=0, description="records rewritten in place before a group read them")


class Loss(_Model):
    """Records lost, by the stage that lost them; ``null`` in a verdict that is not conclusive."""

    producer: int | None = Field(description="sent, never written, and the application went on")
    broker: int | None = Field(description="acknowledged (or unconfirmed with acks=0), and not in the log")
    consumer: int | None = Field(description="in the log, passed by a group's committed offset, never processed")

    def total(self) -> int | None:
        """The sum of the three stages (``None`` where the verdict withholds them)."""
        stages = (self.producer, self.broker, self.consumer)
        return None if any(v is None for v in stages) else sum(v or 0 for v in stages)


class Figures(_Model):
    """Records lost, by stage, as the oracle computed them."""

    producer: int
    broker: int
    consumer: int


class Transactions(_Model):
    """The figures of a run with transactional producers."""

    committed: int = 0
    aborted: int = 0
    unknown: int = 0
    committed_records: int = 0
    aborted_records: int = 0
    unknown_records: int = 0
    abandoned_records: int = 0
    aborted_processed: int = 0


class Transform(_Model):
    """The output topic of a consume-transform-produce member."""

    topic: str | None = None
    records: int = 0
    inputs_with_output: int = 0
    duplicate_outputs: int = 0
    outputs_of_no_input: int = 0


class EndToEnd(_Model):
    """How long inputs took to come out of the application (ms from the input's ack to its first
    output's append time)."""

    p50: float
    p99: float
    max: float
    records: int


class FaultLatency(_Model):
    """End-to-end latency of the inputs acknowledged before, during and after one fault."""

    fault: str
    kind: str | None
    before: EndToEnd | None = None
    during: EndToEnd | None = None
    after: EndToEnd | None = None


class Application(_Model):
    """The team's application judged as a black box (docs/applications.md)."""

    group: str
    output_topic: str
    correlate: dict[str, str]
    outputs: int
    uncorrelated: int
    uncorrelated_examples: list[dict[str, JsonValue]] = Field(default_factory=list)
    inputs_with_output: int
    without_output_in_log: int
    without_output_not_in_log: int
    duplicate_outputs: int
    latency_ms: EndToEnd | None = None
    latency_by_fault: list[FaultLatency] = Field(default_factory=list)
    reordered_outputs: int | None = Field(None, description="outputs out of their inputs' order per key (if asked)")
    reordered_examples: list[str] = Field(default_factory=list)
    logs: list[str] = Field(default_factory=list, description="the application's output, in the run directory")


class Latency(_Model):
    """Acknowledgement latency of the records of one window."""

    p50: float
    p99: float
    records: int


class Availability(_Model):
    """How one injected fault looked from the producers (docs/verdict.md, ``availability``)."""

    fault: str
    kind: str | None
    targets: JsonValue
    injected: float
    healed: float | None
    no_ack_s: float | None
    latency_ms: dict[Literal["before", "during", "after"], Latency | None]
    heal_to_full_isr_s: float | None
    basis: Literal["ack", "send"]


class Witness(_Model):
    """What Kafka's segment dump saw of a sample of the broker-lost records."""

    tool: str | None = None
    error: str | None = None
    checked: int | None = None
    gone_from_every_replica: int | None = None
    on_a_disk_not_in_the_log: int | None = None


class Trust(_Model):
    """What the verdict rests on; ``reasons`` says what is wrong when it is not conclusive."""

    conclusive: bool = True
    drain_complete: bool = True
    drain_contiguous: bool = True
    ledgers_intact: bool = True
    independent_count: bool | None = None
    witness: Witness | None = None
    reasons: list[str] = Field(default_factory=list)


class ExpectationResult(_Model):
    """One expectation of the experiment, judged."""

    name: str = Field(description="the expectation as written, e.g. 'broker_loss == 0'")
    passed: bool
    actual: int | None = Field(description="the metric's value; null where an inconclusive verdict withholds it")

    def sentence(self) -> str:
        """``expected broker_loss == 0, got 3``: how every report says a failed expectation."""
        return f"expected {self.name}, got {self.actual}"


class WorkloadOutcome(_Model):
    """How often a workload process started and was killed, and how it last exited."""

    starts: int
    kills: int
    exit_code: int | None


class Details(_Model):
    """What the run knew besides the figures: for diagnosis and reports, never judged."""

    producers: dict[str, str] = Field(default_factory=dict, description="producer id -> mode")
    groups: dict[str, list[str]] = Field(default_factory=dict, description="consumer group -> member ids")
    committed: dict[str, dict[str, int]] = Field(default_factory=dict, description="group -> partition -> offset")
    log_records: int = 0
    drain_complete: bool = False
    provisional_loss: Figures | None = Field(
        default=None, description="an inconclusive verdict's figures (diagnosis only)"
    )
    witness: list[dict[str, JsonValue]] | None = None
    client_path: Literal["proxy", "direct"] | None = None
    workloads: dict[str, WorkloadOutcome] | None = None
    recovered: str | None = Field(default=None, description="'yes', or why the cluster did not fully recover")
    seed: int | None = None
    seconds: float | None = None
    phases: list[dict[str, JsonValue]] | None = None
    cluster: str | None = Field(default=None, description="how the run got its cluster")
    judged_in: Literal["windows"] | None = Field(
        default=None,
        description="'windows': a soak's verdict summed from its windows, with no whole reconcile (docs/soak.md)",
    )


class Verdict(_Model):
    """What the oracle found in one run directory: the ``verdict.json`` contract.

    An inconclusive verdict (``trust.conclusive`` false: the drain did not read the whole log, a
    ledger is damaged) gives no loss figure: every stage is ``null``, every expectation fails with
    ``actual: null``, and the figures it could compute are kept, for diagnosis only, under
    ``details.provisional_loss``.
    """

    schema_version: Literal[1] = SCHEMA_VERSION
    run_id: str
    experiment: str
    passed: bool = Field(description="conclusive, and every expectation met")
    conclusive: bool
    counts: Counts
    loss: Loss
    causes: dict[str, dict[str, int]] = Field(default_factory=dict, description="stage -> cause -> records")
    anomalies: dict[str, int] = Field(description="anomaly -> cases (chaos.oracle.anomalies names each)")
    transactions: Transactions | None = None
    transform: Transform | None = None
    application: Application | None = None
    availability: list[Availability] = Field(default_factory=list)
    rebalances: list[Rebalances] = Field(
        default_factory=list, description="per consumer group with member ledgers: assignment changes and their cost"
    )
    share: list[ShareFindings] = Field(
        default_factory=list,
        description="per share group (KIP-932): what each record became, and what the broker did that it must not",
    )
    lost_sent: dict[str, list[list[int]]] = Field(
        default_factory=dict, description="stage -> [[epoch second the lost records were sent, records], ...]"
    )
    unknown_sent: list[list[int]] = Field(
        default_factory=list, description="[[epoch second records of unknown fate were sent, records], ...]"
    )
    trust: Trust = Field(default_factory=Trust)
    expectations: list[ExpectationResult] = Field(default_factory=list)
    examples: dict[str, list[dict[str, Any]]] = Field(
        default_factory=dict, description="a few records of each loss stage and anomaly"
    )
    details: Details = Field(default_factory=Details)

    @field_validator("transactions", "transform", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        """Verdicts written before there was a schema spelled "none" as ``{}``."""
        return None if value == {} else value

    @model_validator(mode="after")
    def _consistent(self) -> Verdict:
        """``conclusive`` is the trust block's word and ``passed`` follows from it and the
        expectations; a loss figure is stated only by a conclusive verdict."""
        if self.conclusive != self.trust.conclusive:
            raise ValueError("conclusive differs from trust.conclusive")
        if self.passed != (self.conclusive and all(e.passed for e in self.expectations)):
            raise ValueError("passed is not 'conclusive and every expectation met'")
        stated = (self.loss.producer, self.loss.broker, self.loss.consumer)
        if self.conclusive and None in stated:
            raise ValueError("a conclusive verdict states every stage's loss")
        if not self.conclusive and any(v is not None for v in stated):
            raise ValueError("an inconclusive verdict states no loss figure")
        return self

    @classmethod
    def build(
        cls,
        *,
        loss: dict[str, int],
        trust: Trust,
        expectations: list[ExpectationResult] | None = None,
        **fields: Any,
    ) -> Verdict:
        """A verdict from the oracle's figures: ``loss`` is withheld (kept as provisional) when
        ``trust`` is not conclusive, and ``passed`` follows from trust and expectations.

        Raises:
            pydantic.ValidationError: a field does not fit the contract (a bug of the caller).
        """
        figures = Figures(**loss)
        conclusive = trust.conclusive
        results = expectations or []
        details = Details.model_validate(fields.pop("details", {}))
        if not conclusive:  # no loss figure, so no cause or timeline of one either
            details = details.model_copy(update={"provisional_loss": figures})
            fields.update(causes={}, lost_sent={}, unknown_sent=[])
        return cls(
            loss=Loss(**figures.model_dump()) if conclusive else Loss(producer=None, broker=None, consumer=None),
            trust=trust,
            conclusive=conclusive,
            passed=conclusive and all(e.passed for e in results),
            expectations=results,
            details=details,
            **fields,
        )

    @property
    def figures(self) -> Figures:
        """Loss by stage as computed, also where the verdict withholds it (for diagnosis only)."""
        if self.details.provisional_loss is not None:
            return self.details.provisional_loss
        return Figures(producer=self.loss.producer or 0, broker=self.loss.broker or 0, consumer=self.loss.consumer or 0)

    @property
    def transaction_figures(self) -> Transactions:
        """The transactions' figures: zeros where the run had no transactional producer."""
        return self.transactions or Transactions()

    @property
    def transform_figures(self) -> Transform:
        """The output topic's figures: zeros where the run had no transformer."""
        return self.transform or Transform()

    def metric(self, name: str) -> int | None:
        """The value of an expectation metric (``None``: a loss figure an inconclusive verdict withholds)."""
        section, key = METRICS[name]
        if section == "loss":
            return self.loss.total() if key == "*" else getattr(self.loss, key)
        if section == "anomalies":
            return self.anomalies.get(key, 0)
        if section == "transactions":
            return int(getattr(self.transaction_figures, key))
        if section == "rebalances":
            return rebalance_metric(self.rebalances, key)
        if section == "share":
            return share_metric(self.share, key)
        value: int = getattr(getattr(self, section), key)
        return value

    def judged(self, expectations: list[Expectation]) -> Verdict:
        """This verdict with ``expectations`` evaluated (replacing earlier results)."""
        results = []
        for e in expectations:
            actual = self.metric(e.metric)
            results.append(ExpectationResult(name=e.name, passed=actual is not None and e.check(actual), actual=actual))
        return self.model_copy(
            update={"expectations": results, "passed": self.conclusive and all(r.passed for r in results)}
        )

    def with_details(self, **extra: object) -> Verdict:
        """This verdict with ``extra`` added to its details.

        Raises:
            pydantic.ValidationError: a detail that is not in the contract, or of the wrong type.
        """
        details = Details.model_validate({**self.details.model_dump(), **extra})
        return self.model_copy(update={"details": details})

    def with_trust(self, trust: Trust) -> Verdict:
        """This verdict with another trust block (the witness's summary added): it informs only."""
        return self.model_copy(update={"trust": trust})

    def failed_expectations(self) -> list[ExpectationResult]:
        """The expectations not met, in order."""
        return [e for e in self.expectations if not e.passed]

    def to_json(self) -> str:
        """The ``verdict.json`` text (keys sorted, so two verdicts of one run diff cleanly)."""
        return json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"

    @classmethod
    def read(cls, path: Path) -> Verdict:
        """A ``verdict.json`` read back.

        Raises:
            OSError: it cannot be read.
            pydantic.ValidationError: it is not a verdict of this contract.
        """
        return cls.model_validate_json(path.read_text())
