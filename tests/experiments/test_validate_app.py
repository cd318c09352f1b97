"""validate --app end to end on a real cluster: the team's application as the matrix's consumer.

Its own module, so it runs beside validate's other matrices (``test_validate.py``) rather than after
them; it shares that module's cluster shape and helpers."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.experiments.test_validate import given, validate

pytestmark = [pytest.mark.experiment, pytest.mark.kafka_cluster(brokers=3, controllers=1)]
__all__ = ["given"]  # the fixture, reused


RELAY = Path(__file__).resolve().parents[1] / "fixtures" / "apps" / "relay.py"


def test_validate_with_the_team_s_application_fails_it_on_duplicate_outputs_and_links_its_logs(
    tmp_path: Path, given: str
) -> None:
    # an at-least-once application that commits every 2 s what it wrote before its latest poll: a kill
    # always finds outputs written past its commit
    config = tmp_path / "app.yaml"
    config.write_text(
        f"application:\n  command: [{sys.executable}, {RELAY}]\n"
        "  env: {BOOTSTRAP_SERVERS: '${bootstrap}', INPUT_TOPIC: '${input_topic}', OUTPUT_TOPIC: '${output_topic}',"
        " GROUP_ID: '${group}', COMMIT_EVERY_MS: '2000'}\n"
        "  output: {correlate: {header: kafka-chaos}}\n"
    )
    reports = tmp_path / "reports"
    code, data, out = validate(
        reports,
        given,
        "producer-safe.properties",
        "consumer-manual-commit.properties",
        "--app-config",
        str(config),
        "--faults",
        "consumer_kill",
    )
    assert code == 1 and data["verdict"] == "FAIL"
    (row,) = data["matrix"]
    assert row["status"] == "FAIL" and row["loss"] == {"producer": 0, "broker": 0, "consumer": 0}
    verdict = json.loads((Path(row["run_dir"]) / "verdict.json").read_text())
    assert verdict["application"]["duplicate_outputs"] > 0 and verdict["application"]["uncorrelated"] == 0
    assert [e["name"] for e in verdict["expectations"] if not e["passed"]] == ["duplicate_outputs == 0"]
    (log,) = row["application_logs"]
    assert (out / log).is_file() and "relay: consuming" in (out / log).read_text()
    assert f"href='{log}'" in (out / "report.html").read_text()
    dups = verdict["application"]["duplicate_outputs"]
    assert (
        f"| consumer_kill | team | FAIL | producer 0, broker 0, consumer 0; duplicates 0; duplicate outputs {dups} |"
        in (out / "validate.md").read_text()
    )
