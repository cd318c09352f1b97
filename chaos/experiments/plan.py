"""Planning: an experiment becomes a :class:`Plan` — topic, consumer groups, workload specs, fault
steps (a random schedule drawn from the seed), phase budgets and expectations — without Docker.

The plan is all the executor (:mod:`chaos.experiments.executor`) needs besides a running cluster,
and what ``kafka-chaos run`` would do can be read (and tested) before anything starts.

>>> from chaos.experiments.model import Experiment
>>> exp = Experiment.model_validate({"name": "b1", "producer": {"count": 10, "settings": {"acks": 0}},
...     "faults": [{"kind": "broker_kill", "target": "leader", "at": 2, "duration": 5}]})
>>> plan = plan_experiment(exp, run_id="r1", run_dir=Path("/tmp/r1"))
>>> plan.topic.name, plan.producers[0].settings, plan.faults[0].params, plan.window, plan.client_path
('b1', {'acks': '0'}, {'target': 'leader:b1:0'}, 7.0, 'proxy')
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from chaos.cluster.config import ClientPath
from chaos.experiments.cluster_model import as_properties
from chaos.experiments.model import Experiment, fault_params
from chaos.experiments.soak_release import SEGMENT_S, releases, retention_s
from chaos.faults.backends import CLIENT_NETWORK_KINDS
from chaos.faults.base import make_fault
from chaos.faults.schedule import RANDOM_KINDS, Step, random_schedule
from chaos.faults.targets import expand_targets
from chaos.workloads.application import AppSpec
from chaos.workloads.protocol import DriverProtocol
from chaos.workloads.spec import ConsumerSpec, ProducerSpec

#: Workload specs in a plan carry this instead of the bootstrap address, which is only known once
#: the cluster runs; :meth:`Plan.bind` fills it in (the address of the plan's client path).
UNBOUND = ""


@dataclass(frozen=True, slots=True)
class TopicPlan:
    """The topic the workloads use, created before they start."""

    name: str
    partitions: int = 3
    replication_factor: int = 3
    config: dict[str, str] = field(default_factory=dict)

    @property
    def compacted(self) -> bool:
        """Whether Kafka's cleaner compacts it (``cleanup.policy`` ``compact`` or ``compact,delete``)."""
        return "compact" in str(self.config.get("cleanup.policy", ""))


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """Inject fault ``kind`` (parameters with targets expanded) at ``at`` s; heal ``duration`` s later."""

    kind: str
    name: str
    params: dict[str, object]
    at: float
    duration: float | None


