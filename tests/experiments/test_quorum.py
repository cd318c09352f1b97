"""Q3 on a real cluster: a dynamic quorum's voters added and removed under load by Kafka's own
``kafka-metadata-quorum`` tool, each change in force (as the quorum describes it) while the kill
that follows it lands, and undone when healed. ``extended``: ``scripts/setup``'s main job runs it
(and the claims suite, Q3 on every client)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaos import rundir
from tests.experiments.test_releases import run_suite

Q3 = Path(__file__).resolve().parents[2] / "experiments" / "q3-voters-added-and-removed-under-load.yaml"

pytestmark = [pytest.mark.experiment, pytest.mark.extended]


def test_q3_changes_the_voters_under_load_and_loses_nothing(tmp_path: Path) -> None:
    proc, suite, _ = run_suite(tmp_path, str(Q3))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (run,) = suite["runs"]
    assert run["loss"] == {"producer": 0, "broker": 0, "consumer": 0}
    events = [json.loads(line) for line in (Path(run["run_dir"]) / rundir.TIMELINE).read_text().splitlines()]
    quorums = [(e["fault"].split("-")[0], e["voters"]) for e in events if e["event"] == "voters"]
    # the spare joins (four voters) and leaves; then one voter leaves (two) and comes back
    assert quorums == [
        ("voter_add", [1001, 1002, 1003, 1004]),
        ("voter_add", [1001, 1002, 1003]),
        ("voter_remove", quorums[2][1]),
        ("voter_remove", [1001, 1002, 1003]),
    ]
    assert len(quorums[2][1]) == 2 and set(quorums[2][1]) < {1001, 1002, 1003}
    kills = [e for e in events if e["event"] == "inject" and e["kind"] == "broker_kill"]
    assert len(kills) == 2 and kills[0]["targets"][0].startswith("controller-")
