"""The tiers are marked by what a test uses (tests/conftest.py), and a test that reaches a JVM or a
Docker engine without its tier's marker fails instead of passing where the tool happens to exist."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from chaos.images.java_driver import find_jdk

ROOT = Path(__file__).resolve().parents[2]
TIERS = {"docker", "integration", "java", "browser"}

USES = """
import pytest

def test_python(): pass
def test_engine(engine): pass
def test_cluster(kafka_cluster): pass
def test_scenario(scenario): pass
def test_jdk(jdk): pass
@pytest.mark.usefixtures("jdk")
def test_jdk_asked_by_usefixtures(): pass
def test_chromium(chromium): pass
@pytest.mark.integration
def test_marked_by_hand(): pass
"""

UNMARKED = """
import os
import subprocess
import pytest
from chaos.engine import docker_client
from chaos.images import java_driver

def test_runs_java_unmarked():
    java, _ = java_driver.find_jdk()  # looked up at call time, as the package does
    subprocess.run([java, "-version"], check=True)

def test_reaches_docker_unmarked():
    docker_client()

@pytest.mark.integration
def test_a_docker_test_keeps_the_machine_s_jdk():
    assert java_driver.find_jdk.__name__ == "find_jdk" and "refusing-jdk" not in os.environ.get("JAVA_HOME", "")
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester directory with this project's markers and tests/conftest.py as a plugin."""
    markers = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["markers"]
    pytester.makeini("[pytest]\nmarkers =\n" + "".join(f"    {m}\n" for m in markers))
    return pytester


def test_each_test_is_marked_by_the_tools_it_uses(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_uses=USES)
    items, _ = suite.inline_genitems("-p", "tests.conftest", "--strict-markers")
    marked = {item.name: {m.name for m in item.iter_markers()} & TIERS for item in items}
    assert marked == {
        "test_python": set(),
        "test_engine": {"docker", "integration"},
        "test_cluster": {"docker", "integration"},
        "test_scenario": {"docker", "integration"},
        "test_jdk": {"java"},
        "test_jdk_asked_by_usefixtures": {"java"},
        "test_chromium": {"browser"},
        "test_marked_by_hand": {"docker", "integration"},
    }


def test_a_jvm_or_docker_without_its_marker_fails_and_a_docker_test_has_both(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # this test's own guard off (it is not marked java or docker): the inner session's is under test
    monkeypatch.setattr("chaos.images.java_driver.find_jdk", find_jdk)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    suite.makepyfile(test_unmarked=UNMARKED)
    result = suite.inline_run("-p", "tests.conftest")
    result.assertoutcome(passed=1, failed=2)
    java = next(r for r in result.getreports("pytest_runtest_logreport") if "java" in r.nodeid and r.when == "call")
    assert "this test needs a JDK but is not marked java" in str(java.longrepr), java.longrepr


def test_a_subprocess_of_a_test_not_marked_java_finds_a_jdk_that_refuses(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        test_subprocess="import os, subprocess\n"
        "def test_runs_java_unmarked():\n"
        "    subprocess.run([os.environ['JAVA_HOME'] + '/bin/java', '-version'], check=True)\n"
    )
    result = suite.inline_run("-p", "tests.conftest")
    result.assertoutcome(failed=1)
    (java,) = [r for r in result.getreports("pytest_runtest_logreport") if r.when == "call"]
    assert "this test runs java but is not marked java: request the jdk fixture" in java.capstderr, java.capstderr


def test_the_python_only_tier_leaves_out_every_test_needing_a_jvm_or_a_browser() -> None:
    needing = ["ledger_golden", "properties_as_java", "validate", "validate_kafka", "report_browser"]
    python_only = ["-m", "not docker and not java and not browser"]
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-n", "0", "-p", "no:cacheprovider", *python_only]
        + [f"tests/unit/test_{name}.py" for name in needing],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == pytest.ExitCode.NO_TESTS_COLLECTED, proc.stdout + proc.stderr
    assert "deselected" in proc.stdout, proc.stdout
