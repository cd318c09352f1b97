"""The suite's cluster pool without Docker: which runs share a cluster, what a failed reset does,
and the order a suite runs its experiments in. The reset itself runs against a real cluster in
tests/integration/test_cluster_reuse.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chaos.cluster import ClusterSpec
from chaos.errors import InfrastructureError, UsageError
from chaos.experiments.loading import LoadedExperiment
from chaos.experiments.model import Experiment
from chaos.experiments.pool import ClusterPool, ResetFailed
from chaos.experiments.runner import RunOptions, by_shape, pool_for


class FakeCluster:
    def __init__(self, spec: ClusterSpec, n: int) -> None:
        self.spec, self.run_id = spec, f"c{n}"
        self.started = self.destroyed = 0

    def start(self) -> None:
        self.started += 1

    def destroy(self) -> None:
        self.destroyed += 1


class Clusters:
    def __init__(self, reset_fails: bool = False) -> None:
        self.made: list[FakeCluster] = []
        self.reset_fails = reset_fails

    def make(self, spec: ClusterSpec) -> Any:
        self.made.append(FakeCluster(spec, len(self.made) + 1))
        return self.made[-1]

    def reset(self, cluster: Any) -> list[str]:
        if self.reset_fails:
            raise ResetFailed("broker-2 did not come back")
        return ["thawed: broker-2"]


THREE, ONE = ClusterSpec(brokers=3), ClusterSpec(brokers=1)


def test_closing_removes_a_cluster_whose_lease_was_never_given_back() -> None:
    c = Clusters()
    pool = ClusterPool(c.make, reset=c.reset)
    pool.acquire(THREE)  # its holder failed before releasing it
    pool.close()
    assert c.made[0].destroyed == 1
    pool.close()
    assert c.made[0].destroyed == 1  # once


def test_runs_of_one_shape_share_a_cluster_reset_between_them() -> None:
    c = Clusters()
    pool = ClusterPool(c.make, reset=c.reset)
    first = pool.acquire(THREE)
    pool.release(first)
    second = pool.acquire(ClusterSpec(brokers=3))
    assert (first.how, second.how) == ("fresh", "reused") and second.cluster is first.cluster
    assert second.healed == ["thawed: broker-2"] and len(c.made) == 1
    pool.release(second)
    pool.close()
    assert c.made[0].destroyed == 1


def test_another_shape_removes_the_idle_cluster_first() -> None:
    c = Clusters()
    pool = ClusterPool(c.make, reset=c.reset)
    pool.release(pool.acquire(THREE))
    lease = pool.acquire(ONE)
    assert lease.how == "fresh" and c.made[0].destroyed == 1 and c.made[1].spec == ONE


def test_a_failed_reset_starts_a_fresh_cluster_and_says_why() -> None:
    c = Clusters(reset_fails=True)
    pool = ClusterPool(c.make, reset=c.reset)
    pool.release(pool.acquire(THREE))
    lease = pool.acquire(THREE)
    assert lease.how == "fresh (reset of c1 failed: broker-2 did not come back)"
    assert c.made[0].destroyed == 1 and lease.cluster.run_id == "c2" and c.made[1].started == 1


def test_fresh_mode_and_a_broken_run_never_hand_a_cluster_on() -> None:
    c = Clusters()
    fresh = ClusterPool(c.make, fresh=True, reset=c.reset)
    fresh.release(fresh.acquire(THREE))
    assert fresh.acquire(THREE).how == "fresh" and c.made[0].destroyed == 1
    pool = ClusterPool(c.make, reset=c.reset)
    pool.release(pool.acquire(THREE), broken=True)
    assert pool.acquire(THREE).how == "fresh"


def test_a_cluster_that_cannot_start_is_removed() -> None:
    class Broken(FakeCluster):
        def start(self) -> None:
            raise RuntimeError("no Docker")

    made: list[Broken] = []

    def make(spec: ClusterSpec) -> Any:
        made.append(Broken(spec, 1))
        return made[-1]

    with pytest.raises(RuntimeError):
        ClusterPool(make).acquire(THREE)
    assert made[0].destroyed == 1


def _loaded(name: str, cluster: dict[str, Any] | None = None) -> LoadedExperiment:
    exp = Experiment.model_validate({"name": name, "producer": {"rate": 10}, "cluster": cluster or {}})
    return LoadedExperiment(Path(f"{name}.yaml"), exp)


def test_a_suite_runs_shapes_in_the_order_they_first_appear() -> None:
    items = [
        _loaded("b1", {"controllers": 1}),
        _loaded("b3"),
        _loaded("b4", {"controllers": 1}),
        _loaded("b6", {"disk": "kcfs"}),
        _loaded("c1"),
    ]
    assert [i.experiment.name for i in by_shape(items)] == ["b1", "b4", "b3", "c1", "b6"]


def test_a_pool_under_a_directory_names_each_cluster_and_keeps_its_logs_there(tmp_path: Path) -> None:
    pool = ClusterPool.under(tmp_path)
    one, two = pool.make(THREE), pool.make(THREE)
    assert one.run_id != two.run_id and one.run_dir == tmp_path / "clusters" / one.run_id


def test_closing_the_idle_clusters_leaves_a_leased_one_with_its_holder() -> None:
    c = Clusters()
    pool = ClusterPool(c.make, reset=c.reset)
    lease = pool.acquire(THREE)
    pool.close_idle()
    assert c.made[0].destroyed == 0
    pool.release(lease)
    pool.close_idle()
    assert c.made[0].destroyed == 1


#: A module of two tests on the plugin's module-scoped ``kafka_cluster``, with the session's pool
#: replaced by one of fakes: what the plugin does between the tests must not remove the cluster.
PLUGIN_CONFTEST = """
from chaos.cluster import ClusterSpec
from chaos.experiments.pool import ClusterPool
from chaos.pytest_plugin import POOL_KEY

