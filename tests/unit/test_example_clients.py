"""The example external clients (examples/clients/) without a cluster: each builds with its run
script into the cache it is given and nowhere else, and the settings its description lists are the
ones its driver's table has (``tests/integration/test_external_clients.py`` runs them on a real
cluster)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from chaos.experiments.loading import load_experiment
from chaos.workloads.java_settings import JAVA_CONSUMER_KEYS, JAVA_PRODUCER_KEYS
from tests.helpers.client_cases import EXAMPLE_CLIENTS, EXAMPLES, example_client

#: Where each driver's table of Java-named settings is, and how a key is written in it.
TABLES = {
    "franz-go": ("settings.go", re.compile(r'^\s*"([a-z.]+)":\s+(?:func|nil)', re.MULTILINE)),
    "kafkajs": ("common.js", re.compile(r"^\s*'?([a-z][a-z.]*)'?: \(v, c\) =>", re.MULTILINE)),
}


def _files(folder: Path) -> dict[str, float]:
    return {str(p.relative_to(folder)): p.stat().st_mtime for p in folder.rglob("*")}


@pytest.mark.parametrize("name", EXAMPLE_CLIENTS)
def test_each_example_driver_builds_into_the_cache_only(name: str, tmp_path: Path) -> None:
    folder = EXAMPLES / name
    before = _files(folder)
    env = {**os.environ, "KAFKA_CHAOS_CACHE": str(tmp_path / "cache")}
    build = subprocess.run(
        [str(folder / "run"), "--build"], capture_output=True, text=True, env=env, timeout=600, check=False
    )
    assert build.returncode == 0, build.stdout + build.stderr
    built = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert len(built) == 1 and built[0].startswith(f"{name}-driver-"), built
    assert _files(folder) == before  # nothing written in the repository
    # built once: the second start finds it, and the driver itself answers (a spec it cannot read: exit 2)
    again = subprocess.run(
        [str(folder / "run"), str(tmp_path / "missing.json")], capture_output=True, text=True, env=env, timeout=60,
        check=False,
    )  # fmt: skip
    assert again.returncode == 2, again.stderr
    assert again.stderr.startswith(f"{name} driver: ") and "missing.json" in again.stderr
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == built


@pytest.mark.parametrize("name", EXAMPLE_CLIENTS)
def test_each_description_lists_the_settings_its_driver_honours(name: str) -> None:
    client = example_client(name)
    source, key = TABLES[name]
    honoured = set(key.findall((EXAMPLES / name / source).read_text()))
    assert client.settings is not None and set(client.settings) == honoured
    assert honoured <= JAVA_PRODUCER_KEYS | JAVA_CONSUMER_KEYS  # Java names, as every client takes them
    assert client.command == (str(EXAMPLES / name / "run"), "{spec}") and client.protocol == "lines"
    assert client.build == (str(EXAMPLES / name / "run"), "--build")
    assert set(client.modes) == {"async", "sync", "fire_and_forget"}
    assert set(client.strategies) == {"auto", "after_process", "before_process"}


def test_the_example_experiments_load_with_their_clients() -> None:
    files = sorted(EXAMPLES.glob("*.yaml"))
    assert [f.name for f in files] == ["async-producer-kill.yaml"]
    exp = load_experiment(files[0])
    assert exp.client == "franz-go+kafkajs"
    producer, consumer = exp.producer.external(), exp.consumer.external() if exp.consumer else None
    assert producer is not None and producer.command == (str(EXAMPLES / "franz-go" / "run"), "{spec}")
    assert consumer is not None and consumer.isolation_level == "read_committed"
    # what the file lets each client honour is what its driver honours, or less
    for client in (producer, consumer):
        assert client.settings is not None and example_client(client.name).settings is not None
        assert set(client.settings) <= set(example_client(client.name).settings or ())
