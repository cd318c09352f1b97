"""A suite spread over several engines (``run --engines``), scheduled with fake engines: which run
goes where, one suite report, a failed run or a lost engine recorded while the suite goes on,
Ctrl-C passed to every engine once; and one worker process for real, on an engine that is not there."""

from __future__ import annotations

import _thread
import json
import signal
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

import docker
from chaos.engine import parse_engines
from chaos.errors import DockerUnavailable, ImageMissing, InfrastructureError, UsageError
from chaos.experiments.engine_child import ChildWorker, EngineLost
from chaos.experiments.engine_jobs import Job, WorkerSetup
from chaos.experiments.engines import jobs_of, refuse_options, run_on_engines
from chaos.experiments.loading import LoadedExperiment, load_suite
from chaos.experiments.options import RunOptions
from chaos.oracle.verdict import Counts, ExpectationResult, Trust, Verdict
from chaos.results import RunResult

E1, E2 = "unix:///var/run/docker.sock", "unix:///run/kafka-chaos/docker2.sock"

FILE = """\
name: {name}
cluster: {{brokers: {brokers}}}
topic: {{replication_factor: 1}}
producer: {{mode: sync, rate: 100}}
faults:
  - {{kind: client_kill, workload: producer-p0, at: 1, duration: 1}}
phases: {{warmup: 1, settle: 1}}
expect: {{producer_loss: 0}}
"""


def suite_files(tmp_path: Path, shapes: dict[str, int]) -> list[LoadedExperiment]:
    """One file per name, on a cluster of that many brokers, loaded as ``kafka-chaos run`` loads them."""
    folder = tmp_path / "experiments"
    folder.mkdir()
    for i, (name, brokers) in enumerate(shapes.items()):
        (folder / f"{i}-{name}.yaml").write_text(FILE.format(name=name, brokers=brokers))
    return load_suite([folder])


def passed(job: Job, setup: WorkerSetup) -> RunResult:
    met = ExpectationResult(name="producer_loss == 0", passed=True, actual=0)
    verdict = Verdict.build(
        run_id=f"r{job.index}",
        experiment=job.item.experiment.name,
        counts=Counts(sent=9),
        anomalies={},
        trust=Trust(),
        loss={"producer": 0, "broker": 0, "consumer": 0},
        expectations=[met],
    )
    result = RunResult(job.item.experiment.name, job.item.path, setup.suite_dir / job.name, f"r{job.index}")
    result.verdict = verdict
    return result


@dataclass
class Engines:
    """Fake engines: who ran what, which ports each was given, and how each behaves."""

    #: Engines whose worker dies on its first run, and engines whose worker cannot start.
    dying: set[str] = field(default_factory=set)
    unstartable: set[str] = field(default_factory=set)
    #: Names of runs that fail (an error, as a run that could not complete).
    failing: set[str] = field(default_factory=set)
    #: Every run waits until the other engine has one too (runs in rounds), else only the first.
    lockstep: bool = False
    #: Each engine's first run waits until both engines have one (so each takes its first before either ends).
    both_started: threading.Barrier = field(default_factory=lambda: threading.Barrier(2, timeout=10))
    ran: dict[str, list[str]] = field(default_factory=dict)
    ports: dict[str, str] = field(default_factory=dict)
    closed: list[str] = field(default_factory=list)
    interrupted: list[str] = field(default_factory=list)
    #: Ctrl-C in the harness's main thread during this run, as a person would press it.
    ctrl_c_during: str | None = None

    def start(self, setup: WorkerSetup, ports: str) -> FakeWorker:
        if setup.engine in self.unstartable:
            raise EngineLost(f"the worker of engine {setup.engine} could not start: no such file")
        self.ports[setup.engine] = ports
        return FakeWorker(self, setup)


