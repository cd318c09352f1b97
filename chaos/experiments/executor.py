"""The one executor: a topic on a running cluster, workload processes on it, faults against it, and
the verdict — driven phase by phase from a :class:`~chaos.experiments.plan.Plan` by
:func:`chaos.experiments.phased.execute` (``kafka-chaos run``, validate's matrix, ``run_experiment``),
or step by step through :class:`Execution`'s verbs by a :class:`~chaos.scenario.Scenario` (Python
and pytest).
"""

from __future__ import annotations

import logging
import random
import time
from collections import ChainMap
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from chaos.cluster import KafkaCluster
from chaos.cluster.config import ClientPath
from chaos.cluster.kafka_tools import control_offsets, offsets_with
from chaos.errors import ChaosError, UsageError
from chaos.events import EventBus, FaultHappened, Note
from chaos.experiments import stopping
from chaos.experiments.app_run import Applications
from chaos.experiments.plan import TopicPlan
from chaos.experiments.witness import kafka_offsets, witness
from chaos.faults.base import Fault, FaultContext, Timeline
from chaos.faults.schedule import Nemesis, Step
from chaos.oracle import Verdict, reconcile
from chaos.oracle.reconcile import with_witness
from chaos.oracle.verdict import WorkloadOutcome
from chaos.oracle.windows_verdict import controls as window_controls
from chaos.oracle.windows_verdict import windows_verdict
from chaos.rundir import LEDGERS
from chaos.waiting import wait_until
from chaos.workloads.app_output import drain_app_output
from chaos.workloads.application import AppSpec, HostApplication
from chaos.workloads.coverage import verify_markers
from chaos.workloads.drain import drain
from chaos.workloads.netns import Namespaces, broker_ips
from chaos.workloads.output_drain import drain_output
from chaos.workloads.process import Workload, WorkloadProcess
from chaos.workloads.released import any_released
from chaos.workloads.security import Brokers
from chaos.workloads.spec import ConsumerSpec, ProducerSpec
from chaos.workloads.totals import Totals, totals

log = logging.getLogger(__name__)

#: What :meth:`Execution.wait_for` can wait on.
TOTALS = ("sent", "acked", "errors", "processed", "processed_distinct")


