"""The pytest plugin as a guest in a project of its own (pytester): it collects no file unless asked,
the warnings of its own calls stay out of the run, its markers say what they select, and without a
Docker engine its cluster fixtures skip when asked to and fail naming the option otherwise. Its
options, their ini keys and its cluster fixtures on the session's pool are
``test_pytest_plugin_pool.py``'s.

No test in this module reaches a Docker engine (it is not marked ``docker``, so ``DOCKER_HOST``
points nowhere); the plugin on real clusters is the Docker tier's
(``tests/integration/test_given_cluster.py``, ``tests/experiments``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Imported here, before any in-process session: pytester forgets the modules a session imported
# when it ends, and numpy cannot be imported twice in one process.
import chaos.experiments.single
import chaos.scenario  # noqa: F401
from tests.helpers.pytester_project import project

ROOT = Path(__file__).resolve().parents[2]

EXPERIMENT = """\
name: {name}
cluster: {{brokers: 1}}
topic: {{replication_factor: 1}}
producer: {{mode: sync, rate: 200, settings: {{acks: all}}}}
phases: {{warmup: 1, fault_window: 2, settle: 1}}
expect: {{producer_loss: "0"}}
"""

#: A project of someone else's: YAML under experiments/ that is no experiment, one that is, a test.
FOREIGN = {
    "experiments/k8s.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\n",
    "experiments/sweep.yaml": "sweep: {lr: [0.1, 0.01], batch: [32, 64]}\n",
    "experiments/one.chaos.yaml": EXPERIMENT.format(name="one"),
    "test_app.py": "def test_app():\n    pass\n",
}


def collected(result: pytest.RunResult) -> list[str]:
    return [line for line in result.outlines if "::" in line]


# -- collection: opt-in only ----------------------------------------------------------------------
def test_foreign_yaml_under_experiments_is_never_collected(pytester: pytest.Pytester) -> None:
    project(pytester, FOREIGN)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.OK
    assert collected(pytester.runpytest("--collect-only", "-q", "-p", "no:cacheprovider")) == ["test_app.py::test_app"]


@pytest.mark.parametrize(
    ("ini", "args"),
    [
        ("kafka_chaos_experiments =\n    experiments/*.chaos.yaml\n", []),
        ("", ["--kafka-chaos-experiments", "**/*.chaos.yaml"]),
        # the command line replaces the ini's list (which here names files that are no experiments)
        ("kafka_chaos_experiments = experiments/*.yaml\n", ["--kafka-chaos-experiments=experiments/one.*"]),
    ],
    ids=["ini", "command-line", "command-line-over-ini"],
)
def test_the_files_a_pattern_names_are_experiment_tests_named_after_the_experiment(
    pytester: pytest.Pytester, ini: str, args: list[str]
) -> None:
    project(pytester, FOREIGN, ini)
    result = pytester.runpytest("--collect-only", "-q", "-p", "no:cacheprovider", *args)
    assert result.ret == pytest.ExitCode.OK, result.outlines
    assert collected(result) == ["experiments/one.chaos.yaml::one", "test_app.py::test_app"]


def test_a_named_file_that_is_no_experiment_fails_collection_with_the_loaders_sentence(
    pytester: pytest.Pytester,
) -> None:
    project(pytester, FOREIGN, "kafka_chaos_experiments = experiments/*.yaml\n")
    result = pytester.runpytest("--collect-only", "-q", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines([f"{pytester.path}/experiments/k8s.yaml:1: name: is required"])
    assert "Traceback" not in result.stdout.str()


# -- no Docker engine -----------------------------------------------------------------------------
NEEDS_CLUSTERS = {
    "experiments/one.chaos.yaml": EXPERIMENT.format(name="one"),
    "test_needs.py": """
