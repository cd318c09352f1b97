"""The runner: one experiment from cluster start to verdict, and suites of them.

Phases, each with a timeout and recorded in ``phases.json``::

    cluster → topic → workloads → steady → faults → heal → settle → stop → drain → reconcile → report

Faults are always healed and the cluster always torn down (``--keep-cluster`` keeps it for
debugging), also after an exception, Ctrl-C or SIGTERM. The run directory keeps everything
``kafka-chaos reconcile`` needs: ledgers, drain, ``expectations.json``, ``run.json``, plus the
resolved experiment, the fault timeline and the broker logs.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from chaos.errors import ChaosError, InfrastructureError, Interrupted
from chaos.experiments.model import Experiment, LoadedExperiment, _props, expand_targets, fault_params
from chaos.labels import new_run_id
from chaos.oracle.verdict import Verdict
from chaos.progress import Progress, silent
from chaos.signals import sigterm_raises

log = logging.getLogger(__name__)

#: Exit codes (DESIGN.md).
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INFRA = 0, 1, 2, 3


class PhaseTimeout(InfrastructureError):
    """A phase did not finish within its timeout."""


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How to run: seed for random choices, where run directories go, what to keep, how to talk."""

    reports_dir: Path = Path("reports")
    seed: int = 0
    keep_cluster: bool = False
    kafka_version: str | None = None
    progress: Progress = silent
    #: Seconds between live status lines (0: none).
    status_every: float = 5.0