class Execution:
    """A topic of its own on ``cluster``, its workloads and faults, and its run directory.

    The verbs (:meth:`create_topic`, :meth:`add`, :meth:`inject`, :meth:`wait_for`, :meth:`drain` …)
    are the only way anything in the harness runs workloads and faults. Leaving the ``with`` block
    heals every fault and SIGKILLs every workload still running.

    ``client_path`` is how the drain (and the workloads a caller adds with :attr:`bootstrap`) reach
    the brokers: through toxiproxy, or the brokers' own listeners. The harness's own admin calls
    (topics, metadata, the ISR and progress watches) always go through toxiproxy. With ``namespaces``
    each workload process runs in a network namespace of its own (client network faults).

    Raises (on construction):
        InfrastructureError: the direct path on a cluster whose brokers have no direct listener.
    """

    def __init__(
        self,
        cluster: KafkaCluster,
        run_dir: Path,
        topic: TopicPlan,
        *,
        run_id: str | None = None,
        seed: int = 0,
        bus: EventBus | None = None,
        label: str | None = None,
        client_path: ClientPath = "proxy",
        namespaces: bool = False,
    ) -> None:
        self.cluster = cluster
        self.client_path = client_path
        #: Where this run's clients bootstrap (the address of its client path), and with the clients'
        #: security settings, for the drain's own clients.
        self.bootstrap = cluster.bootstrap(client_path)
        self.brokers = Brokers(self.bootstrap, cluster.security)
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.topic = topic
        self.run_id = run_id or cluster.run_id
        self.bus = bus or EventBus()
        self.label = label or topic.name
        self.processes: dict[str, WorkloadProcess] = {}
        #: The team's application, once :meth:`add_application` was called.
        self.app: Applications | None = None
        self.apps: dict[str, HostApplication] = {}
        self.timeline = Timeline(self.run_dir, on_record=self._fault_event)
        workloads = ChainMap[str, Workload](self.processes, self.apps)  # type: ignore[arg-type]
        rng = random.Random(seed)
        clients: Callable[[], Mapping[int, tuple[str, int]]] = lambda: cluster.client_addresses(client_path)  # noqa: E731
        self.ctx = FaultContext(cluster, workloads, rng, self.timeline, topic.name, clients)
        #: The workloads' network namespaces (None: they run in this machine's).
        self.namespaces = Namespaces(self.run_id, lambda: broker_ips(clients())) if namespaces else None
        self.nemesis = Nemesis(self.ctx)
        #: "yes" when every partition had its full ISR again after healing, else what was wrong.
        self.recovered = "yes"
        #: The consume-transform-produce output topic, once a transformer member was added.
        self.output_topic: str | None = None
        #: The Java client's release (its driver's jars); None: the cluster's.
        self.java_release: str | None = None

    def __enter__(self) -> Self:
        self.nemesis.__enter__()
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        try:
            self.nemesis.__exit__(et, e, tb)
        finally:
            self.kill_all()

    def _fault_event(self, entry: dict[str, object]) -> None:
        self.bus.emit(FaultHappened.of(self.label, entry))

    def note(self, text: str) -> None:
        """Tell whoever watches the run something that did not go to plan (a ``note`` event)."""
        self.bus.emit(Note(run=self.label, text=text))

    # -- topic and workloads ------------------------------------------------------------------------
    def create_topic(self, groups: bool = False) -> None:
        """Create the topic and wait for its full ISR; with ``groups``, also until groups can commit
        (a consumer's first commits must not race the creation of ``__consumer_offsets``).

        Raises:
            ClusterUnhealthy: the topic did not reach its full ISR, or the offsets topic was not ready.
        """
        t = self.topic
        self.cluster.create_topic(t.name, t.partitions, t.replication_factor, t.config)
        if groups:
            self.cluster.wait_offsets_ready()

    def add(self, spec: ProducerSpec | ConsumerSpec) -> WorkloadProcess:
        """A workload process for ``spec`` (not started), known by its name (``producer-p0``).

        Raises:
            ClusterUnhealthy: an output topic did not reach its full ISR.
        """
        if isinstance(spec, ConsumerSpec) and spec.output_topic is not None:
            self._create_output_topic(spec.output_topic)
        process = self.new_process(spec)
        self.processes[process.name] = process
        return process

    def add_application(self, spec: AppSpec) -> Applications:
        """The team's application (not started), its instances known as ``application-<n>``. Raises
        ClusterUnhealthy: its output topic did not reach its full ISR."""
        self.app = Applications(spec, self.topic, self.run_dir, self.cluster.create_topic, lambda: self.cluster.client)
        self.apps.update(self.app.instances)
        return self.app

    def new_process(self, spec: ProducerSpec | ConsumerSpec) -> WorkloadProcess:
        """The OS process for ``spec`` (not started), in a namespace of its own with :attr:`namespaces` (Raises
        UsageError, InfrastructureError: the namespace could not be made)."""
        name = f"{'consumer' if isinstance(spec, ConsumerSpec) else 'producer'}-{spec.id}"
        netns = self.namespaces.add(name) if self.namespaces is not None else None
        return WorkloadProcess(spec, self._command(spec.client), netns)

    def _create_output_topic(self, name: str) -> None:
        """Create a transformer's output topic, shaped like the input topic (once). Raises UsageError
        (a second output topic: a run has one), ClusterUnhealthy (no full ISR)."""
        if self.output_topic not in (None, name):
            raise UsageError(f"a run has one output topic: {self.output_topic} already, not also {name}")
        if self.output_topic is None:
            self.cluster.create_topic(name, self.topic.partitions, self.topic.replication_factor, self.topic.config)
            self.output_topic = name

    def _command(self, client: str) -> Callable[[Path], list[str]] | None:
        """How a workload of ``client`` is started: the Java driver of :attr:`java_release`, or the
        Python workload module (None). Raises InfrastructureError when the Java client has no JDK."""
        if client != "java":
            return None
        from chaos.images.java_driver import build_java_driver

        return build_java_driver(self.java_release or self.cluster.spec.kafka_version).command

    def workloads(self, kind: str) -> list[WorkloadProcess]:
        """The ``producer`` or ``consumer`` processes."""
        return [p for p in self.processes.values() if p.kind == kind]

    def start_all(self) -> None:
        """Start every workload not running yet (the application and consumers first, so none misses
        the first records)."""
        if self.app is not None:
            self.app.start()
        for process in sorted(self.processes.values(), key=lambda p: p.kind != "consumer"):
            if not process.alive:
                process.start()

    def kill_all(self) -> None:
        """SIGKILL every workload still running, then remove their network namespaces (if any)."""
        if self.app is not None:
            self.app.kill_all()
        for process in self.processes.values():
            try:
                process.kill()
            except Exception as e:  # teardown goes on
                log.warning("could not kill %s: %s", process.name, e)
        for error in self.namespaces.remove_all() if self.namespaces is not None else []:
            log.warning("%s", error)

    def totals(self, distinct: bool = False) -> Totals:
        """Records sent, acked, failed and processed so far (ledgers). Raises LineProtocolError."""
        for process in self.processes.values():
            process.check()  # a line-protocol driver's lines into its ledgers
        return totals(self.run_dir, distinct=distinct)

    def wait_for(self, what: str, at_least: int, timeout: float = 120.0) -> int:
        """Wait until the ``sent``, ``acked``, ``errors``, ``processed`` (every processing) or
        ``processed_distinct`` total reaches ``at_least``; returns it.

        Raises:
            UsageError: ``what`` is not one of those totals.
            WaitTimeout: not reached within ``timeout`` (the workloads' log tails attached).
        """
        if what not in TOTALS:
            raise UsageError(f"cannot wait for {what!r}: use one of {', '.join(TOTALS)}")
        last = [0]

        def reached() -> bool:
            last[0] = int(getattr(self.totals(distinct=what == "processed_distinct"), what) or 0)
            return last[0] >= at_least

        try:
            wait_until(reached, timeout, f"{what} to reach {at_least}", seen=lambda: f"{what} {last[0]}")
        except ChaosError as e:
            self._attach_logs(e)
            raise
        return last[0]

    def _attach_logs(self, error: BaseException) -> None:
        for process in self.processes.values():
            error.add_note(f"--- {process.name} ---\n{process.log_tail()}")

    # -- faults -----------------------------------------------------------------------------------
    def inject(self, fault: Fault) -> Fault:
        """Inject ``fault`` now (healed by :meth:`heal_all` or on exit); returns it. Raises FaultError:
        it could not be applied or did not take effect."""
        self.nemesis.inject(fault)
        return fault

    def play(self, steps: Sequence[Step], window: float) -> None:
        """Play a fault schedule, then let the rest of the ``window`` pass."""
        started = time.monotonic()
        self.nemesis.run(steps)
        rest = window - (time.monotonic() - started)
        if rest > 0:
            time.sleep(rest)

    def heal_all(self) -> list[str]:
        return self.nemesis.heal_all()  # the errors of heals that failed

    def recover(self, timeout: float) -> str:
        """Start every broker that is down and wait for the topic's full ISR; returns ``"yes"`` or
        what was still wrong (evidence for the verdict, not a reason to stop: the drain still reads
        what the log holds)."""
        for node in self.cluster.nodes:
            if node.state != "running":
                node.start()
        try:
            self.cluster.wait_for_isr(self.topic.name, self.topic.replication_factor, timeout=timeout)
        except ChaosError as e:
            self.recovered = str(e)
            self.note(f"not fully recovered: {e}")
        return self.recovered

    # -- stopping and judging -----------------------------------------------------------------------
    def stop_workloads(
        self, bounded: bool, stop_timeout: float, consume_timeout: float, consume_quiet: float = 3.0
    ) -> None:
        """Let bounded producers finish (else stop them), then let consumers catch up and stop them
        (:func:`chaos.experiments.stopping.stop_workloads`)."""
        producers, consumers = self.workloads("producer"), self.workloads("consumer")
        stopping.stop_workloads(
            producers, consumers, self.totals, self.note, bounded, stop_timeout, consume_timeout, consume_quiet
        )

    def drain(self, groups: Sequence[str], isolation_level: str = "read_uncommitted", timeout: float = 180.0) -> None:
        """Read every partition of the topic from the beginning into the run directory. Raises
        InfrastructureError: the drain could not read the topic to its end."""
        bootstrap, t = self.brokers, self.topic
        writers = sum(1 for w in self.processes.values() if getattr(w.spec, "mode", "") == "transactional")
        drain(
            bootstrap, t.name, self.run_id, self.run_dir, list(groups), isolation_level, timeout, writers, t.compacted
        )
        if writers and not t.compacted:
            verify_markers(self.run_dir, self._control_offsets)
        transformers = [w.spec for w in self.processes.values() if getattr(w.spec, "output_topic", None)]
        if transformers:
            eos = any(getattr(t, "strategy", "") == "transactional" for t in transformers)
            output = str(getattr(transformers[0], "output_topic", ""))
            drain_output(bootstrap, output, self.run_id, self.run_dir, eos, timeout)
        if self.app is not None:
            spec = self.app.spec
            drain_app_output(bootstrap, spec.output_topic, self.run_id, self.run_dir, spec.correlation, timeout)
        self.count_with_kafka()

    def _control_offsets(self, partition: int) -> set[int] | None:
        """A partition's transaction markers, as Kafka's segment dump reads the leader's files (None: unknown)."""
        try:
            node = self.cluster.leader_of(self.topic.name, partition)
            return control_offsets(node, self.topic.name, partition, self.cluster.data_dirs())
        except ChaosError as e:
            self.note(f"transaction markers of partition {partition} unchecked: {e}")
            return None

    def _log_start(self) -> dict[int, int]:
        """The topic's partitions' log start offsets, as Kafka's offsets tool reports them.

        Raises:
            ChaosError: the tool failed, or found nowhere to run.
        """
        with self.cluster.tools() as access:
            return offsets_with(access, self.topic.name)["beginning"]

    def count_with_kafka(self) -> None:
        """Kafka's own offsets tool as a second reader of the topic (:func:`kafka_offsets`)."""
        kafka_offsets(self.cluster.tools, self.topic.name, self.run_dir, self.note)

    def judge(self, name: str | None = None, seed: int | None = None, windows: bool = False) -> Verdict:
        """Reconcile the run directory into a verdict, with what the run knows (its ``seed``, the
        client path, each workload's starts and kills, whether the cluster recovered). Writing
        ``verdict.json`` is the caller's: the runner once it adds its own details, a Scenario at once.
        ``windows``: a soak's verdict summed from its judged windows (:func:`windows_verdict`), no
        whole reconcile.

        Raises:
            UsageError: the run directory has no drain (or, with ``windows``, bad expectations).
        """
        verdict = windows_verdict(self.run_dir, name) if windows else reconcile(self.run_dir, name)
        controls = window_controls(self.run_dir) if windows else None
        # a soak that released what it judged has a retention on its topic: what it deleted is not searched for
        start = self._log_start if windows and any_released(self.run_dir / LEDGERS) else None
        t = self.topic
        if witness(self.cluster, t.name, t.partitions, self.run_id, self.run_dir, verdict, controls, start):
            verdict = with_witness(verdict, self.run_dir)  # the same as reconciling again, without the second pass
        runs: list[WorkloadProcess | HostApplication] = [*self.processes.values(), *self.apps.values()]
        out = {w.name: WorkloadOutcome(starts=w.starts, kills=w.kills, exit_code=w.exit_code) for w in runs}
        return verdict.with_details(seed=seed, client_path=self.client_path, workloads=out, recovered=self.recovered)
