"""pytest plugin (entry point ``pytest11``): clusters, scenarios and experiments as tests.

A guest in every pytest run of an environment where kafka-chaos is installed, so it does nothing
unless asked: nothing of Docker or Kafka is imported until one of its fixtures or experiment tests
runs; no file is collected unless ``kafka_chaos_experiments`` (or ``--kafka-chaos-experiments``)
names it; the third-party warnings of its own calls stay out of the run. ``docs/pytest.md`` is the
guide; every option is ``--kafka-chaos-…`` with an ini key ``kafka_chaos_…`` (:mod:`.options`).

Fixtures (every cluster comes from the session's pool: one cluster per shape, reset between the
tests that share it; ``--kafka-chaos-fresh-cluster``: a cluster each; ``--kafka-chaos-cluster``: the
given one, reset before each):
    kafka_cluster: a healthy cluster for the test module. Brokers, controllers, Kafka version and
        broker settings come from ``@pytest.mark.kafka_cluster(brokers=…, broker_config={…})`` on
        the module, or from the options (``docs/cluster-reuse.md``).
    kafka_cluster_session: one cluster for the whole session (its shape from the options only).
    kafka_cluster_function: a cluster for this test alone: the pool's of its shape, reset after the
        test before.
    scenario: a :class:`~chaos.scenario.Scenario` — its own topic on ``kafka_cluster``, workloads
        and faults that are healed and killed after the test.
    run_experiment: ``run_experiment("experiments/c1.yaml") -> Verdict`` runs an experiment file
        end to end, fails the test when an expectation fails, and attaches the verdict to the report.

Experiment files named by ``kafka_chaos_experiments`` are tests too, each named after its
experiment (``pytest experiments/ -k c1``). They and the tests using ``run_experiment`` carry the
``experiment`` marker. Running one is :func:`chaos.experiments.single.run_file`'s; the plugin only
reports it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from chaos.pytest_plugin.guards import own_calls, quietly, require_engine
from chaos.pytest_plugin.options import Settings, add_options, is_experiment, read

if TYPE_CHECKING:
    from chaos.cluster import ClusterSpec, KafkaCluster
    from chaos.experiments.pool import ClusterPool
    from chaos.experiments.runner import RunOptions
    from chaos.experiments.single import FileRun
    from chaos.oracle import Verdict
    from chaos.scenario import Scenario

SETTINGS_KEY = pytest.StashKey[Settings]()
POOL_KEY = pytest.StashKey["ClusterPool"]()
OUTCOME_KEY = pytest.StashKey["FileRun"]()
#: The fixtures that take a cluster from the session's pool (``scenario`` does through ``kafka_cluster``).
POOL_FIXTURES = frozenset({"kafka_cluster", "kafka_cluster_session", "kafka_cluster_function", "run_experiment"})


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.stash[SETTINGS_KEY] = read(config)
    config.addinivalue_line("markers", "kafka_cluster(**spec): ClusterSpec fields for the cluster fixtures.")
    config.addinivalue_line(
        "markers",
        "experiment: runs a kafka-chaos experiment end to end, on a cluster shared by the tests of its shape "
        "and reset between them (slow: about a minute each).",
    )


def settings(config: pytest.Config) -> Settings:
    """The plugin's settings of this session (each option, else its ini key)."""
    return config.stash[SETTINGS_KEY]


def run_options(config: pytest.Config) -> RunOptions:
    """How the session's experiments run and where their clusters come from, from its settings."""
    with own_calls():
        from chaos.experiments.runner import RunOptions

    s = settings(config)
    return RunOptions(
        reports_dir=s.reports,
        seed=s.seed,
        kafka_version=s.kafka_version,
        fresh_cluster=s.fresh_cluster,
        cluster=s.cluster,
    )