class FakeWorker:
    def __init__(self, engines: Engines, setup: WorkerSetup) -> None:
        self.engines, self.setup, self.first = engines, setup, True
        self.stopped = threading.Event()

    def run(self, job: Job) -> RunResult:
        engine = self.setup.engine
        if (self.first or self.engines.lockstep) and not self.engines.unstartable:
            self.engines.both_started.wait()
        self.first = False
        self.engines.ran.setdefault(engine, []).append(job.name)
        if engine in self.engines.dying:
            raise EngineLost(f"the worker of engine {engine} exited (-9) during {job.name}")
        if job.name == self.engines.ctrl_c_during:
            _thread.interrupt_main()
            self.stopped.wait(10)
            raise EngineLost(f"the worker of engine {engine} exited (130) during {job.name}")
        result = passed(job, self.setup)
        if job.name in self.engines.failing:
            result.verdict, result.error, result.error_kind = None, "cluster did not start", "ClusterUnhealthy"
        return result

    def interrupt(self) -> None:
        self.engines.interrupted.append(self.setup.engine)
        self.stopped.set()

    def close(self) -> None:
        self.engines.closed.append(self.setup.engine)


class FakeClient:
    def __init__(self, images: set[str]) -> None:
        self.images = self
        self.held = images
        self.closed = False

    def get(self, ref: str) -> object:
        if ref not in self.held:
            raise docker.errors.ImageNotFound(ref)
        return object()

    def close(self) -> None:
        self.closed = True


def answering(missing: dict[str, str] | None = None) -> object:
    """A fake ``docker_client``: every engine answers and holds every image but ``missing``'s."""

    def connect(timeout: float = 60, address: str | None = None) -> FakeClient:
        lacks = (missing or {}).get(address or "")

        class Client(FakeClient):
            def get(self, ref: str) -> object:
                if lacks and ref.startswith(lacks):
                    raise docker.errors.ImageNotFound(ref)
                return object()

        return Client(set())

    return connect


def spread(
    tmp_path: Path, loaded: list[LoadedExperiment], engines: Engines, names: tuple[str, ...] = (E1, E2)
) -> tuple[list[RunResult], dict[str, Any]]:
    seen: list[RunResult] = []
    suite = run_on_engines(
        loaded,
        RunOptions(reports_dir=tmp_path / "reports"),
        list(names),
        suite_id="s1",
        on_result=seen.append,
        start=engines.start,
        connect=answering(),  # type: ignore[arg-type]
    )
    assert sorted(r.name for r in seen) == sorted(r.name for r in suite.results)  # each once, as it came
    data = json.loads((tmp_path / "reports" / "s1" / "suite.json").read_text())
    return suite.results, data


def test_engines_are_docker_host_urls_each_once_and_anything_else_is_one_sentence() -> None:
    assert parse_engines(f" {E1},{E2} ") == [E1, E2]
    assert parse_engines("tcp://build-7:2375,ssh://ci@build-8") == ["tcp://build-7:2375", "ssh://ci@build-8"]
    bad = {
        "": "--engines names no engine: write e.g.",
        "docker2.sock": "--engines: docker2.sock is not an engine's address: write unix:///path/to/docker.sock",
        "tcp://:2375": "--engines: tcp://:2375 is not an engine's address",
        "unix://": "--engines: unix:// is not an engine's address",
        f"{E1},{E1}": f"--engines names {E1} twice: name each engine once",
    }
    for text, sentence in bad.items():
        with pytest.raises(UsageError) as caught:
            parse_engines(text)
        assert str(caught.value).startswith(sentence)
        assert "\n" not in str(caught.value)


def test_options_that_keep_to_one_cluster_are_refused_before_anything_starts(tmp_path: Path) -> None:
    loaded = suite_files(tmp_path, {"a": 1})
    for options, flag in (
        (RunOptions(cluster="20261206-000000-ab12"), "--cluster"),
        (RunOptions(keep_cluster=True), "--keep-cluster"),
    ):
        with pytest.raises(UsageError, match=f"^--engines starts clusters on each engine, and {flag} .*: pick one$"):
            refuse_options(options, loaded)
    refuse_options(RunOptions(), loaded)


