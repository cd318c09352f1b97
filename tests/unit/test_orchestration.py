"""The executor and the nemesis without Docker: a fake cluster, fake workload processes and faults
that only write down what was done to them, so the order of the phases (``docs/phases.md``), the
healing on an error and on SIGTERM, the lifecycle events and a phase over its budget are checked in
milliseconds. What really happens to a broker is the integration tier's."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import FrameType
from typing import ClassVar, cast

import pytest

from chaos import rundir
from chaos.cluster import KafkaCluster
from chaos.errors import Interrupted
from chaos.events import Event, EventBus, FaultHappened, Note, PhaseEnded, PhaseStarted
from chaos.experiments.executor import Execution
from chaos.experiments.phased import execute
from chaos.experiments.phases import Phases, PhaseTimeout
from chaos.experiments.plan import UNBOUND, Budgets, FaultPlan, Plan, TopicPlan
from chaos.faults.base import REGISTRY, Fault, FaultContext
from chaos.oracle.verdict import Verdict
from chaos.workloads.process import WorkloadProcess
from chaos.workloads.security import PLAINTEXT
from chaos.workloads.spec import ConsumerSpec, ProducerSpec
from chaos.workloads.totals import Totals

#: What was done, in order: ``"verb subject"`` (``"inject f1"``, ``"stop producer-p0"``).
Journal = list[str]


@dataclass
class FakeCluster:
    """A running cluster as the executor uses it: a topic, its ISR, both client paths."""

    journal: Journal
    run_id: str = "20261205-000000-fake"
    nodes: tuple[object, ...] = ()
    brokers: tuple[object, ...] = ()
    security = PLAINTEXT

    def bootstrap(self, client_path: str = "proxy") -> str:
        return f"{client_path}:9092"

    def admin_call(self, fn: object, attempts: int = 3) -> object:
        raise RuntimeError("this fake has no admin")

    def create_topic(self, name: str, *args: object) -> None:
        self.journal.append(f"create_topic {name}")

    def wait_for_isr(self, topic: str, replication_factor: int, timeout: float) -> None:
        self.journal.append(f"wait_for_isr {topic}")

    def wait_offsets_ready(self, timeout: float = 60.0) -> None:
        self.journal.append("wait_offsets_ready")

    def partitions(self, topic: str, attempts: int = 3) -> list[object]:
        return []

    def broker_views(self, topic: str) -> list[object]:
        return []


class FakeProcess(WorkloadProcess):
    """A workload that runs until it is stopped or killed, spawning nothing; a consumer has polled
    from the start."""

    def __init__(self, spec: ProducerSpec | ConsumerSpec, journal: Journal) -> None:
        super().__init__(spec)
        self.journal = journal
        self.running = False

    @property
    def alive(self) -> bool:
        return self.running

    def start(self) -> None:
        self.journal.append(f"start {self.name}")
        self.running, self.starts = True, self.starts + 1
        if self.kind == "consumer":
            ledgers = Path(self.spec.run_dir) / rundir.LEDGERS
            ledgers.mkdir(parents=True, exist_ok=True)
            (ledgers / f"{self.name}.polled").write_text("1")

    def kill(self) -> None:
        if self.running:
            self.journal.append(f"kill {self.name}")
            self.running, self.kills = False, self.kills + 1

    def stop(self, timeout: float = 60.0) -> int | None:
        self.journal.append(f"stop {self.name}")
        self.running = False
        return 0


def fake_execution(journal: Journal, acks: bool = True) -> type[Execution]:
    """An :class:`Execution` whose workloads are :class:`FakeProcess` es, whose totals rise at every
    look (acks only if ``acks``) and whose drain reads nothing: the judge finds an inconclusive run."""

    class FakeExecution(Execution):
        looks = 0

        def new_process(self, spec: ProducerSpec | ConsumerSpec) -> WorkloadProcess:
            return FakeProcess(spec, journal)

        def totals(self, distinct: bool = False) -> Totals:
            self.looks += 1
            n = 100 * self.looks
            return Totals(sent=n, acked=n if acks else 0, polled=n, processed=n)

        def drain(self, groups: object, isolation_level: str = "", timeout: float = 0.0) -> None:
            journal.append("drain")
            (self.run_dir / rundir.LEDGERS).mkdir(exist_ok=True)
            (self.run_dir / rundir.DRAIN).mkdir(exist_ok=True)
            (self.run_dir / rundir.DRAIN / rundir.DRAIN_META).write_text("{}")

    return FakeExecution


class Recording(Fault):
    """A fault that writes down its inject, verify and heal in :attr:`journal`."""

    kind = "recording"
    journal: ClassVar[Journal] = []

    def _inject(self, ctx: FaultContext) -> None:
        self.journal.append(f"inject {self.name}")

    def _verify(self, ctx: FaultContext) -> None:
        self.journal.append(f"verify {self.name}")

    def _heal(self, ctx: FaultContext) -> None:
        self.journal.append(f"heal {self.name}")


class Failing(Recording):
    """A fault whose inject fails (what it applied is healed at once)."""

    kind = "failing"

    def _inject(self, ctx: FaultContext) -> None:
        super()._inject(ctx)
        raise RuntimeError("no such broker")


class Terminated(Recording):
    """A fault during whose verification the harness is sent SIGTERM (``kill PID``)."""

    kind = "terminated"

    def _verify(self, ctx: FaultContext) -> None:
        super()._verify(ctx)
        os.kill(os.getpid(), signal.SIGTERM)


@dataclass
class Run:
    """One execution of a plan on the fakes: what was done, and what was announced."""

    tmp_path: Path
    journal: Journal = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    def plan(self, *faults: FaultPlan) -> Plan:
        run_dir = str(self.tmp_path)
        budgets = Budgets(warmup=0.05, steady_timeout=1.0, window=0.0, settle=0.05, consume_timeout=0.05)
        return Plan(
            "orchestration",
            "r1",
            self.tmp_path,
            TopicPlan("t"),
            producers=(ProducerSpec("p0", "t", UNBOUND, "r1", run_dir),),  # unbounded: stopped by the harness
            consumers=(ConsumerSpec("c0", "t", UNBOUND, "r1", run_dir, group="g"),),
            faults=faults,
            budgets=budgets,
        )

    def __call__(self, plan: Plan, acks: bool = True) -> Verdict:
        bus = EventBus([self.events.append])
        cluster = cast("KafkaCluster", FakeCluster(self.journal))
        return execute(
            plan, cluster, Phases(self.tmp_path, bus, "x"), bus, execution=fake_execution(self.journal, acks)
        )

    @property
    def phases(self) -> list[tuple[str, bool]]:
        """Each phase of ``phases.json``, with whether it passed."""
        return [(p["name"], p["ok"]) for p in json.loads((self.tmp_path / rundir.PHASES).read_text())]

    def announced(self) -> list[str]:
        """The events, as ``kind subject`` (a phase's name or a fault's, and the fault event)."""
        out = []
        for e in self.events:
            match e:
                case PhaseStarted(phase=phase):
                    out.append(f"{e.kind} {phase}")
                case PhaseEnded(phase=phase, ok=ok):
                    out.append(f"{e.kind} {phase}" + ("" if ok else " failed"))
                case FaultHappened(fault=fault, event=event):
                    out.append(f"{self._fault_kind(event)} {fault} {event}")
        return out

    @staticmethod
    def _fault_kind(event: str) -> str:
        return {"inject": "fault_injected", "heal": "fault_healed"}.get(event, "fault_event")


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    made = Run(tmp_path)
    monkeypatch.setattr(Recording, "journal", made.journal)
    for kind in (Recording, Failing, Terminated):
        monkeypatch.setitem(REGISTRY, kind.kind, kind)
    yield made


def fault(name: str, kind: str = "recording", at: float = 0.0, duration: float | None = None) -> FaultPlan:
    return FaultPlan(kind, name, {}, at, duration)


def test_the_phases_run_in_the_documented_order_and_each_step_where_it_belongs(run: Run) -> None:
    verdict = run(run.plan(fault("f1", duration=0.01), fault("f2", at=0.02)))
    assert run.phases == [
        ("topic", True),
        ("workloads", True),
        ("steady", True),
        ("faults", True),
        ("heal", True),
        ("settle", True),
        ("stop", True),
        ("drain", True),
        ("reconcile", True),
    ]
    assert run.journal == [
        "create_topic t",
        "wait_offsets_ready",  # a consumer's first commits never race the offsets topic's creation
        "start consumer-c0",  # consumers first: none misses the first records
        "start producer-p0",
        "inject f1",
        "verify f1",
        "heal f1",  # its duration is over
        "inject f2",
        "verify f2",
        "heal f2",  # no duration: the heal phase heals it
        "wait_for_isr t",
        "stop producer-p0",  # producers first, then the consumers catch up
        "stop consumer-c0",
        "drain",
    ]
    workloads = verdict.details.workloads
    assert workloads is not None and workloads["producer-p0"].starts == 1
    assert not (run.tmp_path / rundir.VERDICT).exists(), "the runner writes verdict.json, once, with its own details"


def test_the_lifecycle_events_follow_the_phases_and_the_faults(run: Run) -> None:
    run(run.plan(fault("f1")))
    started_and_ended = [[f"phase_started {p}", f"phase_ended {p}"] for p in ("topic", "workloads", "steady")]
    assert run.announced() == [
        *(e for pair in started_and_ended for e in pair),
        "phase_started faults",
        "fault_injected f1 inject",
        "fault_event f1 verified",
        "phase_ended faults",
        "phase_started heal",
        "fault_healed f1 heal",
        "phase_ended heal",
        *(e for p in ("settle", "stop", "drain", "reconcile") for e in (f"phase_started {p}", f"phase_ended {p}")),
    ]


def test_an_active_fault_is_healed_when_a_later_step_fails(run: Run) -> None:
    with pytest.raises(RuntimeError, match="no such broker"):
        run(run.plan(fault("f1"), fault("f2", kind="failing", at=0.01)))
    assert run.journal[-5:] == [
        "inject f2",
        "heal f2",  # a fault heals what it half applied
        "heal f1",  # the nemesis heals the one still active
        "kill consumer-c0",
        "kill producer-p0",
    ]
    assert run.phases[-1] == ("faults", False)
    assert "fault_healed f1 heal" in run.announced()


def test_a_fault_active_when_sigterm_arrives_is_healed_and_the_run_ends(run: Run) -> None:
    # Without the harness's own handler SIGTERM is only written down here: it must not kill pytest.
    unhandled: list[int] = []

    def note(signum: int, frame: FrameType | None) -> None:
        unhandled.append(signum)

    previous = signal.signal(signal.SIGTERM, note)
    try:
        with pytest.raises(Interrupted) as stopped:
            run(run.plan(fault("f1"), fault("f2", kind="terminated", at=0.01)))
        assert signal.getsignal(signal.SIGTERM) is note  # the harness's handler is gone again
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert stopped.value.signum == signal.SIGTERM and not unhandled
    assert run.journal[-5:] == ["verify f2", "heal f2", "heal f1", "kill consumer-c0", "kill producer-p0"]
    assert run.phases[-1] == ("faults", False)  # nothing ran after it: no drain of a half-run
    assert "drain" not in run.journal


def test_a_phase_over_its_budget_fails_naming_the_phase(run: Run) -> None:
    plan = run.plan(fault("f1"))
    with pytest.raises(PhaseTimeout, match="first acknowledged records"):
        run(replace(plan, budgets=replace(plan.budgets, steady_timeout=0.1)), acks=False)
    assert run.phases[-1] == ("steady", False)
    ended = [e for e in run.events if isinstance(e, PhaseEnded)][-1]
    assert (ended.phase, ended.ok) == ("steady", False)
    assert ended.error is not None and ended.error.startswith("PhaseTimeout: timed out after 0.1 s")
    assert "inject f1" not in run.journal
    assert run.journal[-2:] == ["kill consumer-c0", "kill producer-p0"]


def test_a_bounded_producer_still_running_at_its_stop_budget_is_stopped_and_a_note_says_so(run: Run) -> None:
    plan = run.plan()
    budgets = replace(plan.budgets, stop_timeout=0.05)
    run(replace(plan, producers=tuple(replace(p, count=10) for p in plan.producers), budgets=budgets))
    notes = [e.text for e in run.events if isinstance(e, Note)]
    assert notes == ["timed out after 0.05 s waiting for the bounded producers to finish; stopping them"]
    assert run.journal[-3:] == ["stop producer-p0", "stop consumer-c0", "drain"]


def test_the_runner_writes_the_verdict_once_with_every_detail_also_when_interrupted_in_teardown(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fake workload never exits (exit code None), and Ctrl-C comes while the cluster is torn down,
    # after the verdict: verdict.json is still written, with the executor's and the runner's details.
    from chaos.experiments.loading import load_experiment
    from chaos.experiments.runner import ExperimentRun, RunOptions

    plan = run.plan(fault("f1", duration=0.01))

    def fake_execute(_plan: Plan, cluster: KafkaCluster, phases: Phases, bus: EventBus, status_every: float) -> Verdict:
        return execute(plan, cluster, phases, bus, execution=fake_execution(run.journal))

    def interrupted_teardown(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("chaos.experiments.runner.execute", fake_execute)
    monkeypatch.setattr(ExperimentRun, "_teardown", interrupted_teardown)
    path = run.tmp_path / "e.yaml"
    path.write_text("name: x\nproducer: {rate: 10}\n")
    runner = ExperimentRun(
        load_experiment(path), run.tmp_path / "run", RunOptions(), cluster=cast("KafkaCluster", FakeCluster([]))
    )
    with pytest.raises(KeyboardInterrupt):
        runner.run()
    written = Verdict.read(run.tmp_path / "run" / rundir.VERDICT)
    workloads = written.details.workloads
    assert workloads is not None and workloads["producer-p0"].exit_code is None
    assert written.details.seconds is not None and written.details.phases and written.details.client_path == "proxy"