@dataclass(frozen=True, slots=True)
class Budgets:
    """How long each phase lasts or may take, in seconds (``docs/phases.md``)."""

    warmup: float = 5.0
    steady_timeout: float = 90.0
    window: float = 0.0
    heal_timeout: float = 120.0
    settle: float = 5.0
    stop_timeout: float = 90.0
    consume_timeout: float = 90.0
    consume_quiet: float = 3.0
    drain_timeout: float = 180.0


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything one run does, as data."""

    name: str
    run_id: str
    run_dir: Path
    topic: TopicPlan
    producers: tuple[ProducerSpec, ...]
    consumers: tuple[ConsumerSpec, ...] = ()
    faults: tuple[FaultPlan, ...] = ()
    budgets: Budgets = field(default_factory=Budgets)
    expect: dict[str, int | str] = field(default_factory=dict)
    isolation_level: str = "read_uncommitted"
    seed: int = 0
    #: acks=0: no acknowledgement will ever come, so the steady phase does not wait for one.
    expects_acks: bool = True
    #: How every workload and the drain reach the brokers: through toxiproxy or directly.
    client_path: ClientPath = "proxy"
    #: The team's application, judged as a black box (None: the run has none).
    application: AppSpec | None = None
    #: The Java client's release, when the file names one (None: the cluster's).
    java_release: str | None = None
    #: A soak's window in seconds (docs/soak.md): watched and reported per window (None: no soak).
    soak_window: float | None = None
    #: A soak's verdict: its judged windows' sum, or the whole run's reconcile (docs/soak.md).
    soak_verdict: Literal["windows", "whole"] = "whole"
    #: Judged windows' ledger rows released, and a retention on the topic (a soak whose verdict can be
    #: its windows', ``ledgers: release``: :func:`chaos.experiments.soak_release.releases`).
    soak_release: bool = False

    @property
    def window(self) -> float:
        """Length of the fault phase."""
        return self.budgets.window

    @property
    def groups(self) -> list[str]:
        """The consumer groups whose committed offsets the drain reads (the application's too)."""
        apps = {self.application.group} if self.application is not None else set()
        # a share group has no committed offsets: it acknowledges records (chaos.oracle.share)
        return sorted({c.group for c in self.consumers if c.strategy != "share"} | apps)

    @property
    def workloads(self) -> tuple[ProducerSpec | ConsumerSpec, ...]:
        """Every workload spec, consumers first (the order they start in: none misses a record)."""
        specs: list[ProducerSpec | ConsumerSpec] = [*self.consumers, *self.producers]
        return tuple(specs)

    @property
    def namespaces(self) -> bool:
        """Whether its workloads run in network namespaces of their own: it has a client network fault."""
        return any(f.kind in CLIENT_NETWORK_KINDS for f in self.faults)

    @property
    def bounded(self) -> bool:
        """Whether the producers stop by themselves (a count or a duration)."""
        return all(p.count is not None or p.duration_s is not None for p in self.producers)

    def bind(self, bootstrap_servers: str, client_config: Path | None = None) -> Plan:
        """The plan with the cluster's bootstrap address (of :attr:`client_path`) in every workload
        spec, and the path of the clients' security settings file (None: PLAINTEXT)."""
        config = str(client_config) if client_config is not None else None
        return replace(
            self,
            producers=tuple(
                replace(p, bootstrap_servers=bootstrap_servers, client_config=config) for p in self.producers
            ),
            consumers=tuple(
                replace(c, bootstrap_servers=bootstrap_servers, client_config=config) for c in self.consumers
            ),
            application=replace(self.application, bootstrap_servers=bootstrap_servers) if self.application else None,
        )


def group_name(experiment: str, run_id: str) -> str:
    """The consumer group of an experiment's run.

    >>> group_name("c1", "20261127-120000-ab12")
    'kc-c1-ab12'
    """
    return f"kc-{experiment}-{run_id[-4:]}"


def transactional_id(producer: ProducerSpec, consumers: list[ConsumerSpec]) -> str | None:
    """The transactional id a ``transaction_coordinator`` target names: the producer's in the
    transactional mode, else the first exactly-once member's (None: the run has no transactions)."""
    if producer.mode == "transactional":
        return producer.transactional_id
    members = [c for c in consumers if c.strategy == "transactional"]
    return members[0].transactional_id if members else None


def plan_experiment(exp: Experiment, run_id: str, run_dir: Path, seed: int = 0, namespace: str = "") -> Plan:
    """The plan of one run of ``exp``; ``namespace`` starts the name of every topic and group it
    creates (a run on a team's cluster keeps to the harness's own names).

    Raises:
        UsageError: random faults that do not fit in the window (loading checks this already).
    """
    topic = namespace + exp.topic_name
    group = namespace + group_name(exp.name, run_id)
    # Transactional ids too keep to the namespace: another's id would fence the producer holding it.
    protocol = DriverProtocol(transactional_id=namespace + "{id}") if namespace else DriverProtocol()
    consumers: list[ConsumerSpec] = []
    if exp.consumer is not None:
        c = exp.consumer
        consumers = [
            ConsumerSpec(
                id=f"c{i}",
                group=group,
                strategy=c.strategy,
                client=c.client_name,
                external=c.external(),
                settings=as_properties(c.settings),
                batch_size=c.batch_size,
                process_ms=c.process_ms,
                poison_every=c.poison_every,
                poison_ack=c.poison_ack,
                output_topic=namespace + c.output_topic if c.output_topic else None,
                output_settings=as_properties(c.output_settings),
                protocol=protocol,
                topic=topic,
                bootstrap_servers=UNBOUND,
                run_id=run_id,
                run_dir=str(run_dir),
            )
            for i in range(c.members)
        ]
    p = exp.producer
    producer = ProducerSpec(
        id="p0",
        mode=p.mode,
        client=p.client_name,
        external=p.external(),
        settings=as_properties(p.settings),
        count=p.count,
        duration_s=p.duration,
        rate=p.rate,
        payload_size=p.payload_size,
        keys=p.keys,
        transaction_size=p.transaction_size,
        abort_ratio=p.abort_ratio,
        shape=exp.application.input.shape() if exp.application is not None else None,
        protocol=protocol,
        topic=topic,
        bootstrap_servers=UNBOUND,
        run_id=run_id,
        run_dir=str(run_dir),
    )
    window = exp.fault_window()
    txn_id = transactional_id(producer, consumers)
    app = exp.application.spec(topic, f"{group}-app", run_id, run_dir) if exp.application else None
    prefix = app.group if app is not None else None  # an application's transactional ids: its own
    faults = [
        FaultPlan(s.kind, s.name or f"{s.kind}-{i}", fault_params(s, topic, group, txn_id, prefix), s.at, s.duration)
        for i, s in enumerate(exp.faults)
    ]
    if exp.random_faults is not None:
        rf = exp.random_faults
        kinds = [expand_targets(kind, topic, group, txn_id, prefix) for kind in rf.kinds or RANDOM_KINDS]
        # a drawing soak's slots are its periods, a whole number of them (the window's rest: no fault)
        span = exp.soak.periods * exp.soak.every if exp.soak is not None else window
        for step in random_schedule(seed, span, rf.count, rf.min_duration, rf.max_duration, kinds, rf.gap):
            faults.append(FaultPlan(step.fault.kind, step.fault.name, dict(step.fault.p), step.at, step.duration))
    ph = exp.phases
    return Plan(
        name=exp.name,
        run_id=run_id,
        run_dir=Path(run_dir),
        topic=TopicPlan(topic, exp.topic.partitions, exp.topic.replication_factor, _topic_config(exp)),
        producers=(producer,),
        consumers=tuple(consumers),
        faults=tuple(faults),
        budgets=Budgets(
            warmup=ph.warmup,
            steady_timeout=ph.steady_timeout,
            window=window,
            heal_timeout=ph.heal_timeout,
            settle=ph.settle,
            stop_timeout=ph.stop_timeout,
            consume_timeout=ph.consume_timeout,
            consume_quiet=ph.consume_quiet,
            drain_timeout=ph.drain_timeout,
        ),
        expect=dict(exp.expect),
        java_release=exp.client_version,
        isolation_level=exp.isolation_level,
        seed=seed,
        expects_acks=str(producer.settings.get("acks", "all")) != "0",
        client_path=exp.client_path,
        application=app,
        soak_window=exp.soak.window_s if exp.soak is not None else None,
        soak_verdict=exp.soak.verdict if exp.soak is not None else "whole",
        soak_release=releases(exp),
    )


def fault_steps(plan: Plan) -> list[Step]:
    """The plan's fault steps as faults to play.

    Raises:
        UsageError: a fault's parameters are malformed (loading checks this already).
    """
    return [Step(f.at, make_fault(f.kind, name=f.name, **f.params), f.duration) for f in plan.faults]


def _topic_config(exp: Experiment) -> dict[str, str]:
    """The topic's settings: the file's, and a releasing soak's retention (docs/soak.md)."""
    config = as_properties(exp.topic.config)
    retention = retention_s(exp)
    if retention is not None:
        config = {"retention.ms": str(int(retention * 1000)), "segment.ms": str(int(SEGMENT_S * 1000))} | config
    return config
