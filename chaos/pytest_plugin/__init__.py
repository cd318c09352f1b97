"""pytest plugin (entry point ``pytest11``): clusters, scenarios and experiments as tests.

Cheap to import: nothing of Docker or Kafka loads until a fixture is used.

Fixtures:
    kafka_cluster: a healthy cluster for the test module. Brokers, controllers, Kafka version and
        broker settings come from ``@pytest.mark.kafka_cluster(brokers=…, broker_config={…})`` on
        the module, or from the command-line options. Modules and experiment tests with the same
        shape share one cluster, reset between them (see ``docs/cluster-reuse.md``);
        ``--kafka-chaos-fresh-cluster`` gives each its own.
    kafka_cluster_session: one cluster for the whole session (command-line options only).
    kafka_cluster_function: a fresh cluster for each test (marker or options).
    scenario: a :class:`~chaos.scenario.Scenario` — its own topic on ``kafka_cluster``, workloads
        and faults that are healed and killed after the test.
    run_experiment: ``run_experiment("experiments/c1.yaml") -> Verdict`` runs an experiment file
        end to end, fails the test when an expectation fails, and attaches the verdict to the report.
        Consecutive experiment tests with the same cluster shape share one cluster, reset between
        them (``--kafka-chaos-fresh-cluster``: a cluster each).

Experiment files are tests too: ``pytest experiments/`` collects every ``*.yaml`` in a directory
named ``experiments`` as one test named after the experiment, so ``pytest experiments/ -k c1`` runs
one scenario. Such tests and tests using ``run_experiment`` carry the ``experiment`` marker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from chaos.cluster import ClusterSpec, KafkaCluster
    from chaos.experiments.pool import ClusterPool
    from chaos.oracle import Verdict
    from chaos.scenario import Scenario

VERDICT_KEY = pytest.StashKey[dict[str, Any]]()
POOL_KEY = pytest.StashKey["ClusterPool"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kafka-chaos", "kafka-chaos: Kafka clusters in Docker")
    group.addoption("--kafka-version", default=None, help="Kafka release for clusters and experiments.")
    group.addoption("--kafka-brokers", type=int, default=None, help="Brokers of the cluster fixtures (default 3).")
    group.addoption(
        "--kafka-chaos-reports",
        default="reports",
        help="Directory for run directories (broker logs, verdicts, reports). Default: reports.",
    )
    group.addoption("--kafka-chaos-seed", type=int, default=0, help="Seed for random fault targets and schedules.")
    group.addoption(
        "--kafka-chaos-fresh-cluster",
        action="store_true",
        help="A cluster of its own for every experiment, instead of one per shape reset between them.",
    )
    group.addoption(
        "--kafka-chaos-cluster",
        default=None,
        metavar="RUN_ID",
        help="Run experiments and the kafka_cluster and scenario fixtures on this running cluster (e.g. from "
        "`kafka-chaos cluster up`), reset before each, instead of starting clusters; its shape must match.",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "integration: needs a Docker engine and the kafka-chaos images.")
    config.addinivalue_line("markers", "kafka_cluster(**spec): ClusterSpec fields for the cluster fixtures.")
    config.addinivalue_line(
        "markers", "experiment: runs an experiment end to end on its own cluster (slow: ~1 min each)."
    )


# -- clusters -------------------------------------------------------------------------------------
def _spec(request: pytest.FixtureRequest, use_marker: bool = True) -> ClusterSpec:
    from chaos.cluster import ClusterSpec
    from chaos.images.recipes import DEFAULT_KAFKA_VERSION

    marker = request.node.get_closest_marker("kafka_cluster") if use_marker else None
    fields: dict[str, Any] = dict(marker.kwargs) if marker else {}
    fields.setdefault("kafka_version", request.config.getoption("--kafka-version") or DEFAULT_KAFKA_VERSION)
    if request.config.getoption("--kafka-brokers"):
        fields.setdefault("brokers", request.config.getoption("--kafka-brokers"))
    return ClusterSpec(**fields)


def _cluster(request: pytest.FixtureRequest, use_marker: bool = True) -> Iterator[KafkaCluster]:
    from chaos.cluster import KafkaCluster
    from chaos.labels import new_run_id

    run_id = new_run_id()
    run_dir = Path(request.config.getoption("--kafka-chaos-reports")) / run_id
    with KafkaCluster(_spec(request, use_marker), run_id=run_id, run_dir=run_dir) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def kafka_cluster(request: pytest.FixtureRequest) -> Iterator[KafkaCluster]:
    """A healthy cluster for the module, from the session's pool: modules (and experiment tests) with
    the same cluster shape share one, reset between them; broker logs land in
    ``<reports>/clusters/<run-id>/logs`` when the pool removes it."""
    pool = _pool(request.config)
    lease = pool.acquire(_spec(request))
    try:
        yield lease.cluster
    finally:
        pool.release(lease)


@pytest.fixture(scope="session")
def kafka_cluster_session(request: pytest.FixtureRequest) -> Iterator[KafkaCluster]:
    """One healthy cluster for the whole session (shape from the command-line options)."""
    yield from _cluster(request, use_marker=False)


@pytest.fixture
def kafka_cluster_function(request: pytest.FixtureRequest) -> Iterator[KafkaCluster]:
    """A fresh cluster for this test alone."""
    yield from _cluster(request)


# -- scenarios ------------------------------------------------------------------------------------
@pytest.fixture
def scenario(kafka_cluster: KafkaCluster, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Scenario]:
    """A topic of its own on ``kafka_cluster`` with workloads and faults; healed and killed after.

    The topic's shape and the client path come from an indirect parameter when there is one:
    ``@pytest.mark.parametrize("scenario", [{"partitions": 1}], indirect=True)`` (``Scenario``'s
    ``partitions``, ``replication_factor``, ``topic_config``, and ``client_path``: ``"direct"`` puts
    the workloads and the drain on the brokers' own listeners, past toxiproxy).
    """
    from chaos.scenario import Scenario

    with Scenario(
        kafka_cluster,
        tmp_path / "scenario",
        seed=request.config.getoption("--kafka-chaos-seed"),
        name=request.node.name,
        **getattr(request, "param", {}),
    ) as s:
        yield s


# -- experiments ----------------------------------------------------------------------------------
def _verdict_text(data: dict[str, Any]) -> str:
    from chaos.oracle.verdict import Verdict
    from chaos.reports.junit import describe

    verdict = {k: v for k, v in data.items() if k not in ("run_dir", "error")}
    text = describe(Verdict.model_validate(verdict)) if data.get("loss") is not None else ""
    if data.get("run_dir"):
        text += f"run directory: {data['run_dir']} (report.html, summary.md, verdict.json)\n"
    if data.get("error"):
        text += f"error: {data['error']}\n"
    return text.rstrip()


class ExperimentFailed(AssertionError):
    """An experiment's expectations were not met (the message lists which, with the actual values)."""


def _pool(config: pytest.Config) -> ClusterPool:
    """The session's cluster pool: experiment tests and test modules with the same cluster shape
    share a cluster, reset between them (``--kafka-chaos-fresh-cluster``: one each;
    ``--kafka-chaos-cluster``: the given one, reset before each).

    Raises:
        UsageError: ``--kafka-chaos-cluster`` names no running cluster, or comes with
            ``--kafka-chaos-fresh-cluster``.
    """

    if POOL_KEY not in config.stash:
        from chaos.experiments.runner import RunOptions, pool_for

        reports = Path(config.getoption("--kafka-chaos-reports"))
        options = RunOptions(
            reports_dir=reports,
            fresh_cluster=bool(config.getoption("--kafka-chaos-fresh-cluster")),
            cluster=config.getoption("--kafka-chaos-cluster"),
        )
        pool = pool_for(options, reports, [])  # a given cluster's shape is checked as each test takes it
        config.stash[POOL_KEY] = pool
        config.add_cleanup(pool.close)
    return config.stash[POOL_KEY]


def _uses_the_pool(item: pytest.Item | None) -> bool:
    """Whether ``item`` takes a cluster from the session's pool: an experiment, or a test on
    ``kafka_cluster`` (``scenario`` included)."""
    names = getattr(item, "fixturenames", ())
    return item is not None and (
        isinstance(item, ExperimentItem) or "run_experiment" in names or "kafka_cluster" in names
    )


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    # An idle cluster waits only for a next test that may reuse it (the pool removes one of another
    # shape itself); a module's leased cluster stays for its next test either way.
    if POOL_KEY in item.config.stash and not _uses_the_pool(nextitem):
        item.config.stash[POOL_KEY].close_idle()


def _run_file(config: pytest.Config, node: pytest.Item, path: Path, check: bool = True) -> Verdict | None:
    from chaos.errors import ChaosError
    from chaos.experiments.loading import load_experiment
    from chaos.experiments.runner import ExperimentRun, RunOptions
    from chaos.labels import new_run_id

    exp = load_experiment(path)
    options = RunOptions(
        reports_dir=Path(config.getoption("--kafka-chaos-reports")),
        seed=config.getoption("--kafka-chaos-seed"),
        kafka_version=config.getoption("--kafka-version"),
    )
    run_id = new_run_id()
    run = ExperimentRun(exp, options.reports_dir / run_id / exp.name, options, path, run_id=run_id, pool=_pool(config))
    result = run.run()
    data: dict[str, Any] = {"run_dir": str(result.run_dir), "error": result.error}
    if result.verdict is not None:
        data.update(result.verdict.model_dump(mode="json"))
    node.stash[VERDICT_KEY] = data
    for key in ("producer", "broker", "consumer"):
        node.user_properties.append((f"loss.{key}", (data.get("loss") or {}).get(key)))
    node.user_properties.append(("run_dir", str(result.run_dir)))
    node.user_properties.append(("cluster", result.cluster))
    if result.error is not None:
        raise ChaosError(f"{exp.name} could not complete: {result.error} (see {result.run_dir})")
    if check and result.verdict is not None and not result.verdict.passed:
        failed = result.verdict.failed_expectations()
        raise ExperimentFailed(f"{exp.name}: " + "; ".join(e.sentence() for e in failed))
    return result.verdict


@pytest.fixture
def run_experiment(request: pytest.FixtureRequest) -> Callable[..., Verdict | None]:
    """``run_experiment(path, check=True)``: run an experiment file (on the session pool's cluster of
    its shape, reset after the experiment before); fails the test
    when an expectation fails (``check=False``: just return the verdict)."""
    request.node.add_marker("experiment")

    def run(path: str | Path, check: bool = True) -> Verdict | None:
        return _run_file(request.config, request.node, Path(path), check)

    return run


class ExperimentItem(pytest.Item):
    """One experiment file as a test."""

    def __init__(self, *, path: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.experiment_path = path
        self.add_marker("experiment")
        self.add_marker("integration")

    def runtest(self) -> None:
        _run_file(self.config, self, self.experiment_path)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        from chaos.errors import ChaosError

        if isinstance(excinfo.value, ExperimentFailed | ChaosError):
            data = self.stash.get(VERDICT_KEY, {})
            return f"{excinfo.value}\n{_verdict_text(data)}" if data else str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.experiment_path, 0, f"experiment {self.name}"


class ExperimentFile(pytest.File):
    """A YAML experiment file; a malformed one fails collection with the loader's message."""

    def collect(self) -> Iterator[pytest.Item]:
        from chaos.experiments.loading import load_experiment

        exp = load_experiment(self.path)
        yield ExperimentItem.from_parent(self, name=exp.name, path=self.path)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix in (".yaml", ".yml") and "experiments" in file_path.parent.parts[-1:]:
        return ExperimentFile.from_parent(parent, path=file_path)
    return None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    data = item.stash.get(VERDICT_KEY, None)
    if data is not None and call.when == "call":
        report.sections.append(("kafka-chaos verdict", _verdict_text(data)))  # type: ignore[attr-defined]
    return report