# -- clusters -------------------------------------------------------------------------------------
def _pool(config: pytest.Config) -> ClusterPool:
    """The session's cluster pool: tests with the same cluster shape share a cluster, reset between
    them (``--kafka-chaos-fresh-cluster``: one each; ``--kafka-chaos-cluster``: the given one, reset
    before each).

    Raises:
        pytest.skip.Exception: no Docker engine answers, and ``--kafka-chaos-skip-without-docker``.
        pytest.fail.Exception: no Docker engine answers.
        UsageError: ``--kafka-chaos-cluster`` names no running cluster.
    """
    if POOL_KEY not in config.stash:
        require_engine(config, settings(config).skip_without_docker)
        options = run_options(config)
        with own_calls():
            from chaos.experiments.runner import pool_for

            pool = pool_for(options, options.reports_dir, [])  # a given cluster's shape is checked per test
        config.stash[POOL_KEY] = pool
        config.add_cleanup(lambda: _close(pool))
    return config.stash[POOL_KEY]


def _close(pool: ClusterPool) -> None:
    with own_calls():
        pool.close()


def _spec(request: pytest.FixtureRequest, use_marker: bool = True) -> ClusterSpec:
    from chaos.cluster import ClusterSpec
    from chaos.images.recipes import DEFAULT_KAFKA_VERSION

    s = settings(request.config)
    marker = request.node.get_closest_marker("kafka_cluster") if use_marker else None
    fields: dict[str, Any] = dict(marker.kwargs) if marker else {}
    fields.setdefault("kafka_version", s.kafka_version or DEFAULT_KAFKA_VERSION)
    if s.brokers is not None:
        fields.setdefault("brokers", s.brokers)
    return ClusterSpec(**fields)


@contextmanager
def _leased(request: pytest.FixtureRequest, use_marker: bool = True) -> Iterator[KafkaCluster]:
    """A cluster of the request's shape from the session's pool, given back after."""
    pool = _pool(request.config)
    lease = pool.acquire(_spec(request, use_marker))
    try:
        yield lease.cluster
    finally:
        pool.release(lease)


@pytest.fixture(scope="module")
def kafka_cluster(request: pytest.FixtureRequest) -> Iterator[KafkaCluster]:
    """A healthy cluster for the module, from the session's pool: modules (and experiment tests) with
    the same cluster shape share one, reset between them; broker logs land in
    ``<reports>/clusters/<run-id>/logs`` when the pool removes it."""
    yield from quietly(_leased(request))


@pytest.fixture(scope="session")
def kafka_cluster_session(request: pytest.FixtureRequest) -> Iterator[KafkaCluster]:
    """One healthy cluster for the whole session, leased from the session's pool (its shape from the
    options only: a session has no marker)."""
    yield from quietly(_leased(request, use_marker=False))


@pytest.fixture
def kafka_cluster_function(request: pytest.FixtureRequest) -> Iterator[KafkaCluster]:
    """A healthy cluster for this test alone: the pool's of its shape, reset after the test before
    (``--kafka-chaos-fresh-cluster``: a new one)."""
    yield from quietly(_leased(request))


# -- scenarios ------------------------------------------------------------------------------------
@contextmanager
def _scenario(cluster: KafkaCluster, request: pytest.FixtureRequest, run_dir: Path) -> Iterator[Scenario]:
    from chaos.scenario import Scenario

    seed = settings(request.config).seed
    with Scenario(cluster, run_dir, seed=seed, name=request.node.name, **getattr(request, "param", {})) as s:
        yield s


@pytest.fixture
def scenario(kafka_cluster: KafkaCluster, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Scenario]:
    """A topic of its own on ``kafka_cluster`` with workloads and faults; healed and killed after.

    The topic's shape and the client path come from an indirect parameter when there is one:
    ``@pytest.mark.parametrize("scenario", [{"partitions": 1}], indirect=True)`` (``Scenario``'s
    ``partitions``, ``replication_factor``, ``topic_config``, and ``client_path``: ``"direct"`` puts
    the workloads and the drain on the brokers' own listeners, past toxiproxy).
    """
    yield from quietly(_scenario(kafka_cluster, request, tmp_path / "scenario"))