def test_module(kafka_cluster): pass
def test_session(kafka_cluster_session): pass
def test_function(kafka_cluster_function): pass
def test_scenario(scenario): pass
def test_run(run_experiment): run_experiment("experiments/one.chaos.yaml")
def test_python(): pass
""",
}
OPT_IN = "kafka_chaos_experiments = experiments/*.chaos.yaml\n"


@pytest.mark.parametrize(
    ("ini", "args"),
    [("", ["--kafka-chaos-skip-without-docker"]), ("kafka_chaos_skip_without_docker = true\n", [])],
    ids=["command-line", "ini"],
)
def test_without_docker_the_tests_needing_clusters_skip_when_asked(
    pytester: pytest.Pytester, ini: str, args: list[str]
) -> None:
    project(pytester, NEEDS_CLUSTERS, OPT_IN + ini)
    result = pytester.runpytest("-p", "no:cacheprovider", "-rs", *args)
    result.assert_outcomes(passed=1, skipped=6)
    reason = f"no Docker engine answers at {os.environ['DOCKER_HOST']} (--kafka-chaos-skip-without-docker)"
    skipped = [line for line in result.outlines if line.startswith("SKIPPED [1] ")]
    assert len(skipped) == 6 and all(line.endswith(f": {reason}") for line in skipped), result.outlines


def test_skipping_without_docker_leaves_no_warning_where_warnings_are_errors(pytester: pytest.Pytester) -> None:
    # a subprocess: an unclosed socket of the engine probe shows only when the interpreter collects it
    project(pytester, NEEDS_CLUSTERS, OPT_IN + "kafka_chaos_skip_without_docker = true\nfilterwarnings = error\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=1, skipped=6)
    assert result.ret == 0 and "ResourceWarning" not in result.stdout.str() + result.stderr.str()


def test_without_docker_the_tests_needing_clusters_fail_naming_the_engine_and_the_option(
    pytester: pytest.Pytester,
) -> None:
    project(pytester, NEEDS_CLUSTERS, OPT_IN)
    # -rN: no short summary, whose lines pytest cuts to the terminal's width except where CI is set
    result = pytester.runpytest("-p", "no:cacheprovider", "-rN")
    result.assert_outcomes(passed=1, failed=1, errors=5)  # the experiment fails; the fixtures error
    sentence = (
        f"no Docker engine answers at {os.environ['DOCKER_HOST']}, and this test needs one for its Kafka cluster: "
        "start Docker (or point DOCKER_HOST at an engine), or skip such tests with "
        "--kafka-chaos-skip-without-docker (ini: kafka_chaos_skip_without_docker = true)"
    )
    assert sum(line.strip().endswith(sentence) for line in result.outlines) == 6, result.outlines


# -- markers --------------------------------------------------------------------------------------
def test_the_experiment_marker_says_clusters_are_shared_and_no_integration_marker_is_registered(
    pytester: pytest.Pytester,
) -> None:
    project(pytester, {})
    text = pytester.runpytest("--markers", "-p", "no:cacheprovider").stdout.str()
    assert (
        "@pytest.mark.experiment: runs a kafka-chaos experiment end to end, on a cluster shared by the tests of "
        "its shape and reset between them (slow: about a minute each)."
    ) in text
    assert "@pytest.mark.kafka_cluster(**spec): ClusterSpec fields for the cluster fixtures." in text
    assert "@pytest.mark.integration" not in text


def test_not_experiment_leaves_out_the_tests_running_experiments(pytester: pytest.Pytester) -> None:
    project(pytester, NEEDS_CLUSTERS, OPT_IN)
    result = pytester.runpytest("-p", "no:cacheprovider", "-m", "not experiment", "--collect-only", "-q")
    assert [line.split("::")[-1] for line in collected(result)] == [
        "test_module",
        "test_session",
        "test_function",
        "test_scenario",
        "test_python",
    ]


# -- warnings -------------------------------------------------------------------------------------
WARNS = """
import warnings

import pytest


def test_app():
    pass


def test_own_deprecation():
    warnings.warn("the project's own", DeprecationWarning)
"""


#: A session pool standing in for kafka-chaos's own without importing it (the project's conftest must
#: not be the first to import kafka-python: its warnings would be the project's).
LAZY_POOL = """
from chaos.pytest_plugin import POOL_KEY  # the plugin itself imports only pytest and the standard library


class Idle:  # never asked for a cluster: the file is refused before a run would take one

    def close_idle(self):
        pass


def pytest_configure(config):
    config.stash[POOL_KEY] = Idle()
"""
#: The plugin's first import of kafka-chaos's runner (and so of kafka-python) is in this call.
RUNS_ONE = """

def test_run(run_experiment):
    with pytest.raises(Exception, match="name: is required"):
        run_experiment("k8s.yaml")
"""


@pytest.mark.parametrize(
    ("files", "outcomes"),
    [
        ({"experiments/one.chaos.yaml": EXPERIMENT.format(name="one"), "test_app.py": WARNS}, {"skipped": 1}),
        (
            {"conftest.py": LAZY_POOL, "k8s.yaml": FOREIGN["experiments/k8s.yaml"], "test_app.py": WARNS + RUNS_ONE},
            {"passed": 1},
        ),
    ],
    ids=["experiment-collected-and-run", "run-experiment-fixture"],
)
def test_the_warnings_of_the_plugins_own_calls_stay_out_of_the_run_and_the_projects_own_reach_it(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, files: dict[str, str], outcomes: dict[str, int]
) -> None:
    # A fresh interpreter, where kafka-python is imported for the first time by the plugin's calls
    # (about 218 DeprecationWarnings of its own): this tree's plugin, by its entry point's name.
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    project(pytester, files, OPT_IN + "kafka_chaos_skip_without_docker = true\n")
    strict = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error::DeprecationWarning", timeout=120)
    passed = 1 + outcomes.get("passed", 0)
    strict.assert_outcomes(passed=passed, failed=1, skipped=outcomes.get("skipped", 0))
    strict.stdout.fnmatch_lines(["FAILED test_app.py::test_own_deprecation - DeprecationWarning: the project's own"])
    lenient = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=120)
    lenient.assert_outcomes(passed=passed + 1, skipped=outcomes.get("skipped", 0), warnings=1)
    lenient.stdout.fnmatch_lines(["*DeprecationWarning: the project's own"])
