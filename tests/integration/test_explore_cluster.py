"""``kafka-chaos explore`` on a real cluster: an expectation every schedule breaks (nothing may be
acknowledged), so the first schedule fails for certain; the search shrinks it within its budget on
one cluster reset between schedules, writes a ready-to-run file and leaves nothing running. A
producer that does not stop within 10 s is killed (kafka-python's sender can loop on a killed
broker's id and hold its close for a minute; the verdict is the same). ``extended`` (72 s on one
worker, and the test command is at its 15 minutes): ``scripts/setup``'s main job runs it; explore's
search, shrinking and schedule files are unit-tested with fakes in the command (``tests/unit/test_explore.py``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import docker
from chaos.experiments.loading import load_experiment
from tests.helpers.real_cluster import cli, labelled

pytestmark = pytest.mark.extended

FILE = """\
name: explore-smoke
producer: {mode: async, rate: 300, settings: {acks: all}}
phases: {fault_window: 6, warmup: 1, settle: 1, stop_timeout: 10}
expect: {acked: 0}
"""


def test_explore_finds_shrinks_and_writes_a_schedule_on_one_reset_cluster(
    engine: docker.DockerClient, tmp_path: Path
) -> None:
    path = tmp_path / "smoke.yaml"
    path.write_text(FILE)
    args = ["explore", str(path), "--budget", "75s", "--seed", "3", "--confirm", "1", "--reports", str(tmp_path)]
    proc = cli(*args, timeout=600, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    (out,) = tmp_path.glob("explore-*")
    log = (out / "explore.log").read_text().splitlines()
    assert log[0].startswith("FAIL"), log
    (found,) = out.glob("explore-smoke-explored-3.yaml")
    exp = load_experiment(found)
    assert 1 <= len(exp.faults) <= 4 and exp.expect == {"acked": 0}
    runs = [d for d in out.glob("explore-smoke-*") if d.is_dir()]
    metas = [json.loads((d / "run.json").read_text()) for d in runs]
    assert sorted(m["cluster"] for m in metas) == ["fresh"] + ["reused"] * (len(runs) - 1), metas
    for cluster_id in {m["cluster_id"] for m in metas}:
        assert labelled(engine, cluster_id) == []
