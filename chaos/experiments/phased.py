"""Driving a :class:`~chaos.experiments.plan.Plan` phase by phase through an
:class:`~chaos.experiments.executor.Execution`'s verbs (``kafka-chaos run``, validate's matrix,
``run_experiment``): topic, workloads, steady, faults, heal, settle, stop, drain, reconcile.

Phases and their budgets are written down in ``docs/phases.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from chaos import rundir
from chaos.cluster import KafkaCluster
from chaos.cluster.node import Node
from chaos.errors import InfrastructureError
from chaos.events import EventBus, Note
from chaos.experiments.executor import Execution
from chaos.experiments.phases import Phases, StatusTicker
from chaos.experiments.plan import Plan, fault_steps
from chaos.experiments.soak_judging import SoakJudging, settle_s, unjudgeable
from chaos.experiments.soak_watch import Resources, SoakWatch
from chaos.experiments.steady import steady, wait_flowing
from chaos.experiments.watches import Watches, topic_watches
from chaos.oracle import Verdict
from chaos.oracle.windows_verdict import not_from_windows
from chaos.workloads.cpu import Accrued, own_cpu, processes_cpu
from chaos.workloads.released import any_released
from chaos.workloads.spec import ConsumerSpec
from chaos.workloads.tally import LedgerTally


def execute(
    plan: Plan,
    cluster: KafkaCluster,
    phases: Phases,
    bus: EventBus,
    status_every: float = 0.0,
    execution: type[Execution] = Execution,
) -> Verdict:
    """Run ``plan`` on the running ``cluster``, phase by phase, and return its verdict.

    Every fault is healed and every workload killed whatever happens; the cluster is left running.
    ``execution`` is what runs the verbs (a test's, with fake workload processes).

    Raises:
        ChaosError: a phase failed (PhaseTimeout, ClusterUnhealthy, FaultError, drain errors…).
    """
    b = plan.budgets
    with execution(
        cluster,
        plan.run_dir,
        plan.topic,
        run_id=plan.run_id,
        seed=plan.seed,
        bus=bus,
        label=phases.label,
        client_path=plan.client_path,
        namespaces=plan.namespaces,
    ) as ex:
        plan, ex.java_release = plan.bind(ex.bootstrap, cluster.security.path), plan.java_release
        t = plan.topic
        with phases.phase("topic", f"{t.name}: {t.partitions} partitions, RF {t.replication_factor}"):
            ex.create_topic(groups=any(isinstance(spec, ConsumerSpec) for spec in plan.workloads))
        path = "direct to the brokers, no proxy" if plan.client_path == "direct" else "through toxiproxy"
        with phases.phase("workloads", f"clients {path}"):
            for spec in plan.workloads:
                ex.add(spec)
            if plan.application is not None:
                ex.add_application(plan.application).start()  # and waits until it joined its group
            ex.start_all()
        ticker = StatusTicker(phases, ex.totals, lambda: [f.name for f in ex.nemesis.active], status_every)
        ticker.start()
        isr = topic_watches(cluster.partitions, cluster.broker_views, t, ex.timeline, ex.run_dir)
        judging = None
        if plan.soak_window is not None:
            why_not = unjudgeable(plan.workloads, plan.application is not None, t.compacted)
            settle = settle_s(plan.workloads, plan.soak_window)
            # planned only where a sum of windows can be the verdict at all (its topic has a retention too)
            judging = SoakJudging(ex.brokers, t.name, plan.run_id, ex.run_dir, settle, why_not, plan.soak_release)
            soak = soak_watch(
                plan.soak_window,
                ex.run_dir,
                lambda: cluster.brokers,
                lambda: [f.name for f in ex.nemesis.active],
                lambda text: phases.bus.emit(Note(run=phases.label, text=text)),
                judging.mark,
            )
            isr = Watches(isr, soak)
        producers = ex.workloads("producer")
        try:
            with phases.phase("steady", f"first acks, then until they flow, {b.warmup:g} s at most"):
                steady(ex.totals, producers, ex.run_dir / rundir.LEDGERS, plan)
                if ex.app is not None:
                    ex.app.wait_consuming()
            if judging is not None:
                judging.start()
            isr.start()
            with phases.phase("faults", f"{b.window:g} s window"):
                ex.play(fault_steps(plan), b.window)
            with phases.phase("heal"):
                errors = ex.heal_all()
                if errors:
                    raise InfrastructureError(f"healing failed: {'; '.join(errors)}")
                ex.recover(b.heal_timeout)
                isr.stop()
            with phases.phase("settle", f"until acks resume, {b.settle:g} s at most"):
                wait_flowing(ex.totals, producers, bool(plan.consumers), plan.expects_acks, b.settle)
            with phases.phase("stop"):
                ex.stop_workloads(plan.bounded, b.stop_timeout, b.consume_timeout, b.consume_quiet)
                if ex.app is not None:
                    ex.app.stop(b.consume_timeout, b.consume_quiet, ex.note)
            if judging is not None:
                with phases.phase("judge", "the soak's last windows"):
                    judging.finish(b.drain_timeout)
        finally:
            ticker.stop()
            isr.stop()
            if judging is not None:
                judging.close()
        return _verdict(ex, plan, phases, judging)


def _verdict(ex: Execution, plan: Plan, phases: Phases, judging: SoakJudging | None) -> Verdict:
    """The run's verdict: a soak's judged windows summed, where it asks for that and they allow it
    (docs/soak.md), else the whole run drained and reconciled."""
    if judging is not None and plan.soak_verdict == "windows":
        why = judging.why_not or not_from_windows(ex.run_dir)
        if why is None:
            with phases.phase("reconcile", "the soak's judged windows summed, no drain"):
                return ex.judge(plan.name, seed=plan.seed, windows=True)
        if any_released(ex.run_dir / rundir.LEDGERS):  # rows released, records past the topic's retention
            ex.note(f"the soak's verdict is inconclusive: {why}, and it released what its windows judged")
            with phases.phase("reconcile", "the soak's judged windows summed, inconclusive"):
                return ex.judge(plan.name, seed=plan.seed, windows=True)
        ex.note(f"the soak's verdict is the whole run's reconcile: {why}")
    with phases.phase("drain"):
        ex.drain(plan.groups, plan.isolation_level, plan.budgets.drain_timeout)
    with phases.phase("reconcile"):
        return ex.judge(plan.name, seed=plan.seed)


def soak_watch(
    window: float,
    run_dir: Path,
    brokers: Callable[[], Sequence[Node]],
    active: Callable[[], list[str]],
    say: Callable[[str], None],
    closed: Callable[[int, float], None] | None = None,
) -> SoakWatch:
    """A soak's watch of ``run_dir`` (docs/soak.md): its ledgers, the faults ``active()`` names, the
    memory and CPU of the nodes ``brokers()`` gives and the CPU of the run's workloads and of this
    process, each window's line to ``say``, and each window's end to ``closed``."""
    tally = LedgerTally(run_dir)
    broker_cpu, workload_cpu = Accrued(), Accrued()
    marker = str(run_dir / rundir.WORKLOADS)

    def resources() -> Resources:
        looks = {node.host: used for node in brokers() if (used := node.usage()) is not None}
        cpu = {
            "brokers": broker_cpu.add({host: ns / 1e9 for host, (_, ns) in looks.items()}),
            "workloads": workload_cpu.add(processes_cpu(marker)),
            "harness": own_cpu(),
        }
        return Resources({host: round(b / 2**20, 1) for host, (b, _) in looks.items()}, cpu)

    out = run_dir / rundir.SOAK / rundir.SOAK_WINDOWS
    return SoakWatch(window, out, tally.look, active, resources, say, closed=closed)
