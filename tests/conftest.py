"""Test tiers by what a test needs (CONTRIBUTING.md): each test is marked here by what it uses.

- ``docker``: a Docker engine and the kafka-chaos images — every test under tests/integration and
  tests/experiments, and any test using the ``engine`` fixture or a cluster fixture of the plugin.
  Such a test is also marked ``integration``, the older name of the tier, for one release.
- ``java``: a JDK and the Kafka release's jars — a test using the ``jdk`` fixture (a ``docker``
  test may use them too, and chromium: the Docker tier needs all that ``scripts/setup`` installs).
- ``browser``: Debian's chromium — a test using the ``chromium`` fixture.

A missing tool fails the tests that need it, never skips them: deselect a tier instead
(``-m "not docker"``; ``-m "not docker and not java and not browser"`` needs only Python). A test
not marked ``docker`` finds no Docker engine and, unless marked ``java``, no JDK, so a test that
reaches either without saying so fails instead of passing by luck."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import docker

pytest_plugins = ["pytester"]

TESTS = Path(__file__).resolve().parent
#: Fixtures that reach a Docker engine (this file's and the kafka-chaos plugin's).
DOCKER_FIXTURES = frozenset(
    {"engine", "images_present", "kafka_cluster", "kafka_cluster_session", "kafka_cluster_function"}
    | {"scenario", "run_experiment"}
)
TIER_FIXTURES = {"java": frozenset({"jdk"}), "browser": frozenset({"chromium"})}
#: What a JDK not asked for answers with, in place of ``java`` and ``javac``.
REFUSING_JDK = """#!/bin/sh
echo "kafka-chaos tests: this test runs $(basename "$0") but is not marked java: request the jdk fixture" >&2
exit 97
"""


#: Cases that run only when asked for (``-m extended``; ``scripts/setup``'s main job runs them): the
#: example external clients' full per-driver acceptance, of which the test command keeps a round trip,
#: an async producer kill and a consumer kill per client, and the regression rows on every release
#: they span, of which it keeps one release pair — within its time budget.
EXTENDED = "extended"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{EXTENDED}: a case run only when -m names it (-m {EXTENDED}).")


def leave_out_extended(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave out the extended cases unless the marker expression names them."""
    if EXTENDED in (config.option.markexpr or ""):
        return
    left_out = [item for item in items if item.get_closest_marker(EXTENDED)]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if not item.get_closest_marker(EXTENDED)]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    leave_out_extended(config, items)
    for item in items:
        for tier in needs(item):
            item.add_marker(tier)
            if tier == "docker":
                item.add_marker("integration")
    items[:] = by_cluster_shape(items)


def needs(item: pytest.Item) -> set[str]:
    """The tiers ``item`` belongs to, from where it lives and the fixtures it uses."""
    fixtures = set(getattr(item, "fixturenames", ()))
    found = {tier for tier, names in TIER_FIXTURES.items() if fixtures & names}
    path = Path(item.path)
    in_docker_dir = path.is_relative_to(TESTS / "integration") or path.is_relative_to(TESTS / "experiments")
    if in_docker_dir or fixtures & DOCKER_FIXTURES or item.get_closest_marker("integration"):
        found.add("docker")
    return found


@pytest.fixture(autouse=True)
def only_the_tools_it_is_marked_for(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A test not marked ``docker`` reaches no Docker engine (so a regression in input checking
    fails with exit 3 instead of starting containers); one not marked ``java`` finds no JDK in this
    process, and in its subprocesses (through ``JAVA_HOME``) a ``java`` and a ``javac`` that fail
    saying so. What a JVM left in a cache (Kafka's definitions, a running checker) may still answer
    a test not marked java after one that is: the Python-only tier, where no JVM ever ran, is the
    one that catches a missing marker."""
    if request.node.get_closest_marker("docker"):
        return  # a real cluster's tests may use all that scripts/setup installs (Java workloads too)
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/kafka-chaos-not-marked-docker.sock")
    if not request.node.get_closest_marker("java"):
        monkeypatch.setattr("chaos.images.java_driver.find_jdk", _no_jdk)
        home = tmp_path_factory.getbasetemp() / "refusing-jdk"
        if not (home / "bin" / "javac").is_file():
            (home / "bin").mkdir(parents=True, exist_ok=True)
            for tool in ("java", "javac"):
                (home / "bin" / tool).write_text(REFUSING_JDK)
                (home / "bin" / tool).chmod(0o755)
        monkeypatch.setenv("JAVA_HOME", str(home))


def _no_jdk() -> tuple[str, str]:
    """``find_jdk`` for a test not marked ``java``: as on a machine without a JDK.

    Raises:
        InfrastructureError: always, saying how to mark the test.
    """
    from chaos.errors import InfrastructureError

    raise InfrastructureError("kafka-chaos tests: this test needs a JDK but is not marked java (the jdk fixture)")


@pytest.fixture(scope="session")
def engine() -> docker.DockerClient:
    """The Docker engine; the test fails (not skips) when none answers."""
    from chaos.engine import docker_client

    return docker_client()


@pytest.fixture(scope="session")
def images_present(engine: docker.DockerClient) -> None:
    """The kafka-chaos images are built; the test fails (not skips) when one is missing."""
    from chaos.images.builder import missing_images
    from chaos.images.recipes import image_refs

    missing = missing_images(engine, image_refs())
    if missing:
        pytest.fail(f"images {missing} are not built: run `kafka-chaos images build` (or scripts/setup)")


@pytest.fixture(scope="session")
def jdk() -> tuple[str, str]:
    """``java`` and ``javac``; using it marks a test ``java``. Fails (not skips) without a JDK.

    Raises:
        InfrastructureError: no JDK on this machine (``bash scripts/setup`` installs one).
    """
    from chaos.images.java_driver import find_jdk

    return find_jdk()


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium; using it marks a test ``browser``. Fails (not skips) without it."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    assert path, "no chromium here: `bash scripts/setup` installs Debian's chromium for this test"
    return path


def _shape(item: pytest.Item) -> str:
    marker = item.get_closest_marker("kafka_cluster")
    return json.dumps(marker.kwargs if marker else {}, sort_keys=True)


def by_cluster_shape(items: list[pytest.Item]) -> list[pytest.Item]:
    """The integration modules grouped by the cluster shape they ask for, so that run serially
    (``-n 0``) the plugin's pool starts each shape once; each module's tests stay together and in
    order, and the tiers stay in order. Under xdist each worker has its own pool, and xdist hands
    the modules out most tests first; a worker's pool still reuses its cluster when consecutive
    modules share a shape."""
    modules: dict[str, list[pytest.Item]] = {}
    for item in items:
        modules.setdefault(str(item.path), []).append(item)

    def group(path: str) -> str:
        return _shape(modules[path][0]) if Path(path).is_relative_to(TESTS / "integration") else path

    shapes: dict[str, int] = {}
    for path in modules:
        shapes.setdefault(group(path), len(shapes))
    return [item for path in sorted(modules, key=lambda p: shapes[group(p)]) for item in modules[path]]
