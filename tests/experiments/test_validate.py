"""validate end to end on a real cluster, with examples/settings/ as the team's files.

The module's three matrices run on one cluster of the matrix's shape (three brokers and a KRaft
controller) that the plugin starts, given to ``validate`` with ``--cluster``: each reset first. The
standard matrix of the safe examples (five faults, about two minutes) and the risky examples' two
faults are ``extended``: ``scripts/setup``'s main job runs them; the test command keeps validate's
real path through the in-poll consumer kill.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chaos.cluster import KafkaCluster

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "settings"

pytestmark = [pytest.mark.experiment, pytest.mark.kafka_cluster(brokers=3, controllers=1)]


@pytest.fixture
def given(kafka_cluster: KafkaCluster) -> str:
    """The run id of the module's cluster, for ``--cluster``."""
    return kafka_cluster.run_id


def validate(tmp_path: Path, given: str, producer: str, consumer: str, *extra: str) -> tuple[int, dict[str, Any], Path]:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "chaos.cli",
            "validate",
            "--producer-config",
            str(EXAMPLES / producer),
            "--consumer-config",
            str(EXAMPLES / consumer),
            "--topic-config",
            str(EXAMPLES / "topic-min-isr-2.properties"),
            "--reports",
            str(tmp_path),
            "--json",
            "-q",
            "--cluster",
            given,
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=780,  # below pytest's own 900 s, so a hang ends here with validate's stderr shown
        check=False,
    )
    assert proc.returncode in (0, 1), proc.stderr
    (out,) = [p for p in tmp_path.iterdir() if p.name.startswith("validate-")]
    return proc.returncode, json.loads(proc.stdout), out


def by_fault(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["fault"]: r for r in data["matrix"] if r["variant"] == "team"}


@pytest.mark.extended
def test_example_risky_settings_fail_and_name_the_setting_that_lost(tmp_path: Path, given: str) -> None:
    code, data, out = validate(
        tmp_path,
        given,
        "producer-acks1.properties",
        "consumer-auto-commit.properties",
        "--faults",
        "leader_kill,consumer_kill",
    )
    assert code == 1 and data["verdict"] == "FAIL"
    runs = by_fault(data)
    leader = runs["leader_kill"]
    # Followers frozen 5 s before the leader's SIGKILL: what it acknowledged alone is gone.
    assert leader["status"] == "FAIL" and leader["loss"]["broker"] > 0 and leader["loss"]["producer"] == 0
    assert any(c.startswith("acks=1 ") and c.endswith("acks=all") for c in leader["causes"]), leader["causes"]
    consumer = runs["consumer_kill"]
    assert consumer["status"] == "FAIL" and consumer["loss"]["consumer"] > 0
    assert [c.split("=")[0] for c in consumer["causes"]] == ["enable.auto.commit"], consumer["causes"]
    md = (out / "validate.md").read_text()
    assert "## Why it fails" in md and "acks=all" in md and "enable.auto.commit=false" in md
    assert (out / "report.html").exists() and (out / "junit.xml").exists()


@pytest.mark.extended
def test_example_safe_settings_pass_the_standard_matrix(tmp_path: Path, given: str) -> None:
    code, data, _ = validate(tmp_path, given, "producer-safe.properties", "consumer-manual-commit.properties")
    runs = by_fault(data)
    assert set(runs) == {"leader_kill", "broker_isolation", "producer_kill", "consumer_kill", "client_blackhole"}
    assert code == 0 and data["verdict"] == "PASS", {f: r["loss"] for f, r in runs.items()}
    assert all(r["loss"] == {"producer": 0, "broker": 0, "consumer": 0} for r in runs.values())
    assert all(r["counts"]["acked"] > 0 and r["counts"]["processed"] > 0 for r in runs.values())


def test_auto_commit_with_in_poll_processing_loses_nothing_when_the_consumer_dies(tmp_path: Path, given: str) -> None:
    # The static review calls auto-commit at-least-once when each poll's records are processed before
    # the next poll; the matrix models that application and a SIGKILLed consumer must agree.
    code, data, _ = validate(
        tmp_path,
        given,
        "producer-safe.properties",
        "consumer-auto-commit.properties",
        "--faults",
        "consumer_kill",
        "--processing",
        "in-poll",
    )
    (finding,) = [f for f in data["static"] if f["setting"] == "enable.auto.commit"]
    assert finding["severity"] == "duplicates"
    run = by_fault(data)["consumer_kill"]
    assert code == 0 and run["status"] == "PASS", run
    assert run["loss"] == {"producer": 0, "broker": 0, "consumer": 0} and run["counts"]["processed"] > 0
    assert data["processing"] == {"value": "in-poll", "stated": True, "process_ms": None}
