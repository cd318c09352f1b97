"""The pytest plugin's options and cluster fixtures, in a project of its own (pytester): its options
have ini keys, the command line winning, a bad setting stops the session in one sentence, and its
cluster fixtures are leases of the session's pool, held for the session or taken per test.

The session's pool is one of fakes here (no test in this module reaches a Docker engine: it is not
marked ``docker``, so ``DOCKER_HOST`` points nowhere); the plugin on real clusters is the Docker
tier's (``tests/integration/test_given_cluster.py``, ``tests/experiments``)."""

from __future__ import annotations

import pytest

# Imported here, before any in-process session: pytester forgets the modules a session imported
# when it ends, and numpy cannot be imported twice in one process.
import chaos.experiments.single
import chaos.scenario  # noqa: F401
from tests.helpers.pytester_project import project

# -- options and their ini keys -------------------------------------------------------------------
#: A session pool of fakes: clusters that start and stop nothing, resets that are only counted.
FAKES = """
import itertools

import pytest

from chaos.cluster import ClusterSpec
from chaos.experiments.pool import ClusterPool
from chaos.pytest_plugin import POOL_KEY

NUMBERS = itertools.count(1)
RESETS = []


class Fake:
    def __init__(self, spec):
        self.spec, self.run_id, self.destroyed = spec, f"fake-{{next(NUMBERS)}}", 0

    def start(self):
        pass

    def destroy(self):
        self.destroyed += 1


def reset(cluster):
    RESETS.append(cluster.run_id)
    return []


def pytest_configure(config):
    config.stash[POOL_KEY] = {pool}


@pytest.fixture
def resets():
    return RESETS
"""
SHARED = FAKES.format(pool="ClusterPool(Fake, reset=reset)")

SETTINGS_SEEN = """
from pathlib import Path

from chaos.experiments.runner import RunOptions
from chaos.pytest_plugin import run_options


def test_settings(kafka_cluster, request):
    assert (kafka_cluster.spec.brokers, kafka_cluster.spec.kafka_version) == ({brokers}, "{version}")
    wanted = RunOptions(reports_dir=Path("{reports}"), seed={seed}, kafka_version={given!r}, cluster={cluster!r})
    assert run_options(request.config) == wanted
"""
INI = (
    "kafka_chaos_version = 3.9.1\nkafka_chaos_brokers = 1\nkafka_chaos_seed = 7\n"
    "kafka_chaos_reports = out\nkafka_chaos_cluster = 20261205-000000-ini0\n"
)


def test_the_ini_keys_reach_the_fixtures(pytester: pytest.Pytester) -> None:
    module = SETTINGS_SEEN.format(
        brokers=1, version="3.9.1", given="3.9.1", reports=pytester.path / "out", seed=7, cluster="20261205-000000-ini0"
    )
    project(pytester, {"conftest.py": SHARED, "test_settings.py": module}, INI)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_the_command_line_wins_over_the_ini(pytester: pytest.Pytester) -> None:
    module = SETTINGS_SEEN.format(
        brokers=5, version="4.3.1", given="4.3.1", reports="elsewhere", seed=9, cluster="20261205-000000-cli0"
    )
    project(pytester, {"conftest.py": SHARED, "test_settings.py": module}, INI)
    args = ["--kafka-chaos-version=4.3.1", "--kafka-chaos-brokers=5", "--kafka-chaos-seed", "9"]
    args += ["--kafka-chaos-reports=elsewhere", "--kafka-chaos-cluster=20261205-000000-cli0"]
    pytester.runpytest("-p", "no:cacheprovider", *args).assert_outcomes(passed=1)


def test_without_options_the_fixtures_get_the_defaults(pytester: pytest.Pytester) -> None:
    module = SETTINGS_SEEN.format(brokers=3, version="4.4.0", given=None, reports="reports", seed=0, cluster=None)
    project(pytester, {"conftest.py": SHARED, "test_settings.py": module})
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("ini", "args", "error"),
    [
        ("kafka_chaos_brokers = three\n", [], "--kafka-chaos-brokers / kafka_chaos_brokers is 'three': give a whole"),
        ("", ["--kafka-chaos-seed=-1"], "--kafka-chaos-seed / kafka_chaos_seed is '-1': give a whole number of at"),
        (
            "kafka_chaos_fresh_cluster = true\n",
            ["--kafka-chaos-cluster", "20261205-000000-abcd"],
            "--kafka-chaos-cluster runs on a cluster already up and --kafka-chaos-fresh-cluster starts new ones: pick",
        ),
        ("", ["--kafka-version=3.9.1"], "*unrecognized arguments: --kafka-version=3.9.1"),
        ("", ["--kafka-brokers=1"], "*unrecognized arguments: --kafka-brokers=1"),
    ],
    ids=["ini-not-a-number", "negative-seed", "given-and-fresh", "old-kafka-version", "old-kafka-brokers"],
)
def test_bad_settings_stop_the_session_with_one_sentence(
    pytester: pytest.Pytester, ini: str, args: list[str], error: str
) -> None:
    project(pytester, {"test_app.py": "def test_app():\n    pass\n"}, ini)
    result = pytester.runpytest("-p", "no:cacheprovider", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{error}*"])
    assert "Traceback" not in result.stderr.str()


# -- the cluster fixtures and the pool ------------------------------------------------------------
SESSION_A = """
def test_first(kafka_cluster_session, resets):
    assert (kafka_cluster_session.run_id, resets) == ("fake-1", [])
"""
SESSION_B = """
from chaos.pytest_plugin import POOL_KEY


def test_second(kafka_cluster_session, resets, request):
    assert (kafka_cluster_session.run_id, resets, kafka_cluster_session.destroyed) == ("fake-1", [], 0)
    assert list(request.config.stash[POOL_KEY].leased) == ["fake-1"], "one lease, held for the session"
"""


def test_the_session_cluster_is_one_lease_of_the_pool_held_for_the_session(pytester: pytest.Pytester) -> None:
    project(pytester, {"conftest.py": SHARED, "test_a.py": SESSION_A, "test_b.py": SESSION_B})
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)


FUNCTION = """
seen = []


def test_first(kafka_cluster_function, resets):
    seen.append(kafka_cluster_function)
    assert resets == {first}


def test_second(kafka_cluster_function, resets):
    assert (kafka_cluster_function is seen[0], resets, seen[0].destroyed) == {second}


def test_third_without_a_cluster():
    assert seen[-1].destroyed == {third}, "an idle cluster is removed before a test that takes none"
"""


@pytest.mark.parametrize(
    ("pool", "first", "second", "third"),
    [
        # one cluster, reset between the tests
        ("ClusterPool(Fake, reset=reset)", [], (True, ["fake-1"], 0), 1),
        # --kafka-chaos-fresh-cluster: a cluster each, the first removed after its test
        ("ClusterPool(Fake, fresh=True, reset=reset)", [], (False, [], 1), 1),
        # --kafka-chaos-cluster: the given cluster, reset before every test (the first too), never removed
        ("ClusterPool.given(Fake(ClusterSpec()), reset=reset)", ["fake-1"], (True, ["fake-1", "fake-1"], 0), 0),
    ],
    ids=["shared", "fresh", "given"],
)
def test_a_function_cluster_is_a_lease_per_test(
    pytester: pytest.Pytester, pool: str, first: list[str], second: tuple[bool, list[str], int], third: int
) -> None:
    module = FUNCTION.format(first=first, second=second, third=third)
    files = {"conftest.py": FAKES.format(pool=pool), "test_function.py": module}
    project(pytester, files)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=3)
