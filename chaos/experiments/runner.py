"""The runner: one experiment from cluster start to verdict, and suites of them.

It plans the run (:mod:`.plan`), starts a cluster (or uses a shared one), hands the plan to the one
executor (:mod:`.executor`), tears down and announces what happened as lifecycle events
(:mod:`chaos.events`); progress output and the reporters are listeners of those events. Phases and
the run directory are described in ``docs/phases.md`` and ``docs/run-directory.md``.

Faults are always healed and the cluster always torn down (``--keep-cluster`` keeps it for
debugging), also after an exception, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import yaml

from chaos import rundir
from chaos.cluster import ClusterSpec, KafkaCluster
from chaos.cluster.config import broker_settings
from chaos.cluster.external import ExternalCluster, namespace
from chaos.errors import ChaosError, Interrupted
from chaos.events import EventBus, Note
from chaos.experiments import cluster_config
from chaos.experiments.applicable import Defined, fitted, workload_clients
from chaos.experiments.clusters import (
    ExternalPool,
    by_shape,
    check_backend,
    check_machine,
    leave,
    pool_for,
    refuse_files_cluster,
    with_files_cluster,
)
from chaos.experiments.loading import LoadedExperiment
from chaos.experiments.model import Experiment
from chaos.experiments.options import RunOptions
from chaos.experiments.phased import execute
from chaos.experiments.phases import Phases, PhaseTimeout
from chaos.experiments.plan import Plan, plan_experiment
from chaos.experiments.pool import ClusterPool, Lease
from chaos.experiments.prepare import prepare_clients
from chaos.experiments.release_facts import release_facts
from chaos.experiments.soak_disk import soak_need
from chaos.images.builder import ensure_kafka_images
from chaos.labels import new_run_id
from chaos.oracle.files import write_verdict
from chaos.results import (
    EXIT_FAILED,
    EXIT_INFRA,
    EXIT_OK,
    EXIT_USAGE,
    RunFinished,
    RunResult,
    SuiteResult,
    SuiteUpdated,
)
from chaos.signals import sigterm_raises
from chaos.workloads.clients import DEFAULT_CLIENT
from chaos.workloads.versions import client_versions

log = logging.getLogger(__name__)
#: Consumer settings every workload's strategy sets itself (so no release default of them is in force).
HARNESS_CONSUMER_KEYS = frozenset({"enable.auto.commit", "auto.offset.reset"})

__all__ = [
    "EXIT_FAILED",
    "EXIT_INFRA",
    "EXIT_OK",
    "EXIT_USAGE",
    "ExperimentRun",
    "PhaseTimeout",
    "RunOptions",
    "RunResult",
    "SuiteResult",
    "by_shape",
    "pool_for",
    "run_suite",
]


def keep_hint(run_id: str) -> str:
    """The command that removes a cluster kept with ``--keep-cluster``.

    >>> keep_hint("20261127-120000-ab12")
    'kafka-chaos cluster down 20261127-120000-ab12'
    """
    return f"kafka-chaos cluster down {run_id}"


class ExperimentRun:
    """One run of one experiment; :meth:`run` returns its :class:`RunResult` and never raises an
    ``Exception`` (it becomes the result's error, exit code 3). Ctrl-C and SIGTERM still propagate,
    after healing and teardown."""

    def __init__(
        self,
        exp: Experiment,
        run_dir: Path,
        options: RunOptions,
        path: Path | None = None,
        repetition: int = 1,
        run_id: str | None = None,
        cluster: KafkaCluster | None = None,
        bus: EventBus | None = None,
        pool: ClusterPool | None = None,
        label: str | None = None,
    ) -> None:
        """``cluster``: run on this running cluster (its own topic) instead of starting one; it is
        left running afterwards. ``pool``: take the cluster from this pool (a suite's, shared with
        the runs before and after) instead of starting one of its own. ``label``: the row's name in
        a suite (``<name>[.<client>][@<release>]``)."""
        self.exp = exp.on_release(options.kafka_version, options.client_version)
        external = options.external is not None or isinstance(cluster, ExternalCluster)
        if external:  # no proxy stands between the clients and a team's brokers
            self.exp = self.exp.on_path("direct")
        self.shared_cluster = cluster
        self.pool = pool
        self.run_dir = Path(run_dir)
        self.options = options
        self.path = path
        self.repetition = repetition
        shared = cluster is not None and not external  # on a team's cluster each run has its own names
        self.run_id = cluster.run_id if cluster is not None and shared else (run_id or new_run_id())
        self.started = time.time()
        self.row = label or (exp.name if exp.client == DEFAULT_CLIENT else f"{exp.name}.{exp.client}")
        self.label = self.row if repetition == 1 else f"{self.row}#{repetition}"
        space = namespace(self.run_id) if external else ""
        self.plan: Plan = plan_experiment(self.exp, self.run_id, self.run_dir, options.seed, space)
        self.bus = bus or options.bus()
        self.result = RunResult(exp.name, path, self.run_dir, self.run_id, repetition, client_path=self.exp.client_path)

    def run(self) -> RunResult:
        """Run every phase; see ``docs/phases.md``."""
        t0 = time.monotonic()
        self.started = time.time()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.exp, self.result.not_applicable = fitted(self.exp, self.options.release_keys)
        self._write_inputs()
        phases = Phases(self.run_dir, self.bus, self.label)
        try:
            with sigterm_raises():
                if self.result.not_applicable is None:
                    self._on_cluster(phases)
        except Exception as e:  # a broken run is recorded and the suite goes on; Ctrl-C/SIGTERM propagate
            self.result.error = str(e) or repr(e)
            self.result.error_kind = type(e).__name__
            if not isinstance(e, ChaosError):
                log.warning("run %s failed unexpectedly", self.label, exc_info=True)
            log.info("run %s stopped: %s", self.label, e)
        finally:  # also when Ctrl-C or SIGTERM comes after the verdict, during teardown
            self.result.seconds = time.monotonic() - t0
            self.result.phases = phases.items
            self._write_outcome()
        self.bus.emit(RunFinished(run=self.label, result=self.result))
        return self.result

    def _on_cluster(self, phases: Phases) -> None:
        """Lease a cluster, execute the plan on it and tear down."""
        lease = self._lease(phases)
        cluster = lease.cluster
        check_backend(self.exp, cluster)
        self.result.cluster = lease.how
        self.result.cluster_id = cluster.run_id
        self._write_cluster(lease)
        if self.options.release_keys is not None:
            self._update_meta(release=self._release_facts(cluster, self.options.release_keys))
        if lease.healed:
            healed = "the run before left faults on the cluster, healed: " + "; ".join(lease.healed)
            self.bus.emit(Note(run=self.label, text=healed))
        broken = False
        try:
            self.result.verdict = execute(self.plan, cluster, phases, self.bus, self.options.status_every)
        except BaseException as e:  # not a ChaosError: a bug or an interrupt, the state is unknown
            broken = not isinstance(e, ChaosError)
            raise
        finally:
            cluster_config.record(self.run_dir, cluster.admin_call, self.plan.topic.name)
            self._teardown(lease, phases, broken)

    def _write_outcome(self) -> None:
        """``verdict.json``, with the runner's details (the one place a run's verdict is written),
        or ``error.txt`` for a run that could not complete."""
        if self.result.verdict is not None:
            self.result.verdict = self.result.verdict.with_details(
                seconds=round(self.result.seconds, 1), phases=self.result.phases, cluster=self.result.cluster
            )
            write_verdict(self.run_dir, self.result.verdict)
        elif self.result.error is not None:
            (self.run_dir / rundir.ERROR).write_text(f"{self.result.error_kind}: {self.result.error}\n")
        if self.result.not_applicable is not None:
            self._update_meta(not_applicable=self.result.not_applicable)

    def _write_inputs(self) -> None:
        exp = self.exp
        (self.run_dir / rundir.EXPERIMENT).write_text(
            # a soak's schedule is its soak section's, rebuilt on loading: not every period written out
            yaml.safe_dump(exp.model_dump(mode="json", exclude_none=True, exclude=_soak_schedule(exp)), sort_keys=False)
        )
        (self.run_dir / rundir.EXPECTATIONS).write_text(json.dumps(exp.expect, indent=2, sort_keys=True))
        run_meta = {
            "run_id": self.run_id,
            "experiment": exp.name,
            "claim": exp.claim,
            "client": exp.client,
            "client_path": exp.client_path,
            "label": self.row,
            "kafka_version": exp.cluster.kafka_version,
            "client_versions": client_versions(workload_clients(exp), exp.java_release),
            "known_bug": exp.known_bug.model_dump(mode="json") if exp.known_bug else None,
            "description": exp.description,
            "expected": exp.expected,
            "file": str(self.path) if self.path else None,
            "seed": self.options.seed,
            "repetition": self.repetition,
            "topic": self.plan.topic.name,
            "started": time.time(),
        }
        (self.run_dir / rundir.RUN).write_text(json.dumps(run_meta, indent=2, sort_keys=True))

    def _write_cluster(self, lease: Lease) -> None:
        """Add to ``run.json`` the cluster's run id (``kafka-chaos clean --run-id`` takes it) and how."""
        self._update_meta(cluster_id=lease.cluster.run_id, cluster=lease.how)

    def _release_facts(self, cluster: KafkaCluster, defined: Defined) -> dict[str, object]:
        """``run.json``'s ``release`` (:mod:`.release_facts`); what went wrong, when it could not be
        asked (the facts are evidence, never a reason to stop a run)."""
        exp, plan = self.exp, self.plan
        sections = {"producer": exp.producer, "consumer": exp.consumer}
        java = {kind: exp.java_release for kind, s in sections.items() if s and s.client_name == "java"}
        topic = set(plan.topic.config)
        topic |= {"log.flush.interval.messages"} if "flush.messages" in topic else set()
        read = {"isolation.level"} if any(c.strategy == "transactional" for c in plan.consumers) else set()
        try:
            return release_facts(
                features=lambda: cluster.admin_call(lambda a: a.describe_features()),
                defaults=defined,
                cluster_release=cluster.spec.kafka_version,
                java_kinds=java,
                set_keys={
                    "producer": {k for p in plan.producers for k in p.settings},
                    "consumer": {k for c in plan.consumers for k in c.settings} | HARNESS_CONSUMER_KEYS | read,
                    "broker": set(broker_settings(cluster.spec)) | topic,
                },
                configured=broker_settings(cluster.spec),
            )
        except Exception as e:  # evidence only
            log.warning("could not read the release facts of %s: %s", self.label, e)
            return {"error": f"{type(e).__name__}: {e}"}

    def _update_meta(self, **fields: object) -> None:
        path = self.run_dir / rundir.RUN
        meta = json.loads(path.read_text())
        meta.update(fields)
        path.write_text(json.dumps(meta, indent=2, sort_keys=True))

    def _lease(self, phases: Phases) -> Lease:
        """The cluster this run uses: the shared one, one from the pool, or a fresh one of its own."""
        if self.options.external is None and not isinstance(self.shared_cluster, ExternalCluster):
            refuse_files_cluster(self.exp)  # before a cluster of the harness's starts
        if self.shared_cluster is not None:
            return Lease(self.shared_cluster, "shared", [])
        spec = self.exp.cluster.spec()
        if self.options.external is not None:
            with phases.phase("cluster", f"the team's cluster at {self.options.external.bootstrap}"):
                return self._pool.acquire(spec)
        detail = f"{self.exp.cluster.brokers} brokers, Kafka {spec.kafka_version}"
        with phases.phase("cluster", detail):
            if spec.kafka_image is None and not os.environ.get("KAFKA_CHAOS_KAFKA_IMAGE"):
                ensure_kafka_images([spec.kafka_version], self.options.progress)  # a release asked for first
            return self._pool.acquire(spec)

    @property
    def _pool(self) -> ClusterPool:
        if self.pool is None and self.options.external is not None:
            self.pool = pool_for(self.options, self.run_dir, [])
        if self.pool is None:
            options = self.options

            def own(spec: ClusterSpec) -> KafkaCluster:
                return KafkaCluster(spec, run_id=self.run_id, run_dir=self.run_dir, progress=options.progress)

            self.pool = ClusterPool(own, fresh=True, progress=options.progress)
        return self.pool

    def _teardown(self, lease: Lease, phases: Phases, broken: bool) -> None:
        cluster = lease.cluster
        if isinstance(cluster, ExternalCluster):
            with phases.phase("teardown", "the run's topics and groups deleted"):
                try:
                    leave(cluster, self.run_id)
                except ChaosError as e:  # said where the run is watched, not only in suite.json
                    self.bus.emit(Note(run=self.label, text=str(e)))
                    raise
            return
        if self.shared_cluster is not None:
            return
        if self.options.keep_cluster and cluster.nodes:
            self.bus.emit(
                Note(
                    run=self.label,
                    text=f"cluster kept (--keep-cluster): bootstrap {cluster.bootstrap_servers}; "
                    f"remove it with `{keep_hint(cluster.run_id)}`",
                )
            )
            return
        with phases.phase("teardown"):
            if cluster.run_id != self.run_id:  # a pool's cluster: this run's part of the broker logs
                try:
                    cluster.collect_logs(into=self.run_dir, since=self.started)
                except Exception as e:  # evidence is precious but never blocks the teardown
                    log.warning("could not collect the logs of %s: %s", self.label, e)
            self._pool.release(lease, broken)


