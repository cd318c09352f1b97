"""Releases side by side on real clusters: a regression row failing on the release its bug affects
and holding on the one that fixed it, in one suite, with the grid and the facts each run records.

The test command runs one release pair: K2 (KAFKA-8350) on kafka-clients 4.1.2 and 4.2.2 against
one 4.4.0 broker (about a minute). The whole proof — every regression row on every line it spans,
three times — is marked ``extended`` and runs in ``scripts/setup``'s main job.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chaos.images.known_bug import KnownBugModel

ROOT = Path(__file__).resolve().parents[2]
K1 = ROOT / "experiments" / "k1-kafka-18641-new-consumer-commits-before-processing.yaml"
K2 = ROOT / "experiments" / "k2-kafka-8350-oversized-batch-split-forever.yaml"
#: Java client releases on both sides of both bugs: K1's fix came in 4.0, K2's in 4.2.
CLIENT_RELEASES = ("3.9.2", "4.1.2", "4.2.2")

pytestmark = pytest.mark.experiment


def run_suite(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any], Path]:
    """``kafka-chaos run ARGS`` into ``tmp_path/reports``: the process, ``suite.json`` and the suite's folder."""
    proc = subprocess.run(
        [sys.executable, "-m", "chaos.cli", "run", *args, "--reports", str(tmp_path / "reports"), "-q"],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    (suite_dir,) = (tmp_path / "reports").iterdir()
    return proc, json.loads((suite_dir / "suite.json").read_text()), suite_dir


def test_k2_fails_on_the_client_its_bug_affects_and_holds_on_the_fixed_one(tmp_path: Path) -> None:
    proc, suite, suite_dir = run_suite(tmp_path, str(K2), "--client-version", "4.1.2,4.2.2")
    assert proc.returncode == 1, proc.stdout + proc.stderr  # a release with the bug loses records
    runs = {Path(r["run_dir"]).name: r for r in suite["runs"]}
    affected = runs["k2-kafka-8350-oversized-batch-split-forever@clients-4.1.2"]
    fixed = runs["k2-kafka-8350-oversized-batch-split-forever@clients-4.2.2"]
    assert affected["status"] == "failed" and affected["loss"]["producer"] > 0, affected
    assert affected["loss"]["broker"] == 0 and affected["counts"]["send_errors"] == 0  # fire and forget: unheard
    assert fixed["status"] == "passed" and fixed["loss"] == {"producer": 0, "broker": 0, "consumer": 0}, fixed
    assert fixed["counts"]["in_log"] == fixed["counts"]["sent"]
    # one 4.4.0 cluster for both: the client's release is all that differs, and each run says which
    assert affected["cluster_id"] == fixed["cluster_id"]
    for name, release in (("4.1.2", affected), ("4.2.2", fixed)):
        meta = json.loads((Path(release["run_dir"]) / "run.json").read_text())
        assert meta["kafka_version"] == "4.4.0" and meta["client_versions"] == {"kafka-clients": name}
        assert meta["known_bug"]["id"] == "KAFKA-8350"
        defaults = {(d["kind"], d["key"]): d for d in meta["release"]["defaults"]}
        assert defaults[("producer", "enable.idempotence")] == {
            "kind": "producer",
            "key": "enable.idempotence",
            "value": "true",
            "release": name,
        }
        assert meta["release"]["group_protocols"] == ["classic", "consumer", "streams"]
    summary = (suite_dir / "summary.md").read_text()
    assert "4.4.0 · kafka-clients 4.1.2" in summary and "4.4.0 · kafka-clients 4.2.2" in summary
    assert "KAFKA-8350 affects 4.1.2" in summary, summary
    # the topic's limit came back: the fault healed what it changed
    timeline = (Path(affected["run_dir"]) / "timeline.jsonl").read_text()
    assert '"event": "heal"' in timeline and '"kind": "topic_config"' in timeline


@pytest.mark.extended
def test_every_regression_row_fails_exactly_on_the_releases_its_bug_affects(tmp_path: Path) -> None:
    """K1 and K2 on clients of 3.9, 4.1 and 4.2, three times each: a row fails in every run on a
    release its bug affects and holds in every run on the others."""
    proc, suite, _ = run_suite(
        tmp_path, str(K1), str(K2), "--client-version", ",".join(CLIENT_RELEASES), "--repeat", "3"
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    outcomes: dict[tuple[str, str], list[str]] = {}
    bugs: dict[str, KnownBugModel] = {}
    for run in suite["runs"]:
        meta = json.loads((Path(run["run_dir"]) / "run.json").read_text())
        client = meta["client_versions"]["kafka-clients"]
        outcomes.setdefault((meta["experiment"], client), []).append(run["status"])
        bugs[meta["experiment"]] = KnownBugModel.model_validate(meta["known_bug"])
    assert len(outcomes) == 2 * len(CLIENT_RELEASES)
    wanted = {key: ["failed" if bugs[key[0]].affects(key[1]) else "passed"] * 3 for key in outcomes}
    assert outcomes == wanted
    # each bug affects at least one of these releases and spares at least one: the rows tell them apart
    for row, bug in bugs.items():
        assert {bug.affects(c) for c in CLIENT_RELEASES} == {True, False}, row
