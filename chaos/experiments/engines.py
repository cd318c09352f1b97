"""A suite spread over several Docker engines: ``kafka-chaos run --engines URL,URL`` (``docs/engines.md``).

Each engine runs one experiment at a time, in a worker process of its own (:mod:`.engine_worker`,
started by :mod:`.engine_child`) whose ``DOCKER_HOST`` names it; the results come back here and
make one suite, with one set of reports (``suite.json``, ``junit.xml``, ``summary.md``,
``report.html``) written after every run, as ``kafka-chaos run`` writes them on one engine.

Why a child process per engine rather than the engine as a parameter of every call: everything
that talks to Docker (the cluster's containers and networks, the nodes' verbs, the port
reservation, the image checks, the sweeper) and the address brokers advertise
(:func:`chaos.engine.published_host`) find the engine through ``DOCKER_HOST``. A child with its own
``DOCKER_HOST`` keeps those layers unaware of engines, so the layers stay one-way and a run on an
engine is exactly a run of ``kafka-chaos run``; it also gives each engine's runs what only a
process has: a main thread for the SIGTERM handling that heals a run, a cluster pool, and a range
of host ports (``KAFKA_CHAOS_PORTS``, cut here from the one range into one part per engine, so two
engines publishing on one host's loopback never draw the same port).

Scheduling (:func:`pick`): an idle engine takes the first waiting run of the shape its cluster
has (a reset instead of a start), else the first of a shape no other engine is running, else the
first. A run that fails is a result like any other; an engine whose worker dies has its run
recorded as an error and takes no more, and the others run the rest.

Before anything starts, every engine must answer and hold every image the suite's clusters run:
one sentence otherwise (exit 3), and a malformed URL or an option that cannot go with several
engines is one sentence too (exit 2).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Protocol

import docker
from chaos.cluster.containers import required_images
from chaos.cluster.ports import ephemeral_floor, port_span, split_span
from chaos.engine import docker_client
from chaos.errors import DockerUnavailable, ImageMissing, InfrastructureError, Interrupted, UsageError
from chaos.experiments.clusters import by_shape, refuse_files_cluster
from chaos.experiments.engine_child import ChildWorker, EngineLost, Worker
from chaos.experiments.engine_jobs import Job, WorkerSetup
from chaos.experiments.loading import LoadedExperiment
from chaos.experiments.model import Experiment
from chaos.experiments.options import RunOptions
from chaos.experiments.pool import shape
from chaos.experiments.prepare import prepare_clients
from chaos.labels import new_run_id
from chaos.progress import silent
from chaos.results import RunResult, SuiteResult, SuiteUpdated
from chaos.signals import sigterm_raises

#: Starts an engine's worker: its setup and its range of host ports.
StartWorker = Callable[[WorkerSetup, str], Worker]


class Connect(Protocol):
    """Connects to the engine at ``address`` (:func:`chaos.engine.docker_client`)."""

    def __call__(self, timeout: float = 60, address: str | None = None) -> docker.DockerClient:
        """A client of the engine; raises DockerUnavailable when it does not answer."""
        ...


def refuse_options(options: RunOptions, loaded: Sequence[LoadedExperiment]) -> None:
    """Refuse what cannot go with several engines, before anything starts.

    Raises:
        UsageError: ``--cluster``, ``--keep-cluster``, a team's cluster (``--bootstrap-servers`` or a
            file naming one).
    """
    for flag, given, does in (
        ("--cluster", options.cluster is not None, "runs every experiment on one cluster already up"),
        ("--keep-cluster", options.keep_cluster, "would leave clusters that only their own engine reaches"),
        ("--bootstrap-servers", options.external is not None, "runs on a team's cluster"),
    ):
        if given:
            raise UsageError(f"--engines starts clusters on each engine, and {flag} {does}: pick one")
    for item in loaded:
        refuse_files_cluster(item.experiment)


def check_engines(
    engines: Sequence[str], loaded: Sequence[LoadedExperiment], kafka_version: str | None, connect: Connect
) -> None:
    """Every engine answers and has every image the suite's clusters run (never built or pulled
    there: ``scripts/second-engine`` copies them into the second engine it starts).

    Raises:
        InfrastructureError: an engine does not answer, or lacks an image; one sentence says which.
    """
    specs = {shape(spec): spec for spec in (item.experiment.cluster.spec(kafka_version) for item in loaded)}
    for engine in engines:
        try:
            client = connect(timeout=10, address=engine)
        except DockerUnavailable as e:
            raise InfrastructureError(
                f"engine {engine} does not answer ({type(e.__cause__).__name__}): start it "
                "(scripts/second-engine starts a second one on this machine) or leave it out of --engines"
            ) from None
        try:
            for _, spec in sorted(specs.items()):
                required_images(client, spec)
        except ImageMissing as e:
            raise InfrastructureError(
                f"engine {engine}: {str(e).split(': ')[0]}: copy the images there with `docker save IMAGE | "
                f"docker -H {engine} load` (scripts/second-engine does for its engine)"
            ) from None
        finally:
            client.close()


def pick(waiting: Sequence[Job], last: str | None, running: Collection[str]) -> int:
    """The index in ``waiting`` of the run an idle engine takes: the first of ``last`` (the shape
    of its cluster), else the first of a shape no other engine is ``running``, else the first.

    >>> waiting = [Job(i, None, f"r{i}", shape=s) for i, s in enumerate("aba")]  # type: ignore[arg-type]
    >>> pick(waiting, "b", {"a"}), pick(waiting, "c", {"a"}), pick(waiting, None, {"a", "b"})
    (1, 1, 0)
    """
    shapes = [job.shape for job in waiting]
    if last in shapes:
        return shapes.index(last)
    free = [i for i, s in enumerate(shapes) if s not in running]
    return free[0] if free else 0


def jobs_of(loaded: Sequence[LoadedExperiment], repeat: int, seed: int, kafka_version: str | None) -> list[Job]:
    """The suite's runs, numbered, named and seeded as ``kafka-chaos run`` would on one engine (by
    shape), to be taken longest first within each shape: the engines' last runs are then the
    shortest, and the one that finishes first idles least."""
    ordered = by_shape(loaded, kafka_version)
    runs = [(item, rep) for item in ordered for rep in range(1, repeat + 1)]
    jobs = [
        Job(
            i,
            item,
            item.label if repeat == 1 else f"{item.label}-{rep}",
            rep,
            seed + rep - 1,
            shape(item.experiment.cluster.spec(kafka_version)),
        )
        for i, (item, rep) in enumerate(runs)
    ]
    first = {job.shape: job.index for job in reversed(jobs)}
    return sorted(jobs, key=lambda job: (first[job.shape], -expected_seconds(job.item.experiment)))


def expected_seconds(exp: Experiment) -> float:
    """How long a run of ``exp`` waits at least: its warm-up, fault window and settle."""
    return exp.phases.warmup + exp.fault_window() + exp.phases.settle


def lost_result(job: Job, suite_dir: Path, why: str) -> RunResult:
    """The result of ``job`` when no engine could run it to its end (an error, exit code 3)."""
    item = job.item
    result = RunResult(item.experiment.name, item.path, suite_dir / job.name, "", job.repetition)
    result.error, result.error_kind = why, EngineLost.__name__
    return result


class Board:
    """The suite's runs as the engines take them and the results as they come back, under one lock;
    ``updated`` is called (under it) after every result, ``on_result`` with each."""

    def __init__(
        self,
        jobs: Sequence[Job],
        suite: SuiteResult,
        updated: Callable[[], None],
        on_result: Callable[[RunResult], None] | None = None,
    ) -> None:
        self.waiting = list(jobs)
        self.suite = suite
        self.updated = updated
        self.on_result = on_result
        self.lock = threading.Lock()
        #: The shape each engine runs now, and the shape its cluster has (the last it ran).
        self.running: dict[str, str] = {}
        self.last: dict[str, str] = {}
        self.workers: dict[str, Worker] = {}
        #: Why an engine takes no more runs, by engine.
        self.lost: dict[str, str] = {}
        self.stopping = False
        self._done: dict[int, RunResult] = {}

    def take(self, engine: str) -> Job | None:
        """The next run for ``engine`` (:func:`pick`); None when none is left or the suite stops."""
        with self.lock:
            if self.stopping or not self.waiting:
                return None
            others = {s for e, s in self.running.items() if e != engine}
            job = self.waiting.pop(pick(self.waiting, self.last.get(engine), others))
            self.running[engine] = self.last[engine] = job.shape
            return job

    def finish(self, engine: str, job: Job, result: RunResult) -> None:
        """Record ``result``; the suite's results stay in the suite's order, whichever engine ran them."""
        with self.lock:
            self.running.pop(engine, None)
            self._done[job.index] = result
            self.suite.results = [self._done[i] for i in sorted(self._done)]
            self.updated()
            if self.on_result is not None:
                self.on_result(result)

    def hire(self, engine: str, worker: Worker) -> None:
        """``worker`` serves ``engine``; it is interrupted at once when the suite is stopping."""
        with self.lock:
            self.workers[engine] = worker
            if self.stopping:
                worker.interrupt()

    def stop(self) -> None:
        """Ctrl-C: no more runs, and every worker interrupted once."""
        with self.lock:
            self.stopping = True
            for worker in self.workers.values():
                worker.interrupt()

    def leftovers(self, suite_dir: Path) -> list[Job]:
        """The runs no engine was left to take (every engine lost), each recorded as an error."""
        left, self.waiting = self.waiting, []
        why = "; ".join(f"{e}: {reason}" for e, reason in self.lost.items())
        for job in left:
            self.finish("", job, lost_result(job, suite_dir, f"not run: every engine was lost ({why})"))
        return left


def serve_engine(engine: str, setup: WorkerSetup, ports: str, board: Board, start: StartWorker) -> None:
    """Feed ``engine``'s worker runs until none is left, the suite stops, or the worker is lost
    (its run then recorded as an error, and the engine takes no more)."""
    try:
        worker = start(setup, ports)
    except EngineLost as e:
        board.lost[engine] = str(e)
        return
    board.hire(engine, worker)
    try:
        while (job := board.take(engine)) is not None:
            try:
                result = worker.run(job)
            except Exception as e:  # EngineLost, or a broken answer: the engine takes no more runs
                board.lost[engine] = str(e)
                if not board.stopping:
                    board.finish(engine, job, lost_result(job, setup.suite_dir, f"engine {engine} lost: {e}"))
                return
            board.finish(engine, job, result)
    finally:
        worker.close()


def run_on_engines(
    loaded: Sequence[LoadedExperiment],
    options: RunOptions,
    engines: Sequence[str],
    repeat: int = 1,
    suite_id: str | None = None,
    on_result: Callable[[RunResult], None] | None = None,
    *,
    start: StartWorker = ChildWorker,
    connect: Connect = docker_client,
) -> SuiteResult:
    """Run the suite as :func:`~.runner.run_suite` does, spread over ``engines``: one run per engine
    at a time, one suite directory and one set of reports. Ctrl-C or SIGTERM interrupt every
    engine's run (each heals and tears down, and its clusters are removed), then propagate.

    Raises:
        UsageError: an option that cannot go with several engines (:func:`refuse_options`).
        InfrastructureError: an engine does not answer or lacks an image (:func:`check_engines`), or
            the Java client driver could not be compiled.
    """
    refuse_options(options, loaded)
    check_engines(engines, loaded, options.kafka_version, connect)
    prepare_clients(
        [item.experiment for item in loaded], options.kafka_version, options.client_version, options.progress
    )
    suite_dir = Path(options.reports_dir) / (suite_id or new_run_id())
    suite_dir.mkdir(parents=True, exist_ok=True)
    jobs = jobs_of(loaded, repeat, options.seed, options.kafka_version)
    options.progress(f"{len(jobs)} runs over {len(engines)} engines: {', '.join(engines)}")
    bus, t0 = options.bus(), time.monotonic()
    suite = SuiteResult(suite_dir, [], 0.0)

    def updated() -> None:
        suite.seconds = time.monotonic() - t0
        bus.emit(SuiteUpdated(run="", suite=suite))

    board = Board(jobs, suite, updated, on_result)
    quiet = options.progress is silent
    bare = replace(options, progress=silent, listeners=())
    spans = split_span(port_span(ephemeral_floor()), len(engines))
    threads = [
        threading.Thread(
            target=serve_engine,
            args=(engine, WorkerSetup(suite_dir, bare, engine, quiet), span, board, start),
            name=f"engine-{i + 1}",
            daemon=True,
        )
        for i, (engine, span) in enumerate(zip(engines, spans, strict=True))
    ]
    try:
        with sigterm_raises():
            for thread in threads:
                thread.start()
            while alive := [thread for thread in threads if thread.is_alive()]:
                alive[0].join(0.2)  # in short waits: Ctrl-C and SIGTERM reach this thread
    except (KeyboardInterrupt, Interrupted):
        options.progress("interrupted: every engine's run heals and tears down …")
        board.stop()
        for thread in threads:
            if thread.is_alive():  # one not yet started when Ctrl-C came never will be
                thread.join()
        suite.interrupted = True
        with board.lock:
            updated()
        raise
    board.leftovers(suite_dir)
    with board.lock:
        updated()
    return suite