@dataclass(slots=True)
class RunResult:
    """The outcome of one experiment run: a verdict, or the error that stopped it."""

    name: str
    path: Path | None
    run_dir: Path
    run_id: str
    repetition: int = 1
    verdict: Verdict | None = None
    error: str | None = None
    error_kind: str | None = None
    seconds: float = 0.0
    phases: list[dict[str, Any]] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 every expectation met · 1 one failed · 3 the run could not complete."""
        if self.error is not None:
            return EXIT_INFRA
        assert self.verdict is not None
        return EXIT_OK if self.verdict.passed else EXIT_FAILED

    @property
    def status(self) -> str:
        """``passed``, ``failed`` or ``error``."""
        return {EXIT_OK: "passed", EXIT_FAILED: "failed"}.get(self.exit_code, "error")

    def as_dict(self) -> dict[str, Any]:
        """For ``suite.json``."""
        return {
            "name": self.name,
            "file": str(self.path) if self.path else None,
            "run_dir": str(self.run_dir),
            "run_id": self.run_id,
            "repetition": self.repetition,
            "status": self.status,
            "seconds": round(self.seconds, 1),
            "error": self.error,
            "loss": self.verdict.loss if self.verdict else None,
            "counts": self.verdict.counts if self.verdict else None,
            "anomalies": self.verdict.anomalies if self.verdict else None,
            "expectations": self.verdict.expectations if self.verdict else [],
        }


class _Phases:
    """Records phases (name, start, end, ok) in ``phases.json`` as they happen."""

    def __init__(self, run_dir: Path, progress: Progress, label: str) -> None:
        self.path = run_dir / "phases.json"
        self.items: list[dict[str, Any]] = []
        self.current = "start"
        self.progress = progress
        self.label = label

    def _save(self) -> None:
        self.path.write_text(json.dumps(self.items, indent=1))

    @contextmanager
    def phase(self, name: str, detail: str = "") -> Iterator[None]:
        entry: dict[str, Any] = {"name": name, "start": time.time(), "end": None, "ok": None}
        self.items.append(entry)
        self.current = name
        self._save()
        self.progress(f"{self.label}: {name}{' · ' + detail if detail else ''}")
        try:
            yield
            entry["ok"] = True
        except BaseException as e:
            entry["ok"] = False
            entry["error"] = f"{type(e).__name__}: {e}"
            raise
        finally:
            entry["end"] = time.time()
            self._save()


def _await(check: Callable[[], bool], timeout: float, what: str, stop: threading.Event | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise PhaseTimeout(f"timed out after {timeout:.0f} s waiting for {what}")
        if stop is not None and stop.is_set():
            return
        time.sleep(0.2)


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
        cluster: Any = None,
    ) -> None:
        """``cluster``: run on this running cluster (its own topic) instead of starting one; it is
        left running afterwards."""
        self.exp = exp
        self.shared_cluster = cluster
        self.run_dir = Path(run_dir)
        self.options = options
        self.path = path
        self.repetition = repetition
        self.run_id = cluster.run_id if cluster is not None else (run_id or new_run_id())
        self.label = exp.name if repetition == 1 else f"{exp.name}#{repetition}"
        self.topic = exp.topic_name
        self.group = f"kc-{exp.name}-{self.run_id[-4:]}"
        self.workloads: dict[str, Any] = {}
        self.result = RunResult(exp.name, path, self.run_dir, self.run_id, repetition)
        self.nemesis: Any = None
        #: "yes" when every partition had its full ISR again after healing, else what was wrong.
        self.recovered = "yes"

    # -- the run --------------------------------------------------------------------------------
    def run(self) -> RunResult:
        """Run every phase; see the module docstring."""
        from chaos.cluster import KafkaCluster

        t0 = time.monotonic()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._write_inputs()
        phases = _Phases(self.run_dir, self.options.progress, self.label)
        cluster = self.shared_cluster or KafkaCluster(
            self.exp.cluster.spec(self.options.kafka_version),
            run_id=self.run_id,
            run_dir=self.run_dir,
            progress=self.options.progress,
        )
        ticker = _Ticker(self, phases)
        try:
            with sigterm_raises():
                try:
                    self._phases(cluster, phases, ticker)
                finally:
                    ticker.stop()
                    self._teardown(cluster, phases)
        except Exception as e:  # a broken run is recorded and the suite goes on; Ctrl-C/SIGTERM propagate
            self.result.error = str(e) or repr(e)
            self.result.error_kind = type(e).__name__
            if not isinstance(e, ChaosError):
                log.warning("run %s failed unexpectedly", self.label, exc_info=True)
            log.info("run %s stopped: %s", self.label, e)
        finally:
            self.result.seconds = time.monotonic() - t0
            self.result.phases = phases.items
        if self.result.verdict is not None:
            self.result.verdict.details["seconds"] = round(self.result.seconds, 1)
            self.result.verdict.details["phases"] = phases.items
            self.result.verdict.write(self.run_dir / "verdict.json")
        elif self.result.error is not None:
            (self.run_dir / "error.txt").write_text(f"{self.result.error_kind}: {self.result.error}\n")
        self._write_reports()
        return self.result

    def _write_inputs(self) -> None:
        exp = self.exp
        (self.run_dir / "experiment.yaml").write_text(
            yaml.safe_dump(exp.model_dump(mode="json", exclude_none=True), sort_keys=False)
        )
        (self.run_dir / "expectations.json").write_text(json.dumps(exp.expect, indent=2, sort_keys=True))
        run_meta = {
            "run_id": self.run_id,
            "experiment": exp.name,
            "claim": exp.claim,
            "description": exp.description,
            "expected": exp.expected,
            "file": str(self.path) if self.path else None,
            "seed": self.options.seed,
            "repetition": self.repetition,
            "topic": self.topic,
            "started": time.time(),
        }
        (self.run_dir / "run.json").write_text(json.dumps(run_meta, indent=2, sort_keys=True))

    def _phases(self, cluster: Any, phases: _Phases, ticker: _Ticker) -> None:
        from chaos.faults.base import FaultContext, Timeline
        from chaos.faults.schedule import Nemesis

        exp = self.exp
        if self.shared_cluster is None:
            with phases.phase("cluster", f"{exp.cluster.brokers} brokers, Kafka {cluster.spec.kafka_version}"):
                cluster.start()
        with phases.phase(
            "topic", f"{self.topic}: {exp.topic.partitions} partitions, RF {exp.topic.replication_factor}"
        ):
            cluster.create_topic(
                self.topic, exp.topic.partitions, exp.topic.replication_factor, _props(exp.topic.config)
            )
        with phases.phase("workloads"):
            self._start_workloads(cluster)
        ticker.start()
        with phases.phase("steady", f"first acks, then {exp.phases.warmup:g} s"):
            self._steady()
        ctx = FaultContext(
            cluster, workloads=self.workloads, rng=random.Random(self.options.seed), timeline=Timeline(self.run_dir)
        )
        with Nemesis(ctx) as nemesis:
            self.nemesis = nemesis
            window = exp.fault_window()
            with phases.phase("faults", f"{window:g} s window"):
                steps = self._steps(window)
                started = time.monotonic()
                nemesis.run(steps)
                rest = window - (time.monotonic() - started)
                if rest > 0:
                    time.sleep(rest)
            with phases.phase("heal"):
                errors = nemesis.heal_all()
                if errors:
                    raise InfrastructureError(f"healing failed: {'; '.join(errors)}")
                self._recover(cluster)
        self.nemesis = None
        with phases.phase("settle", f"{exp.phases.settle:g} s"):
            time.sleep(exp.phases.settle)
        with phases.phase("stop"):
            self._stop_workloads()
        ticker.stop()
        with phases.phase("drain"):
            from chaos.workloads.drain import drain

            drain(
                cluster.bootstrap_servers,
                self.topic,
                self.run_id,
                self.run_dir,
                [self.group] if exp.consumer else [],
                isolation_level=exp.isolation_level,
                timeout=exp.phases.drain_timeout,
            )
        with phases.phase("reconcile"):
            from chaos.oracle import reconcile

            verdict = reconcile(self.run_dir, exp.name)
            verdict.details["workloads"] = {
                name: {"starts": w.starts, "kills": w.kills, "exit_code": w.proc.returncode if w.proc else None}
                for name, w in self.workloads.items()
            }
            verdict.details["recovered"] = self.recovered
            verdict.details["seed"] = self.options.seed
            self.result.verdict = verdict
            verdict.write(self.run_dir / "verdict.json")

    def _steps(self, window: float) -> list[Any]:
        from chaos.faults.base import make_fault
        from chaos.faults.schedule import RANDOM_KINDS, Step, random_schedule

        exp = self.exp
        steps = [
            Step(s.at, make_fault(s.kind, name=s.name or f"{s.kind}-{i}", **fault_params(s, self.topic)), s.duration)
            for i, s in enumerate(exp.faults)
        ]
        if exp.random_faults is not None:
            rf = exp.random_faults
            kinds = [expand_targets(kind, self.topic) for kind in rf.kinds or RANDOM_KINDS]
            steps += random_schedule(
                self.options.seed, window, rf.count, rf.min_duration, rf.max_duration, kinds, rf.gap
            )
        return steps

    def _start_workloads(self, cluster: Any) -> None:
        from chaos.workloads.process import WorkloadProcess
        from chaos.workloads.spec import ConsumerSpec, ProducerSpec

        exp = self.exp
        common = {
            "topic": self.topic,
            "bootstrap_servers": cluster.bootstrap_servers,
            "run_id": self.run_id,
            "run_dir": str(self.run_dir),
        }
        if exp.consumer is not None:
            c = exp.consumer
            for i in range(c.members):
                spec = ConsumerSpec(
                    id=f"c{i}",
                    group=self.group,
                    strategy=c.strategy,
                    settings=_props(c.settings),
                    batch_size=c.batch_size,
                    process_ms=c.process_ms,
                    **common,
                )
                self.workloads[f"consumer-c{i}"] = WorkloadProcess(spec)
        p = exp.producer
        producer = WorkloadProcess(
            ProducerSpec(
                id="p0",
                mode=p.mode,
                settings=_props(p.settings),
                count=p.count,
                duration_s=p.duration,
                rate=p.rate,
                payload_size=p.payload_size,
                keys=p.keys,
                **common,
            )
        )
        self.workloads["producer-p0"] = producer
        for process in self.workloads.values():
            process.start()

    def _steady(self) -> None:
        from chaos.reports.series import totals

        exp = self.exp
        producer = self.workloads["producer-p0"]

        def first_acks() -> bool:
            if not producer.alive and producer.proc is not None and producer.proc.returncode not in (0, None):
                raise InfrastructureError(
                    f"the producer exited with {producer.proc.returncode}:\n{producer.log_tail()}"
                )
            return totals(self.run_dir).acked > 0 or (exp.producer.settings.get("acks") in ("0", 0))

        _await(first_acks, exp.phases.steady_timeout, "the producer's first acknowledged records")
        if exp.consumer is not None:
            # A member that has been given records is in its group and consuming (it may process and
            # commit much later): faults must not start before that.
            ledgers = self.run_dir / "ledgers"
            _await(
                lambda: any(ledgers.glob("consumer-*.polled")),
                exp.phases.steady_timeout,
                "the consumer group's first polled records",
            )
        time.sleep(exp.phases.warmup)

    def _recover(self, cluster: Any) -> None:
        """Every broker back and every partition of the topic with its full ISR, within the timeout."""
        exp = self.exp
        for node in cluster.nodes:
            if node.state != "running":
                node.start()
        try:
            cluster.wait_for_isr(self.topic, exp.topic.replication_factor, timeout=exp.phases.heal_timeout)
        except ChaosError as e:
            # Evidence, not a reason to stop: the drain still reads what the log holds.
            self.recovered = str(e)
            self.options.progress(f"{self.label}: not fully recovered: {e}")

    def _stop_workloads(self) -> None:
        from chaos.reports.series import totals

        exp = self.exp
        producer = self.workloads["producer-p0"]
        if exp.producer.count is not None or exp.producer.duration is not None:
            deadline = time.monotonic() + exp.phases.stop_timeout
            while producer.alive and time.monotonic() < deadline:
                time.sleep(0.2)
        producer.stop(exp.phases.stop_timeout)
        consumers = [w for name, w in self.workloads.items() if name.startswith("consumer-")]
        if consumers:
            # Let the group catch up: stop once nothing new was processed for 3 s (or at the timeout).
            deadline = time.monotonic() + exp.phases.consume_timeout
            last, quiet_since = -1, time.monotonic()
            while time.monotonic() < deadline and any(c.alive for c in consumers):
                now = totals(self.run_dir).processed
                if now != last:
                    last, quiet_since = now, time.monotonic()
                elif time.monotonic() - quiet_since > 3.0:
                    break
                time.sleep(0.5)
            for consumer in consumers:
                consumer.stop(exp.phases.stop_timeout)

    def _teardown(self, cluster: Any, phases: _Phases) -> None:
        for process in self.workloads.values():
            try:
                process.kill()
            except Exception as e:  # teardown goes on
                log.warning("could not kill %s: %s", process.name, e)
        if self.shared_cluster is not None:
            return
        if self.options.keep_cluster and cluster.nodes:
            self.options.progress(
                f"{self.label}: cluster kept (--keep-cluster): bootstrap {cluster.bootstrap_servers}; "
                f"remove it with `kafka-chaos cluster down --run-id {self.run_id}`"
            )
            return
        with phases.phase("teardown"):
            cluster.destroy()

    def _write_reports(self) -> None:
        from chaos.reports import write_run_reports

        for problem in write_run_reports(self.run_dir, self.result):
            self.options.progress(f"{self.label}: report not written: {problem}")


class _Ticker:
    """Prints live status lines (phase, sent/acked/processed, active faults) every few seconds."""

    def __init__(self, run: ExperimentRun, phases: _Phases) -> None:
        self.run = run
        self.phases = phases
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        every = self.run.options.status_every
        if every <= 0 or self.run.options.progress is silent or self._thread is not None:
            return

        def loop() -> None:
            from chaos.reports.series import totals

            while not self._stop.wait(every):
                try:
                    t = totals(self.run.run_dir)
                    nemesis = self.run.nemesis
                    active = ", ".join(f.name for f in nemesis.active) if nemesis is not None else ""
                    self.run.options.progress(
                        f"{self.run.label}: {self.phases.current} · sent {t.sent} acked {t.acked} "
                        f"errors {t.errors} processed {t.processed}" + (f" · faults: {active}" if active else "")
                    )
                except Exception as e:  # a status line is never worth a failed run
                    log.debug("status line failed: %s", e)

        self._thread = threading.Thread(target=loop, name="kafka-chaos-status", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


# -- suites ---------------------------------------------------------------------------------------
@dataclass(slots=True)
class SuiteResult:
    """Every run of a suite, and where its reports are."""

    suite_dir: Path
    results: list[RunResult]
    seconds: float
    interrupted: bool = False

    @property
    def exit_code(self) -> int:
        """3 if a run could not complete, else 1 if an expectation failed, else 0."""
        codes = {r.exit_code for r in self.results}
        if EXIT_INFRA in codes:
            return EXIT_INFRA
        return EXIT_FAILED if EXIT_FAILED in codes else EXIT_OK


def run_suite(
    loaded: Sequence[LoadedExperiment],
    options: RunOptions,
    repeat: int = 1,
    suite_id: str | None = None,
    on_result: Callable[[RunResult], None] | None = None,
) -> SuiteResult:
    """Run each experiment ``repeat`` times, one after the other, into ``reports/<suite-id>/<name>[-N]``.

    Suite reports (``suite.json``, ``junit.xml``, ``summary.md``, ``report.html``) are written after
    every run, so an interrupted suite still has them. Ctrl-C or SIGTERM stop the suite after healing
    and tearing down the current run; the exception propagates.
    """
    from chaos.reports import write_suite_reports

    suite_id = suite_id or new_run_id()
    suite_dir = Path(options.reports_dir) / suite_id
    suite_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    suite = SuiteResult(suite_dir, [], 0.0)
    try:
        for item in loaded:
            for rep in range(1, repeat + 1):
                name = item.experiment.name if repeat == 1 else f"{item.experiment.name}-{rep}"
                run_options = RunOptions(
                    reports_dir=options.reports_dir,
                    seed=options.seed + rep - 1,
                    keep_cluster=options.keep_cluster,
                    kafka_version=options.kafka_version,
                    progress=options.progress,
                    status_every=options.status_every,
                )
                run = ExperimentRun(item.experiment, suite_dir / name, run_options, item.path, rep)
                result = run.run()
                suite.results.append(result)
                suite.seconds = time.monotonic() - t0
                for problem in write_suite_reports(suite):
                    options.progress(f"suite report not written: {problem}")
                if on_result is not None:
                    on_result(result)
    except (KeyboardInterrupt, Interrupted):
        suite.interrupted = True
        suite.seconds = time.monotonic() - t0
        write_suite_reports(suite)
        raise
    suite.seconds = time.monotonic() - t0
    write_suite_reports(suite)
    return suite
