"""``kafka-chaos run --engines`` on two real engines of this machine: the first (``DOCKER_HOST`` or
the local socket) and the second that ``scripts/second-engine`` starts. ``extended``: the test
command is at its time limit; run it with ``python3 -m pytest -m extended tests/experiments/test_engines.py``
after ``bash scripts/second-engine`` (as root)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import docker
from chaos.engine import engine_address
from tests.experiments.test_claims import SYNC

SECOND = "unix:///run/kafka-chaos/docker2.sock"


pytestmark = [pytest.mark.experiment, pytest.mark.extended]


def left_on(engine: str, run_ids: list[str]) -> list[str]:
    """Containers and networks of ``run_ids`` still on ``engine``."""
    client = docker.DockerClient(base_url=engine, timeout=30)
    try:
        found = [c.name or "" for c in client.containers.list(all=True, filters={"label": "kafka-chaos.run"})]
        found += [n.name or "" for n in client.networks.list(filters={"label": "kafka-chaos.run"})]
    finally:
        client.close()
    return [name for name in found if any(run_id in name for run_id in run_ids)]


def test_a_suite_over_two_engines_runs_one_experiment_on_each_into_one_report(tmp_path: Path) -> None:
    first = engine_address()
    try:
        docker.DockerClient(base_url=SECOND, timeout=10).ping()
    except Exception as e:
        pytest.fail(f"no second engine at {SECOND} ({e}): start it with `bash scripts/second-engine` as root")
    suite = tmp_path / "experiments"
    suite.mkdir()
    (suite / "a.yaml").write_text(SYNC.format(name="sync-kill-holds", expect="0"))
    (suite / "b.yaml").write_text(SYNC.format(name="sync-kill-expected-to-lose", expect=">0"))
    args = ["run", str(suite), "--reports", str(tmp_path / "reports"), "-q", "--engines", f"{first},{SECOND}"]
    proc = subprocess.run(
        [sys.executable, "-m", "chaos.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "DOCKER_HOST": first},
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1/2 passed" in proc.stdout
    (suite_dir,) = (tmp_path / "reports").iterdir()
    data = json.loads((suite_dir / "suite.json").read_text())
    assert [(r["name"], r["status"]) for r in data["runs"]] == [
        ("sync-kill-holds", "passed"),
        ("sync-kill-expected-to-lose", "failed"),
    ]
    # one run on each engine, each on a cluster of its own there
    engines = [json.loads((Path(r["run_dir"]) / "run.json").read_text())["engine"] for r in data["runs"]]
    assert sorted(engines) == sorted([first, SECOND])
    assert [r["cluster"] for r in data["runs"]] == ["fresh", "fresh"]
    assert data["runs"][0]["cluster_id"] != data["runs"][1]["cluster_id"]
    junit = (suite_dir / "junit.xml").read_text()
    assert 'tests="2"' in junit and 'failures="1"' in junit
    summary = (suite_dir / "summary.md").read_text()
    assert "sync-kill-holds" in summary and "sync-kill-expected-to-lose" in summary
    assert "sync-kill-expected-to-lose" in (suite_dir / "report.html").read_text()
    for run in data["runs"]:
        assert (Path(run["run_dir"]) / "verdict.json").exists()
        assert list((Path(run["run_dir"]) / "logs").glob("*.log")), "broker logs copied at teardown"
    # nothing left on either engine
    cluster_ids = [r["cluster_id"] for r in data["runs"]]
    assert left_on(first, cluster_ids) == [] and left_on(SECOND, cluster_ids) == []