def test_an_engine_that_does_not_answer_or_lacks_an_image_is_one_sentence_and_nothing_runs(tmp_path: Path) -> None:
    loaded = suite_files(tmp_path, {"a": 1})
    engines = Engines()

    def nobody(timeout: float = 60, address: str | None = None) -> object:
        if address == E2:
            raise DockerUnavailable("no Docker engine answers") from OSError("refused")
        return answering()(timeout, address)  # type: ignore[operator]

    options = RunOptions(reports_dir=tmp_path / "reports")
    with pytest.raises(InfrastructureError) as caught:
        run_on_engines(loaded, options, [E1, E2], start=engines.start, connect=nobody)  # type: ignore[arg-type]
    assert str(caught.value) == (
        f"engine {E2} does not answer (OSError): start it (scripts/second-engine starts a second one on this "
        "machine) or leave it out of --engines"
    )
    connect = answering({E2: "kafka-chaos/kafka:"})
    lacks = f"^engine {E2}: image kafka-chaos/kafka:4.4.0-[0-9a-f]+ is not on this Docker engine: copy the images"
    with pytest.raises(InfrastructureError, match=lacks):
        run_on_engines(loaded, options, [E1, E2], start=engines.start, connect=connect)  # type: ignore[arg-type]
    assert not isinstance(caught.value, ImageMissing)
    assert engines.ran == {} and not (tmp_path / "reports").exists()


def test_runs_are_named_and_seeded_as_on_one_engine_grouped_by_shape(tmp_path: Path) -> None:
    loaded = suite_files(tmp_path, {"one-a": 1, "three-a": 3, "one-b": 1})
    jobs = jobs_of(loaded, 2, 7, None)
    assert [(j.index, j.name, j.repetition, j.seed) for j in jobs] == [
        (0, "one-a-1", 1, 7),
        (1, "one-a-2", 2, 8),
        (2, "one-b-1", 1, 7),
        (3, "one-b-2", 2, 8),
        (4, "three-a-1", 1, 7),
        (5, "three-a-2", 2, 8),
    ]
    assert len({j.shape for j in jobs[:4]}) == 1 and jobs[4].shape == jobs[5].shape != jobs[0].shape


def test_within_a_shape_the_longest_runs_go_first_and_the_reports_keep_the_suites_order(tmp_path: Path) -> None:
    loaded = suite_files(tmp_path, {"short": 1, "long": 1, "other": 3})
    long = loaded[1].experiment
    loaded[1] = replace(
        loaded[1], experiment=long.model_copy(update={"phases": long.phases.model_copy(update={"settle": 30.0})})
    )
    jobs = jobs_of(loaded, 1, 0, None)
    assert [(j.name, j.index) for j in jobs] == [("long", 1), ("short", 0), ("other", 2)]


def test_each_engine_keeps_to_a_shape_its_cluster_has_and_one_report_holds_every_run(tmp_path: Path) -> None:
    loaded = suite_files(tmp_path, {"one-a": 1, "one-b": 1, "three-a": 3, "three-b": 3})
    engines = Engines(lockstep=True)
    results, data = spread(tmp_path, loaded, engines)
    # the engine that took a 1-broker run ran both (its cluster reset between), the other both 3-broker runs
    assert sorted(sorted(runs) for runs in engines.ran.values()) == [["one-a", "one-b"], ["three-a", "three-b"]]
    assert [r.name for r in results] == ["one-a", "one-b", "three-a", "three-b"]
    assert [(r["name"], r["status"]) for r in data["runs"]] == [
        ("one-a", "passed"),
        ("one-b", "passed"),
        ("three-a", "passed"),
        ("three-b", "passed"),
    ]
    assert data["exit_code"] == 0 and data["interrupted"] is False
    for name in ("junit.xml", "summary.md", "report.html"):
        assert (tmp_path / "reports" / "s1" / name).exists()
    # two engines on one host: each draws its host ports from a range of its own
    assert engines.ports == {E1: "20000-26383", E2: "26384-32767"}
    assert sorted(engines.closed) == sorted([E1, E2])


