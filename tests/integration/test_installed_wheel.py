"""kafka-chaos as a team gets it: its wheel, installed into a fresh virtual environment in a
directory outside this repository, builds what it needs from what the wheel carries, starts a
project with ``kafka-chaos init`` and runs the commands the generated CI workflow runs.

The wheel is built from this tree (``pip wheel``, the same backend a release uses); the venv gets its
dependencies from the package index as a user's would. Nothing of the repository is on the venv's
path: its ``kafka-chaos`` imports the installed copy (checked).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import pytest

import docker
from chaos.images import recipes
from chaos.images.kcfs import source_hash

ROOT = Path(__file__).resolve().parents[2]
#: What a source distribution of the package holds (the wheel is built from it, as a release's is).
SOURCES = ("chaos", "pyproject.toml", "README.md", "LICENSE")


@dataclass(frozen=True)
class Installed:
    """A venv with kafka-chaos installed from its wheel, and the environment to run it in."""

    bin: Path
    env: dict[str, str]

    def run(self, *args: str, cwd: Path, timeout: float = 600, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin / "kafka-chaos"), *args],
            cwd=cwd,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def _check(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, f"{proc.args} exited {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"
    src.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(ROOT / name, src / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    _check(_sh([*pip, "wheel", "--no-deps", "-w", str(base / "dist"), str(src)]))
    (wheel,) = (base / "dist").glob("kafka_chaos-*.whl")
    _check(_sh([sys.executable, "-m", "venv", str(base / "venv")]))
    venv_pip = [str(base / "venv" / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    _check(_sh([*venv_pip, "install", str(wheel)], timeout=900))
    # The venv's own tools first; the system's for docker, java, mvn and go. Nothing of this tree.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{base / 'venv' / 'bin'}{os.pathsep}{os.environ['PATH']}"
    yield Installed(base / "venv" / "bin", env)


def _sh(
    cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def test_the_installed_kafka_chaos_is_the_wheels_and_carries_every_recipe(installed: Installed, tmp_path: Path) -> None:
    probe = (
        "import chaos, chaos.images.recipes as r, chaos.images.kcfs as k;"
        "print(chaos.__file__); print(r.kafka_tag(r.DEFAULT_KAFKA_VERSION)); print(r.toxiproxy_tag());"
        "print(k.source_hash())"
    )
    out = _check(_sh([str(installed.bin / "python"), "-c", probe], cwd=tmp_path, env=installed.env))
    where, kafka, toxiproxy, kcfs = out.split()
    assert Path(where).is_relative_to(installed.bin.parent) and not Path(where).is_relative_to(ROOT)
    # the same tags and hashes as this tree's: the wheel holds every input of every recipe
    assert (kafka, toxiproxy, kcfs) == (
        recipes.kafka_tag(recipes.DEFAULT_KAFKA_VERSION),
        recipes.toxiproxy_tag(),
        source_hash(),
    )


def test_a_machine_without_the_build_tools_is_told_all_it_lacks_in_one_sentence(
    installed: Installed, tmp_path: Path
) -> None:
    # only the venv on PATH and an empty cache: Maven, Go and a JDK are all needed and none is found
    proc = installed.run(
        "images", "build", cwd=tmp_path, PATH=str(installed.bin), KAFKA_CHAOS_CACHE=str(tmp_path / "cache")
    )
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.strip().endswith(
        "which are not installed: on Debian or Ubuntu, `apt-get install maven golang-go default-jdk-headless` as root"
    ), proc.stderr
    assert "Maven (Kafka's jars from Maven Central), Go (toxiproxy and kcfs) and a JDK" in proc.stderr
    assert "Traceback" not in proc.stderr and "scripts/" not in proc.stderr


@pytest.mark.extended  # Maven, Go and a fresh cluster: scripts/setup's main job runs it
def test_the_installed_wheel_builds_its_programs_and_runs_a_new_project_as_its_ci_workflow_does(
    installed: Installed, tmp_path: Path, engine: docker.DockerClient
) -> None:
    # ``engine``: the images are there (checked by the fixture) and the tier is docker
    from chaos.cli.init import workflow_commands

    cache = tmp_path / "cache"  # the Java driver, Kafka's definitions and kcfs built from the wheel's sources
    built = _check(installed.run("images", "build", "--json", cwd=tmp_path, KAFKA_CHAOS_CACHE=str(cache)))
    assert f'"kafka": "{recipes.kafka_tag(recipes.DEFAULT_KAFKA_VERSION)}"' in built
    assert (cache / f"kcfs-{source_hash()}" / "kcfs").is_file()
    assert any(cache.glob(f"java-driver-{recipes.DEFAULT_KAFKA_VERSION}-*/configdefs.json"))

    project = tmp_path / "team-service"
    project.mkdir()
    settings = {"producer": "producer-safe", "consumer": "consumer-manual-commit", "topic": "topic-min-isr-2"}
    for role, example in settings.items():
        shutil.copy(ROOT / "examples" / "settings" / f"{example}.properties", project / f"{role}.properties")
    files = [a for role in settings for a in (f"--{role}-config", f"{role}.properties")]
    _check(installed.run("init", *files, cwd=project, KAFKA_CHAOS_CACHE=str(cache)))
    commands = workflow_commands(project / ".github" / "workflows" / "kafka-chaos.yml", as_root=True)
    assert commands, "the generated workflow runs no kafka-chaos command"
    for command in commands:
        env = {**installed.env, "KAFKA_CHAOS_CACHE": str(cache)}
        _check(_sh(["bash", "-euo", "pipefail", "-c", command], cwd=project, env=env, timeout=900))
    # the suite's JUnit: both starter experiments held, each test case at its file in the project
    (suite,) = [p for p in project.glob("reports/*/junit.xml") if not p.parent.name.startswith("validate-")]
    root = ElementTree.parse(suite).getroot()
    cases = root.iter("testcase")
    assert sorted((c.get("file"), c.get("line")) for c in cases) == [
        ("experiments/consumer-kill.yaml", "1"),
        ("experiments/producer-leader-kill.yaml", "1"),
    ]
    assert root.get("failures") == "0" and root.get("errors") == "0"