def _soak_schedule(exp: Experiment) -> set[str]:
    """What ``experiment.yaml`` leaves out of ``exp``: a soak's faults, which its section makes."""
    return {"faults", "random_faults"} if exp.soak is not None else set()


def run_suite(
    loaded: Sequence[LoadedExperiment],
    options: RunOptions,
    repeat: int = 1,
    suite_id: str | None = None,
    on_result: Callable[[RunResult], None] | None = None,
) -> SuiteResult:
    """Run each experiment ``repeat`` times, one after the other, into ``reports/<suite-id>/<name>[-N]``.

    Suite reports (``suite.json``, ``junit.xml``, ``summary.md``, ``report.html``) are written after
    every run (``suite_updated`` events), so an interrupted suite still has them. Ctrl-C or SIGTERM
    stop the suite after healing and tearing down the current run; the exception propagates.

    Raises:
        UsageError: ``--cluster`` names no running cluster or one of another shape (before anything
            runs).
        InfrastructureError: the Java client driver could not be compiled.
    """
    suite_id = suite_id or new_run_id()
    options = with_files_cluster(options, [item.experiment for item in loaded])
    suite_dir = Path(options.reports_dir) / suite_id
    ordered = by_shape(loaded, options.kafka_version)
    wanted = [(item.experiment.name, item.experiment.cluster.spec(options.kafka_version)) for item in ordered]
    for item in ordered:  # refused before anything runs
        check_machine(item.experiment)
    if soaks := [item.experiment for item in ordered if item.experiment.soak is not None] * repeat:
        options.progress(soak_need(soaks, Path(options.reports_dir), local=options.external is None))
    pool = pool_for(options, suite_dir, wanted)
    if isinstance(pool, ExternalPool):
        for item in ordered:
            check_backend(item.experiment, pool.cluster)
    prepare_clients(
        [item.experiment for item in loaded], options.kafka_version, options.client_version, options.progress
    )
    suite_dir.mkdir(parents=True, exist_ok=True)
    bus = options.bus()
    t0 = time.monotonic()
    suite = SuiteResult(suite_dir, [], 0.0)
    try:
        for item in ordered:
            for rep in range(1, repeat + 1):
                name = item.label if repeat == 1 else f"{item.label}-{rep}"
                run_options = replace(options, seed=options.seed + rep - 1)
                run = ExperimentRun(
                    item.experiment, suite_dir / name, run_options, item.path, rep, bus=bus, pool=pool, label=item.label
                )
                result = run.run()
                suite.results.append(result)
                suite.seconds = time.monotonic() - t0
                bus.emit(SuiteUpdated(run="", suite=suite))
                if on_result is not None:
                    on_result(result)
    except (KeyboardInterrupt, Interrupted):
        suite.interrupted = True
        suite.seconds = time.monotonic() - t0
        bus.emit(SuiteUpdated(run="", suite=suite))
        raise
    finally:
        if not options.keep_cluster:
            pool.close()
    suite.seconds = time.monotonic() - t0
    bus.emit(SuiteUpdated(run="", suite=suite))
    return suite