def test_a_failed_run_is_recorded_and_its_engine_goes_on(tmp_path: Path) -> None:
    loaded = suite_files(tmp_path, {"one-a": 1, "one-b": 1, "three-a": 3, "three-b": 3})
    engines = Engines(failing={"one-a"})
    _, data = spread(tmp_path, loaded, engines)
    assert [r["status"] for r in data["runs"]] == ["error", "passed", "passed", "passed"]
    assert data["runs"][0]["error"] == "cluster did not start" and data["exit_code"] == 3
    assert sum(len(runs) for runs in engines.ran.values()) == 4


def test_a_lost_engine_has_its_run_recorded_and_the_other_engine_runs_the_rest(tmp_path: Path) -> None:
    loaded = suite_files(tmp_path, {"one-a": 1, "one-b": 1, "three-a": 3, "three-b": 3})
    engines = Engines(dying={E2})
    results, data = spread(tmp_path, loaded, engines)
    (lost,) = engines.ran[E2]
    assert sorted(engines.ran[E1]) == sorted({"one-a", "one-b", "three-a", "three-b"} - {lost})
    statuses = {r["name"]: r["status"] for r in data["runs"]}
    assert statuses == {name: "error" if name == lost else "passed" for name in statuses}
    (row,) = [r for r in results if r.name == lost]
    assert row.error == f"engine {E2} lost: the worker of engine {E2} exited (-9) during {lost}"
    assert row.error_kind == "EngineLost" and data["exit_code"] == 3


def test_when_every_engine_is_lost_the_runs_left_are_errors_saying_why(tmp_path: Path) -> None:
    loaded = suite_files(tmp_path, {"one-a": 1, "one-b": 1, "three-a": 3})
    engines = Engines(dying={E1}, unstartable={E2})
    results, data = spread(tmp_path, loaded, engines)
    assert [r["status"] for r in data["runs"]] == ["error", "error", "error"]
    left = [r.error or "" for r in results if r.name not in engines.ran[E1]]
    assert len(left) == 2 and all(e.startswith("not run: every engine was lost (") for e in left)
    assert f"{E2}: the worker of engine {E2} could not start" in left[0]


def test_ctrl_c_interrupts_every_engine_once_and_the_report_says_interrupted(tmp_path: Path) -> None:
    loaded = suite_files(tmp_path, {"one-a": 1, "three-a": 3})
    engines = Engines(ctrl_c_during="three-a")
    # Ctrl-C is simulated (_thread.interrupt_main), which does nothing unless Python's own SIGINT
    # handler is in place: whatever ran before in this worker process, it is for this test.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            spread(tmp_path, loaded, engines)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert sorted(engines.interrupted) == sorted([E1, E2]) and sorted(engines.closed) == sorted([E1, E2])
    data = json.loads((tmp_path / "reports" / "s1" / "suite.json").read_text())
    assert data["interrupted"] is True
    assert [r["name"] for r in data["runs"]] in ([], ["one-a"])  # the interrupted run is not a result


def test_a_real_worker_process_answers_each_run_and_an_engine_not_there_is_the_runs_error(tmp_path: Path) -> None:
    (item,) = suite_files(tmp_path, {"one-a": 1})
    nowhere = f"unix://{tmp_path}/nowhere.sock"
    setup = WorkerSetup(tmp_path / "suite", RunOptions(status_every=0), nowhere, quiet=True)
    worker = ChildWorker(setup, "26384-32767")
    try:
        result = worker.run(Job(0, item, "one-a"))
    finally:
        worker.close()
    assert worker.process.returncode == 0
    assert result.name == "one-a" and result.run_dir == tmp_path / "suite" / "one-a"
    assert result.error_kind == "DockerUnavailable" and f"no Docker engine answers at {nowhere}" in (result.error or "")
    assert json.loads((result.run_dir / "run.json").read_text())["engine"] == nowhere