class Fake:
    def __init__(self, spec: ClusterSpec) -> None:
        self.spec, self.run_id, self.destroyed = spec, "fake", 0
    def start(self) -> None:
        pass
    def destroy(self) -> None:
        self.destroyed += 1

def pytest_configure(config):
    config.stash[POOL_KEY] = ClusterPool(Fake, reset=lambda cluster: [])
"""

PLUGIN_MODULE = """
seen = []

def test_first(kafka_cluster):
    seen.append(kafka_cluster)

def test_second(kafka_cluster):
    assert kafka_cluster is seen[0]
    assert kafka_cluster.destroyed == 0, "removed between two tests of its module"

def test_third_without_a_cluster():
    assert seen[0].destroyed == 0, "the pool is closed at the session's end, not before"
"""


def run_on_fakes(pytester: pytest.Pytester, module: str) -> pytest.RunResult:
    """Run ``module`` as a test file under the plugin, its session pool made of fakes."""
    pytester.makeconftest(PLUGIN_CONFTEST)
    pytester.makepyfile(test_module=module)
    return pytester.runpytest("-p", "no:cacheprovider")


def test_the_plugin_keeps_a_modules_cluster_between_its_tests(pytester: pytest.Pytester) -> None:
    run_on_fakes(pytester, PLUGIN_MODULE).assert_outcomes(passed=3)


def test_a_given_cluster_is_reset_before_every_run_and_never_removed() -> None:
    c = Clusters()
    given = c.make(THREE)
    pool = ClusterPool.given(given, reset=c.reset)
    first = pool.acquire(ClusterSpec(brokers=3, health_timeout=5))  # how long to wait is not a shape
    pool.release(first)
    second = pool.acquire(THREE)
    # reset before the first run too: whoever used the cluster before may have left anything
    assert (first.how, second.how) == ("given", "given") and first.healed == ["thawed: broker-2"]
    assert first.cluster is second.cluster is given
    pool.release(second, broken=True)
    pool.close_idle()
    pool.close()
    assert c.made[0].destroyed == 0 and c.made[0].started == 0 and len(c.made) == 1


def test_a_given_cluster_of_another_shape_is_refused_saying_how_it_differs() -> None:
    c = Clusters()
    pool = ClusterPool.given(c.make(THREE), reset=c.reset)
    with pytest.raises(UsageError) as e:
        pool.acquire(ClusterSpec(brokers=1, controllers=1))
    assert "brokers 1 (the cluster has 3); controllers 1 (the cluster has 0)" in str(e.value)
    assert "`kafka-chaos cluster up`" in str(e.value) and "without --cluster" in str(e.value)


def test_a_given_cluster_that_cannot_be_reset_fails_the_run_and_is_left_alone() -> None:
    c = Clusters(reset_fails=True)
    pool = ClusterPool.given(c.make(THREE), reset=c.reset)
    with pytest.raises(InfrastructureError) as e:
        pool.acquire(THREE)
    assert "cluster c1 could not be reset (broker-2 did not come back)" in str(e.value)
    assert "`kafka-chaos cluster status c1`" in str(e.value)
    assert len(c.made) == 1 and c.made[0].destroyed == 0


def test_fresh_clusters_and_a_given_one_are_not_asked_for_together(tmp_path: Path) -> None:
    options = RunOptions(reports_dir=tmp_path, fresh_cluster=True, cluster="20261129-000000-abcd")
    with pytest.raises(UsageError, match="--fresh-cluster starts new ones: pick one"):
        pool_for(options, tmp_path, [("b2", THREE)])
    assert isinstance(pool_for(RunOptions(reports_dir=tmp_path), tmp_path, [("b2", THREE)]), ClusterPool)


PLUGIN_IDLE_MODULE = """
from chaos.cluster import ClusterSpec
from chaos.pytest_plugin import POOL_KEY

seen = []

def borrow(request):
    # what run_experiment does: take a cluster for one run and give it back
    pool = request.config.stash[POOL_KEY]
    lease = pool.acquire(ClusterSpec())
    seen.append(lease.cluster)
    pool.release(lease)

def test_an_experiment(request):
    borrow(request)

def test_a_scenario_after_it(kafka_cluster):
    assert kafka_cluster is seen[0], "the idle cluster was removed although this test takes one"

def test_another_experiment(request):
    borrow(request)

def test_nothing_of_the_pool():
    assert seen[1].destroyed == 1, "an idle cluster kept for a test that takes none"
"""


def test_the_plugin_keeps_an_idle_cluster_only_for_a_next_test_that_takes_one(pytester: pytest.Pytester) -> None:
    run_on_fakes(pytester, PLUGIN_IDLE_MODULE).assert_outcomes(passed=4)