def _uses_the_pool(item: pytest.Item | None) -> bool:
    """Whether ``item`` takes a cluster from the session's pool: an experiment, or a test using one of
    :data:`POOL_FIXTURES` (``scenario`` included)."""
    return isinstance(item, ExperimentItem) or bool(POOL_FIXTURES & set(getattr(item, "fixturenames", ())))


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    # After the test's fixtures are torn down: an idle cluster waits only for a next test that may
    # reuse it (the pool removes one of another shape itself); a module's leased cluster stays for
    # its next test either way.
    if POOL_KEY in item.config.stash and not _uses_the_pool(nextitem):
        with own_calls():
            item.config.stash[POOL_KEY].close_idle()


# -- experiments ----------------------------------------------------------------------------------
class ExperimentFailed(AssertionError):
    """An experiment did not pass: it could not complete, its verdict is inconclusive, or an expectation
    was not met (the message says which, with the actual values)."""


def _run_file(node: pytest.Item, path: Path, check: bool = True) -> Verdict | None:
    """Run an experiment file for ``node``: its properties and verdict go to the test's report.

    Raises:
        ExperimentFailed: the run failed (``check=False``: only if it could not complete).
        ExperimentFileError: the file is malformed.
    """
    pool = _pool(node.config)
    options = run_options(node.config)
    with own_calls():
        from chaos.experiments.single import run_file

        outcome: FileRun = run_file(path, options, pool)
    node.stash[OUTCOME_KEY] = outcome
    node.user_properties.extend(outcome.properties())
    failure = outcome.failure(check)
    if failure is not None:
        raise ExperimentFailed(failure)
    return outcome.verdict


@pytest.fixture
def run_experiment(request: pytest.FixtureRequest) -> Callable[..., Verdict | None]:
    """``run_experiment(path, check=True)``: run an experiment file on the session pool's cluster of
    its shape (reset after the test before); fails the test when the run fails (``check=False``: only
    when it could not complete; the verdict is returned)."""
    _pool(request.config)  # no engine: the test skips or fails here, before it starts

    def run(path: str | Path, check: bool = True) -> Verdict | None:
        return _run_file(request.node, Path(path), check)

    return run


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:  # marked before collection ends, so `-m "not experiment"` leaves them out
        if "run_experiment" in getattr(item, "fixturenames", ()):
            item.add_marker("experiment")


class ExperimentItem(pytest.Item):
    """One experiment file as a test."""

    def __init__(self, *, path: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.experiment_path = path
        self.add_marker("experiment")

    def runtest(self) -> None:
        _run_file(self, self.experiment_path)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ExperimentFailed):
            outcome = self.stash.get(OUTCOME_KEY, None)
            return f"{excinfo.value}\n{outcome.report()}" if outcome is not None else str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.experiment_path, 0, f"experiment {self.name}"


class ExperimentFile(pytest.File):
    """A file named by ``kafka_chaos_experiments``: one experiment, one test; a malformed one fails
    collection with the loader's message."""

    def collect(self) -> Iterator[pytest.Item]:
        with own_calls():
            from chaos.experiments.loading import load_experiment
            from chaos.experiments.model import ExperimentFileError

            try:
                exp = load_experiment(self.path)
            except ExperimentFileError as e:
                raise self.CollectError(str(e)) from e
        yield ExperimentItem.from_parent(self, name=exp.name, path=self.path)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    patterns = settings(parent.config).experiments
    if patterns and is_experiment(file_path, parent.config.rootpath, patterns):
        return ExperimentFile.from_parent(parent, path=file_path)
    return None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    outcome = item.stash.get(OUTCOME_KEY, None)
    if outcome is not None and call.when == "call":
        report.sections.append(("kafka-chaos verdict", outcome.report()))  # type: ignore[attr-defined]
    return report
